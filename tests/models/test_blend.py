"""RepeatBlend: repeat purchases and new items in one list, the weight chosen on the training data's
last period, reasons on every row, and the api's --include-seen path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aigc_biz import api
from aigc_biz.data import Interactions
from aigc_biz.errors import InputError
from aigc_biz.models.base import Recommender
from aigc_biz.models.blend import RepeatBlend
from aigc_biz.ranking import BusinessRules


def replenishing_shop(seed: int = 0) -> Interactions:
    """Customers rebuy their own staple every ~10 days and now and then try a new item of their group."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2026-01-01")
    for user in range(80):
        group = "A" if user < 40 else "B"
        staple = f"{group}-staple-{user % 4}"
        day = int(rng.integers(0, 8))
        while day < 180:
            rows.append((f"c{user:03d}", staple, start + pd.Timedelta(days=day), group))
            day += int(rng.integers(8, 13))
        for _ in range(4):
            item = f"{group}-new-{int(rng.integers(0, 12)):02d}"
            rows.append((f"c{user:03d}", item, start + pd.Timedelta(days=int(rng.integers(0, 180))), group))
    frame = pd.DataFrame(rows, columns=["user", "item", "time", "segment"])
    return Interactions.from_frame(frame, "user", "item", time_col="time", user_attr_cols=["segment"])


@pytest.fixture(scope="module")
def shop() -> Interactions:
    return replenishing_shop()


@pytest.fixture(scope="module")
def blend(shop) -> RepeatBlend:
    return RepeatBlend(new_model="ease", new_params={"l2": 10.0}, horizon="14d").fit(shop)


def test_staples_come_back_first_and_rows_say_why(blend, shop):
    recs = blend.recommend_topk(shop, k=5, exclude_seen=False).to_frame(reason=True)
    first = recs[recs["rank"] == 1]
    assert (first["item_id"].str.contains("staple")).mean() > 0.9  # the due staple leads the list
    assert set(recs["reason"]) == {"repeat", "new"}
    bought = set(zip(*shop.matrix.nonzero()))
    index = {t: i for i, t in enumerate(shop.item_ids)}
    users = {u: i for i, u in enumerate(shop.user_ids)}
    for row in recs.itertuples():
        assert (row.reason == "repeat") == ((users[row.user_id], index[row.item_id]) in bought)


def test_the_weight_is_chosen_on_the_training_datas_last_period(blend):
    assert 0 < blend.weight_ < 1 and blend.validation_["users"] > 0
    assert set(blend.validation_["ndcg"]) == set(map(float, np.round(np.linspace(0.05, 0.95, 19), 2)))
    assert blend.validation_["ndcg"][blend.weight_] == max(blend.validation_["ndcg"].values())
    assert np.all(np.diff(blend.calibration_) <= 1e-12)  # a probability that falls with rank


def test_without_repeats_the_list_is_the_new_item_models(blend, shop):
    plain = blend.new_model_.recommend(shop, k=5)
    mixed = blend.recommend(shop, k=5)
    assert plain["item_id"].tolist() == mixed["item_id"].tolist()


def test_save_load_gives_the_same_lists(blend, shop, tmp_path):
    loaded = Recommender.load(blend.save(tmp_path / "blend"))
    pd.testing.assert_frame_equal(
        loaded.recommend(shop, k=5, exclude_seen=False), blend.recommend(shop, k=5, exclude_seen=False)
    )


def test_api_include_seen_blends_and_applies_the_rules(shop):
    rules = BusinessRules(exclude_seen=False, candidates=[t for t in shop.item_ids if "staple-0" not in t])
    recs = api.recommend(shop, "ease", top_k=4, rules=rules, params={"l2": 10.0})
    assert "reason" in recs.columns and set(recs["reason"]) <= {"repeat", "new"}
    assert not recs["item_id"].str.contains("staple-0").any()  # business rules hold for repeats
    assert (recs["reason"] == "repeat").any()


def test_api_include_seen_around_a_loaded_model(shop, tmp_path):
    folder = api.train(shop, "ease", {"l2": 10.0}, save=tmp_path / "ease")
    loaded = api.load_model(tmp_path / "ease", shop)
    recs = api.recommend(shop, loaded, top_k=3, rules=BusinessRules(exclude_seen=False))
    assert (recs[recs["rank"] == 1]["reason"] == "repeat").mean() > 0.9
    assert folder is not None


def test_blending_needs_a_time_column():
    frame = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"]})
    with pytest.raises(InputError, match="needs a time column"):
        RepeatBlend().fit(Interactions.from_frame(frame, "user", "item"))


def test_cli_include_seen_writes_reasons_and_restock_copy(tmp_path):
    from typer.testing import CliRunner

    from aigc_biz.cli import app
    from aigc_biz.resources import sample_data_path

    out = tmp_path / "recs.csv"
    result = CliRunner().invoke(
        app,
        [
            "recommend",
            str(sample_data_path()),
            "--model",
            "ease",
            "--include-seen",
            "-o",
            str(out),
            "--copy",
            "sms",
            "--locale",
            "en",
            "--quiet",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    recs = pd.read_csv(out, dtype=str)
    assert set(recs["reason"]) == {"repeat", "new"}
    orders = pd.read_csv(sample_data_path(), dtype=str)
    bought = set(zip(orders["customer_id"], orders["product_id"]))
    assert all((row.reason == "repeat") == ((row.user_id, row.item_id) in bought) for row in recs.itertuples())
    copy = pd.read_csv(tmp_path / "recs_copy_sms.csv", dtype=str)
    first_is_repeat = set(recs.loc[(recs["rank"] == "1") & (recs["reason"] == "repeat"), "user_id"])
    restock = copy[copy["user_id"].isin(first_is_repeat)]
    assert len(restock) and restock["body"].str.contains("Running low", case=False).mean() > 0.9
