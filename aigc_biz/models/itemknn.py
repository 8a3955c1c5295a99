"""Item-based nearest neighbours: "customers who took these items also took..." with a shrunk cosine."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from aigc_biz.data.interactions import Interactions
from aigc_biz.errors import ConfigError
from aigc_biz.models.artifacts import checked_csr
from aigc_biz.models.base import RecencyWeightedHistory, Recommender, indices_to_frame
from aigc_biz.models.pop import svd_item_factors

#: dense similarity block held at once while fitting (items x block columns), in float32 cells
_BLOCK_CELLS = 1 << 24

#: above this many items the cosine is computed on the sparse co-occurrence counts only (the same
#: neighbours, up to ties at the k-th place): the dense blocks cost n_items^2 operations
SPARSE_COSINE_ITEMS = 20_000


class ItemKNN(RecencyWeightedHistory, Recommender):
    """Item-item collaborative filtering with a shrunk cosine similarity.

    ``sim(i, j) = x_i . x_j / (|x_i| |x_j| + shrinkage)`` over the item columns of the
    user x item matrix; for every item only its ``k_neighbours`` most similar items are kept,
    and a user's scores are ``history @ S``.

    A warm start (``aigc_biz.api.train(..., warm_start=...)``) is a plain refit on the new data: the
    fit is one closed-form pass over it, as cheap as an incremental update would be.

    Parameters
    ----------
    k_neighbours : int, default 100
        Neighbours kept per item (the rest of the similarity matrix is dropped).
    shrinkage : float, default 10.0
        Added to the norm product; pulls similarities built on few common users towards zero.
    binary : bool, default True
        Treat every interaction as 1 (True) or use the interaction weights (False).
    recency_half_life : float or None, default None
        At scoring time, weight each history entry by ``0.5 ** (age / recency_half_life)`` (days with a
        time column, else events) instead of its plain value; None scores the plain history.

    Attributes
    ----------
    similarity_ : scipy.sparse.csr_matrix of shape (n_items, n_items), float32
        ``similarity_[i, j]``: how much taking item ``i`` counts towards item ``j``; column ``j``
        holds at most ``k_neighbours`` entries, the diagonal is empty.

    References
    ----------
    Sarwar, Karypis, Konstan, Riedl. "Item-based collaborative filtering recommendation
    algorithms." WWW 2001. Aiolli. "Efficient top-n recommendation for very large scale binary
    rated datasets." RecSys 2013 (shrunk cosine).

    Examples
    --------
    >>> import pandas as pd
    >>> from aigc_biz.data import Interactions
    >>> df = pd.DataFrame({"user": ["a", "a", "b", "b", "c"], "item": ["x", "y", "x", "y", "x"]})
    >>> data = Interactions.from_frame(df, "user", "item")
    >>> model = ItemKNN(shrinkage=0.0).fit(data)
    >>> model.recommend(data, ["c"], k=1)["item_id"].tolist()
    ['y']
    """

    name = "itemknn"

    def __init__(
        self,
        k_neighbours: int = 100,
        shrinkage: float = 10.0,
        binary: bool = True,
        recency_half_life: float | None = None,
    ):
        self.k_neighbours = k_neighbours
        self.shrinkage = shrinkage
        self.binary = binary
        self.recency_half_life = recency_half_life

    def _fit(self, data: Interactions, progress: Callable[[dict], None] | None) -> None:
        if int(self.k_neighbours) < 1:
            raise ConfigError(f"itemknn: k_neighbours={self.k_neighbours!r} must be at least 1")
        if float(self.shrinkage) < 0:
            raise ConfigError(f"itemknn: shrinkage={self.shrinkage!r} must not be negative")
        matrix = self._input(data.matrix)
        self.similarity_ = _top_k_cosine(matrix, int(self.k_neighbours), float(self.shrinkage), progress)

    def _input(self, matrix: sp.spmatrix) -> sp.csr_matrix:
        matrix = sp.csr_matrix(matrix, dtype=np.float32)
        if self.binary:
            matrix = matrix.copy()
            matrix.data = (matrix.data > 0).astype(np.float32)
            matrix.eliminate_zeros()
        return matrix

    def score_batch(self, history: sp.csr_matrix, context: pd.DataFrame | None = None) -> np.ndarray:
        self.check_fitted()
        weighted = sp.csr_matrix(history, dtype=np.float32) if self.recency_half_life is not None else None
        return ((self._input(history) if weighted is None else weighted) @ self.similarity_).toarray()

    def similar_items(self, items, k: int = 10) -> pd.DataFrame:
        """The kept neighbours with the largest similarity; fewer than ``k`` when an item has fewer."""
        self.check_fitted()
        idx = self.item_positions(items)
        # column j of S: items that count towards j; S + S^T covers neighbours in both directions
        symmetric = sp.csr_matrix(self.similarity_.maximum(self.similarity_.T))
        sims = torch.from_numpy(symmetric[idx].toarray())
        sims[torch.arange(len(idx)), torch.from_numpy(idx)] = -torch.inf
        sims[sims <= 0] = -torch.inf
        top = torch.topk(sims, max(0, min(int(k), self.n_items - 1)), dim=1)
        top_idx = np.where(np.isfinite(top.values.numpy()), top.indices.numpy(), -1)
        frame = indices_to_frame(
            np.asarray([str(t) for t in items], dtype=object), self.item_ids_, top_idx, top.values.numpy()
        )
        return frame.rename(columns={"user_id": "item_id", "item_id": "similar_item_id"})

    def item_vectors(self) -> np.ndarray:
        """(n_items, <= 32) factors of a truncated SVD of the symmetrised similarity (for the content path)."""
        self.check_fitted()
        return svd_item_factors(self.similarity_.maximum(self.similarity_.T))

    def _state(self) -> dict[str, np.ndarray]:
        s = self.similarity_
        return {
            "similarity.data": s.data,
            "similarity.indices": s.indices.astype(np.int64),
            "similarity.indptr": s.indptr.astype(np.int64),
            "similarity.shape": np.asarray(s.shape),
        }

    def _set_state(self, state: dict[str, np.ndarray], meta: dict) -> None:
        n_items = len(self.item_ids_)
        self.similarity_ = checked_csr(state, "similarity", (n_items, n_items))


def _top_k_cosine(
    matrix: sp.csr_matrix, k: int, shrinkage: float, progress: Callable[[dict], None] | None = None
) -> sp.csr_matrix:
    """Shrunk cosine between item columns, keeping the top ``k`` per column, in column blocks.

    Memory stays bounded by one dense (n_items x block) slab whatever the catalogue size; above
    ``SPARSE_COSINE_ITEMS`` items only the stored co-occurrences are scored (:func:`_top_k_cosine_sparse`).
    """
    n_items = matrix.shape[1]
    if n_items > SPARSE_COSINE_ITEMS:
        return _top_k_cosine_sparse(matrix, k, shrinkage, progress)
    k = min(k, max(n_items - 1, 1))
    by_item = sp.csc_matrix(matrix)
    items_t = sp.csr_matrix(by_item.T)
    norms = np.sqrt(np.asarray(by_item.multiply(by_item).sum(axis=0), dtype=np.float64)).ravel()
    block = max(1, min(n_items, _BLOCK_CELLS // max(n_items, 1)))
    rows, cols, vals = [], [], []
    for start in range(0, n_items, block):
        stop = min(start + block, n_items)
        dots = torch.from_numpy((items_t @ by_item[:, start:stop]).toarray().astype(np.float32))
        denom = torch.from_numpy((np.outer(norms, norms[start:stop]) + shrinkage).astype(np.float32))
        sims = torch.where(denom > 0, dots / denom.clamp_min(1e-12), torch.zeros_like(dots))
        sims[torch.arange(start, stop), torch.arange(stop - start)] = 0.0  # an item is not its own neighbour
        top = torch.topk(sims, k, dim=0)
        keep = top.values > 0
        rows.append(top.indices[keep].numpy())
        cols.append((torch.arange(start, stop).expand(k, -1))[keep].numpy())
        vals.append(top.values[keep].numpy())
        if progress is not None:
            progress({"items_done": stop, "n_items": n_items})
    similarity = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items), dtype=np.float32
    )
    similarity.sort_indices()
    return similarity


def _top_k_cosine_sparse(
    matrix: sp.csr_matrix, k: int, shrinkage: float, progress: Callable[[dict], None] | None = None
) -> sp.csr_matrix:
    """:func:`_top_k_cosine` from the sparse co-occurrence counts: an item pair no customer shares has
    similarity 0 and is never kept, so only stored products are scored and ranked (per column, larger
    similarity first, ties by the lower item index). Column blocks hold at most ``_BLOCK_CELLS`` stored
    products, bounded before each block is formed."""
    n_items = matrix.shape[1]
    k = min(k, max(n_items - 1, 1))
    by_item = sp.csc_matrix(matrix)
    items_t = sp.csr_matrix(by_item.T)
    norms = np.sqrt(np.asarray(by_item.multiply(by_item).sum(axis=0), dtype=np.float64)).ravel()
    # stored products of column j are at most the summed history lengths of its customers (and n_items)
    lengths = np.diff(sp.csr_matrix(matrix).indptr).astype(np.float64)
    bound = np.minimum(items_t.astype(bool).astype(np.float64) @ lengths, n_items)
    cumulative = np.concatenate([[0.0], np.cumsum(bound)])
    rows, cols, vals = [], [], []
    start = 0
    while start < n_items:
        stop = int(np.searchsorted(cumulative, cumulative[start] + _BLOCK_CELLS, side="right")) - 1
        stop = min(max(stop, start + 1), n_items)
        block = (items_t @ by_item[:, start:stop]).tocoo()
        r, c = block.row.astype(np.int64), block.col.astype(np.int64) + start
        # float32 as the dense blocks compute it, so both paths rank alike
        denom = (norms[r] * norms[c] + shrinkage).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            sims = block.data.astype(np.float32) / denom
        keep = (r != c) & (denom > 0) & (sims > 0)
        r, c, sims = r[keep], c[keep], sims[keep]
        order = np.lexsort((r, -sims, c))  # by column, then larger similarity, then lower item index
        r, c, sims = r[order], c[order], sims[order]
        first = np.searchsorted(c, c, side="left")
        top = (np.arange(len(c)) - first) < k
        rows.append(r[top])
        cols.append(c[top])
        vals.append(sims[top])
        if progress is not None:
            progress({"items_done": stop, "n_items": n_items})
        start = stop
    similarity = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items), dtype=np.float32
    )
    similarity.sort_indices()
    return similarity
