"""Read a user-behaviour table from CSV/TSV/TXT, Parquet, Excel or any SQLAlchemy database URL.

Every reader returns a :class:`pandas.DataFrame` whose cells are all strings (missing cells are NA), so an
id keeps its leading zeros and a 20-digit number keeps every digit; deciding what a column means and
parsing numbers or dates is the job of :mod:`aigc_biz.data.roles` and :mod:`aigc_biz.data.loading`.

Row numbers in error messages are spreadsheet rows: the header is row 1, the first data row is row 2
(a database result has no header row: its first row is row 1).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from aigc_biz.errors import InputError
from aigc_biz.redaction import mask_url

__all__ = [
    "read_table",
    "iter_table_chunks",
    "is_streamable",
    "NotStreamable",
    "is_database_url",
    "DELIMITED_SUFFIXES",
    "EXCEL_SUFFIXES",
    "PARQUET_SUFFIXES",
]

DELIMITED_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_CANDIDATE_DELIMITERS = ",;\t|"
#: ``postgresql:/user:pw@host/db``: a scheme with one slash, which no file name starts with
_URL_TYPO = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+:/(?!/)")
#: how much text the delimiter sniffer looks at
_SNIFF_CHARS = 64_000
#: bytes read up front: enough to sniff the delimiter and guess a legacy encoding
_HEAD_BYTES = 1 << 20
_CHUNK_BYTES = 16 << 20
_LATIN_CODE_PAGES = {
    "cp1250",
    "cp1252",
    "cp1254",
    "cp1257",
    "latin_1",
    "iso8859_1",
    "iso8859_2",
    "iso8859_3",
    "iso8859_4",
    "iso8859_9",
    "iso8859_10",
    "iso8859_13",
    "iso8859_14",
    "iso8859_15",
    "iso8859_16",
    "mac_roman",
    "mac_latin2",
    "cp437",
    "cp850",
    "cp858",
}


def is_database_url(source) -> bool:
    """True for ``dialect[+driver]://...`` strings (``sqlite:///orders.db``, ``postgresql+psycopg://...``).

    Any string with ``://`` counts: no file path has one, and treating a malformed URL as a file name
    would print its password in "file not found".
    """
    return isinstance(source, str) and "://" in source


def read_table(
    source: str | Path,
    *,
    table: str | None = None,
    query: str | None = None,
    sheet: str | int | None = None,
    chunksize: int = 50_000,
) -> pd.DataFrame:
    """Read a table with every cell as a string.

    Parameters
    ----------
    source : str or Path
        A file (``.csv``, ``.tsv``, ``.txt``, optionally ``.gz``-compressed; ``.parquet``; ``.xlsx``) or a
        SQLAlchemy database URL (``sqlite:///orders.db``, ``postgresql+psycopg://user:pw@host/db``,
        ``mysql+pymysql://...``).
    table : str, optional
        Database table (or view) to read; ``schema.table`` is accepted. Only for database URLs.
    query : str, optional
        SQL ``SELECT`` to run instead of ``table``. Only for database URLs.
    sheet : str or int, optional
        Excel sheet name or 0-based position; the first sheet by default.
    chunksize : int, default 50_000
        Rows fetched from a database per round trip.

    Returns
    -------
    pandas.DataFrame
        Column names exactly as in the header (surrounding spaces removed); cells are ``str`` with
        surrounding spaces removed, and empty cells are NA.

    Raises
    ------
    InputError
        File not found, unreadable or corrupt file, unknown extension, no data rows, duplicate header
        names, unknown table or sheet, failed query. Database passwords never appear in the message.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "orders.csv"
    >>> _ = path.write_text("user_id;item_id\\n007;00042\\n", encoding="utf-8-sig")
    >>> read_table(path).to_dict("records")
    [{'user_id': '007', 'item_id': '00042'}]
    """
    if isinstance(source, pd.DataFrame):
        return _text_frame(source, "<DataFrame>", row_offset=1)
    if is_database_url(source):
        from aigc_biz.data.sql_reader import read_sql_table

        frame = read_sql_table(source, table=table, query=query, chunksize=chunksize)
        return _text_frame(frame, _safe_source_name(source), row_offset=1)
    path, suffix, compressed = _table_file(source, table, query)
    name = str(path)
    if suffix in DELIMITED_SUFFIXES:
        try:
            frame = _read_delimited(path, tab=suffix == ".tsv", compressed=compressed)
        except zlib.error as exc:  # a damaged .gz fails inside the decompressor, wherever it is read
            raise InputError(f"cannot read the file: damaged gzip data ({exc})", file=name) from None
    elif compressed:
        raise InputError(f"only CSV/TSV/TXT files may be .gz-compressed, not {suffix or 'no extension'}", file=name)
    elif suffix in PARQUET_SUFFIXES:
        frame = _read_parquet(path)
    elif suffix in EXCEL_SUFFIXES:
        frame = _read_excel(path, sheet)
    elif suffix == ".xls":
        raise InputError("old .xls workbooks are not supported", file=name, hint="save it as .xlsx or CSV")
    else:
        known = ", ".join(DELIMITED_SUFFIXES + PARQUET_SUFFIXES + EXCEL_SUFFIXES)
        raise InputError(
            f"unknown file type {suffix or '(no extension)'!r}",
            file=name,
            hint=f"use one of {known}, or a database URL",
        )
    return frame


def _table_file(source, table, query) -> tuple[Path, str, bool]:
    """The path, its table suffix and whether it is .gz-compressed; InputError for what is not a table file."""
    if isinstance(source, str) and _URL_TYPO.match(source) and not Path(source).exists():
        raise InputError(
            "looks like a database URL with a '/' missing",
            file=mask_url(source),
            hint="write dialect://user@host/db, e.g. postgresql+psycopg://user@host/db",
        )
    path = Path(source)
    name = str(path)
    if table is not None or query is not None:
        raise InputError("table= and query= only apply to a database URL such as sqlite:///orders.db", file=name)
    if not path.exists():
        raise InputError("file not found", file=name)
    if path.is_dir():
        raise InputError("is a folder, not a table file", file=name)
    suffixes = [s.lower() for s in path.suffixes]
    suffix = suffixes[-1] if suffixes else ""
    compressed = suffix == ".gz"
    if compressed:
        suffix = suffixes[-2] if len(suffixes) > 1 else ""
    return path, suffix, compressed


# --- delimited text ----------------------------------------------------------------------------
def _read_delimited(path: Path, *, tab: bool, compressed: bool) -> pd.DataFrame:
    name = str(path)
    encoding, delimiter = _delimited_format(path, tab, compressed)
    with _delimited_errors(name, delimiter):
        grid = pd.read_csv(path, **_csv_options(delimiter, encoding, compressed))
    header = [h.strip() for h in grid.iloc[0].fillna("")]
    frame = grid.iloc[1:].reset_index(drop=True)
    header, frame = _drop_unnamed_empty(header, frame)
    _check_header(header, name)
    frame.columns = header
    return _text_frame(frame, name, row_offset=2)


def _delimited_chunks(path: Path, *, tab: bool, compressed: bool, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The same parse as :func:`_read_delimited`, ``chunk_rows`` grid rows at a time."""
    name = str(path)
    encoding, delimiter = _delimited_format(path, tab, compressed)
    header: list[str] | None = None
    keep: list[int] = []
    dropped: list[int] = []
    with _delimited_errors(name, delimiter):
        with pd.read_csv(path, **_csv_options(delimiter, encoding, compressed), chunksize=chunk_rows) as reader:
            for grid in reader:  # the grid's index counts parsed lines from the header's 0, across chunks
                if header is None:
                    raw = [h.strip() for h in grid.iloc[0].fillna("")]
                    grid = grid.iloc[1:]
                    # whether an unnamed column is empty is decided on the first chunk; a value further
                    # down means the whole-table reader must decide
                    keep = _kept_positions(raw, grid)
                    dropped = sorted(set(range(len(raw))) - set(keep))
                    header = [raw[k] for k in keep]
                    _check_header(header, name)
                elif dropped and _has_values(grid.iloc[:, dropped]):
                    raise NotStreamable("an unnamed column has values below the first chunk")
                if len(grid) == 0:
                    continue
                frame = grid.iloc[:, keep]
                frame.columns = header
                yield _text_rows(frame, name, first_row=int(grid.index[0]) + 1)


class NotStreamable(Exception):
    """The table cannot be read in chunks with the whole-table reader's result; read it whole instead."""


def _delimited_format(path: Path, tab: bool, compressed: bool) -> tuple[str, str]:
    """The encoding and the delimiter of a delimited text file."""
    name = str(path)
    try:
        with _open_binary(path, compressed) as handle:
            head = handle.read(_HEAD_BYTES)
        if not head.strip():
            raise InputError("the file is empty", file=name)
        encoding = _detect_encoding(path, compressed, head, name)
    except (OSError, EOFError) as exc:  # includes a damaged .gz
        raise InputError(f"cannot read the file: {_first_line(exc)}", file=name) from None
    sample = head.decode(encoding, errors="ignore")  # the head may end inside a character
    return encoding, "\t" if tab else _sniff_delimiter(sample)


def _csv_options(delimiter: str, encoding: str, compressed: bool) -> dict:
    # header=None: the header row sets the width, so a longer row is an error rather than a silent
    # shift into the index, and the raw names show duplicates before pandas renames them
    return {
        "sep": delimiter,
        "dtype": str,
        "keep_default_na": False,
        "header": None,
        "engine": "c",
        "skip_blank_lines": True,
        "encoding": encoding,
        "encoding_errors": "replace",
        "compression": "gzip" if compressed else None,
    }


@contextmanager
def _delimited_errors(name: str, delimiter: str):
    """The parser's failures as InputErrors naming the file (and the line, for a malformed row)."""
    try:
        yield
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        what = f"{found.group(3)} fields where the header has {found.group(1)}" if found else _first_line(exc)
        raise InputError(
            f"malformed {_delimiter_name(delimiter)}-separated text: {what}",
            file=name,
            row=int(found.group(2)) if found else None,
            hint=f"check quoting of values that contain a {_delimiter_name(delimiter)}",
        ) from None
    except pd.errors.EmptyDataError:  # e.g. nothing but a byte-order mark or blank lines
        raise InputError("the file is empty: no header row", file=name) from None
    except (OSError, EOFError, UnicodeError) as exc:
        raise InputError(f"cannot read the file: {_first_line(exc)}", file=name) from None


def _open_binary(path: Path, compressed: bool):
    return gzip.open(path, "rb") if compressed else path.open("rb")


def _detect_encoding(path: Path, compressed: bool, head: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, GB18030 (a superset of GBK/GB2312), else a guess.

    The whole file is checked, in chunks and without keeping it: Chinese may first appear on row 90,000.
    """
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode text" export
        return "utf-16"
    if b"\x00" in head[:8192]:
        raise InputError(
            "this is a binary file, not delimited text",
            file=name,
            hint="is it an Excel or Parquet file with the wrong extension?",
        )
    if _decodes(path, compressed, head, "utf-8"):
        return "utf-8"
    if _decodes(path, compressed, head, "gb18030") and _looks_chinese(head.decode("gb18030", errors="ignore")):
        return "gb18030"
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    encoding = best.encoding if best is not None else "cp1252"
    # short texts make the detector hesitate between Latin code pages; Windows-1252 is the usual export
    return "cp1252" if encoding in _LATIN_CODE_PAGES else encoding


def _decodes(path: Path, compressed: bool, head: bytes, encoding: str) -> bool:
    """Whether the whole file is valid ``encoding``."""
    if len(head) < _HEAD_BYTES:  # the head is the whole file
        try:
            head.decode(encoding)
            return True
        except UnicodeDecodeError:
            return False
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with _open_binary(path, compressed) as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


def _looks_chinese(text: str) -> bool:
    """False when GB18030 only "worked" by pairing Latin-1 accents with the ASCII letter after them.

    Common Chinese characters (GB2312) have a second byte of 0xA1 or more; an accented Western letter
    read as GBK almost always has an ASCII second byte ("è" + "m" in "Crème").
    """
    counts = Counter(ch for ch in text if ord(ch) > 127)
    total = sum(counts.values())
    if total == 0:
        return True
    ascii_trail = sum(n for ch, n in counts.items() if len(encoded := ch.encode("gb18030")) == 2 and encoded[1] < 0x80)
    return ascii_trail / total < 0.5


def _sniff_delimiter(text: str) -> str:
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rfind("\n")]
    header_line = sample.split("\n", 1)[0]
    try:
        found = csv.Sniffer().sniff(sample, delimiters=_CANDIDATE_DELIMITERS).delimiter
        if found in header_line:
            return found
    except csv.Error:
        pass
    # Sniffer gives up on irregular rows; the header's most frequent candidate is a sane second guess
    counts = Counter(ch for ch in header_line if ch in _CANDIDATE_DELIMITERS)
    return counts.most_common(1)[0][0] if counts else ","


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(delimiter, repr(delimiter))


# --- Parquet and Excel -------------------------------------------------------------------------
def _json_text(value) -> str:
    """A nested Parquet cell (numpy array, dict, list of tuples) as JSON text."""
    import json

    from aigc_biz.json_safe import json_safe

    return json.dumps(json_safe(value), ensure_ascii=False)


def _read_parquet(path: Path) -> pd.DataFrame:
    name = str(path)
    with _parquet_errors(name):
        schema = _parquet_schema(path, name)
        frame = _json_nested(pd.read_parquet(path, engine="pyarrow"), schema)
    return _text_frame(frame, name, row_offset=2)


def _parquet_chunks(path: Path, *, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The same cells as :func:`_read_parquet`, one record batch of ``chunk_rows`` rows at a time."""
    import pyarrow.parquet as pq

    name = str(path)
    first_row = 2
    with _parquet_errors(name):
        schema = _parquet_schema(path, name)
        with pq.ParquetFile(path) as file:
            for batch in file.iter_batches(batch_size=chunk_rows):
                frame = _json_nested(batch.to_pandas(), schema)
                if len(frame.columns) == 0:
                    raise InputError("the table has no columns", file=name)
                yield _text_rows(frame, name, first_row=first_row)
                first_row += batch.num_rows


def _parquet_schema(path: Path, name: str):
    import pyarrow.parquet as pq

    # the schema first: pyarrow refuses duplicate names with an obscure message
    schema = pq.read_schema(path)
    _check_header([str(c) for c in schema.names], name)
    return schema


def _json_nested(frame: pd.DataFrame, schema) -> pd.DataFrame:
    """List, struct and map cells as JSON text, as a CSV export would show them."""
    import pyarrow as pa

    for field in schema:
        if pa.types.is_nested(field.type) and field.name in frame.columns:
            frame[field.name] = frame[field.name].map(_json_text, na_action="ignore")
    return frame


@contextmanager
def _parquet_errors(name: str):
    try:
        yield
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise InputError(f"cannot read the Parquet file: {_first_line(exc)}", file=name) from None


# --- in chunks ---------------------------------------------------------------------------------
def is_streamable(source) -> bool:
    """Whether :func:`iter_table_chunks` reads ``source``: an existing CSV/TSV/TXT(.gz) or Parquet file."""
    if isinstance(source, pd.DataFrame) or is_database_url(source) or not isinstance(source, (str, Path)):
        return False
    try:
        path, suffix, compressed = _table_file(source, None, None)
    except InputError:
        return False
    return path.is_file() and (suffix in DELIMITED_SUFFIXES or (suffix in PARQUET_SUFFIXES and not compressed))


def iter_table_chunks(source: str | Path, *, chunk_rows: int = 250_000) -> Iterator[pd.DataFrame]:
    """A CSV/TSV/TXT(.gz) or Parquet file as frames of at most ``chunk_rows`` rows, cells as in :func:`read_table`.

    Each frame's ``attrs["row_numbers"]`` are the rows of the whole file (header = row 1), so a message
    about a row names the row a spreadsheet user sees. The file's problems raise the same
    :class:`InputError` as :func:`read_table`, when the reader reaches them. A table without data rows
    yields nothing (the caller says so for the whole table). :class:`NotStreamable` means the table must
    be read whole to match :func:`read_table` (an unnamed column that is empty only in the first chunk).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "orders.csv"
    >>> _ = path.write_text("user_id,item_id\\n7,A\\n8,B\\n9,A\\n", encoding="utf-8")
    >>> [chunk.attrs["row_numbers"].tolist() for chunk in iter_table_chunks(path, chunk_rows=2)]
    [[2], [3, 4]]
    """
    path, suffix, compressed = _table_file(source, None, None)
    if suffix in PARQUET_SUFFIXES and not compressed:
        yield from _parquet_chunks(path, chunk_rows=chunk_rows)
        return
    if suffix not in DELIMITED_SUFFIXES:
        raise NotStreamable(f"{suffix or 'no extension'} files are read whole")
    try:
        yield from _delimited_chunks(path, tab=suffix == ".tsv", compressed=compressed, chunk_rows=chunk_rows)
    except zlib.error as exc:
        raise InputError(f"cannot read the file: damaged gzip data ({exc})", file=str(path)) from None


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    import openpyxl

    name = str(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True)
        sheets = list(workbook.sheetnames)
        workbook.close()
    except Exception as exc:  # zipfile/openpyxl raise many types for a damaged workbook
        raise InputError(f"cannot open the Excel workbook: {_first_line(exc)}", file=name) from None
    if sheet is None:
        sheet = 0
    if isinstance(sheet, str) and sheet not in sheets:
        if sheet.isdigit() and int(sheet) < len(sheets):
            sheet = int(sheet)
        else:
            raise InputError(f"no sheet named {sheet!r}; the workbook has {_quote_list(sheets)}", file=name)
    if isinstance(sheet, int) and not 0 <= sheet < len(sheets):
        raise InputError(f"sheet position {sheet} is out of range; the workbook has {_quote_list(sheets)}", file=name)
    try:
        # header=None: the raw first row shows duplicate names before pandas renames them
        grid = pd.read_excel(path, sheet_name=sheet, header=None, dtype=str, keep_default_na=False, engine="openpyxl")
    except Exception as exc:
        raise InputError(f"cannot read the Excel sheet: {_first_line(exc)}", file=name) from None
    if grid.empty:
        raise InputError(f"sheet {sheets[sheet] if isinstance(sheet, int) else sheet!r} is empty", file=name)
    header = [("" if pd.isna(h) else str(h)).strip() for h in grid.iloc[0]]
    header, frame = _drop_unnamed_empty(header, grid.iloc[1:].reset_index(drop=True))
    _check_header(header, name)
    frame.columns = header
    return _text_frame(frame, name, row_offset=2)


# --- shared ------------------------------------------------------------------------------------
def _drop_unnamed_empty(header: list[str], frame: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """Columns with no name and no values (trailing delimiters, formatted Excel cells) are not data."""
    keep = _kept_positions(header, frame)
    if len(keep) == len(header):
        return header, frame
    return [header[k] for k in keep], frame.iloc[:, keep]


def _kept_positions(header: list[str], frame: pd.DataFrame) -> list[int]:
    return [
        position for position, column in enumerate(header) if column != "" or _has_values(frame.iloc[:, [position]])
    ]


def _has_values(frame: pd.DataFrame) -> bool:
    return any(bool((frame.iloc[:, k].fillna("").astype(str).str.strip() != "").any()) for k in range(frame.shape[1]))


def _check_header(header: list[str], name: str) -> None:
    seen: dict[str, int] = {}
    for position, column in enumerate(header):
        if column in seen:
            raise InputError(
                f"duplicate column name {column!r} (columns {seen[column] + 1} and {position + 1})",
                file=name,
                column=column,
                row=1,
                hint="rename one of them",
            )
        seen[column] = position


def _text_frame(frame: pd.DataFrame, name: str, *, row_offset: int) -> pd.DataFrame:
    """Every cell as a stripped string, empty -> NA; rejects a table without data rows."""
    if len(frame.columns) == 0:
        raise InputError("the table has no columns", file=name)
    frame = _text_rows(frame, name, first_row=row_offset)
    if len(frame) == 0:
        raise InputError("the table has a header but no data rows", file=name)
    return frame


def _text_rows(frame: pd.DataFrame, name: str, *, first_row: int) -> pd.DataFrame:
    """The rows of ``frame`` (the first one is ``first_row`` in messages) as text, all-empty rows dropped."""
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in frame.columns:
        frame[column] = _text_column(frame[column])
    # rows where every cell is empty are spreadsheet padding, not data
    blank = frame.isna().all(axis=1)
    if blank.any():
        frame = frame[~blank]
    frame.attrs["source"] = name
    frame.attrs["row_offset"] = first_row
    # original positions survive dropped blank rows so messages can still name the right row
    frame.attrs["row_numbers"] = np.flatnonzero(~blank.to_numpy()) + first_row
    return frame.reset_index(drop=True)


def _text_column(series: pd.Series) -> pd.Series:
    """One column as strings; integral floats lose their '.0' (Excel and nullable SQL ids)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            # the same rule as for text timestamps: UTC, zone dropped
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        out = series.dt.strftime("%Y-%m-%d %H:%M:%S").astype(object)
    elif pd.api.types.is_bool_dtype(series.dtype):
        out = series.astype(object).map(lambda v: None if pd.isna(v) else str(v))
    elif pd.api.types.is_integer_dtype(series.dtype):
        out = series.astype(object).map(lambda v: None if pd.isna(v) else str(int(v)))
    elif pd.api.types.is_float_dtype(series.dtype):
        out = series.astype(object).map(_cell_to_text)
    elif pd.api.types.is_string_dtype(series.dtype) and not series.dtype == object:
        out = series
    else:
        out = series.map(_cell_to_text)
    out = pd.Series(out, index=series.index, dtype="str").str.strip()
    return out.mask(out == "")


def _cell_to_text(value) -> str | None:
    if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (float, np.floating)):
        return format(value, ".0f") if float(value).is_integer() else repr(float(value))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _safe_source_name(url: str) -> str:
    return mask_url(url)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _quote_list(names) -> str:
    names = [str(n) for n in names]
    shown = ", ".join(repr(n) for n in names[:30])
    return shown + (f" and {len(names) - 30} more" if len(names) > 30 else "") if names else "none"


def read_id_list(path: str | Path, id_col: str) -> tuple[list[str], pd.DataFrame | None]:
    """Ids from a CSV/Parquet/Excel file: column ``id_col`` (or the first one); other columns as context.

    The context frame has the ids in column ``id_col`` (cold-start customers, or new products, are
    described by its other columns).
    """
    frame = read_table(str(path))
    col = id_col if id_col in frame.columns else frame.columns[0]
    ids = frame[col].astype("string")
    if ids.isna().any():
        row = int(ids.isna().to_numpy().argmax()) + 2
        raise InputError("empty id", file=str(path), column=col, row=row)
    context = frame.rename(columns={col: id_col}) if len(frame.columns) > 1 else None
    return [str(v) for v in ids], context


def split_list(value: str | Sequence[str] | None) -> list[str] | None:
    """``"a,b , c"`` -> ["a", "b", "c"]; a list is kept (as strings); None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]
