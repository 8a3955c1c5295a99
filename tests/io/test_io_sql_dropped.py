"""The server drops the connection in the middle of a write made by the real `aigc-biz recommend --out-db`:
exit code 1, one clear line without credentials, and the rows of the earlier complete run untouched.

The child process pauses inside its open transaction (a logging handler on the library's per-chunk
DEBUG record prints the server's id of every connection it has checked out, then waits for a line on
stdin); the test then has the server end exactly that session (pg_terminate_backend / KILL), and lets
the child carry on into the dead connection. Other sessions on the same server (tests running in
parallel, say) are left alone.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from aigc_biz.io.sql import write_table
from aigc_biz.resources import sample_data_path

CHILD = r"""
import logging, sys
import sqlalchemy as sa
from aigc_biz.cli import main

checked_out = {}  # pool entry -> the server's id of its session

@sa.event.listens_for(sa.pool.Pool, "connect")
def remember_session(dbapi_connection, entry):
    psycopg = type(dbapi_connection).__module__.startswith("psycopg")
    cursor = dbapi_connection.cursor()
    cursor.execute("SELECT pg_backend_pid()" if psycopg else "SELECT CONNECTION_ID()")
    entry.info["session"] = cursor.fetchone()[0]
    cursor.close()
    dbapi_connection.rollback()

@sa.event.listens_for(sa.pool.Pool, "checkout")
def lent(dbapi_connection, entry, proxy):
    checked_out[id(entry)] = entry.info["session"]

@sa.event.listens_for(sa.pool.Pool, "checkin")
def returned(dbapi_connection, entry):
    checked_out.pop(id(entry), None)

class PauseMidWrite(logging.Handler):
    def emit(self, record):
        if "rows sent" in record.getMessage():
            # first chunk sent, nothing committed: say which sessions hold the transaction
            print("writing", *sorted(checked_out.values()), flush=True)
            sys.stdin.readline()           # wait until the server has dropped us

logger = logging.getLogger("aigc_biz.io.sql")
logger.setLevel(logging.DEBUG)
logger.addHandler(PauseMidWrite())
sys.argv = ["aigc-biz"] + sys.argv[1:]
main()
"""


def drop_session(url: str, session: int) -> None:
    """Have the server end one session, by its id (a PostgreSQL backend pid, a MariaDB connection id)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": session}).scalar_one()
            else:
                conn.execute(sa.text(f"KILL {int(session)}"))
    finally:
        engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql", "mariadb"], indirect=True)
def test_dropped_connection_mid_write_exits_1_and_keeps_earlier_rows(request, target, tmp_path):
    earlier = pd.DataFrame(
        {"user_id": ["C1", "C1", "C2"], "rank": [1, 2, 1], "item_id": ["A", "B", "A"], "score": [0.9, 0.5, 0.7]}
    )
    write_table(earlier, target.url, target.table, run_id="nightly")
    before = sorted(target.rows("user_id", "rank", "item_id"))

    env = {**os.environ, "COLUMNS": "200"}
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            "recommend",
            str(sample_data_path()),
            "--model",
            "pop",
            "-q",
            "-o",
            str(tmp_path / "recs.csv"),
            "--out-db",
            target.url,
            "--out-table",
            target.table,
            "--run-id",
            "nightly",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        said = child.stdout.readline().split()
        assert said[:1] == ["writing"], child.stderr.read()
        assert len(said) == 2, f"one session should hold the write, the child has {said[1:]}"
        drop_session(target.url, int(said[1]))
        child.stdin.write("go\n")
        child.stdin.flush()
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 1, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr and target.table in lines[0]
    assert sorted(target.rows("user_id", "rank", "item_id")) == before  # the delete was rolled back too
