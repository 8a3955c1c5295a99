"""Report charts as inline SVG strings, drawn with matplotlib's object API (no pyplot, no global backend).

Text stays text (``svg.fonttype: none``) so the browser draws it with the page's fonts, CJK included.
matplotlib XML-escapes every text it writes; labels from the data are additionally protected from
mathtext (a ``$`` in a category name would otherwise be parsed as a formula).
"""

from __future__ import annotations

import io
import re
import warnings

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "aigc-biz-report",  # fixed ids: the same data gives the same file
    "svg.image_inline": True,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # the page's CSS chooses the real font
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.cycler(
        color=["#2f6fb3", "#e08a2c", "#3a9a5b", "#c0504d", "#7d5ba6", "#8c6d31", "#d36fae", "#6b6b6b"]
    ),
}
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_TAG = re.compile(r"<[^<>]+>")
_NAMESPACE = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_ID = re.compile(r'\sid="([^"]+)"')
_REFERENCE = re.compile(r'(?:url\(#|href="#)([^)"]+)')

DATA_COLOR, RECS_COLOR = "#2f6fb3", "#e08a2c"


def plain_label(text) -> str:
    """A data value as a label matplotlib shows literally (``$`` escaped so it is never mathtext)."""
    return str(text).replace("$", r"\$")


def figure_to_svg(fig: Figure, prefix: str) -> str:
    """The figure as one ``<svg>`` element fit for inlining in HTML.

    The XML prolog, DOCTYPE and namespace declarations are dropped (the HTML parser places inline
    ``<svg>`` in the SVG namespace itself, and none of them may leave a URL in an offline page);
    ids nothing refers to are removed and the others prefixed, so several charts share a page.
    """
    buffer = io.StringIO()
    with warnings.catch_warnings():
        # CJK glyphs are missing from matplotlib's font: harmless, the browser draws the text
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        fig.savefig(buffer, format="svg", metadata=_SVG_METADATA)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # text content is XML-escaped, so every "<...>" is a tag: rewrite attributes there and only there
    tags = _TAG.findall(svg)
    referenced = {ref for tag in tags for ref in _REFERENCE.findall(tag)}

    def rewrite(match: re.Match) -> str:
        tag = _NAMESPACE.sub("", match.group(0)).replace("xlink:href=", "href=")
        tag = _ID.sub(lambda m: f' id="{prefix}-{m.group(1)}"' if m.group(1) in referenced else "", tag)
        return _REFERENCE.sub(lambda m: m.group(0).replace("#" + m.group(1), f"#{prefix}-{m.group(1)}"), tag)

    svg = _TAG.sub(rewrite, svg)
    return svg.strip()


def _figure(width: float = 6.4, height: float = 3.2) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def _plain_log_ticks(axis) -> None:
    """Tick labels 1, 2, 10, 100 rather than 10^0 (minor ones only when the axis spans few decades)."""
    axis.set_major_formatter(LogFormatter(minor_thresholds=(2, 0.5)))
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def _legend_outside(ax) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)


def _render(draw, prefix: str, width: float = 6.4, height: float = 3.2) -> str:
    with matplotlib.rc_context(_RC):
        fig = _figure(width, height)
        draw(fig)
        return figure_to_svg(fig, prefix)


def activity_chart(histogram: dict, x_label: str, y_label: str) -> str | None:
    """Histogram of interactions per customer on log-log axes."""
    edges, counts = np.asarray(histogram["edges"]), np.asarray(histogram["counts"])
    if len(counts) == 0:
        return None

    def draw(fig):
        ax = fig.add_subplot()
        ax.stairs(np.where(counts > 0, counts, np.nan), edges, fill=True, color=DATA_COLOR, alpha=0.85)
        _log_log_axes(ax, x_label, y_label)

    return _render(draw, "activity")


def longtail_chart(curve: dict, x_label: str, y_label: str) -> str | None:
    """Popularity of items, most popular first, on log-log axes."""
    if not curve["rank"]:
        return None

    def draw(fig):
        ax = fig.add_subplot()
        ax.plot(curve["rank"], curve["customers"], color=DATA_COLOR, linewidth=1.8)
        ax.fill_between(curve["rank"], curve["customers"], 1, color=DATA_COLOR, alpha=0.15)
        _log_log_axes(ax, x_label, y_label)

    return _render(draw, "longtail")


def _log_log_axes(ax, x_label: str, y_label: str) -> None:
    """Log scale on both axes with plain tick labels (1, 10, 100), and the axis labels."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax.xaxis)
    _plain_log_ticks(ax.yaxis)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)


def timeline_chart(over_time: dict | None, y_label: str) -> str | None:
    """Events per period as a bar-like step area."""
    if not over_time or not over_time["events"]:
        return None
    starts = np.array(over_time["start"], dtype="datetime64[D]")
    counts = np.asarray(over_time["events"])

    def draw(fig):
        ax = fig.add_subplot()
        ax.fill_between(starts, counts, step="post", color=DATA_COLOR, alpha=0.35)
        ax.step(starts, counts, where="post", color=DATA_COLOR, linewidth=1.2)
        ax.set_ylabel(y_label)
        ax.set_ylim(bottom=0)
        fig.autofmt_xdate()

    return _render(draw, "timeline")


def leaderboard_chart(models: list[dict], metric: str, winner: str | None) -> str | None:
    """One horizontal bar per model for ``metric`` with its 95% interval as an error bar."""
    rows = [m for m in models if metric in m["metrics"] and m["metrics"][metric]["mean"] is not None]
    if not rows:
        return None
    names = [plain_label(m["model"]) for m in rows]
    means = np.array([m["metrics"][metric]["mean"] for m in rows], dtype=float)
    lows = np.array([_or(m["metrics"][metric]["low"], m["metrics"][metric]["mean"]) for m in rows], dtype=float)
    highs = np.array([_or(m["metrics"][metric]["high"], m["metrics"][metric]["mean"]) for m in rows], dtype=float)
    colors = [RECS_COLOR if m["model"] == winner else DATA_COLOR for m in rows]

    def draw(fig):
        ax = fig.add_subplot()
        y = np.arange(len(rows))
        ax.barh(
            y,
            means,
            color=colors,
            xerr=[means - lows, highs - means],
            capsize=3,
            error_kw={"elinewidth": 1, "ecolor": "#333333"},
        )
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xlabel(plain_label(metric))

    return _render(draw, "leaderboard", height=max(1.6, 0.45 * len(rows) + 0.9))


def segments_chart(by_segment: dict, metric: str) -> str | None:
    """Grouped horizontal bars: one group per segment, one bar per model."""
    models = list(by_segment["models"])
    segments = list(by_segment["segments"])
    if not models or not segments:
        return None

    def draw(fig):
        ax = fig.add_subplot()
        height = 0.8 / len(models)
        y = np.arange(len(segments))
        for j, model in enumerate(models):
            values = [by_segment["values"][model].get(s) for s in segments]
            values = np.array([np.nan if v is None else v for v in values], dtype=float)
            ax.barh(y + j * height, values, height=height, label=plain_label(model))
        ax.set_yticks(y + height * (len(models) - 1) / 2, [plain_label(s) for s in segments])
        ax.invert_yaxis()
        ax.set_xlabel(plain_label(metric))
        _legend_outside(ax)

    return _render(draw, "segments", height=max(1.8, 0.22 * len(segments) * len(models) + 1.0))


def paired_share_chart(
    labels: list[str],
    in_data: list[float],
    in_recs: list[float],
    data_label: str,
    recs_label: str,
    x_label: str,
    prefix: str,
    horizontal: bool = False,
) -> str | None:
    """Two bars per label comparing the share in the data with the share in the recommendations."""
    if not labels:
        return None

    def draw(fig):
        ax = fig.add_subplot()
        pos = np.arange(len(labels))
        width = 0.4
        bar = ax.barh if horizontal else ax.bar
        bar(pos - width / 2, in_data, width, color=DATA_COLOR, label=plain_label(data_label))
        bar(pos + width / 2, in_recs, width, color=RECS_COLOR, label=plain_label(recs_label))
        ticks = [plain_label(x) for x in labels]
        if horizontal:
            ax.set_yticks(pos, ticks)
            ax.invert_yaxis()
            ax.set_xlabel(plain_label(x_label))
        else:
            ax.set_xticks(pos, ticks)
            ax.set_xlabel(plain_label(x_label))
        _legend_outside(ax)

    height = max(2.0, 0.32 * len(labels) + 0.9) if horizontal else 3.0
    return _render(draw, prefix, height=height)


def _or(value, default):
    return default if value is None else value


def curves_chart(curves: list[tuple[str, list, list]], x_label: str, y_label: str, prefix: str) -> str | None:
    """One line per (label, x, y) on log-log axes (e.g. real and synthetic item popularity)."""
    if not any(len(x) for _, x, _ in curves):
        return None

    def draw(fig):
        ax = fig.add_subplot()
        for (label, x, y), color in zip(curves, (DATA_COLOR, RECS_COLOR, "#3a9a5b")):
            ax.plot(x, y, color=color, linewidth=1.8, label=plain_label(label))
        _log_log_axes(ax, x_label, y_label)
        _legend_outside(ax)

    return _render(draw, prefix)
