"""What a template sees for one customer: ``customer`` and ``items`` built from the caller's tables.

Keys always present, so a template never fails on a customer or item that lacks an attribute:

- ``customer``: ``id``, ``name`` (from ``name`` or ``customer_name``; ``""`` if unknown), ``segment``,
  ``region``, ``age_band``, plus every other user column; missing values are ``""``.
- each of ``items``: ``id``, ``title`` (``title_zh`` for locale zh when present; the id when no title),
  ``category`` (``category_zh`` for locale zh when present), ``price`` (float or None), ``discount``
  (fraction taken off, 0 < d < 1, or None), ``sale_price`` (float or None), ``url`` (http/https only,
  else ``""``: a ``javascript:`` link never reaches an email), ``rank``, ``score``, ``reason``, plus every
  other item column.
- ``reason`` of an item is ``"repeat"`` (the customer bought it before: a restock suggestion) or ``"new"``
  (cross-sell); ``"new"`` when the recommendations carry no ``reason`` column, so reason-less copy is
  what it always was. It is per customer and item, so it comes from the recommendation row, never from
  the items table.
- ``replenish``: the top item (``item``) is a repeat, so the message opens as a restock reminder. The top
  item decides because every bundled template leads with it (subject line included); "all items are
  repeats" would open a mixed list that starts with a product the customer buys every month as if it
  were new to them.
- ``repeat_items`` / ``new_items``: ``items`` split by reason, each in rank order.

Reading an item's ``reason`` does not count as naming the item (``item_ids`` of the output), so a
template may sort a slice of ``items`` by reason and still list only the items it actually shows.
"""

from __future__ import annotations

import math

import pandas as pd

from ..errors import InputError

CUSTOMER_KEYS = ("id", "name", "segment", "region", "age_band")
ITEM_KEYS = ("id", "title", "category", "price", "discount", "sale_price", "url", "rank", "score", "reason")
#: Values of the recommendations' ``reason`` column: bought before (restock) or not (cross-sell).
REASON_REPEAT, REASON_NEW = "repeat", "new"
REASONS = (REASON_REPEAT, REASON_NEW)
#: Keys a template may read without naming the item: they pick wording, they do not show the item.
_UNMENTIONED_KEYS = frozenset({"reason"})


class MentionedItem(dict):
    """An item dict that records, in a per-message set, that the template read it."""

    __slots__ = ("_mentions",)

    def __getitem__(self, key):
        if key not in _UNMENTIONED_KEYS:
            self._mentions.add(dict.__getitem__(self, "rank"))
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        if key not in _UNMENTIONED_KEYS:
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
    # reason belongs to a (customer, item) pair: make_items sets it per message, not per item
    rec_columns = [c for c in recs.columns if c not in ("user_id", "rank", "score", "reason")]
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
        id=item_id,
        title=title,
        category=category,
        price=price,
        discount=discount,
        sale_price=round(price * (1 - discount), 2) if price is not None and discount is not None else None,
        url=url if url.lower().startswith(("http://", "https://")) else "",
    )
    return attributes


def make_items(item_ids, scores, reasons, item_table: dict, mentions: set) -> list[MentionedItem]:
    """The ``items`` list of one message, in rank order (rank 1 first)."""
    result = []
    for position, (item_id, score, reason) in enumerate(zip(item_ids, scores, reasons), start=1):
        item = MentionedItem(item_table[item_id])
        item._mentions = mentions
        dict.__setitem__(item, "rank", position)
        dict.__setitem__(item, "score", _number(score))
        dict.__setitem__(item, "reason", reason)
        result.append(item)
    return result


def reason_fields(message_items: list[MentionedItem]) -> dict:
    """``replenish``, ``repeat_items`` and ``new_items`` of one message (read without counting as mentions)."""
    repeats = [entry for entry in message_items if dict.__getitem__(entry, "reason") == REASON_REPEAT]
    news = [entry for entry in message_items if dict.__getitem__(entry, "reason") != REASON_REPEAT]
    top_is_repeat = bool(message_items) and dict.__getitem__(message_items[0], "reason") == REASON_REPEAT
    return {"replenish": top_is_repeat, "repeat_items": repeats, "new_items": news}
