"""TSTR, "train on synthetic, test on real": is the synthetic table good enough to fit a recommender on?

The real table is split by time. A synthesizer is fitted on the earlier part and samples a table; the
same item-item model (:class:`~aigc_biz.models.itemknn.ItemKNN`) is fitted once on the synthetic table
and once on the real earlier part, and both score the *real* customers from their real earlier history
(the scoring contract: the caller passes the history). NDCG@k counts the items each customer bought in
the later part and had not bought before. The ratio synthetic / real is the figure to watch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aigc_biz.data.interactions import Interactions
from aigc_biz.metrics_core import ndcg_at_k
from aigc_biz.models.itemknn import ItemKNN
from aigc_biz.models.pop import Popularity
from aigc_biz.synth.source import SourceTable

__all__ = ["tstr", "purchases", "later_targets", "ndcg_per_customer"]


def purchases(table: SourceTable) -> Interactions:
    """The purchase lines of ``table`` (returns left out) as interactions."""
    keep = ~table.is_return
    return Interactions.from_frame(pd.DataFrame({"u": table.user[keep], "i": table.item[keep]}), "u", "i")


def tstr(train: SourceTable, test: SourceTable, synthetic: SourceTable, k: int = 10, k_neighbours: int = 100) -> dict:
    """NDCG@k on ``test`` of item-item models fitted on ``synthetic`` and on ``train`` (and popularity).

    Returns ``{"k", "customers", "real", "synthetic", "ratio", "popularity"}``; ``customers`` counts the
    real customers with a history in ``train`` and a new item in ``test``.
    """
    history = purchases(train)
    later = purchases(test)
    users, target, vocabulary = later_targets(history, later)
    out = {"k": int(k), "customers": int(len(users))}
    if not len(users):
        return {**out, "real": None, "synthetic": None, "ratio": None, "popularity": None}
    fitted = {
        "real": ItemKNN(k_neighbours=k_neighbours).fit(history),
        "synthetic": ItemKNN(k_neighbours=k_neighbours).fit(purchases(synthetic)),
        "popularity": Popularity().fit(history),
    }
    for name, model in fitted.items():
        out[name] = float(np.nanmean(ndcg_per_customer(model, history, users, target, vocabulary, k)))
    out["ratio"] = out["synthetic"] / out["real"] if out["real"] else None
    return out


def ndcg_per_customer(
    model, history: Interactions, users, target: sp.csr_matrix, vocabulary: dict, k: int
) -> np.ndarray:
    """NDCG@k of ``model`` scoring ``users`` from their ``history`` against ``target`` (rows = users)."""
    top = model.recommend_topk(history, users, k, exclude_seen=True)
    ids = np.where(top.indices >= 0, top.item_ids[np.maximum(top.indices, 0)], None)
    index = np.array([[vocabulary.get(t, -1) for t in row] for row in ids], dtype=np.int64)
    return ndcg_at_k(index, target, k)


def later_targets(history: Interactions, later: Interactions) -> tuple[np.ndarray, sp.csr_matrix, dict]:
    """Customers of ``history`` with a new item in ``later``, and those items as a csr target."""
    vocabulary = {t: i for i, t in enumerate(sorted(set(history.item_ids) | set(later.item_ids)))}
    seen = {
        u: set(history.item_ids[history.matrix.indices[history.matrix.indptr[r] : history.matrix.indptr[r + 1]]])
        for r, u in enumerate(history.user_ids)
    }
    users, rows, cols = [], [], []
    m = later.matrix
    for r, u in enumerate(later.user_ids):
        if u not in seen:
            continue
        new = [t for t in later.item_ids[m.indices[m.indptr[r] : m.indptr[r + 1]]] if t not in seen[u]]
        if new:
            rows += [len(users)] * len(new)
            cols += [vocabulary[t] for t in new]
            users.append(u)
    target = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(vocabulary)))
    return np.asarray(users, dtype=object), target, vocabulary
