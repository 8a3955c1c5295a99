"""Reading from the PostgreSQL and MariaDB servers on loopback (skipped when a server is not running)."""
from __future__ import annotations

import uuid

import pytest

from aigc_biz.data import load_interactions, read_table
from aigc_biz.errors import InputError

pytestmark = pytest.mark.server

SERVERS = {
    "postgresql": "postgresql+psycopg://postgres:NotShown42@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
}


@pytest.fixture(params=sorted(SERVERS))
def orders_table(request):
    sa = pytest.importorskip("sqlalchemy")
    url = SERVERS[request.param]
    engine = sa.create_engine(url)
    name = f"orders_{uuid.uuid4().hex[:8]}"
    try:
        with engine.begin() as con:
            con.execute(sa.text(f"CREATE TABLE {name} (customer_id BIGINT, sku VARCHAR(32), qty INTEGER)"))
            con.execute(sa.text(f"INSERT INTO {name} VALUES (:c, :s, :q)"),
                        [{"c": 9007199254740993, "s": "0042", "q": 2}, {"c": None, "s": "0043", "q": 1},
                         {"c": 17, "s": "0042", "q": -1}, {"c": 17, "s": "0043", "q": 4}])
    except sa.exc.OperationalError:
        pytest.skip(f"{request.param} is not running on loopback")
    yield url, name
    with engine.begin() as con:
        con.execute(sa.text(f"DROP TABLE {name}"))
    engine.dispose()


def test_table_read_in_chunks_with_exact_bigint_ids(orders_table):
    url, name = orders_table
    frame = read_table(url, table=name, chunksize=1)
    assert frame["customer_id"].tolist()[:1] == ["9007199254740993"]
    data = load_interactions(url, table=name)
    assert list(data.user_ids) == ["17", "9007199254740993"]
    assert data.warnings == ["1 row with empty customer_id dropped (first at row 2)",
                             "1 row with negative qty (returns) dropped (first at row 3)"]
    query = load_interactions(url, query=f"SELECT customer_id, sku, qty FROM {name} WHERE qty > 1")
    assert sorted(query.user_ids) == ["17", "9007199254740993"]


def test_unknown_table_lists_tables_and_hides_the_password(orders_table):
    url, name = orders_table
    with pytest.raises(InputError, match="no table named 'missing'; the database has") as info:
        read_table(url, table="missing")
    assert "NotShown42" not in str(info.value)
