"""The one contract every recommender follows (scikit-learn style, implicit-style batch scoring).

A model is fitted on :class:`~aigc_biz.data.Interactions`. It scores any user described by a row of
history (a sparse item vector) and a row of context (user attributes): known users, users folded in
at recommendation time and cold-start users with no history go through the same ``score_batch``.
Turning indices back into id strings happens once, in :meth:`Recommender.recommend`.
"""
from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from aigc_biz._version import __version__
from aigc_biz.data.interactions import Interactions
from aigc_biz.errors import ModelError, NotFittedError

#: tag written into every saved model so a later release can refuse what it cannot read
FORMAT_VERSION = 1


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
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "Recommender":
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ModelError(f"model {self.name!r} has no parameter {key!r}",
                                 hint="valid: " + ", ".join(sorted(valid)))
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # --- fitting -------------------------------------------------------------------------------
    def fit(self, data: Interactions, progress: Callable[[dict], None] | None = None) -> "Recommender":
        """Fit on ``data`` and return ``self``. ``progress`` receives dicts (epoch, loss, ndcg...)."""
        if data.n_users == 0 or data.n_items == 0 or data.nnz == 0:
            raise ModelError("cannot fit on an empty interaction matrix")
        self.user_ids_ = np.asarray(data.user_ids, dtype=object)
        self.item_ids_ = np.asarray(data.item_ids, dtype=object)
        self.history_ = sp.csr_matrix(data.matrix, dtype=np.float32)
        self.user_features_ = data.user_features.reset_index(drop=True).copy()
        self._fit(data, progress)
        return self

    @abstractmethod
    def _fit(self, data: Interactions, progress: Callable[[dict], None] | None) -> None:
        """Learn the model's state from ``data`` (ids and history are already stored)."""

    @abstractmethod
    def score_batch(self, history: sp.csr_matrix, context: pd.DataFrame | None = None) -> np.ndarray | torch.Tensor:
        """Scores of shape (len(history rows), n_items); higher is better. ``context`` has one row per history row."""

    def check_fitted(self) -> None:
        if not hasattr(self, "item_ids_"):
            raise NotFittedError(f"model {self.name!r} is not fitted yet: call fit() or load a saved model")

    @property
    def n_items(self) -> int:
        self.check_fitted()
        return len(self.item_ids_)

    # --- top-k in bounded memory ---------------------------------------------------------------
    def recommend_indices(self, history: sp.csr_matrix, k: int = 10, context: pd.DataFrame | None = None,
                          exclude: sp.csr_matrix | None = None, allowed: np.ndarray | None = None,
                          batch_size: int = 1024, progress: Callable[[int], None] | None = None
                          ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item indices and scores for each history row, scored in chunks.

        ``exclude``: sparse (n_rows, n_items); its stored entries are never recommended.
        ``allowed``: boolean mask over items; False items are never recommended.
        Rows with fewer than ``k`` eligible items are padded with index -1 and score -inf.
        """
        self.check_fitted()
        history = sp.csr_matrix(history, dtype=np.float32)
        n_rows, n_items = history.shape[0], self.n_items
        k_eff = max(0, min(int(k), n_items))
        out_idx = np.full((n_rows, k), -1, dtype=np.int64)
        out_score = np.full((n_rows, k), -np.inf, dtype=np.float32)
        if k_eff == 0 or n_rows == 0:
            return out_idx, out_score
        banned = None if allowed is None else torch.from_numpy(~np.asarray(allowed, dtype=bool))
        with torch.inference_mode():
            for start in range(0, n_rows, batch_size):
                stop = min(start + batch_size, n_rows)
                ctx = None if context is None else context.iloc[start:stop]
                scores = self.score_batch(history[start:stop], ctx)
                scores = torch.as_tensor(scores).detach().to("cpu", torch.float32).clone()
                if banned is not None:
                    scores[:, banned] = -torch.inf
                if exclude is not None:
                    part = exclude[start:stop].tocoo()
                    scores[torch.from_numpy(part.row.astype(np.int64)),
                           torch.from_numpy(part.col.astype(np.int64))] = -torch.inf
                top = torch.topk(scores, k_eff, dim=1)
                vals, idx = top.values.numpy(), top.indices.numpy()
                idx = np.where(np.isfinite(vals), idx, -1)
                out_idx[start:stop, :k_eff] = idx
                out_score[start:stop, :k_eff] = vals
                if progress is not None:
                    progress(stop - start)
        return out_idx, out_score

    def recommend(self, users=None, k: int = 10, exclude_seen: bool = True, candidates=None,
                  context: pd.DataFrame | None = None, batch_size: int = 1024,
                  progress: Callable[[int], None] | None = None) -> pd.DataFrame:
        """Top-``k`` recommendations as ``DataFrame[user_id, rank, item_id, score]``.

        Parameters
        ----------
        users : iterable of str, optional
            Ids to recommend for; default every user seen in ``fit``. An id never seen is a
            cold-start user: empty history, context from ``context`` when given.
        exclude_seen : bool
            Never recommend what the user already interacted with in the fitted data.
        candidates : iterable of item ids, optional
            Only these items may be recommended (e.g. what is in stock).
        context : DataFrame, optional
            Index or column ``user_id``; attribute columns as in the training data. Used for
            cold-start users and, by context-aware models, for everyone listed.
        """
        self.check_fitted()
        users = self.user_ids_ if users is None else np.asarray([str(u) for u in users], dtype=object)
        history, ctx = self.history_for(users, context)
        exclude = history if exclude_seen else None
        allowed = None
        if candidates is not None:
            allowed = np.zeros(self.n_items, dtype=bool)
            idx = self.item_positions(candidates, strict=False)
            allowed[idx[idx >= 0]] = True
        idx, scores = self.recommend_indices(history, k, ctx, exclude, allowed, batch_size, progress)
        return indices_to_frame(users, self.item_ids_, idx, scores)

    def history_for(self, users: np.ndarray, context: pd.DataFrame | None = None
                    ) -> tuple[sp.csr_matrix, pd.DataFrame]:
        """History rows and context rows for the given ids (unknown ids get an empty history)."""
        self.check_fitted()
        pos = {u: i for i, u in enumerate(self.user_ids_)}
        rows = np.array([pos.get(u, -1) for u in users], dtype=np.int64)
        known = rows >= 0
        history = sp.csr_matrix((len(users), self.n_items), dtype=np.float32)
        if known.any():
            sel = sp.csr_matrix((np.ones(known.sum(), dtype=np.float32),
                                 (np.flatnonzero(known), rows[known])),
                                shape=(len(users), len(self.user_ids_)))
            history = sp.csr_matrix(sel @ self.history_)
        cols = list(self.user_features_.columns)
        ctx = pd.DataFrame(index=pd.RangeIndex(len(users)), columns=cols, dtype=object)
        if cols and known.any():
            ctx.loc[known, cols] = self.user_features_.iloc[rows[known]][cols].to_numpy()
        if context is not None and cols:
            given = context.set_index("user_id") if "user_id" in context.columns else context
            given.index = given.index.astype(str)
            given = given[~given.index.duplicated()]
            hit = np.array([u in given.index for u in users])
            shared = [c for c in cols if c in given.columns]
            if hit.any() and shared:
                ctx.loc[hit, shared] = given.loc[users[hit], shared].to_numpy()
        return history, ctx

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
        frame = indices_to_frame(np.asarray([str(t) for t in items], dtype=object), self.item_ids_,
                                 top.indices.numpy(), top.values.numpy())
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
        """One vector per item for ``similar_items``; default: the item's column of the history."""
        return self.history_.T.toarray()

    # --- saving without pickle -------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        """Fitted arrays to save (beyond ids and history). Override in subclasses."""
        return {}

    def _set_state(self, state: dict[str, np.ndarray], meta: dict) -> None:
        """Restore what ``_state`` returned."""

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


def indices_to_frame(users: np.ndarray, item_ids: np.ndarray, idx: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """Long frame ``user_id, rank, item_id, score`` from top-k index arrays (padding -1 dropped)."""
    n, k = idx.shape
    valid = idx >= 0
    rows, ranks = np.nonzero(valid)
    return pd.DataFrame({
        "user_id": pd.array(np.asarray(users, dtype=object)[rows], dtype=object),
        "rank": (ranks + 1).astype(np.int32),
        "item_id": pd.array(np.asarray(item_ids, dtype=object)[idx[valid]], dtype=object),
        "score": scores[valid].astype(np.float32),
    })


def model_summary(model: Recommender) -> dict:
    """Name, parameters and package version, for logs, reports and saved models."""
    return {"model": model.name, "params": json.loads(json.dumps(model.get_params(), default=str)),
            "aigc_biz_version": __version__, "format_version": FORMAT_VERSION}
