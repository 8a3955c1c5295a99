"""Train on the first 80 % of the sample orders by time, then score the full table with the saved
model: the weekly-train, nightly-score job of the README, for every registered model."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file, save
from typer.testing import CliRunner

from aigc_biz.cli import app
from aigc_biz.models.registry import available_models
from aigc_biz.resources import sample_data_path

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
#: quick settings: the contract is about what gets scored, not how well
FAST = {
    "cvae": ["-p", "epochs=3"],
    "trend": ["-p", "epochs=3"],  # its base, cvae, takes the parameter
    "cgan": ["-p", "epochs=3"],
    "sasrec": ["-p", "epochs=1", "-p", "max_len=20", "-p", "hidden=32"],
    "diffrec": ["-p", "epochs=2", "-p", "steps=5"],
    "ldiffrec": ["-p", "epochs=2"],
    "giffcf": ["-p", "epochs=2"],
}


def invoke(args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """(weekly, full) CSVs: the orders before the 80th time percentile, and all of them."""
    folder = tmp_path_factory.mktemp("orders")
    orders = pd.read_csv(sample_data_path(), dtype=str)
    when = pd.to_datetime(orders["order_time"])
    weekly = orders[when <= when.quantile(0.8)]
    weekly.to_csv(folder / "weekly.csv", index=False)
    return folder / "weekly.csv", Path(sample_data_path()), orders


def eligible_counts(full: pd.DataFrame, model_items: set[str]) -> pd.Series:
    """Per customer of the full table: items the model knows that the customer has not bought."""
    bought = full[full["quantity"].astype(int) > 0]
    known = bought[bought["product_id"].isin(model_items)]
    n_bought = known.groupby("customer_id")["product_id"].nunique()
    customers = pd.Index(sorted(set(full["customer_id"])))
    return len(model_items) - n_bought.reindex(customers, fill_value=0)


@pytest.mark.slow
@pytest.mark.parametrize("model", available_models())
def test_a_model_trained_last_week_scores_the_full_table(model, tables, tmp_path):
    weekly, full_path, full = tables
    folder = tmp_path / "model"
    trained = invoke(["train", weekly, "--model", model, *FAST.get(model, []), "-o", folder, "--quiet"])
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "recs.csv"
    result = invoke(["recommend", full_path, "--model-path", folder, "-o", out, "--top-k", 10])
    assert result.exit_code == 0, result.output
    recs = pd.read_csv(out, dtype=str)
    bought = full[full["quantity"].astype(int) > 0]
    assert not set(zip(bought["customer_id"], bought["product_id"])) & set(zip(recs["user_id"], recs["item_id"])), (
        "an item already bought in the scored table was recommended"
    )
    model_items = set(json.loads((folder / "ids.json").read_text())["item_ids"])
    eligible = eligible_counts(full, model_items)
    got = recs.groupby("user_id").size().reindex(eligible.index, fill_value=0)
    expected = np.minimum(eligible, 10)
    assert (got == expected).all(), f"{int((got != expected).sum())} customers got fewer than they could"
    weekly_customers = set(pd.read_csv(weekly, dtype=str)["customer_id"])
    new_customers = set(full["customer_id"]) - weekly_customers
    assert new_customers and new_customers <= set(recs["user_id"]), "customers new since training are scored"
    assert set(recs["item_id"]) <= model_items


def test_a_tampered_model_folder_exits_2_with_one_line(tables, tmp_path):
    weekly, full_path, _ = tables
    folder = tmp_path / "model"
    assert invoke(["train", weekly, "--model", "itemknn", "-o", folder, "--quiet"]).exit_code == 0
    arrays = load_file(folder / "arrays.safetensors")
    indices = arrays["state.similarity.indices"].copy()
    indices[-1] = 10**7  # a column far outside the catalogue
    (folder / "arrays.safetensors").write_bytes(save({**arrays, "state.similarity.indices": indices}))
    manifest = json.loads((folder / "model.json").read_text())
    manifest["checksums"]["arrays.safetensors"] = hashlib.sha256(
        (folder / "arrays.safetensors").read_bytes()
    ).hexdigest()
    (folder / "model.json").write_text(json.dumps(manifest))
    result = invoke(["recommend", full_path, "--model-path", folder, "-o", tmp_path / "recs.csv"])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.strip().splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "out of range" in errors[0], result.stderr
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    assert "Traceback" not in result.output and not (tmp_path / "recs.csv").exists()


def test_a_table_of_another_catalogue_is_refused(tables, tmp_path):
    weekly, _, full = tables
    folder = tmp_path / "model"
    assert invoke(["train", weekly, "--model", "pop", "-o", folder, "--quiet"]).exit_code == 0
    other = tmp_path / "other.csv"
    full.assign(product_id="X" + full["product_id"]).to_csv(other, index=False)
    result = invoke(["recommend", other, "--model-path", folder, "-o", tmp_path / "recs.csv"])
    assert result.exit_code == 2 and "none of the" in result.stderr


def test_the_readme_nightly_example_runs_as_written(tables, tmp_path, monkeypatch):
    weekly, full_path, full = tables
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- nightly-example[^>]*-->\s*```bash\n(.*?)```", readme, re.S).group(1)
    commands = [shlex.split(line.split("#")[0]) for line in block.splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [["aigc-biz", "train"], ["aigc-biz", "recommend"]]
    monkeypatch.chdir(tmp_path)
    Path("orders.csv").write_bytes(weekly.read_bytes())  # Sunday: the table so far
    weekly_run = invoke(commands[0][1:] + ["-p", "epochs=3"])  # the one change: a quick fit
    assert weekly_run.exit_code == 0, weekly_run.output
    Path("orders.csv").write_bytes(full_path.read_bytes())  # Wednesday: more orders, new customers
    nightly = invoke(commands[1][1:])
    assert nightly.exit_code == 0, nightly.output
    summary = json.loads(nightly.stdout)
    assert summary["model"] == "cvae" and summary["customers"] == full["customer_id"].nunique()
    recs = pd.read_csv("out/recs.csv", dtype=str)
    bought = full[full["quantity"].astype(int) > 0]
    assert not set(zip(bought["customer_id"], bought["product_id"])) & set(zip(recs["user_id"], recs["item_id"]))
