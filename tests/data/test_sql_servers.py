"""Reading from the PostgreSQL and MariaDB test servers.

URLs come from AIGC_BIZ_TEST_PG_URL / AIGC_BIZ_TEST_MYSQL_URL (the same variables as tests/io), defaulting
to the loopback servers. The servers run on every machine, CI included: an unreachable server skips its
tests locally (the reason shows with ``-ra``) but FAILS under CI=true, so a CI run cannot pass without them.
The PostgreSQL default carries a password (trust auth accepts any) so the password-hiding test has one to hide.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from aigc_biz.data import load_interactions, read_table
from aigc_biz.errors import InputError

pytestmark = pytest.mark.server

SERVERS = {
    "postgresql": os.environ.get(
        "AIGC_BIZ_TEST_PG_URL", "postgresql+psycopg://postgres:NotShown42@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get("AIGC_BIZ_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


def reachable_engine(backend: str) -> sa.Engine:
    """An engine that has just answered ``SELECT 1``; skip (fail under CI=true) when the server does not."""
    url = SERVERS[backend]
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as con:
            con.execute(sa.text("SELECT 1"))
    except Exception as exc:  # no driver, refused, wrong credentials: the server is not usable here
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        reason = f"{backend} not reachable at {sa.make_url(url).render_as_string()}: {reason}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: the database servers must be running)")
        pytest.skip(reason)
    return engine


@pytest.fixture(params=sorted(SERVERS))
def orders_table(request):
    engine = reachable_engine(request.param)
    name = f"orders_{uuid.uuid4().hex[:8]}"
    with engine.begin() as con:  # the server answered: a failure from here on is an error, not a skip
        con.execute(sa.text(f"CREATE TABLE {name} (customer_id BIGINT, sku VARCHAR(32), qty INTEGER)"))
        con.execute(
            sa.text(f"INSERT INTO {name} VALUES (:c, :s, :q)"),
            [
                {"c": 9007199254740993, "s": "0042", "q": 2},
                {"c": None, "s": "0043", "q": 1},
                {"c": 17, "s": "0042", "q": -1},
                {"c": 17, "s": "0043", "q": 4},
            ],
        )
    yield SERVERS[request.param], name
    with engine.begin() as con:
        con.execute(sa.text(f"DROP TABLE {name}"))
    engine.dispose()


def test_table_read_in_chunks_with_exact_bigint_ids(orders_table):
    url, name = orders_table
    frame = read_table(url, table=name, chunksize=1)
    assert frame["customer_id"].tolist()[:1] == ["9007199254740993"]
    data = load_interactions(url, table=name)
    assert list(data.user_ids) == ["17", "9007199254740993"]
    assert data.warnings == [
        "1 row with empty customer_id dropped (first at row 2)",
        "1 row with negative qty (returns) dropped (first at row 3)",
    ]
    query = load_interactions(url, query=f"SELECT customer_id, sku, qty FROM {name} WHERE qty > 1")
    assert sorted(query.user_ids) == ["17", "9007199254740993"]


def test_unknown_table_lists_the_tables(orders_table):
    url, name = orders_table
    with pytest.raises(InputError, match="no table named 'missing'; the database has") as info:
        read_table(url, table="missing")
    assert repr(name) in str(info.value)


def test_unknown_table_message_hides_the_password():
    url = sa.make_url(SERVERS["postgresql"])
    assert url.password, "AIGC_BIZ_TEST_PG_URL needs a password for this test to check anything"
    engine = reachable_engine("postgresql")
    engine.dispose()
    with pytest.raises(InputError, match="no table named 'missing'") as info:
        read_table(url.render_as_string(hide_password=False), table="missing")
    message = str(info.value)
    assert url.password not in message
    assert url.render_as_string(hide_password=True) in message  # the URL is shown, with *** for the password
