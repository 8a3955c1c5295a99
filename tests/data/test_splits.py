"""Splits: known answers on small data, refusals, and the partition/determinism properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from aigc_biz.data import Interactions, Split, split_random, split_temporal, split_users, validation_split
from aigc_biz.data.interactions import ColumnRoles
from aigc_biz.errors import ConfigError, InputError


def pairs(matrix) -> set:
    coo = sp.coo_matrix(matrix)
    return {(int(r), int(c)) for r, c, v in zip(coo.row, coo.col, coo.data) if v != 0}


def timed_data() -> Interactions:
    """User 0 bought items 0..3 on days 1..4; user 1 bought item 1 twice (days 2, 6) and item 4 on day 5."""
    events = pd.DataFrame(
        {
            "user_idx": [0, 0, 0, 0, 1, 1, 1],
            "item_idx": [0, 1, 2, 3, 1, 4, 1],
            "weight": np.ones(7, dtype=np.float32),
            "time": pd.to_datetime(
                ["2023-01-01", "2023-01-02", "2023-01-03", "2023-01-04", "2023-01-02", "2023-01-05", "2023-01-06"]
            ),
        }
    )
    matrix = sp.csr_matrix((events["weight"], (events["user_idx"], events["item_idx"])), shape=(2, 5))
    matrix.sum_duplicates()
    return Interactions(
        matrix,
        ["u0", "u1"],
        [f"i{k}" for k in range(5)],
        events=events,
        roles=ColumnRoles(user="u", item="i", time="t"),
    )


def random_data(n_users=30, n_items=20, density=0.3, seed=0) -> Interactions:
    matrix = sp.random(n_users, n_items, density=density, format="csr", random_state=seed, dtype=np.float32)
    matrix.data[:] = 1
    return Interactions(matrix, [f"u{k}" for k in range(n_users)], [f"i{k}" for k in range(n_items)])


def test_temporal_last_n_holds_out_each_users_latest_items():
    split = split_temporal(timed_data(), last_n=1)
    assert isinstance(split, Split) and split.name == "temporal(last_n=1)"
    # user 1's latest pair is item 1 (day 6), not item 4 (day 5)
    assert pairs(split.test_target) == {(0, 3), (1, 1)}
    assert pairs(split.train.matrix) == {(0, 0), (0, 1), (0, 2), (1, 4)}
    assert split.test_input is split.train.matrix or pairs(split.test_input) == pairs(split.train.matrix)
    assert set(split.train.events["time"]) <= set(
        pd.to_datetime(["2023-01-01", "2023-01-02", "2023-01-03", "2023-01-05"])
    )
    two = split_temporal(timed_data(), last_n=2)
    assert pairs(two.test_target) == {(0, 2), (0, 3)}  # user 1 has only two items: all kept for training


def test_temporal_cutoff_trains_on_the_past_only():
    split = split_temporal(timed_data(), cutoff="2023-01-04")
    assert pairs(split.test_target) == {(0, 3), (1, 4)}
    # item 1 of user 1 was seen before the cutoff: trained on its day-2 event only, not a target
    assert pairs(split.train.matrix) == {(0, 0), (0, 1), (0, 2), (1, 1)}
    assert split.train.matrix[1, 1] == 1.0
    assert split.train.events["time"].max() < pd.Timestamp("2023-01-04")
    with pytest.raises(InputError, match="leaves nothing to test; the data runs from 2023-01-01"):
        split_temporal(timed_data(), cutoff="2024-01-01")
    with pytest.raises(ConfigError, match="not a date"):
        split_temporal(timed_data(), cutoff="someday")


def test_temporal_needs_times():
    data = random_data()
    with pytest.raises(InputError, match="temporal split needs a time column"):
        split_temporal(data)


def test_random_split_respects_min_interactions():
    matrix = sp.csr_matrix(np.array([[1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]], dtype=np.float32))
    data = Interactions(matrix, ["a", "b", "c"], list("vwxyz"))
    split = split_random(data, test_fraction=0.4, seed=3)
    per_user = np.diff(split.test_target.indptr)
    assert per_user.tolist() == [2, 0, 1]  # 40% of 5, nobody from the single-item user, one of two
    assert split.test_users.tolist() == [0, 2]
    assert split_random(data, test_fraction=0.4, seed=3, min_interactions=3).test_target[2].nnz == 0
    with pytest.raises(ConfigError, match="test_fraction must be between 0 and 1"):
        split_random(data, test_fraction=1.5)
    with pytest.raises(ConfigError, match="min_interactions"):
        split_random(data, min_interactions=1)


def test_users_split_hides_whole_users():
    data = random_data()
    split = split_users(data, test_fraction=0.2, fold_in_fraction=0.5, seed=1)
    held = np.flatnonzero(np.diff(split.test_target.indptr) > 0)
    assert len(held) == 6
    assert all(split.train.matrix[u].nnz == 0 for u in held)
    assert set(np.flatnonzero(np.diff(split.test_input.indptr) > 0)) == set(held)
    assert pairs(split.train.matrix) | pairs(split.test_input) | pairs(split.test_target) == pairs(data.matrix)
    assert not pairs(split.test_input) & pairs(split.test_target)


def test_validation_split_only_carves_from_train():
    outer = split_random(random_data(), seed=0)
    inner = validation_split(outer.train, fraction=0.25, seed=0)
    assert pairs(inner.test_target) <= pairs(outer.train.matrix)
    assert not pairs(inner.test_target) & pairs(outer.test_target)
    assert inner.name == "validation(fraction=0.25, seed=0)"


def test_train_events_follow_the_train_pairs():
    data = timed_data()
    split = split_random(data, test_fraction=0.5, seed=0)
    kept = set(zip(split.train.events["user_idx"], split.train.events["item_idx"]))
    assert kept == pairs(split.train.matrix)


@st.composite
def interaction_matrices(draw):
    n_users = draw(st.integers(1, 12))
    n_items = draw(st.integers(1, 12))
    cells = draw(
        st.lists(
            st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)), min_size=1, max_size=60, unique=True
        )
    )
    rows, cols = zip(*cells)
    matrix = sp.csr_matrix((np.ones(len(cells), dtype=np.float32), (rows, cols)), shape=(n_users, n_items))
    return Interactions(matrix, [f"u{k}" for k in range(n_users)], [f"i{k}" for k in range(n_items)])


@settings(max_examples=60, deadline=None)
@given(data=interaction_matrices(), fraction=st.floats(0.05, 0.95), seed=st.integers(0, 2**32 - 1))
def test_random_and_validation_splits_partition_and_are_deterministic(data, fraction, seed):
    for make in (
        lambda: split_random(data, test_fraction=fraction, seed=seed),
        lambda: validation_split(data, fraction=fraction, seed=seed),
    ):
        split = make()
        train, target = pairs(split.train.matrix), pairs(split.test_target)
        assert not train & target
        assert train | target == pairs(data.matrix)
        assert pairs(split.test_input) == train
        # every user keeps at least one training item
        assert all(split.train.matrix[u].nnz > 0 for u in range(data.n_users) if data.matrix[u].nnz > 0)
        again = make()
        assert pairs(again.test_target) == target and pairs(again.train.matrix) == train


@settings(max_examples=60, deadline=None)
@given(
    data=interaction_matrices(),
    fraction=st.floats(0.05, 0.95),
    fold_in=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**32 - 1),
)
def test_user_split_partitions_and_is_deterministic(data, fraction, fold_in, seed):
    if (np.diff(data.matrix.indptr) < 2).all():
        with pytest.raises(InputError):
            split_users(data, test_fraction=fraction, fold_in_fraction=fold_in, seed=seed)
        return
    split = split_users(data, test_fraction=fraction, fold_in_fraction=fold_in, seed=seed)
    train, given_, target = pairs(split.train.matrix), pairs(split.test_input), pairs(split.test_target)
    assert not train & target and not train & given_ and not given_ & target
    assert train | given_ | target == pairs(data.matrix)
    assert {u for u, _ in given_} == {u for u, _ in target}  # every held-out user has input and target
    again = split_users(data, test_fraction=fraction, fold_in_fraction=fold_in, seed=seed)
    assert pairs(again.test_target) == target and pairs(again.test_input) == given_


@settings(max_examples=40, deadline=None)
@given(data=interaction_matrices(), last_n=st.integers(1, 3), seed=st.integers(0, 1000))
def test_temporal_split_partitions(data, last_n, seed):
    coo = data.matrix.tocoo()
    rng = np.random.default_rng(seed)
    events = pd.DataFrame(
        {
            "user_idx": coo.row,
            "item_idx": coo.col,
            "weight": coo.data,
            "time": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 5, coo.nnz), "D"),
        }
    )
    timed = Interactions(data.matrix, data.user_ids, data.item_ids, events=events)
    split = split_temporal(timed, last_n=last_n)
    train, target = pairs(split.train.matrix), pairs(split.test_target)
    assert not train & target and train | target == pairs(data.matrix)
    per_user = np.diff(split.test_target.indptr)
    counts = np.diff(data.matrix.indptr)
    assert (per_user == np.where(counts > last_n, last_n, 0)).all()
