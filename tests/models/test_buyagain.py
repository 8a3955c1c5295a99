"""Known answers of the buy-again model (the shared contract runs in test_contract.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aigc_biz.data import Interactions
from aigc_biz.errors import ConfigError, InputError
from aigc_biz.models.base import Recommender
from aigc_biz.models.buyagain import PROBABILITY_FLOOR, BuyAgain

END = pd.Timestamp("2024-12-31")
STAPLES = [f"s{i}" for i in range(5)]  # rebought every ~10 days by their regulars
ONE_OFFS = [f"o{i}" for i in range(5)]  # nobody ever buys these twice


def shop(seed: int = 0) -> pd.DataFrame:
    """A year of purchases: regulars rebuy a staple every 8-12 days; everyone buys one-offs once."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in range(120):
        user = f"u{n:03d}"
        staple = STAPLES[n % len(STAPLES)]
        if n % 3 != 2:  # two in three customers are regulars of their staple; some of them lapse
            day = float(rng.uniform(0, 10))
            stop = 365 if n % 4 else float(rng.uniform(100, 300))
            while day < stop:
                rows.append((user, staple, END - pd.Timedelta(days=365 - day)))
                day += float(rng.uniform(8, 12))
        else:
            rows.append((user, staple, END - pd.Timedelta(days=float(rng.uniform(0, 365)))))
        for item in rng.choice(ONE_OFFS, size=2, replace=False):
            rows.append((user, str(item), END - pd.Timedelta(days=float(rng.uniform(0, 365)))))
    return pd.DataFrame(rows, columns=["customer", "product", "time"])


def with_probes(frame: pd.DataFrame) -> pd.DataFrame:
    """Two probe customers for the first staple, and one who bought a one-off nine days ago."""
    regular = [("regular", STAPLES[0], END - pd.Timedelta(days=9 + 10 * i)) for i in range(8)]
    once = [("once", STAPLES[0], END - pd.Timedelta(days=365))]
    one_off = [("oneoff", ONE_OFFS[0], END - pd.Timedelta(days=9)), ("oneoff", ONE_OFFS[0], END - pd.Timedelta(days=9))]
    probes = pd.DataFrame(regular + once + one_off, columns=["customer", "product", "time"])
    return pd.concat([frame, probes], ignore_index=True)


def interactions(frame: pd.DataFrame) -> Interactions:
    return Interactions.from_frame(frame, "customer", "product", time_col="time")


@pytest.fixture(scope="module")
def fitted():
    return BuyAgain(horizon="30d").fit(interactions(shop()))


@pytest.fixture(scope="module")
def probes(fitted):
    data = interactions(with_probes(shop()))
    rec = fitted.recommend(data, ["regular", "once", "oneoff"], k=fitted.n_items, exclude_seen=False)
    return rec.set_index(["user_id", "item_id"])["score"]


def test_the_training_data_trains_a_classifier(fitted):
    assert fitted.fitted_classifier_
    assert np.isfinite(fitted.coef_).all()


def test_a_regular_rebuyer_outscores_a_customer_who_bought_once_a_year_ago(probes):
    regular, once = probes[("regular", STAPLES[0])], probes[("once", STAPLES[0])]
    assert regular > 0.5, regular  # buys every 10 days, last 9 days ago: almost surely within 30 days
    assert once < 0.2 * regular, (once, regular)


def test_items_nobody_rebuys_score_low(fitted, probes):
    one_off = probes[("oneoff", ONE_OFFS[0])]
    assert one_off < 0.1, one_off
    assert one_off < probes[("regular", STAPLES[0])]
    assert (
        fitted.item_rebuy_[fitted.item_positions(ONE_OFFS)] < fitted.item_rebuy_[fitted.item_positions(STAPLES)].min()
    ).all()


def test_one_purchase_customers_get_finite_probabilities(probes):
    once = probes.loc["once"]
    assert np.isfinite(once).all()
    assert PROBABILITY_FLOOR <= once[STAPLES[0]] < 1.0


def test_never_bought_items_come_after_every_bought_item(fitted, probes):
    for user, bought in (("regular", {STAPLES[0]}), ("once", {STAPLES[0]}), ("oneoff", {ONE_OFFS[0]})):
        scores = probes.loc[user]
        others = scores.drop(list(bought))
        assert len(others) == fitted.n_items - 1
        assert others.max() < PROBABILITY_FLOOR <= scores[list(bought)].min()
    cold = fitted.recommend(interactions(shop()), ["nobody"], k=3)
    assert (cold["score"] < PROBABILITY_FLOOR).all() and len(cold) == 3


def test_probabilities_are_calibrated_on_the_next_period():
    """Fit on the year minus 30 days; the mean probability of bought pairs is near the share rebought."""
    frame = shop(seed=1)
    cut = END - pd.Timedelta(days=30)
    model = BuyAgain().fit(interactions(frame[frame["time"] < cut]))
    past = interactions(frame[frame["time"] < cut])
    rec = model.recommend(past, k=model.n_items, exclude_seen=False)
    rec = rec[rec["score"] >= PROBABILITY_FLOOR]
    later = set(zip(frame.loc[frame["time"] >= cut, "customer"], frame.loc[frame["time"] >= cut, "product"]))
    observed = np.mean([(u, i) in later for u, i in zip(rec["user_id"], rec["item_id"])])
    assert abs(rec["score"].mean() - observed) < 0.05, (rec["score"].mean(), observed)


def test_needs_a_time_column(fitted):
    untimed = Interactions.from_frame(shop(), "customer", "product")
    with pytest.raises(InputError, match="time column"):
        BuyAgain().fit(untimed)
    with pytest.raises(InputError, match="time column"):
        fitted.recommend(untimed, k=3)


def test_bad_parameters_are_refused():
    with pytest.raises(ConfigError, match="C"):
        BuyAgain(C=0).fit(interactions(shop()))
    with pytest.raises(ConfigError, match="horizon"):
        BuyAgain(horizon="soon").fit(interactions(shop()))


def test_too_little_history_falls_back_to_the_renewal_estimate():
    frame = pd.DataFrame(
        {
            "customer": ["a", "a", "b"],
            "product": ["x", "x", "y"],
            "time": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-05"]),
        }
    )
    model = BuyAgain().fit(interactions(frame))
    assert not model.fitted_classifier_
    rec = model.recommend(interactions(frame), k=2, exclude_seen=False)
    assert rec.groupby("user_id")["item_id"].first().to_dict() == {"a": "x", "b": "y"}
    assert np.isfinite(rec["score"]).all()


def test_save_load_keeps_the_probabilities(fitted, tmp_path):
    data = interactions(with_probes(shop()))
    loaded = Recommender.load(fitted.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(
        loaded.recommend(data, k=4, exclude_seen=False), fitted.recommend(data, k=4, exclude_seen=False)
    )
