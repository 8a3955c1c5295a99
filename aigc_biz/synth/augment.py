"""Augmentation: the real table plus synthetic customers for its sparse segments, to train a model on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aigc_biz.errors import ConfigError
from aigc_biz.synth.generator import BehaviourSynthesizer
from aigc_biz.synth.source import SourceTable

__all__ = ["augmented_table"]


def augmented_table(real: SourceTable, ratio: float, seed: int = 0, params: dict | None = None) -> pd.DataFrame:
    """The real rows followed by ``ratio`` × (real customers) synthetic customers' rows.

    The synthetic customers' attribute combinations are drawn in inverse proportion to their real size
    (``BehaviourSynthesizer.sample(sparse=True)``): small segments gain most. Their ids never equal a real one.
    """
    try:
        ratio = float(ratio)
    except (TypeError, ValueError):
        ratio = float("nan")
    if not (np.isfinite(ratio) and ratio > 0):
        raise ConfigError(f"augment={ratio!r} must be a positive ratio, e.g. 0.5 (half as many synthetic customers)")
    n = max(1, int(round(ratio * len(np.unique(real.user)))))
    model = BehaviourSynthesizer(seed=seed, **(params or {})).fit(real)
    synthetic = model.sample(n, seed=seed, sparse=True)
    return pd.concat([real.raw, synthetic], ignore_index=True)
