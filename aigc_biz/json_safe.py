"""The one converter to plain JSON values, used wherever the library writes JSON (files, reports,
leaderboards, saved model parameters, JSON log lines)."""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_safe"]


def json_safe(value: Any) -> Any:
    """``value`` with only JSON types in it: what ``json.loads(json.dumps(...))`` would give back.

    Dict keys become strings; tuples, sets and arrays lists; a DataFrame its records; numpy scalars
    Python ones; NaN, inf, ``pd.NA`` and ``NaT`` None; dates and times ISO text; anything else its ``str``.

    Examples
    --------
    >>> json_safe({"k": (np.int64(3), float("nan")), 1: np.array([0.5]), "t": pd.Timestamp("2024-01-02")})
    {'k': [3, None], '1': [0.5], 't': '2024-01-02T00:00:00'}
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, pd.DataFrame):
        return json_safe(value.to_dict(orient="records"))
    # NaT passes isinstance(datetime), so the missing markers go first
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
        return None if value is pd.NaT else value.isoformat()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return str(value)
