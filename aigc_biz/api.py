"""The Python API: the same verbs as the CLI, one function each (load, inspect, train, recommend,
evaluate, copy, report, write, run). A nightly batch job calls these; the CLI is a skin over them.

Example
-------
>>> import aigc_biz.api as ab                                    # doctest: +SKIP
>>> data = ab.load("orders.csv")  # doctest: +SKIP
>>> model = ab.train(data, "cvae", save="models/cvae")  # doctest: +SKIP
>>> recs = ab.recommend(data, model, top_k=10)  # doctest: +SKIP
>>> ab.write(recs, db="postgresql+psycopg://bi@warehouse/dw", table="recommendations", run_id="2026-11-23")  # doctest: +SKIP
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import pandas as pd

from aigc_biz.data.interactions import Interactions
from aigc_biz.errors import InputError
from aigc_biz.models.base import Recommender
from aigc_biz.ranking import BusinessRules, aligned_item_features, attach_item_info, recommend_with_rules

log = logging.getLogger(__name__)

ROLE_FLAGS = ("user_col", "item_col", "time_col", "weight_col", "user_attrs", "item_attrs",
              "event_weights", "time_decay_days", "returns", "sheet")


def load(source: str | Path | None = None, *, db: str | None = None, table: str | None = None,
         query: str | None = None, **role_flags) -> Interactions:
    """Read a behaviour table (file path or SQLAlchemy URL) into :class:`Interactions`.

    ``role_flags``: user_col, item_col, time_col, weight_col, user_attrs, item_attrs, event_weights,
    time_decay_days, returns ("drop" | "net"), sheet.
    """
    from aigc_biz.data.loading import load_interactions
    unknown = set(role_flags) - set(ROLE_FLAGS)
    if unknown:
        raise InputError(f"unknown load option(s): {', '.join(sorted(unknown))}",
                         hint="valid: " + ", ".join(ROLE_FLAGS))
    if db is not None and source is not None:
        raise InputError("give either a data file or --db, not both")
    src = db if db is not None else source
    if src is None:
        raise InputError("no data given", hint="pass a file path, or --db URL with --table or --query")
    if db is not None and table is None and query is None:
        raise InputError("--db needs --table or --query")
    return load_interactions(str(src), table=table, query=query,
                             **{k: v for k, v in role_flags.items() if v is not None})


def inspect(data: Interactions) -> dict:
    """Detected roles, sizes, sparsity, date range and loading warnings."""
    from aigc_biz.data.profile import profile
    return profile(data)


def train(data: Interactions, model: str = "cvae", params: dict | None = None, *, device: str | None = None,
          seed: int | None = None, save: str | Path | None = None, checkpoint_dir: str | Path | None = None,
          resume: bool = False, progress: Callable[[dict], None] | None = None,
          warm_start: Recommender | str | Path | None = None) -> Recommender:
    """Create the named model with ``params``, fit it on ``data`` and optionally save it to folder ``save``.

    ``warm_start``: a fitted model, or the folder of a saved one, of the same type and trained with the
    same user attribute columns (else a ModelError). Its hyper-parameters are the defaults of the new
    model (``params`` override them). Torch models (cvae, cgan) continue from its weights on ``data``
    (new items and attribute values get new slots, see ``TorchRecommender.fit``) for
    ``warm_start_epochs`` epochs unless ``params`` sets ``epochs``. ease, itemknn and pop are refit on
    ``data``: their fit is one closed-form pass, as cheap as an incremental update would be.
    """
    from aigc_biz.models.registry import create_model
    from aigc_biz.models.training import TorchRecommender, load_warm_start, warm_start_epochs
    given = dict(params or {})
    previous = None if warm_start is None else load_warm_start(warm_start, model, data)
    base = {}
    if previous is not None:
        # the old run's checkpoints belong to the old run
        base = {k: v for k, v in previous.get_params().items() if k not in ("checkpoint_dir", "resume")}
        if isinstance(previous, TorchRecommender) and "epochs" not in given:
            base["epochs"] = warm_start_epochs(previous)
    est = create_model(model, **{**base, **given})
    names = set(est.get_params())
    for key, value in (("device", device), ("seed", seed), ("checkpoint_dir", checkpoint_dir),
                       ("resume", resume or None)):
        if value is not None and key in names and key not in given:
            est.set_params(**{key: str(value) if key == "checkpoint_dir" else value})
    if isinstance(est, TorchRecommender):
        est.fit(data, progress=progress, warm_start=previous)
    else:
        est.fit(data, progress=progress)
    if save is not None:
        est.save(save)
    return est


def load_model(path: str | Path, data: Interactions | None = None) -> Recommender:
    """A saved model (never runs pickled code); with ``data``, check that its schema matches.

    Every way ``data`` was read differently from the training data is logged as a warning (and
    kept in ``model.schema_warnings_``); a table that shares no item with the model is refused.
    """
    from aigc_biz.models.artifacts import check_schema, load_model as _load
    model = _load(Path(path))
    model.schema_warnings_ = []
    if data is not None:
        model.schema_warnings_ = check_schema(model, data)
        for warning in model.schema_warnings_:
            log.warning("%s: %s", path, warning)
    return model


def recommend(data: Interactions, model: Recommender | str = "cvae", *, top_k: int = 10, users=None,
              rules: BusinessRules | None = None, context: pd.DataFrame | None = None,
              params: dict | None = None, progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Top-``top_k`` items per customer: ``user_id, rank, item_id, score[, title, category]``.

    Each customer is scored from their current history in ``data`` (the model keeps no copy of its
    training data): what they bought since training is excluded, customers new since training are
    folded in, and items the model does not know are never recommended (one warning counts them).
    ``model`` is a fitted model, or a registry name (then it is fitted on ``data`` first).
    ``users``: ids to score (default: every customer in ``data``); ids not in the data are cold-start
    customers described by ``context`` (a frame with ``user_id`` and attribute columns).
    """
    if isinstance(model, str):
        model = train(data, model, params)
    top = recommend_with_rules(model, data, users=users, k=top_k, rules=rules, context=context, progress=progress)
    recs = attach_item_info(top.to_frame(), model.item_ids_, aligned_item_features(model, data))
    recs.attrs["warnings"] = ([f"{top.unknown_items.size:,} of {data.n_items:,} items in the data are unknown "
                               f"to the model and were never recommended"] if top.unknown_items.size else [])
    return recs


def evaluate(data: Interactions, models=("pop", "itemknn", "ease", "cvae", "cgan"), split: str = "random",
             ks=(10, 20, 50), seed: int = 0, params: dict | None = None, progress=None):
    """Fit every model on a split of ``data`` and rank them: a Leaderboard (``.to_dict()``, ``.to_frame()``)."""
    from aigc_biz.evaluation.protocol import evaluate as _evaluate
    return _evaluate(data, list(models), split=split, ks=tuple(ks), seed=seed, params=params, progress=progress)


def users_frame(data: Interactions) -> pd.DataFrame:
    """User attributes keyed by ``user_id`` (for copy and reports)."""
    frame = data.user_features.reset_index(drop=True).copy()
    frame.insert(0, "user_id", data.user_ids)
    if data.user_names is not None:
        frame.insert(1, "name", data.user_names)
    return frame


def items_frame(data: Interactions) -> pd.DataFrame:
    """Item attributes keyed by ``item_id``."""
    frame = data.item_features.reset_index(drop=True).copy()
    frame.insert(0, "item_id", data.item_ids)
    return frame


def copy(recs: pd.DataFrame, data: Interactions | None = None, *, channel: str = "sms", locale: str = "zh",
         campaign: str = "default", template: str | Path | None = None, strict: bool = False, **options):
    """Personalised messages for every customer in ``recs``: a CopyResult (``.frame`` has the output columns)."""
    from aigc_biz.copywriting import render_copy
    users = users_frame(data) if data is not None else None
    items = items_frame(data) if data is not None else None
    return render_copy(recs, users=users, items=items, channel=channel, locale=locale, template=template,
                       campaign=campaign, strict=strict, **options)


def report(data: Interactions, output: str | Path, *, recs: pd.DataFrame | None = None,
           leaderboard: dict | None = None, copy: pd.DataFrame | None = None, locale: str = "en",
           meta: dict | None = None):
    """One offline HTML file (and a JSON of its figures beside it)."""
    from aigc_biz.reporting import build_report
    if leaderboard is not None and hasattr(leaderboard, "to_dict"):
        leaderboard = leaderboard.to_dict()
    return build_report(data, output, recs=recs, leaderboard=leaderboard, copy=copy, locale=locale, meta=meta)


def write(frame: pd.DataFrame, *, path: str | Path | None = None, db: str | None = None, table: str | None = None,
          run_id: str | None = None, kind: str = "recommendations", model: str | None = None):
    """Write a frame atomically to a file (csv, parquet, jsonl) or, in one transaction, to a SQL table."""
    if (path is None) == (db is None):
        raise InputError("write needs exactly one of a file path or a database URL")
    if path is not None:
        from aigc_biz.io.files import write_frame
        return write_frame(frame, path)
    if not table:
        raise InputError("writing to a database needs a table name")
    from aigc_biz.io.sql import write_table
    return write_table(frame, db, table, run_id=run_id or "default", kind=kind, model=model)


def run(pipeline: str | Path, *, run_id: str | None = None, dry_run: bool = False, env: dict | None = None):
    """Run a YAML batch job (load → train → recommend → copy → report → write)."""
    from aigc_biz.pipeline import run_pipeline
    return run_pipeline(pipeline, run_id=run_id, dry_run=dry_run, env=env)
