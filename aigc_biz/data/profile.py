"""A JSON-ready summary of :class:`Interactions`, shown by ``aigc-biz inspect`` and in the report."""
from __future__ import annotations

import numpy as np
import pandas as pd

from aigc_biz.data.interactions import Interactions

__all__ = ["profile"]


def profile(data: Interactions) -> dict:
    """Sizes, sparsity, date range, activity spread, column roles and load warnings of ``data``.

    Returns
    -------
    dict
        ``users``, ``items``, ``interactions`` (distinct user-item pairs), ``events`` (source rows kept,
        or None), ``sparsity``, ``density``, ``date_range`` (``[min, max]`` ISO strings, or None without times),
        ``interactions_per_user`` and ``interactions_per_item`` (``{"min", "median", "max"}``), ``roles``,
        ``user_attributes``, ``item_attributes``, ``warnings``, ``source``. Only plain Python values.

    Examples
    --------
    >>> import scipy.sparse as sp, numpy as np
    >>> summary = profile(Interactions(sp.csr_matrix(np.eye(2)), ["u1", "u2"], ["a", "b"]))
    >>> summary["users"], summary["interactions"], summary["density"]
    (2, 2, 0.5)
    """
    matrix = data.binary()
    per_user = np.diff(matrix.indptr)
    per_item = np.bincount(matrix.indices, minlength=data.n_items)
    date_range = None
    events = data.events
    if events is not None and "time" in events.columns and len(events) and events["time"].notna().any():
        date_range = [pd.Timestamp(events["time"].min()).isoformat(),
                      pd.Timestamp(events["time"].max()).isoformat()]
    cells = data.n_users * data.n_items
    density = matrix.nnz / cells if cells else 0.0
    return {
        "source": data.source,
        "users": int(data.n_users),
        "items": int(data.n_items),
        "interactions": int(matrix.nnz),
        "events": None if events is None else int(len(events)),
        "sparsity": float(1.0 - density),
        "density": float(density),
        "date_range": date_range,
        "interactions_per_user": _spread(per_user),
        "interactions_per_item": _spread(per_item),
        "roles": data.roles.to_dict() if data.roles is not None else None,
        "user_attributes": [str(c) for c in data.user_features.columns],
        "item_attributes": [str(c) for c in data.item_features.columns],
        "warnings": list(data.warnings),
    }


def _spread(counts: np.ndarray) -> dict:
    if len(counts) == 0:
        return {"min": 0, "median": 0.0, "max": 0}
    return {"min": int(counts.min()), "median": float(np.median(counts)), "max": int(counts.max())}
