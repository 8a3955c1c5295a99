"""Repeat purchases and new items in one ranked list: what each customer will buy next period.

A new-item model (any registered model: ease, cvae...) ranks what the customer has not bought; a
repeat model (``buyagain``) gives the probability that they buy an item again within the horizon. The
two are put on one scale — the new-item model's rank is calibrated to the probability that an item at
that rank is bought in the next period — and mixed with a weight chosen on the last period of the
*training* data (validated by time, never on a test list).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from aigc_biz.data.interactions import Interactions
from aigc_biz.errors import ConfigError, InputError
from aigc_biz.metrics_core import hits_matrix, ndcg_at_k
from aigc_biz.models.artifacts import expect_array
from aigc_biz.models.base import Recommender

#: ranks calibrated on the validation period; deeper ranks fall off as 1 / rank from the last one
CALIBRATION_DEPTH = 200
#: weights tried for the repeat side (the new side gets 1 - weight)
WEIGHT_GRID = tuple(np.round(np.linspace(0.05, 0.95, 19), 2))
_MISSING_USER = "\x00not-in-data"


class RepeatBlend(Recommender):
    """Repeat purchases (``repeat_model``) and new items (``new_model``) blended into one list.

    Parameters
    ----------
    new_model : str, default "ease"
        Registry name of the model that ranks items the customer has not bought.
    new_params : dict, optional
        Its hyper-parameters.
    repeat_model : str, default "buyagain"
        Registry name of the repeat model; its scores of bought items must be probabilities of buying
        again within ``horizon``.
    repeat_params : dict, optional
        Its hyper-parameters (``horizon`` is passed on unless given here).
    horizon : str, default "30d"
        The next period: the repeat model's horizon and the length of the validation period.
    weight : float or None, default None
        Weight of the repeat side in [0, 1]; None chooses it on the last ``horizon`` of the training data.
    eval_k : int, default 20
        Cut-off of the validation NDCG that chooses the weight.

    Attributes
    ----------
    new_model_, repeat_model_ : Recommender
        The two fitted models (on the whole training data).
    calibration_ : ndarray of shape (CALIBRATION_DEPTH,)
        Probability that the new-item model's item at each rank is bought in the next period.
    weight_ : float
        The repeat side's weight.
    validation_ : dict
        Validation NDCG per weight tried, and the number of validation customers.

    Notes
    -----
    Scores of items the customer bought are ``weight * P(buy again)``; of other items
    ``(1 - weight) * calibration[rank]``. With ``exclude_seen=True`` the list is the new-item model's.
    """

    name = "blend"

    def __init__(
        self,
        new_model: str = "ease",
        new_params: dict | None = None,
        repeat_model: str = "buyagain",
        repeat_params: dict | None = None,
        horizon: str = "30d",
        weight: float | None = None,
        eval_k: int = 20,
    ):
        self._keep(locals())

    # --- building the two parts ------------------------------------------------------------------
    def _parts(self) -> tuple[Recommender, Recommender]:
        from aigc_biz.models.registry import create_model

        if str(self.new_model).lower() in (self.name, str(self.repeat_model).lower()):
            raise ConfigError(f"blend: new_model={self.new_model!r} must be a model of new items, such as ease")
        new = create_model(str(self.new_model), **dict(self.new_params or {}))
        repeat_params = dict(self.repeat_params or {})
        repeat = create_model(str(self.repeat_model))
        if "horizon" in repeat.get_params():
            repeat_params.setdefault("horizon", self.horizon)
        repeat.set_params(**repeat_params)
        return new, repeat

    def _fit(self, data: Interactions, progress: Callable[[dict], None] | None) -> None:
        if self.weight is not None and not 0.0 <= float(self.weight) <= 1.0:
            raise ConfigError(f"blend: weight={self.weight!r} must be between 0 and 1")
        if data.event_order != "time":
            raise InputError(
                "blending repeat purchases needs a time column",
                file=data.source or None,
                hint="pass --time-col, or leave --include-seen off",
            )
        new, repeat = self._parts()
        self._calibrate(data, new, repeat, progress)
        new.fit(data, progress=progress)
        self.new_model_ = new
        self.repeat_model_ = repeat.fit(data)

    @classmethod
    def around(cls, fitted_new: Recommender, data: Interactions, **params) -> "RepeatBlend":
        """A blend around a model already fitted (e.g. loaded from a folder): the repeat model and the
        calibration are fitted on ``data``; the new-item model is kept as it is (so its calibration is
        measured on a period it may have been trained on — fit a blend by name to avoid that)."""
        blend = cls(new_model=fitted_new.name, new_params=fitted_new.get_params(), **params)
        if data.event_order != "time":
            raise InputError(
                "blending repeat purchases needs a time column",
                file=data.source or None,
                hint="pass --time-col, or leave --include-seen off",
            )
        blend.item_ids_ = np.asarray(fitted_new.item_ids_, dtype=object)
        blend.user_feature_columns_ = list(fitted_new.user_feature_columns_)
        blend.schema_ = dict(getattr(fitted_new, "schema_", {}) or {})
        # one item space: the table's events on the model's catalogue
        aligned = data.with_items(blend.item_ids_)
        from aigc_biz.data.splits import split_horizon

        split = split_horizon(aligned, blend.horizon, repeats=True)
        blend._choose(split, fitted_new, blend._parts()[1].fit(split.train))
        blend.new_model_ = fitted_new
        blend.repeat_model_ = blend._parts()[1].fit(aligned)
        return blend

    def _calibrate(self, data, new, repeat, progress) -> None:
        """Fit both parts on the data before its last ``horizon`` and choose the calibration and weight
        on what was bought in that last period."""
        from aigc_biz.data.splits import split_horizon

        try:
            split = split_horizon(data, self.horizon, repeats=True)
        except InputError as exc:
            raise InputError(
                f"blend: cannot carve a {self.horizon} validation period from the training data ({exc.message})",
                file=data.source or None,
            ) from None
        if split.test_target.nnz == 0:
            raise InputError(
                f"blend: nobody bought anything in the last {self.horizon} of the training data",
                file=data.source or None,
                hint="use a shorter --horizon",
            )
        new_v, repeat_v = self._parts()
        new_v.fit(split.train, progress=None)
        repeat_v.fit(split.train)
        self._choose(split, new_v, repeat_v)
        if progress is not None:
            progress({"stage": "blend", "weight": self.weight_})

    def _choose(self, split, new_v: Recommender, repeat_v: Recommender) -> None:
        rows = np.flatnonzero(np.diff(split.test_target.indptr) > 0)
        data = split.test_data()
        users = data.user_ids[rows]
        target = sp.csr_matrix(split.test_target)[rows]
        depth = min(CALIBRATION_DEPTH, new_v.n_items)
        new_top = new_v.recommend_topk(data, users, depth, exclude_seen=True)
        self.calibration_ = rank_calibration(hits_matrix(new_top.indices, target, depth).astype(np.float64))
        rep_top = repeat_v.recommend_topk(data, users, min(repeat_v.n_items, depth), exclude_seen=False)
        history = data.matrix[data.user_index(users)]
        seen = _seen(history, rep_top.indices)
        k = int(self.eval_k)
        weights = WEIGHT_GRID if self.weight is None else (float(self.weight),)
        scores = {}
        for w in weights:
            lists = _merge(new_top.indices, rep_top.indices, rep_top.scores, seen, self.calibration_, w, k)
            scores[float(w)] = float(np.nanmean(ndcg_at_k(lists, target, k)))
        self.weight_ = max(scores, key=lambda w: (scores[w], -abs(w - 0.5)))
        self.validation_ = {"ndcg": scores, "users": int(len(rows)), "k": k}

    # --- scoring ---------------------------------------------------------------------------------
    def scoring_features(self, data: Interactions, rows: np.ndarray, item_map: np.ndarray) -> dict:
        users = np.where(rows >= 0, np.asarray(data.user_ids, dtype=object)[np.clip(rows, 0, None)], _MISSING_USER)
        out = {}
        for prefix, model in (("new", self.new_model_), ("repeat", self.repeat_model_)):
            scoring = model.history_for(data, users)
            out[f"{prefix}.history"] = scoring.history
            out.update({f"{prefix}.{k}": v for k, v in scoring.features.items()})
        return out

    def score_batch(
        self, history: sp.csr_matrix, context: pd.DataFrame | None = None, features: dict | None = None
    ) -> torch.Tensor:
        self.check_fitted()
        features = features or {}
        parts = {}
        for prefix, model in (("new", self.new_model_), ("repeat", self.repeat_model_)):
            own = {k[len(prefix) + 1 :]: v for k, v in features.items() if k.startswith(prefix + ".")}
            sub_history = own.pop("history", history)
            kwargs = {"features": own} if own else {}
            parts[prefix] = torch.as_tensor(
                np.asarray(model.score_rows(sub_history, context, **kwargs)), dtype=torch.float64
            )
        seen = torch.as_tensor(sp.csr_matrix(history).toarray() > 0)
        p_new = calibrated_ranks(parts["new"], seen, self.calibration_)
        w = float(self.weight_)
        return torch.where(seen, w * parts["repeat"], (1.0 - w) * p_new).float()

    def item_vectors(self) -> np.ndarray:
        return self.new_model_.item_vectors()

    # --- saving ----------------------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        state = {"calibration": self.calibration_}
        for prefix, model in (("new", self.new_model_), ("repeat", self.repeat_model_)):
            state.update({f"{prefix}.{k}": v for k, v in model._arrays().items()})
        return state

    def _meta(self) -> dict:
        return {
            "weight": float(self.weight_),
            "validation": self.validation_,
            "new": {"params": self.new_model_.get_params(), "meta": self.new_model_._meta()},
            "repeat": {"params": self.repeat_model_.get_params(), "meta": self.repeat_model_._meta()},
        }

    def _set_state(self, state: dict[str, np.ndarray], meta: dict) -> None:
        self.weight_ = float(meta["weight"])
        if not 0.0 <= self.weight_ <= 1.0:
            raise ValueError(f"blend weight {self.weight_} is not between 0 and 1")
        self.validation_ = dict(meta.get("validation") or {})
        depth = min(CALIBRATION_DEPTH, len(self.item_ids_))
        self.calibration_ = expect_array(state, "calibration", (depth,)).astype(np.float64)
        if (self.calibration_ < 0).any() or (self.calibration_ > 1).any():
            raise ValueError("blend calibration holds a value that is not a probability")
        for prefix, name in (("new", self.new_model), ("repeat", self.repeat_model)):
            setattr(self, f"{prefix}_model_", restore_part(self, name, meta[prefix], state, prefix))


def rank_calibration(hits: np.ndarray) -> np.ndarray:
    """(depth,) probability that a model's item at each rank is bought, from a (users, depth) hit matrix:
    the hit rate by rank made non-increasing (isotonic), with a hair of slope so plateaus keep the order."""
    from sklearn.isotonic import IsotonicRegression

    depth = hits.shape[1]
    ranks = np.arange(depth, dtype=np.float64)
    curve = IsotonicRegression(increasing=False, y_min=0.0).fit(ranks, hits.mean(axis=0)).predict(ranks)
    return (np.maximum(curve, 0.0) + 1e-7 * (1.0 - ranks / depth)).astype(np.float64)


def calibrated_ranks(scores: torch.Tensor, seen: torch.Tensor, calibration: np.ndarray) -> torch.Tensor:
    """Each unseen item's ``calibration[rank]`` among the row's unseen items; below the calibrated depth
    the probability falls off as 1 / rank."""
    order = torch.argsort(scores.masked_fill(seen, -torch.inf), dim=1, descending=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order))
    calibration = torch.as_tensor(calibration)
    depth = len(calibration)
    deep = calibration[-1] * depth / (rank.clamp_min(depth - 1) + 1).double()
    return torch.where(rank < depth, calibration[rank.clamp_max(depth - 1)], deep)


def restore_part(owner: Recommender, name: str, part: dict, state: dict[str, np.ndarray], prefix: str) -> Recommender:
    """A saved sub-model of ``owner`` (a blend's parts): registry ``name``, its ``{"params", "meta"}`` and
    the ``prefix.``-named arrays of ``state``, on the owner's vocabulary."""
    from aigc_biz.models.registry import create_model

    model = create_model(str(name))
    model.set_params(**part["params"])
    model.item_ids_ = owner.item_ids_
    model.user_feature_columns_ = list(owner.user_feature_columns_)
    model.schema_ = owner.schema_
    model._set_state({k[len(prefix) + 1 :]: v for k, v in state.items() if k.startswith(prefix + ".")}, part["meta"])
    return model


def _seen(history: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
    """(rows, k) bool: is each listed item in the row's history."""
    history = sp.csr_matrix(history)
    out = np.zeros(idx.shape, dtype=bool)
    for row in range(idx.shape[0]):
        own = history.indices[history.indptr[row] : history.indptr[row + 1]]
        out[row] = np.isin(idx[row], own) & (idx[row] >= 0)
    return out


def _merge(new_idx, rep_idx, rep_scores, rep_seen, calibration, weight, k) -> np.ndarray:
    """Top-``k`` lists from the new model's ranked unseen items and the repeat model's seen items."""
    depth = new_idx.shape[1]
    new_p = (1.0 - weight) * calibration[:depth][None, :].repeat(len(new_idx), axis=0)
    new_p = np.where(new_idx >= 0, new_p, -np.inf)
    rep_p = np.where(rep_seen, weight * rep_scores, -np.inf)
    items = np.concatenate([new_idx, rep_idx], axis=1)
    scores = np.concatenate([new_p, rep_p], axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(items, order, axis=1)
    return np.where(np.isfinite(np.take_along_axis(scores, order, axis=1)), top, -1)
