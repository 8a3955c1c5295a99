"""cvae training throughput against this machine's fp32 matmul rate, measured in the same run.

    python bench/bench_cvae_throughput.py ../shared/data/diffrec-ml-1m/ml-1m_clean [--batch 500] [--trials 2]

Each trial times torch.mm 4096² before and after a 3-epoch fit (no item-item path, no validation, so
every second is spent in the VAE's dense layers) and prints, per epoch, the achieved GFLOP/s and its
share of the better matmul rate. FLOPs per epoch: forward 2 x rows x (weights of the four dense
layers), backward twice that.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # run from a checkout without installing

from bench_diffrec import load_split, matmul_gflops  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="DiffRec split folder with train/valid/test_list.npy")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--trials", type=int, default=2)
    args = parser.parse_args(argv)
    from aigc_biz.models.cvae import ConditionalVAE

    data, train, _, _ = load_split(args.folder)
    model = ConditionalVAE()
    n_items, hidden, latent = train.shape[1], model.hidden, model.latent
    weights = n_items * hidden + hidden * 2 * latent + latent * hidden + hidden * n_items
    flops_per_epoch = 3 * 2 * train.shape[0] * weights
    for trial in range(args.trials):
        before = matmul_gflops()
        fitted = ConditionalVAE(epochs=3, batch_size=args.batch, val_fraction=0.0, device="cpu", linear_path=False).fit(
            data
        )
        after = matmul_gflops()
        best = max(before, after)
        for record in fitted.training_curve_:
            rate = flops_per_epoch / record["seconds"] / 1e9
            print(
                f"trial {trial + 1} epoch {record['epoch']}: {record['seconds']:.2f} s, {rate:.1f} GFLOP/s; "
                f"matmul {before:.1f}/{after:.1f} GFLOP/s -> {rate / best:.0%} of the better rate",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
