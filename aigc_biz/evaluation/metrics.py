"""Ranking metrics, one value per user, from top-k index arrays and a sparse target matrix.

``topk``: int array (n_users, >=k) of item indices, -1 for padding. ``target``: csr (n_users, n_items),
stored positive entries are the held-out items. Users without targets get NaN (callers drop them).

Accuracy metrics (need a target): :func:`recall_at_k`, :func:`ndcg_at_k`, :func:`precision_at_k`,
:func:`average_precision_at_k` (MAP@K once averaged), :func:`hit_rate_at_k`, :func:`reciprocal_rank_at_k`.
Beyond-accuracy metrics (need only the lists): :func:`catalogue_coverage` (one value for all lists),
and per list :func:`novelty`, :func:`intra_list_diversity`, :func:`popularity_percentile`,
:func:`average_recommended_popularity`. Intervals: :func:`bootstrap_ci` and :func:`coverage_ci`.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import rankdata

from aigc_biz.data.profile import item_popularity as item_popularity  # the one popularity count, re-exported
from aigc_biz.metrics_core import hits_matrix, ndcg_at_k
from aigc_biz.metrics_core import n_targets as _n_targets
from aigc_biz.metrics_core import per_user as _per_user

# --- accuracy metrics --------------------------------------------------------------------------


def recall_at_k(topk, target, k: int) -> np.ndarray:
    """hits in top-k / number of the user's held-out items (DiffRec's; GiffCF's code divides by min(n, k))."""
    n = _n_targets(target)
    h = hits_matrix(topk, target, k).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, h / n, np.nan)


def precision_at_k(topk, target, k: int) -> np.ndarray:
    """hits in top-k / k (padding counts as a miss, as in DiffRec's evaluation code)."""
    return _per_user(_n_targets(target), hits_matrix(topk, target, k).sum(axis=1) / float(k))


def average_precision_at_k(topk, target, k: int) -> np.ndarray:
    """Sum of precision@i at each rank i holding a hit, / min(k, n held-out items); its mean is MAP@K."""
    n = _n_targets(target)
    h = hits_matrix(topk, target, k)
    ranks = np.arange(1, h.shape[1] + 1)
    precision_at_hit = np.cumsum(h, axis=1) / ranks * h
    with np.errstate(invalid="ignore", divide="ignore"):
        return _per_user(n, precision_at_hit.sum(axis=1) / np.maximum(np.minimum(n, k), 1))


def hit_rate_at_k(topk, target, k: int) -> np.ndarray:
    """1 when at least one held-out item is in the top-k, else 0."""
    return _per_user(_n_targets(target), hits_matrix(topk, target, k).any(axis=1).astype(np.float64))


def reciprocal_rank_at_k(topk, target, k: int) -> np.ndarray:
    """1 / rank of the first hit in the top-k (0 without a hit); its mean is MRR@K."""
    h = hits_matrix(topk, target, k)
    first = np.where(h.any(axis=1), h.argmax(axis=1) + 1, np.inf)
    return _per_user(_n_targets(target), 1.0 / first)


#: accuracy metric name -> function(topk, target, k), in the order leaderboards show them
ACCURACY_METRICS = {
    "ndcg": ndcg_at_k,
    "recall": recall_at_k,
    "precision": precision_at_k,
    "map": average_precision_at_k,
    "hit_rate": hit_rate_at_k,
    "mrr": reciprocal_rank_at_k,
}

# --- beyond-accuracy metrics -------------------------------------------------------------------


def _valid_items(topk, k: int) -> tuple[np.ndarray, np.ndarray]:
    top = np.asarray(topk)[:, :k]
    return top, top >= 0


def catalogue_coverage(topk, n_items: int, k: int) -> float:
    """Distinct items recommended in anyone's top-k / ``n_items``."""
    top, valid = _valid_items(topk, k)
    if n_items <= 0:
        return float("nan")
    return len(np.unique(top[valid])) / float(n_items)


def _mean_over_list(top: np.ndarray, valid: np.ndarray, per_item: np.ndarray) -> np.ndarray:
    """Mean of ``per_item`` over each list's valid entries (NaN for an empty list)."""
    values = np.where(valid, per_item[np.where(valid, top, 0)], 0.0)
    counts = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, values.sum(axis=1) / counts, np.nan)


def novelty(topk, popularity: np.ndarray, n_users: int, k: int) -> np.ndarray:
    """Per list: mean self-information ``-log2(popularity_i / n_users)`` of the recommended items.

    ``popularity`` is :func:`item_popularity` of the training matrix; an item no training user touched
    counts as touched once, so its novelty stays finite (``log2(n_users)``, the maximum).
    """
    share = np.maximum(np.asarray(popularity, dtype=np.float64), 1.0) / float(max(n_users, 1))
    top, valid = _valid_items(topk, k)
    return _mean_over_list(top, valid, -np.log2(share))


def average_recommended_popularity(topk, popularity: np.ndarray, k: int) -> np.ndarray:
    """Per list: mean training popularity (user count) of the recommended items (ARP)."""
    top, valid = _valid_items(topk, k)
    return _mean_over_list(top, valid, np.asarray(popularity, dtype=np.float64))


def popularity_percentile(topk, popularity: np.ndarray, k: int) -> np.ndarray:
    """Per list: mean popularity percentile of the recommended items.

    An item's percentile is the share of the catalogue at most as popular as it (1.0 = the most
    popular items, 1/n_items = a lone least popular item): 0.5 means no popularity bias.
    """
    pop = np.asarray(popularity, dtype=np.float64)
    percentile = rankdata(pop, method="max") / float(len(pop))
    top, valid = _valid_items(topk, k)
    return _mean_over_list(top, valid, percentile)


def intra_list_diversity(topk, item_categories, k: int) -> np.ndarray | None:
    """Per list: share of item pairs whose categories differ; ``None`` without item categories.

    ``item_categories`` has one value per item (a Series/array, missing values allowed). Pairs with a
    missing category are left out; a list with fewer than two categorised items gets NaN.
    """
    if item_categories is None:
        return None
    codes, uniques = pd.factorize(pd.Series(np.asarray(item_categories, dtype=object)), use_na_sentinel=True)
    if len(uniques) == 0:
        return None
    top, valid = _valid_items(topk, k)
    list_codes = np.where(valid, codes[np.where(valid, top, 0)], -1)
    n_rows = list_codes.shape[0]
    rows = np.repeat(np.arange(n_rows), list_codes.shape[1])
    flat = list_codes.ravel()
    known = flat >= 0
    # per list, how many items fall in each category (sparse: many categories, few per list);
    # pairs within one category are the "same" pairs
    counts = sp.csr_matrix((np.ones(int(known.sum())), (rows[known], flat[known])), shape=(n_rows, len(uniques)))
    counts.sum_duplicates()
    n = np.asarray(counts.sum(axis=1)).ravel()
    same = counts.copy()
    same.data = same.data * (same.data - 1) / 2
    all_pairs = n * (n - 1) / 2
    same_pairs = np.asarray(same.sum(axis=1)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(all_pairs > 0, 1.0 - same_pairs / all_pairs, np.nan)


# --- intervals ---------------------------------------------------------------------------------


def _resample_counts(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap resamples of ``n`` users as count matrices (chunk, n): row b says how often each user is drawn."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(200, 2_000_000 // max(n, 1)))  # about 16 MB per chunk, whatever the number of users
    done = 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        draws = rng.integers(0, n, size=(size, n))
        offsets = (np.arange(size) * n)[:, None]
        counts = np.bincount((draws + offsets).ravel(), minlength=size * n).reshape(size, n).astype(np.float64)
        done += size
        yield counts


def _percentile_interval(point: float, estimates: np.ndarray, alpha: float) -> tuple[float, float, float]:
    low, high = np.quantile(estimates, [alpha / 2, 1 - alpha / 2])
    return float(point), float(low), float(high)


def bootstrap_ci(values, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean of per-user ``values`` and its percentile-bootstrap interval: ``(mean, low, high)``.

    NaN entries (users without a target) are dropped first. The same ``seed`` resamples the same
    users, so intervals of different metrics and models are comparable and reproducible.

    Examples
    --------
    >>> mean, low, high = bootstrap_ci([0.0, 1.0, 1.0, 0.0], n_boot=200, seed=0)
    >>> mean, low <= mean <= high
    (0.5, True)
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    estimates = np.concatenate([counts @ v / len(v) for counts in _resample_counts(len(v), n_boot, seed)])
    return _percentile_interval(v.mean(), estimates, alpha)


def coverage_ci(
    topk, n_items: int, k: int, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float, float]:
    """:func:`catalogue_coverage` and its bootstrap interval over users' lists: ``(coverage, low, high)``."""
    top, valid = _valid_items(topk, k)
    n = top.shape[0]
    if n == 0 or n_items <= 0:
        return float("nan"), float("nan"), float("nan")
    rows = np.repeat(np.arange(n), top.shape[1])[valid.ravel()]
    lists = sp.csr_matrix((np.ones(len(rows)), (rows, top[valid])), shape=(n, n_items))
    lists = lists.T.tocsr()
    # an item is covered in a resample when some drawn user has it in their list
    estimates = np.concatenate(
        [(lists @ counts.T > 0).sum(axis=0) / float(n_items) for counts in _resample_counts(n, n_boot, seed)]
    )
    return _percentile_interval(catalogue_coverage(top, n_items, k), estimates, alpha)
