"""Every model on the bundled sample orders, through the library's own ``evaluate`` protocol.

Usage::

    python bench/bench_sample.py sample_data/retail_orders.csv
    python bench/bench_sample.py sample_data/retail_orders.csv --models pop,cvae --param cvae.epochs=30 --split temporal

Prints the leaderboard (metrics with 95 % bootstrap intervals, fit and scoring time) and the margin of
``--challenger`` (default cvae) over ``--baseline`` (default pop) on NDCG@10, with a paired bootstrap
interval over the same users. Writes the ``sample`` table of bench/RESULTS.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # run from a checkout without installing

from results_table import replace_section, system_line  # noqa: E402

SHOWN = (
    "ndcg@10",
    "recall@10",
    "recall@20",
    "map@10",
    "hit_rate@10",
    "coverage@10",
    "novelty@10",
    "diversity@10",
    "popularity@10",
)


def paired_margin(board, challenger: str, baseline: str, metric: str = "ndcg@10", seed: int = 0):
    """Mean per-user difference ``challenger - baseline`` with its bootstrap interval (same users, same split)."""
    from aigc_biz.evaluation.metrics import bootstrap_ci

    a, b = board.result(challenger), board.result(baseline)
    if not np.array_equal(a.user_rows, b.user_rows):
        raise SystemExit("error: the two models were evaluated on different users")
    return bootstrap_ci(a.per_user[metric] - b.per_user[metric], seed=seed)


def markdown(board, margin_line: str, command: str) -> str:
    frame = board.to_frame()
    shown = [m for m in SHOWN if m in frame.columns]
    lines = ["| model | " + " | ".join(shown) + " | fit s | score s |", "|---|" + "---|" * (len(shown) + 2)]
    for _, row in frame.iterrows():
        cells = [
            f"{row[m]:.4f} ({row[m + '_low']:.4f}–{row[m + '_high']:.4f})"
            if m.startswith(("ndcg", "recall"))
            else f"{row[m]:.4f}"
            for m in shown
        ]
        name = f"**{row['model']}**" if row["model"] == board.winner else row["model"]
        timings = f" | {row['fit_seconds']:.1f} | {row['score_seconds']:.2f} |"
        lines.append(f"| {name} | " + " | ".join(cells) + timings)
    stamp = datetime.now(timezone.utc).isoformat(timespec="minutes")
    return (
        f"Split `{board.split}`, {board.rows[0].users_evaluated} users evaluated, seed {board.seed}, "
        f"{board.n_boot} bootstrap resamples; winner by {board.ranking_metric}: **{board.winner}**.\n\n"
        + "\n".join(lines)
        + f"\n\n{margin_line}\n\nMeasured {stamp} with `{command}` on {system_line()}.\n"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="behaviour table, e.g. sample_data/retail_orders.csv")
    parser.add_argument("--models", default="pop,itemknn,ease,cvae,cgan", help="comma-separated registry names")
    parser.add_argument("--param", action="append", default=[], help="MODEL.key=value, e.g. cvae.epochs=30")
    parser.add_argument("--split", default="random", choices=["random", "temporal", "users"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--challenger", default="cvae")
    parser.add_argument("--baseline", default="pop")
    parser.add_argument("--json", type=Path, help="also write the leaderboard JSON here")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md")
    args = parser.parse_args(argv)

    from aigc_biz.data.loading import load_interactions
    from aigc_biz.evaluation.protocol import evaluate
    from aigc_biz.models.registry import available_models, parse_params

    params: dict[str, dict] = {}
    for pair in args.param:
        model, _, rest = pair.partition(".")
        params.setdefault(model.strip().lower(), {}).update(parse_params([rest]))
    names = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    missing = [m for m in names if m not in available_models()]
    if missing:
        print("not registered, skipped: " + ", ".join(missing))
    names = [m for m in names if m not in missing]
    data = load_interactions(args.data)
    print(f"{args.data}: {data.n_users} users x {data.n_items} items, {data.nnz} pairs")

    def show(event):
        if event.get("stage") in ("score", "done"):
            print(f"  {event['model']}: {event['stage']}", flush=True)

    board = evaluate(data, names, split=args.split, seed=args.seed, params=params, progress=show, n_boot=args.n_boot)
    frame = board.to_frame()
    with_ci = [c for c in frame.columns if c.startswith(("ndcg@10", "recall@20")) or c in SHOWN]
    print(frame[["model", *with_ci, "fit_seconds", "score_seconds"]].round(4).to_string(index=False))
    print(f"winner by {board.ranking_metric}: {board.winner}")
    margin_line = ""
    present = {row.model for row in board.rows}
    if args.challenger in present and args.baseline in present:
        mean, low, high = paired_margin(board, args.challenger, args.baseline, seed=args.seed)
        base = board.result(args.baseline).mean("ndcg@10")
        margin_line = (
            f"{args.challenger} vs {args.baseline}: NDCG@10 {mean:+.4f} (paired 95% CI {low:+.4f} to "
            f"{high:+.4f}), {100 * mean / base:+.0f}% relative to {args.baseline}."
        )
        print(margin_line)
    if args.json:
        board.to_json(args.json)
    if not args.no_write:
        command = "python bench/bench_sample.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        replace_section(BENCH / "RESULTS.md", "sample", markdown(board, margin_line, command))
        print("wrote the sample table in bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
