"""Pure formatting functions offered to copy templates as filters: money, dates, widths, lists.

Each takes the locale as an argument (``"zh"`` or ``"en"``); the template environment binds it, so a
template writes ``{{ item.price|money }}``. None of them reads a clock, a file or the process locale.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

LOCALES = ("zh", "en")
_CURRENCY = {"zh": "¥", "en": "$"}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class FilterInputError(ValueError):
    """A filter was given a value it cannot format; the template layer names the template and line."""


def _to_decimal(value) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise FilterInputError(f"money: expected a number, got {value!r}")
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise FilterInputError(f"money: expected a number, got {value!r}") from None
    if not number.is_finite():
        raise FilterInputError(f"money: expected a finite number, got {value!r}")
    return number


def money(value, locale: str = "zh", currency: str | None = None) -> str:
    """``1299`` -> ``¥1,299.00`` (zh) or ``$1,299.00`` (en); rounds half up to cents.

    ``currency`` is the symbol to print instead of the locale's own (prices are never converted:
    an English message about CNY prices should say ``¥``).

    Examples
    --------
    >>> money(1299, "zh"), money("1299.5", "en"), money(-5, "en"), money(1299, "en", "¥")
    ('¥1,299.00', '$1,299.50', '-$5.00', '¥1,299.00')
    """
    number = _to_decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if number < 0 else ""
    return f"{sign}{currency if currency is not None else _CURRENCY[locale]}{abs(number):,.2f}"


def _to_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise FilterInputError(
        f"date: expected a date, got {value!r}"
        + (" (no date was given to render_copy; pass date=...)" if value is None else "")
    )


def format_date(value, locale: str = "zh") -> str:
    """``2024-06-18`` -> ``2024年6月18日`` (zh) or ``Jun 18, 2024`` (en).

    Examples
    --------
    >>> format_date(dt.date(2024, 6, 18), "zh"), format_date("2024-06-18", "en")
    ('2024年6月18日', 'Jun 18, 2024')
    """
    day = _to_date(value)
    if locale == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{_MONTHS_EN[day.month - 1]} {day.day}, {day.year}"


def format_month_day(value, locale: str = "zh") -> str:
    """``2024-06-18`` -> ``6月18日`` (zh) or ``Jun 18`` (en): for "until ..." lines."""
    day = _to_date(value)
    return f"{day.month}月{day.day}日" if locale == "zh" else f"{_MONTHS_EN[day.month - 1]} {day.day}"


@lru_cache(maxsize=65536)
def char_width(ch: str) -> int:
    """Display columns of one character: 2 for East Asian Wide/Fullwidth, 0 for combining marks."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal or a notification line (CJK counts 2)."""
    text = str(text)
    if text.isascii() and text.isprintable():
        return len(text)
    return sum(map(char_width, text))


def has_cjk(text) -> bool:
    """True when ``text`` holds a wide (CJK) character: a zh template can say a category name in Chinese."""
    return any(char_width(ch) == 2 for ch in str(text or ""))


def truncate_width(text, width: int, ellipsis: str = "…") -> str:
    """Cut ``text`` so that it, with ``ellipsis`` appended when cut, fits in ``width`` columns.

    The cut goes back to the last space when that keeps at least two thirds of the room, so
    "Organic Green Tea 250g Gift Box" becomes "Organic Green Tea..." rather than "...250g Gi...".

    Examples
    --------
    >>> truncate_width("无线降噪耳机", 8), truncate_width("Wireless earbuds", 11, "...")
    ('无线降…', 'Wireless...')
    """
    text = str(text)
    if display_width(text) <= width:
        return text
    budget = width - display_width(ellipsis)
    if budget < 0:
        raise FilterInputError(f"truncate_width: width {width} is narrower than the ellipsis {ellipsis!r}")
    used, cut = 0, 0
    for cut, ch in enumerate(text):
        used += char_width(ch)
        if used > budget:
            break
    kept = text[:cut]
    space = kept.rfind(" ")
    if space > 0 and text[cut] != " " and display_width(kept[:space]) * 3 >= budget * 2:
        kept = kept[:space]
    return kept.rstrip() + ellipsis


def join_natural(values, locale: str = "zh") -> str:
    """``["A", "B", "C"]`` -> ``A, B and C`` (en) or ``A、B和C`` (zh).

    Examples
    --------
    >>> join_natural(["A", "B", "C"], "en"), join_natural(["A", "B", "C"], "zh"), join_natural(["A"], "en")
    ('A, B and C', 'A、B和C', 'A')
    """
    words = [str(v) for v in values]
    if len(words) <= 1:
        return "".join(words)
    if locale == "zh":
        return "、".join(words[:-1]) + "和" + words[-1]
    return ", ".join(words[:-1]) + " and " + words[-1]


def full_stop(text, locale: str = "zh") -> str:
    """End a sentence once: ``"A and B..."`` stays as it is, ``"A and B"`` gets ``.`` (en) or ``。`` (zh)."""
    text = str(text)
    if text.endswith((".", "…", "!", "?", "。", "！", "？")):
        return text
    return text + ("。" if locale == "zh" else ".")


def discount_label(fraction, locale: str = "zh") -> str:
    """A discount as shoppers read it: ``0.2`` -> ``20% off`` (en) or ``8折`` (zh); ``0.15`` -> ``85折``.

    ``fraction`` is the share taken off the price (0 < fraction < 1).
    """
    value = _to_decimal(fraction)
    if not Decimal(0) < value < Decimal(1):
        raise FilterInputError(f"discount: expected a fraction between 0 and 1, got {fraction!r}")
    if locale == "en":
        percent = (value * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
        return f"{percent}% off"
    tenths = ((1 - value) * 10).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    # 8.0 -> "8折", 8.5 -> "85折" (shoppers write 8.5 折 as 85折)
    text = f"{tenths.normalize():f}".replace(".", "")
    return f"{text}折"


def locale_filters(locale: str, currency: str | None = None) -> dict:
    """The filters a template for ``locale`` gets, with the locale (and currency symbol) bound."""
    if locale not in LOCALES:
        raise FilterInputError(f"unknown locale {locale!r}")
    return {
        "money": lambda value: money(value, locale, currency),
        "date": lambda value: format_date(value, locale),
        "month_day": lambda value: format_month_day(value, locale),
        "truncate_width": truncate_width,
        "display_width": display_width,
        "join_natural": lambda values: join_natural(values, locale),
        "discount": lambda fraction: discount_label(fraction, locale),
        "full_stop": lambda text: full_stop(text, locale),
    }
