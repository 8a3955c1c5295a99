"""New products through the content path: attributes place them beside the known items they resemble.

The data is a checkerboard: group A customers buy only "kitchen" items (titles with "mug"), group B
only "garden" items ("hose"). A new kitchen mug must reach group A, a new garden hose group B, and the
business rules must hold for new items exactly as for known ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aigc_biz.api as ab
from aigc_biz.data import Interactions
from aigc_biz.errors import ConfigError, InputError
from aigc_biz.models.content import ContentItemMap
from aigc_biz.models.registry import create_model
from aigc_biz.ranking import BusinessRules, recommend_with_rules
from aigc_biz.ranking.new_items import SHRINK_GRID, new_item_scorer, prepare_new_items

N_USERS, N_ITEMS = 30, 12
WORDS = {"A": ("mug", "kitchen"), "B": ("hose", "garden")}
COLOURS = ["red", "blue", "green", "white", "black", "pink", "grey", "gold", "teal", "plum", "navy", "rose"]
NEW = pd.DataFrame(
    {
        "item_id": ["new-A", "new-B"],
        "title": ["Sunny mug", "Sunny hose"],
        "category": ["kitchen", "garden"],
        "price": [4.0, 30.0],
    }
)
MODELS = {
    "ease": {"l2": 10.0},
    "itemknn": {"k_neighbours": 10, "shrinkage": 2.0},
    "cvae": dict(hidden=32, latent=8, context_dim=4, epochs=40, batch_size=16, lr=0.01, seed=0),
}


def catalogue_frame(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for group, offset in (("A", 0), ("B", N_ITEMS)):
        word, category = WORDS[group]
        items = [f"{offset + i:04d}" for i in range(N_ITEMS)]
        popularity = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.6
        for u in range(N_USERS):
            taken = rng.choice(N_ITEMS, size=int(rng.integers(3, 7)), replace=False, p=popularity / popularity.sum())
            for i in taken:
                rows.append(
                    {
                        "customer": f"{group}{u:03d}",
                        "product": items[i],
                        "title": f"{COLOURS[i]} {word}",
                        "category": category,
                        "price": (3.0 if group == "A" else 25.0) * (1 + 0.1 * i),
                        "day": pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(i * 3 + u % 3)),
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def data() -> Interactions:
    frame = catalogue_frame()
    return Interactions.from_frame(
        frame,
        "customer",
        "product",
        time_col="day",
        item_attr_cols={"title": "title", "category": "category", "price": "price"},
    )


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted(request, data):
    return create_model(request.param, **MODELS[request.param]).fit(data)


def test_new_items_reach_the_half_they_resemble(fitted, data):
    recs = ab.recommend(data, fitted, top_k=2 * N_ITEMS + 2, new_items=NEW, content={"shrink": 0.0})
    rank = recs.pivot_table(index="user_id", columns="item_id", values="rank")
    half = rank.index.str[0]
    # every customer ranks the new item of their own half above the other half's
    assert (rank.loc[half == "A", "new-A"] < rank.loc[half == "A", "new-B"]).all(), fitted.name
    assert (rank.loc[half == "B", "new-B"] < rank.loc[half == "B", "new-A"]).all(), fitted.name
    top3 = recs[recs["rank"] <= 3]
    for item, own in (("new-A", "A"), ("new-B", "B")):
        got = top3.loc[top3["item_id"] == item, "user_id"]
        assert (got.str[0] == own).all() and got.nunique() >= N_USERS // 6, f"{fitted.name}: {item} top-3 {len(got)}"
    assert set(recs.loc[recs["item_id"] == "new-A", "category"]) == {"kitchen"}


def test_full_shrink_keeps_new_items_below_known_ones(data):
    model = create_model("ease", **MODELS["ease"]).fit(data)
    recs = ab.recommend(data, model, top_k=3, new_items=NEW, content={"shrink": 1.0})
    assert not recs["new_item"].any()


def test_auto_shrink_is_chosen_on_known_items(data):
    model = create_model("ease", **MODELS["ease"]).fit(data)
    new = prepare_new_items(model, data, NEW)
    scorer = new_item_scorer(model, data, new, k=5)
    assert scorer.shrink in SHRINK_GRID
    assert set(scorer.validation) == set(SHRINK_GRID)
    assert all(0.0 <= v <= 1.0 for v in scorer.validation.values())
    assert scorer.weights.sum(axis=1) == pytest.approx(np.ones(2), abs=1e-5)


@pytest.mark.parametrize(
    "rules",
    [
        BusinessRules(exclude_categories=["kitchen"]),
        BusinessRules(min_price=10.0),
        BusinessRules(candidates=["new-B", "0001", "0002", "0013"]),
    ],
    ids=["category", "price", "candidates"],
)
def test_business_rules_apply_to_new_items(data, rules):
    model = create_model("ease", **MODELS["ease"]).fit(data)
    top = recommend_with_rules(model, data, k=5, rules=rules, new_items=NEW, content={"shrink": 0.0})
    items = set(top.to_frame()["item_id"])
    assert "new-A" not in items
    assert "new-B" in items


def test_max_per_category_counts_new_items(data):
    model = create_model("ease", **MODELS["ease"]).fit(data)
    recs = ab.recommend(
        data, model, top_k=2, rules=BusinessRules(max_per_category=1), new_items=NEW, content={"shrink": 0.0}
    )
    assert recs.groupby(["user_id", "category"]).size().max() == 1
    assert recs["new_item"].any()


def test_a_new_item_already_bought_since_training_is_not_recommended_again(data):
    model = create_model("ease", **MODELS["ease"]).fit(data)
    frame = catalogue_frame()
    bought = pd.DataFrame(
        {
            "customer": [f"A{u:03d}" for u in range(10)],
            "product": "new-A",
            "title": "Sunny mug",
            "category": "kitchen",
            "price": 4.0,
            "day": pd.Timestamp("2024-03-01"),
        }
    )
    today = Interactions.from_frame(
        pd.concat([frame, bought], ignore_index=True),
        "customer",
        "product",
        time_col="day",
        item_attr_cols={"title": "title", "category": "category", "price": "price"},
    )
    recs = ab.recommend(today, model, top_k=3, new_items=NEW, content={"shrink": 0.0})
    got = set(recs.loc[recs["item_id"] == "new-A", "user_id"])
    assert got and not got & set(bought["customer"])
    everything = ab.recommend(
        today,
        model,
        top_k=2 * N_ITEMS + 2,
        new_items=NEW,
        content={"shrink": 0.0},
        rules=BusinessRules(exclude_seen=False),
    )
    assert set(everything.loc[everything["item_id"] == "new-A", "user_id"]) & set(bought["customer"])


def test_data_without_attributes_refuses_new_items():
    frame = catalogue_frame()
    plain = Interactions.from_frame(frame, "customer", "product")
    model = create_model("ease", l2=10.0).fit(plain)
    with pytest.raises(InputError, match="item attributes"):
        ab.recommend(plain, model, top_k=3, new_items=NEW)


def test_a_plain_candidate_list_leaves_the_content_path_off(data):
    model = create_model("ease", **MODELS["ease"]).fit(data)
    recs = ab.recommend(data, model, top_k=3, new_items=pd.DataFrame({"item_id": ["new-A"], "stock": [5]}))
    assert "new_item" not in recs.columns
    assert "new-A" not in set(recs["item_id"])


def test_content_map_checks_its_parameters():
    attrs = pd.DataFrame({"title": ["red mug", "blue mug"]})
    with pytest.raises(ConfigError, match="weighting"):
        ContentItemMap(weighting="median").fit(attrs, np.eye(2, dtype=np.float32))
    with pytest.raises(InputError, match="item attributes"):
        ContentItemMap().fit(pd.DataFrame({"colour": ["red", "blue"]}), np.eye(2, dtype=np.float32))


def test_cli_candidates_file_with_attributes_scores_new_products(tmp_path, data):
    from typer.testing import CliRunner

    from aigc_biz.cli import app

    orders = tmp_path / "orders.csv"
    catalogue_frame().to_csv(orders, index=False)
    candidates = tmp_path / "items.csv"
    NEW.to_csv(candidates, index=False)
    out = tmp_path / "recs.csv"
    result = CliRunner().invoke(
        app,
        [
            "recommend",
            str(orders),
            "--model",
            "ease",
            "-p",
            "l2=10",
            "--user-col",
            "customer",
            "--item-col",
            "product",
            "--time-col",
            "day",
            "--item-attrs",
            "title,category,price",
            "--candidates",
            str(candidates),
            "-k",
            "1",
            "-o",
            str(out),
            "--quiet",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    recs = pd.read_csv(out, dtype=str)
    assert len(recs) == 2 * N_USERS
    assert set(recs.loc[recs["item_id"] == "new-A", "user_id"].str[0]) == {"A"}
    assert set(recs.loc[recs["item_id"] == "new-B", "user_id"].str[0]) == {"B"}
