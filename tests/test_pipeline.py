"""The YAML pipeline runner: the bundled demo end to end, then parsing, substitution, paths and errors."""

from __future__ import annotations

import io
import json
import logging
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from aigc_biz import pipeline
from aigc_biz.api import run as run_pipeline  # api.run is the one entry that runs a job
from aigc_biz.errors import ConfigError, InputError, ModelError
from aigc_biz.io.files import read_recs
from aigc_biz.logging_setup import JsonLogFormatter, configure_logging
from aigc_biz.pipeline import load_pipeline, substitute
from aigc_biz.resources import resource_path, sample_data_path

DEMO = resource_path("pipelines", "nightly_demo.yaml")
WAREHOUSE = resource_path("pipelines", "warehouse_template.yaml")


def write_yaml(folder: Path, text: str, name: str = "job.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def db_counts(url: str, table: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        t = sa.Table(table, sa.MetaData(), autoload_with=conn)
        rows = conn.execute(sa.select(t.c.run_id, sa.func.count()).group_by(t.c.run_id)).all()
    engine.dispose()
    return dict(rows)


@pytest.mark.slow
def test_demo_pipeline_runs_end_to_end_and_reruns_idempotently(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outputs go to ./out of the current directory
    stream = io.StringIO()
    handler = configure_logging(json_lines=True, stream=stream)
    try:
        result = run_pipeline(DEMO, env={"EPOCHS": "1", "RUN_ID": "2026-11-23"})
    finally:
        logging.getLogger("aigc_biz").removeHandler(handler)
    out = tmp_path / "out"
    assert [s["step"] for s in result.steps] == ["load", "train", "recommend", "copy", "report", "write", "write"]
    assert all(s["seconds"] >= 0 and s["summary"] for s in result.steps)
    assert result.run_id == "2026-11-23"
    recs = read_recs(out / "recs.csv")
    assert list(recs.columns[:4]) == ["user_id", "rank", "item_id", "score"]
    assert recs.groupby("user_id")["rank"].max().eq(10).all()
    assert recs["user_id"].str.match(r"^C\d{6}$").all() and recs["item_id"].str.match(r"^\d{6}$").all()
    copy = read_recs(out / "copy.csv")
    assert set(copy["user_id"]) == set(recs["user_id"]) and copy["body"].str.len().gt(0).all()
    assert (out / "report.html").stat().st_size > 10_000 and (out / "models" / "nightly" / "model.json").exists()
    assert json.loads(json.dumps(result.outputs))["db.recommendations"].endswith("warehouse.db#recommendations")
    url = f"sqlite:///{out / 'warehouse.db'}"
    assert db_counts(url, "recommendations") == {"2026-11-23": len(recs)}
    assert db_counts(url, "marketing_copy") == {"2026-11-23": len(copy)}
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    done = [e for e in events if e["message"].endswith(tuple(s["summary"] for s in result.steps))]
    assert [e["step"] for e in done] == [s["step"] for s in result.steps]
    assert all(e["run_id"] == "2026-11-23" and e["seconds"] >= 0 for e in done)

    # the same run again, now from the saved model: its rows are replaced, never duplicated
    rerun = write_yaml(
        tmp_path / "jobs",
        f"""
        output_dir: {out}
        steps:
          - load: {{source: {sample_data_path()}}}
          - load_model: {{path: models/nightly}}
          - recommend: {{top_k: 5}}
          - write: {{db: "sqlite:///warehouse.db", recommendations_table: recommendations}}
    """,
    )
    run_pipeline(rerun, run_id="2026-11-23")
    assert db_counts(url, "recommendations") == {"2026-11-23": len(recs) // 2}
    run_pipeline(rerun, run_id="2026-11-24")
    assert db_counts(url, "recommendations") == {"2026-11-23": len(recs) // 2, "2026-11-24": len(recs) // 2}


def test_dry_run_checks_and_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_pipeline(DEMO, dry_run=True)
    assert result.dry_run and [s["seconds"] for s in result.steps] == [0.0] * 7
    assert "planned" in result.steps[1]["summary"] and "epochs" in result.steps[1]["summary"]
    assert not (tmp_path / "out").exists()


def test_warehouse_template_needs_its_variables(tmp_path, monkeypatch):
    for name in ("RUN_ID", "WAREHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(
        ConfigError,
        match=r"RUN_ID \(first used in key 'run_id'\); WAREHOUSE_URL \(first used "
        r"in step 1 \(load\), key 'db'\)",
    ):
        run_pipeline(WAREHOUSE, dry_run=True)
    with pytest.raises(ConfigError, match="not set: RUN_ID") as err:
        run_pipeline(WAREHOUSE, dry_run=True, env={"WAREHOUSE_URL": "sqlite:///w.db"})
    assert "WAREHOUSE_URL" not in err.value.message
    result = run_pipeline(
        WAREHOUSE,
        dry_run=True,
        env={"WAREHOUSE_URL": "postgresql+psycopg://u:pw9@h/dw", "RUN_ID": "r7", "AIGC_BIZ_OUT": str(tmp_path)},
    )
    assert result.run_id == "r7"
    assert "pw9" not in json.dumps(result.steps) and "***" in result.steps[0]["summary"]


def test_substitution_of_environment_variables():
    env = {"A": "x", "N": "20", "Z": "007", "F": "0.5", "B": "true"}
    assert substitute({"k": ["${A}-${MISSING:-d}", "$${A}", "plain"]}, env) == {"k": ["x-d", "${A}", "plain"]}
    assert substitute({"n": "${N}", "z": "${Z}", "f": "${F}", "b": "${B}", "d": "${NONE:-3}"}, env) == {
        "n": 20,
        "z": "007",
        "f": 0.5,
        "b": True,
        "d": 3,
    }
    with pytest.raises(ConfigError, match=r"step 2 \(train\), key 'params.epochs': .*EPOCHS is not set"):
        substitute({"steps": [{"load": {}}, {"train": {"params": {"epochs": "${EPOCHS}"}}}]}, {})


def test_inputs_resolve_against_the_pipeline_and_outputs_against_output_dir(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.csv").write_bytes(sample_data_path().read_bytes())
    job_file = write_yaml(
        tmp_path / "jobs",
        """
        run_id: r1
        output_dir: results
        steps:
          - load: {source: ../data/orders.csv}
          - train: {model: pop, save: models/pop}
          - recommend: {top_k: 3}
          - write: {recommendations: recs.parquet}
          - write: {db: "sqlite:///w.db", recommendations_table: recs}
    """,
    )
    monkeypatch.chdir(tmp_path / "data")
    job = load_pipeline(job_file)
    results = tmp_path / "data" / "results"
    assert job.steps[0].options["source"] == str(tmp_path / "data" / "orders.csv")
    assert job.output_dir == results
    assert job.steps[1].options["save"] == str(results / "models" / "pop")
    assert job.steps[3].options["recommendations"] == str(results / "recs.parquet")
    assert job.steps[4].options["db"] == f"sqlite:///{results / 'w.db'}"
    run_pipeline(job_file)  # the resolved paths are where the files really go, parquet included
    recs = read_recs(results / "recs.parquet")
    assert (results / "recs.parquet").read_bytes()[:4] == b"PAR1"
    assert list(recs.columns[:4]) == ["user_id", "rank", "item_id", "score"]
    assert recs.groupby("user_id")["rank"].max().eq(3).all()
    assert recs["user_id"].str.match(r"^C\d{6}$").all() and recs["item_id"].str.match(r"^\d{6}$").all()
    assert db_counts(f"sqlite:///{results / 'w.db'}", "recs") == {"r1": len(recs)}
    assert (results / "models" / "pop" / "model.json").exists()
    no_output_dir = write_yaml(
        tmp_path / "jobs",
        """
        steps:
          - load: {source: ../data/orders.csv}
          - recommend: {model: pop}
          - write: {recommendations: out/recs.csv}
    """,
        "plain.yaml",
    )
    plain = load_pipeline(no_output_dir)
    assert plain.steps[2].options["recommendations"] == str(tmp_path / "jobs" / "out" / "recs.csv")
    result = run_pipeline(no_output_dir, run_id="r2")
    assert len(read_recs(tmp_path / "jobs" / "out" / "recs.csv")) == result_rows(result)


def result_rows(result) -> int:
    return int(result.steps[1]["summary"].split(", ")[1].split()[0].replace(",", ""))


@pytest.mark.parametrize(
    "text, message",
    [
        ("steps:\n  - load: {source: x.csv\n", "not valid YAML: line"),
        ("- load: {}\n", "mapping with a 'steps' list"),
        ("steps: []\n", "non-empty list"),
        ("nme: x\nsteps:\n  - load: {source: d.csv}\n", "unknown top-level key 'nme'"),
        ("steps:\n  - load: {source: d.csv}\n  - trian: {}\n", r"step 2: unknown step 'trian'"),
        ("steps:\n  - load: {source: d.csv}\n  - train: {epochs: 3}\n", r"step 2 \(train\): unknown key 'epochs'"),
        ("steps:\n  - load: {source: missing.csv}\n", r"step 1 \(load\), key 'source': file not found"),
        ("steps:\n  - load: {source: d.csv}\n  - recommend: {top_k: 10}\n", r"step 2 \(recommend\): needs .*'train"),
        ("steps:\n  - load: {source: d.csv}\n  - recommend: {model: pop, top_k: 0}\n", r"key 'top_k'"),
        ("steps:\n  - load: {source: d.csv}\n  - recommend: {model: pop, rules: {max_per_cat: 2}}\n", r"key 'rules'"),
        (
            "steps:\n  - load: {source: d.csv}\n  - recommend: {model: pop}\n  - write: {db: 'sqlite:///w.db', "
            "recommendations_table: 'x; drop table y'}\n",
            r"step 3 \(write\), key 'recommendations_table'",
        ),
        (
            "steps:\n  - load: {source: d.csv}\n  - recommend: {model: pop}\n  - write: {recommendations: r.xlsx}\n",
            r"key 'recommendations'",
        ),
        ("steps:\n  - load: {source: d.csv}\n  - load_model: {path: nowhere}\n", r"key 'path': no saved model"),
        ("steps:\n  - load: {source: d.csv}\n  - report: {locale: zh}\n", r"step 2 \(report\), key 'output'"),
    ],
)
def test_config_errors_name_the_step_and_key(tmp_path, text, message):
    (tmp_path / "d.csv").write_text("user_id,item_id\n1,2\n")
    job = write_yaml(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as err:
        run_pipeline(job, dry_run=True)
    assert err.value.exit_code == 2 and err.value.file == str(job)


def test_missing_pipeline_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        run_pipeline(tmp_path / "nope.yaml")


def test_steps_run_in_order_with_timing_and_step_errors_pass_through(tmp_path, monkeypatch, caplog):
    calls = []

    def fake(name):
        def runner(api, options, state, job):
            calls.append((name, dict(options)))
            state.setdefault("data", "d")
            return f"{name} ok"

        return runner

    for name in pipeline.STEP_RUNNERS:
        monkeypatch.setitem(pipeline.STEP_RUNNERS, name, fake(name))
    (tmp_path / "d.csv").write_text("user_id,item_id\n1,2\n")
    job = write_yaml(
        tmp_path,
        """
        name: fake
        steps:
          - load: {source: d.csv}
          - train: {model: pop, params: {alpha: "${ALPHA:-1.5}"}}
          - recommend: {top_k: 2}
    """,
    )
    caplog.set_level(logging.INFO, logger="aigc_biz.pipeline")
    result = run_pipeline(job, run_id="r9")
    assert [c[0] for c in calls] == ["load", "train", "recommend"]
    assert calls[1][1]["params"] == {"alpha": 1.5}
    assert [s["summary"] for s in result.steps] == ["load ok", "train ok", "recommend ok"]
    done = [r for r in caplog.records if r.getMessage().startswith("step ") and " done in " in r.getMessage()]
    assert [(r.step, r.index, r.run_id) for r in done] == [
        ("load", 1, "r9"),
        ("train", 2, "r9"),
        ("recommend", 3, "r9"),
    ]

    def broken(api, options, state, job):
        raise ModelError("the model does not fit in memory")

    monkeypatch.setitem(pipeline.STEP_RUNNERS, "train", broken)
    with pytest.raises(ModelError, match="does not fit") as err:
        run_pipeline(job)
    assert err.value.exit_code == 2
    assert any("step 2 (train) failed" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


def test_a_real_step_failure_is_the_library_error(tmp_path):
    (tmp_path / "d.csv").write_text("a\n1\n")  # one column: no users and items to find
    job = write_yaml(tmp_path, "steps:\n  - load: {source: d.csv}\n")
    with pytest.raises(InputError) as err:
        run_pipeline(job)
    assert not isinstance(err.value, ConfigError)


def test_json_log_formatter_writes_one_object_per_line():
    record = logging.LogRecord("aigc_biz.pipeline", logging.INFO, __file__, 1, "step %d done", (3,), None)
    record.step, record.seconds = "train", 1.25
    entry = json.loads(JsonLogFormatter().format(record))
    assert entry["message"] == "step 3 done" and entry["level"] == "INFO" and entry["logger"] == "aigc_biz.pipeline"
    assert (entry["step"], entry["seconds"]) == ("train", 1.25) and entry["time"].endswith("+00:00")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert "ValueError: boom" in json.loads(JsonLogFormatter().format(record))["error"]


def test_run_id_argument_wins_everywhere(tmp_path):
    (tmp_path / "d.csv").write_text("user_id,item_id\n1,2\n")
    job_file = write_yaml(
        tmp_path,
        """
        run_id: ${RUN_ID:-nightly}
        steps:
          - load: {source: d.csv}
          - report: {output: "reports/${RUN_ID}.html"}
    """,
    )
    assert load_pipeline(job_file, env={"RUN_ID": "from-env"}).run_id == "from-env"
    job = load_pipeline(job_file, run_id="2026-11-23", env={"RUN_ID": "from-env"})
    assert job.run_id == "2026-11-23"
    assert job.steps[1].options["output"] == str(tmp_path / "reports" / "2026-11-23.html")


def test_metrics_frame_from_a_leaderboard():
    class Board:
        def to_dict(self):
            return {
                "models": [
                    {
                        "model": "cvae",
                        "metrics": {"ndcg@10": {"mean": 0.3, "low": 0.28, "high": 0.32}, "coverage": {"mean": 0.9}},
                    }
                ]
            }

    frame = pipeline.metrics_frame(Board())
    frame = frame.astype(object).where(frame.notna(), None)  # missing k/low/high are NULL in the table
    assert frame.to_dict("records") == [
        {"model": "cvae", "metric": "ndcg", "k": 10, "mean": 0.3, "low": 0.28, "high": 0.32},
        {"model": "cvae", "metric": "coverage", "k": None, "mean": 0.9, "low": None, "high": None},
    ]


def test_runner_without_the_api_verbs_only_plans(tmp_path):
    # the runner imports no api: a real run needs the verbs api.run hands it, a dry run does not
    from aigc_biz.pipeline import run_pipeline as runner

    assert runner(DEMO, dry_run=True).dry_run
    with pytest.raises(TypeError, match="api.run"):
        runner(DEMO, env={"EPOCHS": "1"})


def test_repeats_candidates_and_the_horizon_split_are_pipeline_keys(tmp_path):
    """`include_seen`, `candidates` and `horizon` do in a pipeline what --include-seen, --candidates and
    --horizon do on the command line: repeats come back with a reason, lists keep to the candidates."""
    rows = ["user_id,item_id,timestamp"]
    for u in range(40):
        for day, item in enumerate([u % 5, (u + 1) % 5, u % 5, 5 + u % 3]):
            rows.append(f"c{u},p{item},2026-0{1 + day // 2}-{10 + day}")
    (tmp_path / "orders.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "cands.csv").write_text("item_id\np0\np1\np2\np5\n")
    job = write_yaml(
        tmp_path,
        """
        steps:
          - load: {source: orders.csv}
          - evaluate: {models: [pop], split: temporal, horizon: 30d, include_seen: true, ks: [5], output: lb.json}
          - recommend: {model: ease, top_k: 3, include_seen: true, candidates: cands.csv}
          - write: {recommendations: recs.csv}
        """,
    )
    result = run_pipeline(job)
    board = json.loads((tmp_path / "lb.json").read_text())
    assert "repeat_share@5" in json.dumps(board)
    recs = read_recs(tmp_path / "recs.csv")
    assert set(recs["item_id"]) <= {"p0", "p1", "p2", "p5"}
    assert set(recs["reason"]) == {"repeat", "new"} and result.steps[2]["step"] == "recommend"


@pytest.mark.parametrize(
    "step, message",
    [
        ("recommend: {model: pop, include_seen: 'yes'}", r"key 'include_seen': expected true or false"),
        ("recommend: {model: pop, candidates: missing.csv}", r"key 'candidates': file not found"),
        ("evaluate: {split: temporal, horizon: soon}", r"key 'horizon'"),
    ],
)
def test_new_pipeline_keys_are_checked_before_anything_runs(tmp_path, step, message):
    (tmp_path / "d.csv").write_text("user_id,item_id\n1,2\n")
    job = write_yaml(tmp_path, f"steps:\n  - load: {{source: d.csv}}\n  - {step}\n")
    with pytest.raises(ConfigError, match=message):
        run_pipeline(job, dry_run=True)
