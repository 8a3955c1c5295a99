"""The offline evaluation protocol: split, fit every model on the training part, rank all items for each
user with held-out items, score the lists with every metric and a bootstrap interval -> Leaderboard.

The protocol is data, not a trainer: :func:`evaluate` only chains :func:`make_split`, ``fit`` and
:func:`score_split`; the bench scripts call :func:`score_split` and :func:`metrics_from_topk` directly.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aigc_biz.data.interactions import Interactions
from aigc_biz.errors import InputError
from aigc_biz.evaluation import metrics as m
from aigc_biz.evaluation.leaderboard import Leaderboard, ModelResult
from aigc_biz.json_safe import json_safe

if TYPE_CHECKING:  # models are a lower layer, but importing them pulls in torch: only when used
    from aigc_biz.data.splits import Split
    from aigc_biz.models.base import Recommender

SPLITS = ("random", "temporal", "users", "leave-last-out")
DEFAULT_KS = (10, 20, 50)


def _check_ks(ks) -> tuple[int, ...]:
    try:
        ks = tuple(sorted({int(k) for k in ks}))
    except (TypeError, ValueError):
        raise InputError(f"cut-offs must be whole numbers, got {ks!r}") from None
    if not ks or ks[0] < 1:
        raise InputError(f"cut-offs must be positive whole numbers, got {ks!r}", hint="e.g. ks=(10, 20, 50)")
    return ks


def make_split(
    data: Interactions, split: str = "random", seed: int = 0, horizon=None, include_seen: bool = False
) -> "Split":
    """The named split of ``data`` from :mod:`aigc_biz.data.splits`.

    ``random`` | ``users`` | ``leave-last-out`` (each customer's last event) | ``temporal`` (each
    customer's latest item; with ``horizon`` such as ``"30d"``, a global cut that far before the end:
    train before it, test on the period after, with repeat purchases when ``include_seen``).
    """
    key = str(split).strip().lower().replace("_", "-")
    if key not in SPLITS:
        raise InputError(f"unknown split {split!r}", hint="choose from " + ", ".join(SPLITS))
    from aigc_biz.data import splits

    if horizon is not None or include_seen:
        if key != "temporal":
            raise InputError(f"--horizon and --include-seen go with --split temporal, not {key!r}")
        return splits.split_horizon(data, horizon=horizon or "30d", repeats=include_seen, seed=seed)
    if key == "leave-last-out":
        return splits.split_leave_last_out(data, seed=seed)
    return getattr(splits, f"split_{key}")(data, seed=seed)


def item_categories_of(data: Interactions) -> np.ndarray | None:
    """The canonical ``category`` item attribute, or None when the data has none."""
    features = data.item_features
    if "category" not in features.columns or len(features) != data.n_items:
        return None
    categories = features["category"]
    return None if categories.isna().all() else categories.to_numpy(dtype=object)


def metrics_from_topk(
    topk: np.ndarray,
    target: sp.spmatrix,
    train: sp.spmatrix,
    ks: Sequence[int] = DEFAULT_KS,
    item_categories=None,
    n_boot: int = 1000,
    seed: int = 0,
    seen: np.ndarray | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Every metric at every cut-off for top-k lists already computed.

    Parameters
    ----------
    topk : int array (n_rows, >= max(ks))
        Item indices per evaluated user, best first, -1 for padding.
    target : sparse (n_rows, n_items)
        Held-out items of the same users; rows without any are skipped.
    train : sparse (n_train_users, n_items)
        The training matrix: item popularity for novelty and popularity bias.
    item_categories : array of n_items values, optional
        Enables ``diversity@k`` (intra-list category diversity).
    seen : bool array like ``topk``, optional
        Which listed items the customer had bought before (repeat purchases). Adds ``repeat_share@k``
        (share of the list), ``repeat_hit_rate@k`` and ``new_hit_rate@k`` (hits per slot of each kind;
        customers without such slots are left out of that mean).

    Returns
    -------
    metrics : dict
        ``"ndcg@10" -> {"mean", "low", "high"}``; accuracy metrics (``ndcg recall precision map hit_rate
        mrr``) and beyond-accuracy ones (``coverage novelty popularity arp`` and ``diversity``).
    per_user : dict
        The per-user arrays (evaluated users only) behind every metric except coverage.
    """
    ks = _check_ks(ks)
    target = sp.csr_matrix(target)
    topk = np.asarray(topk)
    if topk.shape[0] != target.shape[0]:
        raise InputError(f"{topk.shape[0]} top-k rows but {target.shape[0]} target rows")
    if topk.shape[1] < ks[-1]:
        raise InputError(f"top-k lists hold {topk.shape[1]} items, fewer than the largest cut-off {ks[-1]}")
    keep = np.diff(target.indptr) > 0
    topk, target = topk[keep], target[keep]
    seen = None if seen is None else np.asarray(seen, dtype=bool)[keep]
    train = sp.csr_matrix(train)
    popularity = m.item_popularity(train)
    n_items = target.shape[1]
    per_user: dict[str, np.ndarray] = {}
    for k in ks:
        for name, metric in m.ACCURACY_METRICS.items():
            per_user[f"{name}@{k}"] = metric(topk, target, k)
    for k in ks:
        per_user[f"novelty@{k}"] = m.novelty(topk, popularity, train.shape[0], k)
        per_user[f"popularity@{k}"] = m.popularity_percentile(topk, popularity, k)
        per_user[f"arp@{k}"] = m.average_recommended_popularity(topk, popularity, k)
        diversity = m.intra_list_diversity(topk, item_categories, k)
        if diversity is not None:
            per_user[f"diversity@{k}"] = diversity
        if seen is not None:
            per_user.update(_repeat_metrics(topk, target, seen, k))
    parts = ("mean", "low", "high")
    results = {
        name: dict(zip(parts, m.bootstrap_ci(values, n_boot=n_boot, seed=seed))) for name, values in per_user.items()
    }
    for k in ks:  # coverage belongs to the set of lists, so its resamples are of whole lists
        results[f"coverage@{k}"] = dict(zip(parts, m.coverage_ci(topk, n_items, k, n_boot=n_boot, seed=seed)))
    return results, per_user


def score_split(
    model: "Recommender",
    split: "Split",
    ks: Sequence[int] = DEFAULT_KS,
    *,
    fit: bool = True,
    exclude: sp.spmatrix | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    item_categories="auto",
    batch_size: int = 1024,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Fit ``model`` on ``split.train`` (unless ``fit=False``) and score its top-k lists on the test part.

    Each user with held-out items is scored through the one scoring path, ``model.recommend_topk``, on
    the split's test input (as an Interactions with the training data's users, items and attributes),
    so evaluation ranks exactly as ``recommend`` does; what the input holds is never recommended, and
    ``exclude`` adds more pairs (bench scripts pass e.g. train + valid to follow a published protocol).

    Returns
    -------
    dict with ``metrics``, ``per_user`` (see :func:`metrics_from_topk`), ``user_rows`` (evaluated rows),
    ``topk`` (their lists), ``fit_seconds`` (NaN when not fitted here), ``score_seconds``, ``users_evaluated``.
    """
    ks = _check_ks(ks)
    report = progress or (lambda event: None)
    fit_seconds = float("nan")
    if fit:
        started = time.perf_counter()
        model.fit(split.train, progress=lambda event: report({"stage": "fit", **event}))
        fit_seconds = time.perf_counter() - started
    target = sp.csr_matrix(split.test_target)
    rows = np.flatnonzero(np.diff(target.indptr) > 0)
    if len(rows) == 0:
        raise InputError(
            f"split {split.name!r} has no user with held-out items",
            hint="the data may be too small to evaluate; add interactions or use another split",
        )
    scored_data = split.test_data()
    extra = None if exclude is None else _in_model_space(model, split.train, sp.csr_matrix(exclude)[rows])
    report({"stage": "score", "users": len(rows)})
    started = time.perf_counter()
    top = model.recommend_topk(
        scored_data,
        split.train.user_ids[rows],
        k=ks[-1],
        exclude=extra,
        exclude_seen=not split.repeats,
        batch_size=batch_size,
    )
    topk = _in_data_space(model, split.train, top.indices)
    score_seconds = time.perf_counter() - started
    if isinstance(item_categories, str) and item_categories == "auto":
        item_categories = item_categories_of(split.train)
    metrics, per_user = metrics_from_topk(
        topk,
        target[rows],
        split.train.matrix,
        ks,
        item_categories=item_categories,
        n_boot=n_boot,
        seed=seed,
        seen=top.seen if split.repeats else None,
    )
    return {
        "metrics": metrics,
        "per_user": per_user,
        "user_rows": rows,
        "topk": topk,
        "fit_seconds": fit_seconds,
        "score_seconds": score_seconds,
        "users_evaluated": int(len(rows)),
    }


def _repeat_metrics(topk: np.ndarray, target: sp.csr_matrix, seen: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Per customer: the share of the top ``k`` that are repeat purchases, and the hit rate of each kind."""
    hits = m.hits_matrix(topk, target, k)
    listed = np.asarray(topk)[:, :k] >= 0
    repeat = seen[:, :k] & listed
    new = ~seen[:, :k] & listed
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            f"repeat_share@{k}": repeat.sum(axis=1) / np.maximum(listed.sum(axis=1), 1),
            f"repeat_hit_rate@{k}": np.where(
                repeat.any(axis=1), (hits & repeat).sum(axis=1) / repeat.sum(axis=1), np.nan
            ),
            f"new_hit_rate@{k}": np.where(new.any(axis=1), (hits & new).sum(axis=1) / new.sum(axis=1), np.nan),
        }


def _in_model_space(model: "Recommender", data: Interactions, matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Columns of ``matrix`` (data's items) moved to the model's item columns; unknown items dropped."""
    columns = model.item_positions(data.item_ids, strict=False)
    keep = columns >= 0
    move = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (np.flatnonzero(keep), columns[keep])),
        shape=(data.n_items, model.n_items),
    )
    return sp.csr_matrix(matrix @ move)


def _in_data_space(model: "Recommender", data: Interactions, topk: np.ndarray) -> np.ndarray:
    """Top-k model item indices as indices of ``data``'s items (-1 stays padding)."""
    to_data = data.item_index(model.item_ids_)
    return np.where(topk >= 0, to_data[np.clip(topk, 0, None)], -1)


def _named_models(models, params: dict[str, dict], seed: int) -> list[tuple[str, "Recommender"]]:
    """(leaderboard name, model) pairs; registry names are created with their ``params``."""
    from aigc_biz.models.registry import create_model

    if isinstance(models, dict):
        pairs = [(str(name), model) for name, model in models.items()]
    elif isinstance(models, (str, bytes)) or not hasattr(models, "__iter__"):
        raise InputError(
            "models must be a list of names or models, or a dict of name -> model",
            hint='e.g. evaluate(data, ["pop", "itemknn"])',
        )
    else:
        pairs = []
        for model in models:
            if isinstance(model, str):
                name = model.strip().lower()
                model_params = dict(params.get(model, params.get(name, {})))
                created = create_model(name, **model_params)
                if "seed" in created.get_params() and "seed" not in model_params:
                    created.set_params(seed=seed)  # the protocol's seed makes the whole leaderboard repeatable
                pairs.append((name, created))
            else:
                pairs.append((model.name, model))
    if not pairs:
        raise InputError("no models to evaluate", hint='e.g. evaluate(data, ["pop", "itemknn"])')
    named, seen = [], {}
    for name, model in pairs:
        seen[name] = seen.get(name, 0) + 1
        named.append((name if seen[name] == 1 else f"{name}#{seen[name]}", model))
    return named


def evaluate(
    data: Interactions,
    models,
    split="random",
    ks: Sequence[int] = DEFAULT_KS,
    seed: int = 0,
    params: dict[str, dict] | None = None,
    progress: Callable[[dict], None] | None = None,
    n_boot: int = 1000,
    segment_column: str | None = "auto",
    horizon=None,
    include_seen: bool = False,
) -> Leaderboard:
    """Rank ``models`` on a split of ``data``: every metric with a 95 % bootstrap interval, plus timings.

    Parameters
    ----------
    models : list of (registry name or Recommender), or dict of name -> Recommender
        Names are created with ``aigc_biz.models.registry.create_model(name, **params[name])``.
    split : {"random", "temporal", "users", "leave-last-out"} or Split
        How to hold out interactions (see :func:`make_split`), or a split made beforehand.
    horizon, include_seen :
        With ``split="temporal"``: test on the last ``horizon`` (e.g. ``"30d"``), repeats included
        when ``include_seen`` (see :func:`aigc_biz.data.splits.split_horizon`).
    ks : cut-offs, e.g. (10, 20, 50)
    seed : int
        Seeds the split, models created by name that take a ``seed``, and the bootstrap.
    progress : callable, optional
        Receives dicts ``{"model", "stage": "fit" | "score" | "done", ...}``.
    segment_column : str, "auto" or None
        User attribute for ``Leaderboard.by_segment`` (the ranking metric per segment): "auto" takes
        ``segment`` when the data has it, else the first attribute with 2 to 50 values; None skips it.

    Examples
    --------
    >>> board = evaluate(data, ["pop", "itemknn"], split="random")          # doctest: +SKIP
    >>> board.winner, board.to_frame()[["model", "ndcg@10", "ndcg@10_low", "ndcg@10_high"]]  # doctest: +SKIP
    """
    ks = _check_ks(ks)
    params = dict(params or {})
    the_split = make_split(data, split, seed, horizon, include_seen) if isinstance(split, str) else split
    named = _named_models(models, params, seed)
    rows = []
    for name, model in named:

        def report(event, name=name):
            if progress is not None:
                progress({"model": name, **event})

        scored = score_split(model, the_split, ks, n_boot=n_boot, seed=seed, progress=report)
        rows.append(
            ModelResult(
                model=name,
                params=json_safe(model.get_params()),
                metrics=scored["metrics"],
                fit_seconds=scored["fit_seconds"],
                score_seconds=scored["score_seconds"],
                users_evaluated=scored["users_evaluated"],
                per_user=scored["per_user"],
                user_rows=scored["user_rows"],
            )
        )
        report({"stage": "done", "ndcg": rows[-1].mean(f"ndcg@{ks[0]}")})
    board = Leaderboard(split=str(the_split.name), ks=ks, rows=rows, seed=seed, n_boot=n_boot)
    features = the_split.train.user_features
    column = _segment_column(features, segment_column)
    if column is not None:
        frame = metrics_by_segment(board, features, column, metric=board.ranking_metric, n_boot=n_boot, seed=seed)
        board.segment_column = column
        board.by_segment = {
            model: {
                r.segment: {"mean": r.mean, "low": r.low, "high": r.high, "users": r.users} for r in part.itertuples()
            }
            for model, part in frame.groupby("model", sort=False)
        }
    return board


def _segment_column(features: pd.DataFrame, requested: str | None) -> str | None:
    """The user attribute to break results down by (see :func:`evaluate`), or None."""
    if requested is None or features is None or len(features.columns) == 0:
        return None
    if requested != "auto":
        if requested not in features.columns:
            raise InputError(
                f"no user attribute {requested!r} to break results down by",
                hint="user attributes: " + ", ".join(map(str, features.columns)),
            )
        return requested
    if "segment" in features.columns:
        return "segment"
    for column in features.columns:
        if 2 <= features[column].nunique(dropna=True) <= 50:
            return str(column)
    return None


def metrics_by_segment(
    results: Leaderboard | ModelResult,
    user_features: pd.DataFrame,
    column: str,
    metric: str = "ndcg@10",
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """``metric`` per value of a user attribute: ``DataFrame[model, segment, users, mean, low, high]``.

    ``user_features`` has one row per user of the split (``data.user_features``); missing values form
    the segment ``"(missing)"``. Needs the per-user values kept by :func:`evaluate` in this session.
    """
    rows = results.rows if isinstance(results, Leaderboard) else [results]
    if column not in user_features.columns:
        raise InputError(
            f"no user attribute {column!r}",
            hint="user attributes: " + (", ".join(map(str, user_features.columns)) or "none"),
        )
    records = []
    for row in rows:
        if metric not in row.per_user or row.user_rows is None:
            raise InputError(
                f"model {row.model!r} has no per-user {metric!r}",
                hint="segment breakdowns need a leaderboard from evaluate(), not one read from JSON",
            )
        values = np.asarray(row.per_user[metric], dtype=np.float64)
        segment = (
            user_features[column]
            .reset_index(drop=True)
            .iloc[row.user_rows]
            .astype(object)
            .where(lambda s: s.notna(), "(missing)")
            .astype(str)
            .to_numpy()
        )
        for value in sorted(set(segment)):
            mean, low, high = m.bootstrap_ci(values[segment == value], n_boot=n_boot, seed=seed)
            records.append(
                {
                    "model": row.model,
                    "segment": value,
                    "users": int((segment == value).sum()),
                    "mean": mean,
                    "low": low,
                    "high": high,
                }
            )
    return pd.DataFrame.from_records(records, columns=["model", "segment", "users", "mean", "low", "high"])
