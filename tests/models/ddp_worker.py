"""Run by tests/models/test_ddp.py under ``torchrun --nproc_per_node 2``, not collected by pytest.

Every rank trains the same small cvae through ``api.train_job`` (as ``aigc-biz train`` does) and dumps
its own weights to ``OUT/weights-RANK.npz``; then a one-layer task validated on a single customer
(one process scores nobody), and the same task stepping its optimizer behind the loop's back, which
the replica check must refuse. What each rank saw goes to ``OUT/rank-RANK.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from aigc_biz import api
from aigc_biz.errors import ModelError
from aigc_biz.models.training import TrainingSettings, TrainingTask, ValidationSlice, run_training

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "retail_orders.csv"
PARAMS = ["hidden=32", "latent=8", "linear_path=false", "batch_size=100", "epochs=3", "device=cpu"]


class LinearTask(TrainingTask):
    """One item-to-item layer; ``rogue`` steps its optimizer itself, so gradients are never averaged."""

    def __init__(self, n_items: int, rogue: bool):
        self.net = torch.nn.Linear(n_items, n_items)
        self.rogue = rogue
        self.modules = {"net": self.net}
        self.optimizers = {"sgd": torch.optim.SGD(self.net.parameters(), lr=0.1)}

    def train_batch(self, batch, context, runtime, step):
        loss = -(F.log_softmax(self.net(batch), dim=1) * batch).sum(dim=1).mean()
        if self.rogue:
            self.optimizers["sgd"].zero_grad()
            loss.backward()
            self.optimizers["sgd"].step()
        else:
            runtime.step(loss, self.optimizers["sgd"])
        return float(loss.detach())

    def score(self, batch, context):
        return self.net(batch)


def main(out: Path) -> None:
    rank = int(os.environ["RANK"])
    result = api.train_job(SAMPLE, model="cvae", params=PARAMS, output=out / "model")
    np.savez(out / f"weights-{rank}.npz", **{k: v.numpy() for k, v in result.model.net_.state_dict().items()})
    matrix = api.load(SAMPLE).binary()
    settings = TrainingSettings(epochs=2, batch_size=100, device="cpu")
    torch.manual_seed(0)
    one = ValidationSlice(train=matrix, users=np.array([0]), target=matrix[[0]])
    validated = run_training(LinearTask(matrix.shape[1], rogue=False), matrix, settings, validation=one)
    torch.manual_seed(0)
    try:
        run_training(LinearTask(matrix.shape[1], rogue=True), matrix, settings)
        refused = None
    except ModelError as exc:
        refused = str(exc)
    report = {
        "rank": result.rank,
        "path": None if result.path is None else str(result.path),
        "val_curve": [r["val_ndcg"] for r in validated.curve],
        "refused": refused,
    }
    (out / f"rank-{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
