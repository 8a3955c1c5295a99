"""Scoring on Spark: the library's one scoring path, run on the executors over batches of whole customers.

>>> from aigc_biz import spark as abs_                                              # doctest: +SKIP
>>> orders = session.read.csv("orders.csv", header=True)  # doctest: +SKIP
>>> recs = abs_.recommend(orders, "models/itemknn", k=10, rules={"max_per_category": 2})  # doctest: +SKIP
>>> recs.write.parquet("out/recs.parquet")  # doctest: +SKIP

How the work is split
---------------------
- The driver reads and validates the table with the library (so every error names the same file, column and
  row as single-process ``recommend``), loads the model once, checks it and the business rules, and computes
  what spans customers: the catalogue with each item's attributes (category, price, title: from every row of
  the table), the table's last event and last purchase (the "now" that recency weights and buy-again ages
  count from). Time decay is already in the event weights it ships.
- Each customer becomes one row of a Spark DataFrame: their history row and their events in file order.
  ``mapInPandas`` hands each Python worker batches of these rows; a batch is rebuilt into
  :class:`~aigc_biz.data.Interactions` on the whole catalogue and scored by
  :func:`~aigc_biz.ranking.recommend_with_rules` and :func:`~aigc_biz.ranking.recommendation_frame`, the
  functions :func:`aigc_biz.api.recommend` calls, so the columns, the rules and the lists are the same.
- The model folder is loaded once per Python worker process (cached by path); it must be readable at the same
  path on every executor (a shared file system), as the data files are on a cluster.

Not on this engine (refused before Spark starts, one line each): ``--include-seen`` with a model that is not a
``blend`` (the blend's weight is fitted on the whole table: train ``--model blend`` and score its folder),
new products from a ``--candidates`` file with attributes (the content map is fitted on the whole table),
and ``--users`` (score everyone, or filter the table first).

``pyspark`` is the ``[spark]`` extra and is imported only here, when asked for.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aigc_biz.data.interactions import ColumnRoles, Interactions
from aigc_biz.errors import ConfigError, InputError
from aigc_biz.models.base import Recommender
from aigc_biz.ranking import BusinessRules, business_rules, catalogue_features, recommend_with_rules
from aigc_biz.ranking.rules import recommendation_frame

log = logging.getLogger(__name__)

#: the master a session starts with unless told (``--spark-master``, ``AIGC_BIZ_SPARK_MASTER``)
DEFAULT_MASTER = "local[*]"
INSTALL_HINT = "install 'aigc-biz[spark]' (pip install 'aigc-biz[spark]'; it needs Java 17)"
#: a customer id no table holds (ids are stripped text): the row that carries the table's last event
_END_OF_TABLE = "\x00aigc-biz:end-of-table"
#: loaded models per Python worker process, by folder
_LOADED: dict[str, Recommender] = {}


def require_pyspark() -> None:
    """ConfigError with the install hint when pyspark is missing (checked before any work)."""
    _pyspark_sql()


def _pyspark_sql():
    try:
        import pyspark.sql as pyspark_sql
    except ImportError:
        raise ConfigError("the Spark engine needs pyspark, which is not installed", hint=INSTALL_HINT) from None
    return pyspark_sql


def session(master: str | None = None, app_name: str = "aigc-biz"):
    """The active SparkSession, or a new one on ``master`` (default :data:`DEFAULT_MASTER`; under
    ``spark-submit``, the master it was given).

    On a local master the Python workers run this interpreter (unless ``PYSPARK_PYTHON`` says otherwise),
    so they import the same aigc_biz and torch as the driver.
    """
    pyspark_sql = _pyspark_sql()
    active = pyspark_sql.SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    master = master or os.environ.get("AIGC_BIZ_SPARK_MASTER")
    if master is None and "PYSPARK_GATEWAY_PORT" in os.environ:
        # launched by spark-submit: its --master and --conf already hold
        return pyspark_sql.SparkSession.builder.appName(app_name).getOrCreate()
    master = master or DEFAULT_MASTER
    if master.startswith("local"):
        # pyspark reads the workers' interpreter from the environment when the context starts
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = pyspark_sql.SparkSession.builder.master(master).appName(app_name).config("spark.log.level", "ERROR")
    return builder.getOrCreate()


# --- the plan the driver sends with the scoring function ------------------------------------------------
@dataclass
class ScoringPlan:
    """What every batch is scored with: the model folder, the rules and what spans customers."""

    model_path: str
    k: int
    rules: BusinessRules
    reason: bool
    item_ids: np.ndarray
    item_features: pd.DataFrame
    user_feature_columns: list[str]
    roles: ColumnRoles | None
    #: the table's last event (any weight) and last purchase (positive weight), ns since the epoch
    end_of_table: tuple[int, int] | None
    columns: tuple[str, ...]

    def schema(self) -> str:
        types = {"user_id": "string", "rank": "int", "item_id": "string", "score": "float"}
        return ", ".join(f"`{c}` {types.get(c, 'string')}" for c in self.columns)


def output_columns(model: Recommender, data: Interactions, reason: bool) -> tuple[str, ...]:
    """The columns :func:`aigc_biz.api.recommend` returns for this model and data (no new products)."""
    columns = ["user_id", "rank", "item_id", "score"] + (["reason"] if reason else [])
    known = catalogue_features(model, data).columns
    return tuple(columns + [c for c in ("title", "category") if c in known])


def plan_for(data: Interactions, model: Recommender, model_path, k: int, rules: BusinessRules) -> ScoringPlan:
    """Check ``rules`` against the model and data on the driver (errors before Spark starts), and build the plan."""
    if k < 1:
        raise InputError(f"--top-k must be at least 1, not {k}")
    if not rules.exclude_seen and model.name != "blend":
        raise InputError(
            "--include-seen on the Spark engine needs a saved blend model (its weight is fitted on the whole table)",
            hint="train one with `aigc-biz train DATA --model blend -o DIR` and pass --model-path DIR",
        )
    features = catalogue_features(model, data)
    rules.check(model.item_ids_, features)
    end = None
    if data.events is not None and "time" in data.events.columns and len(data.events):
        times = data.events["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        bought = times[data.events["weight"].to_numpy() > 0]
        end = (int(times.max()), int(bought.max()) if bought.size else int(times.max()))
    return ScoringPlan(
        model_path=str(Path(model_path).resolve()),
        k=int(k),
        rules=rules,
        reason=not rules.exclude_seen,
        item_ids=np.asarray(data.item_ids, dtype=object),
        item_features=data.item_features.reset_index(drop=True),
        user_feature_columns=[str(c) for c in data.user_features.columns],
        roles=data.roles,
        end_of_table=end,
        columns=output_columns(model, data, not rules.exclude_seen),
    )


# --- one row per customer, and back ------------------------------------------------------------------------
def customer_table(data: Interactions):
    """A pyarrow Table with one row per customer: ``user_id``, the history row (``items``, ``values``), the
    events in file order (``event_items``, ``event_weights``, ``event_times`` in ns) and the user attributes."""
    import pyarrow as pa

    matrix = data.matrix.tocsr()
    matrix.sort_indices()
    columns: dict[str, Any] = {
        "user_id": pa.array(np.asarray(data.user_ids, dtype=object).astype(str)),
        "items": _lists(matrix.indptr, matrix.indices.astype(np.int32)),
        "values": _lists(matrix.indptr, matrix.data.astype(np.float32)),
    }
    if data.events is not None:
        events = data.events
        order = np.argsort(events["user_idx"].to_numpy(np.int64), kind="stable")  # file order within a customer
        indptr = _indptr(np.bincount(events["user_idx"].to_numpy(np.int64), minlength=data.n_users))
        columns["event_items"] = _lists(indptr, events["item_idx"].to_numpy(np.int32)[order])
        columns["event_weights"] = _lists(indptr, events["weight"].to_numpy(np.float32)[order])
        if "time" in events.columns:
            times = events["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
            columns["event_times"] = _lists(indptr, times[order])
    for i, column in enumerate(data.user_features.columns):
        values = data.user_features[column].astype(object).where(data.user_features[column].notna(), None)
        columns[f"attr_{i}"] = pa.array(values.map(lambda v: None if v is None else str(v)).tolist(), pa.string())
    return pa.table(columns)


def _lists(indptr: np.ndarray, values: np.ndarray):
    import pyarrow as pa

    return pa.LargeListArray.from_arrays(pa.array(indptr.astype(np.int64)), pa.array(values))


def batch_data(pdf: pd.DataFrame, plan: ScoringPlan) -> Interactions:
    """The customers of one batch as :class:`Interactions` on the whole catalogue, with what spans customers
    (item attributes, the table's last event) taken from the plan; the same histories as in the whole table."""
    n_items = len(plan.item_ids)
    users = pdf["user_id"].to_numpy(dtype=object)
    rows, lengths = _flat(pdf["items"])
    matrix = sp.csr_matrix(
        (_flat(pdf["values"])[0].astype(np.float32), rows.astype(np.int64), _indptr(lengths)),
        shape=(len(users), n_items),
    )
    events = None
    if "event_items" in pdf.columns:
        items, counts = _flat(pdf["event_items"])
        events = pd.DataFrame(
            {
                "user_idx": np.repeat(np.arange(len(users), dtype=np.int32), counts),
                "item_idx": items.astype(np.int32),
                "weight": _flat(pdf["event_weights"])[0].astype(np.float32),
            }
        )
        if "event_times" in pdf.columns:
            events["time"] = _flat(pdf["event_times"])[0].astype(np.int64).astype("datetime64[ns]")
        if plan.end_of_table is not None:
            # the end-of-table row: ages (recency, buy-again) count from the whole table's last event and
            # purchase, not the batch's; it is never scored and holds no history
            last_event, last_purchase = plan.end_of_table
            end = pd.DataFrame(
                {
                    "user_idx": np.int32(len(users)),
                    "item_idx": np.int32(0),
                    "weight": np.array([0.0, 1.0], dtype=np.float32),
                    "time": np.array([last_event, last_purchase], dtype=np.int64).astype("datetime64[ns]"),
                }
            )
            events = pd.concat([events, end], ignore_index=True)
            users = np.append(users, _END_OF_TABLE)
            matrix = sp.vstack([matrix, sp.csr_matrix((1, n_items), dtype=np.float32)], format="csr")
    user_features = pd.DataFrame(
        {
            c: pd.Series(pdf[f"attr_{i}"].to_numpy(dtype=object), dtype="str")
            for i, c in enumerate(plan.user_feature_columns)
        },
        index=pd.RangeIndex(len(pdf)),
    ).reindex(pd.RangeIndex(len(users)))
    return Interactions(
        matrix=matrix,
        user_ids=users,
        item_ids=plan.item_ids,
        user_features=user_features,
        item_features=plan.item_features,
        events=events,
        roles=plan.roles,
    )


def _flat(lists: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The values of a column of arrays laid end to end, and each array's length."""
    lengths = np.fromiter((len(a) for a in lists), dtype=np.int64, count=len(lists))
    values = np.concatenate([np.asarray(a) for a in lists]) if lengths.sum() else np.zeros(0)
    return values, lengths


def _indptr(lengths: np.ndarray) -> np.ndarray:
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return indptr


def worker_model(path: str) -> Recommender:
    """The model saved at ``path``, loaded once per process."""
    if path not in _LOADED:
        from aigc_biz.models.artifacts import load_model

        _LOADED[path] = load_model(Path(path))
    return _LOADED[path]


def score_batches(batches: Iterator[pd.DataFrame], plan: ScoringPlan) -> Iterator[pd.DataFrame]:
    """``mapInPandas``'s function: each batch of customer rows -> their recommendations (the plan's columns)."""
    model = worker_model(plan.model_path)
    for pdf in batches:
        if len(pdf) == 0:
            continue
        data = batch_data(pdf, plan)
        top = recommend_with_rules(model, data, users=pdf["user_id"].tolist(), k=plan.k, rules=plan.rules)
        recs = recommendation_frame(model, data, top, reason=plan.reason)
        out = pd.DataFrame({c: recs[c] for c in plan.columns})
        for column in plan.columns:
            if column not in ("rank", "score"):
                out[column] = out[column].astype(object).where(out[column].notna(), None)
        yield out


# --- the entry points ------------------------------------------------------------------------------------
def recommend_data(
    data: Interactions,
    model_path: str | Path,
    k: int = 10,
    *,
    rules: BusinessRules | dict | None = None,
    spark=None,
    master: str | None = None,
    model: Recommender | None = None,
):
    """Top-``k`` for every customer of loaded ``data`` with the model saved at ``model_path``, scored on Spark.

    Returns a Spark DataFrame with :func:`aigc_biz.api.recommend`'s columns (``user_id, rank, item_id,
    score[, reason][, title, category]``) and the same rows; ``model`` is the same model already loaded on
    the driver (else it is loaded here). ``spark``: a SparkSession (default :func:`session` on ``master``);
    the rules are checked before it starts.
    """
    from aigc_biz.models.artifacts import load_model

    rules = rules if isinstance(rules, BusinessRules) else business_rules(rules)
    model = model if model is not None else load_model(Path(model_path))
    plan = plan_for(data, model, model_path, k, rules)
    spark = spark if spark is not None else session(master)
    customers = spark.createDataFrame(customer_table(data))
    return customers.mapInPandas(lambda batches: score_batches(batches, plan), plan.schema())


def recommend(spark_df, model_path: str | Path, k: int = 10, *, rules: BusinessRules | dict | None = None, **load):
    """Top-``k`` per customer of a Spark DataFrame of behaviour rows (as :func:`aigc_biz.api.load` reads a table).

    ``load``: the column roles and reading options of :func:`aigc_biz.api.load` (``user_col``,
    ``item_attrs``, ``event_weights``…). The rows are validated on the driver (``toPandas``), so it needs
    the memory for the table; the scoring, the heavy part, runs on the executors.
    Returns a Spark DataFrame (see :func:`recommend_data`).
    """
    from aigc_biz.data.loading import load_interactions
    from aigc_biz.models.artifacts import check_schema, load_model

    frame = spark_df.toPandas()
    frame.attrs["source"] = "the Spark DataFrame"
    data = load_interactions(frame, **load)
    model = load_model(Path(model_path))
    for warning in check_schema(model, data):
        log.warning("%s: %s", model_path, warning)
    return recommend_data(data, model_path, k, rules=rules, spark=spark_df.sparkSession, model=model)


def write_parquet(recs, output: str | Path) -> Path:
    """Write a Spark DataFrame as the Parquet dataset folder ``output``: into a temporary folder beside it,
    then renamed into place, so a reader never sees half a dataset (local or shared file systems)."""
    target = Path(output)
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} is a file; the Spark engine writes a Parquet dataset folder there")
    if target.is_dir() and any(not _spark_output(p.name) for p in target.iterdir()):
        raise InputError(
            f"{target} is a folder that is not a Parquet dataset written by Spark; it is left as it is",
            hint="choose another -o, or remove the folder",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        recs.write.parquet(str(tmp.resolve()))
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _spark_output(name: str) -> bool:
    """A file Spark writes into a Parquet dataset folder (parts, _SUCCESS and their .crc files)."""
    name = name.lstrip(".")
    return name.startswith(("part-", "_SUCCESS", "_committed", "_started")) or name.endswith(".crc")
