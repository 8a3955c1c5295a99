"""Reading the evaluation module's leaderboard JSON into the rows and columns the report shows."""

from __future__ import annotations

import math
import re

from aigc_biz.errors import InputError

#: the metric the leaderboard and segment charts plot when the leaderboard has it
PRIMARY_METRIC = "ndcg@10"
_AT_K = re.compile(r"^(?P<name>.+)@(?P<k>\d+)$")
_METRIC_ORDER = (
    "ndcg",
    "recall",
    "precision",
    "map",
    "mrr",
    "hit_rate",
    "coverage",
    "novelty",
    "popularity",
    "arp",
    "diversity",
)


def _number(value, where: str):
    """A finite float, or None for a missing/NaN value; anything else is an input error."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InputError(f"leaderboard value at {where} is not a number: {value!r}") from None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _metric_sort_key(name: str):
    match = _AT_K.match(name)
    base, k = (match["name"], int(match["k"])) if match else (name, 0)
    family = _METRIC_ORDER.index(base) if base in _METRIC_ORDER else len(_METRIC_ORDER)
    return (family, base, k)


def normalize_leaderboard(leaderboard: dict) -> dict:
    """Validate the leaderboard dict and return it with a fixed metric order and plain numbers.

    Returns
    -------
    dict with ``split``, ``ks``, ``seed``, ``winner``, ``metrics`` (names, ranking metrics first,
    then by k), ``primary_metric`` and ``models`` (each: model, params, metrics -> {mean, low, high},
    fit_seconds, score_seconds, is_winner).

    Raises
    ------
    InputError
        When the dict has no ``models`` list or a model entry lacks its name or metrics.
    """
    if not isinstance(leaderboard, dict) or not isinstance(leaderboard.get("models"), list):
        raise InputError(
            "leaderboard must be a JSON object with a 'models' list",
            hint="pass the file written by the evaluation step",
        )
    models, names = [], set()
    for position, entry in enumerate(leaderboard["models"]):
        if not isinstance(entry, dict) or "model" not in entry or not isinstance(entry.get("metrics"), dict):
            raise InputError(f"leaderboard model #{position + 1} needs 'model' and a 'metrics' object")
        metrics = {}
        for metric, value in entry["metrics"].items():
            where = f"{entry['model']}/{metric}"
            if isinstance(value, dict):
                metrics[str(metric)] = {
                    part: _number(value.get(part), f"{where}/{part}") for part in ("mean", "low", "high")
                }
            else:
                # a bare number: a metric reported without an interval
                metrics[str(metric)] = {"mean": _number(value, where), "low": None, "high": None}
            names.add(str(metric))
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            raise InputError(f"leaderboard model {entry['model']!r}: 'params' must be an object")
        models.append(
            {
                "model": str(entry["model"]),
                "params": params,
                "metrics": metrics,
                "fit_seconds": _number(entry.get("fit_seconds"), f"{entry['model']}/fit_seconds"),
                "score_seconds": _number(entry.get("score_seconds"), f"{entry['model']}/score_seconds"),
            }
        )
    winner = leaderboard.get("winner")
    winner = None if winner is None else str(winner)
    for model in models:
        model["is_winner"] = model["model"] == winner
    metric_names = sorted(names, key=_metric_sort_key)
    # the metric the evaluation ranked by, else ndcg@10, else the first one
    primary = next(
        (m for m in (leaderboard.get("ranking_metric"), PRIMARY_METRIC) if m in names),
        metric_names[0] if metric_names else None,
    )
    return {
        "split": None if leaderboard.get("split") is None else str(leaderboard["split"]),
        "ks": list(leaderboard.get("ks") or []),
        "seed": leaderboard.get("seed"),
        "winner": winner,
        "metrics": metric_names,
        "primary_metric": primary,
        "models": models,
    }


def normalize_segments(leaderboard: dict, segment_names=None) -> dict | None:
    """``by_segment`` as ordered models, segments and values; None when the leaderboard has none.

    Each model maps segment -> score, the score a number or ``{"mean", "low", "high"}`` (what
    ``evaluation.metrics_by_segment`` gives). Segments are ordered as in ``segment_names`` when
    given (e.g. by customer count), then by name.
    """
    by_segment = leaderboard.get("by_segment") if isinstance(leaderboard, dict) else None
    if not by_segment:
        return None
    if not isinstance(by_segment, dict) or not all(isinstance(v, dict) for v in by_segment.values()):
        raise InputError("leaderboard 'by_segment' must map each model to {segment: score}")
    values, intervals = {}, {}
    for model, scores in by_segment.items():
        model = str(model)
        values[model], intervals[model] = {}, {}
        for segment, score in scores.items():
            where = f"by_segment/{model}/{segment}"
            if isinstance(score, dict):
                values[model][str(segment)] = _number(score.get("mean"), where)
                low, high = _number(score.get("low"), where), _number(score.get("high"), where)
                intervals[model][str(segment)] = None if low is None or high is None else [low, high]
            else:
                values[model][str(segment)] = _number(score, where)
                intervals[model][str(segment)] = None
    found = {seg for scores in values.values() for seg in scores}
    preferred = [str(s) for s in (segment_names or []) if str(s) in found]
    segments = preferred + sorted(found - set(preferred))
    metric = leaderboard.get("segment_metric") or leaderboard.get("ranking_metric") or PRIMARY_METRIC
    return {
        "metric": str(metric),
        "models": list(values),
        "segments": segments,
        "values": values,
        "intervals": intervals,
    }
