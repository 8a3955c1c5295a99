"""The one contract every recommender follows (scikit-learn style, implicit-style batch scoring).

A model is fitted on :class:`~aigc_biz.data.Interactions`. It scores any user described by a row of
history (a sparse item vector) and a row of context (user attributes): known users, users folded in
at recommendation time and cold-start users with no history go through the same ``score_batch``.
Turning indices back into id strings happens once, in :meth:`Recommender.recommend`.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from aigc_biz._version import __version__
from aigc_biz.data.interactions import Interactions, data_schema
from aigc_biz.errors import ModelError, NotFittedError
from aigc_biz.json_safe import json_safe
from aigc_biz.models.artifacts import FORMAT_VERSION
from aigc_biz.models.large_catalogue import SCORE_BLOCK_CELLS, rows_per_block

log = logging.getLogger(__name__)


#: annotation words -> the Python types a parameter so annotated accepts
_KINDS = {"bool": bool, "int": int, "float": float, "str": str, "dict": dict, "list": list, "tuple": tuple}


def _declared(cls, key: str) -> inspect.Parameter | None:
    """``key``'s parameter in the first ``__init__`` along the class's MRO that declares it."""
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            param = inspect.signature(init).parameters.get(key)
            if param is not None:
                return param
    return None


def _checked_param(cls, key: str, value):
    """``value`` when it fits the type ``key`` is declared with (its default's type, or its annotation
    when the default is None); a ModelError (exit 2) naming the parameter otherwise, also for NaN/inf.

    ``-p l2='"abc"'`` or ``-p max_items=[1]`` then fail at once, not deep in fitting; an integral
    float for an int parameter (``epochs=20.0``) becomes the int.
    """
    param = _declared(cls, key)
    if param is None or param.default is inspect.Parameter.empty:
        return value
    note = "" if param.annotation is inspect.Parameter.empty else str(param.annotation)
    words = {w.strip() for w in note.replace("Optional[", "").rstrip("]").split("|") if w.strip()}
    if isinstance(value, float) and not np.isfinite(value):
        raise ModelError(f"model {cls.name!r}: parameter {key} must be a finite number, got {value!r}")
    if words - set(_KINDS) - {"None"}:  # Path, a torch.device, a callable...: the model checks those itself
        return value
    if param.default is None:
        kinds = {_KINDS[w] for w in words if w in _KINDS}
        nullable = True
    else:
        kinds = {type(param.default)} if type(param.default) in _KINDS.values() else set()
        kinds |= {_KINDS[w] for w in words if w in _KINDS}
        nullable = "None" in words
    if not kinds or (value is None and nullable):
        return value
    if float in kinds:
        kinds.add(int)
    if {list, tuple} & kinds:
        kinds |= {list, tuple}
    if str in kinds:  # a folder given as a Path (checkpoint_dir)
        kinds.add(os.PathLike)
    ok = isinstance(value, tuple(kinds)) and not (isinstance(value, bool) and bool not in kinds)
    if not ok and int in kinds and isinstance(value, float) and value.is_integer():
        return int(value)
    expected = " or ".join(sorted(k.__name__ for k in kinds if k is not os.PathLike))
    if not ok:
        hint = None if param.default is None else f"e.g. -p {key}={json.dumps(param.default, default=str)}"
        raise ModelError(f"model {cls.name!r}: parameter {key} must be {expected}, got {value!r}", hint=hint)
    return value


class Recommender(ABC):
    """Base class. Subclasses set ``name``, implement ``_fit`` and ``score_batch``.

    Hyper-parameters are keyword arguments of ``__init__`` stored unchanged; fitted state ends in ``_``.
    """

    name: ClassVar[str] = "base"
    #: True for models that use user attributes (context) when scoring
    uses_context: ClassVar[bool] = False

    # --- scikit-learn style parameters ---------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        ]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def _keep(self, arguments: dict) -> None:
        """Store ``__init__``'s arguments unchanged, as scikit-learn's contract asks (no logic in
        ``__init__``): an ``__init__`` body is ``self._keep(locals())``."""
        for name in self._param_names():
            setattr(self, name, arguments[name])

    def accepted_params(self) -> set[str]:
        """Names :meth:`set_params` takes: the model's own; a wrapper adds its base model's."""
        return set(self._param_names())

    def set_params(self, **params) -> "Recommender":
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ModelError(
                    f"model {self.name!r} has no parameter {key!r}", hint="valid: " + ", ".join(sorted(valid))
                )
            setattr(self, key, _checked_param(type(self), key, value))
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # --- fitting -------------------------------------------------------------------------------
    def fit(self, data: Interactions, progress: Callable[[dict], None] | None = None) -> "Recommender":
        """Fit on ``data`` and return ``self``. ``progress`` receives dicts (epoch, loss, ndcg...).

        The model keeps what scoring needs (weights, the item vocabulary, the data's schema), never the
        training matrix: :meth:`recommend` scores the interactions it is handed.
        """
        if data.n_users == 0 or data.n_items == 0 or data.nnz == 0:
            raise ModelError("cannot fit on an empty interaction matrix")
        self.item_ids_ = np.asarray(data.item_ids, dtype=object)
        self.user_feature_columns_ = [str(c) for c in data.user_features.columns]
        self.schema_ = data_schema(data)
        self._fit(data, progress)
        return self

    @abstractmethod
    def _fit(self, data: Interactions, progress: Callable[[dict], None] | None) -> None:
        """Learn the model's state from ``data`` (the item vocabulary is already stored)."""

    @abstractmethod
    def score_batch(self, history: sp.csr_matrix, context: pd.DataFrame | None = None) -> np.ndarray | torch.Tensor:
        """Scores of shape (len(history rows), n_items); higher is better. ``context`` has one row per history row."""

    def score_rows(
        self, history: sp.csr_matrix, context: pd.DataFrame | None = None, **kwargs
    ) -> np.ndarray | torch.Tensor:
        """What callers score with: ``score_batch`` (a model made of several fits averages them here)."""
        return self.score_batch(history, context, **kwargs)

    def check_fitted(self) -> None:
        if not hasattr(self, "item_ids_"):
            raise NotFittedError(f"model {self.name!r} is not fitted yet: call fit() or load a saved model")

    @property
    def n_items(self) -> int:
        self.check_fitted()
        return len(self.item_ids_)

    # --- the data handed in -> model-space history ------------------------------------------------
    def history_matrix(self, data: Interactions) -> sp.csr_matrix:
        """The (data users x data items) history this model scores from; default ``data.matrix``.

        Models that weight history rows (recency) override this; it runs on the data being scored.
        """
        return data.matrix

    def scoring_features(self, data: Interactions, rows: np.ndarray, item_map: np.ndarray) -> dict:
        """Extra per-customer inputs a model scores from, beyond the history matrix (default none).

        ``rows``: for each scored customer, their row in ``data`` (-1 for a customer not in it);
        ``item_map``: for each item of ``data``, its index in the model (-1 when unknown).
        Return a dict of arrays or sparse matrices with one row per scored customer, in the model's
        item space; scoring slices them into the same batches as the history and passes them to
        ``score_batch(history, context, features=...)``. Sequence models put the ordered item
        sequences here, repeat-purchase models the purchase counts and ages.
        """
        return {}

    def history_for(self, data: Interactions, users=None, context: pd.DataFrame | None = None) -> "ScoringInput":
        """Each customer's current history, from ``data``, in the model's item space.

        ``users`` default to every customer of ``data``; an id not in ``data`` has an empty history
        (a cold-start customer described by ``context``). Items of ``data`` the model never saw are
        dropped from the history (and so can never be recommended); ``unknown_items`` counts them.
        """
        self.check_fitted()
        if not isinstance(data, Interactions):
            raise ModelError(
                f"{self.name}: recommend/score needs the interactions to score (an Interactions), "
                f"not {type(data).__name__}",
                hint="model.recommend(data, users, k=10)",
            )
        users = (
            np.asarray(data.user_ids, dtype=object)
            if users is None
            else np.asarray([str(u) for u in users], dtype=object)
        )
        columns = self.item_positions(data.item_ids, strict=False)
        known_items = columns >= 0
        # data item j -> model item columns[j]; unknown items map nowhere
        to_model = sp.csr_matrix(
            (np.ones(int(known_items.sum()), dtype=np.float32), (np.flatnonzero(known_items), columns[known_items])),
            shape=(data.n_items, self.n_items),
        )
        rows = data.user_index(users)
        known = rows >= 0
        select = sp.csr_matrix(
            (np.ones(int(known.sum()), dtype=np.float32), (np.flatnonzero(known), rows[known])),
            shape=(len(users), data.n_users),
        )
        source = sp.csr_matrix(self.history_matrix(data), dtype=np.float32)
        history = sp.csr_matrix(select @ source @ to_model, dtype=np.float32)
        history.eliminate_zeros()
        history.sort_indices()
        cols = list(self.user_feature_columns_)
        ctx = pd.DataFrame(index=pd.RangeIndex(len(users)), columns=cols, dtype=object)
        shared_data = [c for c in cols if c in data.user_features.columns]
        if shared_data and known.any():
            ctx.loc[known, shared_data] = data.user_features.iloc[rows[known]][shared_data].to_numpy()
        if context is not None and cols:
            given = context.set_index("user_id") if "user_id" in context.columns else context
            given = given.copy()
            given.index = given.index.astype(str)
            given = given[~given.index.duplicated()]
            hit = np.array([u in given.index for u in users], dtype=bool)
            shared = [c for c in cols if c in given.columns]
            if hit.any() and shared:
                ctx.loc[hit, shared] = given.loc[users[hit], shared].to_numpy()
        unknown = np.flatnonzero(~known_items)
        return ScoringInput(
            users=users,
            history=history,
            context=ctx,
            unknown_items=np.asarray(data.item_ids, dtype=object)[unknown],
            features=self.scoring_features(data, rows, columns),
        )

    # --- top-k in bounded memory ---------------------------------------------------------------
    def recommend_indices(
        self,
        history: sp.csr_matrix,
        k: int = 10,
        context: pd.DataFrame | None = None,
        exclude: sp.csr_matrix | None = None,
        allowed: np.ndarray | None = None,
        batch_size: int = 1024,
        progress: Callable[[int], None] | None = None,
        features: dict | None = None,
        extra_items=None,
        *,
        cell_budget: int = SCORE_BLOCK_CELLS,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item indices and scores for each row of a model-space history, scored in chunks.

        The low-level step under :meth:`recommend_topk`; call that one with an :class:`Interactions`.
        ``exclude``: sparse (n_rows, n_items); its stored entries are never recommended.
        ``allowed``: boolean mask over items; False items are never recommended.
        Rows with fewer than ``k`` eligible items are padded with index -1 and score -inf.
        ``features``: what :meth:`scoring_features` returned for these rows, sliced with them.
        ``extra_items``: items beyond the model's (new products), with ``item_ids`` and
        ``scores(known_scores) -> (rows, n_extra)``; they take indices ``n_items...``, and ``exclude``
        and ``allowed`` then cover them too.
        ``cell_budget``: most scores (rows x items) densified at once; the row batch shrinks below
        ``batch_size`` to fit it, so 100,000 items score ~335 rows at a time (each row's list is the same).
        """
        self.check_fitted()
        history = sp.csr_matrix(history, dtype=np.float32)
        n_rows, n_items = history.shape[0], self.n_items
        if history.shape[1] != n_items:
            raise ModelError(f"history has {history.shape[1]} item columns, the model knows {n_items}")
        n_total = n_items + (0 if extra_items is None else len(extra_items.item_ids))
        k_eff = max(0, min(int(k), n_total))
        out_idx = np.full((n_rows, k), -1, dtype=np.int64)
        out_score = np.full((n_rows, k), -np.inf, dtype=np.float32)
        if k_eff == 0 or n_rows == 0:
            return out_idx, out_score
        banned = None if allowed is None else torch.from_numpy(~np.asarray(allowed, dtype=bool))
        block = rows_per_block(batch_size, n_total, cell_budget)
        with torch.inference_mode():
            for start in range(0, n_rows, block):
                stop = min(start + block, n_rows)
                ctx = None if context is None else context.iloc[start:stop]
                if features:
                    part = {name: value[start:stop] for name, value in features.items()}
                    scores = self.score_rows(history[start:stop], ctx, features=part)
                else:
                    scores = self.score_rows(history[start:stop], ctx)
                scores = torch.as_tensor(scores).detach().to("cpu", torch.float32).clone()
                # -inf means "never this item" and a stray NaN drops one item, but +inf anywhere or a row
                # of NaN means the model broke (overflow): its lists would be scrambled or silently empty
                nan = torch.isnan(scores)
                broken = torch.isposinf(scores).any(dim=1) | (nan.all(dim=1) if scores.shape[1] else nan.any(dim=1))
                if bool(broken.any()):
                    raise ModelError(
                        f"model {self.name!r} produced NaN or infinite scores for "
                        f"{int(broken.sum())} of {stop - start} customers",
                        hint="its parameters or the weights overflow; refit with other parameters",
                    )
                scores[nan | torch.isneginf(scores)] = -torch.inf
                if extra_items is not None:
                    scores = torch.cat([scores, torch.as_tensor(extra_items.scores(scores))], dim=1)
                if banned is not None:
                    scores[:, banned] = -torch.inf
                if exclude is not None:
                    part = exclude[start:stop].tocoo()
                    scores[
                        torch.from_numpy(part.row.astype(np.int64)), torch.from_numpy(part.col.astype(np.int64))
                    ] = -torch.inf
                top = torch.topk(scores, k_eff, dim=1)
                vals, idx = top.values.numpy(), top.indices.numpy()
                idx = np.where(np.isfinite(vals), idx, -1)
                out_idx[start:stop, :k_eff] = idx
                out_score[start:stop, :k_eff] = vals
                if progress is not None:
                    progress(stop - start)
        return out_idx, out_score

    def recommend_topk(
        self,
        data: Interactions,
        users=None,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        candidates=None,
        allowed: np.ndarray | None = None,
        exclude: sp.spmatrix | None = None,
        context: pd.DataFrame | None = None,
        batch_size: int = 1024,
        progress: Callable[[int], None] | None = None,
        extra_items=None,
    ) -> "TopK":
        """The one scoring path: top-``k`` model item indices for customers of ``data``.

        Library, CLI, pipelines and evaluation all come through here (business rules build ``allowed``).

        Parameters
        ----------
        data : Interactions
            The *current* interactions: each customer is scored from their history in it.
        users : iterable of str, optional
            Default: every customer of ``data``. Ids not in ``data`` are cold-start customers.
        exclude_seen : bool
            Never recommend what the customer has in ``data`` (bought since training included).
        candidates : iterable of item ids, optional
            Only these items may be recommended.
        allowed : bool array over the model's items, optional
            Another restriction, combined with ``candidates``.
        exclude : sparse (len(users), n_items), optional
            Extra (row, item) pairs never to recommend, in the model's item space.
        extra_items : optional
            New items scored beside the model's (see :meth:`recommend_indices`; built by
            ``aigc_biz.ranking.new_items``): ``allowed`` and ``exclude`` then cover them too, and the
            returned ``TopK.item_ids`` are the model's followed by theirs.
        """
        scoring = self.history_for(data, users, context)
        if scoring.unknown_items.size:
            log.warning(
                "%s of %s items in the data are unknown to the %r model and are never recommended",
                f"{scoring.unknown_items.size:,}",
                f"{data.n_items:,}",
                self.name,
            )
        item_ids = self.item_ids_
        if extra_items is not None:
            item_ids = np.concatenate([item_ids, np.asarray(extra_items.item_ids, dtype=object)])
        mask = None if allowed is None else np.asarray(allowed, dtype=bool).copy()
        if mask is not None and len(mask) != len(item_ids):
            raise ModelError(f"allowed has {len(mask)} entries for {len(item_ids)} items")
        if candidates is not None:
            wanted = np.isin(item_ids, np.asarray([str(c) for c in candidates], dtype=object))
            mask = wanted if mask is None else (mask & wanted)
        history = scoring.history
        if len(item_ids) > self.n_items:  # the seen-mask must span the extra columns (empty there)
            history = sp.csr_matrix(
                (history.data, history.indices, history.indptr), shape=(history.shape[0], len(item_ids))
            )
        banned = history if exclude_seen else None
        if exclude is not None:
            extra = sp.csr_matrix(exclude, dtype=np.float32)
            banned = extra if banned is None else sp.csr_matrix(banned + extra)
        idx, scores = self.recommend_indices(
            scoring.history,
            k,
            scoring.context,
            banned,
            mask,
            batch_size,
            progress,
            features=scoring.features,
            extra_items=extra_items,
        )
        return TopK(
            users=scoring.users,
            item_ids=item_ids,
            indices=idx,
            scores=scores,
            unknown_items=scoring.unknown_items,
            seen=_listed_in(history, idx),
        )

    def recommend(
        self,
        data: Interactions,
        users=None,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        candidates=None,
        context: pd.DataFrame | None = None,
        batch_size: int = 1024,
        progress: Callable[[int], None] | None = None,
    ) -> pd.DataFrame:
        """Top-``k`` recommendations from ``data``'s current histories: ``DataFrame[user_id, rank, item_id, score]``.

        See :meth:`recommend_topk` for the parameters. ``context``: a frame with ``user_id`` (or that
        index) and attribute columns as in the training data, for cold-start customers or overrides.
        """
        return self.recommend_topk(
            data,
            users,
            k,
            exclude_seen=exclude_seen,
            candidates=candidates,
            context=context,
            batch_size=batch_size,
            progress=progress,
        ).to_frame()

    def similar_items(self, items, k: int = 10) -> pd.DataFrame:
        """Most similar items: ``DataFrame[item_id, rank, similar_item_id, score]`` (cosine of item vectors)."""
        self.check_fitted()
        vectors = self.item_vectors()
        idx = self.item_positions(items)
        v = torch.as_tensor(np.asarray(vectors, dtype=np.float32))
        v = torch.nn.functional.normalize(v, dim=1)
        sims = v[torch.as_tensor(idx)] @ v.T
        sims[torch.arange(len(idx)), torch.as_tensor(idx)] = -torch.inf
        top = torch.topk(sims, min(k, self.n_items - 1), dim=1)
        frame = indices_to_frame(
            np.asarray([str(t) for t in items], dtype=object), self.item_ids_, top.indices.numpy(), top.values.numpy()
        )
        return frame.rename(columns={"user_id": "item_id", "item_id": "similar_item_id"})

    def item_positions(self, items, strict: bool = True) -> np.ndarray:
        """Indices of item ids in the fitted catalogue; unknown ids are -1, or a ModelError when ``strict``."""
        self.check_fitted()
        pos = {t: i for i, t in enumerate(self.item_ids_)}
        items = [str(t) for t in items]
        idx = np.array([pos.get(t, -1) for t in items], dtype=np.int64)
        if strict and (idx < 0).any():
            missing = [t for t, i in zip(items, idx) if i < 0][:3]
            raise ModelError(f"unknown item id(s): {', '.join(missing)}")
        return idx

    def item_vectors(self) -> np.ndarray:
        """One vector per item (n_items, d) for ``similar_items``."""
        raise ModelError(f"model {self.name!r} has no item vectors for similar_items")

    # --- saving without pickle -------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        """Fitted arrays to save (beyond the item ids). Override in subclasses."""
        return {}

    def _arrays(self) -> dict[str, np.ndarray]:
        """Every array a save writes: ``_state``'s, and those of any sub-models a base class keeps."""
        return self._state()

    def _set_state(self, state: dict[str, np.ndarray], meta: dict) -> None:
        """Restore what ``_state`` returned. The arrays come from an untrusted folder: check every shape
        against the vocabulary (``self.item_ids_``) and raise ValueError on any mismatch."""

    def _meta(self) -> dict:
        """JSON-able fitted metadata beyond the arrays (vocabularies...). Override in subclasses."""
        return {}

    def save(self, path) -> Path:
        """Write ``model.json`` + ``arrays.safetensors`` into folder ``path``; loading never runs code."""
        from aigc_biz.models.artifacts import save_model

        self.check_fitted()
        return save_model(self, Path(path))

    @classmethod
    def load(cls, path) -> "Recommender":
        from aigc_biz.models.artifacts import load_model

        model = load_model(Path(path))
        if cls is not Recommender and not isinstance(model, cls):
            raise ModelError(f"{path} holds a {model.name!r} model, not {cls.name!r}")
        return model


class RecencyWeightedHistory:
    """Mixin for item-item models: ``recency_half_life`` weights each history row at scoring time.

    With it set, a customer's (customer, item) entry counts ``0.5 ** (age / recency_half_life)`` (age of
    the customer's latest event with the item: days when the data has a time column, else events)
    instead of 1, so what they took last weighs most. Fitting is unchanged.
    """

    recency_half_life: float | None

    def history_matrix(self, data: Interactions) -> sp.csr_matrix:
        if self.recency_half_life is None:
            return data.matrix
        if data.events is None:
            raise ModelError(
                f"{self.name}: recency_half_life needs the data's event log",
                hint="score an Interactions read by aigc_biz.api.load, or unset recency_half_life",
            )
        return data.recency_matrix(float(self.recency_half_life))


@dataclass
class ScoringInput:
    """What one scoring call works from: ids, model-space history rows, context rows."""

    users: np.ndarray
    history: sp.csr_matrix
    context: pd.DataFrame
    #: item ids of the scored data that the model does not know (never recommended)
    unknown_items: np.ndarray
    #: what the model's ``scoring_features`` returned: one row per scored customer
    features: dict = field(default_factory=dict)


@dataclass
class TopK:
    """Top-k lists in the model's item space (index -1 and score -inf pad short rows)."""

    users: np.ndarray
    item_ids: np.ndarray
    indices: np.ndarray
    scores: np.ndarray
    unknown_items: np.ndarray
    #: (rows, k) bool: the listed item is in the customer's history (a repeat purchase)
    seen: np.ndarray | None = None

    def to_frame(self, reason: bool = False) -> pd.DataFrame:
        """``user_id, rank, item_id, score``, plus ``reason`` (``repeat`` or ``new``) when asked."""
        frame = indices_to_frame(self.users, self.item_ids, self.indices, self.scores)
        if reason:
            seen = np.zeros(self.indices.shape, dtype=bool) if self.seen is None else self.seen
            frame["reason"] = pd.array(np.where(seen[self.indices >= 0], "repeat", "new"), dtype=object)
        return frame


def _listed_in(history: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
    """(rows, k) bool: is each listed item stored in that row of ``history``."""
    if history.nnz == 0 or idx.size == 0:
        return np.zeros(idx.shape, dtype=bool)
    n_items = history.shape[1]
    rows = np.repeat(np.arange(history.shape[0], dtype=np.int64), np.diff(history.indptr))
    keys = np.sort(rows * n_items + history.indices.astype(np.int64))
    asked = np.arange(idx.shape[0], dtype=np.int64)[:, None] * n_items + np.clip(idx, 0, None)
    return np.isin(asked, keys) & (idx >= 0)


def indices_to_frame(users: np.ndarray, item_ids: np.ndarray, idx: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """Long frame ``user_id, rank, item_id, score`` from top-k index arrays (padding -1 dropped)."""
    n, k = idx.shape
    valid = idx >= 0
    rows, ranks = np.nonzero(valid)
    return pd.DataFrame(
        {
            "user_id": pd.array(np.asarray(users, dtype=object)[rows], dtype=object),
            "rank": (ranks + 1).astype(np.int32),
            "item_id": pd.array(np.asarray(item_ids, dtype=object)[idx[valid]], dtype=object),
            "score": scores[valid].astype(np.float32),
        }
    )


def model_summary(model: Recommender) -> dict:
    """Name, parameters and package version, for logs, reports and saved models."""
    return {
        "model": model.name,
        "params": json_safe(model.get_params()),
        "aigc_biz_version": __version__,
        "format_version": FORMAT_VERSION,
    }
