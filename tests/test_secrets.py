"""Secrets never shown (issue 15, Medium 3): through the CLI, wherever a URL or an expanded value appears."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from aigc_biz.cli import app
from aigc_biz.redaction import forget_secrets, mask_url, redact
from aigc_biz.resources import sample_data_path

runner = CliRunner()
pytestmark = pytest.mark.filterwarnings("ignore:Query string argument:sqlalchemy.exc.SAWarning")
SECRET = "hunter2-Pw"


@pytest.fixture(autouse=True)
def _fresh_registry():
    forget_secrets()
    yield
    forget_secrets()


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("shop") / "shop.db"
    orders = pd.read_csv(sample_data_path(), dtype=str).head(400)
    orders.to_sql("orders", sa.create_engine(f"sqlite:///{path}"), index=False)
    return path


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://bob@127.0.0.1:5432/test?password={pw}",
        "postgresql+psycopg://bob@127.0.0.1:5432/test?sslpassword={pw}&sslmode=disable",
        "postgresql+psycopg://bob:{pw}@127.0.0.1:5432/test",
        "postgresql+psycopg://bob:p@{pw}@127.0.0.1:5432/test",  # an unencoded @ in the password
        "postgresql+psycopg:/bob:{pw}@127.0.0.1:5432/test",  # one slash missing
        "mysql+pymysql:/root:{pw}@127.0.0.1/test?charset=utf8mb4",
    ],
)
def test_inspect_never_shows_a_password(url):
    result = invoke("inspect", url.format(pw=SECRET), "--table", "nosuch")
    assert result.exit_code == 2, result.output
    assert SECRET not in result.output and "Pw" not in result.output, result.output
    assert "***" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_url_typo_is_named_as_one_not_as_a_missing_file():
    result = invoke("inspect", f"postgresql+psycopg:/bob:{SECRET}@db/dw")
    assert result.exit_code == 2
    assert "looks like a database URL with a '/' missing" in result.stderr
    assert "file not found" not in result.stderr and SECRET not in result.stderr


def _pipeline(folder, shop_db, table="orders", report=True):
    steps = [
        f'  - load: {{db: "sqlite:///{shop_db}?password=${{SHOP_DB_PW}}", table: {table}}}',
        "  - train: {model: pop}",
        "  - recommend: {top_k: 3}",
        '  - copy: {channel: sms, locale: en, campaign: "${PROMO_TOKEN}"}',
    ]
    if report:
        steps.append("  - report: {output: report.html}")
    path = folder / "job.yaml"
    path.write_text("name: secrets\nsteps:\n" + "\n".join(steps) + "\n", encoding="utf-8")
    return path


ENV = {"SHOP_DB_PW": SECRET, "PROMO_TOKEN": "tok-" + SECRET}


def test_expanded_secrets_stay_out_of_the_dry_run_plan(tmp_path, shop_db):
    result = invoke("run", _pipeline(tmp_path, shop_db), "--dry-run", env=ENV)
    assert result.exit_code == 0, result.output
    assert "planned" in result.output
    assert SECRET not in result.output
    assert "password=***" in result.output and "campaign=***" in result.output


def test_expanded_secrets_stay_out_of_log_json_and_the_error_line(tmp_path, shop_db):
    result = invoke("run", _pipeline(tmp_path, shop_db, table="nosuch"), "--log-json", env=ENV)
    assert result.exit_code == 2, result.output
    assert SECRET not in result.output
    failed = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(entry["level"] == "ERROR" and "password=***" in entry["message"] for entry in failed)
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "no table named 'nosuch'" in error[0] and "password=***" in error[0]


def test_expanded_secrets_stay_out_of_the_report(tmp_path, shop_db):
    result = invoke("run", _pipeline(tmp_path, shop_db), "--log-json", env=ENV)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    figures = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert "password=***" in figures and "orders" in html
    assert SECRET not in html and SECRET not in figures


def test_mask_url_keeps_what_is_not_secret():
    assert mask_url("sqlite:///shop.db") == "sqlite:///shop.db"
    assert mask_url("mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4") == (
        "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"
    )
    assert redact("file out/recs.csv: 3 rows, see https://example.com/a?b=1") == (
        "file out/recs.csv: 3 rows, see https://example.com/a?b=1"
    )
    assert redact("at postgresql://u:pw@h/db: failed") == "at postgresql://u:***@h/db: failed"
