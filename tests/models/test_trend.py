"""trend: a taste model's ranking mixed with recent popularity, the weight chosen by time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aigc_biz.data import Interactions
from aigc_biz.models.registry import create_model
from aigc_biz.models.trend import recent_share


def season(timed: bool = True, seed: int = 0) -> Interactions:
    """Two taste groups over 120 days; in the last 60 days half of everyone buys the season's items
    (s0, s1) for the first time, the later the more."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(120):
        own = [f"a{i}" for i in range(6)] if u % 2 else [f"b{i}" for i in range(6)]
        for day in sorted(rng.integers(0, 60, 4)):
            rows.append((f"c{u:03d}", own[rng.integers(0, 6)], int(day)))
        if rng.random() < 0.6:
            rows.append((f"c{u:03d}", f"s{rng.integers(0, 2)}", int(rng.integers(60, 120))))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "day"])
    frame["time"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame.pop("day"), unit="D")
    return Interactions.from_frame(frame, "user_id", "item_id", time_col="time" if timed else None)


def test_the_weight_is_chosen_on_the_training_datas_last_period():
    data = season()
    model = create_model("trend", base_model="itemknn", horizon="30d").fit(data)
    assert set(model.validation_["ndcg"]) == {0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7}
    assert model.weight_ == max(model.validation_["ndcg"], key=lambda w: (model.validation_["ndcg"][w], -w))
    assert model.weight_ > 0  # the taste model alone cannot see the season coming
    share = recent_share(data, "30d")
    assert model.trend_.argmax() in data.item_index(["s0", "s1"]) and np.allclose(model.trend_, share)


def test_fixed_weights_give_the_taste_model_or_the_trend():
    data = season()
    users = data.user_ids[:40]
    base = create_model("itemknn").fit(data).recommend_topk(data, users, k=3)
    alone = create_model("trend", base_model="itemknn", weight=0.0).fit(data).recommend_topk(data, users, k=3)
    assert (alone.indices == base.indices).all()
    hot = create_model("trend", base_model="itemknn", weight=1.0).fit(data).recommend_topk(data, users, k=1)
    seen = data.matrix[data.user_index(users)].toarray() > 0
    share = np.where(seen, -1.0, recent_share(data, "30d")[None, :])
    assert (share[np.arange(len(users)), hot.indices[:, 0]] == share.max(axis=1)).all()


def test_without_a_time_column_it_is_the_taste_model():
    data = season(timed=False)
    model = create_model("trend", base_model="itemknn").fit(data)
    base = create_model("itemknn").fit(data)
    assert model.weight_ == 0.0
    users = data.user_ids[:30]
    assert (model.recommend_topk(data, users, k=4).indices == base.recommend_topk(data, users, k=4).indices).all()


def test_saved_and_loaded_it_ranks_the_same(tmp_path):
    from aigc_biz.models.artifacts import load_model

    data = season()
    model = create_model("trend", base_model="ease", base_params={"l2": 5.0}).fit(data)
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    users = data.user_ids[:50]
    a, b = model.recommend_topk(data, users, k=5), again.recommend_topk(data, users, k=5)
    assert (a.indices == b.indices).all() and np.allclose(a.scores, b.scores)
    assert again.weight_ == model.weight_


def test_a_base_that_does_not_rank_new_items_is_refused():
    from aigc_biz.errors import ConfigError

    with pytest.raises(ConfigError, match="must rank new items"):
        create_model("trend", base_model="buyagain").fit(season())


def test_the_base_models_parameters_pass_through():
    from aigc_biz.errors import ModelError

    model = create_model("trend", epochs=3, hidden=32)  # the default base is cvae
    assert model.base_model == "cvae" and model.base_params == {"epochs": 3, "hidden": 32}
    assert create_model("trend", base_model="ease", l2=50.0).base_params == {"l2": 50.0}
    with pytest.raises(ModelError, match="no parameter 'epoch'"):
        create_model("trend", epoch=3)
    with pytest.raises(ModelError, match="epochs"):
        create_model("trend", epochs="many")


def test_device_reaches_the_base_model_through_train():
    from aigc_biz import api

    fitted = api.train(season(), "trend", {"epochs": 1, "hidden": 8, "latent": 4}, device="cpu")
    assert fitted.base_model_.device == "cpu" and fitted.base_params["device"] == "cpu"
