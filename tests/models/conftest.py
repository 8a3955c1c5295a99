"""Shared data for the model tests: a checkerboard of two customer groups with held-out items."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

from aigc_biz.data import Interactions

from .contract import mark_slow_contract_classes

N_USERS_PER_GROUP = 30
N_ITEMS_PER_HALF = 10


@dataclass(frozen=True)
class Checkerboard:
    """Group "A" users take only items of the first half, group "B" only the second half.

    Each user has one more item of their own half held out of ``train`` (``heldout``).
    Ids are zero-padded strings ("0007", "00012") so that lost leading zeros show.
    """

    train: Interactions
    frame: pd.DataFrame
    heldout: dict[str, str]
    group_of_user: dict[str, str]
    half_of_item: dict[str, str]

    @property
    def n_items(self) -> int:
        return self.train.n_items


def make_checkerboard(seed: int = 7, timed: bool = False) -> Checkerboard:
    """The checkerboard; ``timed`` adds a ``time`` column (one row every 6 hours from 2024-01-01) and
    makes every other customer buy one of their items again in the last 15 days, for repeat models."""
    rng = np.random.default_rng(seed)
    halves = {
        "A": [f"{i:05d}" for i in range(1, N_ITEMS_PER_HALF + 1)],
        "B": [f"{i:05d}" for i in range(N_ITEMS_PER_HALF + 1, 2 * N_ITEMS_PER_HALF + 1)],
    }
    # a skewed popularity within each half, so that scores are not all tied
    weights = 1.0 / np.arange(1, N_ITEMS_PER_HALF + 1) ** 0.6
    weights /= weights.sum()
    rows, heldout, group_of_user = [], {}, {}
    for number in range(1, 2 * N_USERS_PER_GROUP + 1):
        user = f"{number:04d}"
        group = "A" if number <= N_USERS_PER_GROUP else "B"
        group_of_user[user] = group
        n_taken = int(rng.integers(4, 8))
        taken = rng.choice(halves[group], size=n_taken, replace=False, p=weights)
        heldout[user] = str(taken[0])
        rows += [{"customer": user, "product": str(item), "segment": group} for item in taken[1:]]
    frame = pd.DataFrame(rows)
    if set(heldout.values()) - set(frame["product"]):
        raise ValueError("seed gives a held-out item nobody took in train; pick another seed")
    time_col = None
    if timed:
        start = pd.Timestamp("2024-01-01")
        frame["time"] = start + pd.to_timedelta(6 * np.arange(len(frame)), unit="h")
        end = frame["time"].max()
        again = frame.drop_duplicates("customer").iloc[::2].copy()
        again["time"] = end + pd.to_timedelta(np.arange(len(again)) % 15 + 1, unit="D")
        frame = pd.concat([frame, again], ignore_index=True)
        time_col = "time"
    train = Interactions.from_frame(frame, "customer", "product", time_col=time_col, user_attr_cols=["segment"])
    half_of_item = {item: half for half, items in halves.items() for item in items}
    return Checkerboard(train, frame, heldout, group_of_user, half_of_item)


@pytest.fixture(scope="session")
def checkerboard() -> Checkerboard:
    """Read-only: tests must not change it (it is shared by every model's fitted fixture)."""
    return make_checkerboard()


@pytest.fixture(scope="session")
def timed_checkerboard() -> Checkerboard:
    """The checkerboard with purchase times and some repeats (models that need a time column)."""
    return make_checkerboard(timed=True)


def pytest_collection_modifyitems(config, items):
    mark_slow_contract_classes(items)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: a second intra-op thread only adds contention on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
