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
import scipy.sparse as sp

from aigc_biz.data.interactions import ColumnRoles, Interactions
from aigc_biz.data.readers import read_table
from aigc_biz.data.roles import detect_roles
from aigc_biz.data.timestamps import SUPPORTED_FORMATS, parse_timestamps
from aigc_biz.errors import ConfigError, InputError

__all__ = ["load_interactions", "validate_frame", "build_interactions", "aggregate_events",
           "DEFAULT_EVENT_WEIGHTS", "RETURNS_MODES"]

DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "view": 1, "click": 1, "cart": 3, "add_to_cart": 3, "addtocart": 3, "favorite": 2, "purchase": 5,
    "buy": 5, "order": 5, "transaction": 5,
    "浏览": 1, "点击": 1, "加购": 3, "收藏": 2, "购买": 5,
}
RETURNS_MODES = ("drop", "net")
#: below this share of unreadable timestamps the rows are dropped; at or above it the load fails
MAX_BAD_TIME_SHARE = 0.05
_SUMMED_KINDS = (None, "quantity", "revenue", "event")


def load_interactions(source: str | Path | pd.DataFrame, *, table: str | None = None,
                      query: str | None = None, sheet: str | int | None = None,
                      user_col: str | None = None, item_col: str | None = None, time_col: str | None = None,
                      weight_col: str | None = None, user_attrs: Sequence[str] | None = None,
                      item_attrs: Sequence[str] | Mapping[str, str] | None = None,
                      event_weights: Mapping[str, float] | None = None, time_decay_days: float | None = None,
                      returns: str = "drop", weight_kind: str | None = None) -> Interactions:
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
    roles = detect_roles(frame, user_col=user_col, item_col=item_col, time_col=time_col,
                         weight_col=weight_col, user_attrs=user_attrs, item_attrs=item_attrs,
                         weight_kind=weight_kind, source=name)
    clean, warnings = validate_frame(frame, roles, source=name, event_weights=event_weights, returns=returns)
    data = build_interactions(clean, roles, source=name, warnings=warnings, time_decay_days=time_decay_days)
    data.load_options = {"event_weights": dict(event_weights) if event_weights else None,
                         "time_decay_days": time_decay_days, "returns": returns}
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


def validate_frame(df: pd.DataFrame, roles: ColumnRoles, *, source: str = "",
                   event_weights: Mapping[str, float] | None = None,
                   returns: str = "drop") -> tuple[pd.DataFrame, list[str]]:
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
    attr_cols = list(dict.fromkeys([*roles.user_attrs, *roles.item_attrs,
                                    *([roles.user_name] if roles.user_name else [])]))
    work = pd.DataFrame({"user": _stripped(df[roles.user]), "item": _stripped(df[roles.item]),
                         "row": np.asarray(rows, dtype=np.int64)})
    for c in attr_cols:
        work[c] = df[c].to_numpy()
    warnings: list[str] = []

    for key, column in (("user", roles.user), ("item", roles.item)):
        empty = work[key].isna().to_numpy()
        if empty.all():
            raise InputError(f"every row has an empty {column}", file=file, column=column,
                             hint=f"is this the right column? pass --{key}-col to choose another")
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
                raise InputError(f"cannot read {shown} as a date/time ({int(bad.sum())} of {len(bad)} rows "
                                 f"unreadable)", file=file, column=roles.time, row=int(work["row"].iloc[first]),
                                 hint=f"supported formats include {', '.join(SUPPORTED_FORMATS)}; "
                                      "pass --time-col to choose another column")
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
    return work.reset_index(drop=True), warnings


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
    text = raw.astype("str").str.strip().str.replace(r"^[¥￥$€£]\s*|\s*(元|RMB|CNY|USD|EUR)$", "", regex=True)
    # "1,234.50" is a thousands separator; a lone "12,5" stays unreadable rather than becoming 125
    thousands = text.str.match(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$", na=False)
    text = text.where(~thousands, text.str.replace(",", "", regex=False))
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(f"{raw.iloc[first]!r} is not a number ({int(bad.sum())} such rows)", file=file,
                         column=column, row=int(rows.iloc[first]),
                         hint="pass --weight-col to choose another weight column")
    return values


def normalize_event(values: pd.Series) -> pd.Series:
    """``' Add to-Cart '`` -> ``'add_to_cart'``: case and separators ignored."""
    return values.astype("str").str.strip().str.lower().str.replace(r"[\s\-]+", "_", regex=True)


def _event_weights(raw: pd.Series, rows: pd.Series, column: str, file, event_weights) -> np.ndarray:
    table = {str(k).strip().lower().replace(" ", "_").replace("-", "_"): float(v)
             for k, v in {**DEFAULT_EVENT_WEIGHTS, **dict(event_weights or {})}.items()}
    keys = normalize_event(raw)
    weights = keys.map(table)
    unknown = weights.isna().to_numpy()
    if unknown.any():
        counts = raw[unknown].value_counts()
        listed = ", ".join(f"{value!r} ({n})" for value, n in counts.head(10).items())
        more = f" and {len(counts) - 10} more" if len(counts) > 10 else ""
        first = int(np.flatnonzero(unknown)[0])
        example = counts.index[0]
        raise InputError(f"no weight for event values {listed}{more}", file=file, column=column,
                         row=int(rows.iloc[first]),
                         hint=f"give each a weight: --event-weights '{example}=1,...' (event_weights="
                              f"{{{example!r}: 1, ...}} in Python); 0 ignores an event type")
    return weights.to_numpy(dtype=np.float64)


def build_interactions(clean: pd.DataFrame, roles: ColumnRoles, *, source: str = "",
                       warnings: list[str] | None = None,
                       time_decay_days: float | None = None) -> Interactions:
    """Id maps, weighted and aggregated matrix, per-user and per-item attributes from a validated frame."""
    u_idx, user_ids = _sorted_codes(clean["user"])
    i_idx, item_ids = _sorted_codes(clean["item"])
    weight = clean["weight"].to_numpy(dtype=np.float64)
    has_time = "time" in clean.columns
    if time_decay_days is not None:
        if not has_time:
            raise InputError("time decay needs a time column", file=source or None,
                             hint="pass --time-col, or leave time_decay_days unset")
        times = clean["time"].to_numpy(dtype="datetime64[ns]")
        age_days = (times.max() - times) / np.timedelta64(1, "D")
        weight = weight * 0.5 ** (age_days / float(time_decay_days))
    events = pd.DataFrame({"user_idx": u_idx.astype(np.int32), "item_idx": i_idx.astype(np.int32),
                           "weight": weight.astype(np.float32)})
    if has_time:
        events["time"] = clean["time"].to_numpy(dtype="datetime64[ns]")
    matrix = aggregate_events(events, roles.weight_kind, (len(user_ids), len(item_ids)))
    user_features = pd.DataFrame({c: _mode_per_index(u_idx, clean[c], len(user_ids)) for c in roles.user_attrs},
                                 index=pd.RangeIndex(len(user_ids)))
    item_columns = {}
    for column, canonical in roles.item_attrs.items():
        if canonical in item_columns:
            raise InputError(f"two item attribute columns would both be called {canonical!r}",
                             file=source or None, column=column, hint="name them differently in item_attrs")
        item_columns[canonical] = (_median_price(i_idx, clean[column], len(item_ids)) if canonical == "price"
                                   else _mode_per_index(i_idx, clean[column], len(item_ids)))
    item_features = pd.DataFrame(item_columns, index=pd.RangeIndex(len(item_ids)))
    user_names = (None if not roles.user_name else
                  np.asarray(_mode_per_index(u_idx, clean[roles.user_name], len(user_ids)), dtype=object))
    return Interactions(matrix=matrix, user_ids=user_ids, item_ids=item_ids, user_features=user_features,
                        item_features=item_features, events=events, user_names=user_names, roles=roles,
                        source=source,
                        warnings=list(warnings or []))


def _sorted_codes(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Index of each row's id, and the sorted distinct ids (hash-based: far faster than sorting objects)."""
    codes, uniques = pd.factorize(ids, sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def aggregate_events(events: pd.DataFrame, weight_kind: str | None, shape: tuple[int, int]) -> sp.csr_matrix:
    """One value per (user, item): the latest rating, or the sum of other weights clipped at 0."""
    u = events["user_idx"].to_numpy(dtype=np.int64)
    i = events["item_idx"].to_numpy(dtype=np.int64)
    w = events["weight"].to_numpy(dtype=np.float64)
    if weight_kind == "rating":
        # stable sort by time (row order breaks ties), then keep the last value of each pair
        order = np.argsort(events["time"].to_numpy(), kind="stable") if "time" in events.columns \
            else np.arange(len(events))
        pair = u[order] * shape[1] + i[order]
        last = len(pair) - 1 - np.unique(pair[::-1], return_index=True)[1]
        keep = order[last]
        matrix = sp.csr_matrix((w[keep], (u[keep], i[keep])), shape=shape, dtype=np.float64)
    else:
        matrix = sp.csr_matrix((w, (u, i)), shape=shape, dtype=np.float64)
        matrix.sum_duplicates()
        # returns netted beyond what was bought leave nothing, not a negative preference
        np.clip(matrix.data, 0, None, out=matrix.data)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix.astype(np.float32)


def _mode_per_index(idx: np.ndarray, values: pd.Series, n: int) -> pd.Series:
    """Most frequent non-empty value per index (ties: the smallest value), NA where none."""
    part = pd.DataFrame({"i": idx, "v": values.to_numpy(dtype=object)}).dropna()
    out = pd.Series([None] * n, dtype="str")
    if len(part):
        counts = part.groupby(["i", "v"], sort=True).size().reset_index(name="n")
        best = counts.sort_values(["i", "n"], ascending=[True, False], kind="stable").drop_duplicates("i")
        out.iloc[best["i"].to_numpy()] = best["v"].astype("str").to_numpy()
    return out


def _median_price(idx: np.ndarray, values: pd.Series, n: int) -> pd.Series:
    """Median numeric price per item; prices vary with discounts, the median is the typical one."""
    text = values.astype("str").str.strip().str.replace(r"^[¥￥$€£]\s*|\s*(元|RMB|CNY|USD|EUR)$", "", regex=True)
    numbers = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
    if values.notna().sum() and numbers.notna().sum() < 0.5 * values.notna().sum():
        return _mode_per_index(idx, values, n)
    medians = pd.Series(numbers.to_numpy(), index=idx).groupby(level=0).median()
    return medians.reindex(range(n)).reset_index(drop=True).astype(np.float64)
