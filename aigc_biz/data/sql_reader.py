"""Read a table or a query result from any SQLAlchemy database URL, in chunks.

Kept apart from :mod:`aigc_biz.data.readers` so that reading a CSV never imports SQLAlchemy.
A table name is only ever used after the database's own inspector has listed it, and is turned into
SQL by SQLAlchemy (``Table(..., autoload_with=...)`` + ``select()``), never by string formatting.
Passwords in the URL never reach an error message.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from aigc_biz.errors import InputError
from aigc_biz.redaction import check_url, mask_url

__all__ = ["read_sql_table"]


def read_sql_table(
    url: str, *, table: str | None = None, query: str | None = None, chunksize: int = 50_000
) -> pd.DataFrame:
    """Rows of ``table`` or of ``query`` at ``url``, fetched ``chunksize`` rows at a time.

    Integer columns come back exact (nullable integers, never floats), so long numeric ids survive.
    """
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    try:
        parsed = check_url(make_url(url), url)
    except Exception as exc:  # the parser's own message repeats the URL, password included
        raise InputError(
            "not a valid database URL" + (f": {exc}" if isinstance(exc, ValueError) else ""),
            file=mask_url(url),
            hint="expected e.g. sqlite:///orders.db or postgresql+psycopg://user@host/db",
        ) from None
    name = mask_url(url)
    password = parsed.password

    def scrub(exc: BaseException) -> str:
        """First line of a driver message, with the password blanked out should a driver echo it."""
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        line = text[0] if text else type(exc).__name__
        return line.replace(str(password), "***") if password else line

    if (table is None) == (query is None):
        raise InputError(
            "a database URL needs exactly one of table= or query=",
            file=name,
            hint="pass --table NAME or --query 'SELECT ...'",
        )
    if chunksize < 1:
        raise InputError(f"chunksize must be at least 1, got {chunksize}", file=name)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        # SQLite would silently create an empty database for a mistyped path
        if database and database != ":memory:" and not database.startswith("file:") and not Path(database).exists():
            raise InputError("database file not found", file=name)
    try:
        # psycopg: prepare every statement, so a query is one statement ("select 1; commit; drop ..." is refused)
        engine = sa.create_engine(
            parsed, **({"connect_args": {"prepare_threshold": 0}} if parsed.get_driver_name() == "psycopg" else {})
        )
    except Exception as exc:  # unknown dialect or missing driver package
        raise InputError(
            f"cannot use this database URL: {scrub(exc)}",
            file=name,
            hint="install its driver, e.g. pip install 'aigc-biz[postgres]' or 'aigc-biz[mysql]'",
        ) from None
    what = f"table {table!r}" if table is not None else "the query"
    try:
        with engine.connect() as connection:
            _read_only(connection)
            connection = connection.execution_options(stream_results=True)
            if table is not None:
                statement = sa.select(_reflect_table(sa, connection, table, name))
            else:
                statement = sa.text(query)
            chunks = list(pd.read_sql(statement, connection, chunksize=chunksize, dtype_backend="numpy_nullable"))
    except InputError:
        raise
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:  # pandas re-wraps some driver errors
        hint = "a --query runs read-only, as one statement" if query is not None else None
        raise InputError(f"reading {what} failed: {scrub(exc)}", file=name, hint=hint) from None
    finally:
        engine.dispose()
    if not chunks:
        raise InputError(f"{what} returned no rows", file=name)
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    if len(frame) == 0:
        raise InputError(f"{what} returned no rows", file=name)
    return frame


def _read_only(connection) -> None:
    """Make everything ``connection`` runs read-only: a ``--query`` reads, it never drops or writes.

    SQLite: ``PRAGMA query_only``; PostgreSQL: a read-only transaction (and one statement per query,
    see the engine's ``prepare_threshold``); MySQL/MariaDB: a read-only session (this engine's own, disposed
    afterwards), since ``START TRANSACTION READ ONLY`` still lets DDL such as ``DROP TABLE`` through.
    """
    backend = connection.dialect.name
    if backend == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")
    elif backend == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
    elif backend in ("mysql", "mariadb"):
        connection.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")


def _reflect_table(sa, connection, table: str, name: str):
    """The table object for a name the inspector knows; ``schema.table`` allowed."""
    inspector = sa.inspect(connection)
    schema, bare = None, table
    known = set(inspector.get_table_names()) | set(inspector.get_view_names())
    if table not in known and "." in table:
        schema, bare = table.split(".", 1)
        try:
            known_in_schema = set(inspector.get_table_names(schema=schema)) | set(
                inspector.get_view_names(schema=schema)
            )
        except sa.exc.SQLAlchemyError:
            known_in_schema = set()
        if bare not in known_in_schema:
            schema, bare = None, table
    if schema is None and bare not in known:
        shown = ", ".join(repr(t) for t in sorted(known)[:30]) or "none"
        raise InputError(
            f"no table named {table!r}; the database has {shown}",
            file=name,
            hint="pass --table with one of those, or --query 'SELECT ...'",
        )
    return sa.Table(bare, sa.MetaData(), schema=schema, autoload_with=connection)
