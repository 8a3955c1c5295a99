"""SASRec: next-item known answers, cold start by context, leave-last-out validation, saving, the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aigc_biz.data import Interactions

# one small block, many small steps: the checkerboard is learned in a few seconds
SMALL = dict(
    max_len=20,
    hidden=16,
    blocks=1,
    dropout=0.1,
    epochs=40,
    batch_size=16,
    lr=0.01,
    val_fraction=0.0,
    device="cpu",
    seed=0,
)


def small_sasrec(**changes):
    from aigc_biz.models.sasrec import SASRec

    return SASRec(**{**SMALL, **changes})


# --- a known-answer sequence task: customers walking a ring of items --------------------------------
RING = 24


def ring_frame(n_users: int = 120, seed: int = 3) -> pd.DataFrame:
    """Each customer walks the ring ``i, i+1, i+2 ...`` from a random start for 5-10 steps; times go up
    along each walk but the rows are shuffled, so only the time column gives the order. The segment
    says which half of the ring the walk starts in."""
    rng = np.random.default_rng(seed)
    rows = []
    start_time = pd.Timestamp("2024-03-01")
    for u in range(n_users):
        first = int(rng.integers(RING))
        steps = int(rng.integers(5, 11))
        for s in range(steps):
            rows.append(
                {
                    "customer": f"c{u:03d}",
                    "product": f"p{(first + s) % RING:02d}",
                    "time": start_time + pd.Timedelta(hours=u + 7 * s),
                    "segment": "low" if first < RING // 2 else "high",
                    "category": f"k{((first + s) % RING) // 6}",
                }
            )
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def ring_data(frame: pd.DataFrame, categories: bool = False) -> Interactions:
    return Interactions.from_frame(
        frame,
        "customer",
        "product",
        time_col="time",
        user_attr_cols=["segment"],
        item_attr_cols={"category": "category"} if categories else None,
    )


def hit_at_1(model, split) -> float:
    top = model.recommend_topk(split.test_data(), k=1)
    target = split.test_target
    users = split.test_users
    return float(np.mean([target[u, top.indices[u, 0]] > 0 for u in users]))


@pytest.fixture(scope="module")
def ring_split():
    from aigc_biz.data.splits import split_leave_last_out

    return split_leave_last_out(ring_data(ring_frame(), categories=True))


@pytest.fixture(scope="module")
def ring_model(ring_split):
    return small_sasrec(epochs=30, max_len=12, hidden=32, lr=0.01).fit(ring_split.train)


def test_sasrec_predicts_the_next_step_where_a_bag_model_cannot(ring_model, ring_split):
    from aigc_biz.models.ease import EASE

    assert ring_model.event_order_ == "time"
    assert ring_model.categories_ == ["k0", "k1", "k2", "k3"]
    assert hit_at_1(ring_model, ring_split) > 0.9
    # a bag of items sees both ends of the walk alike: it cannot tell which neighbour comes next
    assert hit_at_1(EASE(l2=1.0).fit(ring_split.train), ring_split) < 0.7


def test_the_time_column_orders_the_sequence_not_the_rows(ring_model, ring_split):
    """Scoring reads the customer's events in time order: shuffling the event log's rows changes
    nothing, while dropping its times (the shuffled file order becomes the order) does."""
    data = ring_split.test_data()
    events = data.events.sample(frac=1.0, random_state=0).reset_index(drop=True)
    first = ring_model.recommend(data, k=3)
    pd.testing.assert_frame_equal(ring_model.recommend(data.with_matrix(data.matrix, events=events), k=3), first)
    untimed = data.with_matrix(data.matrix, events=events.drop(columns="time"))
    assert not ring_model.recommend(untimed, k=3).equals(first)


def test_cold_start_customer_is_scored_from_attributes(ring_model, ring_split):
    """A customer with no events gets the first step of a walk of their segment's half of the ring."""
    context = pd.DataFrame({"user_id": ["new-low", "new-high"], "segment": ["low", "high"]})
    rec = ring_model.recommend(ring_split.train, ["new-low", "new-high"], k=5, context=context)
    lists = rec.groupby("user_id")["item_id"].agg(list)
    ring_pos = {u: [int(t[1:]) for t in items] for u, items in lists.items()}
    assert np.mean([p < RING // 2 for p in ring_pos["new-low"]]) >= 0.8, lists["new-low"]
    assert np.mean([p >= RING // 2 for p in ring_pos["new-high"]]) >= 0.8, lists["new-high"]


def test_save_load_gives_the_same_lists_and_scores(ring_model, ring_split, tmp_path):
    from aigc_biz.models.base import Recommender

    folder = ring_model.save(tmp_path / "sasrec")
    loaded = Recommender.load(folder)
    assert loaded.categories_ == ring_model.categories_ and loaded.event_order_ == "time"
    data = ring_split.test_data()
    pd.testing.assert_frame_equal(loaded.recommend(data, k=5), ring_model.recommend(data, k=5))
    np.testing.assert_array_equal(loaded.item_vectors(), ring_model.item_vectors())


def test_a_customer_longer_than_max_len_is_read_from_the_last_events(ring_model, ring_split):
    """max_len=12: a walk of 30 steps is scored from its last 12 events, so the next step still comes first."""
    steps = [f"p{i % RING:02d}" for i in range(5, 35)]
    frame = pd.DataFrame(
        {
            "customer": "long",
            "product": steps,
            "segment": "low",
            "time": pd.Timestamp("2024-05-01") + pd.to_timedelta(np.arange(30), unit="h"),
        }
    )
    top = ring_model.recommend(
        Interactions.from_frame(frame, "customer", "product", time_col="time", user_attr_cols=["segment"]),
        k=1,
        exclude_seen=False,
    )
    assert top["item_id"].tolist() == [f"p{35 % RING:02d}"]


# --- validation, windows, losses ----------------------------------------------------------------------
def test_training_windows_put_the_start_token_first_and_keep_the_last_steps():
    from aigc_biz.models.sasrec import training_windows, with_start_token

    indptr = np.array([0, 2, 7])
    items = np.array([4, 5, 1, 2, 3, 4, 5])
    x, y = training_windows(indptr, items, np.array([0, 1]), max_len=3, start=9)
    assert x.tolist() == [[0, 0, 9, 4], [9, 2, 3, 4]]
    assert y.tolist() == [[0, 0, 4, 5], [0, 3, 4, 5]]
    # trimmed to the longest row; an empty row is the start token alone
    assert with_start_token(np.array([[0, 0, 7], [0, 0, 0]]), 9).tolist() == [[9, 7], [0, 9]]


def test_validation_holds_out_the_last_training_event_of_sampled_customers():
    from aigc_biz.models.sasrec import carve_last_events

    indptr = np.array([0, 3, 4, 8, 10])
    items = np.array([1, 2, 3, 4, 5, 6, 7, 8, 2, 1])
    ptr, kept, val = carve_last_events(indptr, items, n_items=8, fraction=0.75, seed=0)
    assert list(val.users) == [0, 2, 3]  # customer 1 has one event: never validated
    assert (val.target.toarray().argmax(axis=1) + 1).tolist() == [3, 8, 1]
    assert kept.tolist() == [1, 2, 4, 5, 6, 7, 2] and ptr.tolist() == [0, 2, 3, 6, 7]
    assert val.train.toarray()[3].tolist() == [0, 1, 0, 0, 0, 0, 0, 0]
    assert carve_last_events(indptr, items, 8, 0.0, 0)[2] is None


def test_validation_ndcg_at_10_is_reported_every_epoch_and_picks_the_epoch(ring_split):
    seen = []
    model = small_sasrec(epochs=8, max_len=12, hidden=32, lr=0.01, val_fraction=0.5, patience=3).fit(
        ring_split.train, progress=seen.append
    )
    assert [r["epoch"] for r in seen] == list(range(1, len(seen) + 1))
    assert all(r["val_ndcg"] is not None and 0 <= r["val_ndcg"] <= 1 and np.isfinite(r["loss"]) for r in seen)
    best = max(range(len(seen)), key=lambda i: seen[i]["val_ndcg"])
    assert model.best_epoch_ == best + 1 and model.best_val_ndcg_ == pytest.approx(seen[best]["val_ndcg"])
    assert seen[-1]["val_ndcg"] > 0.3  # the walk is learnt, and the held-out step was never trained on


def test_sampled_softmax_above_the_threshold_still_learns(checkerboard):
    model = small_sasrec(max_full_softmax_items=5, n_negatives=8).fit(checkerboard.train)
    assert model.full_softmax_ is False
    rec = model.recommend(checkerboard.train, k=checkerboard.n_items // 2)
    lists = rec.groupby("user_id")["item_id"].agg(list)
    found = np.mean([checkerboard.heldout[u] in lists[u] for u in checkerboard.heldout])
    assert found >= 0.9


def test_file_order_is_the_sequence_without_a_time_column(checkerboard, caplog):
    with caplog.at_level("INFO", logger="aigc_biz"):
        model = small_sasrec(epochs=1).fit(checkerboard.train)
    assert model.event_order_ == "file"
    assert any("order of the rows" in r.getMessage() for r in caplog.records)


def test_bad_parameters_and_warm_start_are_refused(checkerboard):
    from aigc_biz.errors import ConfigError, ModelError

    with pytest.raises(ConfigError, match="heads=3"):
        small_sasrec(hidden=16, heads=3).fit(checkerboard.train)
    fitted = small_sasrec(epochs=1).fit(checkerboard.train)
    with pytest.raises(ModelError, match="warm-start"):
        small_sasrec(epochs=1).fit(checkerboard.train, warm_start=fitted)
    no_log = checkerboard.train.with_matrix(checkerboard.train.matrix, events=None)
    with pytest.raises(ModelError, match="event log"):
        small_sasrec(epochs=1).fit(no_log)


def test_tampered_category_codes_are_refused(ring_model, tmp_path):
    from safetensors.numpy import load_file

    from aigc_biz.errors import ModelError
    from aigc_biz.models.base import Recommender

    from .contract import write_tampered

    folder = ring_model.save(tmp_path / "model")
    arrays = load_file(folder / "arrays.safetensors")
    codes = arrays["state.item_emb.category"].copy()
    codes[3] = len(ring_model.categories_) + 1
    write_tampered(folder, {**arrays, "state.item_emb.category": codes})
    with pytest.raises(ModelError, match="category"):
        Recommender.load(folder)


# --- the command line -------------------------------------------------------------------------------
def test_cli_recommend_with_sasrec(tmp_path):
    from typer.testing import CliRunner

    from aigc_biz.cli import app

    frame = ring_frame(n_users=60)
    frame["time"] = frame["time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    frame.drop(columns=["category"]).to_csv(tmp_path / "train.csv", index=False)
    out = tmp_path / "recs.csv"
    result = CliRunner().invoke(
        app,
        [
            "recommend",
            str(tmp_path / "train.csv"),
            "--model",
            "sasrec",
            "-p",
            "epochs=3",
            "-p",
            "hidden=16",
            "-p",
            "max_len=12",
            "--device",
            "cpu",
            "--top-k",
            "10",
            "-o",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    recs = pd.read_csv(out, dtype=str)
    assert recs["user_id"].nunique() == 60 and (recs.groupby("user_id").size() == 10).all()
    seen = set(zip(frame["customer"], frame["product"]))
    assert not seen & set(zip(recs["user_id"], recs["item_id"]))
    bad = CliRunner().invoke(
        app, ["recommend", str(tmp_path / "train.csv"), "--model", "sasrec", "-p", "heads=3", "-o", str(out)]
    )
    assert bad.exit_code == 2 and "heads=3" in bad.output and "Traceback" not in bad.output
