"""SQL sinks: one transaction per write, idempotent per ``run_id``, no credentials in any message.

:func:`write_table` creates the target table when it is absent (from the documented schema of its
``kind``, with an index on ``run_id``), then in ONE transaction deletes the rows of this ``run_id`` and
inserts the new ones in chunks. Re-running a run replaces its rows; a failure (or a killed process)
rolls back, leaving the table exactly as it was. Table names are validated and turned into
SQLAlchemy ``Table`` objects, never formatted into SQL text.

Schemas (every column NOT NULL unless marked NULL; ``generated_at`` is the write's UTC time; FLOAT is
double precision — DOUBLE on MySQL/MariaDB, whose FLOAT is single precision; MySQL tables are utf8mb4
and InnoDB, with a binary collation on ``run_id`` so that run ids compare exactly):

- ``recommendations``: run_id VARCHAR(64), model VARCHAR(64) NULL, user_id VARCHAR(255), rank INTEGER,
  item_id VARCHAR(255), score FLOAT, title TEXT NULL, category VARCHAR(255) NULL, generated_at TIMESTAMP,
  reason VARCHAR(16) NULL (``repeat``/``new`` with ``--include-seen``), new_item BOOLEAN NULL (a product
  from ``--candidates`` the model did not know). These last two are *optional*: a table created before
  they existed is written without them (a warning gives the ``ALTER TABLE`` that adds them), so an older
  warehouse table keeps working.
- ``copy``: run_id VARCHAR(64), user_id VARCHAR(255), channel VARCHAR(32), locale VARCHAR(16),
  variant VARCHAR(64) NULL, subject TEXT NULL, body TEXT, item_ids TEXT NULL (JSON array when given a
  list), chars INTEGER, sms_parts INTEGER NULL, warnings TEXT NULL, generated_at TIMESTAMP
- ``metrics``: run_id VARCHAR(64), model VARCHAR(64), metric VARCHAR(64), k INTEGER NULL, mean FLOAT,
  low FLOAT NULL, high FLOAT NULL, generated_at TIMESTAMP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from aigc_biz.errors import InputError, OutputError
from aigc_biz.redaction import check_url, mask_url

log = logging.getLogger(__name__)

#: ``name`` or ``schema.name``: letters, digits and underscores, not starting with a digit
_IDENTIFIER = re.compile(r"^(?:([A-Za-z_][A-Za-z0-9_]{0,62})\.)?([A-Za-z_][A-Za-z0-9_]{0,62})$")


def _columns(kind: str) -> list[sa.Column]:
    """Fresh Column objects for ``kind`` (a Column belongs to one Table, so build them per table)."""

    def col(name, type_, nullable=False):
        return sa.Column(name, type_, nullable=nullable)

    stamp = col("generated_at", sa.DateTime())
    if kind == "recommendations":
        return [
            col("run_id", sa.String(64)),
            col("model", sa.String(64), True),
            col("user_id", sa.String(255)),
            col("rank", sa.Integer()),
            col("item_id", sa.String(255)),
            col("score", sa.Double()),
            col("title", sa.Text(), True),
            col("category", sa.String(255), True),
            stamp,
            col("reason", sa.String(16), True),
            col("new_item", sa.Boolean(), True),
        ]
    if kind == "copy":
        return [
            col("run_id", sa.String(64)),
            col("user_id", sa.String(255)),
            col("channel", sa.String(32)),
            col("locale", sa.String(16)),
            col("variant", sa.String(64), True),
            col("subject", sa.Text(), True),
            col("body", sa.Text()),
            col("item_ids", sa.Text(), True),
            col("chars", sa.Integer()),
            col("sms_parts", sa.Integer(), True),
            col("warnings", sa.Text(), True),
            stamp,
        ]
    if kind == "metrics":
        return [
            col("run_id", sa.String(64)),
            col("model", sa.String(64)),
            col("metric", sa.String(64)),
            col("k", sa.Integer(), True),
            col("mean", sa.Double()),
            col("low", sa.Double(), True),
            col("high", sa.Double(), True),
            stamp,
        ]
    raise InputError(f"unknown table kind {kind!r}", hint="use recommendations, copy or metrics")


KINDS = ("recommendations", "copy", "metrics")

#: NULL-able columns added after tables of the kind were in use: an existing table may lack them
_OPTIONAL = {"recommendations": ("reason", "new_item")}

#: tries of one write when it loses a race with a concurrent writer (see :func:`_lost_race`)
_ATTEMPTS = 3


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write_table` wrote: ``rows`` rows of ``run_id`` into ``table`` in ``seconds``."""

    rows: int
    seconds: float
    table: str
    run_id: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


# --- engines and names ---------------------------------------------------------------------
def safe_url(url: str | sa.URL | Engine) -> str:
    """The URL as it may appear in a message or a log: password and secret query values as ``***``."""
    if isinstance(url, Engine):
        url = url.url
    if isinstance(url, sa.URL):
        url = url.render_as_string(hide_password=False)
    return mask_url(url)


def make_engine(url: str | None = None, env_var: str = "AIGC_BIZ_DB_URL", **engine_options) -> Engine:
    """A SQLAlchemy engine for ``url``, or for the URL in environment variable ``env_var``.

    Nothing is connected yet. Keeping the URL in the environment keeps passwords out of shell history
    and pipeline files. Raises InputError for a missing or malformed URL or a driver that is not
    installed; messages show the URL with its password hidden.
    """
    url = url or os.environ.get(env_var)
    if not url:
        raise InputError("no database URL given", hint=f"pass a SQLAlchemy URL or set {env_var}")
    try:
        parsed = check_url(sa.make_url(url), str(url))
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise InputError(
            f"not a database URL: {safe_url(url)}" + (f": {exc}" if isinstance(exc, ValueError) else ""),
            hint="e.g. sqlite:///warehouse.db or postgresql+psycopg://user@host/db",
        ) from None
    try:
        return sa.create_engine(parsed, **engine_options)
    except (ModuleNotFoundError, sa.exc.NoSuchModuleError) as exc:
        raise InputError(
            f"no driver for {safe_url(parsed)}: {exc}",
            hint="pip install 'aigc-biz[postgres]' (psycopg) or 'aigc-biz[mysql]' (pymysql)",
        ) from None


def validate_identifier(name: str) -> tuple[str | None, str]:
    """Split ``"table"`` or ``"schema.table"`` into ``(schema, table)``; InputError for anything else.

    Only letters, digits and underscores are allowed, so a name can never carry SQL
    (``"x; drop table y"`` is refused).
    """
    match = _IDENTIFIER.match(name) if isinstance(name, str) else None
    if match is None:
        raise InputError(
            f"invalid table name {name!r}", hint="letters, digits and underscores only, optionally schema.table"
        )
    return match.group(1), match.group(2)


def table_for(
    name: str,
    kind: str = "recommendations",
    metadata: sa.MetaData | None = None,
    *,
    key_collation: str | None = None,
    without: tuple[str, ...] = (),
) -> sa.Table:
    """The SQLAlchemy ``Table`` of ``kind``'s documented schema named ``name`` (with its run_id index).

    ``key_collation``: the collation of ``run_id`` on MySQL/MariaDB (see :func:`_key_collation`).
    ``without``: optional columns an existing table lacks (see ``_OPTIONAL``).
    """
    schema, table = validate_identifier(name)
    columns = [c for c in _columns(kind) if c.name not in without]
    if key_collation:
        columns[0] = sa.Column("run_id", sa.String(64, collation=key_collation), nullable=False)
    index_name = f"ix_{table}_run_id"
    if len(index_name) > 60:  # MySQL refuses identifiers over 64 characters
        index_name = f"ix_{table[:40]}_{hashlib.sha1(table.encode()).hexdigest()[:8]}_run_id"
    # utf8mb4: Chinese names and emoji fit whatever the MySQL/MariaDB server's default charset is
    # InnoDB: a MyISAM default engine could not roll a failed write back
    result = sa.Table(
        table, metadata or sa.MetaData(), *columns, schema=schema, mysql_charset="utf8mb4", mysql_engine="InnoDB"
    )
    sa.Index(index_name, result.c.run_id)
    return result


# --- turning a frame into rows ----------------------------------------------------------------
def _as_text(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        return json.dumps([str(v) for v in value], ensure_ascii=False)
    return str(value)


def _first(mask: np.ndarray) -> int | None:
    """Position of the first True in ``mask`` (None when there is none)."""
    return int(np.argmax(mask)) if mask.any() else None


def _as_flag(value):
    """True/False for a bool-like cell (``True``, ``1``, ``"true"``…); None when it is not one."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text)


def _column_values(series: pd.Series, column: sa.Column) -> list:
    """Python values for one column (ids as str, numbers as int/float, missing as None), checked.

    Vectorised: a million rows take a fraction of a second.
    """
    name = column.name
    missing = series.isna().to_numpy()
    if isinstance(column.type, sa.Boolean):
        flags = series.map(_as_flag, na_action="ignore")
        bad = _first(~missing & flags.isna().to_numpy())
        if bad is not None:
            raise InputError("expected true or false", column=name, row=bad)
        values = [None if m else bool(v) for m, v in zip(missing, flags.tolist())]
    elif isinstance(column.type, (sa.Integer, sa.Float)):
        try:
            numbers = pd.to_numeric(series, errors="raise").astype("float64").to_numpy()
        except (ValueError, TypeError):
            raise InputError("expected numbers", column=name) from None
        missing = missing | ~np.isfinite(numbers)
        if isinstance(column.type, sa.Integer):
            fraction = _first(~missing & (numbers != np.round(numbers)))
            if fraction is not None:
                raise InputError("expected a whole number", column=name, row=fraction)
            values = np.where(missing, 0, numbers).astype(np.int64).tolist()
        else:
            values = np.where(missing, 0.0, numbers).tolist()
    else:
        if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
            text = series.astype(object)
        else:  # numbers, lists (item_ids) and other objects become text
            text = series.map(_as_text, na_action="ignore").astype(object)
        length = getattr(column.type, "length", None)
        if length and len(text):
            too_long = _first(text.str.len().fillna(0).to_numpy() > length)
            if too_long is not None:
                raise InputError(f"value longer than {length} characters", column=name, row=too_long)
        values = text.tolist()
    if not column.nullable:
        bad = _first(missing)
        if bad is not None:
            raise InputError("missing (or infinite) value in a required column", column=name, row=bad)
    if missing.any():
        for i in np.flatnonzero(missing).tolist():
            values[i] = None
    return values


def frame_to_columns(
    df: pd.DataFrame, table: sa.Table, *, run_id: str, model: str | None, generated_at: datetime
) -> dict[str, list]:
    """Column name -> Python values for ``table``: the frame's columns checked against the schema.

    InputError (naming the column and the first bad row, counted from 0) for a missing required
    column, a missing value in a NOT NULL column or a text longer than its VARCHAR — checked here,
    before anything is written, because SQLite would silently accept a too-long value that
    PostgreSQL and MariaDB refuse.
    """
    n = len(df)
    constant = {"run_id": run_id, "generated_at": generated_at}
    if model is not None and "model" in table.c:
        constant["model"] = model
    missing = [c.name for c in table.columns if c.name not in constant and c.name not in df.columns and not c.nullable]
    if missing:
        raise InputError(
            f"the frame has no column(s) {', '.join(missing)} needed by this table",
            hint="columns: " + ", ".join(c.name for c in table.columns),
        )
    columns: dict[str, list] = {}
    for column in table.columns:
        if column.name in constant:
            columns[column.name] = [constant[column.name]] * n
        elif column.name in df.columns:
            columns[column.name] = _column_values(df[column.name].reset_index(drop=True), column)
        else:
            columns[column.name] = [None] * n
    return columns


def _row_chunks(columns: dict[str, list], chunksize: int):
    """Lists of row dicts of at most ``chunksize`` rows (built per chunk: a million dicts at once
    would make the garbage collector crawl)."""
    names = list(columns)
    n = len(next(iter(columns.values()), []))
    for start in range(0, n, chunksize):
        yield [dict(zip(names, row)) for row in zip(*(v[start : start + chunksize] for v in columns.values()))]


# --- writing ----------------------------------------------------------------------------------
#: drivers whose own executemany is fed directly: SQLAlchemy's per-row parameter handling costs more
#: than the insert itself (SQLite 2.5x the rows/s, pymysql 1.2x; bench/bench_sql.py)
_DRIVER_EXECUTEMANY = frozenset({"pysqlite", "pymysql"})


def _send_chunks(conn, target: sa.Table, columns: dict[str, list], chunksize: int):
    """Insert the rows chunk by chunk inside ``conn``'s transaction; yield each chunk's size once sent.

    psycopg 3 (PostgreSQL) uses COPY, about 6x the rows/s of SQLAlchemy's multi-row INSERTs; SQLite and
    pymysql get the driver's executemany of the compiled ``target.insert()``; any other driver
    SQLAlchemy's executemany of ``target.insert()``. Names are never formatted into SQL by hand.
    """
    n = len(next(iter(columns.values()), []))
    dialect = conn.dialect
    if dialect.driver == "psycopg":
        from psycopg import sql

        name = sql.Identifier(*([target.schema] if target.schema else []), target.name)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            name, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        with conn.connection.dbapi_connection.cursor() as cursor:
            for start in range(0, n, chunksize):
                with cursor.copy(statement) as copy:
                    for row in zip(*(values[start : start + chunksize] for values in columns.values())):
                        copy.write_row(row)
                yield min(chunksize, n - start)
        return
    if dialect.driver in _DRIVER_EXECUTEMANY:
        compiled = target.insert().compile(dialect=dialect, column_keys=list(columns))
        values = {name: _bound(target.c[name], vals, dialect) for name, vals in columns.items()}
        statement = str(compiled)
        for start in range(0, n, chunksize):
            if compiled.positional:  # sqlite3: tuples in the statement's parameter order
                chunk = list(zip(*(values[key][start : start + chunksize] for key in compiled.positiontup)))
            else:  # pymysql: dicts keyed by column
                keys = list(values)
                chunk = [dict(zip(keys, row)) for row in zip(*(values[k][start : start + chunksize] for k in keys))]
            conn.exec_driver_sql(statement, chunk)
            yield len(chunk)
        return
    insert = target.insert()
    for chunk in _row_chunks(columns, chunksize):
        conn.execute(insert, chunk)
        yield len(chunk)


def _bound(column: sa.Column, values: list, dialect) -> list:
    """``values`` as the driver takes them: the type's bind processor applied (SQLite stores datetimes as text)."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None or not values:
        return values
    if values.count(values[0]) == len(values):  # run_id, model, generated_at: one value for every row
        return [process(values[0])] * len(values)
    return [process(v) for v in values]


def _db_errors(engine: Engine) -> tuple[type[BaseException], ...]:
    """SQLAlchemy's errors, plus the driver's own (raised by the COPY path, which bypasses SQLAlchemy)."""
    try:
        dbapi = engine.dialect.loaded_dbapi
    except Exception:  # a dialect without a loaded driver: only SQLAlchemy's errors can occur
        dbapi = None
    driver_error = getattr(dbapi, "Error", None)
    return (sa.exc.SQLAlchemyError,) + ((driver_error,) if isinstance(driver_error, type) else ())


def _check_existing(conn, table: sa.Table, name: str, kind: str) -> tuple[str, ...]:
    """The optional columns the existing table lacks; InputError when it lacks a required one."""
    have = {c["name"].lower() for c in sa.inspect(conn).get_columns(table.name, schema=table.schema)}
    optional = _OPTIONAL.get(kind, ())
    missing = [c.name for c in table.columns if c.name.lower() not in have and c.name not in optional]
    if missing:
        raise InputError(
            f"table {name!r} exists but lacks column(s) {', '.join(missing)}",
            hint="write to a new table name, or add the columns",
        )
    return tuple(c for c in optional if c.lower() not in have)


def _warn_dropped(conn, table: sa.Table, name: str, dropped: tuple[str, ...], columns: dict[str, list]) -> None:
    """Log, with the DDL that adds them, the optional columns whose values an older table cannot keep."""
    lost = [c for c in dropped if any(v is not None for v in columns.get(c, ()))]
    if not lost:
        return
    adds = "; ".join(
        f"ALTER TABLE {name} ADD COLUMN {c} {table.c[c].type.compile(dialect=conn.dialect)} NULL" for c in lost
    )
    log.warning("table %s has no column(s) %s, so they were not stored; to keep them: %s", name, ", ".join(lost), adds)


def _is_mysql(dialect) -> bool:
    return dialect.name in ("mysql", "mariadb")


def _key_collation(dialect) -> str | None:
    """A binary collation for ``run_id`` on MySQL/MariaDB, whose default ``*_general_ci`` makes ``Nightly-A``,
    ``nightly-a`` and ``nightly-á`` one run. MariaDB's ``nopad`` variant also tells ``'a '`` from ``'a'``
    (:func:`check_run_id` refuses surrounding spaces anyway, for MySQL's PAD SPACE ``utf8mb4_bin``)."""
    if not _is_mysql(dialect):
        return None
    return "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_bin"


def _check_mysql_table(conn, table: sa.Table, name: str) -> None:
    """InputError for an existing MySQL/MariaDB table that cannot keep this write's promises: a
    non-transactional engine (MyISAM, Aria, MEMORY: a failed write would leave partial rows) or a
    ``run_id`` that compares ignoring case, accents or trailing spaces (tables made before 0.x)."""
    where = {"schema": table.schema, "table": table.name}
    in_schema = "TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :table"
    engine = conn.execute(
        sa.text(
            "SELECT t.ENGINE, e.TRANSACTIONS FROM information_schema.TABLES t "
            f"LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE WHERE t.{in_schema}"
        ),
        where,
    ).first()
    if engine is not None and engine[1] != "YES":
        raise InputError(
            f"table {name!r} uses the {engine[0]} engine, which cannot roll back a failed write "
            "(partial rows would be left)",
            hint=f"convert it: ALTER TABLE {name} ENGINE=InnoDB, or write to a new table",
        )
    collation = conn.execute(
        sa.text(f"SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE {in_schema} AND COLUMN_NAME = 'run_id'"),
        where,
    ).scalar()
    wanted = _key_collation(conn.dialect)
    if collation and not collation.endswith("_bin"):
        raise InputError(
            f"table {name!r} compares run ids ignoring case and accents (run_id collation {collation}), "
            "so runs like 'Nightly-A' and 'nightly-a' would replace each other's rows",
            hint=f"ALTER TABLE {name} MODIFY run_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE {wanted} NOT NULL",
        )


def check_run_id(run_id) -> str:
    """``run_id`` when it can name a run; InputError for an empty one, one over 64 characters, or one
    with surrounding spaces or control characters (databases that pad or trim would merge it with another)."""
    if not isinstance(run_id, str) or not run_id or len(run_id) > 64:
        raise InputError(f"run_id must be a non-empty text of at most 64 characters, got {run_id!r}")
    if run_id != run_id.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in run_id):
        raise InputError(f"run_id must not start or end with spaces or hold control characters, got {run_id!r}")
    return run_id


#: PostgreSQL SQLSTATEs and MySQL error numbers of a race another writer won: deadlock, serialization
#: failure, a table created meanwhile. PostgreSQL reports a concurrent CREATE TABLE of the same name
#: three ways: 42P07 (relation exists), 23505 (pg_type unique violation) and 42710 (duplicate object:
#: 'type "t" already exists', raised when the loser registers the table's row type)
_RACE_SQLSTATES = frozenset({"40P01", "40001", "42P07", "23505", "42710"})
#: MySQL/MariaDB: deadlock (1213), table exists (1050), lock wait timeout (1205), and "Table definition
#: has changed, please retry transaction" (1412: a read view older than a table created meanwhile)
_RACE_MYSQL_ERRORS = frozenset({1213, 1050, 1205, 1412})


def _lost_race(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None) or exc
    if getattr(orig, "sqlstate", None) in _RACE_SQLSTATES or getattr(orig, "pgcode", None) in _RACE_SQLSTATES:
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in _RACE_MYSQL_ERRORS


def _db_error(exc: Exception, what: str, engine: Engine) -> OutputError:
    """A one-line OutputError from a driver error: the driver's first line, no SQL, no parameters."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return OutputError(f"{what} failed at {safe_url(engine)}: {text}; the table is unchanged")


def write_table(
    df: pd.DataFrame,
    url_or_engine: str | Engine,
    table: str,
    *,
    run_id: str,
    kind: str = "recommendations",
    chunksize: int = 10_000,
    model: str | None = None,
) -> WriteResult:
    """Replace the rows of ``run_id`` in ``table`` with ``df``, in one transaction.

    Parameters
    ----------
    df : DataFrame
        Columns of ``kind``'s schema (see the module docstring); ``run_id`` and ``generated_at`` are
        added, ``model`` too when given. Extra columns are ignored, missing NULL-able ones stored as NULL.
    url_or_engine : str or Engine
        SQLAlchemy URL (``sqlite:///out.db``, ``postgresql+psycopg://…``, ``mysql+pymysql://…``) or engine.
    table : str
        ``name`` or ``schema.name``; created with an index on ``run_id`` when absent.
    run_id : str
        Identifies this run: its earlier rows are deleted first, so a re-run never duplicates.
    kind : {"recommendations", "copy", "metrics"}
    chunksize : int
        Rows per executemany call.
    model : str, optional
        Stored in the ``model`` column (recommendations, metrics) for every row.

    Returns
    -------
    WriteResult

    Raises
    ------
    InputError
        Bad table name, wrong kind, missing columns or values, an existing table with other columns.
    OutputError
        The database refused or failed (read-only, unreachable, permission); the table is unchanged.
    """
    if kind not in KINDS:
        raise InputError(f"unknown table kind {kind!r}", hint="use " + ", ".join(KINDS))
    check_run_id(run_id)
    if chunksize < 1:
        raise InputError(f"chunksize must be positive, got {chunksize}")
    target = table_for(table, kind)
    started = time.perf_counter()
    generated_at = datetime.now(timezone.utc).replace(tzinfo=None)
    columns = frame_to_columns(df, target, run_id=run_id, model=model, generated_at=generated_at)
    n_rows = len(df)
    engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
    try:
        # two writers creating the same new table race (PostgreSQL: a catalogue unique violation,
        # MariaDB: "already exists" or a deadlock); the loser's transaction rolled back, so it retries
        for attempt in range(_ATTEMPTS):
            step = "connecting"
            try:
                with engine.begin() as conn:
                    step = "creating the table"
                    into, values = target, columns
                    if sa.inspect(conn).has_table(target.name, schema=target.schema):
                        dropped = _check_existing(conn, target, table, kind)
                        if _is_mysql(conn.dialect):
                            _check_mysql_table(conn, target, table)
                        if dropped:
                            _warn_dropped(conn, target, table, dropped, columns)
                            into = table_for(table, kind, without=dropped)
                            values = {c: v for c, v in columns.items() if c not in dropped}
                    else:
                        table_for(table, kind, key_collation=_key_collation(conn.dialect)).create(conn)
                    step = f"replacing run {run_id!r} in {table!r}"
                    conn.execute(into.delete().where(into.c.run_id == run_id))
                    written = 0
                    for sent in _send_chunks(conn, into, values, chunksize):
                        written += sent
                        log.debug(
                            "run %s: %d of %d rows sent to %s (not yet committed)", run_id, written, n_rows, table
                        )
                break
            except _db_errors(engine) as exc:
                if attempt + 1 < _ATTEMPTS and _lost_race(exc):
                    log.info("run %s: %s lost a race with another writer; retrying", run_id, step)
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise _db_error(exc, step, engine) from None
    finally:
        if engine is not url_or_engine:
            engine.dispose()
    seconds = time.perf_counter() - started
    log.info("wrote %d rows of run %s to %s at %s in %.2f s", n_rows, run_id, table, safe_url(engine), seconds)
    return WriteResult(rows=n_rows, seconds=seconds, table=table, run_id=run_id)
