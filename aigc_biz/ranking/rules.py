"""Business rules applied to a model's scores at recommendation time.

Candidate pools, excluded categories and price bands become an ``allowed`` item mask that the model's
chunked top-k honours; a per-category cap is applied greedily over a deeper top-k pool, so the
memory bound of chunked scoring holds for every rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from aigc_biz.data.interactions import Interactions
from aigc_biz.data.readers import read_id_list, split_list
from aigc_biz.errors import InputError
from aigc_biz.models.base import Recommender, TopK


@dataclass
class BusinessRules:
    """What may be recommended. Every field's default leaves the model's ranking as it is."""

    exclude_seen: bool = True
    #: only these item ids (e.g. what is in stock); None = every item
    candidates: list[str] | None = None
    exclude_categories: list[str] = field(default_factory=list)
    #: at most this many items of one category in a customer's list
    max_per_category: int | None = None
    min_price: float | None = None
    max_price: float | None = None

    def allowed_mask(self, item_ids: np.ndarray, item_features: pd.DataFrame) -> np.ndarray | None:
        """Boolean mask over items, or None when no rule restricts the catalogue."""
        mask = np.ones(len(item_ids), dtype=bool)
        restricted = False
        if self.candidates is not None:
            wanted = {str(c) for c in self.candidates}
            mask &= np.array([str(t) in wanted for t in item_ids])
            restricted = True
        if self.exclude_categories:
            category = self._column(item_features, "category", "--exclude-categories")
            mask &= ~category.astype(str).isin([str(c) for c in self.exclude_categories]).to_numpy()
            restricted = True
        if self.min_price is not None or self.max_price is not None:
            price = pd.to_numeric(
                self._column(item_features, "price", "--min-price/--max-price"), errors="coerce"
            ).to_numpy(dtype=float)
            ok = ~np.isnan(price)
            if self.min_price is not None:
                ok &= price >= self.min_price
            if self.max_price is not None:
                ok &= price <= self.max_price
            mask &= ok
            restricted = True
        if restricted and not mask.any():
            raise InputError(
                "the business rules leave no item to recommend",
                hint="check --candidates, --exclude-categories and the price band",
            )
        return mask if restricted else None

    def check(self, item_ids: np.ndarray, item_features: pd.DataFrame) -> None:
        """Raise the error scoring would raise: the rules leave no item, or lack a column they need
        (the category for ``max_per_category`` too), before any customer is scored."""
        self.allowed_mask(item_ids, item_features)
        if self.max_per_category:
            self._column(item_features, "category", "--max-per-category")

    @staticmethod
    def _column(item_features: pd.DataFrame, name: str, flag: str) -> pd.Series:
        if name not in item_features.columns:
            raise InputError(
                f"{flag} needs an item {name} column, and the data has none", hint="name it with --item-attrs"
            )
        return item_features[name].reset_index(drop=True)


def recommend_with_rules(
    model: Recommender,
    data: Interactions,
    users=None,
    k: int = 10,
    rules: BusinessRules | None = None,
    context: pd.DataFrame | None = None,
    batch_size: int = 1024,
    progress: Callable[[int], None] | None = None,
    new_items: pd.DataFrame | None = None,
    content: dict | None = None,
) -> TopK:
    """The model's top-``k`` for customers of ``data`` (scored from their history in it), under business rules.

    Item attributes (category, price) come from ``data``, aligned to the model's items; items the
    model knows but ``data`` does not describe fail the category/price rules.
    ``new_items``: a frame of ``item_id`` + title/category/price; the ids the model does not know are
    scored through the content path (:mod:`aigc_biz.ranking.new_items`) and obey the same rules;
    the returned ``TopK.item_ids`` are the model's followed by theirs. ``content``: ContentItemMap
    parameters (``shrink="auto"`` by default).
    """
    from aigc_biz.ranking.new_items import new_item_scorer, prepare_new_items, seen_new_items

    rules = rules or BusinessRules()
    model.check_fitted()
    if k < 1:
        raise InputError(f"--top-k must be at least 1, not {k}")
    new = prepare_new_items(model, data, new_items)
    extra = None if new is None else new_item_scorer(model, data, new, content, k=k)
    item_features = catalogue_features(model, data, new)
    item_ids = model.item_ids_ if new is None else np.concatenate([model.item_ids_, new.item_ids])
    allowed = rules.allowed_mask(item_ids, item_features)
    cap = rules.max_per_category
    # a deeper pool so the per-category cap can still fill k slots
    pool = k if not cap else min(len(item_ids), max(4 * k, k + 50))
    exclude = None
    if new is not None and rules.exclude_seen:
        scored = np.asarray(data.user_ids if users is None else [str(u) for u in users], dtype=object)
        exclude = seen_new_items(data, scored, new, model.n_items)
    top = model.recommend_topk(
        data,
        users,
        pool,
        exclude_seen=rules.exclude_seen,
        allowed=allowed,
        exclude=exclude,
        context=context,
        batch_size=batch_size,
        progress=progress,
        extra_items=extra,
    )
    idx, scores, seen = top.indices, top.scores, top.seen
    if cap:
        category = BusinessRules._column(item_features, "category", "--max-per-category").astype(str).to_numpy()
        idx, scores, seen = _cap_per_category(idx, scores, seen, category, cap, k)
    return replace(top, indices=idx[:, :k], scores=scores[:, :k], seen=seen[:, :k])


def aligned_item_features(model: Recommender, data: Interactions) -> pd.DataFrame:
    """``data``'s item attributes in the model's item order (a loaded model may index items differently)."""
    features = data.item_features.copy()
    features.index = pd.Index(data.item_ids, name="item_id")
    return features.reindex(pd.Index(model.item_ids_, name="item_id")).reset_index(drop=True)


def catalogue_features(model: Recommender, data: Interactions, new=None) -> pd.DataFrame:
    """Item attributes of the model's items followed by the new items' (``NewItems``), one row per TopK item."""
    features = aligned_item_features(model, data)
    if new is None:
        return features
    return pd.concat([features, new.attributes.reset_index(drop=True)], ignore_index=True)


def _cap_per_category(idx, scores, seen, category, cap, k):
    out_idx = np.full((idx.shape[0], k), -1, dtype=np.int64)
    out_score = np.full((idx.shape[0], k), -np.inf, dtype=np.float32)
    out_seen = np.zeros((idx.shape[0], k), dtype=bool)
    for row in range(idx.shape[0]):
        counts: dict[str, int] = {}
        filled = 0
        for j in range(idx.shape[1]):
            item = idx[row, j]
            if item < 0 or filled == k:
                break
            c = category[item]
            if counts.get(c, 0) < cap:
                counts[c] = counts.get(c, 0) + 1
                out_idx[row, filled], out_score[row, filled] = item, scores[row, j]
                out_seen[row, filled] = seen[row, j]
                filled += 1
    return out_idx, out_score, out_seen


def attach_item_info(
    recs: pd.DataFrame, item_ids: np.ndarray, item_features: pd.DataFrame, columns=("title", "category")
) -> pd.DataFrame:
    """Add item title/category (when known) to a recommendations frame, keyed by item_id."""
    present = [c for c in columns if c in item_features.columns]
    if not present or recs.empty:
        return recs
    info = item_features[present].copy()
    info.index = pd.Index(np.asarray(item_ids, dtype=object), name="item_id")
    return recs.join(info, on="item_id")


def recommendation_frame(model: Recommender, data: Interactions, top: TopK, new=None, reason: bool = False):
    """``top`` as the output frame: ``user_id, rank, item_id, score[, reason][, title, category][, new_item]``.

    ``new``: the ``NewItems`` scored beside the model's (flagged in ``new_item``); ``reason`` adds
    ``repeat``/``new``. ``attrs["warnings"]`` counts the data's items the model does not know.
    """
    recs = attach_item_info(top.to_frame(reason=reason), top.item_ids, catalogue_features(model, data, new))
    if new is not None:
        recs["new_item"] = recs["item_id"].isin(set(new.item_ids))
    recs.attrs["warnings"] = unknown_items_warnings(top.unknown_items.size, data)
    return recs


def unknown_items_warnings(n_unknown: int, data: Interactions) -> list[str]:
    """The one warning line (or none) for items of ``data`` the model does not know."""
    if not n_unknown:
        return []
    return [f"{n_unknown:,} of {data.n_items:,} items in the data are unknown to the model and were never recommended"]


def business_rules(
    rules: BusinessRules | dict | None = None,
    *,
    candidates: str | Path | Sequence[str] | None = None,
    exclude_categories: str | Sequence[str] | None = None,
    max_per_category: int | None = None,
    min_price: float | None = None,
    max_price: float | None = None,
    include_seen: bool | None = None,
) -> BusinessRules:
    """:class:`BusinessRules` from plain values; keywords given override ``rules`` (an object or a mapping).

    ``candidates`` is a list of item ids or a file of them (column ``item_id`` or the first one);
    ``exclude_categories`` a list or ``"a,b"``. A mapping with an unknown rule is an InputError.
    """
    from dataclasses import asdict, fields

    base = asdict(rules) if isinstance(rules, BusinessRules) else dict(rules or {})
    known = {f.name for f in fields(BusinessRules)}
    unknown = sorted(set(base) - known)
    if unknown:
        raise InputError(f"unknown business rule(s): {', '.join(unknown)}", hint="valid: " + ", ".join(sorted(known)))
    if isinstance(candidates, (str, Path)):
        candidates = read_id_list(candidates, "item_id")[0]
    given = {
        "candidates": None if candidates is None else [str(c) for c in candidates],
        "exclude_categories": split_list(exclude_categories),
        "max_per_category": max_per_category,
        "min_price": min_price,
        "max_price": max_price,
        "exclude_seen": None if include_seen is None else not include_seen,
    }
    base.update({k: v for k, v in given.items() if v is not None})
    return BusinessRules(**base)
