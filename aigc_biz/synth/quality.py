"""Real and synthetic side by side: column shapes, pair trends, popularity, baskets, activity, seasonality.

Scores are ``1 - total variation distance`` between the two distributions of a categorical column (or
pair of columns), ``1 - KS statistic`` for a numeric one: 1.0 = the same distribution, 0.0 = disjoint.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from aigc_biz.data.interactions import strip_currency
from aigc_biz.synth.source import SourceTable

__all__ = ["quality_figures"]

_MAX_CATEGORIES = 60
_MAX_PAIRS = 10
_ORDER_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 5), (6, 10), (11, 20), (21, 50), (51, None))
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def quality_figures(real: SourceTable, synthetic: SourceTable, kinds: dict[str, str]) -> dict:
    """Every side-by-side figure of the quality report."""
    columns = [_column_score(real, synthetic, c, kinds[c]) for c in kinds if kinds[c] in ("customer", "line")]
    columns = [c for c in columns if c is not None]
    categorical = [c["column"] for c in columns if c["metric"] == "1 - TVD"]
    pairs = [
        {"columns": [a, b], "score": _tvd_score(_pair(real.raw, a, b), _pair(synthetic.raw, a, b))}
        for a, b in list(combinations(categorical, 2))[:_MAX_PAIRS]
    ]
    order_col = next((c for c, kind in kinds.items() if kind == "order"), None)
    real_orders, syn_orders = _orders(real, order_col), _orders(synthetic, order_col)
    return {
        "rows": {"real": int(len(real)), "synthetic": int(len(synthetic))},
        "customers": {"real": int(len(np.unique(real.user))), "synthetic": int(len(np.unique(synthetic.user)))},
        "return_share": {"real": float(real.is_return.mean()), "synthetic": float(synthetic.is_return.mean())},
        "columns": columns,
        "pairs": pairs,
        "popularity": {"real": _popularity_curve(real), "synthetic": _popularity_curve(synthetic)},
        "basket_size": _side_by_side(
            real_orders["size"], syn_orders["size"], [(k, k) for k in range(1, 8)] + [(8, None)]
        ),
        "orders_per_customer": _side_by_side(
            real_orders.groupby("u").size(), syn_orders.groupby("u").size(), _ORDER_BUCKETS
        ),
        "seasonality": _seasonality(real_orders, syn_orders) if real.time is not None else None,
    }


def _column_score(real: SourceTable, synthetic: SourceTable, column: str, kind: str) -> dict | None:
    a, b = real.raw[column], synthetic.raw[column]
    if kind == "customer":  # one value per customer, not per row
        a = pd.Series(a.to_numpy()).groupby(real.user).first()
        b = pd.Series(b.to_numpy()).groupby(synthetic.user).first()
    numbers_a = pd.to_numeric(strip_currency(a.dropna()), errors="coerce")
    if len(a.dropna()) and numbers_a.notna().mean() > 0.95 and a.nunique() > 12:
        numbers_b = pd.to_numeric(strip_currency(b.dropna()), errors="coerce").dropna()
        return {"column": column, "metric": "1 - KS", "score": 1.0 - _ks(numbers_a.dropna(), numbers_b)}
    if a.nunique() > _MAX_CATEGORIES:
        return None
    shares = pd.concat([a.value_counts(normalize=True), b.value_counts(normalize=True)], axis=1).fillna(0.0)
    shares.columns = ["real", "synthetic"]
    top = shares.sort_values("real", ascending=False).head(12)
    return {
        "column": column,
        "metric": "1 - TVD",
        "score": _tvd_score(a, b),
        "values": [str(v) for v in top.index],
        "real": top["real"].tolist(),
        "synthetic": top["synthetic"].tolist(),
    }


def _tvd_score(a: pd.Series, b: pd.Series) -> float:
    pa, pb = a.value_counts(normalize=True), b.value_counts(normalize=True)
    both = pd.concat([pa, pb], axis=1).fillna(0.0)
    return float(1.0 - 0.5 * np.abs(both.iloc[:, 0] - both.iloc[:, 1]).sum())


def _ks(a: pd.Series, b: pd.Series) -> float:
    if not len(a) or not len(b):
        return 1.0
    a, b = np.sort(a.to_numpy(np.float64)), np.sort(b.to_numpy(np.float64))
    grid = np.concatenate([a, b])
    return float(
        np.max(
            np.abs(np.searchsorted(a, grid, side="right") / len(a) - np.searchsorted(b, grid, side="right") / len(b))
        )
    )


def _pair(raw: pd.DataFrame, a: str, b: str) -> pd.Series:
    return raw[a].astype(str) + " × " + raw[b].astype(str)


def _orders(table: SourceTable, order_col: str | None) -> pd.DataFrame:
    keep = ~table.is_return
    key = (
        table.raw.loc[keep, order_col].astype(str).to_numpy()
        if order_col
        else (pd.Series(table.time[keep]).astype(str).to_numpy() if table.time is not None else np.arange(keep.sum()))
    )
    frame = pd.DataFrame({"u": table.user[keep], "k": key})
    if table.time is not None:
        frame["t"] = table.time[keep]
    grouped = frame.groupby(["u", "k"], sort=False)
    out = grouped.size().rename("size").reset_index()
    if table.time is not None:
        out["t"] = grouped["t"].min().to_numpy()
    return out


def _popularity_curve(table: SourceTable, points: int = 60) -> dict:
    counts = np.sort(pd.Series(table.item[~table.is_return]).value_counts().to_numpy())[::-1]
    share = counts / max(counts.sum(), 1)
    ranks = np.unique(np.geomspace(1, len(share), num=min(points, len(share))).astype(int))
    return {"rank": ranks.tolist(), "share": share[ranks - 1].tolist(), "items": int(len(share))}


def _bucket_shares(values: pd.Series, buckets) -> list[float]:
    values = np.asarray(values)
    total = max(len(values), 1)
    return [float(((values >= lo) & ((values <= hi) if hi is not None else True)).sum() / total) for lo, hi in buckets]


def _side_by_side(real, synthetic, buckets) -> dict:
    labels = [str(lo) if lo == hi else (f"{lo}+" if hi is None else f"{lo}–{hi}") for lo, hi in buckets]
    return {
        "labels": labels,
        "real": _bucket_shares(real, buckets),
        "synthetic": _bucket_shares(synthetic, buckets),
        "mean_real": float(np.mean(real)) if len(real) else None,
        "mean_synthetic": float(np.mean(synthetic)) if len(synthetic) else None,
    }


def _seasonality(real_orders: pd.DataFrame, syn_orders: pd.DataFrame) -> dict:
    out = {}
    for name, labels, get in (
        ("month", [str(m) for m in range(1, 13)], lambda t: t.dt.month - 1),
        ("weekday", list(_WEEKDAYS), lambda t: t.dt.day_of_week),
        ("hour", [str(h) for h in range(24)], lambda t: t.dt.hour),
    ):
        shares = []
        for orders in (real_orders, syn_orders):
            counts = np.bincount(get(pd.Series(orders["t"])).to_numpy(np.int64), minlength=len(labels))
            shares.append((counts / max(counts.sum(), 1)).tolist())
        out[name] = {
            "labels": labels,
            "real": shares[0],
            "synthetic": shares[1],
            "score": float(1.0 - 0.5 * np.abs(np.subtract(shares[0], shares[1])).sum()),
        }
    return out
