"""Find which column is the user, the item, the time, the weight and the attributes.

Names are matched case-, space-, hyphen- and underscore-insensitively (``Customer ID`` = ``customer_id`` =
``CustomerID``), in English and Chinese. Explicit arguments (the CLI's ``--user-col`` ...) always win.

Attribute rules when detected automatically (explicit ones are taken as given):

- a user attribute (segment, region, 性别 ...) must be constant per user (at least 99% of users show one value);
- ``title`` / ``category`` found by name must be mostly constant per item (at least half the items), which
  keeps a customer's ``name`` from passing for a product title; ``price`` may vary (loading takes the median);
- any other item attribute (``title_zh``, ``brand``, ``中文名`` ...) must be constant per item and keeps its name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd

from aigc_biz.data.interactions import ColumnRoles
from aigc_biz.errors import InputError

__all__ = ["detect_roles", "normalize_name", "WEIGHT_KINDS"]

WEIGHT_KINDS = ("rating", "quantity", "revenue", "event")

# Tiers: a column from an earlier tier beats one from a later tier; two in the same tier are ambiguous.
_USER_TIERS = (
    (
        "user_id",
        "userid",
        "customer_id",
        "customerid",
        "cust_id",
        "member_id",
        "memberid",
        "client_id",
        "clientid",
        "visitor_id",
        "visitorid",
        "uid",
        "用户ID",
        "客户ID",
        "客户编号",
        "会员ID",
        "用户编号",
    ),
    ("user", "customer", "member", "client", "用户", "客户", "会员"),
)
_ITEM_TIERS = (
    (
        "item_id",
        "itemid",
        "product_id",
        "productid",
        "sku",
        "stock_code",
        "stockcode",
        "goods_id",
        "goodsid",
        "movie_id",
        "movieid",
        "artist_id",
        "artistid",
        "商品ID",
        "商品编号",
        "产品ID",
        "产品编号",
    ),
    ("item", "product", "goods", "商品", "产品"),
)
_TIME_NAMES = (
    "timestamp",
    "event_time",
    "order_time",
    "order_date",
    "invoicedate",
    "invoice_date",
    "datetime",
    "created_at",
    "time",
    "date",
    "下单时间",
    "订单时间",
    "时间",
    "日期",
)
# first kind listed wins when a table has several: an event type describes the interaction itself
_WEIGHT_NAMES = {
    "event": ("event", "event_type", "action", "behavior", "behaviour", "行为", "事件", "行为类型"),
    "rating": ("rating", "score", "stars", "评分"),
    "quantity": ("quantity", "qty", "count", "amount_qty", "plays", "play_count", "数量", "购买数量"),
    "revenue": ("revenue", "amount", "sales", "total", "金额", "销售额"),
}
_USER_ATTR_NAMES = (
    "segment",
    "customer_segment",
    "tier",
    "region",
    "city",
    "province",
    "country",
    "age_band",
    "age_group",
    "gender",
    "会员等级",
    "客户分群",
    "地区",
    "城市",
    "省份",
    "年龄段",
    "性别",
)
#: a customer's display name: used in copy, never fed to a model
_USER_NAME_NAMES = (
    "customer_name",
    "user_name",
    "member_name",
    "client_name",
    "full_name",
    "姓名",
    "客户姓名",
    "会员姓名",
    "用户名",
    "客户名称",
)
_ITEM_ATTR_NAMES = {
    "title": ("title", "title_en", "name", "product_name", "item_name", "description", "商品名称", "标题", "名称"),
    "category": ("category", "cat", "product_category", "genre", "类目", "品类", "分类"),
    "price": ("price", "unit_price", "unitprice", "价格", "单价"),
}
# other columns that describe an item when they are constant per item, kept under their own names
_ITEM_ATTR_PREFIXES = (
    "title",
    "name",
    "product",
    "item",
    "brand",
    "description",
    "subcategory",
    "商品",
    "品牌",
    "产品",
)
_ITEM_ATTR_EXTRA = ("中文名", "英文名", "规格", "颜色", "color", "colour", "size", "style")

#: share of users (items) that must show a single value for an auto-detected attribute
_CONSTANT_SHARE = 0.99
_TITLE_CONSTANT_SHARE = 0.5


def normalize_name(name) -> str:
    """``' Customer_ID '`` -> ``'customerid'``: case, spaces, hyphens and underscores ignored."""
    return re.sub(r"[\s_\-]+", "", str(name)).lower()


def _normalized(names) -> tuple[str, ...]:
    return tuple(normalize_name(n) for n in names)


def detect_roles(
    df: pd.DataFrame,
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    time_col: str | None = None,
    weight_col: str | None = None,
    user_attrs: Sequence[str] | None = None,
    item_attrs: Sequence[str] | Mapping[str, str] | None = None,
    weight_kind: str | None = None,
    source: str = "",
) -> ColumnRoles:
    """Decide the role of each column of ``df``.

    Parameters
    ----------
    df : DataFrame
        The table as read by :func:`aigc_biz.data.read_table` (string cells).
    user_col, item_col, time_col, weight_col : str, optional
        Column names that override detection. A name that is not an exact header is matched
        case/space/underscore-insensitively when that is unambiguous.
    user_attrs : sequence of str, optional
        User attribute columns; replaces detection (pass ``[]`` for none).
    item_attrs : sequence of str or mapping column -> canonical name, optional
        Item attribute columns; replaces detection. In a sequence, ``title``/``category``/``price`` synonyms
        get their canonical name and other columns keep theirs.
    weight_kind : {"rating", "quantity", "revenue", "event"}, optional
        How to read the weight column; by default from its name, else numeric -> quantity, text -> event.
    source : str
        File or URL, for error messages.

    Returns
    -------
    ColumnRoles

    Raises
    ------
    InputError
        A named column does not exist; no user or item column found; two equally good candidates.
    """
    columns = [str(c) for c in df.columns]
    file = source or None
    user = (
        _resolve(columns, user_col, "user_col", file)
        if user_col
        else _detect_id(columns, _USER_TIERS, "user", "--user-col", file)
    )
    item = (
        _resolve(columns, item_col, "item_col", file)
        if item_col
        else _detect_id(columns, _ITEM_TIERS, "item", "--item-col", file)
    )
    if user == item:
        raise InputError(
            f"the same column {user!r} cannot be both the user and the item",
            file=file,
            column=user,
            hint="pass --user-col and --item-col",
        )
    taken = {user, item}

    time = (
        _resolve(columns, time_col, "time_col", file)
        if time_col
        else _first_by_name(columns, _normalized(_TIME_NAMES), taken)
    )
    if time is not None:
        taken.add(time)

    if weight_kind is not None and weight_kind not in WEIGHT_KINDS:
        raise InputError(f"unknown weight kind {weight_kind!r}", hint=f"use one of {', '.join(WEIGHT_KINDS)}")
    if weight_col:
        weight = _resolve(columns, weight_col, "weight_col", file)
        kind = weight_kind or _kind_from_name(weight) or _kind_from_values(df[weight])
    else:
        weight, kind = None, None
        for candidate_kind, names in _WEIGHT_NAMES.items():
            if weight_kind is not None and candidate_kind != weight_kind:
                continue
            found = _first_by_name(columns, _normalized(names), taken)
            if found is not None:
                weight, kind = found, candidate_kind
                break
    if weight is not None:
        taken.add(weight)

    if user_attrs is not None:
        user_attr_cols = tuple(_resolve(columns, c, "user_attrs", file) for c in user_attrs)
    else:
        wanted = set(_normalized(_USER_ATTR_NAMES))
        user_attr_cols = tuple(
            c
            for c in columns
            if c not in taken and normalize_name(c) in wanted and _constant_share(df, user, c) >= _CONSTANT_SHARE
        )
    taken.update(user_attr_cols)

    name = _first_by_name(columns, _normalized(_USER_NAME_NAMES), taken)
    if name is not None and _constant_share(df, user, name) >= _CONSTANT_SHARE:
        taken.add(name)
    else:
        name = None

    if item_attrs is not None:
        item_attr_map = _explicit_item_attrs(columns, item_attrs, file)
    else:
        item_attr_map = _detect_item_attrs(df, columns, item, user, taken)
    return ColumnRoles(
        user=user,
        item=item,
        time=time,
        weight=weight,
        weight_kind=kind,
        user_attrs=user_attr_cols,
        user_name=name,
        item_attrs=item_attr_map,
    )


def _resolve(columns: list[str], wanted: str, flag: str, file) -> str:
    """An explicitly named column: exact header first, then a unique normalized match."""
    if wanted in columns:
        return wanted
    loose = [c for c in columns if normalize_name(c) == normalize_name(wanted)]
    if len(loose) == 1:
        return loose[0]
    raise InputError(
        f"{flag}={wanted!r} is not a column; the columns are {_listing(columns)}", file=file, column=wanted
    )


def _detect_id(columns: list[str], tiers, role: str, flag: str, file) -> str:
    for tier in tiers:
        names = set(_normalized(tier))
        found = [c for c in columns if normalize_name(c) in names]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            both = " and ".join(repr(c) for c in found)
            raise InputError(f"both {both} could be the {role} column", file=file, hint=f"pass {flag} to choose one")
    raise InputError(
        f"cannot tell which column is the {role}; the columns are {_listing(columns)}",
        file=file,
        hint=f"pass {flag} NAME ({role}_col=NAME in Python)",
    )


def _first_by_name(columns: list[str], names: tuple[str, ...], taken: set) -> str | None:
    """The column matching the earliest name in ``names`` (priority order), ignoring taken columns."""
    by_name = {}
    for c in columns:
        if c not in taken:
            by_name.setdefault(normalize_name(c), c)
    for n in names:
        if n in by_name:
            return by_name[n]
    return None


def _kind_from_name(column: str) -> str | None:
    key = normalize_name(column)
    for kind, names in _WEIGHT_NAMES.items():
        if key in _normalized(names):
            return kind
    return None


def _kind_from_values(series: pd.Series) -> str:
    values = series.dropna()
    numeric = pd.to_numeric(values.head(1000), errors="coerce")
    return "quantity" if len(values) == 0 or numeric.notna().mean() > 0.5 else "event"


def _canonical_item_name(column: str) -> str | None:
    key = normalize_name(column)
    for canonical, names in _ITEM_ATTR_NAMES.items():
        if key in _normalized(names):
            return canonical
    return None


def _explicit_item_attrs(columns, item_attrs, file) -> dict[str, str]:
    if isinstance(item_attrs, Mapping):
        return {_resolve(columns, c, "item_attrs", file): str(name) for c, name in item_attrs.items()}
    result: dict[str, str] = {}
    used = set()
    for c in item_attrs:
        column = _resolve(columns, c, "item_attrs", file)
        canonical = _canonical_item_name(column)
        name = canonical if canonical and canonical not in used else column
        used.add(name)
        result[column] = name
    return result


def _detect_item_attrs(df, columns, item, user, taken) -> dict[str, str]:
    result: dict[str, str] = {}
    used_names: set[str] = set()
    # canonical attributes by priority of their synonyms, so "title" beats "description"
    for canonical, names in _ITEM_ATTR_NAMES.items():
        for name in _normalized(names):
            for c in columns:
                if c in taken or c in result or normalize_name(c) != name:
                    continue
                if canonical != "price" and _constant_share(df, item, c) < _TITLE_CONSTANT_SHARE:
                    continue
                result[c] = canonical if canonical not in used_names else c
                used_names.add(result[c])
    extra = set(_normalized(_ITEM_ATTR_EXTRA))
    prefixes = _normalized(_ITEM_ATTR_PREFIXES)
    for c in columns:
        if c in taken or c in result:
            continue
        key = normalize_name(c)
        looks_like_item = key in extra or (key.startswith(prefixes) and not key.endswith(("id", "编号")))
        if looks_like_item and _constant_share(df, item, c) >= _CONSTANT_SHARE:
            result[c] = c
    return result


def _constant_share(df: pd.DataFrame, key: str, column: str) -> float:
    """Share of ``key`` values (users or items) whose rows show at most one distinct value of ``column``."""
    part = df[[key, column]].dropna()
    if len(part) == 0:
        return 0.0
    distinct = part.groupby(key, sort=False)[column].nunique()
    return float((distinct <= 1).mean())


def _listing(columns: list[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:40])
    return shown + (f" and {len(columns) - 40} more" if len(columns) > 40 else "")
