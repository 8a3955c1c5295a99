"""The low-severity attack findings of issue 15, each through the CLI as a user meets it."""

from __future__ import annotations

import csv
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from aigc_biz.cli import app
from aigc_biz.io.files import FORMULA_TRIGGERS, read_recs
from aigc_biz.resources import sample_data_path

runner = CliRunner()
SAMPLE = sample_data_path()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def _one_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- formula escaping -----------------------------------------------------------------------
@pytest.mark.parametrize("first", ["＝", "＋", "－", "＠", "|", "=", "﹦"])
def test_copy_output_neutralises_fullwidth_and_pipe_formulas(tmp_path, first):
    title = f"{first}cmd|' /C calc'!A0"
    (tmp_path / "recs.csv").write_text(f'user_id,rank,item_id,title\nu1,1,i1,"{title}"\n', encoding="utf-8")
    (tmp_path / "t.j2").write_text("{{ item.title }} Reply STOP", encoding="utf-8")
    out = tmp_path / "copy.csv"
    result = invoke("copy", tmp_path / "recs.csv", "-o", out, "--locale", "en", "--template", tmp_path / "t.j2")
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        body = next(csv.DictReader(handle))["body"]
    assert body == "'" + title + " Reply STOP"  # a spreadsheet shows it as text
    assert read_recs(out)["body"].iloc[0] == title + " Reply STOP"  # and reading it back undoes the quote


def test_formula_triggers_cover_the_fullwidth_forms():
    assert {"＝", "＋", "－", "＠", "|"} <= set(FORMULA_TRIGGERS)


# --- terminal escapes -----------------------------------------------------------------------
ESC_TITLE = "Tea\x1b[2J\x1b]0;pwned\x07\x9b31m\u202e"


def test_copy_preview_prints_no_terminal_escapes(tmp_path):
    (tmp_path / "recs.csv").write_text(f"user_id,rank,item_id,title\nu1,1,i1,{ESC_TITLE}\n", encoding="utf-8")
    result = invoke("copy", tmp_path / "recs.csv", "-o", tmp_path / "c.csv", "--locale", "en", "--preview", "1")
    assert result.exit_code == 0, result.output
    assert "Tea\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202e" in result.stdout
    for char in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert char not in result.output


def test_inspect_prints_no_terminal_escapes_in_column_names_or_errors(tmp_path):
    orders = pd.read_csv(SAMPLE, dtype=str).head(300)
    orders = orders.rename(columns={"customer_name": "name\x1b[31m", "customer_id": "customer_id"})
    orders.to_csv(tmp_path / "o.csv", index=False)
    shown = invoke("inspect", tmp_path / "o.csv", "--user-attrs", "name\x1b[31m")
    assert shown.exit_code == 0, shown.output
    assert "name\\x1b[31m" in shown.stdout and "\x1b" not in shown.output
    failed = invoke("inspect", tmp_path / "o.csv", "--user-col", "x\x1b]0;t\x07")
    assert failed.exit_code == 2 and "\x1b" not in failed.output and "\x07" not in failed.output


# --- YAML aliases ---------------------------------------------------------------------------
def test_billion_laughs_pipeline_is_refused_at_once(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("steps: [*i]")
    path = tmp_path / "lol.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.perf_counter()
    result = invoke("run", path, "--dry-run")
    assert time.perf_counter() - started < 10
    _one_error(result, "lol.yaml", "line 1", "anchors and aliases")


# --- prices ---------------------------------------------------------------------------------
@pytest.mark.parametrize("price, shown", [("1e30", "1e+30"), ("-5", "-5.0"), ("inf", "inf"), ("-0.01", "-0.01")])
def test_copy_refuses_a_price_no_customer_should_see(tmp_path, price, shown):
    (tmp_path / "recs.csv").write_text(
        f"user_id,rank,item_id,title,price\nu1,1,i1,Tea,9.5\nu2,1,i2,Gold,{price}\n", encoding="utf-8"
    )
    out = tmp_path / "c.csv"
    result = invoke("copy", tmp_path / "recs.csv", "-o", out, "--locale", "en")
    _one_error(result, "recs.csv", "column 'price'", "row 3", f"price {shown} ")
    assert not out.exists()


def test_loading_refuses_negative_prices_with_file_column_and_row(tmp_path):
    orders = pd.read_csv(SAMPLE, dtype=str)
    orders.loc[4, "price"] = "-5"
    orders.to_csv(tmp_path / "orders.csv", index=False)
    result = invoke("recommend", tmp_path / "orders.csv", "--model", "pop", "-o", tmp_path / "r.csv")
    _one_error(result, "orders.csv", "column 'price'", "row 6", "-5")
    assert not (tmp_path / "r.csv").exists()


def test_a_free_item_and_ordinary_prices_still_pass(tmp_path):
    (tmp_path / "recs.csv").write_text(
        "user_id,rank,item_id,title,price\nu1,1,i1,Tea,0\nu2,1,i2,Gold,1299.5\n", encoding="utf-8"
    )
    result = invoke("copy", tmp_path / "recs.csv", "-o", tmp_path / "c.csv", "--locale", "en")
    assert result.exit_code == 0, result.output


# --- found by the fuzzer (bench/fuzz.py) -----------------------------------------------------
@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\n\n  \n", b"\xff\xfe", b"\xfe\xff"])
def test_a_file_of_only_a_byte_order_mark_is_empty_not_a_crash(tmp_path, content):
    path = tmp_path / "orders.csv"
    path.write_bytes(content)
    _one_error(invoke("inspect", path), "orders.csv", "the file is empty")


def test_a_damaged_gzip_file_is_exit_2_not_an_unexpected_zlib_error(tmp_path):
    import gzip

    data = bytearray(gzip.compress(SAMPLE.read_bytes()[:5000], mtime=0))
    data[400:404] = b"\x00\xff\x13\x77"
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(bytes(data))
    out = tmp_path / "r.csv"
    _one_error(invoke("recommend", path, "--model", "pop", "-o", out), "orders.csv.gz", "damaged gzip data")
    assert not out.exists()


@pytest.mark.parametrize("line", ["output_dir: {a: [1]}", "run_id: [1, 2]", "name: {x: 1}", "output_dir: true"])
def test_a_top_level_value_of_the_wrong_kind_is_a_config_error(tmp_path, line):
    path = tmp_path / "job.yaml"
    path.write_text(line + "\nsteps:\n  - load: {source: orders.csv}\n", encoding="utf-8")
    (tmp_path / "orders.csv").write_bytes(SAMPLE.read_bytes())
    _one_error(invoke("run", path, "--dry-run"), "job.yaml", "must be a text value")
