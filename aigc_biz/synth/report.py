"""The synthetic-data quality report: one offline HTML page (the report's look) and its figures as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from markupsafe import Markup

from aigc_biz.json_safe import json_safe
from aigc_biz.reporting import charts
from aigc_biz.reporting.builder import report_environment, report_paths, write_pair_atomically

__all__ = ["write_synth_report"]

JSON_SCHEMA = "aigc-biz-synth-report/1"


def write_synth_report(figures: dict, output: str | Path) -> tuple[Path, Path]:
    """Write ``figures`` (quality, privacy, membership, tstr, meta) as HTML at ``output`` and JSON beside it."""
    html_path, json_path = report_paths(output)
    figures = {"schema": JSON_SCHEMA, **figures}
    svgs = {name: Markup(svg) for name, svg in _charts(figures["quality"]).items() if svg}
    html = report_environment().get_template("synth.html.j2").render(f=figures, charts=svgs)
    payload = json.dumps(json_safe(figures), ensure_ascii=False, indent=1, allow_nan=False)
    write_pair_atomically(html_path, html.encode("utf-8"), json_path, payload.encode("utf-8"))
    return html_path, json_path


def _paired(block: dict, x_label: str, prefix: str, horizontal: bool = False) -> str | None:
    return charts.paired_share_chart(
        block["labels"], block["real"], block["synthetic"], "real", "synthetic", x_label, prefix, horizontal
    )


def _charts(quality: dict) -> dict[str, str | None]:
    pop = quality["popularity"]
    drawn = {
        "popularity": charts.curves_chart(
            [
                ("real", pop["real"]["rank"], pop["real"]["share"]),
                ("synthetic", pop["synthetic"]["rank"], pop["synthetic"]["share"]),
            ],
            "item rank by popularity",
            "share of purchase lines",
            "synth-popularity",
        ),
        "basket_size": _paired(quality["basket_size"], "lines per order", "synth-basket"),
        "orders_per_customer": _paired(quality["orders_per_customer"], "orders per customer", "synth-orders"),
    }
    for name, block in (quality["seasonality"] or {}).items():
        drawn[f"season_{name}"] = _paired(block, name, f"synth-{name}")
    for k, column in enumerate(quality["columns"]):
        if "values" in column:
            labels = {"labels": column["values"], "real": column["real"], "synthetic": column["synthetic"]}
            drawn[f"column_{k}"] = _paired(labels, "share", f"synth-col{k}", horizontal=True)
    return drawn
