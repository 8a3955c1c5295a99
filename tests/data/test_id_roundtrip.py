"""Property: whatever ids go in (leading zeros, 20-digit numbers, 'NA', Chinese) come out unchanged."""

from __future__ import annotations

import csv
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from aigc_biz.data import load_interactions

# no delimiters, quotes or surrounding spaces: those are the file format's business, not the id's
ID_ALPHABET = "0123456789abcXYZ-_.商品用户"
ids = st.one_of(
    st.text(ID_ALPHABET, min_size=1, max_size=12),
    st.integers(0, 10**20 - 1).map(lambda n: str(n).zfill(20)),
    st.sampled_from(["NA", "null", "None", "nan", "TRUE", "0", "00", "1e5", "1.0", "0x1F"]),
)
rows = st.lists(st.tuples(ids, ids), min_size=1, max_size=25)


def _expected(pairs):
    counts = {}
    for user, item in pairs:
        counts[(user, item)] = counts.get((user, item), 0) + 1
    return counts


def _observed(data):
    coo = data.matrix.tocoo()
    return {(data.user_ids[r], data.item_ids[c]): float(v) for r, c, v in zip(coo.row, coo.col, coo.data)}


@settings(max_examples=40, deadline=None)
@given(
    pairs=rows,
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
)
def test_csv_ids_in_equal_ids_out(pairs, encoding, delimiter):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.csv"
        with path.open("w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            # a GBK export has Chinese headers; a few bytes of Chinese alone can be valid UTF-8 too
            writer.writerow(["用户ID", "商品ID"] if encoding == "gb18030" else ["user_id", "item_id"])
            writer.writerows(pairs)
        data = load_interactions(path)
    assert set(data.user_ids) == {u for u, _ in pairs}
    assert set(data.item_ids) == {i for _, i in pairs}
    assert _observed(data) == _expected(pairs)
    # the id maps are each other's inverse
    assert (data.user_index(data.user_ids) == np.arange(data.n_users)).all()


@settings(max_examples=20, deadline=None)
@given(pairs=rows)
def test_sqlite_ids_in_equal_ids_out(pairs):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shop.db"
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE orders (user_id TEXT, item_id TEXT)")
            con.executemany("INSERT INTO orders VALUES (?, ?)", pairs)
        con.close()
        data = load_interactions(f"sqlite:///{path}", table="orders")
    assert _observed(data) == _expected(pairs)
