"""Table -> validated :class:`Interactions`: read, find column roles, check every row, weight, aggregate.

What happens to imperfect data
------------------------------

+----------------------------------------------+-----------------------------------------------------+
| Handled with a counted warning               | Rejected with :class:`InputError` (CLI exit code 2) |
+==============================================+=====================================================+
| empty user or item id: row dropped           | every row has an empty user (or item) id            |
| ("N rows with empty user_id dropped (first   |                                                     |
| at row R)")                                  |                                                     |
+----------------------------------------------+-----------------------------------------------------+
| a few (< 5%) empty or unreadable timestamps: | 5% or more unreadable: names the column, the first  |
| rows dropped                                 | bad row and its value                               |
+----------------------------------------------+-----------------------------------------------------+
| negative quantity/revenue (returns): dropped | a weight that is not a number (names the column,    |
| (``returns="drop"``, default) or netted      | the row and the value)                              |
| against purchases, clipped at 0              |                                                     |
| (``returns="net"``)                          |                                                     |
+----------------------------------------------+-----------------------------------------------------+
| empty weight cell: row dropped               | event values without a weight (lists them and says  |
|                                              | how to pass ``event_weights`` / ``--event-weights``)|
+----------------------------------------------+-----------------------------------------------------+
|                                              | file or table problems (see :func:`read_table`),    |
|                                              | missing or ambiguous columns (see                   |
|                                              | :func:`detect_roles`), no rows left, bad options    |
+----------------------------------------------+-----------------------------------------------------+

Row numbers in messages are the rows a spreadsheet user sees: the header is row 1, so the first data row
is row 2. For a database query (or a DataFrame) the first result row is row 1.

How the weight column is read (``ColumnRoles.weight_kind``):

- ``rating``: the value itself; a repeated (user, item) pair keeps its latest rating;
- ``quantity`` / ``revenue``: summed per (user, item);
- ``event``: each event type mapped by ``event_weights`` (defaults in :data:`DEFAULT_EVENT_WEIGHTS`), summed;
- no weight column: each row counts 1, summed.

``time_decay_days`` multiplies each event's weight by ``0.5 ** (age_days / time_decay_days)``, the age
counted from the latest timestamp in the table, before aggregation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from aigc_biz.data.interactions import (
    ColumnRoles,
    Interactions,
    InteractionsBuilder,
    aggregate_events,
    build_interactions,
    strip_currency,
)
from aigc_biz.data.readers import NotStreamable, is_streamable, iter_table_chunks, read_table
from aigc_biz.data.roles import detect_roles
from aigc_biz.data.timestamps import SUPPORTED_FORMATS, TIME_SAMPLE, parse_timestamps, time_sample, timestamp_parser
from aigc_biz.errors import ConfigError, InputError

__all__ = [
    "load_interactions",
    "validate_frame",
    "build_interactions",
    "aggregate_events",
    "DEFAULT_EVENT_WEIGHTS",
    "RETURNS_MODES",
    "ROLE_FLAGS",
]

#: the keyword options of :func:`load_interactions` a caller may pass through (api.load, a pipeline's load step)
ROLE_FLAGS = (
    "user_col",
    "item_col",
    "time_col",
    "weight_col",
    "user_attrs",
    "item_attrs",
    "event_weights",
    "time_decay_days",
    "returns",
    "sheet",
)

DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "view": 1,
    "click": 1,
    "cart": 3,
    "add_to_cart": 3,
    "addtocart": 3,
    "favorite": 2,
    "purchase": 5,
    "buy": 5,
    "order": 5,
    "transaction": 5,
    "浏览": 1,
    "点击": 1,
    "加购": 3,
    "收藏": 2,
    "购买": 5,
}
RETURNS_MODES = ("drop", "net")
#: below this share of unreadable timestamps the rows are dropped; at or above it the load fails
MAX_BAD_TIME_SHARE = 0.05
_SUMMED_KINDS = (None, "quantity", "revenue", "event")
#: rows read at a time from a CSV/TSV/TXT(.gz) or Parquet file
CHUNK_ROWS = 250_000
#: rows at the head of a file read in chunks on which column roles are detected (the whole file when shorter)
SAMPLE_ROWS = 1_000_000


def load_interactions(
    source: str | Path | pd.DataFrame,
    *,
    table: str | None = None,
    query: str | None = None,
    sheet: str | int | None = None,
    user_col: str | None = None,
    item_col: str | None = None,
    time_col: str | None = None,
    weight_col: str | None = None,
    user_attrs: Sequence[str] | None = None,
    item_attrs: Sequence[str] | Mapping[str, str] | None = None,
    event_weights: Mapping[str, float] | None = None,
    time_decay_days: float | None = None,
    returns: str = "drop",
    weight_kind: str | None = None,
    chunk_rows: int | None = CHUNK_ROWS,
) -> Interactions:
    """Read a behaviour table and return validated interactions.

    Parameters
    ----------
    source : str, Path or DataFrame
        A CSV/TSV/TXT, Parquet or .xlsx file, a SQLAlchemy URL (with ``table`` or ``query``), or a frame.
    table, query, sheet
        As in :func:`aigc_biz.data.read_table`.
    user_col, item_col, time_col, weight_col, user_attrs, item_attrs, weight_kind
        Override column detection, as in :func:`aigc_biz.data.detect_roles`.
    event_weights : mapping, optional
        Weight per event value (case-insensitive), added to / overriding :data:`DEFAULT_EVENT_WEIGHTS`.
        A weight of 0 ignores that event type.
    time_decay_days : float, optional
        Half-life in days of an event's weight (needs a time column).
    returns : {"drop", "net"}, default "drop"
        What to do with negative quantities/revenues: drop those rows, or net them against purchases.
    chunk_rows : int or None, default CHUNK_ROWS
        A CSV/TSV/TXT(.gz) or Parquet file is read this many rows at a time, so memory holds compact
        arrays rather than the table as text; the result is the same as reading it whole. Roles are
        detected on the first :data:`SAMPLE_ROWS` rows. None reads the whole table at once.

    Returns
    -------
    Interactions
        With ``roles``, ``source``, counted ``warnings`` and ``events`` (with ``time`` when known).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"customer_id": ["007", "007", "042"], "sku": ["A", "B", "A"],
    ...                       "quantity": ["2", "1", "5"]})
    >>> data = load_interactions(table)
    >>> list(data.user_ids), list(data.item_ids), data.matrix.toarray().tolist()
    (['007', '042'], ['A', 'B'], [[2.0, 1.0], [5.0, 0.0]])
    """
    _check_options(returns, time_decay_days, event_weights)
    if chunk_rows is not None and not (isinstance(chunk_rows, int) and chunk_rows >= 1):
        raise ConfigError(f"chunk_rows must be a whole number of rows >= 1 (or None), got {chunk_rows!r}")
    detect = {
        "user_col": user_col,
        "item_col": item_col,
        "time_col": time_col,
        "weight_col": weight_col,
        "user_attrs": user_attrs,
        "item_attrs": item_attrs,
        "weight_kind": weight_kind,
    }
    data = None
    if chunk_rows and table is None and query is None and is_streamable(source):
        try:
            data = _load_streamed(
                source, detect, chunk_rows, event_weights=event_weights, returns=returns, decay=time_decay_days
            )
        except NotStreamable:  # rare layouts only the whole-table reader decides
            data = None
    if data is None:
        frame = read_table(source, table=table, query=query, sheet=sheet)
        name = frame.attrs.get("source", str(source))
        roles = detect_roles(frame, **detect, source=name)
        clean, warnings = validate_frame(frame, roles, source=name, event_weights=event_weights, returns=returns)
        data = build_interactions(clean, roles, source=name, warnings=warnings, time_decay_days=time_decay_days)
    data.load_options = {
        "event_weights": dict(event_weights) if event_weights else None,
        "time_decay_days": time_decay_days,
        "returns": returns,
    }
    return data


def _load_streamed(source, detect: dict, chunk_rows: int, *, event_weights, returns, decay) -> Interactions:
    """:func:`load_interactions` for a file read ``chunk_rows`` rows at a time: roles and the time format
    from the head of the file, every chunk checked by :func:`check_rows` and added to one builder."""
    name = str(Path(source))
    chunks = iter_table_chunks(source, chunk_rows=chunk_rows)
    head: deque[pd.DataFrame] = deque()
    held = 0
    for chunk in chunks:
        head.append(chunk)
        held += len(chunk)
        if held >= SAMPLE_ROWS:
            break
    if held == 0:
        raise InputError("the table has a header but no data rows", file=name)
    sample = pd.concat(head, ignore_index=True)
    try:
        roles = detect_roles(sample, **detect, source=name)
    except InputError:
        for _ in chunks:  # a damaged row further down is reported first, as when the file is read whole
            pass
        raise
    del sample
    findings = RowFindings(roles, name)
    if roles.time is not None:
        findings.time_parser = timestamp_parser(_time_format_sample(source, roles, head, held, chunk_rows))
    builder = InteractionsBuilder(roles)
    while head:
        builder.add(check_rows(head.popleft(), roles, findings, event_weights=event_weights, returns=returns))
    for chunk in chunks:
        builder.add(check_rows(chunk, roles, findings, event_weights=event_weights, returns=returns))
    warnings = findings.result()
    return builder.finish(source=name, warnings=warnings, time_decay_days=decay)


def _time_format_sample(source, roles: ColumnRoles, head, held: int, chunk_rows: int) -> list[str]:
    """The time values the whole-table check chooses the format on: the first distinct ones among the rows
    with both ids. Usually all in the head; else the file is scanned again until there are enough."""
    whole_file = held < SAMPLE_ROWS
    for parts in (head,) if whole_file else (head, iter_table_chunks(source, chunk_rows=chunk_rows)):
        distinct: dict[str, None] = {}
        for part in parts:
            if len(_first_times(distinct, part, roles)) >= TIME_SAMPLE:
                return list(distinct)[:TIME_SAMPLE]
    return list(distinct)


def _first_times(distinct: dict, part: pd.DataFrame, roles: ColumnRoles) -> dict:
    keep = (_stripped(part[roles.user]).notna() & _stripped(part[roles.item]).notna()).to_numpy()
    distinct.update(dict.fromkeys(time_sample(part[roles.time][keep], TIME_SAMPLE)))
    return distinct


def _check_options(returns, time_decay_days, event_weights) -> None:
    if returns not in RETURNS_MODES:
        raise ConfigError(f"returns={returns!r} is not one of {', '.join(RETURNS_MODES)}")
    if time_decay_days is not None and not (np.isfinite(time_decay_days) and time_decay_days > 0):
        raise ConfigError(f"time_decay_days must be a positive number of days, got {time_decay_days!r}")
    for event, weight in (event_weights or {}).items():
        try:
            ok = np.isfinite(float(weight)) and float(weight) >= 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"event weight for {event!r} must be a number >= 0, got {weight!r}")


def validate_frame(
    df: pd.DataFrame,
    roles: ColumnRoles,
    *,
    source: str = "",
    event_weights: Mapping[str, float] | None = None,
    returns: str = "drop",
) -> tuple[pd.DataFrame, list[str]]:
    """Check every row of ``df`` against ``roles``; drop what may be dropped, reject the rest.

    Returns
    -------
    clean : DataFrame
        Columns ``user``, ``item``, ``weight`` (float64), ``row`` (message row number), ``time``
        (datetime64, only with a time column) and the attribute columns under their source names.
    warnings : list of str
        One counted message per kind of dropped row.
    """
    _check_options(returns, None, event_weights)
    file = source or df.attrs.get("source") or None
    findings = RowFindings(roles, file)
    clean = check_rows(df, roles, findings, event_weights=event_weights, returns=returns)
    return clean, findings.result()


class RowFindings:
    """What :func:`check_rows` found so far: dropped rows by kind, and the first case and the count of
    each problem that rejects the table. Summed over the parts of a table read in chunks, so a streamed
    table gets the messages (counts, first rows and values) of the whole one; :meth:`result` raises
    the first problem in the order the checks run, or returns the warnings."""

    _STAGES = ("user", "item", "time", "weight", "returns")

    def __init__(self, roles: ColumnRoles, file: str | None):
        self.roles, self.file = roles, file
        self._drops: dict[str, list] = {}  # stage -> [count, first row, what]
        self._ids = {"user": [0, 0], "item": [0, 0]}  # rows seen, rows with an empty id
        self._time = [0, 0, None, None]  # rows, unreadable, first row, first value shown
        self._not_number: list | None = None  # count, first value, first row
        self._unknown_events: dict = {}
        self._unknown_row: int | None = None
        self._prices: dict[str, list] = {}  # column -> count, first row, first value shown
        self.kept = 0
        self.time_parser = None

    def drop(self, work: pd.DataFrame, mask: np.ndarray, stage: str, what: str) -> pd.DataFrame:
        """Drop ``mask`` rows, counted as ``N rows <what> dropped (first at row R)``."""
        count = int(mask.sum())
        if count == 0:
            return work
        entry = self._drops.setdefault(stage, [0, int(work["row"].to_numpy()[mask][0]), what])
        entry[0] += count
        return work[~mask]

    def note_ids(self, key: str, empty: np.ndarray) -> None:
        """``empty``: which rows have no ``key`` ("user" or "item") id."""
        self._ids[key][0] += len(empty)
        self._ids[key][1] += int(empty.sum())

    def note_times(self, bad: np.ndarray, raw: pd.Series, rows: pd.Series) -> str:
        """Count unreadable times (``bad``); returns the first one overall, as the messages show it."""
        tally = self._time
        tally[0] += len(bad)
        if bad.any():
            if tally[1] == 0:
                first = int(np.flatnonzero(bad)[0])
                value = raw.iloc[first]
                tally[2] = int(rows.iloc[first])
                tally[3] = "an empty cell" if pd.isna(value) else repr(value)
            tally[1] += int(bad.sum())
        return tally[3]

    def note_not_numbers(self, bad: np.ndarray, raw: pd.Series, rows: pd.Series) -> None:
        if bad.any():
            if self._not_number is None:
                first = int(np.flatnonzero(bad)[0])
                self._not_number = [0, raw.iloc[first], int(rows.iloc[first])]
            self._not_number[0] += int(bad.sum())

    def note_unknown_events(self, unknown: np.ndarray, raw: pd.Series, rows: pd.Series) -> None:
        if unknown.any():
            if self._unknown_row is None:
                self._unknown_row = int(rows.iloc[int(np.flatnonzero(unknown)[0])])
            for value, n in raw[unknown].value_counts(sort=False).items():
                self._unknown_events[value] = self._unknown_events.get(value, 0) + int(n)

    def note_prices(self, column: str, values: pd.Series, rows: pd.Series) -> None:
        bad = _bad_prices(values, rows)
        if bad is not None:
            self._prices.setdefault(column, [0, bad[1], bad[2]])[0] += bad[0]

    def result(self) -> list[str]:
        """The warnings of every dropped row; InputError for the first problem that rejects the table."""
        roles, file = self.roles, self.file
        for key, column in (("user", roles.user), ("item", roles.item)):
            seen, empty = self._ids[key]
            if empty == seen:
                raise InputError(
                    f"every row has an empty {column}",
                    file=file,
                    column=column,
                    hint=f"is this the right column? pass --{key}-col to choose another",
                )
        rows, bad, first, shown = self._time
        if bad and bad / rows >= MAX_BAD_TIME_SHARE:
            raise InputError(
                f"cannot read {shown} as a date/time ({bad} of {rows} rows unreadable)",
                file=file,
                column=roles.time,
                row=first,
                hint=f"supported formats include {', '.join(SUPPORTED_FORMATS)}; "
                "pass --time-col to choose another column",
            )
        if self._not_number is not None:
            count, value, row = self._not_number
            raise InputError(
                f"{value!r} is not a number ({count} such rows)",
                file=file,
                column=roles.weight,
                row=row,
                hint="pass --weight-col to choose another weight column",
            )
        if self._unknown_events:
            self._raise_unknown_events()
        warnings = []
        for stage in self._STAGES:
            if stage in self._drops:
                count, first_row, what = self._drops[stage]
                warnings.append(f"{count} {'row' if count == 1 else 'rows'} {what} dropped (first at row {first_row})")
        if self.kept == 0:
            raise InputError("no usable rows are left after validation: " + "; ".join(warnings), file=file)
        for column in roles.item_attrs:
            if column in self._prices:
                _price_error(*self._prices[column], column, file)
        return warnings

    def _raise_unknown_events(self):
        counts = pd.Series(self._unknown_events).sort_values(ascending=False, kind="stable")
        listed = ", ".join(f"{value!r} ({n})" for value, n in counts.head(10).items())
        more = f" and {len(counts) - 10} more" if len(counts) > 10 else ""
        example = counts.index[0]
        raise InputError(
            f"no weight for event values {listed}{more}",
            file=self.file,
            column=self.roles.weight,
            row=self._unknown_row,
            hint=f"give each a weight: --event-weights '{example}=1,...' (event_weights="
            f"{{{example!r}: 1, ...}} in Python); 0 ignores an event type",
        )


def check_rows(
    df: pd.DataFrame,
    roles: ColumnRoles,
    findings: RowFindings,
    *,
    event_weights: Mapping[str, float] | None = None,
    returns: str = "drop",
) -> pd.DataFrame:
    """The usable rows of ``df`` (all of a table, or one chunk of it), what was dropped and why in ``findings``.

    Never raises for a row: problems are counted in ``findings``, whose ``result`` raises them, so a
    table read in chunks is judged on all of its rows.
    """
    rows = df.attrs.get("row_numbers")
    if rows is None:
        rows = np.arange(len(df)) + int(df.attrs.get("row_offset", 2))
    attr_cols = list(
        dict.fromkeys([*roles.user_attrs, *roles.item_attrs, *([roles.user_name] if roles.user_name else [])])
    )
    work = pd.DataFrame(
        {"user": _stripped(df[roles.user]), "item": _stripped(df[roles.item]), "row": np.asarray(rows, dtype=np.int64)}
    )
    for c in attr_cols:
        work[c] = df[c].to_numpy()

    for key, column in (("user", roles.user), ("item", roles.item)):
        empty = work[key].isna().to_numpy()
        findings.note_ids(key, empty)
        work = findings.drop(work, empty, key, f"with empty {column}")

    if roles.time is not None:
        raw_time = df[roles.time].reindex(work.index)
        times = parse_timestamps(raw_time, findings.time_parser)
        bad = times.isna().to_numpy()
        shown = findings.note_times(bad, raw_time, work["row"])
        work["time"] = times.to_numpy()
        work = findings.drop(work, bad, "time", f"with empty or unreadable {roles.time} (first value {shown})")

    if roles.weight is None:
        work["weight"] = 1.0
    else:
        raw_weight = df[roles.weight].reindex(work.index)
        empty = raw_weight.isna().to_numpy()
        work = findings.drop(work, empty, "weight", f"with empty {roles.weight}")
        raw_weight = raw_weight[~empty]
        if roles.weight_kind == "event":
            work["weight"] = _event_weights(raw_weight, work["row"], findings, event_weights)
        else:
            work["weight"] = _numbers(raw_weight, work["row"], findings)
            if roles.weight_kind in ("quantity", "revenue") and returns == "drop":
                negative = (work["weight"] < 0).to_numpy()
                work = findings.drop(work, negative, "returns", f"with negative {roles.weight} (returns)")
    findings.kept += len(work)
    for column, canonical in dict(roles.item_attrs).items():
        if canonical == "price":
            findings.note_prices(column, work[column], work["row"])
    return work.reset_index(drop=True)


#: the largest price a message may state; beyond it a price is a data error (and 1e30 cannot be printed in cents)
MAX_PRICE = 1e12


def check_prices(values: pd.Series, rows, column: str, file=None) -> None:
    """InputError naming file, column and row for the first price that is negative, infinite or absurd.

    Empty cells and text that is not a number are left to the caller (the copy leaves them out);
    a number that parses must be a price a customer can be shown.
    """
    bad = _bad_prices(values, rows)
    if bad is not None:
        _price_error(*bad, column, file)


def _bad_prices(values: pd.Series, rows) -> tuple[int, int, str] | None:
    """How many prices are not prices to show, the first one's row and the value as shown; None if all are."""
    text = values.astype("string").str.replace(",", "", regex=False).str.strip()
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    lowered = text.str.lower()
    spelled_out = lowered.isin(["inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"]).fillna(False)
    bad = ((numbers < 0) | (numbers > MAX_PRICE) | spelled_out).to_numpy(dtype=bool)
    if not bad.any():
        return None
    first = int(np.flatnonzero(bad)[0])
    row, value = np.asarray(rows)[first], values.iloc[first]
    return int(bad.sum()), int(row), repr(value) if isinstance(value, str) else str(value)


def _price_error(count: int, row: int, shown: str, column: str, file) -> None:
    raise InputError(
        f"price {shown} is not a price to show a customer ({count} such rows)",
        file=file,
        column=column,
        row=row,
        hint=f"prices are numbers from 0 to {MAX_PRICE:,.0f}; fix the row or leave the cell empty",
    )


def _stripped(series: pd.Series) -> pd.Series:
    text = series.astype("str").str.strip()
    return text.mask(text == "")


def _numbers(raw: pd.Series, rows: pd.Series, findings: RowFindings) -> np.ndarray:
    text = strip_currency(raw)
    # "1,234.50" is a thousands separator; a lone "12,5" stays unreadable rather than becoming 125
    thousands = text.str.match(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$", na=False)
    text = text.where(~thousands, text.str.replace(",", "", regex=False))
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    findings.note_not_numbers(~np.isfinite(values), raw, rows)
    return values


def normalize_event(values: pd.Series) -> pd.Series:
    """``' Add to-Cart '`` -> ``'add_to_cart'``: case and separators ignored."""
    return values.astype("str").str.strip().str.lower().str.replace(r"[\s\-]+", "_", regex=True)


def _event_weights(raw: pd.Series, rows: pd.Series, findings: RowFindings, event_weights) -> np.ndarray:
    table = {
        str(k).strip().lower().replace(" ", "_").replace("-", "_"): float(v)
        for k, v in {**DEFAULT_EVENT_WEIGHTS, **dict(event_weights or {})}.items()
    }
    keys = normalize_event(raw)
    weights = keys.map(table)
    findings.note_unknown_events(weights.isna().to_numpy(), raw, rows)
    return weights.to_numpy(dtype=np.float64)
