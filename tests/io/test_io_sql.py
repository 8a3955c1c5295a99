"""write_table on SQLite, PostgreSQL and MariaDB: ids round-trip, one transaction, idempotent per run_id."""

from __future__ import annotations

import logging
import os

import pandas as pd
import pytest
import sqlalchemy as sa

from aigc_biz.errors import InputError, OutputError
from aigc_biz.io.sql import make_engine, safe_url, validate_identifier, write_table

IDS = ["007", "12345678901234567890", "用户_张三", "0", "NA", " padded "]


def recs(n_users: int = 3, k: int = 2, offset: int = 0) -> pd.DataFrame:
    users = [IDS[(offset + u) % len(IDS)] + f"#{u}" for u in range(n_users)]
    return pd.DataFrame(
        {
            "user_id": [u for u in users for _ in range(k)],
            "rank": list(range(1, k + 1)) * n_users,
            "item_id": [f"00{r}" for r in range(n_users * k)],
            "score": [-1.5 + r for r in range(n_users * k)],
            "title": ["商品" if r % 2 else None for r in range(n_users * k)],
            "category": ["=cat"] * (n_users * k),
        }
    )


def test_ids_round_trip_exactly(target):
    frame = pd.DataFrame(
        {
            "user_id": IDS,
            "rank": range(1, len(IDS) + 1),
            "item_id": ["00042", "98765432109876543210", "连衣裙", "x" * 255, "-1", "@a"],
            "score": [0.5, -1.5, 2.0, 0.2757779352684795, 1e-9, 0.0],
            "title": ["红色连衣裙 👗", None, "", "t", "'quoted'", "=SUM(A1)"],
        }
    )
    result = write_table(frame, target.url, target.table, run_id="r1", model="cvae")
    assert (result.rows, result.table, result.run_id) == (6, target.table, "r1")
    back = target.rows("user_id", "item_id", "title", "model", "run_id", "rank")
    titles = [None if pd.isna(t) else t for t in frame.title]
    expected = sorted(
        ((u, i, t, "cvae", "r1", r) for u, i, t, r in zip(frame.user_id, frame.item_id, titles, frame["rank"])),
        key=repr,
    )
    assert back == expected
    scores = sorted(s for (s,) in target.rows("score"))
    assert scores == sorted(frame.score)  # exactly: double precision on every backend (MySQL FLOAT is not)


def test_rerun_replaces_rows_and_other_run_adds(target):
    write_table(recs(3), target.url, target.table, run_id="2026-11-23")
    assert target.count() == 6
    write_table(recs(3), target.url, target.table, run_id="2026-11-23")
    assert target.count() == 6
    write_table(recs(4), target.url, target.table, run_id="2026-11-23")  # a re-run with other results
    assert target.count() == 8
    write_table(recs(2), target.url, target.table, run_id="2026-11-24")
    assert (target.count("2026-11-23"), target.count("2026-11-24")) == (8, 4)


def test_failure_mid_write_rolls_back_everything(target):
    write_table(recs(3), target.url, target.table, run_id="r1", chunksize=2)
    write_table(recs(1), target.url, target.table, run_id="r2", chunksize=2)
    before = target.rows()
    engine = make_engine(target.url)
    with engine.begin() as conn:  # a constraint of the warehouse that the 2nd chunk will break
        table = sa.Table(target.table, sa.MetaData(), autoload_with=conn)
        sa.Index(f"ux_{target.table}", table.c.run_id, table.c.user_id, table.c.rank, unique=True).create(conn)
    engine.dispose()
    bad = pd.concat([recs(3), recs(3).iloc[[0]]], ignore_index=True)  # row 6 duplicates row 0
    with pytest.raises(OutputError, match="table is unchanged"):
        write_table(bad, target.url, target.table, run_id="r1", chunksize=4)
    assert target.rows() == before


def test_bad_values_are_refused_before_writing(target):
    write_table(recs(3), target.url, target.table, run_id="r1")
    before = target.rows()
    missing = recs(3)
    missing.loc[4, "item_id"] = None
    with pytest.raises(InputError) as err:
        write_table(missing, target.url, target.table, run_id="r1", chunksize=2)
    assert (err.value.column, err.value.row) == ("item_id", 4)
    too_long = recs(3)
    too_long.loc[5, "user_id"] = "u" * 256
    with pytest.raises(InputError, match="longer than 255") as err:
        write_table(too_long, target.url, target.table, run_id="r1", chunksize=2)
    assert (err.value.column, err.value.row) == ("user_id", 5)
    with pytest.raises(InputError, match="rank"):
        write_table(recs(1).drop(columns="rank"), target.url, target.table, run_id="r1")
    assert target.rows() == before


def test_existing_table_with_other_columns_is_refused(target):
    engine = make_engine(target.url)
    with engine.begin() as conn:
        sa.Table(
            target.table, sa.MetaData(), sa.Column("run_id", sa.String(64)), sa.Column("user_id", sa.String(255))
        ).create(conn)
    engine.dispose()
    with pytest.raises(InputError, match="lacks column.*rank.*item_id.*score"):
        write_table(recs(1), target.url, target.table, run_id="r1")
    assert target.count() == 0


def test_copy_and_metrics_kinds(target):
    copy = pd.DataFrame(
        {
            "user_id": ["007", "008"],
            "channel": ["sms", "sms"],
            "locale": ["zh", "zh"],
            "variant": ["A", "B"],
            "subject": [None, None],
            "body": ["您好 007", "=HYPERLINK()"],
            "item_ids": [["001", "002"], ["003"]],
            "chars": [6, 12],
            "sms_parts": [1, 1],
            "warnings": [None, "too long"],
        }
    )
    assert write_table(copy, target.url, target.table, run_id="r1", kind="copy").rows == 2
    assert target.rows("user_id", "item_ids", "body") == [
        ("007", '["001", "002"]', "您好 007"),
        ("008", '["003"]', "=HYPERLINK()"),
    ]
    with pytest.raises(InputError, match="lacks column"):  # a copy table is not a metrics table
        write_table(
            pd.DataFrame({"model": ["cvae"], "metric": ["recall"], "mean": [0.3]}),
            target.url,
            target.table,
            run_id="r1",
            kind="metrics",
        )


def test_metrics_kind(target):
    metrics = pd.DataFrame(
        {
            "model": ["cvae", "pop"],
            "metric": ["recall", "ndcg"],
            "k": [10, None],
            "mean": [0.31, 0.12],
            "low": [0.29, None],
            "high": [0.33, None],
        }
    )
    write_table(metrics, target.url, target.table, run_id="r1", kind="metrics")
    assert target.rows("model", "k", "low") == [("cvae", 10, pytest.approx(0.29)), ("pop", None, None)]


def test_empty_frame_clears_the_run(target):
    write_table(recs(2), target.url, target.table, run_id="r1")
    assert write_table(recs(0), target.url, target.table, run_id="r1").rows == 0
    assert target.count() == 0


@pytest.mark.parametrize(
    "name", ["x; drop table y", "recs--", "1abc", "a.b.c", "", "rec s", "t\u00e9", "x" * 64, "recs)", '"recs"']
)
def test_identifier_validation_refuses_sql(name):
    with pytest.raises(InputError, match="invalid table name"):
        validate_identifier(name)


def test_identifier_validation_accepts_plain_names():
    assert validate_identifier("recommendations") == (None, "recommendations")
    assert validate_identifier("mart.Recs_2026") == ("mart", "Recs_2026")


def test_injection_attempt_touches_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    write_table(recs(1), url, "y", run_id="r1")
    with pytest.raises(InputError):
        write_table(recs(1), url, "x; drop table y", run_id="r1")
    assert sa.inspect(sa.create_engine(url)).has_table("y")


def test_schema_qualified_name(target):
    schema = {"sqlite": "main", "postgresql": "public", "mysql": sa.make_url(target.url).database}[
        sa.make_url(target.url).get_backend_name()
    ]
    write_table(recs(2), target.url, f"{schema}.{target.table}", run_id="r1")
    write_table(recs(2), target.url, f"{schema}.{target.table}", run_id="r1")
    assert target.count("r1") == 4


@pytest.mark.parametrize("how", ["read-only connection", "read-only file"])
def test_read_only_sqlite_gives_output_error_and_keeps_rows(tmp_path, how):
    path = tmp_path / "ro.db"
    write_table(recs(3), f"sqlite:///{path}", "recs", run_id="r1")
    before = path.read_bytes()
    if how == "read-only file":
        if getattr(os, "geteuid", lambda: -1)() == 0:
            pytest.skip("root writes to read-only files; the read-only connection case covers this")
        path.chmod(0o444)
        url = f"sqlite:///{path}"
    else:
        url = f"sqlite:///file:{path}?mode=ro&uri=true"  # the database refuses writes, also for root
    with pytest.raises(OutputError, match="readonly|read-only|read only") as err:
        write_table(recs(5), url, "recs", run_id="r1")
    assert "table is unchanged" in str(err.value)
    assert path.read_bytes() == before


def test_unreachable_server_gives_output_error_without_password():
    url = "postgresql+psycopg://bi_user:s3cr3t-pw@127.0.0.1:1/dw"
    engine = make_engine(url, connect_args={"connect_timeout": 2})
    with pytest.raises(OutputError) as err:
        write_table(recs(1), engine, "recs", run_id="r1")
    assert "s3cr3t" not in str(err.value) and "***" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_make_engine_reads_env_and_hides_password(monkeypatch, caplog):
    monkeypatch.setenv("AIGC_BIZ_DB_URL", "sqlite://")
    assert str(make_engine().url) == "sqlite://"
    monkeypatch.delenv("AIGC_BIZ_DB_URL")
    with pytest.raises(InputError, match="AIGC_BIZ_DB_URL"):
        make_engine()
    with pytest.raises(InputError) as err:
        make_engine("nosuchdb+nodriver://u:pw123@h/db")
    assert "pw123" not in str(err.value)
    with pytest.raises(InputError) as err:
        make_engine("this is not a url pw123")
    assert "pw123" not in str(err.value)
    assert safe_url("postgresql+psycopg://u:pw123@h/db") == "postgresql+psycopg://u:***@h/db"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite URLs cannot hold a password
def test_log_line_hides_password(target, caplog):
    url = sa.make_url(target.url)
    if not url.password:  # the local server uses trust auth: any password is accepted
        url = url.set(password="s3cr3t-pw")
    caplog.set_level(logging.DEBUG, logger="aigc_biz")
    write_table(recs(1), url.render_as_string(hide_password=False), target.table, run_id="r1", chunksize=1)
    assert f"wrote 2 rows of run r1 to {target.table} at {url.render_as_string(hide_password=True)}" in caplog.text
    assert ":***@" in caplog.text and url.host in caplog.text and url.database in caplog.text
    assert url.password not in caplog.text
    assert target.count("r1") == 2


def test_bad_arguments():
    with pytest.raises(InputError, match="kind"):
        write_table(recs(1), "sqlite://", "recs", run_id="r1", kind="orders")
    with pytest.raises(InputError, match="run_id"):
        write_table(recs(1), "sqlite://", "recs", run_id="")
    with pytest.raises(InputError, match="score"):
        write_table(recs(1).assign(score="high"), "sqlite://", "recs", run_id="r1")
    with pytest.raises(InputError, match="whole number"):
        write_table(recs(1).assign(rank=1.5), "sqlite://", "recs", run_id="r1")


def test_reason_and_new_item_are_stored_in_a_new_table(target):
    reason, new_item = ["repeat", "new", None, "new"], [False, True, None, False]
    frame = recs(n_users=2, k=2).assign(reason=reason, new_item=new_item)
    write_table(frame, target.url, target.table, run_id="r1")
    stored = {
        (u, r): (why, None if new is None else bool(new))
        for u, r, why, new in target.rows("user_id", "rank", "reason", "new_item")
    }  # MariaDB's BOOLEAN reads back as 0/1
    assert stored == {(u, r): (why, new) for u, r, why, new in zip(frame.user_id, frame["rank"], reason, new_item)}
    with pytest.raises(InputError, match="expected true or false") as err:
        write_table(frame.assign(new_item=["yes", "maybe", None, "no"]), target.url, target.table, run_id="r2")
    assert err.value.column == "new_item" and err.value.row == 1
    assert target.count("r2") == 0


def test_a_table_made_before_reason_existed_still_takes_writes(target, caplog):
    from aigc_biz.io.sql import _key_collation, table_for

    engine = sa.create_engine(target.url)
    with engine.begin() as conn:  # the schema of the tables created by earlier releases
        old = table_for(target.table, key_collation=_key_collation(conn.dialect), without=("reason", "new_item"))
        old.create(conn)
    engine.dispose()
    with caplog.at_level(logging.WARNING, logger="aigc_biz.io.sql"):
        write_table(recs().assign(reason="new"), target.url, target.table, run_id="r1")
    assert target.count("r1") == 6
    assert "reason" in caplog.text and "ALTER TABLE" in caplog.text and "new_item" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aigc_biz.io.sql"):  # nothing lost: no warning
        write_table(recs(), target.url, target.table, run_id="r2")
    assert not caplog.text
