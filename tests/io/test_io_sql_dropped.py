"""The server drops the connection in the middle of a write made by the real `aigc-biz recommend --out-db`:
exit code 1, one clear line without credentials, and the rows of the earlier complete run untouched.

The child process pauses inside its open transaction (a logging handler on the library's per-chunk
DEBUG record waits for a line on stdin); the test then has the server end that session
(pg_terminate_backend / KILL), and lets the child carry on into the dead connection.
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
from aigc_biz.cli import main

class PauseMidWrite(logging.Handler):
    def emit(self, record):
        if "rows sent" in record.getMessage():
            print("writing", flush=True)   # first chunk sent, nothing committed
            sys.stdin.readline()           # wait until the server has dropped us

logger = logging.getLogger("aigc_biz.io.sql")
logger.setLevel(logging.DEBUG)
logger.addHandler(PauseMidWrite())
sys.argv = ["aigc-biz"] + sys.argv[1:]
main()
"""

TERMINATE = {
    # the only session idle inside a transaction on the test database is the paused child
    "postgresql": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND state LIKE 'idle in transaction%' "
    "AND pid <> pg_backend_pid()",
    "mariadb": "SELECT trx_mysql_thread_id FROM information_schema.innodb_trx",
}


def drop_open_sessions(url: str, backend: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.text(TERMINATE[backend])).fetchall()
            if backend == "mariadb":
                for (thread_id,) in found:
                    conn.execute(sa.text(f"KILL {int(thread_id)}"))
            return len(found)
    finally:
        engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql", "mariadb"], indirect=True)
def test_dropped_connection_mid_write_exits_1_and_keeps_earlier_rows(request, target, tmp_path):
    backend = request.node.callspec.params["db_url"]
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
        assert child.stdout.readline().strip() == "writing", child.stderr.read()
        assert drop_open_sessions(target.url, backend) == 1
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
