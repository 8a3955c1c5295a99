"""What keeps every model's memory bounded on a large catalogue (100,000 items and more).

- No model holds a dense ``n_items x n_items`` matrix above :data:`DENSE_ITEM_ITEM_MAX` items, whatever its
  own limit parameter says (``ease.max_items``, ``cvae.max_linear_items``, ``giffcf.max_dense_items``):
  :func:`dense_item_item_allowed` is the one check they all make. Above it EASE refuses (naming itemknn,
  the sparse top-k item-item model), the CVAE drops its EASE path, GiffCF keeps eigenpairs.
- Scoring densifies at most :data:`SCORE_BLOCK_CELLS` scores at once (``Recommender.recommend_indices``
  shrinks its row batch to fit), so 100,000 items score in blocks of a few hundred customers.
- The neural models train with a sampled softmax above ``max_full_softmax_items``
  (:mod:`aigc_biz.models.sampled_softmax`) and read sparse histories through :func:`sparse_times`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: largest catalogue any model may hold a dense items x items matrix for (30,000 items: 3.6 GB in float32)
DENSE_ITEM_ITEM_MAX = 30_000

#: scores densified at once while scoring (rows x items), in float32 cells: 2^25 = 128 MiB
SCORE_BLOCK_CELLS = 1 << 25

#: what to use instead of a dense item-item model on a larger catalogue
SPARSE_ALTERNATIVE = (
    "use --model itemknn (sparse top-k item-item similarity, any catalogue size) or --model cvae "
    "(sampled softmax above max_full_softmax_items), or keep the top N items with --candidates"
)


def dense_item_item_allowed(n_items: int, limit: int) -> bool:
    """Whether a model whose own limit is ``limit`` may build a dense ``n_items^2`` matrix: both ``limit``
    and :data:`DENSE_ITEM_ITEM_MAX` must allow it."""
    return int(n_items) <= min(int(limit), DENSE_ITEM_ITEM_MAX)


def dense_limit_text(name: str, limit: int) -> str:
    """``"max_items=30,000"``, plus the library cap when the parameter asks for more."""
    text = f"{name}={int(limit):,}"
    if int(limit) > DENSE_ITEM_ITEM_MAX:
        text += f" (capped at DENSE_ITEM_ITEM_MAX={DENSE_ITEM_ITEM_MAX:,})"
    return text


def rows_per_block(batch_size: int, n_columns: int, cells: int = SCORE_BLOCK_CELLS) -> int:
    """Rows of a scoring block: ``batch_size`` or fewer, so that rows x ``n_columns`` stays within ``cells``."""
    return max(1, min(int(batch_size), int(cells) // max(int(n_columns), 1)))


def sparse_times(x: torch.Tensor, weights: torch.Tensor, sparse: bool = True) -> torch.Tensor:
    """``x @ weights``; with ``sparse`` a weighted sum of the rows of ``weights`` at ``x``'s nonzero
    entries (``embedding_bag``): a history has ~1% nonzeros (0.02% on 100,000 items), and this is
    ~50x fewer operations than the dense product (and faster than torch's sparse matmul on CPU)."""
    if not sparse:
        return x @ weights
    rows, cols = x.nonzero(as_tuple=True)
    counts = torch.bincount(rows, minlength=x.shape[0])
    offsets = torch.cumsum(counts, 0) - counts
    return F.embedding_bag(cols, weights, offsets, mode="sum", per_sample_weights=x[rows, cols].to(weights.dtype))
