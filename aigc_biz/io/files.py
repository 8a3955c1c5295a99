"""Atomic file writers: a reader of the target path sees the old file or the new one, never half of one.

Every writer serialises into a temporary file in the target's own folder (so the final rename stays on
one file system), flushes and fsyncs it, then ``os.replace``-s it over the target. On any exception the
temporary file is removed and an earlier output at ``path`` is left byte-identical.

CSV is written as UTF-8 (``bom=True`` adds the byte-order mark Excel needs to detect UTF-8). Text
cells a spreadsheet would run as a formula (first character ``= + - @ |``, their fullwidth forms, tab or
carriage return) get a leading single quote, and so do text cells that already start with one, so that
:func:`read_recs` can undo it exactly. Numeric columns are never touched: a score of -1.5 stays a number.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from aigc_biz.data.loading import check_prices
from aigc_biz.errors import InputError, OutputError
from aigc_biz.json_safe import json_safe

#: file extension -> format name understood by :func:`write_frame`
FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".json": "json"}

#: first characters that make a spreadsheet evaluate a cell (OWASP "CSV injection"): also ``|`` (DDE)
#: and the fullwidth and small forms, which spreadsheets in CJK locales read as the ASCII ones
FORMULA_TRIGGERS = ("=", "+", "-", "@", "|", "\t", "\r", "＝", "＋", "－", "＠", "﹦", "﹢", "﹣", "﹫")
#: the escape itself is escaped, so neutralising is reversible
_ESCAPE = "'"


def format_of(path: str | Path, fmt: str | None = None) -> str:
    """The format name for ``path`` (or the explicit ``fmt``); InputError for anything else."""
    if fmt is not None:
        name = fmt.lower().lstrip(".")
        if name not in FORMATS.values():
            raise InputError(f"unknown output format {fmt!r}", hint="use one of: " + ", ".join(FORMATS.values()))
        return name
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"cannot tell the output format from the extension {suffix or '(none)'!r}",
            file=str(path),
            hint="use one of: " + ", ".join(FORMATS),
        )
    return FORMATS[suffix]


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Any]:
    """Open a binary temporary file beside ``path``; on a clean exit it replaces ``path``.

    Parent folders are created. The new file gets ordinary permissions (those of the file it
    replaces, else 0666 minus the umask) rather than the temporary file's private 0600.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(
            mode="wb", dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False
        )
    except OSError as exc:
        raise OutputError(f"cannot write here: {exc.strerror or exc}", file=str(target)) from exc
    tmp = Path(handle.name)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise OutputError(
                f"writing failed: {exc.strerror or exc}; the earlier file is unchanged", file=str(target)
            ) from exc
        raise
    _fsync_folder(target.parent)


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- neutralising spreadsheet formulas ---------------------------------------------------------
def _is_text_column(series: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)


def _escape_cell(value):
    if isinstance(value, str) and value and (value[0] in FORMULA_TRIGGERS or value[0] == _ESCAPE):
        return _ESCAPE + value
    return value


def _unescape_cell(value):
    if isinstance(value, str) and value.startswith(_ESCAPE):
        return value[1:]
    return value


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells can no longer run as spreadsheet formulas.

    Only text (object/string) columns change, and in them only ``str`` cells; numbers, also
    negative ones, stay numbers. Column names are escaped the same way.
    """
    return _map_text_cells(df, _escape_cell)


def restore_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`neutralise_formulas` (what :func:`read_recs` does for CSV files)."""
    return _map_text_cells(df, _unescape_cell)


def _map_text_cells(df: pd.DataFrame, fn) -> pd.DataFrame:
    """A copy of ``df`` with ``fn`` applied to the cells of text columns and to text column names."""
    out = df.copy()
    for col in out.columns:
        if _is_text_column(out[col]):
            out[col] = out[col].map(fn, na_action="ignore")
    out.columns = [fn(c) if isinstance(c, str) else c for c in out.columns]
    return out


# --- writers --------------------------------------------------------------------------------
def write_frame(df: pd.DataFrame, path: str | Path, *, fmt: str | None = None, bom: bool = False) -> Path:
    """Write ``df`` atomically as CSV, Parquet, JSON lines or a JSON array of records.

    Parameters
    ----------
    df : DataFrame
        Written without its index.
    path : str or Path
        Target file; parent folders are created. The extension picks the format unless ``fmt`` is given.
    fmt : {"csv", "parquet", "jsonl", "json"}, optional
        Overrides the extension.
    bom : bool, default False
        CSV only: start with a UTF-8 byte-order mark so Excel reads Chinese text correctly.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    InputError
        Unknown format.
    OutputError
        The folder is not writable or the disk is full; an earlier file at ``path`` is unchanged.

    Example
    -------
    >>> write_frame(pd.DataFrame({"user_id": ["007"], "score": [-1.5]}), tmp / "recs.csv")  # doctest: +SKIP
    """
    name = format_of(path, fmt)
    writer = _FRAME_WRITERS[name]
    with atomic_output(path) as handle:
        writer(df, handle, bom)
    return Path(path)


def _write_csv(df: pd.DataFrame, handle, bom: bool) -> None:
    # CRLF (RFC 4180) also makes the csv writer quote a cell holding a lone \r
    text = neutralise_formulas(df).to_csv(index=False, lineterminator="\r\n")
    handle.write(text.encode("utf-8-sig" if bom else "utf-8"))


def _write_parquet(df: pd.DataFrame, handle, bom: bool) -> None:
    df.to_parquet(handle, index=False)


def _write_jsonl(df: pd.DataFrame, handle, bom: bool) -> None:
    if len(df):
        text = df.to_json(orient="records", lines=True, force_ascii=False, date_format="iso", default_handler=str)
        handle.write(text.encode("utf-8"))
        if not text.endswith("\n"):
            handle.write(b"\n")


def _write_json_records(df: pd.DataFrame, handle, bom: bool) -> None:
    # default_handler=str: other objects are written as text, as in CSV (pandas would write "{}")
    text = df.to_json(orient="records", force_ascii=False, date_format="iso", indent=1, default_handler=str)
    handle.write(text.encode("utf-8"))


_FRAME_WRITERS: dict[str, Callable] = {
    "csv": _write_csv,
    "parquet": _write_parquet,
    "jsonl": _write_jsonl,
    "json": _write_json_records,
}


def write_json(obj: Any, path: str | Path, *, indent: int = 2) -> Path:
    """Write ``obj`` atomically as UTF-8 JSON (numpy scalars, dates and paths converted; NaN -> null)."""
    text = json.dumps(json_safe(obj), ensure_ascii=False, indent=indent, allow_nan=False)
    return write_text(text + "\n", path)


def write_text(text: str, path: str | Path, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` atomically (an HTML report, a log)."""
    data = text.encode(encoding)
    with atomic_output(path) as handle:
        handle.write(data)
    return Path(path)


# --- reading back ---------------------------------------------------------------------------
def _is_id_column(name: str) -> bool:
    return name in ("item_ids", "run_id", "variant") or name.endswith("_id")


def read_recs(path: str | Path, *, fmt: str | None = None) -> pd.DataFrame:
    """Read a recommendations or copy file written by :func:`write_frame` back into a frame.

    Id columns (``user_id``, ``item_id``, ``item_ids``, ``run_id`` and any ``*_id``) come back as
    strings exactly as written (``"007"`` stays ``"007"``, ``"NA"`` stays ``"NA"``); other empty cells
    are missing values; formula escapes added by the CSV writer are removed.
    """
    path = Path(path)
    name = format_of(path, fmt)
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    if name == "csv":
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
        raw = [str(c) for c in header]
        real = [_unescape_cell(c) for c in raw]
        ids = {r: str for r, c in zip(raw, real) if _is_id_column(c)}
        others = {r: [""] for r, c in zip(raw, real) if not _is_id_column(c)}
        frame = restore_formulas(
            pd.read_csv(path, dtype=ids, keep_default_na=False, na_values=others, encoding="utf-8-sig")
        )
    else:
        if name == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, orient="records", lines=(name == "jsonl"), dtype=False, encoding="utf-8")
        for col in frame.columns:
            if _is_id_column(str(col)):
                frame[col] = frame[col].map(str, na_action="ignore")
    if "price" in frame.columns:  # a price a customer would be shown: row numbers as in the file (header = 1)
        check_prices(frame["price"], np.arange(len(frame)) + 2, "price", str(path))
    return frame
