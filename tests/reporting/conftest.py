"""Session fixtures: the small hostile run and the full report built from it in both locales."""

from __future__ import annotations

import pytest
from report_fixtures import make_run

from aigc_biz.reporting import build_report


@pytest.fixture(scope="session")
def run():
    return make_run()


@pytest.fixture(scope="session")
def built_reports(run, tmp_path_factory):
    """The full report in both locales: locale -> ReportResult."""
    data, recs, leaderboard, copy = run
    folder = tmp_path_factory.mktemp("reports")
    return {
        locale: build_report(
            data,
            folder / f"report_{locale}.html",
            recs=recs,
            leaderboard=leaderboard,
            copy=copy,
            locale=locale,
            meta={"device": "cpu", "seed": 0},
            seed=1,
        )
        for locale in ("en", "zh")
    }
