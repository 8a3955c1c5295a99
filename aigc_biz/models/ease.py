"""EASE: a closed-form linear item-item model, the strongest simple baseline on small catalogues."""
from __future__ import annotations

import os
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from aigc_biz.data.interactions import Interactions
from aigc_biz.errors import ConfigError, ModelError
from aigc_biz.models.artifacts import expect_array
from aigc_biz.models.base import Recommender

#: share of the available memory the three n_items x n_items float64 matrices may take
MEMORY_SHARE = 0.6
_ADVICE = "use itemknn or cvae, or filter to the top N items with --candidates"


class EASE(Recommender):
    """Embarrassingly Shallow Autoencoder (Steck 2019).

    ``B = I - P / diag(P)`` with ``P = (X^T X + l2 I)^-1`` and ``diag(B) = 0``; scores are
    ``history @ B``. Fitting inverts one dense n_items x n_items matrix, so it is fast up to a few
    ten thousand items and refused beyond ``max_items`` or the memory available.

    A warm start (``aigc_biz.api.train(..., warm_start=...)``) is a plain refit on the new data: the
    fit is one closed-form pass over it, as cheap as an incremental update would be.

    Parameters
    ----------
    l2 : float, default 500.0
        L2 regularisation on B (larger values for denser data).
    max_items : int, default 30000
        Refuse to fit catalogues larger than this.

    Attributes
    ----------
    item_weights_ : ndarray of shape (n_items, n_items), float32
        ``B``: how much taking item ``i`` (row) counts towards item ``j`` (column); zero diagonal.

    References
    ----------
    Steck. "Embarrassingly Shallow Autoencoders for Sparse Data." WWW 2019.

    Examples
    --------
    >>> import pandas as pd
    >>> from aigc_biz.data import Interactions
    >>> df = pd.DataFrame({"user": ["a", "a", "b", "b", "c"], "item": ["x", "y", "x", "y", "x"]})
    >>> data = Interactions.from_frame(df, "user", "item")
    >>> model = EASE(l2=1.0).fit(data)
    >>> model.recommend(data, ["c"], k=1)["item_id"].tolist()
    ['y']
    """

    name = "ease"

    def __init__(self, l2: float = 500.0, max_items: int = 30_000):
        self.l2 = l2
        self.max_items = max_items

    def _fit(self, data: Interactions, progress: Callable[[dict], None] | None) -> None:
        if not float(self.l2) > 0:
            raise ConfigError(f"ease: l2={self.l2!r} must be positive")
        n_items = data.n_items
        if n_items > int(self.max_items):
            raise ModelError(f"EASE needs a dense {n_items:,} x {n_items:,} matrix; {n_items:,} items is more "
                             f"than max_items={int(self.max_items):,}", hint=_ADVICE)
        needed = 3 * 8 * n_items ** 2
        available = available_memory_bytes()
        if available is not None and needed > MEMORY_SHARE * available:
            raise ModelError(f"EASE on {n_items:,} items needs about {needed / 2**30:.1f} GiB of memory; "
                             f"{available / 2**30:.1f} GiB is available", hint=_ADVICE)
        binary = data.binary()
        gram = torch.from_numpy((binary.T @ binary).toarray().astype(np.float64))
        gram.diagonal().add_(float(self.l2))
        # float64 LU inverse: as fast as a Cholesky route here and safe for ill-conditioned catalogues
        inverse, info = torch.linalg.inv_ex(gram)
        del gram
        if int(info) != 0 or not bool(torch.isfinite(inverse.diagonal()).all()):
            raise ModelError("EASE: the regularised Gram matrix could not be inverted", hint="increase l2")
        weights = inverse / (-inverse.diagonal())[None, :]
        weights.diagonal().zero_()
        self.item_weights_ = weights.to(torch.float32).numpy()
        if progress is not None:
            progress({"n_items": n_items})

    def score_batch(self, history: sp.csr_matrix, context: pd.DataFrame | None = None) -> np.ndarray:
        self.check_fitted()
        history = sp.csr_matrix(history, dtype=np.float32)
        history.data = (history.data > 0).astype(np.float32)
        return np.asarray(history @ self.item_weights_)

    def item_vectors(self) -> np.ndarray:
        """Row ``i`` of B: how item ``i`` counts towards every other item."""
        self.check_fitted()
        return self.item_weights_

    def _state(self) -> dict[str, np.ndarray]:
        return {"item_weights": self.item_weights_}

    def _set_state(self, state: dict[str, np.ndarray], meta: dict) -> None:
        n_items = len(self.item_ids_)
        self.item_weights_ = expect_array(state, "item_weights", (n_items, n_items)).astype(np.float32)


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else free physical pages; None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
