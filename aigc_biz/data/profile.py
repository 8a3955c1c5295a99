"""The one JSON-ready summary of :class:`Interactions`: ``aigc-biz inspect`` prints it, the report shows it.

Besides the sizes it holds the distributions the report charts (activity histogram, long-tail curve,
head share, events over time), so the report and the command line read the same numbers by the same names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aigc_biz.data.interactions import Interactions

__all__ = [
    "profile",
    "item_popularity",
    "customer_activity",
    "summary_stats",
    "log_histogram",
    "popularity_curve",
    "head_share",
    "events_over_time",
]

#: at most this many points of the popularity curve go into the chart and the JSON (log-spaced ranks)
MAX_CURVE_POINTS = 200
#: the "head" of the catalogue: this fraction of items, most popular first
HEAD_FRACTION = 0.2


def item_popularity(matrix: sp.spmatrix) -> np.ndarray:
    """Number of distinct customers with a positive entry for each item, shape (n_items,), int64.

    The one popularity count: the data profile, the report's coverage figures and the evaluation's
    novelty / ARP metrics (of the training matrix) all use it. Quantities do not count, customers do.
    """
    matrix = sp.csr_matrix(matrix)
    positive = matrix.indices[matrix.data > 0]
    return np.bincount(positive, minlength=matrix.shape[1]).astype(np.int64)


def customer_activity(data: Interactions) -> np.ndarray:
    """Number of distinct items each customer has a positive entry for, shape (n_users,)."""
    matrix = data.matrix
    row_of_entry = np.repeat(np.arange(data.n_users), np.diff(matrix.indptr))
    return np.bincount(row_of_entry[matrix.data > 0], minlength=data.n_users).astype(np.int64)


def summary_stats(values: np.ndarray) -> dict:
    """min / median / mean / 90th percentile / max of a count vector (all None when empty)."""
    if len(values) == 0:
        return {"min": None, "median": None, "mean": None, "p90": None, "max": None}
    return {
        "min": int(values.min()),
        "median": float(np.median(values)),
        "mean": float(values.mean()),
        "p90": float(np.percentile(values, 90)),
        "max": int(values.max()),
    }


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
    return {
        "period": {"D": "day", "W": "week", "M": "month"}[freq],
        "start": [p.start_time.strftime("%Y-%m-%d") for p in counts.index],
        "events": counts.to_numpy().astype(int).tolist(),
    }


def profile(data: Interactions) -> dict:
    """Sizes, sparsity, date range, activity and popularity spread, column roles and load warnings of ``data``.

    Returns
    -------
    dict
        ``source``, ``users``, ``items``, ``interactions`` (distinct user-item pairs with a positive value),
        ``events`` (source rows kept, or None), ``sparsity``, ``density``, ``date_range`` (``[first, last]``
        ISO strings, or None without times), ``interactions_per_user`` and ``interactions_per_item``
        (:func:`summary_stats`: ``min``, ``median``, ``mean``, ``p90``, ``max``), ``activity_histogram``
        (:func:`log_histogram` of interactions per user), ``popularity_curve``, ``head_share``,
        ``over_time`` (:func:`events_over_time`), ``roles``, ``user_attributes``, ``item_attributes``,
        ``warnings``. Only plain Python values.

    Examples
    --------
    >>> import scipy.sparse as sp, numpy as np
    >>> summary = profile(Interactions(sp.csr_matrix(np.eye(2)), ["u1", "u2"], ["a", "b"]))
    >>> summary["users"], summary["interactions"], summary["density"]
    (2, 2, 0.5)
    """
    activity = customer_activity(data)
    popularity = item_popularity(data.matrix)
    interactions = int(activity.sum())
    cells = data.n_users * data.n_items
    density = interactions / cells if cells else 0.0
    return {
        "source": data.source,
        "users": int(data.n_users),
        "items": int(data.n_items),
        "interactions": interactions,
        "events": None if data.events is None else int(len(data.events)),
        "sparsity": float(1.0 - density),
        "density": float(density),
        "date_range": date_range(data.events),
        "interactions_per_user": summary_stats(activity),
        "interactions_per_item": summary_stats(popularity),
        "activity_histogram": log_histogram(activity),
        "popularity_curve": popularity_curve(popularity),
        "head_share": head_share(popularity, popularity),
        "over_time": events_over_time(data.events),
        "roles": data.roles.to_dict() if data.roles is not None else None,
        "user_attributes": [str(c) for c in data.user_features.columns],
        "item_attributes": [str(c) for c in data.item_features.columns],
        "warnings": [str(w) for w in data.warnings],
    }


def date_range(events: pd.DataFrame | None) -> list[str] | None:
    """``[first, last]`` event time as ISO strings; None when the data has no usable time column."""
    if events is None or "time" not in events.columns or len(events) == 0:
        return None
    times = pd.to_datetime(events["time"], errors="coerce").dropna()
    if len(times) == 0:
        return None
    return [times.min().isoformat(), times.max().isoformat()]
