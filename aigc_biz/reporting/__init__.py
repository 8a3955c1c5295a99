"""Analyst reports: one self-contained offline HTML file (inline SVG charts, no network) plus its figures as JSON.

>>> from aigc_biz.reporting import build_report
>>> build_report(data, "report.html", recs=recs, leaderboard=board, copy=copy, locale="zh")  # doctest: +SKIP
"""

from aigc_biz.reporting.builder import ReportResult, build_report, collect_figures, report_paths
from aigc_biz.reporting.metadata import data_fingerprint

__all__ = ["ReportResult", "build_report", "collect_figures", "data_fingerprint", "report_paths"]
