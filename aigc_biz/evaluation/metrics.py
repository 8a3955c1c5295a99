"""Ranking metrics, one value per user, from top-k index arrays and a sparse target matrix.

``topk``: int array (n_users, >=k) of item indices, -1 for padding. ``target``: csr (n_users, n_items),
stored positive entries are the held-out items. Users without targets get NaN (callers drop them).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def hits_matrix(topk: np.ndarray, target: sp.csr_matrix, k: int) -> np.ndarray:
    """Boolean (n_users, k): is the item at each rank a held-out item."""
    target = sp.csr_matrix(target)
    top = np.asarray(topk)[:, :k]
    hits = np.zeros(top.shape, dtype=bool)
    for u in range(top.shape[0]):
        row = target.indices[target.indptr[u]:target.indptr[u + 1]]
        if len(row):
            hits[u] = np.isin(top[u], row) & (top[u] >= 0)
    return hits


def _n_targets(target: sp.csr_matrix) -> np.ndarray:
    return np.diff(sp.csr_matrix(target).indptr).astype(np.float64)


def recall_at_k(topk, target, k: int) -> np.ndarray:
    """hits in top-k / number of the user's held-out items (the DiffRec/GiffCF definition)."""
    n = _n_targets(target)
    h = hits_matrix(topk, target, k).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, h / n, np.nan)


def ndcg_at_k(topk, target, k: int) -> np.ndarray:
    """DCG of binary gains / ideal DCG over min(k, n held-out items)."""
    n = _n_targets(target)
    h = hits_matrix(topk, target, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (h * discounts[: h.shape[1]]).sum(axis=1)
    ideal_cum = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cum[np.minimum(n, k).astype(int)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, dcg / np.where(idcg > 0, idcg, 1), np.nan)
