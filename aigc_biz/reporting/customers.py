"""The per-customer section: a fixed-size, seeded sample shown as history -> recommendations -> copy."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aigc_biz.data import Interactions
from aigc_biz.json_safe import json_safe

#: at most this many history items and recommendations are listed per sampled customer
MAX_HISTORY = 10
MAX_RECS = 10
#: user attributes shown next to a sampled customer's id, when the data has them
USER_ATTRIBUTES = ("segment", "region", "age_band")
COPY_FIELDS = ("channel", "locale", "variant", "subject", "body", "chars", "sms_parts", "warnings")


def choose_customers(data: Interactions, recs: pd.DataFrame | None, n: int, seed: int) -> list[str]:
    """``n`` customer ids drawn without replacement with ``seed``, listed in the data's order.

    Customers come from the recommendation table when there is one (those are the ones the report
    is about), otherwise from the customers with at least one interaction.
    """
    if recs is not None and len(recs):
        pool = pd.unique(recs["user_id"].astype(str).to_numpy(dtype=object))  # hashing: fast on 1M rows
    else:
        pool = data.user_ids[np.diff(data.matrix.indptr) > 0]
    pool = np.sort(np.asarray(pool, dtype=object))
    if n <= 0 or len(pool) == 0:
        return []
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(pool), size=min(n, len(pool)), replace=False))
    return [str(u) for u in pool[chosen]]


def _item_label(features: pd.DataFrame, idx: int, item_id: str, column: str) -> str:
    if column not in features.columns:
        return item_id if column == "title" else ""
    value = features[column].iat[idx]
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return item_id if column == "title" else ""
    return str(value)


def _history(data: Interactions, user_idx: int, user_events: pd.DataFrame | None) -> tuple[list[dict], int]:
    """The customer's items, most recent first when times are known, else strongest first."""
    start, end = data.matrix.indptr[user_idx], data.matrix.indptr[user_idx + 1]
    items = data.matrix.indices[start:end]
    weights = data.matrix.data[start:end]
    recency = pd.Series(pd.NaT, index=items, dtype="datetime64[ns]")
    if user_events is not None and "time" in user_events.columns and len(user_events):
        recency = user_events.groupby("item_idx")["time"].max().reindex(items)
    ranking = pd.DataFrame({"time": recency.to_numpy(), "weight": weights})
    order = ranking.sort_values(["time", "weight"], ascending=False, na_position="last", kind="stable").index
    rows = []
    for j in order[:MAX_HISTORY]:
        idx = int(items[j])
        item_id = str(data.item_ids[idx])
        rows.append(
            {
                "item_id": item_id,
                "title": _item_label(data.item_features, idx, item_id, "title"),
                "category": _item_label(data.item_features, idx, item_id, "category"),
                "weight": float(weights[j]),
            }
        )
    return rows, len(items)


def _recommendations(data: Interactions, user_recs: pd.DataFrame) -> list[dict]:
    rows = []
    user_recs = user_recs.sort_values("rank", kind="stable").head(MAX_RECS)
    item_idx = data.item_index(user_recs["item_id"].astype(str))
    for (_, rec), idx in zip(user_recs.iterrows(), item_idx):
        item_id = str(rec["item_id"])
        title = rec.get("title") if "title" in user_recs.columns else None
        category = rec.get("category") if "category" in user_recs.columns else None
        if title is None or pd.isna(title):
            title = _item_label(data.item_features, idx, item_id, "title") if idx >= 0 else item_id
        if category is None or pd.isna(category):
            category = _item_label(data.item_features, idx, item_id, "category") if idx >= 0 else ""
        rows.append(
            {
                "rank": int(rec["rank"]),
                "item_id": item_id,
                "title": str(title),
                "category": str(category),
                "score": float(rec["score"]),
            }
        )
    return rows


def _messages(user_copy: pd.DataFrame) -> list[dict]:
    messages = []
    for _, row in user_copy.iterrows():
        message = {}
        for field in COPY_FIELDS:
            value = row[field] if field in user_copy.columns else None
            if isinstance(value, (list, tuple, np.ndarray)):
                value = "; ".join(str(v) for v in value)
            message[field] = json_safe(value)
        item_ids = row["item_ids"] if "item_ids" in user_copy.columns else None
        if isinstance(item_ids, (list, tuple, np.ndarray)):
            item_ids = [str(i) for i in item_ids]
        message["item_ids"] = None if item_ids is None else item_ids if isinstance(item_ids, list) else str(item_ids)
        messages.append(message)
    return messages


def _rows_by_user(frame: pd.DataFrame | None, user_ids: list[str]) -> dict[str, pd.DataFrame]:
    """The rows of ``frame`` for each of ``user_ids`` (only those rows are grouped: the table may be large)."""
    if frame is None or len(frame) == 0:
        return {}
    ids = frame["user_id"].astype(str)
    mask = ids.isin(user_ids).to_numpy()  # hash lookup: fast on a million rows
    return {str(k): v for k, v in frame[mask].groupby(ids.to_numpy(dtype=object)[mask], sort=False)}


def sample_customers(
    data: Interactions, recs: pd.DataFrame | None, copy: pd.DataFrame | None, n: int, seed: int
) -> list[dict]:
    """The sampled customers, each with attributes, history, recommendations and messages (JSON-ready)."""
    chosen = choose_customers(data, recs, n, seed)
    if not chosen:
        return []
    user_idx = data.user_index(chosen)
    events = None
    if data.events is not None and "user_idx" in data.events.columns:
        events = data.events[data.events["user_idx"].isin(user_idx[user_idx >= 0])]
    recs_by_user = _rows_by_user(recs, chosen)
    copy_by_user = _rows_by_user(copy, chosen)
    customers = []
    for user_id, idx in zip(chosen, user_idx):
        attributes, history, n_history = {}, [], 0
        if idx >= 0:
            for column in USER_ATTRIBUTES:
                if column in data.user_features.columns:
                    value = data.user_features[column].iat[idx]
                    if value is not None and not pd.isna(value):
                        attributes[column] = str(value)
            user_events = None if events is None else events[events["user_idx"] == idx]
            history, n_history = _history(data, int(idx), user_events)
        user_recs = recs_by_user.get(user_id)
        user_copy = copy_by_user.get(user_id)
        customers.append(
            {
                "user_id": user_id,
                "known": bool(idx >= 0),
                "attributes": attributes,
                "history": history,
                "history_total": int(n_history),
                "recommendations": [] if user_recs is None else _recommendations(data, user_recs),
                "messages": [] if user_copy is None else _messages(user_copy),
            }
        )
    return customers
