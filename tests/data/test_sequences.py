"""Time order in the data layer: event order, sequences, recency weights, time-based splits."""

from __future__ import annotations

import pandas as pd
import pytest

from aigc_biz.data import Interactions
from aigc_biz.data.splits import parse_horizon, split_horizon, split_leave_last_out
from aigc_biz.errors import ConfigError, InputError


def timed() -> Interactions:
    # file order differs from time order on purpose; a's 2nd and 3rd events tie in time
    frame = pd.DataFrame(
        {
            "user": ["a", "a", "b", "a", "a", "b"],
            "item": ["z", "x", "y", "y", "w", "x"],
            "time": pd.to_datetime(
                ["2026-03-05", "2026-03-01", "2026-03-02", "2026-03-03", "2026-03-03", "2026-03-09"]
            ),
        }
    )
    return Interactions.from_frame(frame, "user", "item", time_col="time")


def test_sequences_follow_time_with_ties_in_file_order():
    data = timed()
    indptr, items = data.sequences()
    names = data.item_ids[items]
    assert data.event_order == "time"
    assert list(names[indptr[0] : indptr[1]]) == ["x", "y", "w", "z"]  # y before w: same time, file order
    assert list(names[indptr[1] : indptr[2]]) == ["y", "x"]


def test_without_a_time_column_the_file_order_is_kept_and_said():
    frame = pd.DataFrame({"user": ["a", "a", "a"], "item": ["z", "x", "z"]})
    data = Interactions.from_frame(frame, "user", "item")
    indptr, items = data.sequences()
    assert data.event_order == "file"
    assert list(data.item_ids[items]) == ["z", "x", "z"]  # repeats kept, never densified


def test_recency_weights_in_days_and_in_events():
    data = timed()
    by_days = pd.DataFrame(data.recency_matrix(2.0).toarray(), index=data.user_ids, columns=data.item_ids)
    # the data ends 2026-03-09: a's z is 4 days old, x 8 days, y and w 6 days; b's x is 0 days old
    assert by_days.loc["a", "z"] == pytest.approx(0.25)
    assert by_days.loc["a", "x"] == pytest.approx(0.0625)
    assert by_days.loc["a", "y"] == pytest.approx(0.125)
    assert by_days.loc["b", "x"] == pytest.approx(1.0)
    by_events = pd.DataFrame(
        data.recency_matrix(1.0, unit="events").toarray(), index=data.user_ids, columns=data.item_ids
    )
    assert by_events.loc["a"].tolist() == [0.5, 0.125, 0.25, 1.0]  # w, x, y, z: 1, 3, 2, 0 events ago
    with pytest.raises(InputError, match="positive"):
        data.recency_matrix(0)


def test_leave_last_out_targets_each_customers_last_event():
    data = timed()
    split = split_leave_last_out(data)
    target = pd.DataFrame(split.test_target.toarray(), index=data.user_ids, columns=data.item_ids)
    assert target.loc["a"].tolist() == [0, 0, 0, 1] and target.loc["b"].tolist() == [0, 1, 0, 0]
    train = pd.DataFrame(split.train.matrix.toarray(), index=data.user_ids, columns=data.item_ids)
    assert train.loc["a", "z"] == 0 and train.loc["b", "x"] == 0 and train.loc["a", "w"] == 1
    assert len(split.test_events) == 4 and "order=time" in split.name


def test_horizon_split_new_only_and_with_repeats():
    frame = pd.DataFrame(
        {
            "user": ["a", "a", "b", "a", "a", "b", "c"],
            "item": ["x", "y", "x", "x", "z", "q", "x"],
            "time": pd.to_datetime(
                ["2026-01-01", "2026-01-10", "2026-01-05", "2026-02-20", "2026-02-25", "2026-02-26", "2026-02-27"]
            ),
        }
    )
    data = Interactions.from_frame(frame, "user", "item", time_col="time")
    new_only = split_horizon(data, "30d")
    pairs = {(data.user_ids[u], data.item_ids[i]) for u, i in zip(*new_only.test_target.nonzero())}
    # a's x is a repeat; z and q were never sold before the cut; c is a new customer: none is a target
    assert pairs == set() and not new_only.repeats
    with_repeats = split_horizon(data, "30d", repeats=True)
    pairs = {(data.user_ids[u], data.item_ids[i]) for u, i in zip(*with_repeats.test_target.nonzero())}
    assert pairs == {("a", "x")} and with_repeats.repeats
    assert with_repeats.train.matrix.nnz == 3  # only events before 2026-01-28


@pytest.mark.parametrize("text, days", [("30d", 30), ("2w", 14), ("7", 7), ("1.5d", 1.5)])
def test_horizons_parse(text, days):
    assert parse_horizon(text) == pd.Timedelta(days=days)


@pytest.mark.parametrize("bad", ["soon", "-3d", "0d", ""])
def test_bad_horizons_are_refused(bad):
    with pytest.raises(ConfigError):
        parse_horizon(bad)
