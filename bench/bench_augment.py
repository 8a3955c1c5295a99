"""Does ``train --augment`` help sparse customers? Real-only vs real + synthetic customers, same split.

Protocol: the real table is split at the 80 % quantile of its timestamps (as ``bench_synth.py``). Each
model is fitted on the real first part alone and on it plus RATIO × its customers of synthetic ones
(``aigc_biz.api.augment``: synthesizer fitted on the first part only, attribute combinations drawn for
sparse segments); both score the real customers from their first-part histories; NDCG@10 over the items
bought in the last 20 % and not before, for all customers and for sparse ones (at most 3 distinct items
in the first part). 95 % paired-bootstrap interval of the difference (augmented - real), 1,000 resamples.

    PYTHONPATH=$PWD python bench/bench_augment.py DATA [DATA ...] [--ratios 0.5,1] [--models itemknn,ease,cvae]
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import torch

from aigc_biz.api import augment
from aigc_biz.data.loading import load_interactions
from aigc_biz.models.registry import create_model
from aigc_biz.synth.run import TRAIN_SHARE
from aigc_biz.synth.source import read_source, role_flags
from aigc_biz.synth.tstr import later_targets, ndcg_per_customer, purchases

SPARSE_ITEMS = 3


def load_like(table, real):
    return load_interactions(table, **role_flags(real.roles), weight_kind=real.roles.weight_kind)


def make(name: str, seed: int):
    model = create_model(name)
    if "seed" in model.get_params():
        model.set_params(seed=seed)
    return model


def paired_diff(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    d = b - a
    boots = [d[rng.integers(len(d), size=len(d))].mean() for _ in range(1000)]
    return float(d.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def run(path: str, ratios: list[float], models: list[str], seed: int) -> list[dict]:
    real = read_source(path)
    train, test = real.before(TRAIN_SHARE)
    train_data = load_like(train.raw, real)  # the real first part, with attributes, as the models see it
    history, later = purchases(train), purchases(test)
    users, target, vocabulary = later_targets(history, later)
    n_items = np.diff(history.matrix.indptr)[history.user_index(users)]
    sparse = n_items <= SPARSE_ITEMS
    scoring = train_data  # the real first part with customer attributes (cvae uses them)
    rows = []
    for name in models:
        fitted = make(name, seed).fit(train_data)
        base = ndcg_per_customer(fitted, scoring, users, target, vocabulary, 10)
        for ratio in ratios:
            augmented = augment(train.raw, ratio, seed=seed)
            model = make(name, seed).fit(augmented)
            aug = ndcg_per_customer(model, scoring, users, target, vocabulary, 10)
            row = {
                "data": path,
                "model": name,
                "ratio": ratio,
                "customers": int(len(users)),
                "sparse_customers": int(sparse.sum()),
                "ndcg_real": float(base.mean()),
                "ndcg_augmented": float(aug.mean()),
                "diff_all": paired_diff(base, aug, seed),
                "ndcg_real_sparse": float(base[sparse].mean()) if sparse.any() else None,
                "ndcg_augmented_sparse": float(aug[sparse].mean()) if sparse.any() else None,
                "diff_sparse": paired_diff(base[sparse], aug[sparse], seed) if sparse.any() else None,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--ratios", default="0.5,1")
    parser.add_argument("--models", default="itemknn,ease,cvae")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("aigc_biz").setLevel(logging.ERROR)
    command = f"python bench/bench_augment.py {' '.join(args.data)} --ratios {args.ratios} --models {args.models}"
    rows = [
        r
        for path in args.data
        for r in run(path, [float(x) for x in args.ratios.split(",")], args.models.split(","), args.seed)
    ]
    print(
        "| data | model | ratio | NDCG@10 all: real → augmented (Δ, 95% CI) | sparse customers | NDCG@10 sparse: real → augmented (Δ, 95% CI) | command |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        d, s = r["diff_all"], r["diff_sparse"]
        sparse = (
            f"{r['ndcg_real_sparse']:.4f} → {r['ndcg_augmented_sparse']:.4f} ({s[0]:+.4f}, {s[1]:+.4f} to {s[2]:+.4f})"
            if s
            else "–"
        )
        print(
            f"| {r['data']} | {r['model']} | {r['ratio']:g} | {r['ndcg_real']:.4f} → {r['ndcg_augmented']:.4f} "
            f"({d[0]:+.4f}, {d[1]:+.4f} to {d[2]:+.4f}) | {r['sparse_customers']:,} of {r['customers']:,} | {sparse} | `{command}` |"
        )


if __name__ == "__main__":
    main()
