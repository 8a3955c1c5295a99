"""SASRec+ prototype on the SASRec ML-1M sequences: leave-last-out, full ranking, seen items removed.

    python bench/bench_sasrec_proto.py ../shared/data/ml-1m-sasrec/ml-1m.txt.gz --epochs 200 --time-budget 1200

Each user's last item is the test target, the second-to-last the validation target; training uses the
items before both (one sequence per user per epoch, next-item targets at every position, full-softmax
CE over all items). Validation NDCG@10 (input: items before the validation target) picks the epoch and
drives early stopping; test HR@10/NDCG@10 (input: every item but the last) is reported for that epoch
only. Prints per-epoch seconds, the estimated model GFLOP/s and a 2048^2 fp32 matmul rate measured in
the same process (the CPU is shared, so seconds alone do not compare across runs).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import signal
import sys
import time

import numpy as np
import pandas as pd
import torch

from aigc_biz.models.sasrec_net import SASRecNet, pad_sequences, train_step


def matmul_gflops(n: int = 2048, reps: int = 3) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def load(path: str) -> list[np.ndarray]:
    df = pd.read_csv(path, sep=" ", header=None, names=["user", "item"], dtype=np.int64)
    # file order is time order within each user; a stable sort by user keeps it
    df = df.iloc[np.argsort(df["user"].to_numpy(), kind="stable")]
    users, starts = np.unique(df["user"].to_numpy(), return_index=True)
    return np.split(df["item"].to_numpy(), starts[1:])


def batches(train: list[np.ndarray], batch: int, max_len: int, bucket: bool, rng: np.random.Generator):
    """(input, target) left-padded batches of next-item pairs; ``bucket`` groups users of similar length
    (order shuffled) so that a batch carries little padding."""
    order = rng.permutation(len(train))
    if bucket:
        lens = np.array([min(len(train[i]) - 1, max_len) for i in order])
        order = order[np.argsort(lens, kind="stable")]
    chunks = [order[i : i + batch] for i in range(0, len(order), batch)]
    for j in rng.permutation(len(chunks)) if bucket else range(len(chunks)):
        seqs = [train[i][-max_len - 1 :] for i in chunks[j]]
        yield pad_sequences([s[:-1] for s in seqs], max_len), pad_sequences([s[1:] for s in seqs], max_len)


@torch.no_grad()
def evaluate(
    net: SASRecNet, histories: list[np.ndarray], targets: np.ndarray, max_len: int, k: int = 10, batch: int = 256
) -> dict[str, float]:
    """HR@k / NDCG@k ranking all items, the user's whole history (not only the last max_len) removed.
    Users go through in order of history length so that a batch carries little padding."""
    net.eval()
    hits = ndcg = 0.0
    order = np.argsort([len(h) for h in histories], kind="stable")
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        hist = [histories[i] for i in idx]
        scores = net.score_last(pad_sequences([h[-max_len:] for h in hist], max_len))
        rows = np.repeat(np.arange(len(hist)), [len(h) for h in hist])
        scores[torch.from_numpy(rows), torch.from_numpy(np.concatenate(hist) - 1)] = -torch.inf
        t = torch.from_numpy(targets[idx] - 1)
        rank = (scores > scores.gather(1, t[:, None])).sum(1)
        hits += float((rank < k).sum())
        ndcg += float(torch.where(rank < k, 1.0 / torch.log2(rank.double() + 2), 0.0).sum())
    return {"hr": hits / len(histories), "ndcg": ndcg / len(histories)}


def epoch_flops(train: list[np.ndarray], a, n_items: int) -> float:
    """Forward+backward estimate (x3 of the forward): output head on real positions, the block
    matmuls (12 d^2 per token per block) on padded positions, and the two L x L attention products."""
    lens = np.array([min(len(t) - 1, a.max_len) for t in train])
    d = a.hidden
    if a.bucket:
        srt = np.sort(lens)
        padded = [(len(c), c.max()) for c in np.array_split(srt, math.ceil(len(srt) / a.batch))]
    else:
        padded = [(len(lens), a.max_len)]  # shuffled batches of 128 almost always hold a >200 user
    tok = sum(b * l for b, l in padded)
    att = sum(b * l * l for b, l in padded)
    fwd = 2 * lens.sum() * d * n_items + a.blocks * (2 * 12 * d * d * tok + 2 * 2 * d * att)
    return 3.0 * fwd


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--heads", type=int, default=1)
    p.add_argument("--max-len", type=int, default=200)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument(
        "--cosine", action="store_true", help="cosine-decay the lr to 0 over --epochs (per step); default: constant lr"
    )
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--post-ln", action="store_true", help="post-LN blocks (default pre-LN)")
    p.add_argument("--bucket", action="store_true", help="batch users of similar length together")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast for training")
    p.add_argument("--eval-every", type=int, default=1)
    p.add_argument("--patience", type=int, default=10, help="evaluations without a better val NDCG@10")
    p.add_argument("--time-budget", type=float, default=1200, help="seconds of training+validation")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="append the result as one JSON line to this file")
    a = p.parse_args(argv)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    seqs = load(a.data)
    n_items = int(max(s.max() for s in seqs))
    train = [s[:-2] for s in seqs]
    val_hist, val_tgt = [s[:-2] for s in seqs], np.array([s[-2] for s in seqs])
    test_hist, test_tgt = [s[:-1] for s in seqs], np.array([s[-1] for s in seqs])
    net = SASRecNet(n_items, a.max_len, a.hidden, a.blocks, a.heads, a.dropout, pre_ln=not a.post_ln)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    steps_per_epoch = math.ceil(len(train) / a.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(i / (a.epochs * steps_per_epoch), 1.0))) if a.cosine else 1.0
    )
    flops = epoch_flops(train, a, n_items)
    print(
        f"users {len(seqs)} items {n_items} params {sum(x.numel() for x in net.parameters()):,} "
        f"est. {flops / 1e12:.2f} TFLOP/epoch; args {vars(a)}",
        flush=True,
    )
    mm0 = matmul_gflops()
    print(f"matmul 2048^2 fp32: {mm0:.0f} GFLOP/s; load {os.getloadavg()[0]:.2f}", flush=True)

    # SIGINT/SIGTERM end training after the current epoch; the best-validation weights are still tested
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append("signal"))
    best, best_state, best_epoch, bad, spent, log, why = -1.0, None, 0, 0, 0.0, [], "epochs"
    for epoch in range(1, a.epochs + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        losses = []
        for x, y in batches(train, a.batch, a.max_len, a.bucket, rng):
            losses.append(train_step(net, opt, x, y, autocast_bf16=a.bf16))
            sched.step()
        tt = time.perf_counter() - t0
        row = {
            "epoch": epoch,
            "loss": float(np.mean(losses)),
            "train_s": tt,
            "cpu_s": time.process_time() - c0,
            "gflops": flops / tt / 1e9,
        }
        if epoch % a.eval_every == 0 or epoch == a.epochs or stop:
            t1 = time.perf_counter()
            v = evaluate(net, val_hist, val_tgt, a.max_len)
            row.update(val_hr=v["hr"], val_ndcg=v["ndcg"], eval_s=time.perf_counter() - t1)
            if v["ndcg"] > best:
                best, best_epoch, bad, best_state = v["ndcg"], epoch, 0, copy.deepcopy(net.state_dict())
            else:
                bad += 1
        row["mm_gflops"] = matmul_gflops(reps=2)
        spent += time.perf_counter() - t0
        row["elapsed_s"] = spent
        log.append(row)
        print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
        if bad >= a.patience or spent > a.time_budget or stop:
            why = "signal" if stop else "patience" if bad >= a.patience else "time budget"
            print("stop:", why, flush=True)
            break

    net.load_state_dict(best_state)
    test = evaluate(net, test_hist, test_tgt, a.max_len)
    val = evaluate(net, val_hist, val_tgt, a.max_len)
    tr = [r["train_s"] for r in log]
    res = {
        "cmd": " ".join(sys.argv),
        "args": vars(a),
        "epochs_run": len(log),
        "stopped_by": why,
        "best_epoch": best_epoch,
        "val_hr": val["hr"],
        "val_ndcg": val["ndcg"],
        "test_hr": test["hr"],
        "test_ndcg": test["ndcg"],
        "s_per_epoch": float(np.median(tr)),
        "elapsed_s": spent,
        "elapsed_to_best_s": log[best_epoch - 1]["elapsed_s"],
        "model_gflops": float(np.median([r["gflops"] for r in log])),
        "cpu_s_per_epoch": float(np.median([r["cpu_s"] for r in log])),
        "mm_gflops_start": mm0,
        "mm_gflops_median": float(np.median([r["mm_gflops"] for r in log])),
    }
    print("RESULT " + json.dumps(res), flush=True)
    print(
        f"best val epoch {best_epoch}: val NDCG@10 {val['ndcg']:.4f} | test HR@10 {test['hr']:.4f} "
        f"NDCG@10 {test['ndcg']:.4f} (target 0.3152 / 0.1821); {res['s_per_epoch']:.1f} s/epoch, "
        f"matmul {res['mm_gflops_median']:.0f} GFLOP/s",
        flush=True,
    )
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps({**res, "log": log}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
