"""Next-period purchases with repeats: the ``buyagain`` model against a recency-weighted buy-again baseline.

Protocol: train on the lines before the last ``--horizon``; test on the (customer, item) pairs bought in
the last horizon by customers and items known before (``split_horizon(..., repeats=True)``), seen items
allowed. Hyper-parameters of ``buyagain`` are chosen on a validation period carved from the training
part (its own last horizon), never on the test. Baseline: each customer's own purchases (event lines),
each weighted ``0.5 ** (age_days / 60)``; items they never bought get the same popularity tie-break as
``buyagain``'s prior, so both fill their lists alike. EASE and itemknn (defaults) run for reference.

    PYTHONPATH=$PWD python bench/bench_buyagain.py DATA [DATA ...] [--horizon 30d] [--n-boot 1000] [--grid small]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

import numpy as np
import scipy.sparse as sp

from aigc_biz.api import load
from aigc_biz.data.splits import split_horizon
from aigc_biz.evaluation.metrics import bootstrap_ci
from aigc_biz.evaluation.protocol import metrics_from_topk, score_split
from aigc_biz.models.buyagain import BuyAgain, _PairStats
from aigc_biz.models.registry import create_model

K = 20
HALF_LIFE_DAYS = 60.0
GRIDS = {
    "full": {"C": (0.1, 1.0, 10.0), "item_prior": (2.0, 5.0, 20.0), "customer_prior": (1.0, 2.0, 5.0)},
    # for large tables on a shared CPU: the defaults and one step on each side of the two that moved most
    "small": {"C": (1.0, 10.0), "item_prior": (2.0, 5.0), "customer_prior": (2.0, 5.0)},
}


def recency_baseline_topk(split, rows: np.ndarray, k: int = K) -> np.ndarray:
    """Top-k data item indices: sum over the customer's purchases of 0.5 ** (age_days / 60)."""
    data = split.test_data()
    events = data.events[data.events["weight"] > 0]
    times = events["time"].to_numpy(dtype="datetime64[ns]")
    age = (times.max() - times) / np.timedelta64(1, "D")
    scores = sp.csr_matrix(
        (np.power(0.5, age / HALF_LIFE_DAYS), (events["user_idx"].to_numpy(), events["item_idx"].to_numpy())),
        shape=(data.n_users, data.n_items),
    )
    scores.sum_duplicates()
    buyers = np.asarray(data.binary().sum(axis=0)).ravel()
    dense = scores[rows].toarray() + 1e-6 * buyers / (buyers.max() + 1.0)
    top = np.argpartition(-dense, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(dense, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


class GradientBoostedBuyAgain(BuyAgain):
    """Bench-only variant: the same features through HistGradientBoostingClassifier (not saveable)."""

    def _fit_classifier(self, X, y):
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.hgb_ = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=self.seed)
        self.hgb_.fit(X, y)
        self.fitted_classifier_ = True

    def predict_pairs(self, stats: _PairStats):
        if not hasattr(self, "hgb_"):
            return super().predict_pairs(stats)
        from aigc_biz.models.buyagain import _horizon_days

        p = self.hgb_.predict_proba(self._design(stats, _horizon_days(self.horizon)))[:, 1]
        return np.clip(p, 1e-4, 1.0).astype(np.float32)


def run(path: str, horizon: str, n_boot: int, grid: str = "full") -> dict:
    data = load(path)
    split = split_horizon(data, horizon, repeats=True)
    valid = split_horizon(split.train, horizon, repeats=True)
    # --- selection on validation only
    trials = []
    for C, item_prior, customer_prior in itertools.product(*GRIDS[grid].values()):
        params = {"C": C, "item_prior": item_prior, "customer_prior": customer_prior, "horizon": horizon}
        res = score_split(BuyAgain(**params), valid, ks=(K,), n_boot=10)
        trials.append((res["metrics"][f"ndcg@{K}"]["mean"], params))
        print(
            f"valid {params}: ndcg@{K}={trials[-1][0]:.4f} fit {res['fit_seconds']:.1f}s", file=sys.stderr, flush=True
        )
    best_valid, best = max(trials, key=lambda t: t[0])
    default_valid = next(
        v for v, p in trials if p["C"] == 1.0 and p["item_prior"] == 5.0 and p["customer_prior"] == 2.0
    )
    hgb_valid = score_split(GradientBoostedBuyAgain(**best), valid, ks=(K,), n_boot=10)["metrics"][f"ndcg@{K}"]["mean"]
    base_valid_rows = np.flatnonzero(np.diff(sp.csr_matrix(valid.test_target).indptr) > 0)
    base_valid = metrics_from_topk(
        recency_baseline_topk(valid, base_valid_rows),
        valid.test_target[base_valid_rows],
        valid.train.matrix,
        ks=(K,),
        n_boot=10,
    )[0][f"ndcg@{K}"]["mean"]
    # --- test, once, with the selected setting
    model = BuyAgain(**best)
    ours = score_split(model, split, ks=(K,), n_boot=n_boot)
    rows = ours["user_rows"]
    base_metrics, base_per_user = metrics_from_topk(
        recency_baseline_topk(split, rows), split.test_target[rows], split.train.matrix, ks=(K,), n_boot=n_boot
    )
    reference = {}
    for name in ("ease", "itemknn"):
        res = score_split(create_model(name), split, ks=(K,), n_boot=n_boot)
        reference[name] = {
            "ndcg": res["metrics"][f"ndcg@{K}"],
            "recall": res["metrics"][f"recall@{K}"],
            "fit_seconds": res["fit_seconds"],
        }
    diff = ours["per_user"][f"ndcg@{K}"] - base_per_user[f"ndcg@{K}"]
    mean, low, high = bootstrap_ci(diff, n_boot=n_boot, seed=0)
    return {
        "data": path,
        "split": split.name,
        "users_evaluated": int(len(rows)),
        "selected": best,
        "valid_ndcg": {
            "buyagain_selected": best_valid,
            "buyagain_default": default_valid,
            "buyagain_hgb": hgb_valid,
            "recency_baseline": base_valid,
        },
        "buyagain": {
            "ndcg": ours["metrics"][f"ndcg@{K}"],
            "recall": ours["metrics"][f"recall@{K}"],
            "fit_seconds": ours["fit_seconds"],
            "fitted_classifier": bool(model.fitted_classifier_),
        },
        "recency_baseline": {"ndcg": base_metrics[f"ndcg@{K}"], "recall": base_metrics[f"recall@{K}"]},
        **reference,
        "ndcg_difference": {"mean": mean, "low": low, "high": high},
        "calibration": calibration(model, split),
    }


def calibration(model: BuyAgain, split) -> dict:
    """Mean predicted probability vs the observed repurchase rate over every bought (customer, item) pair."""
    data = split.test_data()
    users = data.user_ids
    scoring = model.history_for(data, users)
    target = split.test_target
    feats = scoring.features
    count = feats["count"]
    predicted, observed = [], []
    for start in range(0, len(users), 1024):
        stop = min(start + 1024, len(users))
        part = {name: value[start:stop] for name, value in feats.items()}
        scores = model.score_batch(scoring.history[start:stop], None, features=part)
        block = count[start:stop].tocoo()
        predicted.append(scores[block.row, block.col])
        observed.append(np.asarray(target[start:stop][block.row, block.col]).ravel() > 0)
    predicted, observed = np.concatenate(predicted), np.concatenate(observed)
    bins = np.quantile(predicted, np.linspace(0, 1, 6))
    which = np.clip(np.searchsorted(bins, predicted, side="right") - 1, 0, 4)
    return {
        "mean_predicted": float(predicted.mean()),
        "observed_rate": float(observed.mean()),
        "by_quintile": [
            (float(predicted[which == b].mean()), float(observed[which == b].mean()))
            for b in range(5)
            if (which == b).any()
        ],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--horizon", default="30d")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--grid", choices=sorted(GRIDS), default="full", help="validation grid for buyagain")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    results = []
    for path in args.data:
        started = time.perf_counter()
        result = run(path, args.horizon, args.n_boot, args.grid)
        result["wall_seconds"] = time.perf_counter() - started
        results.append(result)
        print(json.dumps(result, indent=1, default=float), flush=True)
    for r in results:
        print(f"\n{r['data']}  ({r['users_evaluated']} users, selected {r['selected']})")
        print(f"| model | NDCG@{K} [95% CI] | recall@{K} [95% CI] | fit s (x EASE fit) |")
        print("|---|---|---|---|")
        for name in ("buyagain", "recency_baseline", "ease", "itemknn"):
            m = r[name]
            fit = m.get("fit_seconds")
            fit_text = "" if fit is None else f"{fit:.2f} ({fit / r['ease']['fit_seconds']:.2f}x)"
            print(
                f"| {name} | {m['ndcg']['mean']:.4f} [{m['ndcg']['low']:.4f}, {m['ndcg']['high']:.4f}] | "
                f"{m['recall']['mean']:.4f} [{m['recall']['low']:.4f}, {m['recall']['high']:.4f}] | {fit_text} |"
            )
        d = r["ndcg_difference"]
        print(f"NDCG@{K} buyagain - baseline: {d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] (paired bootstrap)")
    if args.json:
        from pathlib import Path

        target = Path(args.json)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(results, indent=1, default=float))
        tmp.replace(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
