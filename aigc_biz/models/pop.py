"""Most-popular items, overall or within the user's segment: the baseline every model must beat."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from aigc_biz.data.interactions import Interactions
from aigc_biz.errors import ConfigError
from aigc_biz.models.artifacts import expect_array
from aigc_biz.models.base import Recommender

_WEIGHTINGS = ("count", "weight")


class Popularity(Recommender):
    """Recommend the items most users took, optionally within the user's own segment.

    Parameters
    ----------
    by_segment : str or None, default None
        A user attribute column (e.g. ``"segment"``). When set, an item's score is its popularity
        among users with the same value of that column; users whose value is missing or was never
        seen in training get the overall popularity.
    weighting : {"count", "weight"}, default "count"
        ``"count"``: number of distinct users who took the item. ``"weight"``: sum of the
        interaction weights (quantities, revenue...).

    Attributes
    ----------
    popularity_ : ndarray of shape (n_items,), float32
        Overall popularity.
    segment_values_ : list of str
        Values of ``by_segment`` seen in training (empty without ``by_segment``).
    segment_scores_ : ndarray of shape (n_segments, n_items), float32
        Popularity within each segment, plus a fraction of one step of overall popularity
        so that items tied within a segment are ordered by overall popularity.

    Examples
    --------
    >>> import pandas as pd
    >>> from aigc_biz.data import Interactions
    >>> df = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"]})
    >>> data = Interactions.from_frame(df, "user", "item")
    >>> model = Popularity().fit(data)
    >>> model.recommend(data, ["new"], k=1)["item_id"].tolist()
    ['x']
    """

    name = "pop"

    def __init__(self, by_segment: str | None = None, weighting: str = "count"):
        self.by_segment = by_segment
        self.weighting = weighting

    @property
    def uses_context(self) -> bool:  # type: ignore[override]
        return self.by_segment is not None

    def _fit(self, data: Interactions, progress: Callable[[dict], None] | None) -> None:
        if self.weighting not in _WEIGHTINGS:
            raise ConfigError(f"pop: weighting={self.weighting!r} is not one of {', '.join(_WEIGHTINGS)}")
        matrix = data.binary() if self.weighting == "count" else sp.csr_matrix(data.matrix, dtype=np.float64)
        self.popularity_ = np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel().astype(np.float32)
        self.item_factors_ = svd_item_factors(data.binary())
        self.segment_values_: list[str] = []
        self.segment_scores_ = np.zeros((0, data.n_items), dtype=np.float32)
        if self.by_segment is None:
            return
        if self.by_segment not in data.user_features.columns:
            available = ", ".join(map(str, data.user_features.columns)) or "none"
            raise ConfigError(
                f"pop: by_segment={self.by_segment!r} is not a user attribute column",
                column=self.by_segment,
                hint=f"user attribute columns: {available}",
            )
        keys = [segment_key(v) for v in data.user_features[self.by_segment]]
        self.segment_values_ = sorted({k for k in keys if k is not None})
        position = {value: i for i, value in enumerate(self.segment_values_)}
        rows = np.array([position.get(k, -1) for k in keys], dtype=np.int64)
        known = rows >= 0
        # (segments x users) indicator @ (users x items) = per-segment popularity
        member = sp.csr_matrix(
            (np.ones(known.sum()), (rows[known], np.flatnonzero(known))),
            shape=(len(self.segment_values_), data.n_users),
        )
        within = np.asarray((member @ matrix).todense(), dtype=np.float64)
        self.segment_scores_ = (within + _tie_break(within, self.popularity_)).astype(np.float32)

    def score_batch(self, history: sp.csr_matrix, context: pd.DataFrame | None = None) -> torch.Tensor:
        self.check_fitted()
        n_rows = history.shape[0]
        table = torch.from_numpy(np.vstack([self.segment_scores_, self.popularity_[None, :]]))
        fallback = len(self.segment_values_)
        rows = np.full(n_rows, fallback, dtype=np.int64)
        if self.by_segment is not None and context is not None and self.by_segment in context.columns:
            position = {value: i for i, value in enumerate(self.segment_values_)}
            rows = np.array([position.get(segment_key(v), fallback) for v in context[self.by_segment]], dtype=np.int64)
        return table[torch.from_numpy(rows)]

    def item_vectors(self) -> np.ndarray:
        """Co-occurrence factors (a truncated SVD of who took what), for ``similar_items``."""
        self.check_fitted()
        return self.item_factors_

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "popularity": self.popularity_,
            "segment_scores": self.segment_scores_,
            "item_factors": self.item_factors_,
        }

    def _set_state(self, state: dict[str, np.ndarray], meta: dict) -> None:
        n_items = len(self.item_ids_)
        self.segment_values_ = [str(v) for v in meta["segment_values"]]
        self.popularity_ = expect_array(state, "popularity", (n_items,)).astype(np.float32)
        self.segment_scores_ = expect_array(state, "segment_scores", (len(self.segment_values_), n_items)).astype(
            np.float32
        )
        self.item_factors_ = expect_array(state, "item_factors", (n_items, None)).astype(np.float32)

    def _meta(self) -> dict:
        return {"segment_values": list(self.segment_values_)}


def segment_key(value) -> str | None:
    """A user attribute value as the string it is compared by; None when missing."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def svd_item_factors(binary: sp.spmatrix, dim: int = 32) -> np.ndarray:
    """(n_columns, <= dim) column factors from a seeded randomized SVD: item similarity without the data."""
    from sklearn.utils.extmath import randomized_svd

    n = max(1, min(dim, min(binary.shape)))
    _, sigma, vt = randomized_svd(sp.csr_matrix(binary, dtype=np.float64), n_components=n, random_state=0)
    return (vt.T * sigma[None, :]).astype(np.float32)


def _tie_break(within: np.ndarray, overall: np.ndarray) -> np.ndarray:
    """Less than half the smallest gap between segment scores, growing with overall popularity."""
    values = np.unique(within)
    gap = float(np.diff(values).min()) if len(values) > 1 else 1.0
    top = float(overall.max()) if overall.size and overall.max() > 0 else 1.0
    return 0.5 * gap * np.clip(overall, 0, None)[None, :] / top
