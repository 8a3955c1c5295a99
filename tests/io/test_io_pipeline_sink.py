"""The pipeline's write step against SQLite, PostgreSQL and MariaDB: same run replaces, new run adds."""

from __future__ import annotations

import textwrap

import sqlalchemy as sa

from aigc_biz.api import run as run_pipeline  # api.run is the one entry that runs a job
from aigc_biz.resources import sample_data_path


def test_pipeline_writes_recommendations_and_copy_to_the_database(tmp_path, target, monkeypatch):
    monkeypatch.setenv("AIGC_TEST_DB", target.url)
    orders = tmp_path / "orders.csv"  # the first 2,000 sample orders keep three runs per backend quick
    orders.write_text(
        "".join(sample_data_path().read_text(encoding="utf-8").splitlines(keepends=True)[:2001]), encoding="utf-8"
    )
    job = tmp_path / "job.yaml"
    job.write_text(
        textwrap.dedent(f"""
        name: db_sink
        run_id: ${{RUN_ID:-first}}
        output_dir: {tmp_path / "out"}
        steps:
          - load: {{source: orders.csv}}
          - recommend: {{model: pop, top_k: 3}}
          - copy: {{channel: sms, locale: zh}}
          - write: {{db: "${{AIGC_TEST_DB}}", recommendations_table: {target.table}, copy_table: {target.table}_copy}}
    """),
        encoding="utf-8",
    )
    copy_table = sa.Table(f"{target.table}_copy", sa.MetaData())
    try:
        result = run_pipeline(job)
        rows = target.count("first")
        assert rows > 0 and rows % 3 == 0
        assert result.outputs["db.recommendations"].endswith("#" + target.table)
        run_pipeline(job)  # the same run again: replaced
        run_pipeline(job, env={"RUN_ID": "second"})  # another run: added
        assert (target.count("first"), target.count("second"), target.count()) == (rows, rows, 2 * rows)
        assert target.distinct("run_id", "user_id", "rank") == 2 * rows
        engine = sa.create_engine(target.url)
        with engine.connect() as conn:
            copy = sa.Table(copy_table.name, sa.MetaData(), autoload_with=conn)
            counts = dict(conn.execute(sa.select(copy.c.run_id, sa.func.count()).group_by(copy.c.run_id)).all())
            ids = conn.execute(sa.select(copy.c.user_id).limit(1)).scalar_one()
        assert counts == {"first": rows // 3, "second": rows // 3}
        assert ids.startswith("C")  # ids stay text ("C000847"), never numbers
    finally:
        engine = sa.create_engine(target.url)
        with engine.begin() as conn:
            copy_table.drop(conn, checkfirst=True)
        engine.dispose()
