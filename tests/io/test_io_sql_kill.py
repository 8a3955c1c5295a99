"""A writer killed with SIGKILL in the middle of its transaction leaves no partial run behind.

The child is a real process running the real ``write_table``. A logging handler on the library's
per-chunk DEBUG record (no mock: it only pauses) makes it print ``writing`` and sleep once two chunks
have gone into the open transaction, so the kill always lands mid-write, however slow the machine is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from aigc_biz.io.sql import write_table

#: rows written per backend: ~200k to SQLite as the issue asks; fewer to the servers to keep the suite fast
ROWS = {"sqlite": 200_000, "postgresql": 100_000, "mariadb": 50_000}

CHILD = r"""
import logging, sys, time
import numpy as np, pandas as pd
from aigc_biz.io.sql import write_table
url, table, run_id, rows, chunk = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

class PauseMidWrite(logging.Handler):
    def emit(self, record):
        if "rows sent" in record.getMessage() and record.args[1] >= 2 * chunk:
            print("writing", flush=True)  # old rows deleted, two chunks sent, nothing committed
            time.sleep(120)

logger = logging.getLogger("aigc_biz.io.sql")
logger.setLevel(logging.DEBUG)
logger.addHandler(PauseMidWrite())

users = np.arange(rows) // 10
frame = pd.DataFrame({"user_id": [f"{u:08d}" for u in users], "rank": np.arange(rows) % 10 + 1,
                      "item_id": [f"SKU{i:06d}" for i in np.arange(rows) % 5000], "score": np.linspace(1, 0, rows)})
write_table(frame, url, table, run_id=run_id, chunksize=chunk)
print("finished", flush=True)
"""


def full_run(rows: int) -> pd.DataFrame:
    """The frame the child writes, for the complete runs done in this process."""
    idx = np.arange(rows)
    return pd.DataFrame(
        {
            "user_id": [f"{u:08d}" for u in idx // 10],
            "rank": idx % 10 + 1,
            "item_id": [f"SKU{i:06d}" for i in idx % 5000],
            "score": np.linspace(1, 0, rows),
        }
    )


def kill_mid_write(url: str, table: str, run_id: str, rows: int) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, table, run_id, str(rows), str(rows // 10)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = child.stdout.readline()  # blocks until the child is paused inside its transaction
        assert line.strip() == "writing", child.stderr.read()
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()


@pytest.mark.parametrize("db_url", list(ROWS), indirect=True)
def test_killed_writer_then_rerun_leaves_exactly_one_copy(request, target):
    rows = ROWS[request.node.callspec.params["db_url"]]
    kill_mid_write(target.url, target.table, "nightly", rows)  # killed on the very first run
    assert not target.exists() or target.count() == 0
    write_table(full_run(rows), target.url, target.table, run_id="nightly", chunksize=50_000)
    assert target.count() == rows

    kill_mid_write(target.url, target.table, "nightly", rows)  # killed while replacing a complete run
    assert target.count() == rows
    write_table(full_run(rows), target.url, target.table, run_id="nightly", chunksize=50_000)
    assert target.count() == rows
    assert target.distinct("user_id", "rank") == rows  # exactly one copy: no (user, rank) twice
