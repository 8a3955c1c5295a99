"""Run by tests/models/test_ddp.py under ``torchrun --nproc_per_node 2``, not collected by pytest.

Every rank trains the same small cvae through ``api.train_job`` (as ``aigc-biz train`` does) and dumps
its own weights to ``OUT/weights-RANK.npz``; then it trains a task that steps its optimizer behind
the loop's back and records whether the replica check refused it, in ``OUT/rank-RANK.json``.
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
from aigc_biz.models.training import TrainingSettings, TrainingTask, run_training

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "retail_orders.csv"
PARAMS = ["hidden=32", "latent=8", "linear_path=false", "batch_size=100", "epochs=3", "device=cpu"]


class RogueTask(TrainingTask):
    """Steps its optimizer itself, so the processes' gradients are never averaged."""

    def __init__(self, n_items: int):
        self.net = torch.nn.Linear(n_items, n_items)
        self.modules = {"net": self.net}
        self.optimizers = {"sgd": torch.optim.SGD(self.net.parameters(), lr=0.1)}

    def train_batch(self, batch, context, runtime, step):
        loss = -(F.log_softmax(self.net(batch), dim=1) * batch).sum(dim=1).mean()
        self.optimizers["sgd"].zero_grad()
        loss.backward()
        self.optimizers["sgd"].step()
        return float(loss.detach())

    def score(self, batch, context):
        return self.net(batch)


def main(out: Path) -> None:
    rank = int(os.environ["RANK"])
    result = api.train_job(SAMPLE, model="cvae", params=PARAMS, output=out / "model")
    np.savez(out / f"weights-{rank}.npz", **{k: v.numpy() for k, v in result.model.net_.state_dict().items()})
    matrix = api.load(SAMPLE).binary()
    torch.manual_seed(0)
    task = RogueTask(matrix.shape[1])
    try:
        run_training(task, matrix, TrainingSettings(epochs=1, batch_size=100, device="cpu"))
        refused = None
    except ModelError as exc:
        refused = str(exc)
    report = {"rank": result.rank, "path": None if result.path is None else str(result.path), "refused": refused}
    (out / f"rank-{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
