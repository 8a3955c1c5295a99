"""Issue 15, second half: what an attack pass broke through the command line stays fixed.

Outputs that would overwrite inputs or each other, options checked before any work, special files
behind ``-o``, signals mid-write, early Ctrl-C, exit 2 (not "unexpected") for bad input, non-finite
scores and the usability gaps. Database items are in tests/io/test_io_hardening.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import aigc_biz.api as ab
from aigc_biz.cli import app
from aigc_biz.errors import ModelError
from aigc_biz.models.pop import Popularity
from aigc_biz.resources import sample_data_path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = sample_data_path()
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def small(tmp_path) -> Path:
    """A small orders table (pop on it takes well under a second)."""
    rows = [(f"u{u}", f"i{(u * 7 + j) % 40:03d}", 1 + (u + j) % 3) for u in range(60) for j in range(4)]
    path = tmp_path / "orders.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "quantity"]).to_csv(path, index=False)
    return path


def _refused_before_work(result, *, match: str):
    """Exit 2, one line, and nothing loaded or trained before the refusal."""
    assert result.exit_code == 2, result.output
    assert re.search(match, result.stderr), result.stderr
    assert "Loaded" not in result.stderr and "epoch" not in result.stderr
    assert "Traceback" not in result.output


# --- Medium 4: outputs overwrite inputs and each other --------------------------------------------
def test_recommend_onto_its_own_data_is_refused_before_training(small):
    before = small.read_bytes()
    result = invoke("recommend", small, "--model", "cvae", "-o", small)
    _refused_before_work(result, match=r"-o is the same file as the data")
    assert small.read_bytes() == before


def test_an_output_reached_through_a_symlink_or_another_spelling_is_the_same_file(small, tmp_path):
    alias = tmp_path / "alias.csv"
    alias.symlink_to(small)
    before = small.read_bytes()
    for target in (alias, tmp_path / "." / small.name):
        _refused_before_work(invoke("recommend", small, "-m", "pop", "-o", target), match="same file as the data")
    assert small.read_bytes() == before


def test_copy_onto_its_recommendations_is_refused(small, tmp_path):
    recs = tmp_path / "r.csv"
    assert invoke("recommend", small, "-m", "pop", "-o", recs, "-q").exit_code == 0
    before = recs.read_bytes()
    result = invoke("copy", recs, "--data", small, "-o", recs)
    _refused_before_work(result, match="same file as the recommendations")
    assert recs.read_bytes() == before


def test_report_json_beside_the_html_may_not_replace_the_recommendations(small, tmp_path):
    out = tmp_path / "x.json"
    result = invoke("recommend", small, "-m", "pop", "-o", out, "--report", tmp_path / "x.html")
    _refused_before_work(result, match="the report's JSON and -o are the same file")
    assert not out.exists() and not (tmp_path / "x.html").exists()


def test_report_json_may_not_replace_the_leaderboard_it_reads(small, tmp_path):
    board = tmp_path / "report.json"
    assert invoke("evaluate", small, "--models", "pop", "--k", "5", "--json-out", board, "-q").exit_code == 0
    before = board.read_bytes()
    result = invoke("report", "--data", small, "--eval", board, "-o", tmp_path / "report.html")
    _refused_before_work(result, match="the report's JSON is the same file as --eval")
    assert board.read_bytes() == before


def test_a_pipeline_writing_onto_its_own_input_is_refused_before_it_runs(small, tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text(
        f"steps:\n  - load: {{source: {small.name}}}\n  - train: {{model: pop}}\n  - recommend: {{}}\n"
        f"  - write: {{recommendations: {small.name}}}\n"
    )
    before = small.read_bytes()
    result = invoke("run", job)
    assert result.exit_code == 2, result.output
    assert "step 4 (write) recommendations is the same file as step 1 (load) source" in result.stderr
    assert small.read_bytes() == before


# --- Low: options checked too late -----------------------------------------------------------------
@pytest.mark.parametrize(
    "option, match",
    [
        (("--out-table", "bad name"), "invalid table name 'bad name'"),
        (("--run-id", "r" * 65), "at most 64 characters"),
        (("--run-id", "nightly "), "must not start or end with spaces"),
    ],
)
def test_warehouse_options_are_checked_before_training_and_before_o_is_replaced(small, tmp_path, option, match):
    out = tmp_path / "recs.csv"
    out.write_text("earlier output\n")
    result = invoke("recommend", small, "--model", "cvae", "-o", out, "--out-db", f"sqlite:///{tmp_path}/w.db", *option)
    _refused_before_work(result, match=match)
    assert out.read_text() == "earlier output\n"
    assert not (tmp_path / "w.db").exists()


def test_output_format_and_model_parameters_are_checked_before_loading(small, tmp_path):
    _refused_before_work(invoke("recommend", small, "-m", "pop", "-o", tmp_path / "r.xls"), match="extension '.xls'")
    _refused_before_work(invoke("recommend", small, "-m", "ease", "-p", "l2=x1", "-o", tmp_path / "r.csv"), match="l2")
    _refused_before_work(invoke("evaluate", small, "--models", "pop,nope"), match="unknown model 'nope'")
    _refused_before_work(invoke("copy", small, "--channel", "fax", "-o", tmp_path / "c.csv"), match="'fax'")


# --- Medium 5: unique default run ids ----------------------------------------------------------------
def test_default_run_ids_never_collide_so_two_jobs_in_one_second_keep_all_rows(small, tmp_path):
    ids = {ab.new_run_id() for _ in range(2000)}  # all within a second or two
    assert len(ids) == 2000
    url = f"sqlite:///{tmp_path}/w.db"
    runs = []
    for _ in range(2):
        result = invoke("recommend", small, "-m", "pop", "-k", "3", "-o", tmp_path / "r.csv", "--out-db", url, "--json")
        assert result.exit_code == 0, result.output
        runs.append(json.loads(result.stdout)["run_id"])
    assert runs[0] != runs[1]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.text("SELECT run_id, COUNT(*) FROM recommendations GROUP BY run_id")).all())
    engine.dispose()
    assert counts == {runs[0]: 180, runs[1]: 180}


# --- Medium 7: -o through symlinks, FIFOs and devices ----------------------------------------------------
def test_o_writes_through_a_symlink_and_keeps_the_link(small, tmp_path):
    real = tmp_path / "real" / "recs.csv"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "recs.csv"
    link.symlink_to(real)
    assert invoke("recommend", small, "-m", "pop", "-k", "2", "-o", link, "-q").exit_code == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert len(pd.read_csv(real)) == 120
    assert not [p.name for p in real.parent.iterdir() if p.name != "recs.csv"]  # no temporary file left


def test_o_streams_into_a_fifo_and_leaves_the_node(small, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = invoke("recommend", small, "-m", "pop", "-k", "2", "-o", fifo, "-q")
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    lines = received[0].decode().splitlines()
    assert lines[0].startswith("user_id,rank,item_id,score") and len(lines) == 121
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv", "pipe"]


# --- Low: SIGTERM / SIGHUP mid-write, model swap ------------------------------------------------------------
#: runs the real entry point; the CSV writer (or the model save's rename) pauses so the signal lands mid-way
CHILD = r"""
import os, signal, sys, time
from pathlib import Path
# a job started under nohup inherits an ignored SIGHUP, which the CLI rightly leaves ignored; this child
# stands for a terminal session, where a hang-up is delivered
signal.signal(signal.SIGHUP, signal.SIG_DFL)
marker = Path(sys.argv[1])
mode = sys.argv[2]
if mode == "write":
    import aigc_biz.io.files as files
    real = files._FRAME_WRITERS["csv"]
    def slow(df, handle, bom):
        real(df, handle, bom)
        handle.flush()
        marker.write_text("writing")
        time.sleep(60)
    files._FRAME_WRITERS["csv"] = slow
else:
    import aigc_biz.models.artifacts as artifacts
    real_replace = os.replace
    def paused(src, dst):
        real_replace(src, dst)
        if ".old-" in str(dst):  # the older folder moved aside, the new one not yet in place
            marker.write_text("between")
            time.sleep(60)
    artifacts.os.replace = paused
sys.argv = ["aigc-biz"] + sys.argv[3:]
from aigc_biz.cli import main
main()
"""


def _run_until(marker: Path, code: str, *args) -> subprocess.Popen:
    """A real Python process running ``code`` with ``marker`` and ``args``, once it has created ``marker``."""
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(marker), *map(str, args)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the child never reached the marker"
        time.sleep(0.005)
    return child


def _start_paused(tmp_path, mode: str, *args) -> tuple[subprocess.Popen, Path]:
    marker = tmp_path / "marker"
    return _run_until(marker, CHILD, mode, *args), marker


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_write_leaves_no_temporary_file_and_the_earlier_output(small, tmp_path, signum):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "recs.csv"
    out.write_text("earlier output\n")
    child, _ = _start_paused(tmp_path, "write", "recommend", small, "-m", "pop", "-o", out, "-q")
    child.send_signal(signum)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 128 + signum
    assert stderr.strip().splitlines() == [
        f"Stopped by {signal.Signals(signum).name}: nothing half-written was left behind."
    ]
    assert [p.name for p in out_dir.iterdir()] == ["recs.csv"]
    assert out.read_text() == "earlier output\n"


def _saved_pop(small, folder: Path) -> None:
    ab.train(ab.load(small), "pop", save=folder)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_model_save_stopped_between_its_renames_keeps_the_previous_model(small, tmp_path, signum):
    folder = tmp_path / "models" / "pop"
    _saved_pop(small, folder)
    before = (folder / "model.json").read_bytes()
    child, _ = _start_paused(tmp_path, "save", "train", small, "-m", "pop", "-o", folder, "-q")
    assert not folder.exists()  # the moment the issue found: no model at the path
    child.send_signal(signum)
    child.communicate(timeout=60)
    if signum == signal.SIGTERM:  # unwound: the older folder is put back at once
        assert child.returncode == 128 + signum
        assert folder.is_dir()
    else:  # killed outright: the next load puts it back
        assert child.returncode == -signal.SIGKILL
        assert not folder.exists()
    result = invoke("recommend", small, "--model-path", folder, "-k", "2", "-o", tmp_path / "r.csv", "-q")
    assert result.exit_code == 0, result.output
    assert (folder / "model.json").read_bytes() == before
    left = [p.name for p in folder.parent.iterdir() if p.name != "pop"]
    assert not [name for name in left if ".old-" in name]
    if signum == signal.SIGTERM:  # a killed process cannot remove its half-made new folder; a stopped one does
        assert not left


#: what the console script does (import the entry point, call it), with a marker just before the import
STARTING = r"""
import sys
from pathlib import Path
Path(sys.argv[1]).touch()
sys.argv = ["aigc-biz", "inspect", sys.argv[2]]
from aigc_biz.cli import main
main()
"""


@pytest.mark.parametrize("delay", [0.05, 0.6])
def test_ctrl_c_while_the_command_line_starts_is_one_line_and_exit_130(tmp_path, delay):
    # the first second is imports (pandas, torch); wherever the interrupt lands, one line and exit 130
    child = _run_until(tmp_path / "started", STARTING, SAMPLE)
    time.sleep(delay)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["Interrupted: nothing half-written was left behind."]


# --- Low: exit 2, not "unexpected" ------------------------------------------------------------------------
def test_parquet_list_and_struct_columns_are_read_as_json_text(tmp_path):
    path = tmp_path / "orders.parquet"
    pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "a"],
            "item_id": ["x", "y", "x", "z"],
            "tags": [[1, 2], [3], [], None],
            "meta": [{"q": 1}, {"q": 2}, {"q": 3}, {"q": 4}],
        }
    ).to_parquet(path)
    result = invoke("recommend", path, "-m", "pop", "--item-attrs", "tags", "-o", tmp_path / "r.csv", "-q")
    assert result.exit_code == 0, result.output
    data = ab.load(path, item_attrs="tags")
    tags = dict(zip(data.item_ids, data.item_features["tags"]))
    assert tags["y"] == "[3]" and tags["x"] in ("[1, 2]", "[]") and pd.isna(tags["z"])


def test_a_deeply_nested_model_json_is_a_model_error(small, tmp_path):
    folder = tmp_path / "model"
    _saved_pop(small, folder)
    manifest = json.loads((folder / "model.json").read_text())
    text = json.dumps(manifest).replace('"params": {', '"params": ' + "[" * 100_000 + "]" * 100_000 + ', "x": {', 1)
    (folder / "model.json").write_text(text)
    result = invoke("recommend", small, "--model-path", folder, "-o", tmp_path / "r.csv")
    assert result.exit_code == 2, result.output
    assert "model.json is corrupt (RecursionError" in result.stderr


@pytest.mark.parametrize(
    "param, match",
    [
        ('l2="abc"', r"parameter l2 must be float or int, got 'abc'"),
        ("max_items=[1]", r"parameter max_items must be int, got \[1\]"),
        ("l2=Infinity", "parameter l2 must be a finite number, got inf"),
        ("l2=NaN", "parameter l2 must be a finite number, got nan"),
        ("recency_half_life=-Infinity", "must be a finite number"),
    ],
)
def test_model_parameters_of_the_wrong_type_or_not_finite_exit_2(small, tmp_path, param, match):
    result = invoke("recommend", small, "-m", "ease", "-p", param, "-o", tmp_path / "r.csv")
    _refused_before_work(result, match=match)


def test_parameter_types_in_the_library_too():
    from aigc_biz.models.registry import create_model

    assert create_model("cvae", epochs=20.0).epochs == 20
    assert create_model("cvae", checkpoint_dir=Path("ckpt")).checkpoint_dir == Path("ckpt")
    with pytest.raises(ModelError, match="parameter l2 must be float or int, got True"):
        create_model("ease", l2=True)
    with pytest.raises(ModelError, match="parameter epochs must be int, got 2.5"):
        create_model("cvae", epochs=2.5)


def test_an_integral_float_for_an_int_parameter_is_taken(small, tmp_path):
    assert (
        invoke("recommend", small, "-m", "ease", "-p", "max_items=1000.0", "-o", tmp_path / "r.csv", "-q").exit_code
        == 0
    )


# --- Low: NaN or infinite scores ----------------------------------------------------------------------------
def test_weights_beyond_float32_are_refused_not_turned_into_an_empty_output(small, tmp_path):
    frame = pd.read_csv(small, dtype=str)
    frame.loc[3, "quantity"] = "1e308"
    path = tmp_path / "huge.csv"
    frame.to_csv(path, index=False)
    result = invoke("recommend", path, "-m", "ease", "-o", tmp_path / "r.csv")
    assert result.exit_code == 2, result.output
    assert "column 'quantity', row 5: weight 1e+308 is not a finite number" in result.stderr
    frame.loc[3, "quantity"], frame.loc[4, "quantity"] = "3e38", "3e38"
    frame.loc[4, ["user_id", "item_id"]] = frame.loc[3, ["user_id", "item_id"]]
    frame.to_csv(path, index=False)
    result = invoke("recommend", path, "-m", "ease", "-o", tmp_path / "r.csv")
    assert result.exit_code == 2 and "summed weights overflow" in result.stderr


class _Broken(Popularity):
    """Popularity whose scores overflow (what a broken fit gives): NaN, and +inf for one customer."""

    name = "broken"

    def score_batch(self, history, context=None):
        scores = np.full((history.shape[0], self.n_items), np.nan, dtype=np.float32)
        return scores


def test_a_model_scoring_nan_is_refused_not_an_empty_list(small):
    data = ab.load(small)
    model = _Broken().fit(data)
    with pytest.raises(ModelError, match="produced NaN or infinite scores for 60 of 60 customers"):
        ab.recommend(data, model, top_k=3)


# --- Low: usability gaps --------------------------------------------------------------------------------
def test_sheet_picks_the_excel_sheet(small, tmp_path):
    book = tmp_path / "orders.xlsx"
    with pd.ExcelWriter(book) as writer:
        pd.DataFrame({"note": ["read me"]}).to_excel(writer, sheet_name="readme", index=False)
        pd.read_csv(small, dtype=str).to_excel(writer, sheet_name="orders", index=False)
    for sheet in ("orders", "1"):
        result = invoke("inspect", book, "--sheet", sheet, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["users"] == 60
    result = invoke("inspect", book, "--sheet", "nope")
    assert result.exit_code == 2 and "no sheet named 'nope'; the workbook has 'readme', 'orders'" in result.stderr


def test_copy_and_report_read_a_table_and_copy_takes_item_attrs(small, tmp_path):
    db = tmp_path / "shop.db"
    frame = pd.read_csv(small, dtype=str)
    frame["label"] = "Item " + frame["item_id"]
    engine = sa.create_engine(f"sqlite:///{db}")
    frame.to_sql("orders", engine, index=False)
    engine.dispose()
    url = f"sqlite:///{db}"
    recs = tmp_path / "r.csv"
    assert invoke("recommend", url, "--table", "orders", "-m", "pop", "-k", "2", "-o", recs, "-q").exit_code == 0
    result = invoke(
        "copy",
        recs,
        "--data",
        url,
        "--table",
        "orders",
        "--item-attrs",
        "label",
        "--locale",
        "en",
        "-o",
        tmp_path / "c.csv",
    )
    assert result.exit_code == 0, result.output
    assert (
        invoke("report", "--data", url, "--table", "orders", "--recs", recs, "-o", tmp_path / "r.html", "-q").exit_code
        == 0
    )
    # without --table the hint names the option these commands do accept
    result = invoke("copy", recs, "--data", url, "-o", tmp_path / "c2.csv")
    assert result.exit_code == 2 and "--table" in result.stderr
    assert "--table" in invoke("copy", "--help").stdout and "--table" in invoke("report", "--help").stdout


def test_evaluate_quiet_prints_nothing(small):
    result = invoke("evaluate", small, "--models", "pop", "--k", "5", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""
