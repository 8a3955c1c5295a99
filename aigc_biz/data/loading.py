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

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from aigc_biz.data.interactions import ColumnRoles, Interactions, aggregate_events, build_interactions, strip_currency
from aigc_biz.data.readers import read_table
from aigc_biz.data.roles import detect_roles
from aigc_biz.data.timestamps import SUPPORTED_FORMATS, parse_timestamps
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
    frame = read_table(source, table=table, query=query, sheet=sheet)
    name = frame.attrs.get("source", str(source))
    roles = detect_roles(
        frame,
        user_col=user_col,
        item_col=item_col,
        time_col=time_col,
        weight_col=weight_col,
        user_attrs=user_attrs,
        item_attrs=item_attrs,
        weight_kind=weight_kind,
        source=name,
    )
    clean, warnings = validate_frame(frame, roles, source=name, event_weights=event_weights, returns=returns)
    data = build_interactions(clean, roles, source=name, warnings=warnings, time_decay_days=time_decay_days)
    data.load_options = {
        "event_weights": dict(event_weights) if event_weights else None,
        "time_decay_days": time_decay_days,
        "returns": returns,
    }
    return data


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
    warnings: list[str] = []

    for key, column in (("user", roles.user), ("item", roles.item)):
        empty = work[key].isna().to_numpy()
        if empty.all():
            raise InputError(
                f"every row has an empty {column}",
                file=file,
                column=column,
                hint=f"is this the right column? pass --{key}-col to choose another",
            )
        work = _drop(work, empty, f"with empty {column}", warnings)

    if roles.time is not None:
        raw_time = df[roles.time].reindex(work.index)
        times = parse_timestamps(raw_time)
        bad = times.isna().to_numpy()
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            value = raw_time.iloc[first]
            shown = "an empty cell" if pd.isna(value) else repr(value)
            if bad.mean() >= MAX_BAD_TIME_SHARE:
                raise InputError(
                    f"cannot read {shown} as a date/time ({int(bad.sum())} of {len(bad)} rows unreadable)",
                    file=file,
                    column=roles.time,
                    row=int(work["row"].iloc[first]),
                    hint=f"supported formats include {', '.join(SUPPORTED_FORMATS)}; "
                    "pass --time-col to choose another column",
                )
            work["time"] = times.to_numpy()
            work = _drop(work, bad, f"with empty or unreadable {roles.time} (first value {shown})", warnings)
        else:
            work["time"] = times.to_numpy()

    if roles.weight is None:
        work["weight"] = 1.0
    else:
        raw_weight = df[roles.weight].reindex(work.index)
        empty = raw_weight.isna().to_numpy()
        work = _drop(work, empty, f"with empty {roles.weight}", warnings)
        raw_weight = raw_weight[~empty]
        if roles.weight_kind == "event":
            work["weight"] = _event_weights(raw_weight, work["row"], roles.weight, file, event_weights)
        else:
            work["weight"] = _numbers(raw_weight, work["row"], roles.weight, file)
            if roles.weight_kind in ("quantity", "revenue") and returns == "drop":
                negative = (work["weight"] < 0).to_numpy()
                work = _drop(work, negative, f"with negative {roles.weight} (returns)", warnings)
    if len(work) == 0:
        raise InputError("no usable rows are left after validation: " + "; ".join(warnings), file=file)
    for column, canonical in dict(roles.item_attrs).items():
        if canonical == "price":
            check_prices(work[column], work["row"], column, file)
    return work.reset_index(drop=True), warnings


#: the largest price a message may state; beyond it a price is a data error (and 1e30 cannot be printed in cents)
MAX_PRICE = 1e12


def check_prices(values: pd.Series, rows, column: str, file=None) -> None:
    """InputError naming file, column and row for the first price that is negative, infinite or absurd.

    Empty cells and text that is not a number are left to the caller (the copy leaves them out);
    a number that parses must be a price a customer can be shown.
    """
    text = values.astype("string").str.replace(",", "", regex=False).str.strip()
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    lowered = text.str.lower()
    spelled_out = lowered.isin(["inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"]).fillna(False)
    bad = ((numbers < 0) | (numbers > MAX_PRICE) | spelled_out).to_numpy(dtype=bool)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        row, value = np.asarray(rows)[first], values.iloc[first]
        shown = repr(value) if isinstance(value, str) else str(value)
        raise InputError(
            f"price {shown} is not a price to show a customer ({int(bad.sum())} such rows)",
            file=file,
            column=column,
            row=int(row),
            hint=f"prices are numbers from 0 to {MAX_PRICE:,.0f}; fix the row or leave the cell empty",
        )


def _stripped(series: pd.Series) -> pd.Series:
    text = series.astype("str").str.strip()
    return text.mask(text == "")


def _drop(work: pd.DataFrame, mask: np.ndarray, what: str, warnings: list[str]) -> pd.DataFrame:
    """Drop ``mask`` rows, recording ``N rows <what> dropped (first at row R)``."""
    count = int(mask.sum())
    if count == 0:
        return work
    first = int(work["row"].to_numpy()[mask][0])
    noun = "row" if count == 1 else "rows"
    warnings.append(f"{count} {noun} {what} dropped (first at row {first})")
    return work[~mask]


def _numbers(raw: pd.Series, rows: pd.Series, column: str, file) -> np.ndarray:
    text = strip_currency(raw)
    # "1,234.50" is a thousands separator; a lone "12,5" stays unreadable rather than becoming 125
    thousands = text.str.match(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$", na=False)
    text = text.where(~thousands, text.str.replace(",", "", regex=False))
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{raw.iloc[first]!r} is not a number ({int(bad.sum())} such rows)",
            file=file,
            column=column,
            row=int(rows.iloc[first]),
            hint="pass --weight-col to choose another weight column",
        )
    return values


def normalize_event(values: pd.Series) -> pd.Series:
    """``' Add to-Cart '`` -> ``'add_to_cart'``: case and separators ignored."""
    return values.astype("str").str.strip().str.lower().str.replace(r"[\s\-]+", "_", regex=True)


def _event_weights(raw: pd.Series, rows: pd.Series, column: str, file, event_weights) -> np.ndarray:
    table = {
        str(k).strip().lower().replace(" ", "_").replace("-", "_"): float(v)
        for k, v in {**DEFAULT_EVENT_WEIGHTS, **dict(event_weights or {})}.items()
    }
    keys = normalize_event(raw)
    weights = keys.map(table)
    unknown = weights.isna().to_numpy()
    if unknown.any():
        counts = raw[unknown].value_counts()
        listed = ", ".join(f"{value!r} ({n})" for value, n in counts.head(10).items())
        more = f" and {len(counts) - 10} more" if len(counts) > 10 else ""
        first = int(np.flatnonzero(unknown)[0])
        example = counts.index[0]
        raise InputError(
            f"no weight for event values {listed}{more}",
            file=file,
            column=column,
            row=int(rows.iloc[first]),
            hint=f"give each a weight: --event-weights '{example}=1,...' (event_weights="
            f"{{{example!r}: 1, ...}} in Python); 0 ignores an event type",
        )
    return weights.to_numpy(dtype=np.float64)
