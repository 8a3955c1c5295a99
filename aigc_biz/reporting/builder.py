"""build_report: figures -> charts -> one offline HTML file (Jinja2, autoescaped) + the same figures as JSON."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from aigc_biz.data import Interactions
from aigc_biz.data.profile import profile as data_profile
from aigc_biz.errors import InputError
from aigc_biz.io.files import atomic_output
from aigc_biz.json_safe import json_safe
from aigc_biz.reporting import charts
from aigc_biz.reporting.coverage import recommendation_stats
from aigc_biz.reporting.customers import sample_customers as sample_customer_section
from aigc_biz.reporting.leaderboard import normalize_leaderboard, normalize_segments
from aigc_biz.reporting.metadata import merge_meta
from aigc_biz.reporting.strings import HTML_LANG, strings_for
from aigc_biz.resources import resource_path

TEMPLATE_NAME = "report.html.j2"
JSON_SCHEMA = "aigc-biz-report/1"
RECS_COLUMNS = ("user_id", "rank", "item_id", "score")
COPY_COLUMNS = ("user_id", "channel", "body")


@dataclass(frozen=True)
class ReportResult:
    """Where the report went and what it cost.

    Attributes
    ----------
    html_path, json_path : Path
        The HTML report and the JSON file with the same figures, side by side.
    seconds : float
        Wall time of the whole build.
    bytes : int
        Size of the HTML file.
    """

    html_path: Path
    json_path: Path
    seconds: float
    bytes: int


def build_report(
    data: Interactions,
    output: str | Path,
    *,
    recs: pd.DataFrame | None = None,
    leaderboard: dict | None = None,
    copy: pd.DataFrame | None = None,
    locale: str = "en",
    meta: dict | None = None,
    sample_customers: int = 8,
    seed: int = 0,
) -> ReportResult:
    """Write a self-contained offline HTML report for analysts, and its figures as JSON beside it.

    Parameters
    ----------
    data : Interactions
        The loaded interactions (profile, popularity, histories, titles and categories).
    output : str or Path
        The HTML file to write; the JSON goes to the same path with suffix ``.json``.
    recs : DataFrame, optional
        Recommendations with columns user_id, rank, item_id, score (title, category optional).
        Enables the coverage / popularity-bias section and the recommendations of sampled customers.
    leaderboard : dict, optional
        The evaluation module's leaderboard JSON (``models`` with ``metrics`` -> mean/low/high,
        ``winner``, optional ``by_segment``). Enables the leaderboard and segment sections.
    copy : DataFrame, optional
        Marketing copy per customer (user_id, channel, body; locale, variant, subject, item_ids,
        chars, sms_parts, warnings optional), shown for sampled customers.
    locale : {"en", "zh"}
        Language of the report's own words.
    meta : dict, optional
        Run metadata (versions, device, parameters, seed, duration...); package versions, a data
        fingerprint and the report time are filled in when missing.
    sample_customers : int
        How many customers the per-customer section shows (fixed, whatever the data size).
    seed : int
        Chooses the sampled customers; the same seed shows the same customers.

    Returns
    -------
    ReportResult

    Raises
    ------
    InputError
        Unknown locale, a table missing a required column, a malformed leaderboard, a bad path.
        Nothing is written then, and an earlier report at ``output`` stays as it was.
    OutputError
        The files could not be written (the earlier report, if any, is intact).

    Examples
    --------
    >>> import numpy as np, pandas as pd, tempfile, pathlib
    >>> from aigc_biz.data import Interactions
    >>> df = pd.DataFrame({"user": ["u1", "u1", "u2"], "item": ["a", "b", "a"]})
    >>> data = Interactions.from_frame(df, "user", "item")
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> result = build_report(data, out, locale="zh", sample_customers=2)
    >>> result.json_path.name
    'report.json'
    """
    started = time.perf_counter()
    if not isinstance(data, Interactions):
        raise TypeError(f"data must be an aigc_biz.data.Interactions, not {type(data).__name__}")
    words = strings_for(locale)
    html_path, json_path = report_paths(output)
    if (
        isinstance(sample_customers, bool)
        or not isinstance(sample_customers, (int, np.integer))
        or sample_customers < 0
    ):
        raise InputError(f"sample_customers must be a whole number >= 0, got {sample_customers!r}")
    _require_columns(recs, RECS_COLUMNS, "recommendations", numeric=("rank", "score"))
    _require_columns(copy, COPY_COLUMNS, "copy")

    figures = collect_figures(
        data,
        recs=recs,
        leaderboard=leaderboard,
        copy=copy,
        meta=meta,
        sample_customers=int(sample_customers),
        seed=seed,
    )
    figures["locale"] = locale
    chart_svgs = draw_charts(figures, words)
    figures["charts"] = sorted(chart_svgs)
    html = render_html(figures, chart_svgs, words, locale)
    payload = json.dumps(json_safe(figures), ensure_ascii=False, indent=1, allow_nan=False)
    html_bytes = html.encode("utf-8")
    write_pair_atomically(html_path, html_bytes, json_path, payload.encode("utf-8"))
    return ReportResult(
        html_path=html_path, json_path=json_path, seconds=time.perf_counter() - started, bytes=len(html_bytes)
    )


def collect_figures(
    data: Interactions, *, recs=None, leaderboard=None, copy=None, meta=None, sample_customers: int = 8, seed: int = 0
) -> dict:
    """Every number the report shows, section by section (the content of report.json)."""
    segment_sizes = _segment_sizes(data)
    figures = {
        "schema": JSON_SCHEMA,
        "profile": data_profile(data),
        "leaderboard": None,
        "segments": None,
        "coverage": None,
        "reasons": None,
        "customers": {
            "seed": seed,
            "requested": sample_customers,
            "rows": sample_customer_section(data, recs, copy, sample_customers, seed),
        },
        "meta": merge_meta(data, meta),
    }
    if leaderboard is not None:
        figures["leaderboard"] = normalize_leaderboard(leaderboard)
        segments = normalize_segments(leaderboard, list(segment_sizes))
        if segments is not None:
            segments["customers"] = {s: segment_sizes.get(s) for s in segments["segments"]}
            figures["segments"] = segments
    if recs is not None:
        figures["coverage"] = recommendation_stats(recs, data)
    if (recs is not None and "reason" in recs.columns) or _has_repeat_metrics(figures["leaderboard"]):
        figures["reasons"] = reason_stats(recs, figures["leaderboard"])
    return figures


def _has_repeat_metrics(board: dict | None) -> bool:
    return board is not None and any(name.startswith("repeat_hit_rate@") for name in board["metrics"])


def reason_stats(recs: pd.DataFrame | None, board: dict | None) -> dict:
    """The mix of repeat and new items in ``recs`` and, from a leaderboard with repeats, each kind's hit rate."""
    out = {
        "repeat_slots": None,
        "new_slots": None,
        "repeat_share": None,
        "customers_with_repeats": None,
        "hit_rates": [],
        "k": None,
    }
    if recs is not None and "reason" in recs.columns:
        reason = recs["reason"].astype(str)
        repeat = reason == "repeat"
        out.update(
            repeat_slots=int(repeat.sum()),
            new_slots=int((reason == "new").sum()),
            repeat_share=float(repeat.mean()) if len(recs) else None,
            customers_with_repeats=int(recs.loc[repeat, "user_id"].nunique()),
        )
    if _has_repeat_metrics(board):
        k = min(int(name.split("@")[1]) for name in board["metrics"] if name.startswith("repeat_hit_rate@"))
        out["k"] = k
        for entry in board["models"]:
            metrics = entry["metrics"]
            share = (metrics.get(f"repeat_share@{k}") or {}).get("mean")
            for kind in ("repeat", "new"):
                rate = (metrics.get(f"{kind}_hit_rate@{k}") or {}).get("mean")
                if rate is not None:
                    out["hit_rates"].append(
                        {
                            "model": entry["model"],
                            "reason": kind,
                            "hit_rate": rate,
                            "share": share if kind == "repeat" or share is None else 1 - share,
                        }
                    )
    return out


def draw_charts(figures: dict, words: dict) -> dict[str, str]:
    """Chart id -> inline SVG for every chart the figures allow."""
    profile = figures["profile"]
    drawn = {
        "chart-activity": charts.activity_chart(
            profile["activity_histogram"], words["activity_x"], words["activity_y"]
        ),
        "chart-longtail": charts.longtail_chart(profile["popularity_curve"], words["longtail_x"], words["longtail_y"]),
        "chart-timeline": charts.timeline_chart(profile["over_time"], words["timeline_y"]),
    }
    board = figures["leaderboard"]
    if board is not None and board["primary_metric"]:
        drawn["chart-leaderboard"] = charts.leaderboard_chart(board["models"], board["primary_metric"], board["winner"])
    if figures["segments"] is not None:
        drawn["chart-segments"] = charts.segments_chart(figures["segments"], figures["segments"]["metric"])
    coverage = figures["coverage"]
    if coverage is not None:
        drawn["chart-deciles"] = charts.paired_share_chart(
            [str(d) for d in range(1, 11)],
            coverage["deciles"]["in_data"],
            coverage["deciles"]["in_recs"],
            words["in_data"],
            words["in_recs"],
            words["decile"],
            "deciles",
        )
        if coverage["categories"]:
            drawn["chart-categories"] = charts.paired_share_chart(
                coverage["categories"]["category"],
                coverage["categories"]["in_data"],
                coverage["categories"]["in_recs"],
                words["in_data"],
                words["in_recs"],
                words["share"],
                "categories",
                horizontal=True,
            )
    return {name: svg for name, svg in drawn.items() if svg}


def render_html(figures: dict, chart_svgs: dict[str, str], words: dict, locale: str) -> str:
    """The report page. Every value is autoescaped; only matplotlib's SVG is marked safe."""
    sections = [("profile", words["profile"])]
    if figures["leaderboard"] is not None:
        sections.append(("leaderboard", words["leaderboard"]))
    if figures["segments"] is not None:
        sections.append(("segments", words["segments"]))
    if figures["coverage"] is not None:
        sections.append(("coverage", words["coverage"]))
    sections += [("customers", words["sample"]), ("meta", words["meta"])]
    template = _environment(str(resource_path("templates", "report"))).get_template(TEMPLATE_NAME)
    return template.render(
        t=words,
        lang=HTML_LANG[locale],
        sections=sections,
        f=figures,
        charts={name: Markup(svg) for name, svg in chart_svgs.items()},
        meta_rows=_flatten_meta(figures["meta"]),
    )


def report_environment() -> Environment:
    """The Jinja2 environment of the bundled report templates (report.html.j2, synth.html.j2)."""
    return _environment(str(resource_path("templates", "report")))


@lru_cache(maxsize=4)
def _environment(template_folder: str) -> Environment:
    """One Jinja2 environment per template folder (it caches compiled templates, and checks their mtime)."""
    env = Environment(
        loader=FileSystemLoader(template_folder),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2", "j2"), default_for_string=True, default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_format_number, pct=_format_percent, fixed=_format_fixed, json_text=_json_text)
    return env


# --- validation ---------------------------------------------------------------------------------
def report_paths(output) -> tuple[Path, Path]:
    """The HTML file and the JSON beside it that a report to ``output`` writes; InputError for a folder or .json."""
    html_path = Path(output)
    if html_path.is_dir():
        raise InputError(
            "the report output is a folder, expected a file name", file=str(html_path), hint="e.g. -o report.html"
        )
    json_path = html_path.with_suffix(".json")
    if json_path == html_path:
        raise InputError("the report output must not end in .json (the JSON is written beside it)", file=str(html_path))
    return html_path, json_path


def _require_columns(frame, columns, what: str, numeric=()) -> None:
    if frame is None:
        return
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{what} must be a table (DataFrame), not {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} table lacks column(s) {', '.join(missing)}",
            column=missing[0],
            hint="required: " + ", ".join(columns),
        )
    for column in numeric:
        bad = pd.to_numeric(frame[column], errors="coerce").isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{what} table has a missing or non-numeric {column} ({frame[column].iloc[row]!r})",
                column=column,
                row=row,
            )


def _segment_sizes(data: Interactions) -> dict[str, int]:
    if "segment" not in data.user_features.columns:
        return {}
    counts = data.user_features["segment"].dropna().astype(str).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


# --- output ---------------------------------------------------------------------------------------
def write_pair_atomically(html_path: Path, html: bytes, json_path: Path, payload: bytes) -> None:
    """Write both files through temporary siblings; nothing is replaced unless both were written whole.

    The JSON is moved into place first and the HTML last, so a failure anywhere leaves the earlier
    HTML report as it was (io.files.atomic_output removes the temporary files and raises OutputError).
    """
    with atomic_output(html_path) as html_stream:
        with atomic_output(json_path) as json_stream:
            json_stream.write(payload)
            html_stream.write(html)


def _flatten_meta(meta: dict, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for key, value in meta.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows += _flatten_meta(value, name + ".")
        elif isinstance(value, (list, tuple, dict)):
            rows.append((name, json.dumps(json_safe(value), ensure_ascii=False)))
        else:
            rows.append((name, "" if value is None else str(value)))
    return rows


# --- number formats used by the template ------------------------------------------------------------
def _format_number(value) -> str:
    """1,234 for whole numbers, 3 significant digits below 100, one decimal above."""
    if value is None:
        return "–"
    number = float(value)
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.1f}" if abs(number) >= 100 else f"{number:.3g}"


def _format_percent(value, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * float(value):.{digits}f}%"


def _json_text(value) -> str:
    """JSON as plain text (the template escapes it like any other value)."""
    return json.dumps(json_safe(value), ensure_ascii=False, sort_keys=True)


def _format_fixed(value, digits: int = 3) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"
