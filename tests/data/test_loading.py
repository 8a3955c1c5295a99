"""load_interactions: counted warnings vs refusals, weights, returns, decay, attributes, profile."""

from __future__ import annotations

import pandas as pd
import pytest

from aigc_biz.data import load_interactions, profile
from aigc_biz.errors import ConfigError, InputError
from tests.data.conftest import write_delimited


def csv(tmp_path, header, rows, name="orders.csv", **kwargs):
    return write_delimited(tmp_path / name, header, rows, **kwargs)


def dense(data) -> dict:
    """{(user_id, item_id): value} of the stored entries."""
    coo = data.matrix.tocoo()
    return {(data.user_ids[r], data.item_ids[c]): float(v) for r, c, v in zip(coo.row, coo.col, coo.data)}


def test_csv_with_exact_ids_attributes_and_time(orders_csv):
    data = load_interactions(orders_csv)
    assert list(data.user_ids) == ["007", "042"]
    assert list(data.item_ids) == ["00042", "12345678901234567890"]
    assert dense(data) == {("007", "00042"): 2.0, ("007", "12345678901234567890"): 1.0, ("042", "00042"): 5.0}
    assert data.source == str(orders_csv) and data.warnings == []
    assert data.roles.time == "timestamp"
    assert data.events["time"].tolist() == [
        pd.Timestamp("2023-01-05 10:31"),
        pd.Timestamp("2023-01-06 09:00"),
        pd.Timestamp("2023-01-07 12:00"),
    ]


def test_sqlite_url_gives_the_same_data(orders_sqlite, orders_csv):
    from_db = load_interactions(f"sqlite:///{orders_sqlite}", table="orders")
    from_file = load_interactions(orders_csv)
    assert dense(from_db) == dense(from_file)
    query = load_interactions(f"sqlite:///{orders_sqlite}", query="SELECT * FROM orders WHERE user_id = '042'")
    assert dense(query) == {("042", "00042"): 5.0}


def test_empty_ids_are_dropped_with_counted_warning(tmp_path):
    path = csv(tmp_path, ["user_id", "item_id"], [["1", "A"], ["", "B"], ["2", "B"], [" ", "C"], ["3", ""]])
    data = load_interactions(path)
    assert data.warnings == [
        "2 rows with empty user_id dropped (first at row 3)",
        "1 row with empty item_id dropped (first at row 6)",
    ]
    assert list(data.user_ids) == ["1", "2"]
    everything = csv(tmp_path, ["user_id", "item_id"], [["", "A"], ["", "B"]], name="none.csv")
    with pytest.raises(InputError, match="every row has an empty user_id") as info:
        load_interactions(everything)
    assert info.value.column == "user_id" and info.value.file == str(everything)


def test_a_few_bad_timestamps_are_dropped_most_are_refused(tmp_path):
    rows = [[str(u), "A", f"2023-01-{d:02d} 10:31"] for u, d in zip(range(30), list(range(1, 31)))]
    rows[4][2] = "soon"
    data = load_interactions(csv(tmp_path, ["user_id", "item_id", "time"], rows))
    assert data.warnings == ["1 row with empty or unreadable time (first value 'soon') dropped (first at row 6)"]
    assert data.n_users == 29
    bad = [["1", "A", "yesterday"], ["2", "B", "2023-01-05"], ["3", "C", "tomorrow"]]
    with pytest.raises(InputError, match="cannot read 'yesterday' as a date/time \\(2 of 3") as info:
        load_interactions(csv(tmp_path, ["user_id", "item_id", "time"], bad, name="bad.csv"))
    assert (info.value.column, info.value.row) == ("time", 2)


@pytest.mark.parametrize(
    "written,expected",
    [
        ("2023-01-05 10:31", "2023-01-05 10:31"),
        ("12/1/2010 8:26", "2010-12-01 08:26"),
        ("1672914660", "2023-01-05 10:31"),
        ("2023年1月5日", "2023-01-05 00:00"),
        ("2023/01/05 10:31:00", "2023-01-05 10:31"),
        ("2023-01-05T10:31:00Z", "2023-01-05 10:31"),
    ],
)
def test_time_formats(tmp_path, written, expected):
    data = load_interactions(csv(tmp_path, ["user_id", "item_id", "date"], [["1", "A", written]]))
    assert data.events["time"].iloc[0] == pd.Timestamp(expected)


def test_returns_dropped_by_default_or_netted(tmp_path):
    rows = [["1", "A", "5"], ["1", "A", "-2"], ["1", "B", "1"], ["1", "B", "-3"], ["2", "A", "1,200"]]
    path = csv(tmp_path, ["user_id", "item_id", "quantity"], rows, sep=";")
    dropped = load_interactions(path)
    assert dropped.warnings == ["2 rows with negative quantity (returns) dropped (first at row 3)"]
    assert dense(dropped) == {("1", "A"): 5.0, ("1", "B"): 1.0, ("2", "A"): 1200.0}
    netted = load_interactions(path, returns="net")
    assert netted.warnings == []
    # B was returned more than bought: nothing left, never negative
    assert dense(netted) == {("1", "A"): 3.0, ("2", "A"): 1200.0}
    with pytest.raises(ConfigError, match="returns='keep'"):
        load_interactions(path, returns="keep")


def test_non_numeric_weight_names_column_row_and_value(tmp_path):
    path = csv(tmp_path, ["user_id", "item_id", "rating"], [["1", "A", "4"], ["2", "A", "five"]])
    with pytest.raises(InputError, match="'five' is not a number") as info:
        load_interactions(path)
    assert (info.value.file, info.value.column, info.value.row) == (str(path), "rating", 3)


def test_rating_keeps_the_latest_value(tmp_path):
    rows = [
        ["1", "A", "5", "2023-01-03"],
        ["1", "A", "2", "2023-01-01"],
        ["1", "B", "3", "2023-01-02"],
        ["1", "B", "4", "2023-01-04"],
    ]
    data = load_interactions(csv(tmp_path, ["user_id", "item_id", "rating", "date"], rows))
    assert dense(data) == {("1", "A"): 5.0, ("1", "B"): 4.0}


def test_event_weights_defaults_custom_and_unknown(tmp_path):
    rows = [["1", "A", "View"], ["1", "A", "purchase"], ["1", "B", "add to cart"], ["2", "A", "收藏"]]
    path = csv(tmp_path, ["user_id", "item_id", "event"], rows)
    assert dense(load_interactions(path)) == {("1", "A"): 6.0, ("1", "B"): 3.0, ("2", "A"): 2.0}
    custom = load_interactions(path, event_weights={"view": 0, "purchase": 10})
    assert dense(custom) == {("1", "A"): 10.0, ("1", "B"): 3.0, ("2", "A"): 2.0}
    odd = csv(
        tmp_path,
        ["user_id", "item_id", "action"],
        rows + [["3", "C", "share"], ["3", "D", "share"], ["4", "C", "like"]],
        name="odd.csv",
    )
    with pytest.raises(InputError, match="no weight for event values 'share' \\(2\\), 'like' \\(1\\)") as info:
        load_interactions(odd)
    assert (info.value.column, info.value.row) == ("action", 6)
    assert "--event-weights 'share=1,...'" in str(info.value) and "event_weights=" in str(info.value)
    assert dense(load_interactions(odd, event_weights={"share": 1, "LIKE": 2}))[("4", "C")] == 2.0
    with pytest.raises(ConfigError, match="event weight for 'view'"):
        load_interactions(path, event_weights={"view": -1})


def test_time_decay_halves_per_half_life(tmp_path):
    rows = [["1", "A", "2023-01-01"], ["1", "B", "2023-01-11"], ["2", "A", "2023-01-21"]]
    path = csv(tmp_path, ["user_id", "item_id", "date"], rows)
    data = load_interactions(path, time_decay_days=10)
    assert dense(data) == pytest.approx({("1", "A"): 0.25, ("1", "B"): 0.5, ("2", "A"): 1.0})
    with pytest.raises(InputError, match="time decay needs a time column"):
        load_interactions(csv(tmp_path, ["user_id", "item_id"], [["1", "A"]], name="t.csv"), time_decay_days=5)
    with pytest.raises(ConfigError, match="time_decay_days"):
        load_interactions(path, time_decay_days=0)


def test_user_and_item_features(tmp_path):
    header = ["user_id", "item_id", "segment", "title", "category", "price", "title_zh"]
    rows = [
        ["1", "A", "vip", "Mug", "kitchen", "2.50", "杯"],
        ["1", "B", "vip", "Tea", "drinks", "¥4", "茶"],
        ["2", "A", "new", "Mug", "kitchen", "3.50", "杯"],
        ["3", "A", "", "Mug", "kitchen", "", "杯"],
    ]
    data = load_interactions(csv(tmp_path, header, rows))
    assert data.user_features["segment"].tolist()[:2] == ["vip", "new"]
    assert pd.isna(data.user_features["segment"].iloc[2])
    items = data.item_features
    assert list(items.columns) == ["title", "category", "price", "title_zh"]
    assert items["title"].tolist() == ["Mug", "Tea"] and items["title_zh"].tolist() == ["杯", "茶"]
    assert items["price"].tolist() == [3.0, 4.0]  # median of 2.50 and 3.50


def test_excel_source_end_to_end(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    for row in [["客户编号", "商品ID", "数量"], ["00017", 85123, 6], ["00018", 85123, 2]]:
        book.active.append(row)
    book.save(tmp_path / "orders.xlsx")
    data = load_interactions(tmp_path / "orders.xlsx")
    assert list(data.user_ids) == ["00017", "00018"] and list(data.item_ids) == ["85123"]
    assert dense(data) == {("00017", "85123"): 6.0, ("00018", "85123"): 2.0}


def test_profile_summarises(tmp_path):
    rows = [["1", "A", "2023-01-01"], ["1", "B", "2023-01-11"], ["2", "A", "2023-01-21"], ["2", "", "x"]]
    data = load_interactions(csv(tmp_path, ["user_id", "item_id", "date"], rows))
    summary = profile(data)
    assert summary["users"] == 2 and summary["items"] == 2 and summary["interactions"] == 3
    assert summary["sparsity"] == pytest.approx(0.25) and summary["density"] == pytest.approx(0.75)
    assert summary["date_range"] == ["2023-01-01T00:00:00", "2023-01-21T00:00:00"]
    spread = {"min": 1, "median": 1.5, "mean": 1.5, "p90": pytest.approx(1.9), "max": 2}
    assert summary["interactions_per_user"] == spread and summary["interactions_per_item"] == spread
    assert summary["roles"]["time"] == "date" and summary["warnings"] == data.warnings != []
    import json

    json.dumps(summary)  # JSON-ready


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, aigc_biz.data; print(any(m in sys.modules for m in ('torch', 'sqlalchemy', 'openpyxl')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_role_flags_are_the_loaders_own_options():
    # api.load and a pipeline's load step pass these through; each must be a keyword of the loader
    import inspect

    from aigc_biz.data.loading import ROLE_FLAGS

    params = inspect.signature(load_interactions).parameters
    missing = [
        flag
        for flag in ROLE_FLAGS
        if params.get(flag, None) is None or params[flag].kind is not inspect.Parameter.KEYWORD_ONLY
    ]
    assert not missing


def test_currency_signs_and_words_are_read_the_same_in_weights_and_prices(tmp_path):
    rows = [["1", "A", "¥1299", "￥10"], ["2", "A", "89 元", "12 RMB"], ["2", "B", "$5", "4.5 EUR"]]
    data = load_interactions(csv(tmp_path, ["user_id", "item_id", "revenue", "price"], rows))
    assert data.matrix.toarray().tolist() == [[1299.0, 0.0], [89.0, 5.0]]
    assert data.item_features["price"].tolist() == [11.0, 4.5]  # median of 10 and 12
