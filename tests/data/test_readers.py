"""read_table: encodings, delimiters, file formats, databases, exact ids and every refusal."""

from __future__ import annotations

import gzip
import sqlite3

import openpyxl
import pandas as pd
import pytest

from aigc_biz.data import read_table
from aigc_biz.errors import InputError
from tests.data.conftest import ORDERS_HEADER, ORDERS_ROWS, write_delimited

CHINESE_HEADER = ["用户ID", "商品ID", "时间"]
CHINESE_ROWS = [["001", "商品甲", "2023年1月5日"], ["002", "商品乙", "2023年1月6日"]]


def _records(frame):
    return [list(r) for r in frame.itertuples(index=False)]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_chinese_headers_in_every_encoding(tmp_path, encoding):
    path = write_delimited(tmp_path / "orders.csv", CHINESE_HEADER, CHINESE_ROWS, encoding=encoding)
    frame = read_table(path)
    assert list(frame.columns) == CHINESE_HEADER
    assert _records(frame) == CHINESE_ROWS


def test_semicolon_csv_with_bom(tmp_path):
    path = write_delimited(tmp_path / "orders.csv", ORDERS_HEADER, ORDERS_ROWS, sep=";", encoding="utf-8-sig")
    frame = read_table(path)
    assert list(frame.columns) == ORDERS_HEADER
    assert _records(frame) == ORDERS_ROWS


@pytest.mark.parametrize("sep,suffix", [("\t", ".tsv"), ("\t", ".txt"), ("|", ".csv"), (",", ".txt")])
def test_tab_and_pipe_separated(tmp_path, sep, suffix):
    path = write_delimited(tmp_path / f"orders{suffix}", ORDERS_HEADER, ORDERS_ROWS, sep=sep)
    assert _records(read_table(path)) == ORDERS_ROWS


def test_quoted_commas_and_gzip(tmp_path):
    text = 'user_id,item_id,title\n1,A,"Mug, large"\n2,B,"Tea ""green"""\n'
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    assert _records(read_table(path)) == [["1", "A", "Mug, large"], ["2", "B", 'Tea "green"']]


def test_ids_stay_exact_and_empty_cells_become_na(orders_csv, tmp_path):
    frame = read_table(orders_csv)
    assert frame["item_id"].tolist() == ["00042", "12345678901234567890", "00042"]
    path = tmp_path / "gaps.csv"
    path.write_text("user_id,item_id,note\n 01 ,NA,\n02,null, \n")
    gaps = read_table(path)
    # NA/null are ids like any other; only empty (or blank) cells are missing
    assert gaps["user_id"].tolist() == ["01", "02"]
    assert gaps["item_id"].tolist() == ["NA", "null"]
    assert gaps["note"].isna().all()


def test_parquet_keeps_strings_and_formats_numbers(tmp_path):
    path = tmp_path / "orders.parquet"
    pd.DataFrame(
        {"user_id": ["007", "042"], "item_id": pd.array([12345678901234567, None], dtype="Int64"), "price": [2.5, 3.0]}
    ).to_parquet(path)
    frame = read_table(path)
    assert frame["user_id"].tolist() == ["007", "042"]
    assert frame["item_id"].iloc[0] == "12345678901234567" and pd.isna(frame["item_id"].iloc[1])
    assert frame["price"].tolist() == ["2.5", "3"]


def _workbook(path, rows, sheet_title="Orders"):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = sheet_title
    for row in rows:
        sheet.append(row)
    book.create_sheet("Notes").append(["nothing", "here"])
    book.save(path)
    return path


def test_xlsx_numbers_lose_no_digits_and_gain_no_decimal(tmp_path):
    path = _workbook(
        tmp_path / "orders.xlsx",
        [
            ["CustomerID", "StockCode", "Quantity", "InvoiceDate"],
            ["00017", 85123, 6, pd.Timestamp("2010-12-01 08:26")],
            ["00018", "85123A", 2.5, pd.Timestamp("2010-12-02")],
        ],
    )
    frame = read_table(path)
    assert frame["CustomerID"].tolist() == ["00017", "00018"]
    assert frame["StockCode"].tolist() == ["85123", "85123A"]
    assert frame["Quantity"].tolist() == ["6", "2.5"]
    assert pd.to_datetime(frame["InvoiceDate"]).tolist() == [
        pd.Timestamp("2010-12-01 08:26"),
        pd.Timestamp("2010-12-02"),
    ]


def test_xlsx_sheet_by_name_and_errors(tmp_path):
    path = _workbook(tmp_path / "orders.xlsx", [["user_id", "item_id"], ["1", "A"]])
    assert _records(read_table(path, sheet="Orders")) == [["1", "A"]]
    with pytest.raises(InputError, match="no sheet named 'Sales'.*'Orders', 'Notes'"):
        read_table(path, sheet="Sales")
    with pytest.raises(InputError, match="header but no data rows"):
        read_table(path, sheet="Notes")
    with pytest.raises(InputError, match="out of range"):
        read_table(path, sheet=5)


def test_sqlite_table_and_query(orders_sqlite):
    url = f"sqlite:///{orders_sqlite}"
    frame = read_table(url, table="orders", chunksize=2)  # two chunks joined
    assert _records(frame) == ORDERS_ROWS
    frame = read_table(url, query="SELECT user_id, item_id FROM orders WHERE quantity > 1", chunksize=1)
    assert _records(frame) == [["007", "00042"], ["042", "00042"]]
    numbers = read_table(url, table="numbers")
    # integer ids beyond float precision, next to a NULL, stay exact
    assert numbers["customer_id"].iloc[0] == "9007199254740993" and pd.isna(numbers["customer_id"].iloc[1])


def test_sqlite_errors(orders_sqlite, tmp_path):
    url = f"sqlite:///{orders_sqlite}"
    with pytest.raises(InputError, match="no table named 'order'.*'numbers', 'orders'"):
        read_table(url, table="order")
    with pytest.raises(InputError, match="no table named"):
        read_table(url, table="orders; DROP TABLE orders")
    with pytest.raises(InputError, match="exactly one of table= or query="):
        read_table(url)
    with pytest.raises(InputError, match="reading the query failed"):
        read_table(url, query="SELECT nope FROM orders")
    with pytest.raises(InputError, match="returned no rows"):
        read_table(url, query="SELECT * FROM orders WHERE 1 = 0")
    with pytest.raises(InputError, match="database file not found"):
        read_table(f"sqlite:///{tmp_path / 'missing.db'}", table="orders")
    assert not (tmp_path / "missing.db").exists()
    with sqlite3.connect(orders_sqlite) as con:
        assert con.execute("SELECT count(*) FROM orders").fetchone() == (3,)


def test_password_never_shown(tmp_path):
    url = "postgresql+psycopg://analyst:TopSecret99@127.0.0.1:1/shop"
    with pytest.raises(InputError) as info:
        read_table(url, table="orders")
    assert "TopSecret99" not in str(info.value) and "***" in str(info.value)
    for other in (
        "nosuchdialect://analyst:TopSecret99@host/db",
        "oracle+cx_oracle://analyst:TopSecret99@host/db",
        "not a url://analyst:TopSecret99@host",
    ):
        with pytest.raises(InputError) as info:
            read_table(other, table="orders")
        assert "TopSecret99" not in str(info.value)


def test_file_errors_name_the_file(tmp_path, orders_csv):
    missing = tmp_path / "nope.csv"
    with pytest.raises(InputError, match="file not found") as info:
        read_table(missing)
    assert info.value.file == str(missing)
    odd = tmp_path / "orders.json"
    odd.write_text("{}")
    with pytest.raises(InputError, match="unknown file type '.json'"):
        read_table(odd)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="the file is empty"):
        read_table(empty)
    header_only = write_delimited(tmp_path / "header.csv", ORDERS_HEADER, [])
    with pytest.raises(InputError, match="no data rows") as info:
        read_table(header_only)
    assert info.value.file == str(header_only)
    with pytest.raises(InputError, match="only apply to a database URL"):
        read_table(orders_csv, table="orders")


def test_corrupt_files(tmp_path):
    for name in ("broken.parquet", "broken.xlsx"):
        path = tmp_path / name
        path.write_bytes(b"this is not really a " + name.encode())
        with pytest.raises(InputError, match="cannot (read|open)") as info:
            read_table(path)
        assert info.value.file == str(path)
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match="binary file"):
        read_table(binary)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("user_id,item_id\n1,A\n2,B\n3,C,extra,more\n")
    with pytest.raises(InputError, match="malformed comma-separated text: 4 fields where the header has 2") as info:
        read_table(ragged)
    assert info.value.row == 4


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_duplicate_header_names_are_refused(tmp_path, suffix):
    path = tmp_path / f"dupes{suffix}"
    header, rows = ["user_id", "item_id", "user_id"], [["1", "A", "2"]]
    if suffix == ".csv":
        write_delimited(path, header, rows)
    elif suffix == ".xlsx":
        _workbook(path, [header, *rows])
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table([pa.array(["1"]), pa.array(["A"]), pa.array(["2"])], names=header), path)
    with pytest.raises(InputError, match="duplicate column name 'user_id' \\(columns 1 and 3\\)") as info:
        read_table(path)
    assert info.value.column == "user_id" and info.value.row == 1 and info.value.file == str(path)


def test_dataframe_source_is_turned_into_strings():
    frame = read_table(pd.DataFrame({"user_id": [7, 8], "item_id": ["A", None]}))
    assert frame["user_id"].tolist() == ["7", "8"] and pd.isna(frame["item_id"].iloc[1])


def test_row_longer_than_header_is_refused_not_shifted(tmp_path):
    # every data row one field longer: pandas alone would silently use the first column as an index
    path = tmp_path / "shifted.csv"
    path.write_text("user_id,item_id\n1,A,x\n2,B,y\n")
    with pytest.raises(InputError, match="3 fields where the header has 2") as info:
        read_table(path)
    assert info.value.row == 2
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("user_id,item_id,\n1,A,\n2,B,\n")
    assert _records(read_table(trailing)) == [["1", "A"], ["2", "B"]]


def test_western_code_page_is_not_read_as_chinese(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes("user_id,item_id,title\n1,A,Crème brûlée\n2,B,Café £5\n".encode("cp1252"))
    assert read_table(path)["title"].tolist() == ["Crème brûlée", "Café £5"]


def test_utf16_excel_unicode_text(tmp_path):
    path = tmp_path / "orders.txt"
    path.write_bytes("用户ID\t商品ID\n001\t甲\n".encode("utf-16"))
    assert _records(read_table(path)) == [["001", "甲"]]


def test_nameless_empty_columns_are_ignored_but_nameless_data_is_not(tmp_path):
    path = _workbook(tmp_path / "padded.xlsx", [["user_id", None, "item_id", None], ["1", None, "A", None]])
    assert read_table(path).columns.tolist() == ["user_id", "item_id"]
    path = tmp_path / "unnamed.csv"
    path.write_text("user_id,,item_id,\n1,x,A,\n2,y,B,\n")
    assert read_table(path).columns.tolist() == ["user_id", "", "item_id"]


def test_encoding_is_judged_on_the_whole_file_not_its_head(tmp_path):
    rows = [[str(k), str(k % 50), "plain"] for k in range(120_000)] + [["999", "7", "茉莉花茶"]]
    path = write_delimited(tmp_path / "late.csv", ["user_id", "item_id", "title"], rows, encoding="gbk")
    assert path.stat().st_size > 1 << 20  # the Chinese row lies beyond the first megabyte
    assert read_table(path)["title"].iloc[-1] == "茉莉花茶"


def test_damaged_gzip(tmp_path):
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="cannot read the file") as info:
        read_table(path)
    assert info.value.file == str(path)
