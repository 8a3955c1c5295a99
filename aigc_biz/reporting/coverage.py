"""Catalogue coverage and popularity bias of a recommendation table, measured against the data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aigc_biz.data import Interactions
from aigc_biz.data.profile import head_share, item_popularity

#: how many categories the category-share chart shows (the rest are summed as "other")
TOP_CATEGORIES = 10


def gini(counts: np.ndarray) -> float | None:
    """Gini index of non-negative counts: 0 when every entry is equal, near 1 when one entry has all."""
    values = np.sort(np.asarray(counts, dtype=np.float64))
    total = values.sum()
    if len(values) == 0 or total == 0:
        return None
    n = len(values)
    cumulative = np.cumsum(values)
    return float((n + 1 - 2 * (cumulative / total).sum()) / n)


def decile_shares(counts_per_item: np.ndarray, popularity: np.ndarray) -> list[float]:
    """Share of ``counts_per_item`` in each popularity decile of items (decile 1 = most popular 10%)."""
    total = counts_per_item.sum()
    order = np.argsort(-popularity, kind="stable")
    deciles = np.array_split(order, 10)
    if total == 0:
        return [0.0] * 10
    return [float(counts_per_item[d].sum() / total) for d in deciles]


def category_shares(categories: pd.Series, data_counts: np.ndarray, rec_counts: np.ndarray) -> dict | None:
    """Share of interactions and of recommendations per category, top categories by interactions first."""
    if categories is None:
        return None
    names = categories.fillna("").astype(str).to_numpy()
    frame = pd.DataFrame({"category": names, "data": data_counts, "recs": rec_counts})
    by_category = frame.groupby("category", sort=False)[["data", "recs"]].sum()
    by_category = by_category.sort_values(["data", "recs"], ascending=False, kind="stable")
    totals = by_category.sum()
    if totals["data"] == 0 and totals["recs"] == 0:
        return None
    top = by_category.head(TOP_CATEGORIES)
    other = by_category.iloc[TOP_CATEGORIES:].sum()
    shares = {
        "category": [str(c) for c in top.index],
        "in_data": (top["data"] / max(totals["data"], 1)).tolist(),
        "in_recs": (top["recs"] / max(totals["recs"], 1)).tolist(),
        "other_in_data": float(other["data"] / max(totals["data"], 1)),
        "other_in_recs": float(other["recs"] / max(totals["recs"], 1)),
    }
    return shares


def recommendation_stats(recs: pd.DataFrame, data: Interactions) -> dict:
    """Coverage and popularity-bias figures of ``recs`` (columns user_id, rank, item_id, score).

    Popularity of an item is the number of distinct customers who interacted with it in ``data``.
    The popularity lift compares the mean popularity of recommended items (one count per
    recommendation) with that of interacted items (one count per customer-item pair): above 1 the
    recommendations lean to popular items more than customers do.
    """
    popularity = item_popularity(data.matrix)
    item_idx = pd.Index(data.item_ids).get_indexer(recs["item_id"].astype(str))
    known = item_idx >= 0
    rec_counts = np.bincount(item_idx[known], minlength=data.n_items).astype(np.int64)
    n_distinct = int((rec_counts > 0).sum())
    mean_pop_recs = float(popularity[item_idx[known]].mean()) if known.any() else None
    mean_pop_data = float((popularity * popularity).sum() / popularity.sum()) if popularity.sum() else None
    lift = (mean_pop_recs / mean_pop_data) if mean_pop_recs is not None and mean_pop_data else None
    categories = data.item_features["category"] if "category" in data.item_features.columns else None
    n_customers = int(recs["user_id"].astype(str).nunique())
    return {
        "customers_with_recs": n_customers,
        "customers_share": float(n_customers / data.n_users) if data.n_users else None,
        "recommendations": int(len(recs)),
        "list_length": int(pd.to_numeric(recs["rank"]).max()) if len(recs) else 0,
        "distinct_items": n_distinct,
        "item_coverage": float(n_distinct / data.n_items) if data.n_items else None,
        "unknown_items": int((~known).sum()),
        "head_share_data": head_share(popularity, popularity),
        "head_share_recs": head_share(rec_counts, popularity),
        "mean_popularity_recs": mean_pop_recs,
        "mean_popularity_data": mean_pop_data,
        "popularity_lift": lift,
        "gini_recs": gini(rec_counts),
        "deciles": {"in_data": decile_shares(popularity, popularity), "in_recs": decile_shares(rec_counts, popularity)},
        "categories": category_shares(categories, popularity, rec_counts),
    }
