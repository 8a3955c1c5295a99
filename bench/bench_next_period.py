"""Next-period purchases, and the evidence for ``aigc-biz recommend``'s default model.

Protocol (both parts): train on the lines before the last ``--horizon``; test on the (customer, item)
pairs bought in that last period by customers and items known before (``split_horizon``).

1. With repeats (``repeats=True``, seen items allowed): ``blend`` (each candidate new-item model +
   ``buyagain``, weight chosen by the blend on the training data's own last horizon) against the
   recency-weighted buy-again baseline of ``bench_buyagain.py`` (60-day half-life) and ``buyagain``
   alone (defaults).
2. New items only (seen items excluded): ease (l2=500, the reference), ease and itemknn with a
   ``recency_half_life``, cvae (``--cvae-epochs``), pop, and plain itemknn for reference.

Recency half-lives are chosen on a validation period carved from the training part (its last
``--horizon``: models fitted before it, scored on it), never on the test; the same half-lives feed the
blends. ``recency_half_life`` only weights history at scoring time, so one fit serves every half-life.
Intervals: percentile bootstrap over test customers; differences are paired (same customers).

    PYTHONPATH=$PWD python bench/bench_next_period.py DATA [--cvae-epochs 20] [--horizon 30d] [--n-boot 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from bench_buyagain import recency_baseline_topk

from aigc_biz.api import load
from aigc_biz.data.splits import split_horizon
from aigc_biz.evaluation.metrics import bootstrap_ci
from aigc_biz.evaluation.protocol import metrics_from_topk, score_split
from aigc_biz.io.files import atomic_output
from aigc_biz.models.registry import create_model

K = 20
HALF_LIVES = (7.0, 14.0, 30.0, 60.0, 120.0, 240.0)
NDCG, RECALL = f"ndcg@{K}", f"recall@{K}"
#: new-item models blended with buyagain in the with-repeats part (those among the run's candidates)
BLENDS = ("ease", "ease+recency", "itemknn+recency", "cvae", "trend(cvae)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def choose_half_lives(valid, n_boot: int, l2_grid=()) -> dict:
    """Validation NDCG@K per half-life (None = no recency) for ease and itemknn, and the best of the grid;
    with ``l2_grid``, also EASE's (l2, half-life) pair chosen jointly (l2=500 included)."""
    out = {}
    settings = [("ease", {"l2": 500.0}), ("itemknn", {})]
    settings += [("ease", {"l2": float(l2)}) for l2 in l2_grid if float(l2) != 500.0]
    for name, params in settings:
        model = create_model(name, **params)
        scores = {}
        for i, half_life in enumerate((None,) + HALF_LIVES):
            model.set_params(recency_half_life=half_life)
            res = score_split(model, valid, ks=(K,), fit=(i == 0), n_boot=n_boot, item_categories=None)
            scores[half_life] = res["metrics"][NDCG]["mean"]
            log(f"valid {name} {params} half_life={half_life}: {NDCG}={scores[half_life]:.4f}")
        best = max(HALF_LIVES, key=lambda h: scores[h])
        label = name if name == "itemknn" or params["l2"] == 500.0 else f"ease(l2={params['l2']:g})"
        out[label] = {"selected": best, "ndcg": {str(h): v for h, v in scores.items()}, "params": params}
    if l2_grid:
        eases = [row for label, row in out.items() if label.startswith("ease")]
        best = max(eases, key=lambda row: row["ndcg"][str(row["selected"])])
        out["ease_l2"] = {"selected": best["selected"], "l2": best["params"]["l2"]}
    return out


def summary(metrics: dict, fit_seconds: float, per_user: dict) -> dict:
    return {"ndcg": metrics[NDCG], "recall": metrics[RECALL], "fit_seconds": fit_seconds, "_per_user": per_user[NDCG]}


def paired(a: np.ndarray, b: np.ndarray, n_boot: int) -> dict:
    """Paired bootstrap of mean(a - b), and of mean(a) / mean(b) - 1 on the same resamples."""
    mean, low, high = bootstrap_ci(a - b, n_boot=n_boot, seed=0)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(a), size=(n_boot, len(a)))
    ratios = a[idx].mean(axis=1) / b[idx].mean(axis=1) - 1.0
    return {
        "mean": mean,
        "low": low,
        "high": high,
        "relative": float(a.mean() / b.mean() - 1.0),
        "relative_low": float(np.quantile(ratios, 0.025)),
        "relative_high": float(np.quantile(ratios, 0.975)),
    }


def run(
    path: str,
    horizon: str,
    n_boot: int,
    cvae_epochs: int,
    l2_grid=(),
    cvae: bool = True,
    with_repeats: bool = True,
    sasrec_epochs: int = 0,
    trend: bool = False,
    blends=BLENDS,
) -> dict:
    data = load(path)
    new_split = split_horizon(data, horizon)
    rep_split = split_horizon(data, horizon, repeats=True)
    valid = split_horizon(new_split.train, horizon)
    log(f"{path}: {new_split.name}; validation {valid.name}")
    half = choose_half_lives(valid, n_boot=10, l2_grid=l2_grid)
    h_ease, h_knn = half["ease"]["selected"], half["itemknn"]["selected"]
    candidates = {  # name -> (registry name, params, reuse the fit of)
        "ease": ("ease", {"l2": 500.0}, None),
        "ease+recency": ("ease", {"l2": 500.0, "recency_half_life": h_ease}, "ease"),
        "itemknn": ("itemknn", {}, None),
        "itemknn+recency": ("itemknn", {"recency_half_life": h_knn}, "itemknn"),
        "cvae": ("cvae", {"epochs": cvae_epochs, "device": "cpu", "seed": 0}, None),
        "pop": ("pop", {}, None),
    }
    if "ease_l2" in half:
        tuned = {"l2": half["ease_l2"]["l2"], "recency_half_life": half["ease_l2"]["selected"]}
        candidates[f"ease(l2={tuned['l2']:g})+recency"] = ("ease", tuned, None)
    if not cvae:
        del candidates["cvae"]
    if trend:  # the taste model mixed with recent popularity, the weight chosen on the training data's last horizon
        candidates["trend(ease)"] = (
            "trend",
            {"base_model": "ease", "base_params": {"l2": 500.0}, "horizon": horizon},
            None,
        )
        if cvae:
            cvae_params = {"epochs": cvae_epochs, "device": "cpu", "seed": 0}
            candidates["trend(cvae)"] = (
                "trend",
                {"base_model": "cvae", "base_params": cvae_params, "horizon": horizon},
                None,
            )
    if sasrec_epochs:  # uses each customer's purchase sequence; epochs kept by its own validation
        candidates["sasrec"] = ("sasrec", {"epochs": sasrec_epochs, "device": "cpu", "seed": 0}, None)
    # --- 2. new items only
    new_items, fitted = {}, {}
    for label, (name, params, reuse) in candidates.items():
        if reuse is None:
            model = create_model(name, **params)
            res = score_split(model, new_split, ks=(K,), n_boot=n_boot, item_categories=None)
            fitted[label] = (model, res["fit_seconds"])
        else:  # the same fitted weights, scored with recency-weighted history
            model, fit_seconds = fitted[reuse]
            model.set_params(**params)
            res = score_split(model, new_split, ks=(K,), fit=False, n_boot=n_boot, item_categories=None)
            res["fit_seconds"] = fit_seconds
            model.set_params(recency_half_life=None)
        new_items[label] = summary(res["metrics"], res["fit_seconds"], res["per_user"])
        log(f"new items {label}: {NDCG}={res['metrics'][NDCG]['mean']:.4f} fit {res['fit_seconds']:.1f}s")
    users_new = int(res["users_evaluated"])
    ref = new_items["ease"]["_per_user"]
    for label, row in new_items.items():
        row["vs_ease"] = paired(row["_per_user"], ref, n_boot)
    best = max(new_items, key=lambda label: new_items[label]["ndcg"]["mean"])
    for label, row in new_items.items():  # the default-model rule: never significantly below the best
        row["vs_best"] = paired(row["_per_user"], new_items[best]["_per_user"], n_boot)
        row["vs_best"]["best"] = best
    # --- 1. with repeats
    repeats, rows = {}, np.zeros(0)
    if with_repeats:
        rows = run_repeats(repeats, rep_split, candidates, horizon, n_boot, blends)
    ease_fit = new_items["ease"]["fit_seconds"]
    for table in (new_items, repeats):
        for row in table.values():
            row.pop("_per_user")
            row["fit_x_ease"] = row["fit_seconds"] / ease_fit
    return {
        "data": path,
        "new_split": new_split.name,
        "repeat_split": rep_split.name,
        "validation": valid.name,
        "users_new": users_new,
        "users_repeats": len(rows),
        "cvae_epochs": cvae_epochs if cvae else None,
        "half_lives": half,
        "new_items": new_items,
        "repeats": repeats,
    }


def run_repeats(repeats: dict, rep_split, candidates: dict, horizon: str, n_boot: int, blends=BLENDS) -> np.ndarray:
    """Fill ``repeats`` with buyagain, the baseline and one blend per candidate; return the scored rows."""
    ba = create_model("buyagain", horizon=horizon)
    res = score_split(ba, rep_split, ks=(K,), n_boot=n_boot, item_categories=None)
    repeats["buyagain"] = summary(res["metrics"], res["fit_seconds"], res["per_user"])
    rows = res["user_rows"]
    base_metrics, base_per_user = metrics_from_topk(
        recency_baseline_topk(rep_split, rows),
        rep_split.test_target[rows],
        rep_split.train.matrix,
        ks=(K,),
        n_boot=n_boot,
    )
    repeats["recency_baseline"] = summary(base_metrics, float("nan"), base_per_user)
    for label in blends:
        if label not in candidates:
            continue
        name, params, _ = candidates[label]
        blend = create_model("blend", new_model=name, new_params=params, horizon=horizon)
        res = score_split(blend, rep_split, ks=(K,), n_boot=n_boot, item_categories=None)
        assert np.array_equal(res["user_rows"], rows)
        row = summary(res["metrics"], res["fit_seconds"], res["per_user"])
        row["weight"] = float(blend.weight_)
        repeats[f"blend({label})"] = row
        log(
            f"repeats blend({label}): {NDCG}={res['metrics'][NDCG]['mean']:.4f} w={blend.weight_} "
            f"fit {res['fit_seconds']:.1f}s"
        )
    for label, row in repeats.items():
        row["vs_baseline"] = paired(row["_per_user"], repeats["recency_baseline"]["_per_user"], n_boot)
        row["vs_buyagain"] = paired(row["_per_user"], repeats["buyagain"]["_per_user"], n_boot)
    return rows


def fmt(m: dict) -> str:
    return f"{m['mean']:.4f} [{m['low']:.4f}, {m['high']:.4f}]"


def fmt_diff(d: dict) -> str:
    return (
        f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] "
        f"({100 * d['relative']:+.1f} % [{100 * d['relative_low']:+.1f}, {100 * d['relative_high']:+.1f}])"
    )


def fit_text(row: dict) -> str:
    return "–" if not np.isfinite(row["fit_seconds"]) else f"{row['fit_seconds']:.2f} ({row['fit_x_ease']:.2f}×)"


def print_tables(r: dict) -> None:
    print(f"\n{r['data']}  cvae epochs={r['cvae_epochs']}")
    print(
        f"half-lives selected on {r['validation']}: ease {r['half_lives']['ease']['selected']:g} d, "
        f"itemknn {r['half_lives']['itemknn']['selected']:g} d"
    )
    for name, row in r["half_lives"].items():
        if "ndcg" not in row:
            continue
        print(f"  valid {NDCG} {name}: " + ", ".join(f"{h}={v:.4f}" for h, v in row["ndcg"].items()))
    print(f"\nNew items only ({r['users_new']} customers)")
    print(
        f"| model | NDCG@{K} [95% CI] | recall@{K} [95% CI] | NDCG@{K} − ease (relative) [paired 95% CI] "
        f"| fit s (× EASE fit) |"
    )
    print("|---|---|---|---|---|")
    for label, row in r["new_items"].items():
        print(
            f"| {label} | {fmt(row['ndcg'])} | {fmt(row['recall'])} | "
            f"{'–' if label == 'ease' else fmt_diff(row['vs_ease'])} | {fit_text(row)} |"
        )
    best = next(iter(r["new_items"].values()))["vs_best"]["best"]
    print(
        f"\nNDCG@{K} − the best row ({best}), paired 95% CI: "
        + "; ".join(f"{label} {fmt_diff(row['vs_best'])}" for label, row in r["new_items"].items() if label != best)
    )
    if not r["repeats"]:
        return
    print(f"\nWith repeats ({r['users_repeats']} customers)")
    print(
        f"| model | NDCG@{K} [95% CI] | recall@{K} [95% CI] | NDCG@{K} − baseline [paired] "
        f"| NDCG@{K} − buyagain [paired] | fit s (× EASE fit) |"
    )
    print("|---|---|---|---|---|---|")
    for label, row in r["repeats"].items():
        w = f" w={row['weight']:.2f}" if "weight" in row else ""
        print(
            f"| {label}{w} | {fmt(row['ndcg'])} | {fmt(row['recall'])} | "
            f"{'–' if label == 'recency_baseline' else fmt_diff(row['vs_baseline'])} | "
            f"{'–' if label == 'buyagain' else fmt_diff(row['vs_buyagain'])} | {fit_text(row)} |"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--cvae-epochs", type=int, default=20)
    parser.add_argument("--horizon", default="30d")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument(
        "--l2-grid",
        default="",
        help="also choose EASE's l2 with the half-life on validation, "
        "e.g. 100,250,1000,2000 (adds the row ease(l2=...)+recency)",
    )
    parser.add_argument("--no-cvae", action="store_true", help="leave cvae out (a short run)")
    parser.add_argument("--no-repeats", action="store_true", help="only the new-items protocol")
    parser.add_argument("--sasrec-epochs", type=int, default=0, help="also sasrec, up to this many epochs")
    parser.add_argument("--trend", action="store_true", help="also trend(ease) and (unless --no-cvae) trend(cvae)")
    parser.add_argument("--blends", default=",".join(BLENDS), help="new-item models blended with buyagain")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    l2_grid = tuple(float(v) for v in args.l2_grid.split(",") if v.strip())
    started = time.perf_counter()
    result = run(
        args.data,
        args.horizon,
        args.n_boot,
        args.cvae_epochs,
        l2_grid,
        cvae=not args.no_cvae,
        with_repeats=not args.no_repeats,
        sasrec_epochs=args.sasrec_epochs,
        trend=args.trend,
        blends=tuple(b.strip() for b in args.blends.split(",") if b.strip()),
    )
    result["wall_seconds"] = time.perf_counter() - started
    print(json.dumps(result, indent=1, default=float), flush=True)
    print_tables(result)
    if args.json:
        with atomic_output(args.json) as handle:
            handle.write(json.dumps(result, indent=1, default=float).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
