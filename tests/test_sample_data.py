"""The bundled sample order table: shape, ids, returns, seasonality, determinism, and that it rewards a real model."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from aigc_biz.resources import resource_path, sample_data_path

GENERATOR = Path(__file__).resolve().parents[1] / "sample_data" / "generate.py"
COLUMNS = [
    "order_id",
    "customer_id",
    "customer_name",
    "segment",
    "region",
    "age_band",
    "product_id",
    "title",
    "title_zh",
    "category",
    "price",
    "quantity",
    "order_time",
]


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    frame = pd.read_csv(sample_data_path(), dtype=str, keep_default_na=False, encoding="utf-8")
    frame["quantity"] = frame["quantity"].astype(int)
    frame["time"] = pd.to_datetime(frame["order_time"], format="%Y-%m-%d %H:%M")
    return frame


def run_generator(*args: str) -> float:
    """Run generate.py; return the CPU seconds it used (wall time is noisy on a shared machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, str(GENERATOR), *args], check=True, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_committed_file_has_the_documented_columns_and_size(orders):
    path = sample_data_path()
    assert path.stat().st_size < 5_000_000
    with open(path, encoding="utf-8") as f:
        assert f.readline().rstrip("\n") == ",".join(COLUMNS)
    assert 30_000 <= len(orders) <= 45_000
    assert set(orders["segment"]) == {"new", "regular", "vip", "dormant"}
    assert set(orders["region"]) == {"East", "North", "South", "West", "Central"}
    assert set(orders["age_band"]) == {"18-24", "25-34", "35-44", "45-54", "55+"}
    assert orders["category"].nunique() == 10
    assert orders["price"].str.fullmatch(r"\d+\.\d\d").all()
    assert (orders["price"].astype(float) > 0).all()
    assert (orders["quantity"] != 0).all()


def test_ids_keep_leading_zeros_and_attributes_are_per_entity(orders):
    assert orders["product_id"].str.fullmatch(r"\d{6}").all()
    assert orders["product_id"].str.startswith("0").all()
    assert orders["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert 1_900 <= orders["customer_id"].nunique() <= 2_000
    assert 250 <= orders["product_id"].nunique() <= 300
    # one title, price and category per product; one profile per customer
    assert (orders.groupby("product_id")[["title", "title_zh", "category", "price"]].nunique() == 1).all().all()
    assert (
        (orders.groupby("customer_id")[["customer_name", "segment", "region", "age_band"]].nunique() == 1).all().all()
    )
    assert orders["title_zh"].str.contains(r"[\u4e00-\u9fff]").all()
    assert orders["customer_name"].str.contains(r"[\u4e00-\u9fff]").mean() > 0.4
    assert orders["customer_name"].str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+").mean() > 0.1


def test_returns_are_negative_rows_for_earlier_purchases(orders):
    returns = orders[orders["quantity"] < 0]
    assert 0.01 <= len(returns) / len(orders) <= 0.03
    bought = orders[orders["quantity"] > 0].groupby(["customer_id", "product_id"])["time"].min()
    first_purchase = bought.reindex(pd.MultiIndex.from_frame(returns[["customer_id", "product_id"]]))
    assert first_purchase.notna().all()
    assert (first_purchase.to_numpy() < returns["time"].to_numpy()).all()
    # a return is its own order, never a line of a purchase order
    assert not set(returns["order_id"]) & set(orders.loc[orders["quantity"] > 0, "order_id"])


def test_order_volume_has_weekly_and_festival_seasonality(orders):
    day = orders["time"].dt.normalize()
    assert day.min() >= pd.Timestamp("2023-01-01") and day.max() <= pd.Timestamp("2024-06-30")
    per_day = day.value_counts()
    assert per_day.idxmax() == pd.Timestamp("2023-11-11")
    median_day = per_day.median()
    assert per_day[pd.Timestamp("2023-06-18")] > 2 * median_day
    assert per_day[pd.Timestamp("2024-06-18")] > 2 * median_day
    weekend = orders["time"].dt.day_of_week >= 5
    assert weekend.mean() > 2 / 7 * 1.15


def test_lines_per_customer_have_a_long_tail(orders):
    lines = orders[orders["quantity"] > 0].groupby("customer_id").size()
    assert 15 <= lines.mean() <= 25
    assert (lines <= 2).sum() >= 50
    assert (lines >= 100).sum() >= 10


def test_new_customers_are_not_in_the_orders(orders):
    new = pd.read_csv(resource_path("sample_data", "new_customers.csv"), dtype=str, keep_default_na=False)
    assert list(new.columns) == ["customer_id", "segment", "region", "age_band"]
    assert 40 <= len(new) <= 60
    assert new["customer_id"].is_unique
    assert not set(new["customer_id"]) & set(orders["customer_id"])
    assert new["customer_id"].str.fullmatch(r"C\d{6}").all()


def _ndcg_at_k(top: np.ndarray, target: sp.csr_matrix, k: int) -> float:
    """Mean NDCG@k of top-k index lists (-1 = padding) over the users with targets."""
    gains = np.asarray(target.todense(), dtype=bool)
    hits = np.take_along_axis(gains, np.maximum(top[:, :k], 0), axis=1) & (top[:, :k] >= 0)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    n_targets = gains.sum(axis=1)
    idcg = np.array([discount[: min(n, k)].sum() for n in n_targets])
    keep = n_targets > 0
    return float(((hits * discount).sum(axis=1)[keep] / idcg[keep]).mean())


def test_item_knn_clearly_beats_popularity_on_a_temporal_split(orders):
    from aigc_biz.data import Interactions
    from aigc_biz.models.itemknn import ItemKNN
    from aigc_biz.models.pop import Popularity

    bought = orders[orders["quantity"] > 0].sort_values(["customer_id", "time", "order_id"], kind="stable")
    rank = bought.groupby("customer_id").cumcount()
    n_lines = bought.groupby("customer_id")["order_id"].transform("size")
    is_test = rank >= n_lines - np.floor(0.2 * n_lines)
    users = pd.Index(bought["customer_id"].unique())
    items = pd.Index(bought["product_id"].unique())

    def matrix(part: pd.DataFrame) -> sp.csr_matrix:
        m = sp.csr_matrix(
            (np.ones(len(part)), (users.get_indexer(part["customer_id"]), items.get_indexer(part["product_id"]))),
            shape=(len(users), len(items)),
            dtype=np.float32,
        )
        m.data[:] = 1.0
        return m

    train, test = matrix(bought[~is_test]), matrix(bought[is_test])
    target = test - test.multiply(train)  # items new to the customer
    target.eliminate_zeros()
    data = Interactions(matrix=train, user_ids=list(users), item_ids=list(items))

    def ndcg(model) -> float:  # the library's models, ranking all items, seen ones excluded
        model.fit(data)
        top, _ = model.recommend_indices(train, k=10, exclude=train)
        return _ndcg_at_k(top, target, 10)

    pop, knn = ndcg(Popularity()), ndcg(ItemKNN())
    assert 0.02 < pop < 0.2
    assert knn >= 1.5 * pop, f"item-kNN NDCG@10 {knn:.4f} vs popularity {pop:.4f}"


def test_generator_is_deterministic_per_seed(tmp_path):
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        run_generator("--out", str(tmp_path / name / "orders.csv"), "--customers", "200", "--seed", seed)
    a, b, c = (tmp_path / n / "orders.csv" for n in "abc")
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a" / "new_customers.csv").read_bytes() == (tmp_path / "b" / "new_customers.csv").read_bytes()
    assert a.read_bytes() != c.read_bytes()
    small = pd.read_csv(a, dtype=str)
    assert list(small.columns) == COLUMNS
    assert small["customer_id"].nunique() <= 200


def test_committed_files_are_what_the_generator_writes(tmp_path):
    cpu_seconds = run_generator("--out", str(tmp_path / "retail_orders.csv"), "--customers", "2000", "--seed", "7")
    assert (tmp_path / "retail_orders.csv").read_bytes() == sample_data_path().read_bytes()
    assert (tmp_path / "new_customers.csv").read_bytes() == resource_path(
        "sample_data", "new_customers.csv"
    ).read_bytes()
    assert cpu_seconds < 10
