"""One synthesis run: fit, sample, write the table, and (with a report) measure privacy and quality."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from aigc_biz.errors import ConfigError
from aigc_biz.io.files import atomic_output, format_of, write_frame
from aigc_biz.synth.generator import BehaviourSynthesizer
from aigc_biz.synth.privacy import membership_inference, privacy_figures
from aigc_biz.synth.quality import quality_figures
from aigc_biz.synth.report import write_synth_report
from aigc_biz.synth.source import SourceTable, read_like
from aigc_biz.synth.tstr import tstr

__all__ = ["SynthResult", "synthesize", "write_table", "TRAIN_SHARE"]

#: TSTR fits on the first 80 % of the real table's time span and tests on the rest
TRAIN_SHARE = 0.8
_FORMULA_START = ("=", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?\d[\d,]*(\.\d+)?$")


@dataclass
class SynthResult:
    """What :func:`synthesize` made.

    ``table``: the synthetic rows (text, the input's columns); ``figures``: privacy, membership,
    tstr and quality figures when a report was asked for; ``outputs``: file paths written.
    """

    table: pd.DataFrame
    model: BehaviourSynthesizer
    figures: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict:
        out = {
            "rows": int(len(self.table)),
            "customers": int(self.table[self.model.roles_.user].nunique()) if len(self.table) else 0,
            "outputs": {k: str(v) for k, v in self.outputs.items()},
            "seconds": round(self.seconds, 2),
        }
        privacy = self.figures.get("privacy")
        if privacy:
            out["real_ids_in_output"] = privacy["real_ids_in_output"]
            out["copied_rows"] = privacy["copied_rows"]
        if self.figures.get("tstr"):
            out["tstr_ratio"] = self.figures["tstr"]["ratio"]
        if self.figures.get("membership"):
            out["membership_auc"] = self.figures["membership"]["auc"]
        return out


def synthesize(
    real: SourceTable,
    *,
    customers: int | None = None,
    seed: int = 0,
    noise: float = 0.0,
    output: str | Path | None = None,
    report: str | Path | None = None,
    params: dict | None = None,
) -> SynthResult:
    """Fit a :class:`BehaviourSynthesizer` on ``real``, sample ``customers`` (default: as many as ``real``
    has) and write them to ``output``; with ``report``, also measure and write the quality report."""
    started = time.perf_counter()
    settings = {"noise": noise, "seed": seed, **(params or {})}
    unknown = set(settings) - set(BehaviourSynthesizer().__dict__)
    if unknown:
        raise ConfigError(
            f"unknown synth setting(s): {', '.join(sorted(unknown))}",
            hint="valid: " + ", ".join(sorted(BehaviourSynthesizer().__dict__)),
        )
    model = BehaviourSynthesizer(**settings).fit(real)
    table = model.sample(customers, seed=seed)
    result = SynthResult(table=table, model=model)
    if output is not None:
        result.outputs["table"] = write_table(table, output)
    if report is not None:
        n_real = len(np.unique(real.user))
        scale = (customers or n_real) / n_real
        result.figures = evaluate_synthesis(real, read_like(table, real.roles), model, settings, scale, seed)
        result.figures["meta"] = {
            "source": real.source,
            "seed": seed,
            "noise": noise,
            "customers": customers or n_real,
            "params": settings,
            "mixture_weight": list(np.asarray(model.mixture_weight_, dtype=float)),
            "sharpness": model.sharpness_,
            "repeat_rate": model.repeat_rate_,
            "return_rate": model.return_rate_,
            "seconds": round(time.perf_counter() - started, 2),
        }
        html, json_path = write_synth_report(result.figures, report)
        result.outputs.update(report=html, report_json=json_path)
    result.seconds = time.perf_counter() - started
    return result


def evaluate_synthesis(
    real: SourceTable, synthetic: SourceTable, model: BehaviourSynthesizer, settings: dict, scale: float, seed: int
) -> dict:
    """Privacy (against ``real``), membership inference (a half-and-half refit), TSTR (a time-split
    refit) and side-by-side quality of ``synthetic``."""

    def refit(train: SourceTable, n: int) -> SourceTable:
        sample = BehaviourSynthesizer(**settings).fit(train).sample(max(1, int(round(n))), seed=seed + 1)
        return read_like(sample, real.roles)

    figures = {
        "privacy": privacy_figures(real, synthetic),
        "membership": membership_inference(real, lambda train, n: refit(train, n), seed=seed),
        "quality": quality_figures(real, synthetic, model.kinds_),
        "tstr": None,
    }
    if real.time is not None:
        early, late = real.before(TRAIN_SHARE)
        n_early = len(np.unique(early.user))
        synthetic_early = refit(early, n_early * scale)
        figures["tstr"] = {
            **tstr(early, late, synthetic_early),
            "train_share": TRAIN_SHARE,
            "synthetic_customers": int(round(n_early * scale)),
        }
    return figures


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the synthetic table atomically. CSV keeps every cell's text as it is (negative numbers too);
    only a cell that would run as a spreadsheet formula (``=``, ``@`` ...) gets a leading apostrophe."""
    path = Path(path)
    if format_of(path) != "csv":
        return write_frame(table, path)
    safe = table.apply(lambda col: col.map(_defuse, na_action="ignore"))
    with atomic_output(path) as handle:
        handle.write(safe.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    return path


def _defuse(value):
    if isinstance(value, str) and (
        value.startswith(_FORMULA_START) or (value.startswith(("+", "-")) and not _NUMBER.match(value))
    ):
        return "'" + value
    return value
