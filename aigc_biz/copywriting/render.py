"""Recommendations in, one checked marketing message per customer out."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.loading import check_prices
from ..errors import InputError
from ..resources import resource_path
from .assignment import assign_variant
from .channel_rules import CHANNELS, DEFAULT_FORBIDDEN_WORDS, ChannelLimits, check_message, visible_text
from .message_context import REASON_NEW, REASONS, build_customers, build_item_table, make_items, reason_fields
from .sms import count_sms
from .template_pack import CopyTemplate
from .text_filters import LOCALES

#: Columns of :attr:`CopyResult.frame`, in order.
COPY_COLUMNS = (
    "user_id",
    "channel",
    "locale",
    "variant",
    "subject",
    "body",
    "item_ids",
    "chars",
    "sms_parts",
    "warnings",
)
_PROGRESS_EVERY = 500


@dataclass
class CopyResult:
    """Rendered messages and what the channel rules found.

    Attributes
    ----------
    frame : DataFrame
        One row per message, columns :data:`COPY_COLUMNS`: ``subject`` is the email subject or push
        title (``""`` for SMS); ``body`` is plain text (HTML for email); ``item_ids`` the items the
        template actually read, ``|``-joined in rank order; ``chars`` the body length in characters;
        ``sms_parts`` the number of SMS the body is sent as (0 for push and email); ``warnings`` the
        ``;``-joined rule codes (``""`` when none). Rows follow the order users first appear in ``recs``.
    dropped : int
        Rows removed because ``strict`` was set and they broke a rule.
    rule_counts : dict[str, int]
        Messages breaking each rule, counted over every rendered message (before strict dropping).
    variant_counts : dict[str, int]
        Messages per variant over every rendered message (before strict dropping).
    messages_per_second : float
        Rendering and checking throughput of this call (wall clock; not part of ``frame``).
    elapsed_s : float
        Wall-clock seconds the call took.
    template : str
        The template file used.
    """

    frame: pd.DataFrame
    dropped: int = 0
    rule_counts: dict = field(default_factory=dict)
    variant_counts: dict = field(default_factory=dict)
    messages_per_second: float = 0.0
    elapsed_s: float = 0.0
    template: str = ""


def default_template_path(channel: str, locale: str) -> Path:
    """The bundled ``templates/copy/<channel>.<locale>.j2``."""
    return resource_path("templates", "copy", f"{channel}.{locale}.j2")


def _resolve_template(template: str | Path | None, channel: str, locale: str) -> Path:
    if template is None:
        return default_template_path(channel, locale)
    path = Path(template)
    if path.is_dir():
        path = path / f"{channel}.{locale}.j2"
    if not path.is_file():
        raise InputError(
            "template file not found", file=str(path), hint=f"give a .j2 file or a folder holding {channel}.{locale}.j2"
        )
    return path


def _validate_options(channel, locale, date, max_items) -> dt.date | None:
    if channel not in CHANNELS:
        raise InputError(f"unknown channel {channel!r}", hint="one of " + ", ".join(CHANNELS))
    if locale not in LOCALES:
        raise InputError(f"unknown locale {locale!r}", hint="one of " + ", ".join(LOCALES))
    if isinstance(max_items, bool) or not isinstance(max_items, (int, np.integer)) or max_items < 1:
        raise InputError(f"max_items must be a positive integer, got {max_items!r}")
    if date is None or (isinstance(date, dt.date) and not isinstance(date, dt.datetime)):
        return date
    if isinstance(date, dt.datetime):
        return date.date()
    try:
        return dt.date.fromisoformat(str(date))
    except ValueError:
        raise InputError(f"date must be a date (YYYY-MM-DD), got {date!r}") from None


def _reasons(recs: pd.DataFrame) -> np.ndarray:
    """The ``reason`` of every row: ``repeat`` or ``new``; ``new`` where the column or the value is missing."""
    if "reason" not in recs.columns:
        return np.full(len(recs), REASON_NEW, dtype=object)
    values = recs["reason"].astype("string").str.strip().str.lower().fillna("").replace("", REASON_NEW)
    bad = ~values.isin(REASONS).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"unknown reason {recs['reason'].iloc[row]!r}",
            column="reason",
            row=row + 1,
            hint="reason is 'repeat' (bought before) or 'new'",
        )
    return values.to_numpy(dtype=object)


def _prepare_recs(recs: pd.DataFrame, max_items: int) -> pd.DataFrame:
    """Top ``max_items`` distinct items per user, users in order of first appearance, ranks ascending."""
    missing = [c for c in ("user_id", "rank", "item_id") if c not in recs.columns]
    if missing:
        raise InputError(
            f"recommendations lack column {missing[0]!r}",
            column=missing[0],
            hint="expected user_id, rank, item_id[, score, title, category, price]",
        )
    frame = pd.DataFrame(
        {
            "user_id": recs["user_id"].astype("string"),
            "item_id": recs["item_id"].astype("string"),
            "rank": pd.to_numeric(recs["rank"], errors="coerce"),
            "score": recs["score"] if "score" in recs.columns else np.nan,
            "reason": _reasons(recs),
        }
    )
    for column in ("user_id", "item_id", "rank"):
        bad = frame[column].isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"empty or non-numeric {column}", column=column, row=row + 1)
    frame["user_id"] = frame["user_id"].str.strip()
    frame["item_id"] = frame["item_id"].str.strip()
    frame["user_order"], _ = pd.factorize(frame["user_id"])
    frame = frame.sort_values(["user_order", "rank"], kind="mergesort")
    frame = frame.drop_duplicates(["user_id", "item_id"], keep="first")
    frame = frame[frame.groupby("user_order").cumcount() < max_items]
    return frame.reset_index(drop=True)


def _user_slices(user_order: np.ndarray):
    """``(start, stop)`` of each user's rows in a frame sorted by user order."""
    starts = np.flatnonzero(np.r_[True, user_order[1:] != user_order[:-1]]) if len(user_order) else []
    stops = list(starts[1:]) + [len(user_order)]
    return zip(starts, stops)


def render_copy(
    recs: pd.DataFrame,
    *,
    users: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    channel: str = "sms",
    locale: str = "zh",
    template: str | Path | None = None,
    campaign: str = "default",
    date: dt.date | None = None,
    strict: bool = False,
    forbidden_words: list[str] | None = None,
    limits: ChannelLimits | None = None,
    max_items: int = 3,
    progress: Callable[[int, int], None] | None = None,
    currency: str | None = None,
) -> CopyResult:
    """Render one personalised message per customer from top-K recommendations, and check it.

    Parameters
    ----------
    recs : DataFrame
        Columns ``user_id``, ``rank``, ``item_id`` and optionally ``score``, ``reason`` (``repeat``: the
        customer bought the item before, so the copy suggests restocking it; ``new``, the default when the
        column or a value is missing: cross-sell), ``title``, ``category``, ``price`` (used when ``items``
        lacks them).
    users : DataFrame, optional
        Customer attributes keyed by a ``user_id`` column or the index: ``name`` / ``customer_name``,
        ``segment``, ``region``, ``age_band``, ... Customers not in it get empty attributes.
    items : DataFrame, optional
        Item attributes keyed by an ``item_id`` column or the index: ``title``, ``title_zh``,
        ``category``, ``price``, ``discount`` (0.2 or 20 = 20 % off), ``url``.
    channel : {"sms", "push", "email"}
    locale : {"zh", "en"}
    template : path, optional
        A template file, or a folder holding ``<channel>.<locale>.j2``; default the bundled pack.
    campaign : str
        Keys variant assignment and phrase choice, so a new campaign reshuffles both.
    date : datetime.date, optional
        The send date, shown by templates as ``{{ date|date }}``. None (default) means no date: the
        templates leave date lines out, and output never depends on the day it is run.
    strict : bool
        Drop messages that break any rule (counted in ``dropped``) instead of keeping them with warnings.
    forbidden_words : list of str, optional
        Words no message may contain; default :data:`DEFAULT_FORBIDDEN_WORDS`. ``[]`` checks none.
    limits : ChannelLimits, optional
        Length limits and opt-out phrases; default ``ChannelLimits()``.
    max_items : int
        How many top recommendations per customer the template receives.
    currency : str, optional
        Currency symbol for prices (e.g. "¥" for CNY prices in English copy); default the locale's
        own (¥ for zh, $ for en). Prices are printed as given, never converted.
    progress : callable(done, total), optional
        Called every 500 messages and once at the end.

    Returns
    -------
    CopyResult

    Raises
    ------
    InputError
        Missing columns, unknown channel/locale, or a template that does not load or render
        (syntax error, unknown or missing variable, sandbox violation) — naming file and line.

    Examples
    --------
    >>> import pandas as pd
    >>> recs = pd.DataFrame({"user_id": ["u1"], "rank": [1], "item_id": ["sku9"]})
    >>> items = pd.DataFrame({"item_id": ["sku9"], "title": ["Trail shoes"], "price": [89.0]})
    >>> result = render_copy(recs, items=items, channel="sms", locale="en")
    >>> list(result.frame.columns) == list(COPY_COLUMNS), result.frame.loc[0, "item_ids"]
    (True, 'sku9')
    """
    started = time.perf_counter()
    date = _validate_options(channel, locale, date, max_items)
    limits = limits or ChannelLimits()
    words = list(DEFAULT_FORBIDDEN_WORDS if forbidden_words is None else forbidden_words)
    path = _resolve_template(template, channel, locale)
    copy_template = CopyTemplate.load(path, channel, locale, currency)
    for table in (recs, items):
        if table is not None and "price" in table.columns:
            check_prices(table["price"], np.arange(len(table)) + 1, "price")
    prepared = _prepare_recs(recs, max_items)
    item_table = build_item_table(recs, items, locale)
    user_ids = list(dict.fromkeys(prepared["user_id"].tolist()))
    customers = build_customers(users, user_ids)

    item_ids_all = prepared["item_id"].to_numpy()
    scores_all = prepared["score"].to_numpy()
    reasons_all = prepared["reason"].to_numpy()
    slices = list(_user_slices(prepared["user_order"].to_numpy()))
    variants = [assign_variant(user_id, campaign, copy_template.variants) for user_id in user_ids]

    rows: list[tuple] = []
    total = len(user_ids)
    for done, (user_id, variant, (start, stop)) in enumerate(zip(user_ids, variants, slices), start=1):
        mentions: set = set()
        item_ids = item_ids_all[start:stop]
        message_items = make_items(item_ids, scores_all[start:stop], reasons_all[start:stop], item_table, mentions)
        variables = {
            "customer": customers[user_id],
            "items": message_items,
            "item": message_items[0],
            "campaign": campaign,
            "date": date,
            "variant": variant,
            "channel": channel,
            "locale": locale,
            **reason_fields(message_items),
        }
        subject, body = copy_template.render(variant, variables, user_id=user_id)
        codes, sms_parts = check_message(channel, locale, subject, body, limits, words)
        mentioned = "|".join(item_ids[position - 1] for position in sorted(mentions))
        rows.append(
            (user_id, channel, locale, variant, subject, body, mentioned, len(body), sms_parts, ";".join(codes))
        )
        if progress is not None and (done % _PROGRESS_EVERY == 0 or done == total):
            progress(done, total)

    frame = pd.DataFrame(rows, columns=list(COPY_COLUMNS))
    frame = frame.astype({"chars": "int64", "sms_parts": "int64"})
    rule_counts = Counter(code for warning in frame["warnings"] if warning for code in warning.split(";"))
    variant_counts = Counter(variants)
    dropped = 0
    if strict:
        keep = (frame["warnings"] == "").to_numpy()
        dropped = int((~keep).sum())
        frame = frame[keep].reset_index(drop=True)
    elapsed = time.perf_counter() - started
    return CopyResult(
        frame=frame,
        dropped=dropped,
        rule_counts=dict(sorted(rule_counts.items())),
        variant_counts={v: variant_counts.get(v, 0) for v in copy_template.variants},
        messages_per_second=(total / elapsed if elapsed > 0 else 0.0),
        elapsed_s=elapsed,
        template=str(path),
    )


def preview(result: CopyResult, n: int = 5) -> str:
    """The first ``n`` messages as readable text (email bodies shown without HTML tags)."""
    blocks = []
    for row in result.frame.head(max(n, 0)).itertuples(index=False):
        header = f"[{row.user_id}] {row.channel}/{row.locale} variant {row.variant}"
        if row.channel == "sms":
            header += f" · {row.sms_parts} part(s), {count_sms(row.body).encoding}"
        header += f" · {row.chars} chars · items {row.item_ids or '-'}"
        lines = [header]
        if row.subject:
            lines.append(("Title: " if row.channel == "push" else "Subject: ") + row.subject)
        body = visible_text(row.body, row.channel)
        lines.append(" ".join(body.split()) if row.channel == "email" else body)
        if row.warnings:
            lines.append("Warnings: " + row.warnings)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
