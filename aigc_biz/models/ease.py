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
from aigc_biz.models.base import RecencyWeightedHistory, Recommender
from aigc_biz.models.large_catalogue import (
    DENSE_ITEM_ITEM_MAX,
    SPARSE_ALTERNATIVE,
    dense_item_item_allowed,
    dense_limit_text,
)

#: share of the available memory the three n_items x n_items float64 matrices may take
MEMORY_SHARE = 0.6


class EASE(RecencyWeightedHistory, Recommender):
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
        Refuse to fit catalogues larger than this (never more than ``large_catalogue.DENSE_ITEM_ITEM_MAX``,
        30,000); the refusal names the sparse alternatives (``itemknn``, ``cvae``).
    recency_half_life : float or None, default None
        At scoring time, weight each history entry by ``0.5 ** (age / recency_half_life)`` (days with a
        time column, else events), so recent purchases count most; None scores the plain item set.

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

    def __init__(self, l2: float = 500.0, max_items: int = 30_000, recency_half_life: float | None = None):
        self.l2 = l2
        self.max_items = max_items
        self.recency_half_life = recency_half_life

    def _fit(self, data: Interactions, progress: Callable[[dict], None] | None) -> None:
        if not float(self.l2) > 0:
            raise ConfigError(f"ease: l2={self.l2!r} must be positive")
        n_items = data.n_items
        if not dense_item_item_allowed(n_items, int(self.max_items)):
            raise ModelError(
                f"EASE needs a dense {n_items:,} x {n_items:,} matrix; {n_items:,} items is more "
                f"than {dense_limit_text('max_items', self.max_items)}",
                hint=SPARSE_ALTERNATIVE,
            )
        # float64 LU inverse: as fast as a Cholesky route here and safe for ill-conditioned catalogues
        self.item_weights_ = ease_weights(data.binary(), float(self.l2), dtype=torch.float64).numpy()
        if progress is not None:
            progress({"n_items": n_items})

    def score_batch(self, history: sp.csr_matrix, context: pd.DataFrame | None = None) -> np.ndarray:
        self.check_fitted()
        history = sp.csr_matrix(history, dtype=np.float32)
        if self.recency_half_life is None:
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


def ease_weights(
    matrix: sp.csr_matrix, l2: float, device: torch.device | str = "cpu", dtype: torch.dtype | None = None
) -> torch.Tensor:
    """EASE closed form ``B = I - P / diag(P)``, ``P = (X'X + l2 I)^-1``, zero diagonal (Steck 2019), float32.

    The one implementation: the EASE model and the CVAE's item-item path both call it. It refuses, with a
    :class:`ModelError`, a catalogue above ``DENSE_ITEM_ITEM_MAX`` items or whose three n_items x n_items
    matrices would not fit in memory, and a
    Gram matrix that cannot be inverted.

    Parameters
    ----------
    matrix : csr_matrix (n_users, n_items)
        Interactions as given (EASE passes the binary matrix); the Gram matrix is formed in float32.
    l2 : float
        Ridge added to the Gram diagonal.
    device : torch.device or str, default "cpu"
        Where the inverse is computed; the result stays there.
    dtype : torch.dtype, optional
        Precision of the inverse. Default: float64 up to 8,000 items, float32 above (the ridge keeps it
        well conditioned), so the peak stays near three n_items^2 matrices.
    """
    n_items = matrix.shape[1]
    if not dense_item_item_allowed(n_items, DENSE_ITEM_ITEM_MAX):
        raise ModelError(
            f"EASE on {n_items:,} items is above DENSE_ITEM_ITEM_MAX={DENSE_ITEM_ITEM_MAX:,}", hint=SPARSE_ALTERNATIVE
        )
    device = torch.device(device)
    if dtype is None:
        dtype = torch.float64 if n_items <= 8000 else torch.float32
    needed = 3 * torch.empty((), dtype=dtype).element_size() * n_items**2
    available = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else available_memory_bytes()
    if available is not None and needed > MEMORY_SHARE * available:
        raise ModelError(
            f"EASE on {n_items:,} items needs about {needed / 2**30:.1f} GiB of memory; "
            f"{available / 2**30:.1f} GiB is available",
            hint=SPARSE_ALTERNATIVE,
        )
    gram = torch.from_numpy(np.asarray((matrix.T @ matrix).toarray(), dtype=np.float32)).to(device, dtype)
    gram.diagonal().add_(float(l2))
    inverse, info = torch.linalg.inv_ex(gram)
    del gram
    if int(info) != 0 or not bool(torch.isfinite(inverse.diagonal()).all()):
        raise ModelError("EASE: the regularised Gram matrix could not be inverted", hint="increase l2")
    inverse.div_(-inverse.diagonal().clone())
    inverse.fill_diagonal_(0.0)
    return inverse.float()


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
