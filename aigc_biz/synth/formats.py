"""How the input writes its values, so the synthetic table writes its own the same way.

- ids: a prefix and a run of digits (``C000847``, ``17850``, ``O100001``) get new numbers in the same
  style that no real id uses; anything else gets a same-shape random string (digits for digits,
  letters for letters) that no real id equals;
- timestamps: the strftime pattern that reproduces the input's text exactly (``%Y-%m-%d %H:%M``,
  ``%-m/%-d/%Y %-H:%M`` ...), else ISO.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["IdStyle", "id_style", "new_ids", "OrderNumbers", "time_format", "format_times"]

_PREFIXED = re.compile(r"^(\D*?)(\d+)$")
#: candidate output patterns, most specific first; the first that rewrites a sample exactly wins
_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%m/%d/%Y %H:%M",
    "%-m/%-d/%Y %-H:%M",
    "%-m/%-d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%-m/%-d/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y%m%d",
    "%Y年%-m月%-d日 %H:%M",
    "%Y年%-m月%-d日",
)
UNIX_SECONDS, UNIX_MILLISECONDS = "unix_s", "unix_ms"


@dataclass(frozen=True)
class IdStyle:
    """``prefix`` + a number written with at least ``width`` digits (zero-padded when ``padded``)."""

    prefix: str
    width: int
    padded: bool

    def write(self, number: int) -> str:
        return self.prefix + (str(number).zfill(self.width) if self.padded else str(number))


def id_style(values) -> IdStyle | None:
    """The prefix-and-digits style most of ``values`` share (95 %), or None when they have none."""
    values = [str(v) for v in values]
    if not values:
        return None
    matches = [_PREFIXED.match(v) for v in values]
    prefixes = Counter(m.group(1) for m in matches if m)
    if not prefixes:
        return None
    prefix, count = prefixes.most_common(1)[0]
    if count < 0.95 * len(values):
        return None
    digits = [m.group(2) for m in matches if m and m.group(1) == prefix]
    width = Counter(len(d) for d in digits).most_common(1)[0][0]
    padded = any(d.startswith("0") and len(d) > 1 for d in digits)
    return IdStyle(prefix, width, padded)


def new_ids(real, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct ids in the style of ``real`` and equal to none of them.

    Numbered styles draw numbers whose first digit is 9 (``C9xxxxx``) at the real width, one digit
    wider when that range cannot hold them; other ids are same-shape random strings.
    """
    real = [str(v) for v in real]
    taken = set(real)
    style = id_style(real)
    if style is None:
        return _masked_ids(real, n, taken, rng)
    width = style.width
    while True:
        low, high = 9 * 10 ** (width - 1), 10**width
        free = high - low - sum(1 for v in taken if _in_range(v, style, low, high))
        if free >= 2 * n or width > 18:
            break
        width += 1
    out: list[str] = []
    seen = set(taken)
    wider = IdStyle(style.prefix, width, style.padded or width > style.width)
    while len(out) < n:
        for number in rng.integers(low, high, size=2 * (n - len(out)) + 8):
            text = wider.write(int(number))
            if text not in seen:
                seen.add(text)
                out.append(text)
                if len(out) == n:
                    break
    return out


def _in_range(value: str, style: IdStyle, low: int, high: int) -> bool:
    m = _PREFIXED.match(value)
    return bool(m) and m.group(1) == style.prefix and low <= int(m.group(2)) < high


def _masked_ids(real: list[str], n: int, taken: set, rng: np.random.Generator) -> list[str]:
    shapes = real or ["x0000000"]
    out: list[str] = []
    seen = set(taken)
    while len(out) < n:
        text = mask_like(shapes[int(rng.integers(len(shapes)))], rng)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def mask_like(value: str, rng: np.random.Generator) -> str:
    """A random string of ``value``'s shape: each digit, lower- and upper-case letter replaced in kind."""
    chars = []
    for ch in str(value):
        if ch.isdigit():
            chars.append(string.digits[int(rng.integers(10))])
        elif ch in string.ascii_lowercase:
            chars.append(string.ascii_lowercase[int(rng.integers(26))])
        elif ch in string.ascii_uppercase:
            chars.append(string.ascii_uppercase[int(rng.integers(26))])
        else:
            chars.append(ch)
    return "".join(chars)


class OrderNumbers:
    """Order ids continuing the input's numbering (purchases and returns may carry different prefixes,
    as Online Retail's ``C`` cancellations do); one counter for both, so numbers follow time."""

    def __init__(self, purchase_ids, return_ids, rng: np.random.Generator):
        purchase_ids = [str(v) for v in purchase_ids]
        return_ids = [str(v) for v in return_ids]
        self._purchase = id_style(purchase_ids)
        self._return = id_style(return_ids) if return_ids else self._purchase
        numbers = [int(m.group(2)) for m in map(_PREFIXED.match, purchase_ids + return_ids) if m]
        self._next = (max(numbers) + 1) if numbers else 1
        self._real = set(purchase_ids) | set(return_ids)
        self._shapes = purchase_ids or ["O0000000"]
        self._rng = rng

    def take(self, is_return: bool) -> str:
        style = self._return if is_return else self._purchase
        if style is None:
            return _masked_ids(self._shapes, 1, self._real, self._rng)[0]
        text = style.write(self._next)
        self._next += 1
        return text


def time_format(raw: pd.Series, parsed) -> str:
    """The pattern that writes ``parsed`` back as ``raw`` (checked on a sample), else ISO seconds."""
    raw = pd.Series(raw).astype(str).reset_index(drop=True)
    parsed = pd.Series(pd.to_datetime(np.asarray(parsed)))
    pick = np.linspace(0, len(raw) - 1, num=min(len(raw), 400)).astype(int)
    sample_raw, sample_time = raw.iloc[pick].str.strip(), parsed.iloc[pick]
    if sample_raw.str.fullmatch(r"\d{9,11}").all():
        return UNIX_SECONDS
    if sample_raw.str.fullmatch(r"\d{12,14}").all():
        return UNIX_MILLISECONDS
    for fmt in _TIME_FORMATS:
        try:
            written = sample_time.dt.strftime(fmt)
        except ValueError:
            continue
        if (written.to_numpy() == sample_raw.to_numpy()).all():
            return fmt
    return "%Y-%m-%d %H:%M:%S"


def format_times(times, fmt: str) -> np.ndarray:
    """``times`` (datetime64) as text in ``fmt`` (a strftime pattern or a unix marker)."""
    stamps = pd.Series(pd.to_datetime(np.asarray(times)))
    if fmt == UNIX_SECONDS:
        return (stamps.astype("int64") // 10**9).astype(str).to_numpy(dtype=object)
    if fmt == UNIX_MILLISECONDS:
        return (stamps.astype("int64") // 10**6).astype(str).to_numpy(dtype=object)
    return stamps.dt.strftime(fmt).to_numpy(dtype=object)
