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
import io
import json
import os
import stat
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
    if not suffix and _is_stream(path):  # -o /dev/stdout, a named pipe: CSV, the format a pipe reader expects
        return "csv"
    if suffix not in FORMATS:
        raise InputError(
            f"cannot tell the output format from the extension {suffix or '(none)'!r}",
            file=str(path),
            hint="use one of: " + ", ".join(FORMATS),
        )
    return FORMATS[suffix]


def _is_stream(path: str | Path) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Any]:
    """Open a binary temporary file beside ``path``; on a clean exit it replaces ``path``.

    Parent folders are created. The new file gets ordinary permissions (those of the file it
    replaces, else 0666 minus the umask) rather than the temporary file's private 0600.

    A symlink is written through, never replaced: its target (a regular file, or none yet) is the
    file replaced atomically. A FIFO, a terminal or another character device (``-o /dev/stdout``)
    cannot be replaced by a rename, so what was written is streamed to it once complete, and the
    node itself is left as it is. A block device, socket or folder is refused.
    """
    target = Path(path)
    special = _special_target(target)
    if special is not None:
        with _stream_output(special) as handle:
            yield handle
        return
    target = Path(os.path.realpath(target)) if target.is_symlink() else target
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
    except BaseException as exc:  # also SystemExit from the CLI's SIGTERM/SIGHUP handler
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise OutputError(
                f"writing failed: {exc.strerror or exc}; the earlier file is unchanged", file=str(target)
            ) from exc
        raise
    _fsync_folder(target.parent)


def _special_target(path: Path) -> Path | None:
    """``path`` (or its symlink's target) when it is a FIFO or character device; OutputError for a node
    that can be neither replaced nor streamed to; None for a regular file, a link to one, or nothing."""
    try:
        st = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"cannot write here: {exc.strerror or exc}", file=str(path)) from exc
    if stat.S_ISREG(st.st_mode):
        return None
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
        return path
    kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a block device, socket or other special file"
    raise OutputError(f"is {kind}, not a file; refusing to write to it", file=str(path))


@contextlib.contextmanager
def _stream_output(node: Path) -> Iterator[Any]:
    """Collect the output in memory; only once it is complete, write it to the FIFO or device."""
    buffer = io.BytesIO()
    yield buffer
    try:
        with open(node, "wb") as handle:  # no O_TRUNC games: a device or FIFO has nothing to replace
            handle.write(buffer.getbuffer())
    except OSError as exc:
        raise OutputError(f"writing failed: {exc.strerror or exc}", file=str(node)) from exc


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


# --- outputs that would overwrite inputs or each other ----------------------------------------------
def _identity(path: str | Path) -> tuple:
    """What makes two paths one file: device and inode when it exists (hard links, symlinks, ``./``
    spellings), else the real path it would be created at."""
    try:
        st = os.stat(path)
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", os.path.realpath(path))


def check_distinct_paths(inputs: dict, outputs: dict, *, databases: tuple[str, ...] = ()) -> None:
    """InputError when an output is one of the inputs or another output, before any work starts.

    ``inputs`` and ``outputs`` map a label (``"the data"``, ``"-o"``, ``"the report's JSON"``) to a
    path or None; each output's sidecar files belong in ``outputs`` under their own label. Labels in
    ``databases`` are SQLite files that may be both read and written (other tables). A character
    device or FIFO (``/dev/stdout``, ``/dev/null``) is a stream, not a file, and may take several outputs.
    """
    seen: dict[tuple, str] = {}
    for label, path in inputs.items():
        if path is not None:
            seen.setdefault(_identity(path), label)
    for label, path in outputs.items():
        if path is None or _is_stream(path):
            continue
        key = _identity(path)
        other = seen.get(key)
        if other is not None and not (label in databases and other in databases):
            clash = (
                f"{label} is the same file as {other}; writing it would replace the input"
                if other in inputs
                else f"{label} and {other} are the same file; one would replace the other"
            )
            raise InputError(clash, file=str(path), hint="write to another path")
        seen[key] = label
