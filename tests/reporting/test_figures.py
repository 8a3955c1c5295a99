"""Known-answer checks of the numbers behind the report, and of the chart SVG."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from aigc_biz.data import Interactions
from aigc_biz.data.profile import head_share, log_histogram, popularity_curve, profile
from aigc_biz.errors import InputError
from aigc_biz.reporting import charts
from aigc_biz.reporting.coverage import decile_shares, gini, recommendation_stats
from aigc_biz.reporting.customers import choose_customers
from aigc_biz.reporting.leaderboard import normalize_leaderboard, normalize_segments


@pytest.fixture()
def tiny():
    """u1 bought a, b, c; u2 bought a, b; u3 bought a (twice, on two days). Items: a (3), b (2), c (1), d (0)."""
    frame = pd.DataFrame(
        {
            "user": ["u1", "u1", "u1", "u2", "u2", "u3", "u3", "u4"],
            "item": ["a", "b", "c", "a", "b", "a", "a", "d"],
            "time": pd.to_datetime(
                [
                    "2025-01-01",
                    "2025-01-02",
                    "2025-01-03",
                    "2025-01-04",
                    "2025-01-05",
                    "2025-01-06",
                    "2025-01-07",
                    "2025-01-08",
                ]
            ),
            "cat": ["x", "x", "y", "x", "x", "x", "x", "z"],
        }
    )
    data = Interactions.from_frame(frame, "user", "item", time_col="time", item_attr_cols={"cat": "category"})
    # u4's purchase of d was a return: weight 0 keeps d in the catalogue with no interaction
    matrix = data.matrix.tolil()
    matrix[3, 3] = 0
    return data.with_matrix(matrix.tocsr(), events=data.events)


def test_profile_counts(tiny):
    summary = profile(tiny)
    assert (summary["users"], summary["items"], summary["interactions"], summary["events"]) == (4, 4, 6, 8)
    assert summary["sparsity"] == pytest.approx(1 - 6 / 16)
    assert summary["interactions_per_user"] == {
        "min": 0,
        "median": 1.5,
        "mean": 1.5,
        "p90": pytest.approx(2.7),
        "max": 3,
    }
    assert summary["popularity_curve"] == {"rank": [1, 2, 3], "customers": [3, 2, 1]}
    assert summary["head_share"] == pytest.approx(3 / 6)  # head = top 1 of 4 items
    assert summary["date_range"] == ["2025-01-01T00:00:00", "2025-01-08T00:00:00"]
    assert summary["over_time"]["period"] == "day" and sum(summary["over_time"]["events"]) == 8


def test_log_histogram_counts_every_positive_value():
    values = np.array([0, 1, 1, 2, 3, 10, 100, 1000])
    hist = log_histogram(values, max_bins=5)
    assert sum(hist["counts"]) == 7
    assert hist["edges"][0] == 1 and hist["edges"][-1] > 1000
    assert log_histogram(np.zeros(3, dtype=int)) == {"edges": [], "counts": []}


def test_popularity_curve_is_sampled_for_big_catalogues():
    curve = popularity_curve(np.arange(1, 100_001))
    assert len(curve["rank"]) <= 200 and curve["rank"][0] == 1 and curve["rank"][-1] == 100_000
    assert curve["customers"][0] == 100_000 and curve["customers"][-1] == 1


def test_gini_and_shares_known_answers():
    assert gini(np.array([5, 5, 5, 5])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 10])) == pytest.approx(0.75)
    assert gini(np.zeros(4)) is None
    popularity = np.arange(20, 0, -1)
    shares = decile_shares(np.ones(20), popularity)
    assert shares == [pytest.approx(0.1)] * 10
    assert head_share(np.array([0, 0, 0, 4]), np.array([4, 3, 2, 1])) == 0.0
    assert head_share(np.array([4, 0, 0, 0]), np.array([4, 3, 2, 1])) == 1.0


def test_recommendation_stats_known_answer(tiny):
    # u1 gets a, d; u2 gets a, c; u3 gets a and an id the data does not know
    recs = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u2", "u3", "u3"],
            "rank": [1, 2, 1, 2, 1, 2],
            "item_id": ["a", "d", "a", "c", "a", "zz"],
            "score": [1, 0.5, 1, 0.5, 1, 0.5],
        }
    )
    stats = recommendation_stats(recs, tiny)
    assert stats["distinct_items"] == 3 and stats["item_coverage"] == 0.75
    assert stats["unknown_items"] == 1 and stats["customers_with_recs"] == 3 and stats["list_length"] == 2
    assert stats["head_share_recs"] == pytest.approx(3 / 5)
    # popularity a=3, c=1, d=0 -> recs mean (3+0+3+1+3)/5 = 2; interactions mean (9+4+1)/6
    assert stats["mean_popularity_recs"] == pytest.approx(2.0)
    assert stats["popularity_lift"] == pytest.approx(2.0 / (14 / 6))
    assert stats["categories"]["category"][0] == "x"
    assert stats["categories"]["in_recs"][0] == pytest.approx(3 / 5)


def test_customer_choice_is_deterministic_and_bounded(tiny):
    assert choose_customers(tiny, None, 2, seed=0) == choose_customers(tiny, None, 2, seed=0)
    assert sorted(choose_customers(tiny, None, 10, seed=0)) == ["u1", "u2", "u3"]  # u4 has no interaction
    assert choose_customers(tiny, None, 0, seed=0) == []


def test_leaderboard_normalization_orders_metrics_and_marks_the_winner():
    board = normalize_leaderboard(
        {
            "winner": "b",
            "models": [
                {
                    "model": "a",
                    "metrics": {
                        "coverage": 0.5,
                        "recall@20": {"mean": 0.2},
                        "ndcg@10": {"mean": 0.1},
                        "recall@10": {"mean": float("nan")},
                    },
                },
                {"model": "b", "metrics": {"ndcg@10": {"mean": 0.3, "low": 0.2, "high": 0.4}}, "fit_seconds": 2},
            ],
        }
    )
    assert board["metrics"] == ["ndcg@10", "recall@10", "recall@20", "coverage"]
    assert board["primary_metric"] == "ndcg@10"
    assert [m["is_winner"] for m in board["models"]] == [False, True]
    assert board["models"][0]["metrics"]["coverage"] == {"mean": 0.5, "low": None, "high": None}
    assert board["models"][0]["metrics"]["recall@10"]["mean"] is None
    with pytest.raises(InputError):
        normalize_leaderboard({"models": [{"metrics": {}}]})
    segments = normalize_segments({"by_segment": {"a": {"s2": 0.1, "s1": 0.2}}}, ["s2"])
    assert segments["segments"] == ["s2", "s1"]


def test_chart_svg_escapes_labels_and_leaves_no_url():
    svg = charts.paired_share_chart(
        ["<script>alert(1)</script>", "$5 & $10", "中文", 'a id="x" xmlns="y"'],
        [0.5, 0.3, 0.1, 0.1],
        [0.2, 0.3, 0.4, 0.1],
        "<data>",
        "recs",
        "share",
        "t",
        horizontal=True,
    )
    assert "<script" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert ">$5 &amp; $10<" in svg and ">中文<" in svg and "&lt;data&gt;" in svg
    assert '>a id="x" xmlns="y"<' in svg  # the id/namespace rewriting touches tags, never text
    assert svg.startswith("<svg") and "http" not in svg and "<?xml" not in svg and "DOCTYPE" not in svg
    ids = [i for tag in re.findall(r"<[^<>]+>", svg) for i in re.findall(r'\sid="([^"]+)"', tag)]
    assert ids and all(i.startswith("t-") for i in ids)
    assert "<text" in svg  # text stays text (svg.fonttype none)


def test_reads_the_leaderboard_the_evaluation_module_writes():
    from aigc_biz.evaluation import Leaderboard, ModelResult

    rows = [
        ModelResult(
            "pop",
            {},
            {"ndcg@5": {"mean": 0.1, "low": 0.05, "high": 0.15}, "coverage@5": {"mean": 0.2, "low": 0.2, "high": 0.2}},
            0.1,
            0.2,
            40,
        ),
        ModelResult(
            "ease",
            {"l2": 10.0},
            {"ndcg@5": {"mean": 0.3, "low": 0.2, "high": 0.4}, "coverage@5": {"mean": 0.5, "low": 0.5, "high": 0.5}},
            1.0,
            0.3,
            40,
        ),
    ]
    raw = Leaderboard(split="random", ks=(5,), rows=rows).to_dict()
    raw["by_segment"] = {"pop": {"vip": {"mean": 0.1, "low": 0.0, "high": 0.2}}, "ease": {"vip": 0.3}}
    board = normalize_leaderboard(raw)
    assert board["primary_metric"] == "ndcg@5" and board["winner"] == "ease"
    assert board["metrics"] == ["ndcg@5", "coverage@5"]
    assert [m["is_winner"] for m in board["models"]] == [False, True]
    segments = normalize_segments(raw)
    assert segments["metric"] == "ndcg@5"
    assert segments["values"] == {"pop": {"vip": 0.1}, "ease": {"vip": 0.3}}
    assert segments["intervals"] == {"pop": {"vip": [0.0, 0.2]}, "ease": {"vip": None}}
