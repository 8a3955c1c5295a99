"""A file read in chunks gives the Interactions (or the InputError) of the same file read whole.

Tiny chunks put chunk boundaries inside a customer's rows, between a problem's first case and the
others, and inside quoted multi-line cells.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aigc_biz.data import loading
from aigc_biz.data.loading import load_interactions
from aigc_biz.data.readers import iter_table_chunks
from aigc_biz.errors import InputError

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "retail_orders.csv"
CHUNKS = (1, 2, 3, 7)


def _load(path, chunk_rows, **options):
    try:
        return load_interactions(path, chunk_rows=chunk_rows, **options)
    except InputError as exc:
        return exc


def assert_same_interactions(a, b) -> None:
    assert not isinstance(a, InputError) and not isinstance(b, InputError), (a, b)
    assert a.user_ids.tolist() == b.user_ids.tolist()
    assert a.item_ids.tolist() == b.item_ids.tolist()
    for part in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(a.matrix, part), getattr(b.matrix, part))
    assert a.matrix.dtype == b.matrix.dtype
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.user_features, b.user_features)
    pd.testing.assert_frame_equal(a.item_features, b.item_features)
    if a.user_names is None:
        assert b.user_names is None
    else:
        assert a.user_names.tolist() == b.user_names.tolist()
    assert a.roles == b.roles
    assert a.warnings == b.warnings
    assert a.source == b.source
    assert a.load_options == b.load_options


def assert_streams_alike(path, chunks=CHUNKS, **options):
    """Chunked and whole reads agree; returns the whole read (Interactions or InputError)."""
    whole = _load(path, None, **options)
    for chunk_rows in chunks:
        streamed = _load(path, chunk_rows, **options)
        if isinstance(whole, InputError):
            assert isinstance(streamed, InputError), (chunk_rows, whole)
            assert str(streamed) == str(whole), chunk_rows
            assert (streamed.file, streamed.column, streamed.row) == (whole.file, whole.column, whole.row)
        else:
            assert_same_interactions(whole, streamed)
    return whole


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


ORDERS = (
    "customer_id,customer_name,segment,product_id,title,category,price,quantity,order_time\n"
    "007,Ann,vip,00042,Tea,Drinks,12.50,2,2023-01-05 10:31\n"
    "007,Ann,vip,00042,Tea,Drinks,12.50,2,2023-01-05 10:31\n"  # a duplicate row
    "042,Bob,regular,00042,Tea,Drinks,11.00,1,2023-01-06 09:00\n"
    '007,Ann,regular,00108,"Cake, lemon",Food,¥4.00,3,2023-01-06 10:00\n'
    ",Nobody,vip,00108,Cake,Food,4.00,1,2023-01-07 10:00\n"  # empty customer
    "042,Bob,regular,,Cake,Food,4.00,1,2023-01-07 11:00\n"  # empty product
    '042,Bob,regular,00108,"Cake\nwith a line break",Food,5.00,-1,2023-01-08 11:00\n'  # a return
    ",,,,,,,,\n"  # spreadsheet padding
    "100,Cy,vip,00042,Tea,Drinks,,1,2023-01-09 11:00\n"
    "100,Cy,vip,00007,Jam,Food,3,,2023-01-09 12:00\n"  # empty quantity
    "007,Ann,vip,00007,Jam,Food,3,1,2023-01-10 12:00\n"
    "007,Ann,vip,00007,Jam,Food,3,1,\n"  # empty time: 1 row in 30, dropped with a warning
    + "".join(
        f"{u:03d},N{u},{'vip' if u % 2 else 'new'},{i:05d},T{i},C{i % 2},{i}.5,1,2023-02-{u % 28 + 1:02d}\n"
        for u, i in [(k % 7 + 100, k % 5) for k in range(20)]
    )
)


def test_sample_data_csv_and_parquet_stream_alike(tmp_path):
    data = assert_streams_alike(SAMPLE, chunks=(7_001,))
    assert data.n_users > 100 and "price" in data.item_features.columns
    parquet = tmp_path / "retail_orders.parquet"
    pd.read_csv(SAMPLE, dtype=str).to_parquet(parquet)
    from_parquet = _load(parquet, None)
    from_parquet.source = data.source
    assert_same_interactions(data, from_parquet)
    assert_streams_alike(parquet, chunks=(3_001,))


@pytest.mark.parametrize("returns", ["drop", "net"])
def test_tricky_orders_stream_alike(tmp_path, returns):
    data = assert_streams_alike(_write(tmp_path / "orders.csv", ORDERS), returns=returns)
    assert data.user_ids.tolist()[:3] == ["007", "042", "100"]
    assert any("empty customer_id" in w for w in data.warnings)
    assert any("empty or unreadable order_time" in w for w in data.warnings)


def test_bom_semicolon_and_gzip_tsv_stream_alike(tmp_path):
    text = ORDERS.replace(",", ";").replace('"Cake; lemon"', '"Cake, lemon"')
    assert_streams_alike(_write(tmp_path / "bom.csv", "\ufeff" + text, "utf-8"))
    tsv = tmp_path / "orders.tsv.gz"
    with gzip.open(tsv, "wb") as handle:
        handle.write(ORDERS.replace(",", "\t").encode("utf-8"))
    assert_streams_alike(tsv)


def test_gb18030_chinese_dates_and_event_weights_stream_alike(tmp_path):
    rows = [
        "用户ID,商品ID,行为,时间",
        *[
            f"U{u:03d},商品{(u * 7 + k) % 5},{['浏览', '加购', '购买', '收藏'][k % 4]},2023年1月{k % 28 + 1}日"
            for u in range(6)
            for k in range(4)
        ],
    ]
    path = _write(tmp_path / "events.csv", "\n".join(rows) + "\n", "gb18030")
    data = assert_streams_alike(path)
    assert data.roles.weight_kind == "event" and data.n_users == 6
    assert_streams_alike(path, time_decay_days=7.0)


def test_ratings_keep_the_latest_across_chunks(tmp_path):
    rows = ["user_id,item_id,rating,timestamp"] + [
        f"u{k % 3},i{k % 2},{k % 5 + 1},{1_600_000_000 + (97 * k) % 50 * 3600}" for k in range(40)
    ]
    data = assert_streams_alike(_write(tmp_path / "ratings.csv", "\n".join(rows) + "\n"))
    assert data.roles.weight_kind == "rating"


ERRORS = {
    "unknown_events": "user_id,item_id,event\n"
    + "".join(f"u{k},i{k % 3},{['view', 'zap', 'poke', 'zap'][k % 4]}\n" for k in range(12)),
    "not_a_number": "user_id,item_id,quantity\n" + "".join(f"u{k},i1,{'x' if k % 5 == 2 else k}\n" for k in range(12)),
    "bad_times": "user_id,item_id,timestamp\n"
    + "".join(f"u{k},i1,{'soon' if k % 4 == 3 else '2023-01-02'}\n" for k in range(12)),
    "bad_prices": "user_id,item_id,price\n" + "".join(f"u{k},i1,{-k if k % 3 == 1 else k}\n" for k in range(9)),
    "every_user_empty": "user_id,item_id,timestamp\n" + "".join(f",i{k},soon\n" for k in range(5)),
    "every_item_empty_after_users": "user_id,item_id\n,i1\nu1,\nu2,\n",
    "nothing_left": "user_id,item_id,quantity\nu1,i1,-1\nu2,i2,-3\n",
    "long_row_late": "user_id,item_id\n" + "".join(f"u{k},i{k}\n" for k in range(9)) + "u9,i9,extra\n",
    "header_only": "user_id,item_id\n",
    "no_user_column": "who,item_id\n" + "".join(f"u{k},i{k}\n" for k in range(5)) + "a,b,c\n",
    "duplicate_header": "user_id,item_id,user_id\nu1,i1,u2\n",
    "weight_overflow": "user_id,item_id,quantity\nu1,i1,1e39\nu2,i1,1\n",
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_are_those_of_the_whole_table(tmp_path, case):
    error = assert_streams_alike(_write(tmp_path / f"{case}.csv", ERRORS[case]))
    assert isinstance(error, InputError), case
    if case == "unknown_events":
        assert "'zap' (6), 'poke' (3)" in str(error) and error.row == 3
    if case == "bad_prices":
        assert "(3 such rows)" in str(error) and error.row == 3
    if case == "long_row_late":
        assert error.row == 11


def test_time_format_is_chosen_on_the_same_values_when_the_head_is_short(tmp_path, monkeypatch):
    # the first rows read both day-first and month-first; later ones only day-first
    rows = ["user_id,item_id,order_date"] + [f"u{k},i{k % 4},{k % 12 + 1:02d}/{k % 12 + 1:02d}/2023" for k in range(30)]
    rows += [f"u{k},i1,{k % 15 + 13}/01/2023" for k in range(6)]
    path = _write(tmp_path / "dates.csv", "\n".join(rows) + "\n")
    monkeypatch.setattr(loading, "SAMPLE_ROWS", 4)
    data = assert_streams_alike(path, chunks=(2, 5))
    assert data.events["time"].dt.day.max() >= 13  # read day-first, as the whole table is


def test_unnamed_column_with_values_late_falls_back_to_the_whole_read(tmp_path):
    text = "user_id,item_id,\n" + "".join(f"u{k},i{k},\n" for k in range(6)) + "u6,i6,note\n"
    data = assert_streams_alike(_write(tmp_path / "trailing.csv", text))
    assert data.n_users == 7
    assert_streams_alike(_write(tmp_path / "trailing_empty.csv", text.replace("note", "")))


def test_parquet_types_stream_alike(tmp_path):
    frame = pd.DataFrame(
        {
            "user_id": [7, 7, 42, None, 42, 100],
            "sku": pd.Categorical(["A", "B", "A", "A", "C", "B"]),
            "order_time": pd.to_datetime(["2023-01-0" + str(d) for d in range(1, 7)]).tz_localize("Asia/Shanghai"),
            "quantity": [1.0, 2.5, None, 1.0, 3.0, 1.0],
            "tags": [[1, 2], [], None, [3], [4], [5]],
        },
        index=pd.Index(range(10, 16), name="line"),
    )
    path = tmp_path / "orders.parquet"
    frame.to_parquet(path)
    data = assert_streams_alike(path)
    assert data.user_ids.tolist() == ["100", "42", "7"]


def test_chunks_carry_the_rows_of_the_whole_file(tmp_path):
    path = _write(tmp_path / "rows.csv", 'user_id,item_id\nu1,i1\n,\nu2,"two\nlines"\nu3,i3\n')
    rows = [chunk.attrs["row_numbers"].tolist() for chunk in iter_table_chunks(path, chunk_rows=2)]
    assert rows == [[2], [4], [5]]  # the grid row of the quoted cell counts once, as read_table counts it


def test_chunk_rows_must_be_a_positive_whole_number(tmp_path):
    from aigc_biz.errors import ConfigError

    path = _write(tmp_path / "o.csv", "user_id,item_id\nu1,i1\n")
    for bad in (0, -5, 2.5):
        with pytest.raises(ConfigError, match="chunk_rows"):
            load_interactions(path, chunk_rows=bad)
