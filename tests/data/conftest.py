"""Small real files for the data-layer tests (written to tmp_path, never mocked)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

ORDERS_HEADER = ["user_id", "item_id", "timestamp", "quantity"]
ORDERS_ROWS = [
    ["007", "00042", "2023-01-05 10:31", "2"],
    ["007", "12345678901234567890", "2023-01-06 09:00", "1"],
    ["042", "00042", "2023-01-07 12:00", "5"],
]


def write_delimited(path: Path, header, rows, *, sep: str = ",", encoding: str = "utf-8") -> Path:
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@pytest.fixture
def orders_csv(tmp_path) -> Path:
    return write_delimited(tmp_path / "orders.csv", ORDERS_HEADER, ORDERS_ROWS)


@pytest.fixture
def orders_sqlite(tmp_path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE orders (user_id TEXT, item_id TEXT, timestamp TEXT, quantity INTEGER)")
        con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", [(u, i, t, int(q)) for u, i, t, q in ORDERS_ROWS])
        con.execute("CREATE TABLE numbers (customer_id INTEGER, sku TEXT)")
        con.executemany("INSERT INTO numbers VALUES (?, ?)", [(9007199254740993, "A"), (None, "B"), (1, "C")])
    return path
