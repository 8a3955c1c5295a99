"""The data-profile figures of a report: sizes, activity and popularity distributions, events over time."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aigc_biz.data import Interactions

#: at most this many points of the popularity curve go into the chart and the JSON (log-spaced ranks)
MAX_CURVE_POINTS = 200
#: the "head" of the catalogue: this fraction of items, most popular first
HEAD_FRACTION = 0.2


def item_popularity(data: Interactions) -> np.ndarray:
    """Number of distinct customers who interacted with each item, shape (n_items,)."""
    matrix = data.matrix
    positive = matrix.indices[matrix.data > 0]
    return np.bincount(positive, minlength=data.n_items).astype(np.int64)


def customer_activity(data: Interactions) -> np.ndarray:
    """Number of distinct items each customer interacted with, shape (n_users,)."""
    matrix = data.matrix
    row_of_entry = np.repeat(np.arange(data.n_users), np.diff(matrix.indptr))
    return np.bincount(row_of_entry[matrix.data > 0], minlength=data.n_users).astype(np.int64)


def summary_stats(values: np.ndarray) -> dict:
    """min / median / mean / 90th percentile / max of a count vector (all None when empty)."""
    if len(values) == 0:
        return {"min": None, "median": None, "mean": None, "p90": None, "max": None}
    return {"min": int(values.min()), "median": float(np.median(values)), "mean": float(values.mean()),
            "p90": float(np.percentile(values, 90)), "max": int(values.max())}


def log_histogram(values: np.ndarray, max_bins: int = 30) -> dict:
    """Counts of positive integers in log-spaced bins; ``edges`` has one more entry than ``counts``."""
    positive = values[values > 0]
    if len(positive) == 0:
        return {"edges": [], "counts": []}
    top = int(positive.max())
    edges = np.unique(np.round(np.geomspace(1, top + 1, num=max_bins + 1)).astype(np.int64))
    if len(edges) < 2:
        edges = np.array([1, top + 1])
    edges[-1] = max(edges[-1], top + 1)
    counts, _ = np.histogram(positive, bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def popularity_curve(popularity: np.ndarray) -> dict:
    """Popularity sorted high to low, sampled at up to MAX_CURVE_POINTS log-spaced ranks (1-based)."""
    ordered = np.sort(popularity)[::-1]
    ordered = ordered[ordered > 0]
    if len(ordered) == 0:
        return {"rank": [], "customers": []}
    ranks = np.unique(np.round(np.geomspace(1, len(ordered), num=MAX_CURVE_POINTS)).astype(np.int64))
    return {"rank": ranks.tolist(), "customers": ordered[ranks - 1].tolist()}


def head_share(counts_per_item: np.ndarray, popularity: np.ndarray) -> float | None:
    """Share of ``counts_per_item`` falling on the HEAD_FRACTION most popular items."""
    total = counts_per_item.sum()
    if total == 0 or len(popularity) == 0:
        return None
    n_head = max(1, int(np.ceil(HEAD_FRACTION * len(popularity))))
    head = np.argsort(-popularity, kind="stable")[:n_head]
    return float(counts_per_item[head].sum() / total)


def events_over_time(events: pd.DataFrame | None) -> dict | None:
    """Event counts per day, week or month (whichever gives a readable number of periods); None without time."""
    if events is None or "time" not in events.columns or len(events) == 0:
        return None
    times = pd.to_datetime(events["time"], errors="coerce").dropna()
    if len(times) == 0:
        return None
    span_days = (times.max() - times.min()).days
    freq = "D" if span_days <= 120 else ("W" if span_days <= 3 * 365 else "M")
    counts = times.dt.to_period(freq).value_counts().sort_index()
    full = pd.period_range(counts.index.min(), counts.index.max(), freq=freq)
    counts = counts.reindex(full, fill_value=0)
    return {"period": {"D": "day", "W": "week", "M": "month"}[freq],
            "start": [p.start_time.strftime("%Y-%m-%d") for p in counts.index],
            "events": counts.to_numpy().astype(int).tolist()}


def date_range(events: pd.DataFrame | None) -> dict | None:
    """First and last event time as ISO strings; None when the data has no usable time column."""
    if events is None or "time" not in events.columns or len(events) == 0:
        return None
    times = pd.to_datetime(events["time"], errors="coerce").dropna()
    if len(times) == 0:
        return None
    return {"first": times.min().isoformat(), "last": times.max().isoformat()}


def profile_data(data: Interactions) -> dict:
    """Every number the data-profile section shows (JSON-ready).

    Returns
    -------
    dict with ``customers``, ``items``, ``interactions`` (stored customer-item pairs), ``events``
    (source rows, None when unknown), ``sparsity``, ``date_range``, ``activity`` (summary stats and
    log histogram of interactions per customer), ``popularity`` (summary stats, long-tail curve and
    head share), ``over_time`` and ``warnings``.
    """
    activity = customer_activity(data)
    popularity = item_popularity(data)
    return {
        "customers": int(data.n_users),
        "items": int(data.n_items),
        "interactions": int(data.nnz),
        "events": None if data.events is None else int(len(data.events)),
        "sparsity": float(data.sparsity),
        "date_range": date_range(data.events),
        "activity": {"stats": summary_stats(activity), "histogram": log_histogram(activity)},
        "popularity": {"stats": summary_stats(popularity), "curve": popularity_curve(popularity),
                       "head_share": head_share(popularity, popularity)},
        "over_time": events_over_time(data.events),
        "warnings": [str(w) for w in data.warnings],
    }
