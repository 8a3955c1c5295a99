"""Issue 15, second half, on the real servers: run ids compared exactly, non-transactional MariaDB
tables refused, concurrent first writes, and read-only queries (``inspect --query 'drop table …'``)."""

from __future__ import annotations

import threading
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from aigc_biz.cli import app
from aigc_biz.errors import InputError, OutputError
from aigc_biz.io.sql import table_for, write_table

runner = CliRunner()


def _frame(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"user_id": ["u"] * n, "rank": range(1, n + 1), "item_id": ["i"] * n, "score": [1.0] * n})


def _execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture
def mariadb_target(make_target):
    return make_target("mariadb")


# --- Medium 6: run ids that differ in case, accents or spaces are different runs ---------------------------
def test_run_ids_differing_in_case_or_accent_stay_separate_runs(target):
    for run_id in ("Nightly-A", "nightly-a", "nightly-á", "nightly-a2"):
        write_table(_frame(), target.url, target.table, run_id=run_id)
    assert target.count() == 12
    assert all(target.count(run_id) == 3 for run_id in ("Nightly-A", "nightly-a", "nightly-á"))
    with pytest.raises(InputError, match="must not start or end with spaces"):
        write_table(_frame(), target.url, target.table, run_id="nightly-a ")
    assert target.count() == 12


def test_an_older_mariadb_table_with_a_case_insensitive_run_id_is_refused_with_the_fix(mariadb_target):
    url, name = mariadb_target.url, mariadb_target.table
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        table_for(name).create(conn)  # as tables were made before: the server's utf8mb4_general_ci
    engine.dispose()
    with pytest.raises(InputError, match=r"compares run ids ignoring case and accents \(run_id collation utf8mb4_"):
        write_table(_frame(), url, name, run_id="nightly-a")
    assert mariadb_target.count() == 0
    # the hint's ALTER makes the table usable
    _execute(
        url, f"ALTER TABLE {name} MODIFY run_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL"
    )
    write_table(_frame(), url, name, run_id="Nightly-A")
    write_table(_frame(), url, name, run_id="nightly-a")
    assert mariadb_target.count() == 6


def test_new_mariadb_tables_are_innodb_with_a_binary_run_id(mariadb_target):
    write_table(_frame(), mariadb_target.url, mariadb_target.table, run_id="r1")
    engine = sa.create_engine(mariadb_target.url)
    with engine.connect() as conn:
        engine_name, collation = conn.execute(
            sa.text(
                "SELECT t.ENGINE, c.COLLATION_NAME FROM information_schema.TABLES t JOIN information_schema.COLUMNS c "
                "ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND c.COLUMN_NAME = 'run_id' "
                "WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_NAME = :t"
            ),
            {"t": mariadb_target.table},
        ).one()
    engine.dispose()
    assert (engine_name, collation) == ("InnoDB", "utf8mb4_nopad_bin")


# --- Low: MyISAM ----------------------------------------------------------------------------------------
def test_a_myisam_table_is_refused_through_the_cli_and_left_as_it_was(mariadb_target, tmp_path):
    url, name = mariadb_target.url, mariadb_target.table
    write_table(_frame(), url, name, run_id="earlier")
    _execute(url, f"ALTER TABLE {name} ENGINE=MyISAM")
    orders = tmp_path / "orders.csv"
    pd.DataFrame({"user_id": ["a", "b", "c"], "item_id": ["x", "y", "x"]}).to_csv(orders, index=False)
    result = runner.invoke(
        app,
        ["recommend", str(orders), "-m", "pop", "-o", str(tmp_path / "r.csv"), "--out-db", url, "--out-table", name],
    )
    assert result.exit_code == 2, result.output
    assert f"table '{name}' uses the MyISAM engine, which cannot roll back a failed write" in result.stderr
    assert f"ALTER TABLE {name} ENGINE=InnoDB" in result.stderr
    assert mariadb_target.rows("run_id") == [("earlier",)] * 3


# --- Low: concurrent first writes ----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_two_concurrent_first_writes_to_a_new_table_both_land(backend, make_target):
    for _ in range(4):  # the race is not won the same way each time
        target = make_target(backend)
        barrier = threading.Barrier(2)
        errors = []

        def write(run_id, target=target, barrier=barrier, errors=errors):
            barrier.wait()
            try:
                write_table(_frame(50), target.url, target.table, run_id=run_id)
            except Exception as exc:  # collected: the assertion shows it
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(f"run-{i}",)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert target.count("run-0") == 50 and target.count("run-1") == 50


def test_a_postgresql_duplicate_type_on_create_is_retried_as_a_lost_race(make_target, caplog):
    """A CREATE TABLE that loses to a concurrent one can fail with 42710, 'type "t" already exists'
    (the winner's row type is visible before its table is). Here a standing enum type of the table's name
    raises the same error on every try: each is retried as a lost race, and the last ends in one
    OutputError line with no table created."""
    target = make_target("postgresql")
    _execute(target.url, f"CREATE TYPE {target.table} AS ENUM ('a')")
    try:
        with caplog.at_level("INFO", logger="aigc_biz.io.sql"), pytest.raises(OutputError) as info:
            write_table(_frame(5), target.url, target.table, run_id="r")
        assert f'type "{target.table}" already exists' in str(info.value)
        assert "\n" not in str(info.value)
        assert sum("lost a race with another writer; retrying" in m for m in caplog.messages) == 2
        engine = sa.create_engine(target.url)
        try:
            assert not sa.inspect(engine).has_table(target.table)
        finally:
            engine.dispose()
    finally:
        _execute(target.url, f"DROP TYPE IF EXISTS {target.table}")


def test_mariadb_table_definition_changed_counts_as_a_lost_race(mariadb_target):
    """MariaDB's 1412 ('Table definition has changed, please retry transaction'), raised for real: a
    transaction whose snapshot predates a table created meanwhile reads it. write_table retries it."""
    from aigc_biz.io.sql import _lost_race

    engine = sa.create_engine(mariadb_target.url)
    try:
        with engine.connect() as old, engine.connect() as other:
            old.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            old.exec_driver_sql("SELECT 1")
            other.exec_driver_sql(f"CREATE TABLE {mariadb_target.table} (a INT) ENGINE=InnoDB")
            other.commit()
            with pytest.raises(sa.exc.OperationalError) as info:
                old.exec_driver_sql(f"SELECT * FROM {mariadb_target.table}").fetchall()
            old.rollback()
    finally:
        engine.dispose()
    assert info.value.orig.args[0] == 1412
    assert _lost_race(info.value)


# --- Low: inspect --query runs read-only -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    [
        "DROP TABLE {t}",
        "DELETE FROM {t}",
        "INSERT INTO {t} (user_id, item_id) VALUES ('z', 'z')",
        "SELECT * FROM {t}; DROP TABLE {t}",
        "SELECT * FROM {t}; COMMIT; DROP TABLE {t}",
    ],
)
def test_inspect_query_cannot_change_the_database(db_url, query):
    table = "t_" + uuid.uuid4().hex[:12]
    _execute(db_url, f"CREATE TABLE {table} (user_id VARCHAR(10), item_id VARCHAR(10))")
    _execute(db_url, f"INSERT INTO {table} VALUES ('a', 'x'), ('b', 'y')")
    try:
        result = runner.invoke(app, ["inspect", db_url, "--query", query.format(t=table)])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        ok = runner.invoke(app, ["inspect", db_url, "--query", f"SELECT * FROM {table}", "--json"])
        assert ok.exit_code == 0, ok.output
        assert '"interactions": 2' in ok.stdout
    finally:
        _execute(db_url, f"DROP TABLE IF EXISTS {table}")


def test_a_read_only_query_leaves_no_read_only_session_behind(db_url, tmp_path, make_target):
    """The read-only setting belongs to the reader's own engine: a later write on the same URL works."""
    table = "t_" + uuid.uuid4().hex[:12]
    _execute(db_url, f"CREATE TABLE {table} (user_id VARCHAR(10), item_id VARCHAR(10))")
    _execute(db_url, f"INSERT INTO {table} VALUES ('a', 'x'), ('b', 'y'), ('a', 'y')")
    out = make_target(db_url)
    try:
        result = runner.invoke(
            app,
            ["recommend", db_url, "--query", f"SELECT * FROM {table}", "-m", "pop", "-o", str(tmp_path / "r.csv")]
            + ["--out-db", db_url, "--out-table", out.table, "--run-id", "r1"],
        )
        assert result.exit_code == 0, result.output
        assert out.count("r1") > 0
    finally:
        _execute(db_url, f"DROP TABLE IF EXISTS {table}")
