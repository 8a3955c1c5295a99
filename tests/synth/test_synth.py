"""The synthesizer on a slice of the sample shop: formats, new ids and names, joint attributes, returns,
seeds; the privacy measures on tables where the answer is known; the CLI/api path with a report."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from aigc_biz import api
from aigc_biz.errors import ConfigError
from aigc_biz.resources import sample_data_path
from aigc_biz.synth import BehaviourSynthesizer
from aigc_biz.synth.formats import OrderNumbers, new_ids, time_format
from aigc_biz.synth.privacy import membership_inference, privacy_figures
from aigc_biz.synth.source import read_like, read_source


@pytest.fixture(scope="module")
def shop() -> pd.DataFrame:
    frame = pd.read_csv(sample_data_path(), dtype=str, keep_default_na=False)
    keep = sorted(frame["customer_id"].unique())[::5]  # 400 customers, every order line of each
    return frame[frame["customer_id"].isin(keep)].reset_index(drop=True)


@pytest.fixture(scope="module")
def real(shop):
    return read_source(shop)


@pytest.fixture(scope="module")
def model(real):
    return BehaviourSynthesizer(seed=0).fit(real)


@pytest.fixture(scope="module")
def fake(model):
    return model.sample(seed=3)


def test_same_columns_and_formats(shop, fake):
    assert list(fake.columns) == list(shop.columns)
    assert fake["customer_id"].str.fullmatch(r"C9\d{5}").all()
    assert fake["order_id"].str.fullmatch(r"O\d{6}").all()
    assert fake["order_time"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}").all()
    assert fake["price"].str.fullmatch(r"\d+\.\d{2}").all()
    assert fake["product_id"].str.fullmatch(r"\d{6}").all()
    assert fake["quantity"].str.fullmatch(r"-?\d+").all()
    # real catalogue items, each with its own title, category and price
    real_items = shop.drop_duplicates("product_id").set_index("product_id")
    assert set(fake["product_id"]) <= set(real_items.index)
    for column in ("title", "category", "price"):
        assert (fake[column].to_numpy() == real_items.loc[fake["product_id"], column].to_numpy()).all()
    # the time span of the real table
    assert fake["order_time"].min() >= shop["order_time"].min()
    assert fake["order_time"].max() <= shop["order_time"].max()


def test_no_real_customer_id_or_name(shop, fake):
    assert not set(fake["customer_id"]) & set(shop["customer_id"])
    assert not set(fake["customer_name"]) & set(shop["customer_name"])
    # names in the input's language mix (about 70 % Chinese in the sample shop)
    chinese = fake.drop_duplicates("customer_id")["customer_name"].str.contains(r"[\u4e00-\u9fff]").mean()
    assert 0.55 < chinese < 0.85


def test_one_attribute_combination_and_name_per_customer(fake, shop):
    per_customer = fake.groupby("customer_id")[["customer_name", "segment", "region", "age_band"]].nunique()
    assert (per_customer == 1).all().all()
    combos = lambda f: set(map(tuple, f[["segment", "region", "age_band"]].drop_duplicates().to_numpy()))  # noqa: E731
    drawn = fake.drop_duplicates("customer_id")[["segment", "region", "age_band"]].apply(tuple, axis=1)
    assert drawn.isin(combos(shop)).mean() > 0.85  # joint draws, a few smoothed ones


def test_returns_at_the_real_rate_after_a_purchase(shop, fake):
    real_rate = (shop["quantity"].astype(int) < 0).mean()
    fake_rate = (fake["quantity"].astype(int) < 0).mean()
    assert abs(fake_rate - real_rate) < 0.012
    returns = fake[fake["quantity"].astype(int) < 0]
    bought = fake[fake["quantity"].astype(int) > 0]
    first_buy = bought.groupby(["customer_id", "product_id"])["order_time"].min()
    key = list(zip(returns["customer_id"], returns["product_id"]))
    assert all(first_buy.get(k, "9999") <= t for k, t in zip(key, returns["order_time"]))
    # a return is its own order
    assert not set(returns["order_id"]) & set(bought["order_id"])


def test_orders_per_customer_and_basket_sizes_follow_the_real_table(shop, fake):
    def shape(frame):
        lines = frame[frame["quantity"].astype(int) > 0]
        return lines.groupby("customer_id")["order_id"].nunique().mean(), lines.groupby("order_id").size().mean()

    (real_orders, real_basket), (fake_orders, fake_basket) = shape(shop), shape(fake)
    assert abs(fake_orders / real_orders - 1) < 0.25
    assert abs(fake_basket / real_basket - 1) < 0.15


def test_same_seed_same_table_other_seed_another(model, fake):
    pd.testing.assert_frame_equal(model.sample(seed=3), fake)
    assert not model.sample(seed=4).equals(fake)
    assert model.sample(50, seed=3)["customer_id"].nunique() <= 50


def test_noise_must_be_in_range(real):
    with pytest.raises(Exception, match="noise"):
        BehaviourSynthesizer(noise=2.0).fit(real)


def test_new_ids_keep_the_style_and_never_collide():
    rng = np.random.default_rng(0)
    real = [str(n) for n in range(12346, 18288)]
    made = new_ids(real, 500, rng)
    assert all(re.fullmatch(r"9\d{4}", m) for m in made) and not set(made) & set(real)
    odd = ["ab-12x", "cd-99y"]
    masked = new_ids(odd, 20, rng)
    assert all(re.fullmatch(r"[a-z]{2}-\d{2}[a-z]", m) for m in masked) and not set(masked) & set(odd)
    # a full numbered range grows by one digit
    full = [f"U{n}" for n in range(90, 100)]
    assert all(re.fullmatch(r"U9\d{2}", m) for m in new_ids(full, 5, rng))


def test_order_numbers_continue_and_keep_the_return_prefix():
    numbers = OrderNumbers(["536365", "581587"], ["C536379"], np.random.default_rng(0))
    assert [numbers.take(False), numbers.take(True), numbers.take(False)] == ["581588", "C581589", "581590"]


@pytest.mark.parametrize(
    "text, fmt",
    [
        ("12/1/2010 8:26", "%-m/%-d/%Y %-H:%M"),
        ("2010-12-01 08:26:00", "%Y-%m-%d %H:%M:%S"),
        ("2023/01/05", "%Y/%m/%d"),
        ("2023年1月5日", "%Y年%-m月%-d日"),
    ],
)
def test_time_format_writes_the_input_back(text, fmt):
    from aigc_biz.data.timestamps import parse_timestamps

    raw = pd.Series([text])
    assert time_format(raw, parse_timestamps(raw)) == fmt


def test_privacy_measures_catch_a_copy_and_pass_the_synthetic_table(real, fake):
    copied = privacy_figures(real, real)
    assert copied["real_ids_in_output"] == len(np.unique(real.user))
    assert copied["copied_rows"] > 0.99 and copied["dcr_median"] == 0.0  # ties: a twin customer
    figures = privacy_figures(real, read_like(fake, real.roles))
    assert figures["real_ids_in_output"] == 0 and figures["real_names_in_output"] == 0
    assert figures["copied_rows"] < 0.01
    assert figures["dcr_median"] > 0.3


def test_membership_inference_sees_a_leak_and_not_the_synthesizer(real):
    leak = membership_inference(real, lambda train, n: train, seed=0)
    assert leak["auc"] > 0.95  # "synthetic" = the training customers themselves
    fair = membership_inference(
        real, lambda train, n: read_like(BehaviourSynthesizer().fit(train).sample(n, seed=1), real.roles), seed=0
    )
    assert 0.35 < fair["auc"] < 0.7


def test_api_synth_writes_table_and_report(shop, tmp_path):
    path = tmp_path / "orders.csv"
    shop = shop[shop["customer_id"].isin(sorted(shop["customer_id"].unique())[::2])]
    shop.to_csv(path, index=False)
    result = api.synth(path, tmp_path / "synth.csv", customers=150, seed=2, report=tmp_path / "synth.html")
    written = pd.read_csv(tmp_path / "synth.csv", dtype=str, keep_default_na=False)
    assert list(written.columns) == list(shop.columns)
    assert written["customer_id"].nunique() == result.summary()["customers"] <= 150
    assert written["quantity"].str.fullmatch(r"-?\d+").all()  # negative quantities stay numbers, no apostrophe
    html = (tmp_path / "synth.html").read_text(encoding="utf-8")
    for section in ("Privacy", "TSTR", "Column shapes", "Pair trends", "Item popularity curve", "Seasonality"):
        assert section in html
    summary = result.summary()
    assert summary["real_ids_in_output"] == 0 and summary["tstr_ratio"] > 0.4
    assert (tmp_path / "synth.json").exists()


def test_cli_synth_bad_option_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from aigc_biz.cli.app import app

    out = CliRunner().invoke(app, ["synth", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "s.csv")])
    assert out.exit_code == 2 and "file not found" in out.output and "Traceback" not in out.output


def test_unknown_setting_is_a_config_error(shop):
    with pytest.raises(ConfigError, match="unknown synth setting"):
        api.synth(shop, None, params=["depth=3"])
    with pytest.raises(ConfigError, match="item_model"):
        api.synth(shop, None, params=["item_model=gan"])


def test_itemknn_walk_also_works(real):
    fake = BehaviourSynthesizer(item_model="itemknn").fit(real).sample(40, seed=0)
    assert fake["customer_id"].str.fullmatch(r"C9\d{5}").all() and len(fake) > 40


def test_augment_adds_synthetic_customers_for_sparse_segments(shop):
    data = api.augment(shop, 0.5, seed=1)
    real = api.load(_csv(shop))
    assert data.n_users == real.n_users + round(0.5 * real.n_users)
    added = ~np.isin(data.user_ids, real.user_ids)
    # sparse focus: each (segment, region, age band) combination gets about as many synthetic customers
    combos = data.user_features.loc[added].astype(str).agg("|".join, axis=1).value_counts()
    real_combos = real.user_features.astype(str).agg("|".join, axis=1).value_counts()
    assert combos.std() < real_combos.std()


def test_train_job_with_augment(shop, tmp_path):
    result = api.train_job(_csv(shop, tmp_path / "o.csv"), model="itemknn", augment_ratio=0.2, seed=0)
    assert result.model.item_ids_.size > 0
    with pytest.raises(Exception, match="positive ratio"):
        api.augment(shop, -1)


def _csv(frame, path=None):
    import tempfile
    from pathlib import Path

    path = Path(path or Path(tempfile.mkdtemp()) / "orders.csv")
    frame.to_csv(path, index=False)
    return path


def test_cli_synth_writes_the_table(shop, tmp_path):
    import json

    from typer.testing import CliRunner

    from aigc_biz.cli.app import app

    source = _csv(shop, tmp_path / "orders.csv")
    target = tmp_path / "synth.csv"
    out = CliRunner().invoke(
        app, ["synth", str(source), "-o", str(target), "--customers", "30", "--seed", "5", "--json"]
    )
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    written = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert summary["customers"] == written["customer_id"].nunique() <= 30 and summary["rows"] == len(written)


def test_cli_synth_refuses_to_write_onto_its_input(shop, tmp_path):
    from typer.testing import CliRunner

    from aigc_biz.cli.app import app

    source = _csv(shop, tmp_path / "orders.csv")
    before = source.read_bytes()
    for args in (["-o", str(source)], ["-o", str(tmp_path / "s.csv"), "--report", str(tmp_path / "orders.csv")]):
        out = CliRunner().invoke(app, ["synth", str(source), *args])
        assert out.exit_code == 2 and "Traceback" not in out.output, out.output
        assert source.read_bytes() == before


def _two_taste_shop(seed: int = 0) -> pd.DataFrame:
    """200 customers of one segment, each buying only from one of two disjoint halves of a 20-item
    catalogue (their hidden taste); nothing in their attributes says which."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(200):
        half = c % 2
        for o in range(3):
            day = 1 + int(rng.integers(0, 300))
            rows += [_line(c, o, half * 10 + item, day) for item in rng.choice(10, size=3, replace=False)]
    return pd.DataFrame(rows)


def _line(customer: int, order: int, item: int, day: int) -> dict:
    """One order line of the small hand-made shops below (one segment, quantity 1, 10:00 on ``day``)."""
    return {
        "order_id": f"O{customer:03d}{order}",
        "customer_id": f"C{customer:04d}",
        "segment": "regular",
        "product_id": f"P{item:02d}",
        "quantity": "1",
        "order_time": str(np.datetime64("2023-01-01") + np.timedelta64(day, "D")) + " 10:00",
    }


def _pure_share(fake: pd.DataFrame) -> float:
    halves = fake.assign(half=fake["product_id"].str[1:].astype(int) // 10).groupby("customer_id")["half"]
    sizes = halves.size()
    return float((halves.nunique()[sizes >= 3] == 1).mean())


def test_taste_model_keeps_each_customer_within_one_taste():
    real = read_source(_two_taste_shop())
    with_taste = BehaviourSynthesizer(topics=2, seed=0).fit(real)
    assert with_taste.item_tastes_.shape == (2, 20)
    np.testing.assert_allclose(with_taste.item_tastes_.sum(axis=1), 1.0)
    # each taste puts almost all its mass on one half of the catalogue
    halves = with_taste.item_ids_.astype(str).tolist()
    lower = np.array([int(p[1:]) < 10 for p in halves])
    mass = with_taste.item_tastes_[:, lower].sum(axis=1)
    assert sorted(np.round(mass, 1).tolist()) in ([0.0, 1.0], [0.1, 0.9], [0.0, 0.9], [0.1, 1.0])
    assert _pure_share(with_taste.sample(200, seed=1)) > 0.9
    # with the item-item walk switched off, only the taste keeps a customer within one half (not always:
    # the mixes are drawn with the concentration of the moments, looser than these one-taste customers);
    # without the taste model the items come from popularity and mix the halves
    plain = BehaviourSynthesizer(topics=0, seed=0).fit(real)
    for fitted in (with_taste, plain):
        fitted.mixture_weight_ = np.zeros_like(fitted.mixture_weight_)
    taste_only, popularity_only = _pure_share(with_taste.sample(200, seed=1)), _pure_share(plain.sample(200, seed=1))
    assert taste_only > 0.45 and popularity_only < 0.2, (taste_only, popularity_only)


def test_taste_mix_follows_the_attributes():
    shop = _two_taste_shop()
    shop["segment"] = np.where(shop["product_id"].str[1:].astype(int) < 10, "vip", "regular")
    fake = BehaviourSynthesizer(topics=2, seed=0).fit(read_source(shop)).sample(200, seed=2)
    lower = fake["product_id"].str[1:].astype(int) < 10
    assert lower[fake["segment"] == "vip"].mean() > 0.8
    assert lower[fake["segment"] == "regular"].mean() < 0.2


def test_topics_must_not_be_negative(real):
    with pytest.raises(ConfigError, match="topics"):
        BehaviourSynthesizer(topics=-1).fit(real)


def _staple_shop(seed: int = 0) -> pd.DataFrame:
    """200 customers, 4 orders each: the staple P00 in every order beside two of 19 other items."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(200):
        for o in range(4):
            day = 1 + 60 * o + int(rng.integers(0, 30))
            rows += [_line(c, o, int(item), day) for item in [0, *(1 + rng.choice(19, size=2, replace=False))]]
    return pd.DataFrame(rows)


def _staple_share_of_repeats(fake: pd.DataFrame) -> float:
    lines = fake.sort_values("order_time", kind="stable")
    repeats = lines[lines.duplicated(["customer_id", "product_id"])]
    return float((repeats["product_id"] == "P00").mean())


def test_repeats_favour_the_items_that_really_come_back():
    model = BehaviourSynthesizer(topics=0, seed=0).fit(read_source(_staple_shop()))
    staple = list(model.item_ids_).index("P00")
    assert model.item_repeat_[staple] > 0.5 > model.item_repeat_.max(initial=0, where=np.arange(20) != staple)
    weighted = _staple_share_of_repeats(model.sample(200, seed=1))
    model.item_repeat_ = np.ones_like(model.item_repeat_)  # repeats by times bought alone
    flat = _staple_share_of_repeats(model.sample(200, seed=1))
    assert weighted > flat + 0.15, (weighted, flat)
