"""The api's jobs: one call from plain values to written outputs, the path the CLI and pipelines share."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import aigc_biz.api as ab
from aigc_biz import pipeline
from aigc_biz.cli import app
from aigc_biz.errors import InputError
from aigc_biz.io.files import read_recs
from aigc_biz.resources import sample_data_path

SAMPLE = sample_data_path()


@pytest.fixture(scope="module")
def data():
    return ab.load(SAMPLE)


def test_recommend_job_writes_everything_and_counts_customers_short_of_k(data, tmp_path):
    items = list(data.item_ids[:3])
    db = f"sqlite:///{tmp_path / 'new_folder' / 'dw.db'}"  # the folder does not exist yet
    result = ab.recommend_job(
        data,
        model="pop",
        top_k=5,
        candidates=items,
        output=tmp_path / "recs.csv",
        copy_channel="sms",
        out_db=db,
        run_id="r1",
    )
    assert set(result.recs["item_id"]) <= set(items)
    # three allowed items cannot fill a top 5: every customer is short, minus what they bought
    assert result.customers_short_of_k == result.customers == data.n_users
    assert read_recs(result.outputs["recommendations"]).shape[0] == len(result.recs)
    assert result.outputs["copy"].name == "recs_copy_sms.csv" and result.outputs["copy"].exists()
    with sa.create_engine(db).connect() as conn:
        assert conn.execute(sa.text("select count(*) from recommendations where run_id='r1'")).scalar() == len(
            result.recs
        )
        assert conn.execute(sa.text("select count(*) from marketing_copy")).scalar() == len(result.copy.frame)
    summary = result.summary()
    assert (summary["rows"], summary["copy_messages"], summary["run_id"]) == (len(result.recs), data.n_users, "r1")


def test_recommend_job_reads_a_file_with_role_flags_and_an_id_file(tmp_path):
    users = tmp_path / "users.csv"
    users.write_text("customer_id\nC000001\nC000002\n", encoding="utf-8")
    result = ab.recommend_job(
        SAMPLE,
        model="pop",
        top_k=2,
        users=users,
        user_col="customer_id",
        item_col="product_id",
        exclude_categories="Snacks",
        include_seen=False,
    )
    assert sorted(result.recs["user_id"].unique()) == ["C000001", "C000002"]
    assert "Snacks" not in set(result.recs["category"]) and result.outputs == {}


def test_business_rules_from_plain_values_and_mappings():
    rules = ab.business_rules({"max_per_category": 3}, exclude_categories="a, b", include_seen=True)
    assert (rules.max_per_category, rules.exclude_categories, rules.exclude_seen) == (3, ["a", "b"], False)
    with pytest.raises(InputError, match="unknown business rule.*max_per_cat"):
        ab.business_rules({"max_per_cat": 2})


def test_one_run_id_in_utc_for_cli_and_pipelines(tmp_path):
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", ab.new_run_id())
    (tmp_path / "d.csv").write_text("user_id,item_id\n1,2\n")
    job = tmp_path / "job.yaml"
    job.write_text("steps:\n  - load: {source: d.csv}\n")
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", pipeline.load_pipeline(job).run_id)
    result = CliRunner().invoke(
        app, ["recommend", str(SAMPLE), "--model", "pop", "-o", str(tmp_path / "r.csv"), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", json.loads(result.stdout)["run_id"])


def test_copy_and_report_take_the_role_flags(tmp_path):
    orders = tmp_path / "orders.csv"  # column names detection cannot guess: the role flags must say them
    frame = pd.read_csv(SAMPLE, dtype=str).rename(columns={"customer_id": "kunde", "product_id": "artikel"})
    frame.to_csv(orders, index=False)
    run = CliRunner().invoke
    recs = tmp_path / "recs.csv"
    roles = ["--user-col", "kunde", "--item-col", "artikel"]
    result = run(app, ["recommend", str(orders), "--model", "pop", "-k", "2", "-o", str(recs), "-q", *roles])
    assert result.exit_code == 0, result.output
    without = run(app, ["copy", str(recs), "--data", str(orders), "-o", str(tmp_path / "sms.csv")])
    assert without.exit_code == 2 and "--user-col" in without.stderr
    result = run(app, ["copy", str(recs), "--data", str(orders), "-o", str(tmp_path / "sms.csv"), "-q", *roles])
    assert result.exit_code == 0, result.output
    assert read_recs(tmp_path / "sms.csv")["body"].str.len().gt(0).all()
    result = run(
        app, ["report", "--data", str(orders), "--recs", str(recs), "-o", str(tmp_path / "r.html"), "-q", *roles]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.html").stat().st_size > 10_000


def test_a_new_step_is_one_registry_entry(tmp_path, monkeypatch):
    def count(api, options, state, job):
        return f"{state['data'].n_users} customers, label {options['label']}"

    monkeypatch.setitem(
        pipeline.STEPS, "count", pipeline.StepSpec("count", ("label",), count, needs=lambda opts: ("data",))
    )
    (tmp_path / "d.csv").write_text("user_id,item_id\n1,2\n3,2\n")
    job = tmp_path / "job.yaml"
    job.write_text("steps:\n  - load: {source: d.csv}\n  - count: {label: x}\n")
    assert pipeline.run_pipeline(job, verbs=ab).steps[1]["summary"] == "2 customers, label x"
    job.write_text("steps:\n  - count: {label: x}\n")
    with pytest.raises(InputError, match=r"step 1 \(count\): needs the result of an earlier 'load' step"):
        pipeline.run_pipeline(job, dry_run=True)
