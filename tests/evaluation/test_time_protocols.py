"""Leave-last-out and horizon protocols, and the recency-weighted baselines they reward."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aigc_biz.cli import app
from aigc_biz.data import Interactions
from aigc_biz.errors import InputError
from aigc_biz.evaluation.protocol import evaluate
from aigc_biz.models.ease import EASE
from aigc_biz.models.itemknn import ItemKNN
from aigc_biz.resources import sample_data_path

N_ITEMS = 12


def chains(n_users: int = 240, seed: int = 3) -> Interactions:
    """Each customer walks a ring of items one step at a time: the next item follows the last one.

    As a set, a history is an arc whose two ends are equally likely to grow; in time order only one is.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        start, length = int(rng.integers(N_ITEMS)), int(rng.integers(4, 7))
        for step in range(length):
            rows.append(
                {
                    "user": f"u{user:03d}",
                    "item": f"i{(start + step) % N_ITEMS:02d}",
                    "time": pd.Timestamp("2026-01-01") + pd.Timedelta(days=step),
                }
            )
    return Interactions.from_frame(pd.DataFrame(rows), "user", "item", time_col="time")


def test_recency_weighting_finds_the_next_item_that_a_bag_of_items_cannot():
    board = evaluate(
        chains(),
        {
            "ease": EASE(l2=1.0),
            "ease-recent": EASE(l2=1.0, recency_half_life=1.0),
            "itemknn": ItemKNN(),
            "itemknn-recent": ItemKNN(recency_half_life=1.0),
        },
        split="leave-last-out",
        ks=(1, 10),
        n_boot=50,
        segment_column=None,
    )
    hit = {row.model: row.mean("hit_rate@1") for row in board.rows}
    assert hit["ease-recent"] > 0.9 and hit["itemknn-recent"] > 0.9, hit
    assert hit["ease"] < 0.7 and hit["itemknn"] < 0.7, hit
    assert board.split.startswith("leave-last-out(order=time")


def test_include_seen_scores_repeat_purchases():
    """On a horizon split with repeats, a model allowed to recommend what was bought can hit them."""
    frame = pd.DataFrame(
        {
            "user": ["a", "a", "b", "b", "a", "b"],
            "item": ["x", "y", "x", "z", "x", "z"],
            "time": pd.to_datetime(
                ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-03-01", "2026-03-02"]
            ),
        }
    )
    data = Interactions.from_frame(frame, "user", "item", time_col="time")
    board = evaluate(
        data, ["pop"], split="temporal", horizon="30d", include_seen=True, ks=(1, 3), n_boot=20, segment_column=None
    )
    assert board.rows[0].mean("recall@3") == 1.0  # a rebought x, b rebought z: all 3 items listed
    assert board.rows[0].mean("recall@1") == 0.5  # x, the most popular, is a's only
    # each 3-item list holds the customer's 2 items: one of them rebought, the new third one not bought
    assert board.rows[0].mean("repeat_share@3") == pytest.approx(2 / 3)
    assert board.rows[0].mean("repeat_hit_rate@3") == 0.5 and board.rows[0].mean("new_hit_rate@3") == 0.0
    with pytest.raises(InputError, match="no user with held-out items"):  # without repeats nothing is new
        evaluate(data, ["pop"], split="temporal", horizon="30d", ks=(1,), n_boot=20, segment_column=None)
    assert "repeats=True" in board.split


runner = CliRunner()


@pytest.mark.parametrize(
    "flags", [["--split", "leave-last-out"], ["--split", "temporal", "--horizon", "30d", "--include-seen"]]
)
def test_cli_evaluates_the_time_protocols(flags):
    result = runner.invoke(
        app,
        ["evaluate", str(sample_data_path()), "--models", "pop,ease", "--k", "10", *flags, "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    board = json.loads(result.stdout)
    assert board["split"].startswith("leave-last-out" if "leave-last-out" in flags else "temporal(horizon=30d")
    ndcg = {row["model"]: row["metrics"]["ndcg@10"]["mean"] for row in board["models"]}
    assert ndcg["ease"] > 0 and ndcg["pop"] > 0


def test_cli_refuses_a_horizon_without_the_temporal_split():
    result = runner.invoke(app, ["evaluate", str(sample_data_path()), "--models", "pop", "--horizon", "30d"])
    assert result.exit_code == 2 and "go with --split temporal" in result.stderr
