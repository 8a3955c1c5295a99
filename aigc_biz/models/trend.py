"""New items for the next period: a model's ranking mixed with what is selling now.

Next month's purchases follow the season as much as each customer's taste: in the run-up to Christmas
everybody buys the same decorations. A taste model (ease, cvae...) ranks items by what resembles the
customer's history; :class:`TrendBlend` puts that ranking and the items' recent popularity on one scale
and mixes them with a weight chosen on the last period of the *training* data (validated by time, never
on a test list). Without a time column there is no "recent", and the blend is the taste model.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from aigc_biz.data.interactions import Interactions
from aigc_biz.errors import ConfigError, InputError, ModelError
from aigc_biz.metrics_core import hits_matrix, ndcg_at_k
from aigc_biz.models.artifacts import expect_array
from aigc_biz.models.base import Recommender
from aigc_biz.models.blend import calibrated_ranks, rank_calibration, restore_part

log = logging.getLogger(__name__)

#: ranks of the taste model calibrated on the validation period; deeper ranks fall off as 1 / rank
CALIBRATION_DEPTH = 200
#: weights tried for the trend side (the taste side gets 1 - weight)
WEIGHT_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7)
#: validation customers scored densely at most (a random sample above it)
MAX_VALIDATION_USERS = 5000


def recent_share(data: Interactions, horizon) -> np.ndarray:
    """Share of the customers active in ``data``'s last ``horizon`` who bought each item then (n_items,)."""
    from aigc_biz.data.splits import parse_horizon

    events = data.events
    cut = events["time"].max() - parse_horizon(horizon)
    recent = events[events["time"] > cut]
    buyers = recent.drop_duplicates(["user_idx", "item_idx"])
    counts = np.bincount(buyers["item_idx"].to_numpy(np.int64), minlength=data.n_items).astype(np.float64)
    return counts / max(int(recent["user_idx"].nunique()), 1)


class TrendBlend(Recommender):
    """A taste model (``base_model``) and recent item popularity mixed into one ranking of new items.

    Parameters
    ----------
    base_model : str, default "cvae"
        Registry name of the model whose ranking is mixed with the trend.
    base_params : dict, optional
        Its hyper-parameters. A parameter ``trend`` does not have but its base model does (``epochs``,
        ``l2``...) goes here, so ``-p epochs=30`` works on the default model as it did on cvae.
    horizon : str, default "30d"
        The next period: the length of the "recent" window and of the validation period.
    weight : float or None, default None
        Weight of the trend side in [0, 1]; None chooses it on the last ``horizon`` of the training data.
    eval_k : int, default 20
        Cut-off of the validation NDCG that chooses the weight.
    seed : int, default 0
        Sampling of validation customers above ``MAX_VALIDATION_USERS``.

    Attributes
    ----------
    base_model_ : Recommender
        The taste model, fitted on the whole training data.
    calibration_ : ndarray of shape (min(CALIBRATION_DEPTH, n_items),)
        Probability that the taste model's item at each rank is bought in the next period.
    trend_ : ndarray of shape (n_items,)
        Share of the customers active in the training data's last ``horizon`` who bought each item then.
    weight_ : float
        The trend side's weight (0 when the data has no time column).
    validation_ : dict
        Validation NDCG per weight tried, and the number of validation customers.

    Notes
    -----
    The score of an item is ``(1 - weight) * calibration[rank] + weight * trend``: both are probabilities
    of a purchase in the next period, so neither side's raw scale matters. The trend is part of the
    fitted state (like ``pop``'s counts): refit, or warm-start, to move it forward.
    """

    name = "trend"

    def __init__(
        self,
        base_model: str = "cvae",
        base_params: dict | None = None,
        horizon: str = "30d",
        weight: float | None = None,
        eval_k: int = 20,
        seed: int = 0,
    ):
        self._keep(locals())

    def set_params(self, **params) -> "TrendBlend":
        """Own parameters as usual; any other key the base model accepts is merged into ``base_params``
        (checked by building the base model, so a wrong one is refused before any fit)."""
        own = set(self._param_names())
        super().set_params(**{k: v for k, v in params.items() if k in own})
        rest = {k: v for k, v in params.items() if k not in own}
        if rest:
            valid = self.accepted_params()
            unknown = sorted(k for k in rest if k not in valid)
            if unknown:
                raise ModelError(
                    f"model {self.name!r} (around {self.base_model}) has no parameter {unknown[0]!r}",
                    hint="valid: " + ", ".join(sorted(valid)),
                )
            self.base_params = {**dict(self.base_params or {}), **rest}
        if self.base_params:
            self._base()  # the base model checks its own parameters now, not after training starts
        return self

    def accepted_params(self) -> set[str]:
        """Its own parameters and its base model's (which :meth:`set_params` passes on)."""
        from aigc_biz.models.registry import get_model_class

        return set(self._param_names()) | set(get_model_class(str(self.base_model))._param_names())

    def _base(self) -> Recommender:
        from aigc_biz.models.registry import create_model

        if str(self.base_model).lower() in (self.name, "blend", "buyagain"):
            raise ConfigError(f"trend: base_model={self.base_model!r} must rank new items, such as ease or cvae")
        return create_model(str(self.base_model), **dict(self.base_params or {}))

    def _fit(self, data: Interactions, progress: Callable[[dict], None] | None) -> None:
        if self.weight is not None and not 0.0 <= float(self.weight) <= 1.0:
            raise ConfigError(f"trend: weight={self.weight!r} must be between 0 and 1")
        depth = min(CALIBRATION_DEPTH, data.n_items)
        self.calibration_ = 1.0 / np.arange(1, depth + 1, dtype=np.float64)  # replaced when validated
        self.validation_: dict = {}
        if data.event_order != "time":
            log.info("trend: the data has no time column, so the list is %s's alone", self.base_model)
            self.weight_ = 0.0
            self.trend_ = np.zeros(data.n_items)
        else:
            self._validate(data, progress)
            self.trend_ = recent_share(data, self.horizon)
        self.base_model_ = self._base().fit(data, progress=progress)

    def _validate(self, data: Interactions, progress) -> None:
        """Fit the taste model on the data before its last ``horizon``; on what known customers newly
        bought in that period, calibrate its ranks and choose the weight."""
        from aigc_biz.data.splits import split_horizon

        try:
            split = split_horizon(data, self.horizon)
            rows = np.flatnonzero(np.diff(split.test_target.indptr) > 0)
        except InputError as exc:
            split, rows, why = None, np.zeros(0, dtype=np.int64), exc.message
        else:
            why = f"no known customer bought a new item in the last {self.horizon} of the training data"
        if len(rows) == 0:  # nothing to choose a weight on: the taste model's list, and say why
            log.warning("trend: %s, so the list is %s's alone (weight 0)", why, self.base_model)
            self.weight_ = 0.0 if self.weight is None else float(self.weight)
            self.validation_ = {"skipped": why}
            return
        if len(rows) > MAX_VALIDATION_USERS:
            rows = np.sort(np.random.default_rng(self.seed).choice(rows, MAX_VALIDATION_USERS, replace=False))
        base = self._base().fit(split.train, progress=None)
        test_data = split.test_data()
        users = test_data.user_ids[rows]
        target = sp.csr_matrix(split.test_target)[rows]
        depth = len(self.calibration_)
        scoring = base.history_for(test_data, users)  # scored once: the calibration and the weight share it
        kwargs = {"features": scoring.features} if scoring.features else {}
        raw = torch.as_tensor(np.asarray(base.score_rows(scoring.history, scoring.context, **kwargs))).double()
        seen = torch.as_tensor(sp.csr_matrix(scoring.history).toarray() > 0)
        top = torch.topk(raw.masked_fill(seen, -torch.inf), depth, dim=1).indices.numpy()
        self.calibration_ = rank_calibration(hits_matrix(top, target, depth).astype(np.float64))
        trend = torch.as_tensor(recent_share(split.train, self.horizon))
        p_base = self._calibrated(raw, seen)
        k = int(self.eval_k)
        weights = WEIGHT_GRID if self.weight is None else (float(self.weight),)
        scores = {}
        for w in weights:
            mixed = ((1.0 - w) * p_base + w * trend[None, :]).masked_fill(seen, -torch.inf)
            lists = torch.topk(mixed, min(k, mixed.shape[1]), dim=1).indices.numpy()
            scores[float(w)] = float(np.nanmean(ndcg_at_k(lists, target, k)))
        self.weight_ = max(scores, key=lambda w: (scores[w], -w))  # ties: less trend
        self.validation_ = {"ndcg": scores, "users": int(len(rows)), "k": k}
        if progress is not None:
            progress({"stage": "trend", "weight": self.weight_})

    def _calibrated(self, raw: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
        """The taste model's scores as next-period purchase probabilities, from each item's rank among
        the customer's unseen items."""
        return calibrated_ranks(raw, seen, self.calibration_)

    # --- scoring (the taste model's history and features, then the mix) ---------------------------
    def history_matrix(self, data: Interactions) -> sp.csr_matrix:
        return self.base_model_.history_matrix(data)

    def scoring_features(self, data: Interactions, rows: np.ndarray, item_map: np.ndarray) -> dict:
        return self.base_model_.scoring_features(data, rows, item_map)

    def score_batch(
        self, history: sp.csr_matrix, context: pd.DataFrame | None = None, features: dict | None = None
    ) -> torch.Tensor:
        self.check_fitted()
        kwargs = {"features": features} if features else {}
        raw = torch.as_tensor(np.asarray(self.base_model_.score_rows(history, context, **kwargs)))
        if float(self.weight_) == 0.0:
            return raw.float()
        seen = torch.as_tensor(sp.csr_matrix(history).toarray() > 0)
        w = float(self.weight_)
        mixed = (1.0 - w) * self._calibrated(raw.double(), seen) + w * torch.as_tensor(self.trend_)[None, :]
        return mixed.float()

    def item_vectors(self) -> np.ndarray:
        return self.base_model_.item_vectors()

    # --- saving ----------------------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        state = {"calibration": self.calibration_, "trend": self.trend_}
        state.update({f"base.{k}": v for k, v in self.base_model_._arrays().items()})
        return state

    def _meta(self) -> dict:
        return {
            "weight": float(self.weight_),
            "validation": self.validation_,
            "base": {"params": self.base_model_.get_params(), "meta": self.base_model_._meta()},
        }

    def _set_state(self, state: dict[str, np.ndarray], meta: dict) -> None:
        self.weight_ = float(meta["weight"])
        if not 0.0 <= self.weight_ <= 1.0:
            raise ValueError(f"trend weight {self.weight_} is not between 0 and 1")
        self.validation_ = dict(meta.get("validation") or {})
        n_items = len(self.item_ids_)
        self.calibration_ = expect_array(state, "calibration", (min(CALIBRATION_DEPTH, n_items),)).astype(np.float64)
        self.trend_ = expect_array(state, "trend", (n_items,)).astype(np.float64)
        for name, values in (("calibration", self.calibration_), ("trend", self.trend_)):
            if (values < 0).any() or (values > 1).any():
                raise ValueError(f"trend {name} holds a value that is not a probability")
        self.base_model_ = restore_part(self, self.base_model, meta["base"], state, "base")
