"""The Python API: the same verbs as the CLI, one function each (load, inspect, train, recommend,
evaluate, copy, report, write, run). A nightly batch job calls these; the CLI is a skin over them.

Example
-------
>>> import aigc_biz.api as ab                                    # doctest: +SKIP
>>> data = ab.load("orders.csv")  # doctest: +SKIP
>>> model = ab.train(data, "cvae", save="models/cvae")  # doctest: +SKIP
>>> recs = ab.recommend(data, model, top_k=10)  # doctest: +SKIP
>>> url = "postgresql+psycopg://bi@warehouse/dw"  # doctest: +SKIP
>>> ab.write(recs, db=url, table="recommendations", run_id="2026-11-23")  # doctest: +SKIP

Two levels. The verbs above take and return objects (Interactions, a fitted model, frames). The
jobs (:func:`recommend_job`, :func:`train_job`, :func:`evaluate_job`, :func:`copy_job`,
:func:`report_job`) take what a person types — a file or URL, ``key=value`` parameters, an id file,
plain rule values — or the same objects, chain the verbs, write every output asked for and return
a result saying what was written. Each CLI command is one call of a job (or of :func:`inspect` /
:func:`run`), and each pipeline step calls the same functions, so there is one orchestration path.
:func:`synth` writes a synthetic table of invented customers (and its quality report).

>>> result = ab.recommend_job("orders.csv", model="ease", top_k=20, max_per_category=2,
...                           output="out/recs.csv", copy="sms")  # doctest: +SKIP
>>> result.customers_short_of_k, result.outputs["copy"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from aigc_biz.data.interactions import Interactions
from aigc_biz.data.loading import ROLE_FLAGS
from aigc_biz.data.readers import read_id_list, split_list
from aigc_biz.errors import ConfigError, InputError
from aigc_biz.io.runs import new_run_id
from aigc_biz.models.base import Recommender
from aigc_biz.models.registry import DEFAULT_MODEL
from aigc_biz.ranking import (
    BusinessRules,
    business_rules,
    recommend_with_rules,
    recommendation_frame,
    unknown_items_warnings,
)

log = logging.getLogger(__name__)


def load(
    source: str | Path | None = None,
    *,
    db: str | None = None,
    table: str | None = None,
    query: str | None = None,
    **role_flags,
) -> Interactions:
    """Read a behaviour table (file path or SQLAlchemy URL) into :class:`Interactions`.

    ``role_flags``: user_col, item_col, time_col, weight_col, user_attrs, item_attrs, event_weights,
    time_decay_days, returns ("drop" | "net"), sheet. ``user_attrs``/``item_attrs`` may be a list or
    ``"a,b"``; ``event_weights`` a mapping or ``"view=1,cart=3"``.
    """
    from aigc_biz.data.loading import load_interactions

    unknown = set(role_flags) - set(ROLE_FLAGS)
    if unknown:
        raise InputError(
            f"unknown load option(s): {', '.join(sorted(unknown))}", hint="valid: " + ", ".join(ROLE_FLAGS)
        )
    if db is not None and source is not None:
        raise InputError("give either a data file or --db, not both")
    src = db if db is not None else source
    if src is None:
        raise InputError("no data given", hint="pass a file path, or --db URL with --table or --query")
    if db is not None and table is None and query is None:
        raise InputError("--db needs --table or --query")
    for key in ("user_attrs", "item_attrs"):
        if isinstance(role_flags.get(key), str):
            role_flags[key] = split_list(role_flags[key])
    if isinstance(role_flags.get("event_weights"), str):
        role_flags["event_weights"] = parse_event_weights(role_flags["event_weights"])
    return load_interactions(
        str(src), table=table, query=query, **{k: v for k, v in role_flags.items() if v is not None}
    )


def inspect(data: Interactions | str | Path | None = None, **load_options) -> dict:
    """Detected roles, sizes, sparsity, date range and loading warnings.

    ``data`` is loaded :class:`Interactions`, or a file/URL read with :func:`load` and ``load_options``.
    """
    from aigc_biz.data.profile import profile

    return profile(_as_data(data, load_options))


def train(
    data: Interactions,
    model: str = DEFAULT_MODEL,
    params: dict | None = None,
    *,
    device: str | None = None,
    seed: int | None = None,
    save: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    progress: Callable[[dict], None] | None = None,
    warm_start: Recommender | str | Path | None = None,
) -> Recommender:
    """Create the named model with ``params``, fit it on ``data`` and optionally save it to folder ``save``.

    ``warm_start``: a fitted model, or the folder of a saved one, of the same type and trained with the
    same user attribute columns (else a ModelError). Its hyper-parameters are the defaults of the new
    model (``params`` override them). Torch models (cvae, cgan) continue from its weights on ``data``
    (new items and attribute values get new slots, see ``TorchRecommender.fit``) for
    ``warm_start_epochs`` epochs unless ``params`` sets ``epochs``. ease, itemknn and pop are refit on
    ``data``: their fit is one closed-form pass, as cheap as an incremental update would be.
    """
    from aigc_biz.models.distributed import is_main_process
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
    names = est.accepted_params()  # a wrapper (trend) takes its base's too: --device reaches the cvae inside
    for key, value in (
        ("device", device),
        ("seed", seed),
        ("checkpoint_dir", checkpoint_dir),
        ("resume", resume or None),
    ):
        if value is not None and key in names and key not in given:
            est.set_params(**{key: str(value) if key == "checkpoint_dir" else value})
    if isinstance(est, TorchRecommender):
        est.fit(data, progress=progress, warm_start=previous)
    else:
        est.fit(data, progress=progress)
    if save is not None and is_main_process():  # under torchrun rank 0 writes the one model folder
        est.save(save)
    return est


def load_model(path: str | Path, data: Interactions | None = None) -> Recommender:
    """A saved model (never runs pickled code); with ``data``, check that its schema matches.

    Every way ``data`` was read differently from the training data is logged as a warning (and
    kept in ``model.schema_warnings_``); a table that shares no item with the model is refused.
    """
    from aigc_biz.models.artifacts import check_schema
    from aigc_biz.models.artifacts import load_model as _load

    model = _load(Path(path))
    model.schema_warnings_ = []
    if data is not None:
        model.schema_warnings_ = check_schema(model, data)
        for warning in model.schema_warnings_:
            log.warning("%s: %s", path, warning)
    return model


def recommend(
    data: Interactions,
    model: Recommender | str = DEFAULT_MODEL,
    *,
    top_k: int = 10,
    users=None,
    rules: BusinessRules | None = None,
    context: pd.DataFrame | None = None,
    params: dict | None = None,
    progress: Callable[[int], None] | None = None,
    new_items: pd.DataFrame | None = None,
    content: dict | None = None,
) -> pd.DataFrame:
    """Top-``top_k`` items per customer: ``user_id, rank, item_id, score[, title, category]``.

    Each customer is scored from their current history in ``data`` (the model keeps no copy of its
    training data): what they bought since training is excluded, customers new since training are
    folded in, and items the model does not know are never recommended (one warning counts them).
    ``model`` is a fitted model, or a registry name (then it is fitted on ``data`` first).
    ``users``: ids to score (default: every customer in ``data``); ids not in the data are cold-start
    customers described by ``context`` (a frame with ``user_id`` and attribute columns).
    ``new_items``: products with ``item_id`` and title/category/price columns (e.g. the ``--candidates``
    file); those the model does not know are scored from the known items they resemble (the content
    path, :mod:`aigc_biz.ranking.new_items`; needs the same attributes in ``data``), obey ``rules``, and
    are flagged in a ``new_item`` column. ``content``: parameters of the content map.
    With ``rules.exclude_seen=False`` (``--include-seen``) the list holds repeat purchases and new items
    blended by :class:`~aigc_biz.models.blend.RepeatBlend` (the named or given model ranks the new
    items, ``buyagain`` the repeats) and gets a ``reason`` column: ``repeat`` or ``new``.
    """
    from aigc_biz.ranking.new_items import prepare_new_items

    repeats = rules is not None and not rules.exclude_seen
    if isinstance(model, str):
        if repeats and model != "blend":
            model = train(data, "blend", {"new_model": model, "new_params": dict(params or {})})
        else:
            model = train(data, model, params)
    elif repeats and model.name != "blend":
        from aigc_biz.models.blend import RepeatBlend

        model = RepeatBlend.around(model, data)
    top = recommend_with_rules(
        model,
        data,
        users=users,
        k=top_k,
        rules=rules,
        context=context,
        progress=progress,
        new_items=new_items,
        content=content,
    )
    return recommendation_frame(model, data, top, prepare_new_items(model, data, new_items), reason=repeats)


def evaluate(
    data: Interactions,
    models=("pop", "itemknn", "ease", "cvae", "cgan"),
    split: str = "random",
    ks=(10, 20, 50),
    seed: int = 0,
    params: dict | None = None,
    progress=None,
    horizon=None,
    include_seen: bool = False,
):
    """Fit every model on a split of ``data`` and rank them: a Leaderboard (``.to_dict()``, ``.to_frame()``).

    ``split``: random, users, leave-last-out or temporal; ``horizon="30d"`` with temporal tests on the
    last 30 days (repeat purchases included with ``include_seen=True``).
    """
    from aigc_biz.evaluation.protocol import evaluate as _evaluate

    return _evaluate(
        data,
        list(models),
        split=split,
        ks=tuple(ks),
        seed=seed,
        params=params,
        progress=progress,
        horizon=horizon,
        include_seen=include_seen,
    )


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


def copy(
    recs: pd.DataFrame,
    data: Interactions | None = None,
    *,
    channel: str = "sms",
    locale: str = "zh",
    campaign: str = "default",
    template: str | Path | None = None,
    strict: bool = False,
    **options,
):
    """Personalised messages for every customer in ``recs``: a CopyResult (``.frame`` has the output columns)."""
    from aigc_biz.copywriting import render_copy

    users = users_frame(data) if data is not None else None
    items = items_frame(data) if data is not None else None
    return render_copy(
        recs,
        users=users,
        items=items,
        channel=channel,
        locale=locale,
        template=template,
        campaign=campaign,
        strict=strict,
        **options,
    )


def report(
    data: Interactions,
    output: str | Path,
    *,
    recs: pd.DataFrame | None = None,
    leaderboard: dict | None = None,
    copy: pd.DataFrame | None = None,
    locale: str = "en",
    meta: dict | None = None,
):
    """One offline HTML file (and a JSON of its figures beside it)."""
    from aigc_biz.reporting import build_report

    if leaderboard is not None and hasattr(leaderboard, "to_dict"):
        leaderboard = leaderboard.to_dict()
    return build_report(data, output, recs=recs, leaderboard=leaderboard, copy=copy, locale=locale, meta=meta)


def synth(
    data: str | Path | pd.DataFrame | None = None,
    output: str | Path | None = None,
    *,
    customers: int | None = None,
    seed: int = 0,
    noise: float = 0.0,
    report: str | Path | None = None,
    params: dict | Sequence[str] | None = None,
    db: str | None = None,
    table: str | None = None,
    query: str | None = None,
    **role_flags,
):
    """A synthetic copy of a behaviour table: invented customers, orders from the engine's item-item model.

    ``data``: a file, a DataFrame, or ``db`` with ``table``/``query``; ``role_flags``: user_col, item_col,
    time_col, weight_col, user_attrs, item_attrs, sheet (as in :func:`load`). Writes ``output`` (.csv
    keeps the input's text formats; .parquet/.jsonl also work, every cell as text) with ``customers``
    customers (default: as many as the input); ``noise`` in [0, 1] trades fidelity for protection.
    With ``report``, also an offline HTML quality and privacy report (and its JSON) — a few extra fits, see
    :mod:`aigc_biz.synth`. ``params``: BehaviourSynthesizer settings (``item_model``, ``k_neighbours``,
    ``l2``, ``smoothing``).
    Returns a :class:`aigc_biz.synth.SynthResult`.

    >>> result = synth("orders.csv", "synth.csv", customers=5000, seed=1, report="synth.html")  # doctest: +SKIP
    >>> result.summary()["real_ids_in_output"]  # doctest: +SKIP
    0
    """
    from aigc_biz.synth import synthesize

    check_job(inputs={"the data": data}, outputs={"-o": output}, report_path=report)
    real = _read_source(data, db=db, table=table, query=query, **role_flags)
    settings = parse_params(params)
    return synthesize(real, customers=customers, seed=seed, noise=noise, output=output, report=report, params=settings)


def augment(
    data: str | Path | pd.DataFrame | None,
    ratio: float,
    *,
    seed: int = 0,
    params: dict | Sequence[str] | None = None,
    db: str | None = None,
    table: str | None = None,
    query: str | None = None,
    **load_options,
) -> Interactions:
    """The table plus ``ratio`` × its customers of synthetic ones for its sparse segments, loaded.

    Attribute combinations are drawn in inverse proportion to their real size, so small segments gain
    most (:func:`aigc_biz.synth.augment.augmented_table`); the rows are then read with the real table's
    roles and ``load_options`` (``returns``, ``event_weights``, ``time_decay_days`` apply as in :func:`load`).
    Whether this helps is measured in bench/RESULTS.md ("Synthetic tables"): often it does not.
    """
    from aigc_biz.data.loading import load_interactions
    from aigc_biz.synth.augment import augmented_table
    from aigc_biz.synth.source import SOURCE_FLAGS, role_flags

    if isinstance(data, Interactions):
        raise InputError("augmenting needs the table itself (a file, URL or DataFrame), not loaded interactions")
    reading = {k: v for k, v in load_options.items() if k in SOURCE_FLAGS}
    weighting = {k: v for k, v in load_options.items() if k not in SOURCE_FLAGS and v is not None}
    if isinstance(weighting.get("event_weights"), str):
        weighting["event_weights"] = parse_event_weights(weighting["event_weights"])
    real = _read_source(data, db=db, table=table, query=query, **reading)
    frame = augmented_table(real, ratio, seed=seed, params=parse_params(params))
    return load_interactions(frame, **role_flags(real.roles), weight_kind=real.roles.weight_kind, **weighting)


def _read_source(data, *, db=None, table=None, query=None, **role_flags):
    """The rows of a table as text with their roles (what the synthesizer learns from)."""
    from aigc_biz.synth.source import read_source

    if db is not None and data is not None:
        raise InputError("give either a data file or --db, not both")
    src = db if db is not None else data
    if src is None:
        raise InputError("no data given", hint="pass a file path, or --db URL with --table or --query")
    for key in ("user_attrs", "item_attrs"):
        if isinstance(role_flags.get(key), str):
            role_flags[key] = split_list(role_flags[key])
    return read_source(src, table=table, query=query, **{k: v for k, v in role_flags.items() if v is not None})


def write(
    frame: pd.DataFrame,
    *,
    path: str | Path | None = None,
    db: str | None = None,
    table: str | None = None,
    run_id: str | None = None,
    kind: str = "recommendations",
    model: str | None = None,
):
    """Write a frame atomically to a file (csv, parquet, jsonl) or, in one transaction, to a SQL table.

    A SQLite file's folder is created first, as a file's folder is.
    """
    if (path is None) == (db is None):
        raise InputError("write needs exactly one of a file path or a database URL")
    if path is not None:
        from aigc_biz.io.files import write_frame

        return write_frame(frame, path)
    if not table:
        raise InputError("writing to a database needs a table name")
    from aigc_biz.io.sql import write_table

    _sqlite_folder(db)
    return write_table(frame, db, table, run_id=run_id or "default", kind=kind, model=model)


def run(
    pipeline: str | Path,
    *,
    run_id: str | None = None,
    dry_run: bool = False,
    env: dict | None = None,
    log_format: str | None = None,
    quiet: bool = False,
):
    """Run a YAML batch job (load → train → recommend → copy → report → write).

    ``log_format`` ("text" or "json", one object per line) first sends the package's log records to
    stderr, as a command-line or cron run wants; ``quiet`` then keeps only warnings and errors.
    """
    import sys

    from aigc_biz.pipeline import run_pipeline

    if log_format is not None:
        from aigc_biz.logging_setup import configure_logging

        if log_format not in ("text", "json"):
            raise InputError(f"unknown log format {log_format!r}", hint="text or json")
        configure_logging(json_lines=log_format == "json", quiet=quiet)
    # each step calls one verb of this module; the runner is handed them, so it never imports this module back
    return run_pipeline(pipeline, run_id=run_id, dry_run=dry_run, env=env, verbs=sys.modules[__name__])


# --- plain values in: what a command line or a YAML file gives ---------------------------------------
def parse_event_weights(value: str | dict | None) -> dict | None:
    """``"view=1,cart=3,purchase=5"`` -> {"view": 1.0, "cart": 3.0, "purchase": 5.0}; a mapping is kept."""
    if not value:
        return None
    if not isinstance(value, str):
        return dict(value)
    weights = {}
    for pair in split_list(value) or []:
        key, sep, raw = pair.partition("=")
        try:
            weights[key.strip()] = float(raw)
        except ValueError:
            raise InputError(f"--event-weights entry {pair!r} is not name=number") from None
        if not sep:
            raise InputError(f"--event-weights entry {pair!r} is not name=number")
    return weights


def parse_params(params: dict | Sequence[str] | None) -> dict:
    """Hyper-parameters as a mapping, or ``["epochs=30", "beta=0.2"]`` (values read as JSON when they parse)."""
    if isinstance(params, dict):
        return dict(params)
    from aigc_biz.models.registry import parse_params as _parse

    return _parse(params)


def parse_model_params(params: dict | Sequence[str] | None) -> dict[str, dict]:
    """Per-model parameters: ``{"cvae": {"epochs": 20}}``, or ``["cvae.epochs=20", "ease.l2=300"]``."""
    if isinstance(params, dict):
        return {str(k): dict(v) for k, v in params.items()}
    grouped: dict[str, dict] = {}
    for key, value in parse_params(params).items():
        model, dot, name = key.partition(".")
        if not dot:
            raise InputError(f"--param {key}=… for evaluate must name the model, e.g. cvae.{key}=…")
        grouped.setdefault(model, {})[name] = value
    return grouped


def metrics_frame(leaderboard) -> pd.DataFrame:
    """A leaderboard (object or dict) as rows ``model, metric, k, mean, low, high`` (the ``metrics`` table)."""
    from aigc_biz.evaluation.leaderboard import metrics_rows

    return metrics_rows(leaderboard)


class Observer:
    """What a job says while it runs; this one says nothing (the CLI passes one that prints and draws bars).

    ``info`` gets human lines ("Loaded 9,500 interactions…"), ``warning`` each data or model warning as
    it is found, ``epoch`` each training epoch's dict (epoch, epochs, loss, val_ndcg; with ``restarts``
    also restart, restarts, seed, and at the end one ``{restart_kept, restart_scores}``), ``advance``
    progress of a counted task ("recommending" customers, "evaluating" models).
    """

    def info(self, message: str) -> None:
        """A line for a person."""

    def warning(self, message: str) -> None:
        """Something the person should know; the job carries on."""

    def epoch(self, model: str, stats: dict) -> None:
        """One training epoch of ``model`` finished."""

    def advance(self, task: str, n: int = 1, total: int | None = None) -> None:
        """``n`` more units of ``task`` done, out of ``total``."""


_SILENT = Observer()


def _as_data(data, load_options: dict, observer: Observer = _SILENT) -> Interactions:
    """``data`` when it is loaded already, else :func:`load` of it with ``load_options`` (said to the observer)."""
    if isinstance(data, Interactions):
        return data
    started = time.perf_counter()
    loaded = load(data, **load_options)
    observer.info(
        f"Loaded {loaded.nnz:,} interactions: {loaded.n_users:,} customers x {loaded.n_items:,} items "
        f"({time.perf_counter() - started:.1f} s)"
    )
    for warning in loaded.warnings:
        observer.warning(warning)
    return loaded


def _as_frame(value) -> pd.DataFrame | None:
    """A frame given, or read from a file written by a job (ids stay text)."""
    if value is None or isinstance(value, pd.DataFrame):
        return value
    if hasattr(value, "frame"):  # a CopyResult
        return value.frame
    from aigc_biz.io.files import read_recs

    return read_recs(value)


def _as_leaderboard(value) -> dict | None:
    if value is None or isinstance(value, dict):
        return value
    if hasattr(value, "to_dict"):
        return value.to_dict()
    try:
        return json.loads(Path(value).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read leaderboard JSON: {exc}", file=str(value)) from None


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for a server URL, an in-memory or unparsable one."""
    if not url.startswith("sqlite"):
        return None
    import sqlalchemy as sa

    try:
        database = sa.make_url(url).database
    except sa.exc.ArgumentError:
        return None  # write_table names the bad URL
    if database and database != ":memory:" and not database.startswith("file:"):
        return Path(database)
    return None


def _sqlite_folder(url: str) -> None:
    """A SQLite file's folder exists before the first write (a server URL is left alone)."""
    database = _sqlite_file(url)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)


def _source_file(source) -> Path | None:
    """The local file a source names: a path, or a SQLite URL's database; None for objects and server URLs."""
    if not isinstance(source, (str, Path)):
        return None
    return _sqlite_file(source) if "://" in str(source) else Path(source)


def _locales() -> tuple[str, ...]:
    from aigc_biz.copywriting import LOCALES

    return tuple(LOCALES)


def _copy_choices(channel: str | None, locale: str | None) -> tuple:
    """``(option, value, allowed)`` for a copy channel (None: no copy) and the locale."""
    from aigc_biz.copywriting import CHANNELS

    return (("the copy channel", channel, tuple(CHANNELS)), ("--locale", locale, _locales()))


#: the labels of SQLite databases, which one job may both read and write (other tables)
_DATABASES = ("the data", "--out-db")


def check_job(
    *,
    inputs: dict | None = None,
    outputs: dict | None = None,
    out_db: str | None = None,
    tables: Sequence[str] = (),
    run_id: str | None = None,
    frame_outputs: Sequence = (),
    report_path: str | Path | None = None,
    models: dict | None = None,
    choices: Sequence[tuple[str, Any, Sequence[str]]] = (),
    multi_process: bool = False,
) -> None:
    """Every option a job writes with, checked before it reads or trains anything (InputError, exit 2).

    ``inputs``/``outputs``: label -> path; an output that is an input or another output is refused
    (a report's JSON beside its HTML and a SQLite ``out_db`` count as outputs). ``tables``, ``run_id``,
    ``out_db``: the warehouse target's names and URL. ``frame_outputs``: files whose extension must name a
    format. ``models``: name -> parameters, each model built once to check them. ``choices``:
    ``(option, value, allowed)`` triples. ``multi_process``: the job may run as several ``torchrun``
    processes (``train``); any other job launched so is refused (ConfigError), as each process would
    write the same outputs.
    """
    from aigc_biz.io.files import check_distinct_paths, format_of
    from aigc_biz.models.distributed import launch

    where = launch()
    if where is not None and not multi_process:
        raise ConfigError(
            f"this command runs as one process, not {where.world_size} (WORLD_SIZE={where.world_size})",
            hint="only `train` splits its work over torchrun processes; run this without torchrun",
        )
    outputs = dict(outputs or {})
    for option, value, allowed in choices:
        if value is not None and value not in allowed:
            raise InputError(f"{option}: unknown value {value!r}", hint="one of " + ", ".join(allowed))
    for path in frame_outputs:
        if path is not None:
            format_of(path)
    if report_path is not None:
        from aigc_biz.reporting import report_paths

        outputs["--report"], outputs["the report's JSON"] = report_paths(report_path)
    if out_db:
        from aigc_biz.io.sql import check_run_id, make_engine, validate_identifier

        for table in tables:
            validate_identifier(table)
        make_engine(out_db).dispose()  # the URL parses and its driver is installed; nothing connects yet
        outputs["--out-db"] = _sqlite_file(out_db)
    if run_id is not None:
        from aigc_biz.io.sql import check_run_id

        check_run_id(run_id)
    inputs = {label: _source_file(path) for label, path in (inputs or {}).items()}
    check_distinct_paths(inputs, outputs, databases=_DATABASES)
    if models:
        from aigc_biz.models.registry import create_model

        for name, params in models.items():
            create_model(name, **params)


# --- jobs: one call per command line or pipeline step --------------------------------------------------
@dataclass
class TrainResult:
    """A fitted (and, with a path, saved) model."""

    model: Recommender
    path: Path | None
    seconds: float
    #: this process's rank under torchrun (0 in a single process): only rank 0 saved and reports
    rank: int = 0

    def summary(self) -> dict:
        return {
            "model": self.model.name,
            "params": self.model.get_params(),
            "path": self.path,
            "seconds": round(self.seconds, 2),
        }


def train_job(
    data: Interactions | str | Path | None = None,
    *,
    model: str = DEFAULT_MODEL,
    params: dict | Sequence[str] | None = None,
    output: str | Path | None = None,
    device: str | None = None,
    seed: int | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    warm_start=None,
    augment_ratio: float | None = None,
    observer: Observer = _SILENT,
    **load_options,
) -> TrainResult:
    """Load (unless ``data`` is loaded already), fit ``model`` and save it to folder ``output``.

    ``params``: a mapping or ``["epochs=30", …]``; ``load_options`` go to :func:`load`; ``warm_start``: a
    saved model folder (or fitted model) to continue from (see :func:`train`). ``augment_ratio``: also
    train on that many synthetic customers per real one, drawn for sparse segments (see :func:`augment`).

    Under ``torchrun`` every process runs this job: the torch models train data-parallel (see
    :func:`aigc_biz.models.training.run_training`), rank 0 saves the model and reports; the other
    processes write nothing and return ``rank`` > 0 with ``path`` None.
    """
    from aigc_biz.models.distributed import job_group

    started = time.perf_counter()
    check_job(
        inputs={"the data": data},
        outputs={"-o": output},
        models={model: parse_params(params)} if warm_start is None else None,
        multi_process=True,
    )
    with job_group() as where:  # under torchrun: every process's part of the job, rank 0 saving
        rank = 0 if where is None else where.rank
        if rank:
            observer = _SILENT  # rank 0 speaks for every process
        if augment_ratio is not None:
            loaded = augment(data, augment_ratio, seed=seed or 0, **load_options)
            observer.info(f"Training on {loaded.n_users:,} customers, synthetic ones for sparse segments included")
        else:
            loaded = _as_data(data, load_options, observer)
        fitted = train(
            loaded,
            model,
            parse_params(params),
            device=device,
            seed=seed,
            save=output,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            warm_start=warm_start,
            progress=lambda d: observer.epoch(model, d),
        )
    return TrainResult(
        model=fitted,
        path=None if output is None or rank else Path(output),
        seconds=time.perf_counter() - started,
        rank=rank,
    )


@dataclass
class RecommendResult:
    """What :func:`recommend_job` made and wrote.

    ``outputs`` maps ``recommendations``, ``copy``, ``report`` to file paths and ``recommendations_table`` /
    ``copy_table`` to table names. ``customers_short_of_k`` counts customers who got fewer than
    ``top_k`` items (everything eligible already bought, or nothing allowed by the rules), also those
    who got none.
    """

    recs: pd.DataFrame
    model: Recommender
    top_k: int
    run_id: str
    customers: int
    customers_short_of_k: int
    outputs: dict[str, Any] = field(default_factory=dict)
    copy: Any = None
    report: Any = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: rows written when ``recs`` stays on Spark (``engine="spark"``: ``recs`` is then empty)
    rows: int | None = None
    engine: str = "local"

    def summary(self) -> dict:
        """JSON-ready: what ``aigc-biz recommend --json`` prints."""
        out = {
            "model": self.model.name,
            "customers": self.customers,
            "customers_short_of_k": self.customers_short_of_k,
            "rows": int(len(self.recs)) if self.rows is None else self.rows,
            "top_k": self.top_k,
            "run_id": self.run_id,
            "outputs": dict(self.outputs),
        }
        if self.engine != "local":
            out["engine"] = self.engine
        if self.copy is not None:
            out["copy_messages"] = int(len(self.copy.frame))
        out["seconds"] = round(self.seconds, 2)
        return out


def recommend_job(
    data: Interactions | str | Path | None = None,
    *,
    model: Recommender | str = DEFAULT_MODEL,
    model_path: str | Path | None = None,
    params: dict | Sequence[str] | None = None,
    save_model: str | Path | None = None,
    device: str | None = None,
    seed: int | None = None,
    top_k: int = 10,
    users: str | Path | Sequence[str] | None = None,
    context: pd.DataFrame | None = None,
    rules: BusinessRules | dict | None = None,
    candidates: str | Path | Sequence[str] | None = None,
    exclude_categories: str | Sequence[str] | None = None,
    max_per_category: int | None = None,
    min_price: float | None = None,
    max_price: float | None = None,
    include_seen: bool | None = None,
    output: str | Path | None = None,
    copy_channel: str | None = None,
    copy_output: str | Path | None = None,
    locale: str = "zh",
    campaign: str = "default",
    currency: str | None = None,
    report_path: str | Path | None = None,
    out_db: str | None = None,
    out_table: str = "recommendations",
    copy_table: str = "marketing_copy",
    run_id: str | None = None,
    engine: str = "local",
    spark_master: str | None = None,
    observer: Observer = _SILENT,
    **load_options,
) -> RecommendResult:
    """Load → score with a saved model, a fitted one or a newly trained one → rules → write → copy/report/warehouse.

    Parameters
    ----------
    data : Interactions, str or Path
        Loaded interactions, or a file/URL read with ``load_options`` (see :func:`load`).
    model, model_path, params, save_model, device, seed
        A fitted model or a registry name to train (``params`` a mapping or ``["epochs=30"]``,
        ``save_model`` a folder to keep it in); or ``model_path``, a saved model (no training).
    users, context
        Ids to score (a list, or an id file whose other columns become ``context``); default every customer.
    rules, candidates, exclude_categories, max_per_category, min_price, max_price, include_seen
        Business rules (see :func:`business_rules`). A ``candidates`` file with title/category/price
        columns also brings products the model has never seen, scored through the content path.
    output : str or Path, optional
        Recommendations file (.csv, .parquet, .jsonl); None writes no file.
    copy_channel, copy_output, locale, campaign, currency
        With ``copy_channel`` ("sms", "push", "email"), marketing copy too, written to ``copy_output`` (default:
        beside ``output``).
    report_path : str or Path, optional
        Also an HTML report of the data, the recommendations and the copy here.
    out_db, out_table, copy_table, run_id
        Also write to this SQLAlchemy URL, replacing rows of the same ``run_id`` (default: :func:`new_run_id`).
    engine, spark_master
        ``"local"`` (this process) or ``"spark"``: score on Spark (``spark_master``, default ``local[*]``) with
        the model at ``model_path``, writing ``output`` as a Parquet dataset folder (see :mod:`aigc_biz.spark`).
    observer : Observer
        Told what happens (loading, training epochs, scoring progress, warnings).
    """
    started = time.perf_counter()
    copy_target = copy_output
    if copy_channel and copy_target is None and output is not None:
        copy_target = Path(output).with_name(Path(output).stem + f"_copy_{copy_channel}.csv")
    check_job(
        inputs={"the data": data, "--users": users, "--candidates": candidates, "--model-path": model_path},
        outputs={"-o": output, "the copy file": copy_target, "--save-model": save_model},
        out_db=out_db,
        tables=(out_table, copy_table) if copy_channel else (out_table,),
        run_id=run_id,
        frame_outputs=(output, copy_target),
        report_path=report_path,
        models={model: parse_params(params)} if model_path is None and isinstance(model, str) else None,
        choices=(*_copy_choices(copy_channel, locale), ("--engine", engine, ("local", "spark"))),
    )
    if engine == "spark":
        _check_spark_job(model_path, output, users, copy_channel, report_path, out_db, save_model, candidates)
    loaded = _as_data(data, load_options, observer)
    warnings = list(loaded.warnings) if not isinstance(data, Interactions) else []
    if model_path is not None:
        fitted = load_model(model_path, loaded)
        observer.info(f"Loaded model {fitted.name} from {model_path}")
        for warning in fitted.schema_warnings_:
            observer.warning(warning)
        warnings += fitted.schema_warnings_
    elif isinstance(model, str):
        fitted = train(
            loaded,
            model,
            parse_params(params),
            device=device,
            seed=seed,
            save=save_model,
            progress=lambda d: observer.epoch(model, d),
        )
    else:
        fitted = model
    if isinstance(users, (str, Path)):
        users, file_context = read_id_list(users, "user_id")
        context = file_context if context is None else context
    elif users is not None:
        users = [str(u) for u in users]
    new_items = None
    if isinstance(candidates, (str, Path)):
        # a candidates file with title/category/price columns also describes products the model never saw
        candidates, new_items = read_id_list(candidates, "item_id")
    rules = business_rules(
        rules,
        candidates=candidates,
        exclude_categories=exclude_categories,
        max_per_category=max_per_category,
        min_price=min_price,
        max_price=max_price,
        include_seen=include_seen,
    )
    if engine == "spark":
        return _spark_job(loaded, fitted, model_path, top_k, rules, output, spark_master, warnings, started)
    n_users = loaded.n_users if users is None else len(users)
    recs = recommend(
        loaded,
        fitted,
        top_k=top_k,
        users=users,
        rules=rules,
        context=context,
        progress=lambda n=1: observer.advance("recommending", n, n_users),
        new_items=new_items,
    )
    for warning in recs.attrs.get("warnings", []):
        observer.warning(warning)
    warnings += recs.attrs.get("warnings", [])
    run = run_id or new_run_id()
    outputs: dict[str, Any] = {}
    if output is not None:
        outputs["recommendations"] = write(recs, path=output)
    if out_db:
        write(recs, db=out_db, table=out_table, run_id=run, kind="recommendations", model=fitted.name)
        outputs["recommendations_table"] = out_table
    customers = int(recs["user_id"].nunique())
    short = int((recs.groupby("user_id").size() < top_k).sum()) + (n_users - customers)
    copied = None
    if copy_channel:
        copied = copy(recs, loaded, channel=copy_channel, locale=locale, campaign=campaign, currency=currency)
        if copy_target is not None:
            outputs["copy"] = write(copied.frame, path=copy_target)
        if out_db:
            write(copied.frame, db=out_db, table=copy_table, run_id=run, kind="copy")
            outputs["copy_table"] = copy_table
    built = None
    if report_path is not None:
        meta = {
            "model": fitted.name,
            "parameters": fitted.get_params(),
            "seed": seed,
            "top_k": top_k,
            "device": str(getattr(fitted, "device_", "cpu")),
        }
        built = report(
            loaded, report_path, recs=recs, copy=None if copied is None else copied.frame, locale=locale, meta=meta
        )
        outputs["report"] = built.html_path
    return RecommendResult(
        recs=recs,
        model=fitted,
        top_k=top_k,
        run_id=run,
        customers=customers,
        customers_short_of_k=short,
        outputs=outputs,
        copy=copied,
        report=built,
        warnings=warnings,
        seconds=time.perf_counter() - started,
    )


def _check_spark_job(model_path, output, users, copy_channel, report_path, out_db, save_model, candidates):
    """What ``engine="spark"`` needs and cannot do, refused before anything is read (one line each)."""
    from aigc_biz.spark import require_pyspark

    require_pyspark()
    if model_path is None:
        raise InputError(
            "--engine spark scores a saved model: pass --model-path", hint="train it first with `aigc-biz train`"
        )
    if output is None or Path(output).suffix.lower() != ".parquet":
        raise InputError(
            f"--engine spark writes a Parquet dataset folder: give -o a path ending .parquet, not {output}"
        )
    refused = {
        "--users": users,
        "--copy": copy_channel,
        "--report": report_path,
        "--out-db": out_db,
        "--save-model": save_model,
    }
    given = [flag for flag, value in refused.items() if value]
    if given:
        raise InputError(f"--engine spark does not do {', '.join(given)}", hint="use the local engine for those")
    if isinstance(candidates, (str, Path)):
        _, new_items = read_id_list(candidates, "item_id")
        if new_items is not None and len(new_items.columns) > 1:
            raise InputError(
                "--engine spark takes a --candidates list of ids, not new products with attributes",
                file=str(candidates),
                hint="score new products with the local engine",
            )


def _spark_job(loaded, fitted, model_path, top_k, rules, output, master, warnings, started) -> RecommendResult:
    """Score on Spark and write the Parquet folder; the counts come from one pass over what was written."""
    from aigc_biz import spark

    recs = spark.recommend_data(loaded, model_path, top_k, rules=rules, master=master, model=fitted)
    spark.write_parquet(recs, output)
    written = recs.sparkSession.read.parquet(str(Path(output).resolve()))
    per_user = written.groupBy("user_id").count()
    customers = per_user.count()
    rows = int(per_user.agg({"count": "sum"}).first()[0] or 0)
    short = per_user.filter(per_user["count"] < top_k).count() + (loaded.n_users - customers)
    warnings += unknown_items_warnings(int((fitted.item_positions(loaded.item_ids, strict=False) < 0).sum()), loaded)
    return RecommendResult(
        recs=pd.DataFrame(),
        model=fitted,
        top_k=top_k,
        run_id=new_run_id(),
        customers=int(customers),
        customers_short_of_k=int(short),
        outputs={"recommendations": Path(output)},
        warnings=warnings,
        seconds=time.perf_counter() - started,
        rows=rows,
        engine="spark",
    )


@dataclass
class EvaluateResult:
    """A leaderboard and where it was written (``json``, ``metrics_table``, ``report``)."""

    leaderboard: Any
    run_id: str
    outputs: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict:
        """JSON-ready: the leaderboard's dict (what ``aigc-biz evaluate --json`` prints)."""
        return self.leaderboard.to_dict()


def evaluate_job(
    data: Interactions | str | Path | None = None,
    *,
    models: str | Sequence[str] = ("pop", "itemknn", "ease", "cvae", "cgan"),
    split: str = "random",
    horizon: str | None = None,
    include_seen: bool = False,
    ks: str | Sequence[int] = (10, 20, 50),
    seed: int = 0,
    params: dict | Sequence[str] | None = None,
    json_path: str | Path | None = None,
    report_path: str | Path | None = None,
    locale: str = "en",
    out_db: str | None = None,
    out_table: str = "metrics",
    run_id: str | None = None,
    observer: Observer = _SILENT,
    **load_options,
) -> EvaluateResult:
    """Load, rank ``models`` on a split, and write the leaderboard as JSON, a metrics table and/or a report.

    ``models`` and ``ks`` may be comma-separated strings; ``params`` per model, a mapping
    ``{"cvae": {"epochs": 20}}`` or ``["cvae.epochs=20"]``.
    """
    started = time.perf_counter()
    names = split_list(models) or []
    per_model = parse_model_params(params)
    check_job(
        inputs={"the data": data},
        outputs={"--json-out": json_path},
        out_db=out_db,
        tables=(out_table,),
        run_id=run_id,
        report_path=report_path,
        models={name: per_model.get(name, {}) for name in names},
        choices=(("--locale", locale, _locales()),) if report_path is not None else (),
    )
    loaded = _as_data(data, load_options, observer)
    try:
        cutoffs = [int(k) for k in split_list(ks if isinstance(ks, str) else [str(k) for k in ks]) or []]
    except ValueError:
        raise InputError(f"cut-offs must be whole numbers, got {ks!r}") from None
    board = evaluate(
        loaded,
        names,
        split=split,
        ks=cutoffs,
        seed=seed,
        params=per_model,
        horizon=horizon,
        include_seen=include_seen,
        progress=lambda event: observer.advance("evaluating", 1, len(names)) if event.get("stage") == "done" else None,
    )
    run = run_id or new_run_id()
    outputs: dict[str, Any] = {}
    if json_path is not None:
        from aigc_biz.io.files import write_json

        outputs["json"] = write_json(board.to_dict(), json_path)
    if out_db:
        write(metrics_frame(board), db=out_db, table=out_table, run_id=run, kind="metrics")
        outputs["metrics_table"] = out_table
    if report_path is not None:
        outputs["report"] = report(loaded, report_path, leaderboard=board, locale=locale).html_path
    return EvaluateResult(leaderboard=board, run_id=run, outputs=outputs, seconds=time.perf_counter() - started)


@dataclass
class CopyJobResult:
    """Rendered messages (``copy``, a CopyResult), where they went, and a preview text when asked for."""

    copy: Any
    run_id: str
    outputs: dict[str, Any] = field(default_factory=dict)
    preview: str = ""
    seconds: float = 0.0

    def summary(self) -> dict:
        """JSON-ready: what ``aigc-biz copy --json`` prints."""
        result = self.copy
        return {
            "messages": int(len(result.frame)),
            "dropped": int(result.dropped),
            "output": self.outputs.get("copy"),
            "variants": {str(k): int(v) for k, v in result.variant_counts.items()},
            "rule_counts": {str(k): int(v) for k, v in result.rule_counts.items()},
            "messages_per_second": round(result.messages_per_second, 1) if result.messages_per_second else None,
        }


def copy_job(
    recs: pd.DataFrame | str | Path,
    data: Interactions | str | Path | None = None,
    *,
    channel: str = "sms",
    locale: str = "zh",
    campaign: str = "default",
    template: str | Path | None = None,
    strict: bool = False,
    currency: str | None = None,
    max_items: int | None = None,
    forbidden_words: Sequence[str] | None = None,
    preview: int = 0,
    output: str | Path | None = None,
    out_db: str | None = None,
    out_table: str = "marketing_copy",
    run_id: str | None = None,
    observer: Observer = _SILENT,
    **load_options,
) -> CopyJobResult:
    """Messages for every customer in ``recs`` (a frame or a recommendations file), written to ``output``/``out_db``.

    ``data`` (loaded, or a file/URL read with ``load_options``; also ``db=`` alone) supplies customer
    names and item details; without it the copy uses what ``recs`` carries.
    """
    started = time.perf_counter()
    check_job(
        inputs={"the recommendations": recs, "the data": data, "--template": template},
        outputs={"-o": output},
        out_db=out_db,
        tables=(out_table,),
        run_id=run_id,
        frame_outputs=(output,),
        choices=_copy_choices(channel, locale),
    )
    frame = _as_frame(recs)
    loaded = None
    if data is not None or load_options.get("db"):
        loaded = _as_data(data, load_options, observer)
    options = {
        k: v
        for k, v in (("currency", currency), ("max_items", max_items), ("forbidden_words", forbidden_words))
        if v is not None
    }
    result = copy(
        frame, loaded, channel=channel, locale=locale, campaign=campaign, template=template, strict=strict, **options
    )
    run = run_id or new_run_id()
    outputs: dict[str, Any] = {}
    if output is not None:
        outputs["copy"] = write(result.frame, path=output)
    if out_db:
        write(result.frame, db=out_db, table=out_table, run_id=run, kind="copy")
        outputs["copy_table"] = out_table
    text = ""
    if preview:
        from aigc_biz.copywriting import preview as render_preview

        text = render_preview(result, preview)
    return CopyJobResult(copy=result, run_id=run, outputs=outputs, preview=text, seconds=time.perf_counter() - started)


def report_job(
    data: Interactions | str | Path | None = None,
    output: str | Path = "out/report.html",
    *,
    recs: pd.DataFrame | str | Path | None = None,
    leaderboard=None,
    copy=None,
    locale: str = "en",
    meta: dict | None = None,
    observer: Observer = _SILENT,
    **load_options,
):
    """Load (unless loaded) and write the HTML report; ``recs``/``copy`` may be frames or files,
    ``leaderboard`` a Leaderboard, its dict or a JSON file from ``evaluate --json-out``. Returns a ReportResult."""
    check_job(
        inputs={"the data": data, "--recs": recs, "--eval": leaderboard, "--copy": copy},
        report_path=output,
    )
    loaded = _as_data(data, load_options, observer)
    return report(
        loaded,
        output,
        recs=_as_frame(recs),
        leaderboard=_as_leaderboard(leaderboard),
        copy=_as_frame(copy),
        locale=locale,
        meta=meta,
    )
