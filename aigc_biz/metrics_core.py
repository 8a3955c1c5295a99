"""The ranking metrics the training loop needs for early stopping, below every layer that uses them.

:mod:`aigc_biz.evaluation.metrics` re-exports these with the rest of the metrics; the models' training
loop (layer ``models``) imports them from here, so it never reaches up into ``evaluation``.
``topk``: int array (n_users, >=k) of item indices, -1 for padding. ``target``: csr (n_users, n_items),
stored positive entries are the held-out items. Users without targets get NaN.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["hits_matrix", "n_targets", "ndcg_at_k", "per_user"]


def hits_matrix(topk: np.ndarray, target: sp.csr_matrix, k: int) -> np.ndarray:
    """Boolean (n_users, k): is the item at each rank a held-out item."""
    target = sp.csr_matrix(target)
    top = np.asarray(topk)[:, :k].astype(np.int64)
    n_items = max(target.shape[1], 1)
    # one integer key per (user, item) cell, so a single sorted lookup answers every rank at once
    rows = np.repeat(np.arange(target.shape[0], dtype=np.int64), np.diff(target.indptr))
    keys = np.sort(rows * n_items + target.indices)
    asked = np.arange(top.shape[0], dtype=np.int64)[:, None] * n_items + top
    return np.isin(asked, keys) & (top >= 0) & (top < n_items)


def n_targets(target: sp.csr_matrix) -> np.ndarray:
    """Number of held-out items per user."""
    return np.diff(sp.csr_matrix(target).indptr).astype(np.float64)


def per_user(n_targets: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` where the user has held-out items, NaN elsewhere."""
    return np.where(n_targets > 0, values, np.nan)


def ndcg_at_k(topk, target, k: int) -> np.ndarray:
    """DCG of binary gains / ideal DCG over min(k, n held-out items)."""
    n = n_targets(target)
    h = hits_matrix(topk, target, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (h * discounts[: h.shape[1]]).sum(axis=1)
    ideal_cum = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cum[np.minimum(n, k).astype(int)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, dcg / np.where(idcg > 0, idcg, 1), np.nan)
