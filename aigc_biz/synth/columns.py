"""What each column of a behaviour table describes, so the synthesizer knows how to make it.

| kind | columns | made by |
|---|---|---|
| ``user`` | the customer id | new ids in the input's style |
| ``name`` | the customer's display name | :class:`~aigc_biz.synth.names.NameMaker` |
| ``customer`` | attributes constant per customer (segment, region, country ...) | drawn jointly |
| ``customer_key`` | other per-customer values with many distinct values (email, phone ...) | same-shape random text |
| ``time`` | the timestamp | seasonality and gaps |
| ``order`` | the order / invoice id (one value per customer and time, many values) | new ids, in time order |
| ``item`` | the product id | the fitted item model |
| ``line`` | everything else (quantity, price, title, category ...) | a real line of the same product |
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aigc_biz.synth.source import SourceTable

__all__ = ["column_kinds", "CUSTOMER_KINDS"]

CUSTOMER_KINDS = ("customer", "customer_key")
#: share of customers (orders) that must show one value for a column to belong to them
_CONSTANT_SHARE = 0.99
#: a per-customer column with more distinct values than this share of customers is a key, not a category
_KEY_SHARE = 0.2


def column_kinds(table: SourceTable) -> dict[str, str]:
    """Column -> kind (see the module table), in the source's column order."""
    roles = table.roles
    fixed = {roles.user: "user", roles.item: "item"}
    if roles.time:
        fixed[roles.time] = "time"
    if roles.user_name:
        fixed[roles.user_name] = "name"
    for column in roles.user_attrs:
        fixed[column] = "customer"
    raw = table.raw
    users = pd.Series(table.user)
    order_key = users + "\x1f" + (pd.Series(table.time).astype(str) if table.time is not None else "")
    n_users = max(users.nunique(), 1)
    kinds = {}
    for column in raw.columns:
        if column in fixed:
            kinds[column] = fixed[column]
            continue
        if column == roles.weight or column in roles.item_attrs:
            kinds[column] = "line"
            continue
        values = raw[column].reset_index(drop=True)
        if _constant_share(users, values) >= _CONSTANT_SHARE:
            many = values.nunique() > max(50, _KEY_SHARE * n_users)
            kinds[column] = "customer_key" if many else "customer"
        elif (
            table.time is not None
            and _constant_share(order_key, values) >= _CONSTANT_SHARE
            and values.nunique() >= 0.5 * order_key.nunique()
        ):
            kinds[column] = "order"
        else:
            kinds[column] = "line"
    return kinds


def _constant_share(keys: pd.Series, values: pd.Series) -> float:
    frame = pd.DataFrame({"k": keys.to_numpy(), "v": values.to_numpy()}).dropna()
    if len(frame) == 0:
        return 0.0
    return float((frame.groupby("k", sort=False)["v"].nunique() <= 1).mean())


def first_per_key(keys: np.ndarray, values: pd.Series) -> pd.Series:
    """The first value of ``values`` for each distinct key (index: the keys, sorted)."""
    return pd.Series(values.to_numpy(), index=pd.Index(keys)).groupby(level=0, sort=True).first()
