"""The Spark engine on real pyspark (local[2]): the same lists as single-process scoring, for every registry model.

One SparkSession for the module (it takes ~15 s to start); every model is trained quickly on the sample
data, saved, and scored both ways.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aigc_biz import api
from aigc_biz.cli import app
from aigc_biz.io.files import read_recs
from aigc_biz.models.registry import available_models
from aigc_biz.resources import sample_data_path

pyspark_sql = pytest.importorskip("pyspark.sql")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = sample_data_path()
TORCH = dict(epochs=1, batch_size=256, val_fraction=0.0, device="cpu", seed=0)
#: quick settings per registry model (every name must be here: a new model gets the identity test too)
QUICK = {
    "pop": {},
    "itemknn": {"k_neighbours": 20},
    "ease": {"l2": 50.0},
    "cvae": {"hidden": 32, "latent": 8, "context_dim": 4, **TORCH},
    "cgan": {"hidden_g": 32, "hidden_d": 16, "context_dim": 4, **TORCH},
    "blend": {"new_model": "ease", "new_params": {"l2": 50.0}, "horizon": "30d"},
    "trend": {"base_model": "ease", "base_params": {"l2": 50.0}, "horizon": "30d"},
    "buyagain": {"horizon": "30d"},
    "sasrec": {"max_len": 20, "hidden": 16, "blocks": 1, **TORCH},
    "diffrec": {"hidden": 0, "bottleneck": 16, "steps": 5, **TORCH},
    "ldiffrec": {"latent": 8, "mlp_width": 16, **TORCH},
    "giffcf": {"dim": 16, **TORCH},
}


@pytest.fixture(scope="module")
def spark():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.log.level", "ERROR")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data():
    return api.load(SAMPLE)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, data):
    """Train and save a registry model once per module: name -> folder."""
    folders = {}

    def get(name: str, params: dict | None = None) -> Path:
        key = name if params is None else f"{name}-{sorted(params.items())}"
        if key not in folders:
            folders[key] = tmp_path_factory.mktemp("models") / name
            api.train(data, name, QUICK[name] if params is None else params, seed=0, save=folders[key])
        return folders[key]

    return get


def assert_same_lists(single: pd.DataFrame, spark_recs: pd.DataFrame) -> None:
    """Same columns, user_id, rank and item_id row for row; scores equal to float tolerance."""
    assert list(spark_recs.columns) == list(single.columns)
    a = single.sort_values(["user_id", "rank"]).reset_index(drop=True)
    b = spark_recs.sort_values(["user_id", "rank"]).reset_index(drop=True)
    assert len(a) == len(b) > 0
    for column in ("user_id", "item_id"):
        assert (a[column].astype(str).to_numpy() == b[column].astype(str).to_numpy()).all(), column
    assert (a["rank"].to_numpy() == b["rank"].to_numpy()).all()
    np.testing.assert_allclose(b["score"].to_numpy(), a["score"].to_numpy(), rtol=1e-6, atol=1e-7)
    for column in set(a.columns) - {"user_id", "item_id", "rank", "score"}:
        assert a[column].astype(str).tolist() == b[column].astype(str).tolist(), column


def test_every_registry_model_has_quick_settings():
    assert set(QUICK) == set(available_models())


@pytest.mark.parametrize("name", sorted(QUICK))
def test_spark_lists_equal_single_process(spark, data, saved, name):
    from aigc_biz import spark as engine

    folder = saved(name)
    model = api.load_model(folder, data)
    single = api.recommend(data, model, top_k=10)
    got = engine.recommend_data(data, folder, 10, spark=spark).toPandas()
    assert_same_lists(single, got)


def test_spark_obeys_the_business_rules(spark, data, saved):
    """Category cap, excluded category, price band and a candidate list: same lists as single-process."""
    from aigc_biz import spark as engine

    folder = saved("itemknn")
    candidates = list(data.item_ids[::2])
    rules = api.business_rules(
        max_per_category=2, exclude_categories="Snacks", min_price=5, max_price=80, candidates=candidates
    )
    single = api.recommend(data, api.load_model(folder, data), top_k=8, rules=rules)
    assert single.groupby(["user_id", "category"]).size().max() <= 2
    assert_same_lists(single, engine.recommend_data(data, folder, 8, rules=rules, spark=spark).toPandas())


def test_spark_ages_count_from_the_whole_table(spark, data, saved):
    """Recency weights (days) and buy-again ages count from the table's last event, not each batch's:
    with --include-seen a blend's repeat side depends on them, as does itemknn's recency_half_life."""
    from aigc_biz import spark as engine

    knn = saved("itemknn", {"k_neighbours": 20, "recency_half_life": 30.0})
    single = api.recommend(data, api.load_model(knn, data), top_k=10)
    assert_same_lists(single, engine.recommend_data(data, knn, 10, spark=spark).toPandas())
    blend = saved("blend")
    rules = api.business_rules(include_seen=True)
    single = api.recommend(data, api.load_model(blend, data), top_k=10, rules=rules)
    assert (single["reason"] == "repeat").any()
    assert_same_lists(single, engine.recommend_data(data, blend, 10, rules=rules, spark=spark).toPandas())


def test_spark_dataframe_entry_point(spark, data, saved):
    """aigc_biz.spark.recommend takes the behaviour rows as a Spark DataFrame and returns one."""
    from aigc_biz import spark as engine

    folder = saved("ease")
    rows = spark.read.csv(str(SAMPLE), header=True)
    recs = engine.recommend(rows, folder, k=5, rules={"max_per_category": 1})
    assert isinstance(recs, pyspark_sql.DataFrame)
    single = api.recommend(data, api.load_model(folder, data), top_k=5, rules=api.business_rules(max_per_category=1))
    assert_same_lists(single, recs.toPandas())


def test_cli_engine_spark_writes_the_single_process_lists(spark, saved, tmp_path):
    folder = saved("itemknn")
    runner = CliRunner()
    common = ["recommend", str(SAMPLE), "--model-path", str(folder), "--max-per-category", "2", "-q"]
    local = runner.invoke(app, [*common, "-o", str(tmp_path / "recs.csv")], catch_exceptions=False)
    assert local.exit_code == 0, local.output
    out = tmp_path / "recs.parquet"
    result = runner.invoke(app, [*common, "--engine", "spark", "-o", str(out), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.is_dir() and list(out.glob("part-*.parquet"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".recs.parquet")]  # no temp folder left
    assert '"engine": "spark"' in result.stdout and '"rows": 20000' in result.stdout
    single = read_recs(tmp_path / "recs.csv")
    written = pd.read_parquet(out)
    assert_same_lists(single, written[list(single.columns)])


@pytest.mark.parametrize(
    "args, message",
    [
        (["-o", "recs.parquet"], "pass --model-path"),
        (["--model-path", "m", "-o", "recs.csv"], "ending .parquet"),
        (["--model-path", "m", "-o", "recs.parquet", "--copy", "sms"], "does not do --copy"),
        (["--model-path", "m", "-o", "recs.parquet", "--engine", "dask"], "unknown value 'dask'"),
    ],
)
def test_cli_engine_spark_refusals(tmp_path, args, message):
    """Refused before anything is read or Spark starts: exit 2, one Error line."""
    engine = [] if "--engine" in args else ["--engine", "spark"]
    args = [str(tmp_path / a) if a in ("recs.parquet", "recs.csv", "m") else a for a in args]
    result = CliRunner().invoke(app, ["recommend", str(SAMPLE), *engine, *args], catch_exceptions=False)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], result.stderr


def test_without_pyspark_the_error_says_what_to_install(tmp_path):
    """pyspark absent (its import blocked in a fresh interpreter): one Error line with the install hint."""
    code = (
        "import sys; sys.modules['pyspark'] = None; sys.modules['pyspark.sql'] = None\n"
        "from aigc_biz.cli import main\n"
        f"sys.argv = ['aigc-biz', 'recommend', {str(SAMPLE)!r}, '--engine', 'spark', '--model-path', 'm', "
        f"'-o', {str(tmp_path / 'r.parquet')!r}]\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "install 'aigc-biz[spark]'" in lines[0], proc.stderr
    assert not (tmp_path / "r.parquet").exists()


def test_write_parquet_replaces_its_own_output_but_no_other_folder(spark, tmp_path):
    from aigc_biz import spark as engine
    from aigc_biz.errors import InputError

    out = tmp_path / "recs.parquet"
    engine.write_parquet(spark.createDataFrame(pd.DataFrame({"user_id": ["a", "b"]})), out)
    engine.write_parquet(spark.createDataFrame(pd.DataFrame({"user_id": ["c"]})), out)
    assert pd.read_parquet(out)["user_id"].tolist() == ["c"]
    mine = tmp_path / "mine.parquet"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a Parquet dataset written by Spark"):
        engine.write_parquet(spark.createDataFrame(pd.DataFrame({"user_id": ["c"]})), mine)
    assert (mine / "notes.txt").read_text() == "keep me"
