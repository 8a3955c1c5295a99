"""The command line as an analyst uses it: Typer's runner for most cases, one real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from aigc_biz import __version__
from aigc_biz.cli import app
from aigc_biz.resources import sample_data_path

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
SAMPLE = sample_data_path()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"aigc-biz {__version__}"


def test_every_command_has_examples_in_help():
    for command in ("inspect", "recommend", "train", "evaluate", "copy", "report", "run"):
        result = invoke(command, "--help")
        assert result.exit_code == 0, command
        assert "Examples" in result.stdout, command
        assert "aigc-biz " + command in result.stdout, command


def test_recommend_sample_gives_k_distinct_unbought_items_for_every_customer(tmp_path):
    out = tmp_path / "recs.csv"
    result = invoke("recommend", SAMPLE, "--model", "pop", "--top-k", "7", "-o", out)
    assert result.exit_code == 0, result.output
    assert "recs.csv" in result.stderr
    recs = pd.read_csv(out, dtype=str)
    orders = pd.read_csv(SAMPLE, dtype=str)
    assert list(recs.columns[:4]) == ["user_id", "rank", "item_id", "score"]
    assert {"title", "category"} <= set(recs.columns)
    assert set(recs["user_id"]) == set(orders["customer_id"])
    per_user = recs.groupby("user_id")["item_id"]
    assert (per_user.nunique() == 7).all() and (per_user.size() == 7).all()
    bought = orders[orders["quantity"].astype(int) > 0]
    seen = set(zip(bought["customer_id"], bought["product_id"]))
    assert not any((u, i) in seen for u, i in zip(recs["user_id"], recs["item_id"]))
    # ids keep their leading zeros
    assert recs["item_id"].str.startswith("0").any()


def test_recommend_json_summary(tmp_path):
    result = invoke("recommend", SAMPLE, "--model", "pop", "-o", tmp_path / "r.parquet", "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["rows"] == 10 * summary["customers"] and summary["model"] == "pop"
    assert pd.read_parquet(tmp_path / "r.parquet")["user_id"].nunique() == summary["customers"]


def test_inspect_json_reports_roles_and_sizes():
    result = invoke("inspect", SAMPLE, "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["roles"]["user"] == "customer_id" and summary["roles"]["item"] == "product_id"
    assert summary["users"] == pd.read_csv(SAMPLE, dtype=str)["customer_id"].nunique()
    assert any("negative" in w for w in summary["warnings"])


def _write_bytes(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    "name, text, encoding",
    [
        (
            "gbk.csv",
            "用户ID,商品ID,时间,数量\n001,A1,2024-01-02 10:00,1\n002,A1,2024-01-03,2\n001,B2,2024-01-04,1\n"
            "003,B2,2024-01-05,1\n003,C3,2024-01-05,1\n",
            "gbk",
        ),
        (
            "semicolon_bom.csv",
            "customer_id;product_id;quantity\n007;0042;1\n008;0042;2\n007;0099;1\n009;0099;1\n009;0100;1\n",
            "utf-8-sig",
        ),
    ],
)
def test_messy_exports_work_without_flags(tmp_path, name, text, encoding):
    data = _write_bytes(tmp_path / name, text, encoding)
    out = tmp_path / "out.csv"
    result = invoke("recommend", data, "--model", "pop", "-k", "2", "-o", out)
    assert result.exit_code == 0, result.output
    recs = pd.read_csv(out, dtype=str)
    source = pd.read_csv(data, dtype=str, encoding=encoding, sep=None, engine="python")
    assert set(recs["user_id"]) <= set(source.iloc[:, 0])
    assert set(recs["item_id"]) <= set(source.iloc[:, 1])
    assert recs["user_id"].str.startswith("00").all()


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "file not found"),
        ("customer_id,product_id\n", "no data rows"),
        ("customer_id,product_id,customer_id\n1,2,3\n", "duplicate column"),
        ("foo,bar\n1,2\n", "--user-col"),
        ("customer_id,product_id,order_time\n1,2,yesterday\n3,4,last week\n5,6,2024-13-45\n", "order_time"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = invoke("recommend", path, "--model", "pop", "-o", tmp_path / "o.csv")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "bad.csv" in lines[0]
    assert expected in lines[0]
    assert not (tmp_path / "o.csv").exists()


def test_failed_run_leaves_earlier_output_byte_identical(tmp_path):
    out = tmp_path / "recs.csv"
    assert invoke("recommend", SAMPLE, "--model", "pop", "-o", out).exit_code == 0
    before = out.read_bytes()
    result = invoke("recommend", SAMPLE, "--model", "nope", "-o", out)
    assert result.exit_code == 2 and "unknown model" in result.stderr
    result = invoke("recommend", SAMPLE, "--model", "pop", "--exclude-categories", "x", "--min-price", "1e9", "-o", out)
    assert result.exit_code == 2 and "no item" in result.stderr
    assert out.read_bytes() == before


def test_business_rules_on_the_command_line(tmp_path):
    out = tmp_path / "recs.csv"
    result = invoke(
        "recommend",
        SAMPLE,
        "--model",
        "pop",
        "-k",
        "6",
        "--max-per-category",
        "2",
        "--exclude-categories",
        "Snacks",
        "--max-price",
        "200",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    recs = pd.read_csv(out, dtype={"user_id": str, "item_id": str})
    assert "Snacks" not in set(recs["category"])
    assert recs.groupby(["user_id", "category"]).size().max() <= 2
    prices = pd.read_csv(SAMPLE, dtype=str).drop_duplicates("product_id").set_index("product_id")["price"]
    assert prices.loc[recs["item_id"]].astype(float).max() <= 200


def test_cli_py_runs_the_same_app():
    env = dict(os.environ, COLUMNS="100")
    top = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "--help"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    script = Path(sys.executable).with_name("aigc-biz")
    installed = subprocess.run([str(script), "--help"], capture_output=True, text=True, env=env)
    assert top.returncode == installed.returncode == 0
    assert top.stdout == installed.stdout and "recommend" in top.stdout


def test_installed_console_script_end_to_end(tmp_path):
    """A real process, as cron would run it: output path printed, exit code 0; bad input: exit 2."""
    script = Path(sys.executable).with_name("aigc-biz")
    out = tmp_path / "out" / "recs.csv"
    done = subprocess.run(
        [str(script), "recommend", str(SAMPLE), "--model", "pop", "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "out/recs.csv" in done.stderr and out.exists()
    bad = subprocess.run([str(script), "inspect", str(tmp_path / "missing.csv")], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "missing.csv" in bad.stderr


def test_train_then_score_with_saved_model_and_cold_start_users(tmp_path):
    """The nightly path: train once, score later without retraining; new customers get context-based lists."""
    model_dir = tmp_path / "models" / "cvae"
    result = invoke("train", SAMPLE, "--model", "cvae", "-p", "epochs=3", "-o", model_dir, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert (model_dir / "model.json").exists()
    new = ROOT / "sample_data" / "new_customers.csv"
    out = tmp_path / "new.csv"
    result = invoke("recommend", SAMPLE, "--model-path", model_dir, "--users", new, "-k", "5", "-o", out)
    assert result.exit_code == 0, result.output
    recs = pd.read_csv(out, dtype=str)
    wanted = pd.read_csv(new, dtype=str)["customer_id"]
    assert set(recs["user_id"]) == set(wanted)  # none dropped silently
    assert (recs.groupby("user_id").size() == 5).all()
    # context matters: customers with different attributes do not all get one list
    assert recs.groupby("user_id")["item_id"].apply(tuple).nunique() > 1


def test_evaluate_writes_json_and_metrics_table(tmp_path):
    import sqlalchemy as sa

    db = f"sqlite:///{tmp_path / 'dw.db'}"
    result = invoke(
        "evaluate",
        SAMPLE,
        "--models",
        "pop,itemknn",
        "--json-out",
        tmp_path / "eval.json",
        "--out-db",
        db,
        "--run-id",
        "r1",
        "-q",
    )
    assert result.exit_code == 0, result.output
    board = json.loads((tmp_path / "eval.json").read_text())
    assert board["winner"] == "itemknn"
    ndcg = {m["model"]: m["metrics"]["ndcg@10"] for m in board["models"]}
    assert ndcg["itemknn"]["low"] > ndcg["pop"]["high"]
    with sa.create_engine(db).connect() as conn:
        rows = conn.execute(sa.text("select count(*) from metrics where run_id = 'r1'")).scalar()
    assert rows == sum(len(m["metrics"]) for m in board["models"])


def test_copy_and_report_commands(tmp_path):
    recs = tmp_path / "recs.csv"
    assert invoke("recommend", SAMPLE, "--model", "pop", "-k", "3", "-o", recs).exit_code == 0
    sms = tmp_path / "sms.jsonl"
    result = invoke("copy", recs, "--data", SAMPLE, "--channel", "sms", "--locale", "zh", "--preview", "2", "-o", sms)
    assert result.exit_code == 0, result.output
    assert "回T退订" in result.stdout  # the preview shows real messages
    rows = [json.loads(line) for line in sms.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == pd.read_csv(recs, dtype=str)["user_id"].nunique()
    assert list(rows[0]) == [
        "user_id",
        "channel",
        "locale",
        "variant",
        "subject",
        "body",
        "item_ids",
        "chars",
        "sms_parts",
        "warnings",
    ]
    html = tmp_path / "report.html"
    result = invoke("report", "--data", SAMPLE, "--recs", recs, "--copy", sms, "-o", html, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bytes"] == html.stat().st_size
    assert (tmp_path / "report.json").exists()


@pytest.mark.parametrize("model", ["itemknn", "ease"])
def test_a_closed_form_fit_logs_one_line_not_an_empty_epoch(tmp_path, model):
    result = invoke("recommend", SAMPLE, "--model", model, "-o", tmp_path / "r.csv")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(f"[{model}]")]
    assert lines == [f"[{model}] fitted on 300 items"]


def test_include_seen_stores_the_reason_in_the_warehouse(tmp_path):
    import sqlalchemy as sa

    db = tmp_path / "dw.db"
    args = ["recommend", SAMPLE, "--model", "itemknn", "--include-seen", "--out-db", f"sqlite:///{db}"]
    result = invoke(*args, "-o", tmp_path / "r.csv")
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT reason, COUNT(*) FROM recommendations GROUP BY reason")).all())
    engine.dispose()
    written = pd.read_csv(tmp_path / "r.csv")["reason"].value_counts().to_dict()
    assert stored == written and set(stored) == {"repeat", "new"}
