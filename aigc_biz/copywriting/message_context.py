"""What a template sees for one customer: ``customer`` and ``items`` built from the caller's tables.

Keys always present, so a template never fails on a customer or item that lacks an attribute:

- ``customer``: ``id``, ``name`` (from ``name`` or ``customer_name``; ``""`` if unknown), ``segment``,
  ``region``, ``age_band``, plus every other user column; missing values are ``""``.
- each of ``items``: ``id``, ``title`` (``title_zh`` for locale zh when present; the id when no title),
  ``category`` (``category_zh`` for locale zh when present), ``price`` (float or None), ``discount``
  (fraction taken off, 0 < d < 1, or None), ``sale_price`` (float or None), ``url`` (http/https only,
  else ``""``: a ``javascript:`` link never reaches an email), ``rank``, ``score``, plus every other
  item column.
"""
from __future__ import annotations

import math

import pandas as pd

from ..errors import InputError

CUSTOMER_KEYS = ("id", "name", "segment", "region", "age_band")
ITEM_KEYS = ("id", "title", "category", "price", "discount", "sale_price", "url", "rank", "score")


class MentionedItem(dict):
    """An item dict that records, in a per-message set, that the template read it."""

    __slots__ = ("_mentions",)

    def __getitem__(self, key):
        self._mentions.add(dict.__getitem__(self, "rank"))
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        self._mentions.add(dict.__getitem__(self, "rank"))
        return dict.get(self, key, default)


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _text(value) -> str:
    return "" if _is_missing(value) else str(value).strip()


def _number(value) -> float | None:
    if _is_missing(value) or isinstance(value, bool):
        return None
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _discount(value) -> float | None:
    # 0.2 and 20 both mean "20% off"; 0, negatives and >= 100 mean no usable discount
    number = _number(value)
    if number is None or number <= 0 or number >= 100:
        return None
    return number if number < 1 else number / 100


def _keyed_records(frame: pd.DataFrame, key: str, what: str) -> dict[str, dict]:
    """``{id: {column: value}}`` from a frame with a ``key`` column or indexed by it."""
    if key in frame.columns:
        frame = frame.set_index(key)
    frame = frame[~frame.index.duplicated(keep="first")]
    ids = [_text(value) for value in frame.index]
    if any(not value for value in ids):
        raise InputError(f"{what} table has an empty {key}", column=key)
    records = frame.to_dict("records")
    return dict(zip(ids, records))


def build_customers(users: pd.DataFrame | None, user_ids) -> dict[str, dict]:
    """``{user_id: customer dict}`` for every id in ``user_ids`` (unknown users get empty attributes)."""
    known = _keyed_records(users, "user_id", "users") if users is not None and len(users.columns) else {}
    columns = [c for c in (users.columns if users is not None else []) if c != "user_id"]
    customers = {}
    for user_id in user_ids:
        record = known.get(user_id, {})
        customer = {str(column): _text(record.get(column)) for column in columns}
        for column in CUSTOMER_KEYS:
            customer.setdefault(column, "")
        customer["id"] = user_id
        customer["name"] = _text(record.get("name")) or _text(record.get("customer_name"))
        customers[user_id] = customer
    return customers


def build_item_table(recs: pd.DataFrame, items: pd.DataFrame | None, locale: str) -> dict[str, dict]:
    """``{item_id: item attributes}`` for every item of ``recs``: the items table first, columns of
    ``recs`` as a fallback. Every item has every column (``""`` when missing), so a template that
    reads ``item.colour`` works for all customers or fails at once."""
    table: dict[str, dict] = {str(item_id).strip(): {} for item_id in recs["item_id"].dropna().unique()}
    columns: dict[str, None] = {}
    rec_columns = [c for c in recs.columns if c not in ("user_id", "rank", "score")]
    sources = [(recs[rec_columns], "recommendations")] if len(rec_columns) > 1 else []
    if items is not None and len(items.columns):
        sources.append((items, "items"))
    for frame, what in sources:
        for item_id, record in _keyed_records(frame, "item_id", what).items():
            columns.update(dict.fromkeys(str(k) for k in record))
            table.setdefault(item_id, {}).update({k: v for k, v in record.items() if not _is_missing(v)})
    blank = dict.fromkeys(columns, "")
    return {item_id: _item_attributes(item_id, {**blank, **record}, locale) for item_id, record in table.items()}


def _item_attributes(item_id: str, record: dict, locale: str) -> dict:
    attributes = {str(k): (v if isinstance(v, (int, float)) else _text(v)) for k, v in record.items()}
    title = (_text(record.get("title_zh")) if locale == "zh" else "") or _text(record.get("title")) or item_id
    category = (_text(record.get("category_zh")) if locale == "zh" else "") or _text(record.get("category"))
    price, discount = _number(record.get("price")), _discount(record.get("discount"))
    url = _text(record.get("url"))
    attributes.update(
        id=item_id, title=title, category=category, price=price, discount=discount,
        sale_price=round(price * (1 - discount), 2) if price is not None and discount is not None else None,
        url=url if url.lower().startswith(("http://", "https://")) else "",
    )
    return attributes


def make_items(item_ids, scores, item_table: dict, mentions: set) -> list[MentionedItem]:
    """The ``items`` list of one message, in rank order (rank 1 first)."""
    result = []
    for position, (item_id, score) in enumerate(zip(item_ids, scores), start=1):
        item = MentionedItem(item_table[item_id])
        item._mentions = mentions
        dict.__setitem__(item, "rank", position)
        dict.__setitem__(item, "score", _number(score))
        result.append(item)
    return result
