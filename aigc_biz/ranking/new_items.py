"""New products (item cold start) in the one scoring path.

An item the model never saw, described by title/category/price, is placed in the model's item space
by a :class:`~aigc_biz.models.content.ContentItemMap` fitted at recommend time (on the model's item
vectors and the data's item attributes, so no saved model changes format). A customer's score for it
is the weighted mix of their scores of its nearest known items, shrunk toward their mean score;
the shrink is chosen on a validation slice carved from known items only (the newest tenth of them
play "new", with part of each customer's other items held out beside them, so a shrink that lets new
items crowd out known ones loses NDCG).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from aigc_biz.data.interactions import Interactions
from aigc_biz.errors import ConfigError, InputError
from aigc_biz.models.base import Recommender
from aigc_biz.models.content import ATTRIBUTES, ContentItemMap, described_items

log = logging.getLogger(__name__)

AUTO = "auto"
#: shrink values tried on the validation slice; below 1 so new items keep their order among themselves
SHRINK_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 0.9)
#: used when the data has too few described items to validate on
DEFAULT_SHRINK = 0.3
VALIDATION_USERS = 2000
PSEUDO_NEW_FRACTION = 0.1
HELD_FRACTION = 0.2


@dataclass
class NewItems:
    """New items (unknown to the model) with their attributes, in the order they get extra indices."""

    item_ids: np.ndarray
    #: one row per item, canonical columns (title, category, price) where given
    attributes: pd.DataFrame


@dataclass
class NewItemScores:
    """The extra items handed to ``Recommender.recommend_topk``: scores mixed from known items' scores."""

    item_ids: np.ndarray
    #: (n_new, m) model item indices and their weights (rows sum to 1)
    neighbours: np.ndarray
    weights: np.ndarray
    shrink: float
    #: validation NDCG per shrink tried (empty when the shrink was given)
    validation: dict

    def scores(self, known: torch.Tensor) -> torch.Tensor:
        mix, mean = mix_and_mean(known, self.neighbours, self.weights)
        return (1.0 - self.shrink) * mix + self.shrink * mean


def mix_and_mean(known: torch.Tensor, neighbours: np.ndarray, weights: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, n_new) ``sum_j w_j score[nbr_j]`` and (rows, 1) mean score; a new item scores
    ``(1 - shrink) * mix + shrink * mean`` (non-finite known scores count as the row's lowest)."""
    known = torch.as_tensor(known, dtype=torch.float32)
    finite = torch.isfinite(known)
    floor = torch.where(finite, known, torch.full_like(known, torch.inf)).amin(dim=1, keepdim=True)
    floor = torch.where(torch.isfinite(floor), floor, torch.zeros_like(floor))
    safe = torch.where(finite, known, floor)
    n_new, m = neighbours.shape
    mixer = sp.csc_matrix(
        (weights.ravel().astype(np.float32), (neighbours.ravel(), np.repeat(np.arange(n_new), m))),
        shape=(known.shape[1], n_new),
    )
    # dense @ sparse (known items x new items, m entries per column): scipy computes it as (M^T S^T)^T
    mix = torch.from_numpy(np.asarray(safe.numpy() @ mixer, dtype=np.float32))
    return mix, safe.mean(dim=1, keepdim=True)


def prepare_new_items(model: Recommender, data: Interactions, frame: pd.DataFrame | None) -> NewItems | None:
    """The rows of ``frame`` the model does not know, with canonical attribute columns; None when there are none.

    Columns named as in the behaviour table (e.g. ``Description``) are read as the attribute they
    were loaded as; the id column is ``item_id``, the table's item column, or the first column.
    A frame with no attribute column is a plain candidate list: its unknown ids are left out (None).
    """
    if frame is None or len(frame) == 0:
        return None
    model.check_fitted()
    frame = frame.copy()
    roles = data.roles
    renames = {
        src: canon
        for src, canon in (roles.item_attrs.items() if roles else ())
        if src in frame.columns and canon in ATTRIBUTES and canon not in frame.columns
    }
    frame = frame.rename(columns=renames)
    id_col = (
        "item_id"
        if "item_id" in frame.columns
        else roles.item
        if roles is not None and roles.item in frame.columns
        else frame.columns[0]
    )
    ids = frame[id_col].astype("string")
    if ids.isna().any():
        raise InputError(
            "empty item id in the new items", column=str(id_col), row=int(ids.isna().to_numpy().argmax()) + 2
        )
    frame[id_col] = ids.astype(str)
    unknown = model.item_positions(frame[id_col], strict=False) < 0
    frame = frame[unknown].drop_duplicates(subset=id_col, keep="first").reset_index(drop=True)
    present = [c for c in ATTRIBUTES if c in frame.columns]
    if frame.empty or not present:
        return None
    return NewItems(item_ids=frame[id_col].to_numpy(dtype=object), attributes=frame[present])


def known_attributes(model: Recommender, data: Interactions) -> pd.DataFrame:
    """The data's title/category/price for the model's items, in the model's order (InputError when it has none)."""
    columns = [c for c in ATTRIBUTES if c in data.item_features.columns]
    if not columns:
        raise InputError(
            "new items need item attributes (title, category or price) in the data, and it has none",
            file=data.source or None,
            hint="name them with --item-attrs when loading",
        )
    features = data.item_features[columns].copy()
    features.index = pd.Index(data.item_ids, name="item_id")
    return features.reindex(pd.Index(model.item_ids_, name="item_id")).reset_index(drop=True)


def new_item_scorer(
    model: Recommender, data: Interactions, new: NewItems, content: dict | None = None, k: int = 10, seed: int = 0
) -> NewItemScores:
    """Fit the content map on the model's known items and return the extra-item scorer for ``new``.

    ``content``: ContentItemMap parameters; ``shrink`` may be ``"auto"`` (default): chosen on the
    validation slice (NDCG@``k``).
    """
    params = dict(content or {})
    shrink = params.pop("shrink", AUTO)
    attributes = known_attributes(model, data)
    cmap = ContentItemMap(**params).fit(attributes, np.asarray(model.item_vectors(), dtype=np.float32))
    validation: dict = {}
    if shrink == AUTO:
        shrink, validation = select_shrink(model, data, attributes, cmap, k=k, seed=seed)
    elif not 0.0 <= float(shrink) <= 1.0:
        raise ConfigError(f"content: shrink={shrink!r} must be 'auto' or between 0 and 1")
    neighbours, weights = cmap.neighbours(new.attributes)
    log.info("content path: %d new items, shrink %.2f", len(new.item_ids), float(shrink))
    return NewItemScores(
        item_ids=new.item_ids, neighbours=neighbours, weights=weights, shrink=float(shrink), validation=validation
    )


def select_shrink(
    model: Recommender, data: Interactions, attributes: pd.DataFrame, fitted: ContentItemMap, k: int = 10, seed: int = 0
) -> tuple[float, dict]:
    """The shrink with the best NDCG@k when the newest tenth of the described known items play new items.

    A map like ``fitted`` is refitted without them (in ``fitted``'s reduced item space, so the SVD
    is not run twice) and places them among the rest.

    Returns ``(shrink, {shrink: ndcg})``; ``DEFAULT_SHRINK`` and ``{}`` when there is too little to
    validate on (fewer than 20 described items or no customer with a held-out item).
    """
    from aigc_biz.evaluation.metrics import ndcg_at_k

    rng = np.random.default_rng(seed)
    described = np.flatnonzero(described_items(attributes))
    if len(described) < 20:
        return DEFAULT_SHRINK, {}
    pseudo = _newest(model, data, described, rng)
    rest = np.setdiff1d(np.arange(model.n_items), pseudo)
    params = {**fitted.get_params(), "n_components": fitted.item_space_.shape[1]}
    cmap = ContentItemMap(**params).fit(attributes.iloc[rest].reset_index(drop=True), fitted.item_space_[rest])
    neighbours, weights = cmap.neighbours(attributes.iloc[pseudo].reset_index(drop=True))
    neighbours = rest[neighbours]

    counts = np.diff(sp.csr_matrix(data.matrix).indptr)
    users = np.flatnonzero(counts >= 2)
    if len(users) > VALIDATION_USERS:
        users = np.sort(rng.choice(users, VALIDATION_USERS, replace=False))
    scoring = model.history_for(data, data.user_ids[users])
    history = scoring.history.tocoo()
    is_pseudo = np.isin(history.col, pseudo)
    held = is_pseudo | (rng.random(history.nnz) < HELD_FRACTION)
    shape = history.shape

    def part(mask):
        return sp.csr_matrix((history.data[mask], (history.row[mask], history.col[mask])), shape=shape)

    given, target = part(~held), part(held)
    keep = np.diff(target.indptr) > 0
    if not is_pseudo.any() or not keep.any():
        return DEFAULT_SHRINK, {}
    given, target = given[keep], target[keep]
    context = scoring.context.iloc[np.flatnonzero(keep)].reset_index(drop=True)
    results = {s: [] for s in SHRINK_GRID}
    with torch.inference_mode():
        for start in range(0, given.shape[0], 512):
            rows = given[start : start + 512]
            known = torch.as_tensor(model.score_rows(rows, context.iloc[start : start + 512])).to(torch.float32)
            known = known.clone()
            known[~torch.isfinite(known)] = -torch.inf
            seen = rows.tocoo()
            known[torch.from_numpy(seen.row.astype(np.int64)), torch.from_numpy(seen.col.astype(np.int64))] = -torch.inf
            mix, mean = mix_and_mean(known, neighbours, weights)
            for shrink in SHRINK_GRID:
                scores = known.clone()
                scores[:, torch.from_numpy(pseudo)] = (1.0 - shrink) * mix + shrink * mean
                top = torch.topk(scores, min(k, scores.shape[1]), dim=1).indices.numpy()
                results[shrink].append(ndcg_at_k(top, target[start : start + 512], k))
    ndcg = {s: float(np.nanmean(np.concatenate(v))) for s, v in results.items()}
    # ties go to the larger shrink: the cautious choice for unproven items
    best = max(SHRINK_GRID, key=lambda s: (round(ndcg[s], 6), s))
    return best, ndcg


def _newest(model: Recommender, data: Interactions, described: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The newest tenth of ``described`` (model item indices) by first event; a random tenth without times."""
    n = max(1, int(round(PSEUDO_NEW_FRACTION * len(described))))
    events = data.events
    if events is not None and "time" in events.columns and len(events):
        first = events.groupby("item_idx")["time"].min()
        model_pos = model.item_positions(data.item_ids[first.index.to_numpy()], strict=False)
        when = pd.Series(first.to_numpy(), index=model_pos)
        when = when[when.index >= 0]
        known = when.reindex(described)
        order = np.argsort(known.fillna(known.min()).to_numpy(dtype="datetime64[ns]").astype(np.int64), kind="stable")
        return np.sort(described[order[-n:]])
    return np.sort(rng.choice(described, n, replace=False))


def seen_new_items(data: Interactions, users: np.ndarray, new: NewItems, n_items: int) -> sp.csr_matrix | None:
    """(len(users), n_items + n_new) entries where a customer already has a new item in ``data``."""
    cols = data.item_index(new.item_ids)
    if not (cols >= 0).any():
        return None
    rows = data.user_index(users)
    known = rows >= 0
    block = sp.csr_matrix((len(users), len(new.item_ids)), dtype=np.float32)
    if known.any():
        present = np.flatnonzero(cols >= 0)
        taken = sp.csr_matrix(data.matrix[rows[known]][:, cols[present]] > 0, dtype=np.float32).tocoo()
        block = sp.csr_matrix(
            (np.ones(taken.nnz, dtype=np.float32), (np.flatnonzero(known)[taken.row], present[taken.col])),
            shape=block.shape,
        )
    return sp.hstack([sp.csr_matrix((len(users), n_items), dtype=np.float32), block], format="csr")
