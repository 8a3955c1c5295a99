"""The split -> fit -> score protocol and the Leaderboard, on hand-made splits with known answers."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from aigc_biz.data.interactions import Interactions
from aigc_biz.data.splits import Split
from aigc_biz.errors import InputError
from aigc_biz.evaluation import Leaderboard, evaluate, metrics_by_segment, score_split
from aigc_biz.models.base import Recommender


def HandSplit(train: Interactions, test_input: sp.csr_matrix, test_target: sp.csr_matrix) -> Split:
    """A real Split built by hand, so the expected figures are known."""
    return Split(train=train, test_input=test_input, test_target=test_target, name="hand")


class FixedScores(Recommender):
    """Scores every user with the same vector: a known ranking for hand-computed metrics."""

    name = "fixed"

    def __init__(self, scores=(5.0, 4.0, 3.0, 2.0, 1.0, 0.0)):
        self.scores = scores

    def _fit(self, data, progress):
        self.scores_ = np.asarray(self.scores, dtype=np.float32)

    def score_batch(self, history, context=None):
        return np.tile(self.scores_, (history.shape[0], 1))


class CoCounts(Recommender):
    """Item co-occurrence counts: users who bought your items also bought ..."""

    name = "cocounts"

    def __init__(self):
        pass

    def _fit(self, data, progress):
        binary = data.binary()
        self.cooccurrence_ = (binary.T @ binary).toarray().astype(np.float32)

    def score_batch(self, history, context=None):
        return np.asarray(sp.csr_matrix(history) @ self.cooccurrence_)


def checkerboard(n_users=40, n_items=12, seed=0) -> Interactions:
    """Two customer groups, each buying only from its own half of the catalogue (with a time column)."""
    rng = np.random.default_rng(seed)
    half = n_items // 2
    rows = []
    for u in range(n_users):
        group = u % 2
        items = rng.choice(half, size=rng.integers(4, half + 1), replace=False) + group * half
        for t, i in enumerate(items):
            rows.append(
                {
                    "user": f"u{u:03d}",
                    "item": f"i{i:03d}",
                    "segment": "north" if group == 0 else "south",
                    "category": "left" if i < half else ("right-a" if i % 2 else "right-b"),
                    "time": pd.Timestamp("2026-01-01") + pd.Timedelta(days=int(rng.integers(0, 60)) + t),
                }
            )
    frame = pd.DataFrame(rows)
    return Interactions.from_frame(
        frame, "user", "item", time_col="time", user_attr_cols=["segment"], item_attr_cols={"category": "category"}
    )


@pytest.fixture
def board_data() -> Interactions:
    return checkerboard()


@pytest.fixture
def two_user_split() -> Split:
    """Users 0 and 1 over six items; user 0 bought 0 and holds out 2, user 1 bought 1 and holds out 5;
    user 2 bought 3 and holds out nothing (never evaluated)."""
    train = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0]], dtype=np.float32))
    target = sp.csr_matrix(np.array([[0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 1], [0] * 6], dtype=np.float32))
    data = Interactions(
        matrix=train,
        user_ids=["a", "b", "c"],
        item_ids=[f"i{i}" for i in range(6)],
        user_features=pd.DataFrame({"segment": ["vip", "new", "vip"]}),
        item_features=pd.DataFrame({"category": ["x", "x", "y", "y", "z", "z"]}),
    )
    return HandSplit(train=data, test_input=train, test_target=target)


def test_score_split_matches_hand_computed_ranks(two_user_split):
    # fixed ranking 0 1 2 3 4 5, seen items excluded:
    #   user a (saw 0) gets [1, 2, 3, 4, 5] -> held-out 2 at rank 2: ndcg 1/log2(3) = 0.630930, recall@2 = 1
    #   user b (saw 1) gets [0, 2, 3, 4, 5] -> held-out 5 at rank 5: ndcg 1/log2(6) = 0.386853, recall@2 = 0
    #   user c has nothing held out and is not evaluated
    result = score_split(FixedScores(), two_user_split, ks=(2, 5), n_boot=200)
    assert result["users_evaluated"] == 2
    np.testing.assert_array_equal(result["user_rows"], [0, 1])
    np.testing.assert_array_equal(result["topk"], [[1, 2, 3, 4, 5], [0, 2, 3, 4, 5]])
    metrics = result["metrics"]
    assert metrics["ndcg@5"]["mean"] == pytest.approx((0.630930 + 0.386853) / 2, abs=1e-6)
    assert metrics["recall@2"]["mean"] == pytest.approx(0.5)
    assert metrics["hit_rate@5"]["mean"] == pytest.approx(1.0)
    # top-2 lists [1, 2] and [0, 2] cover items {0, 1, 2}: 3 of 6
    assert metrics["coverage@2"]["mean"] == pytest.approx(0.5)
    # categories x x y y z z: [1, 2] = x, y and [0, 2] = x, y -> every pair differs
    assert metrics["diversity@2"]["mean"] == pytest.approx(1.0)
    for name, values in metrics.items():
        assert values["low"] - 1e-12 <= values["mean"] <= values["high"] + 1e-12, name
    # coverage resamples whole lists: a resample drawing one user twice covers that user's list only
    # (2 of 6 items at k=2, 5 of 6 at k=5), one drawing both covers what the full set does
    assert metrics["coverage@2"]["low"] == pytest.approx(2 / 6) and metrics["coverage@2"]["high"] == 0.5
    assert metrics["coverage@5"]["low"] == pytest.approx(5 / 6) and metrics["coverage@5"]["high"] == 1.0
    assert result["fit_seconds"] >= 0 and result["score_seconds"] >= 0


def test_score_split_honours_a_wider_exclusion(two_user_split):
    # masking item 2 for user a as well (as when train + valid are masked) pushes its hit out
    exclude = sp.csr_matrix(np.array([[1, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0] * 6], dtype=np.float32))
    result = score_split(FixedScores(), two_user_split, ks=(2,), exclude=exclude, n_boot=50)
    assert 2 not in result["topk"][0]
    assert result["metrics"]["recall@2"]["mean"] == 0.0


def test_score_split_refuses_a_split_without_targets(two_user_split):
    empty = HandSplit(
        two_user_split.train,
        two_user_split.test_input,
        sp.csr_matrix(two_user_split.test_target.shape, dtype=np.float32),
    )
    with pytest.raises(InputError, match="no user with held-out items"):
        score_split(FixedScores(), empty, ks=(2,))


@pytest.mark.parametrize("ks", [(), (0, 5), ("ten",)])
def test_bad_cut_offs_are_input_errors(two_user_split, ks):
    with pytest.raises(InputError):
        score_split(FixedScores(), two_user_split, ks=ks)


def test_evaluate_with_model_instances_ranks_the_better_model_first(two_user_split):
    # reversed ranking 5 4 3 2 1 0: user a gets [5, 4, 3, 2, 1] (held-out 2 at rank 4), user b [5, 4, 3, 2, 0]
    # (held-out 5 at rank 1): ndcg@5 = (1/log2(5) + 1)/2 = (0.430677 + 1)/2 = 0.715338;
    # ndcg@2: reversed (0 + 1)/2 = 0.5 beats fixed (0.630930 + 0)/2 = 0.315465
    board = evaluate(
        None,
        {"fixed": FixedScores(), "reversed": FixedScores(scores=(0, 1, 2, 3, 4, 5))},
        split=two_user_split,
        ks=(2, 5),
        n_boot=100,
    )
    assert [row.model for row in board.rows] == ["fixed", "reversed"]
    assert board.result("reversed").mean("ndcg@5") == pytest.approx(0.715338, abs=1e-6)
    assert board.result("fixed").mean("ndcg@2") == pytest.approx(0.315465, abs=1e-6)
    assert board.ranking_metric == "ndcg@2"
    assert board.winner == "reversed"
    frame = board.to_frame()
    assert list(frame["model"]) == ["fixed", "reversed"]
    assert {"ndcg@2", "ndcg@2_low", "ndcg@2_high", "fit_seconds", "score_seconds", "users_evaluated"} <= set(frame)


def test_leaderboard_json_round_trips(two_user_split, tmp_path):
    board = evaluate(
        None,
        [FixedScores(), FixedScores(scores=(0, 1, 2, 3, 4, 5))],
        split=two_user_split,
        ks=(2, 5),
        n_boot=100,
        seed=7,
    )
    path = tmp_path / "out" / "leaderboard.json"
    board.to_json(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["split"] == "hand" and raw["ks"] == [2, 5] and raw["seed"] == 7
    assert [m["model"] for m in raw["models"]] == ["fixed", "fixed#2"]
    assert raw["winner"] == "fixed#2"
    assert set(raw["models"][0]["metrics"]["ndcg@2"]) == {"mean", "low", "high"}
    assert raw["models"][0]["params"] == {"scores": [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]}
    again = Leaderboard.from_json(path)
    assert again.to_dict() == board.to_dict()
    assert again == board  # per-user arrays are not part of equality


def test_leaderboard_json_writes_null_for_missing_figures(two_user_split):
    board = evaluate(None, {"fixed": FixedScores()}, split=two_user_split, ks=(2,), n_boot=20)
    board.rows[0].metrics["ndcg@2"]["low"] = float("nan")
    text = board.to_json()
    assert json.loads(text)["models"][0]["metrics"]["ndcg@2"]["low"] is None
    assert math.isnan(Leaderboard.from_dict(json.loads(text)).rows[0].metrics["ndcg@2"]["low"])


def test_metrics_by_segment(two_user_split):
    # user a (vip) has ndcg@5 0.630930, user b (new) 0.386853; user c (vip) is not evaluated
    board = evaluate(None, {"fixed": FixedScores()}, split=two_user_split, ks=(5,), n_boot=50)
    frame = metrics_by_segment(board, two_user_split.train.user_features, "segment", metric="ndcg@5", n_boot=50)
    assert list(frame.columns) == ["model", "segment", "users", "mean", "low", "high"]
    by_segment = frame.set_index("segment")
    assert by_segment.loc["vip", "users"] == 1 and by_segment.loc["new", "users"] == 1
    assert by_segment.loc["vip", "mean"] == pytest.approx(0.630930, abs=1e-6)
    assert by_segment.loc["new", "mean"] == pytest.approx(0.386853, abs=1e-6)
    with pytest.raises(InputError, match="no user attribute"):
        metrics_by_segment(board, two_user_split.train.user_features, "region")


def test_progress_reports_each_stage(two_user_split):
    events = []
    evaluate(None, {"fixed": FixedScores()}, split=two_user_split, ks=(2,), n_boot=20, progress=events.append)
    assert [e["stage"] for e in events] == ["score", "done"]
    assert all(e["model"] == "fixed" for e in events)


def test_context_reaches_context_aware_models(board_data):
    seen = []

    class SegmentEcho(CoCounts):
        uses_context = True

        def score_batch(self, history, context=None):
            seen.extend(context["segment"].tolist())
            return super().score_batch(history, context)

    target = board_data.matrix.copy()
    split = HandSplit(board_data, board_data.matrix, target)  # every user evaluated (nothing left to find)
    score_split(SegmentEcho(), split, ks=(2,), n_boot=10)
    assert seen == board_data.user_features["segment"].tolist()


def test_evaluate_unknown_split_name(board_data):
    with pytest.raises(InputError, match="unknown split"):
        evaluate(board_data, [CoCounts()], split="by-moon-phase")


@pytest.mark.parametrize("split", ["random", "temporal", "users"])
def test_evaluate_registry_models_on_every_split(board_data, split, tmp_path):
    # two customer groups each buying only their own half: item neighbours stay inside the half,
    # popularity mixes both halves, so itemknn must beat pop and win the board
    board = evaluate(board_data, ["pop", "itemknn"], split=split, ks=(3, 5), seed=1, n_boot=200)
    assert [row.model for row in board.rows] == ["pop", "itemknn"]
    assert board.split.startswith(split)
    knn, pop = board.result("itemknn"), board.result("pop")
    assert knn.mean("ndcg@3") > pop.mean("ndcg@3")
    assert board.winner == "itemknn"
    assert knn.users_evaluated > 0 and knn.users_evaluated == len(knn.user_rows)
    for row in board.rows:
        for name, values in row.metrics.items():
            assert values["low"] <= values["high"], name
    # item categories of the data give the diversity metric
    assert "diversity@5" in knn.metrics
    board.to_json(tmp_path / "board.json")
    assert Leaderboard.from_json(tmp_path / "board.json").to_dict() == board.to_dict()


def test_evaluate_is_repeatable_under_a_seed(board_data):
    first = evaluate(board_data, ["pop", "itemknn"], ks=(3,), seed=5, n_boot=100).to_dict()
    second = evaluate(board_data, ["pop", "itemknn"], ks=(3,), seed=5, n_boot=100).to_dict()
    for board in (first, second):
        board.pop("created_at")
        for row in board["models"]:
            row.pop("fit_seconds"), row.pop("score_seconds")
    assert first == second


def test_evaluate_passes_params_to_registry_models(board_data):
    board = evaluate(board_data, ["itemknn"], ks=(3,), n_boot=20, params={"itemknn": {"k_neighbours": 2}})
    assert board.rows[0].params["k_neighbours"] == 2


def test_segment_breakdown_of_a_real_evaluation(board_data):
    board = evaluate(board_data, ["pop", "itemknn"], ks=(10,), n_boot=50)
    frame = metrics_by_segment(board, board_data.user_features, "segment")
    assert set(frame["segment"]) == {"north", "south"}
    assert set(frame["model"]) == {"pop", "itemknn"}
    # the segments partition the evaluated users
    assert frame.groupby("model")["users"].sum().to_dict() == {row.model: row.users_evaluated for row in board.rows}


def test_metrics_from_topk_checks_shapes():
    from aigc_biz.evaluation import metrics_from_topk

    target = sp.csr_matrix(np.eye(3, dtype=np.float32))
    with pytest.raises(InputError, match="fewer than the largest cut-off"):
        metrics_from_topk(np.zeros((3, 2), dtype=int), target, target, ks=(5,))
    with pytest.raises(InputError, match="top-k rows"):
        metrics_from_topk(np.zeros((2, 5), dtype=int), target, target, ks=(5,))


def test_params_of_any_type_become_json(two_user_split):
    # numpy numbers, tuples and NaN in hyper-parameters must not break the report's JSON
    model = FixedScores(scores=(np.float32(1.0), np.int64(2), 0.5, float("nan"), 0, 0))
    board = evaluate(None, {"odd": model}, split=two_user_split, ks=(2,), n_boot=10)
    assert json.loads(board.to_json())["models"][0]["params"] == {"scores": [1.0, 2, 0.5, None, 0, 0]}


def test_evaluate_breaks_the_ranking_metric_down_by_segment(two_user_split, tmp_path):
    # "segment" is found automatically; user a (vip) 0.630930, user b (new) 0.386853 on ndcg@5
    board = evaluate(None, {"fixed": FixedScores()}, split=two_user_split, ks=(5,), n_boot=50)
    assert board.segment_column == "segment"
    assert board.by_segment["fixed"]["vip"]["mean"] == pytest.approx(0.630930, abs=1e-6)
    assert board.by_segment["fixed"]["new"]["users"] == 1
    board.to_json(tmp_path / "board.json")
    raw = json.loads((tmp_path / "board.json").read_text(encoding="utf-8"))
    assert raw["by_segment"]["fixed"]["new"]["mean"] == pytest.approx(0.386853, abs=1e-6)
    assert Leaderboard.from_json(tmp_path / "board.json").to_dict() == board.to_dict()
    plain = evaluate(None, {"fixed": FixedScores()}, split=two_user_split, ks=(5,), n_boot=20, segment_column=None)
    assert plain.by_segment is None and "by_segment" not in plain.to_dict()
    with pytest.raises(InputError, match="no user attribute 'region'"):
        evaluate(None, {"fixed": FixedScores()}, split=two_user_split, ks=(5,), n_boot=20, segment_column="region")
