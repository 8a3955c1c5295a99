"""The SAME I/O tests run against SQLite, PostgreSQL and MariaDB.

Server URLs come from AIGC_BIZ_TEST_PG_URL / AIGC_BIZ_TEST_MYSQL_URL (defaults: the local test servers).
An unreachable server skips its tests with the reason shown by ``-ra`` — except under CI=true, where
it fails: a CI job must not pass by silently testing SQLite only.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

SERVER_URLS = {
    "postgresql": os.environ.get("AIGC_BIZ_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "mariadb": os.environ.get("AIGC_BIZ_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}
_reachable: dict[str, str | None] = {}


def server_url(backend: str) -> str:
    """The URL of a reachable server; pytest.skip (pytest.fail under CI=true) otherwise."""
    url = SERVER_URLS[backend]
    if backend not in _reachable:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            _reachable[backend] = None
        except Exception as exc:  # any failure to connect means "not available here"
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            _reachable[backend] = f"{backend} not reachable at {sa.make_url(url).render_as_string()}: {reason}"
        finally:
            engine.dispose()
    reason = _reachable[backend]
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: database tests must run)")
        pytest.skip(reason)
    return url


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db_url(request, tmp_path) -> str:
    """A database URL: a fresh SQLite file, or a local server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return server_url(request.param)


class Target:
    """A database URL and a unique table name in it, with the two queries the tests need."""

    def __init__(self, url: str, table: str):
        self.url = url
        self.table = table

    def _run(self, fn):
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                return fn(conn, sa.Table(self.table, sa.MetaData(), autoload_with=conn))
        finally:
            engine.dispose()

    def count(self, run_id: str | None = None) -> int:
        def query(conn, t):
            q = sa.select(sa.func.count()).select_from(t)
            return conn.execute(q if run_id is None else q.where(t.c.run_id == run_id)).scalar_one()

        return self._run(query)

    def distinct(self, *columns: str) -> int:
        """Number of distinct combinations of ``columns``."""

        def query(conn, t):
            groups = sa.select(*[t.c[c] for c in columns]).group_by(*[t.c[c] for c in columns]).subquery()
            return conn.execute(sa.select(sa.func.count()).select_from(groups)).scalar_one()

        return self._run(query)

    def rows(self, *columns: str) -> list[tuple]:
        """Rows (all columns but generated_at, or the named ones), sorted: to compare before and after."""

        def query(conn, t):
            cols = [t.c[c] for c in columns] or [c for c in t.columns if c.name != "generated_at"]
            # reflected MySQL DOUBLE would read back as a Decimal rounded to 10 places: read the driver's float
            cols = [sa.type_coerce(c, sa.Double()).label(c.name) if isinstance(c.type, sa.Float) else c for c in cols]
            return sorted((tuple(r) for r in conn.execute(sa.select(*cols))), key=repr)

        return self._run(query)

    def exists(self) -> bool:
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                return sa.inspect(conn).has_table(self.table)
        finally:
            engine.dispose()

    def drop(self) -> None:
        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as conn:
                sa.Table(self.table, sa.MetaData()).drop(conn, checkfirst=True)
        finally:
            engine.dispose()


@pytest.fixture
def target(db_url):
    """A unique table name on each backend, dropped after the test (servers are shared between runs)."""
    result = Target(db_url, "t_" + uuid.uuid4().hex[:16])
    yield result
    result.drop()


@pytest.fixture
def make_target():
    """``make_target("mariadb")`` (or a URL): a fresh table name on that server, dropped after the test."""
    made: list[Target] = []

    def make(backend_or_url: str) -> Target:
        url = server_url(backend_or_url) if backend_or_url in SERVER_URLS else backend_or_url
        made.append(Target(url, "t_" + uuid.uuid4().hex[:16]))
        return made[-1]

    yield make
    for target in made:
        target.drop()
