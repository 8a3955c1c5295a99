"""The result of an evaluation: one row per model with every metric, its interval and timings."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from aigc_biz.errors import InputError, OutputError
from aigc_biz.json_safe import json_safe


@dataclass
class ModelResult:
    """How one model did on one split.

    Attributes
    ----------
    model : str
        Name shown in the leaderboard (the registry name, or ``name#2`` for a second model of a kind).
    params : dict
        The model's hyper-parameters, JSON-safe.
    metrics : dict of str -> dict
        ``"ndcg@10" -> {"mean": ..., "low": ..., "high": ...}`` (95 % bootstrap interval by default).
    fit_seconds, score_seconds : float
        Wall time of ``fit`` on the training part and of top-k scoring of the evaluated users.
    users_evaluated : int
        Users with at least one held-out item (the rows every accuracy metric averages over).
    per_user : dict of str -> ndarray of shape (users_evaluated,)
        Per-user values of the per-user metrics, for segment breakdowns; not written to JSON.
    user_rows : ndarray of shape (users_evaluated,)
        Row (user index) of each evaluated user in the split's matrices; not written to JSON.
    """

    model: str
    params: dict
    metrics: dict[str, dict[str, float]]
    fit_seconds: float = float("nan")
    score_seconds: float = float("nan")
    users_evaluated: int = 0
    per_user: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    user_rows: np.ndarray | None = field(default=None, repr=False, compare=False)

    def mean(self, metric: str) -> float:
        """The point estimate of ``metric`` (NaN when this result lacks it)."""
        return float(self.metrics.get(metric, {}).get("mean", float("nan")))

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "params": json_safe(self.params),
            "metrics": {
                name: {part: _finite_or_none(v) for part, v in values.items()} for name, values in self.metrics.items()
            },
            "fit_seconds": _finite_or_none(self.fit_seconds),
            "score_seconds": _finite_or_none(self.score_seconds),
            "users_evaluated": int(self.users_evaluated),
        }

    @classmethod
    def from_dict(cls, raw: dict) -> "ModelResult":
        return cls(
            model=raw["model"],
            params=dict(raw.get("params") or {}),
            metrics={
                name: {part: _nan_if_none(v) for part, v in values.items()}
                for name, values in raw.get("metrics", {}).items()
            },
            fit_seconds=_nan_if_none(raw.get("fit_seconds")),
            score_seconds=_nan_if_none(raw.get("score_seconds")),
            users_evaluated=int(raw.get("users_evaluated") or 0),
        )


@dataclass
class Leaderboard:
    """Every model's results on one split, in the order the models were given.

    ``winner`` is the model with the highest ``ndcg@10`` (or NDCG at the smallest cut-off when 10 is
    not among ``ks``). ``to_dict``/``to_json`` give the JSON the HTML report reads.
    """

    split: str
    ks: tuple[int, ...]
    rows: list[ModelResult]
    seed: int = 0
    n_boot: int = 1000
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    #: user attribute of the segment breakdown, and ``{model: {segment: {"mean", "low", "high", "users"}}}``
    #: of the ranking metric (what the HTML report's segment section reads); None without one
    segment_column: str | None = None
    by_segment: dict[str, dict[str, dict[str, float]]] | None = None

    @property
    def ranking_metric(self) -> str:
        return "ndcg@10" if 10 in self.ks else f"ndcg@{min(self.ks)}"

    @property
    def winner(self) -> str | None:
        scored = [
            (r.mean(self.ranking_metric), r.model) for r in self.rows if not math.isnan(r.mean(self.ranking_metric))
        ]
        return max(scored, key=lambda pair: pair[0])[1] if scored else None

    def result(self, model: str) -> ModelResult:
        for row in self.rows:
            if row.model == model:
                return row
        raise InputError(
            f"no model {model!r} in this leaderboard", hint="models: " + ", ".join(r.model for r in self.rows)
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per model: ``model``, then ``<metric>``, ``<metric>_low``, ``<metric>_high``..., timings."""
        records = []
        for row in self.rows:
            record = {"model": row.model}
            for name, values in row.metrics.items():
                record[name] = values.get("mean", float("nan"))
                record[f"{name}_low"] = values.get("low", float("nan"))
                record[f"{name}_high"] = values.get("high", float("nan"))
            record.update(
                fit_seconds=row.fit_seconds, score_seconds=row.score_seconds, users_evaluated=row.users_evaluated
            )
            records.append(record)
        return pd.DataFrame.from_records(records)

    def to_dict(self) -> dict:
        raw = {
            "split": self.split,
            "ks": [int(k) for k in self.ks],
            "seed": int(self.seed),
            "n_boot": int(self.n_boot),
            "created_at": self.created_at,
            "ranking_metric": self.ranking_metric,
            "winner": self.winner,
            "models": [row.to_dict() for row in self.rows],
        }
        if self.by_segment is not None:
            raw["segment_column"] = self.segment_column
            raw["by_segment"] = {
                model: {
                    segment: {part: _finite_or_none(v) for part, v in values.items()}
                    for segment, values in segments.items()
                }
                for model, segments in self.by_segment.items()
            }
        return raw

    def to_json(self, path=None, indent: int = 2) -> str:
        """The JSON text of :meth:`to_dict`; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)
        if path is not None:
            path = Path(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".tmp")
                try:
                    tmp.write_text(text, encoding="utf-8")
                    tmp.replace(path)
                except BaseException:  # also SIGTERM/SIGHUP from the CLI: no stray .tmp left
                    tmp.unlink(missing_ok=True)
                    raise
            except OSError as exc:
                raise OutputError(f"cannot write the leaderboard: {exc.strerror or exc}", file=str(path)) from None
        return text

    @classmethod
    def from_dict(cls, raw: dict) -> "Leaderboard":
        return cls(
            split=raw["split"],
            ks=tuple(int(k) for k in raw["ks"]),
            rows=[ModelResult.from_dict(m) for m in raw.get("models", [])],
            seed=int(raw.get("seed", 0)),
            n_boot=int(raw.get("n_boot", 1000)),
            created_at=raw.get("created_at", ""),
            segment_column=raw.get("segment_column"),
            by_segment=None
            if raw.get("by_segment") is None
            else {
                model: {
                    segment: {part: _nan_if_none(v) for part, v in values.items()}
                    for segment, values in segments.items()
                }
                for model, segments in raw["by_segment"].items()
            },
        )

    @classmethod
    def from_json(cls, path) -> "Leaderboard":
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("leaderboard file not found", file=str(path)) from None
        except ValueError as exc:
            raise InputError(f"not a leaderboard JSON file: {exc}", file=str(path)) from None
        return cls.from_dict(raw)


def _finite_or_none(value):
    """JSON has no NaN: a missing figure is written as null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _nan_if_none(value) -> float:
    return float("nan") if value is None else float(value)


def metrics_rows(board) -> pd.DataFrame:
    """A leaderboard (object or its ``to_dict()``) as rows ``model, metric, k, mean, low, high``.

    This is the schema of the warehouse's ``metrics`` table; ``k`` is None for metrics without a cut-off.
    """
    result = board.to_dict() if hasattr(board, "to_dict") else board
    rows = []
    for model in result.get("models", []):
        for name, values in model.get("metrics", {}).items():
            metric, _, k = name.partition("@")
            rows.append(
                {
                    "model": model["model"],
                    "metric": metric,
                    "k": int(k) if k.isdigit() else None,
                    "mean": values.get("mean"),
                    "low": values.get("low"),
                    "high": values.get("high"),
                }
            )
    return pd.DataFrame(rows, columns=["model", "metric", "k", "mean", "low", "high"])
