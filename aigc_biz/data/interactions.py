"""The one object every model is fitted on: id maps, a CSR user x item matrix, user and item attributes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aigc_biz.errors import InputError


@dataclass
class ColumnRoles:
    """Which column of the source table plays which part. Names are the table's own headers."""

    user: str
    item: str
    time: str | None = None
    weight: str | None = None
    #: how ``weight`` is read: "rating", "quantity", "revenue", "event" (mapped by event weights) or None (count 1)
    weight_kind: str | None = None
    user_attrs: tuple[str, ...] = ()
    #: the customer's display name (for copy only; never a model feature)
    user_name: str | None = None
    #: item attribute column -> canonical name ("title", "category", "price" or the column itself)
    item_attrs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "user": self.user,
            "item": self.item,
            "time": self.time,
            "weight": self.weight,
            "weight_kind": self.weight_kind,
            "user_attrs": list(self.user_attrs),
            "user_name": self.user_name,
            "item_attrs": dict(self.item_attrs),
        }


@dataclass
class Interactions:
    """Users x items interactions with reversible id maps.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix of shape (n_users, n_items), float32
        Aggregated interaction strength (weighting scheme and time decay already applied).
    user_ids, item_ids : numpy object arrays of str
        Index -> the id exactly as it was in the source (leading zeros and long numbers kept).
    user_features : DataFrame with n_users rows (row i describes user i)
        Categorical context as strings (segment, region, age band, ...); may have no columns.
    item_features : DataFrame with n_items rows
        Canonical columns when known: ``title``, ``category``, ``price``; plus any other item attributes.
    user_names : numpy object array of str or None
        The customer's display name when the table has one (personalised copy); not a model feature.
    events : DataFrame or None
        One row per source event: ``user_idx``, ``item_idx``, ``weight`` and, when known, ``time``
        (datetime64). Temporal splits need it.
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    user_features: pd.DataFrame = field(default_factory=pd.DataFrame)
    item_features: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame | None = None
    user_names: np.ndarray | None = None
    roles: ColumnRoles | None = None
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    #: how the table was read beyond the roles: ``event_weights``, ``time_decay_days``, ``returns``
    load_options: dict = field(default_factory=dict)

    def __post_init__(self):
        self.matrix = sp.csr_matrix(self.matrix, dtype=np.float32)
        self.user_ids = np.asarray(self.user_ids, dtype=object)
        self.item_ids = np.asarray(self.item_ids, dtype=object)
        if self.matrix.shape != (len(self.user_ids), len(self.item_ids)):
            raise ValueError(
                f"matrix shape {self.matrix.shape} does not match "
                f"{len(self.user_ids)} users x {len(self.item_ids)} items"
            )
        if self.user_features is None or len(self.user_features.columns) == 0:
            self.user_features = pd.DataFrame(index=pd.RangeIndex(len(self.user_ids)))
        if self.item_features is None or len(self.item_features.columns) == 0:
            self.item_features = pd.DataFrame(index=pd.RangeIndex(len(self.item_ids)))
        self._user_pos: dict | None = None
        self._item_pos: dict | None = None

    # --- sizes -----------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    @property
    def sparsity(self) -> float:
        cells = self.n_users * self.n_items
        return 1.0 - self.nnz / cells if cells else 1.0

    # --- id maps ---------------------------------------------------------------------------
    def user_index(self, ids) -> np.ndarray:
        """Indices of the given user ids (as strings); -1 for an id this data has never seen."""
        if self._user_pos is None:
            self._user_pos = {u: i for i, u in enumerate(self.user_ids)}
        return np.array([self._user_pos.get(str(u), -1) for u in ids], dtype=np.int64)

    def item_index(self, ids) -> np.ndarray:
        """Indices of the given item ids (as strings); -1 for an unknown id."""
        if self._item_pos is None:
            self._item_pos = {t: i for i, t in enumerate(self.item_ids)}
        return np.array([self._item_pos.get(str(t), -1) for t in ids], dtype=np.int64)

    # --- derived views ---------------------------------------------------------------------
    def with_matrix(self, matrix: sp.spmatrix, events: pd.DataFrame | None = None) -> "Interactions":
        """Same users, items and attributes, another matrix (a split's train or test part)."""
        return replace(
            self, matrix=sp.csr_matrix(matrix, dtype=np.float32), events=events, warnings=list(self.warnings)
        )

    # --- time order ------------------------------------------------------------------------
    @property
    def event_order(self) -> str:
        """How each customer's events are ordered: ``"time"`` (the time column, ties in file order),
        ``"file"`` (no time column: the order of the rows in the source) or ``"none"`` (no event log)."""
        if self.events is None:
            return "none"
        return "time" if "time" in self.events.columns else "file"

    def ordered_events(self) -> pd.DataFrame:
        """The event log sorted by customer, then time (when known), ties in file order. Never densified."""
        if self.events is None:
            raise InputError(
                "these interactions have no event log, so they have no order",
                file=self.source or None,
                hint="load the table with aigc_biz.api.load",
            )
        keys = ["user_idx", "time"] if self.event_order == "time" else ["user_idx"]
        return self.events.sort_values(keys, kind="stable")

    def sequences(self) -> tuple[np.ndarray, np.ndarray]:
        """Each customer's items in time order, CSR-style: ``items[indptr[u]:indptr[u + 1]]`` for customer ``u``.

        Repeats are kept (one entry per event); customers without events have an empty slice.
        """
        ordered = self.ordered_events()
        users = ordered["user_idx"].to_numpy(np.int64)
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=self.n_users), out=indptr[1:])
        return indptr, ordered["item_idx"].to_numpy(np.int64)

    def recency_matrix(self, half_life: float, unit: str = "auto") -> sp.csr_matrix:
        """The (customer, item) pairs of ``matrix`` weighted by how recent the customer's last event with
        the item is: ``0.5 ** (age / half_life)``.

        ``unit``: ``"days"`` (age = the data's last time minus the event's time), ``"events"`` (age =
        how many of the customer's own events came after it) or ``"auto"`` (days when there is a time
        column, else events). Pairs the matrix does not hold (returns netted away) stay absent.
        """
        if not (np.isfinite(half_life) and half_life > 0):
            raise InputError(f"recency_half_life must be a positive number, got {half_life!r}")
        if unit == "auto":
            unit = "days" if self.event_order == "time" else "events"
        if unit not in ("days", "events"):
            raise InputError(f"recency unit {unit!r} is not 'days', 'events' or 'auto'")
        if unit == "days" and self.event_order != "time":
            raise InputError(
                "a recency half-life in days needs a time column",
                file=self.source or None,
                hint="pass --time-col, or give the half-life in events",
            )
        ordered = self.ordered_events()
        users = ordered["user_idx"].to_numpy(np.int64)
        items = ordered["item_idx"].to_numpy(np.int64)
        if unit == "days":
            times = ordered["time"].to_numpy(dtype="datetime64[ns]")
            age = (times.max() - times) / np.timedelta64(1, "D")
        else:
            counts = np.bincount(users, minlength=self.n_users)
            ends = np.cumsum(counts)
            age = (ends[users] - 1 - np.arange(len(users))).astype(np.float64)
        weight = np.power(0.5, age / float(half_life))
        # a pair's weight is that of its latest event: the most recent evidence of the customer's taste
        latest = pd.DataFrame({"pair": users * self.n_items + items, "w": weight}).groupby("pair")["w"].max()
        pairs = latest.index.to_numpy(np.int64)
        weighted = sp.csr_matrix(
            (latest.to_numpy(np.float32), (pairs // self.n_items, pairs % self.n_items)),
            shape=self.matrix.shape,
            dtype=np.float32,
        )
        present = self.binary()
        return sp.csr_matrix(weighted.multiply(present), dtype=np.float32)

    def with_items(self, item_ids) -> "Interactions":
        """The same customers on another catalogue: ``item_ids`` in that order, events of other items
        dropped, items the data has never seen as empty columns (e.g. a saved model's vocabulary)."""
        item_ids = np.asarray([str(t) for t in item_ids], dtype=object)
        source = self.item_index(item_ids)
        present = source >= 0
        move = sp.csr_matrix(
            (np.ones(int(present.sum()), dtype=np.float32), (source[present], np.flatnonzero(present))),
            shape=(self.n_items, len(item_ids)),
        )
        events = None
        if self.events is not None:
            target = np.full(self.n_items, -1, dtype=np.int64)
            target[source[present]] = np.flatnonzero(present)
            mapped = target[self.events["item_idx"].to_numpy(np.int64)]
            events = self.events[mapped >= 0].copy()
            events["item_idx"] = mapped[mapped >= 0].astype(np.int32)
            events = events.reset_index(drop=True)
        features = self.item_features.copy()
        features.index = pd.Index(self.item_ids)
        features = features.reindex(pd.Index(item_ids)).reset_index(drop=True)
        return replace(
            self,
            matrix=sp.csr_matrix(self.matrix @ move, dtype=np.float32),
            item_ids=item_ids,
            item_features=features,
            events=events,
            warnings=list(self.warnings),
        )

    def binary(self) -> sp.csr_matrix:
        """The matrix with every stored positive entry set to 1."""
        m = self.matrix.copy()
        m.data = (m.data > 0).astype(np.float32)
        m.eliminate_zeros()
        return m

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        user_col: str,
        item_col: str,
        weight_col: str | None = None,
        time_col: str | None = None,
        user_attr_cols=(),
        item_attr_cols: dict | None = None,
        **kwargs,
    ) -> "Interactions":
        """Build from a clean frame (ids already validated). Ids are kept as strings, sorted.

        Duplicate (user, item) pairs are summed; ``weight_col`` defaults to a count of 1 per row.
        """
        user_attr_cols, item_attr_cols = list(user_attr_cols), dict(item_attr_cols or {})
        clean = pd.DataFrame(
            {
                "user": df[user_col].astype(str).to_numpy(dtype=object),
                "item": df[item_col].astype(str).to_numpy(dtype=object),
                "weight": (
                    np.ones(len(df)) if weight_col is None else pd.to_numeric(df[weight_col]).to_numpy(dtype=np.float64)
                ),
            }
        )
        if time_col is not None:
            clean["time"] = pd.to_datetime(df[time_col]).to_numpy()
        for column in dict.fromkeys([*user_attr_cols, *item_attr_cols]):
            clean[column] = df[column].to_numpy()
        roles = ColumnRoles(
            user=user_col,
            item=item_col,
            time=time_col,
            weight=weight_col,
            weight_kind="quantity" if weight_col else None,
            user_attrs=tuple(user_attr_cols),
            item_attrs=item_attr_cols,
        )
        data = build_interactions(clean, roles)
        return replace(data, **kwargs) if kwargs else data


def data_schema(data: Interactions) -> dict:
    """How a table was read: column roles, user attribute columns, event weights, time decay, returns."""
    roles = data.roles.to_dict() if data.roles is not None else {}
    options = dict(data.load_options or {})
    return {
        "roles": roles,
        "user_feature_columns": [str(c) for c in data.user_features.columns],
        "event_weights": options.get("event_weights"),
        "time_decay_days": options.get("time_decay_days"),
        "returns": options.get("returns"),
    }


def build_interactions(
    clean: pd.DataFrame,
    roles: ColumnRoles,
    *,
    source: str = "",
    warnings: list[str] | None = None,
    time_decay_days: float | None = None,
) -> Interactions:
    """Id maps, weighted and aggregated matrix, per-user and per-item attributes from a validated frame."""
    builder = InteractionsBuilder(roles)
    builder.add(clean)
    return builder.finish(source=source, warnings=warnings, time_decay_days=time_decay_days)


class InteractionsBuilder:
    """:class:`Interactions` from validated rows handed in one part at a time (a table read in chunks).

    Between parts it keeps only compact arrays: int32 id codes (a growing id -> code map, sorted at the
    end), float64 weights, the time and the message row of each event, and counts per (id, attribute
    value); never the rows as text. One part or many give the same result.

    Examples
    --------
    >>> roles = ColumnRoles(user="u", item="i")
    >>> builder = InteractionsBuilder(roles)
    >>> builder.add(pd.DataFrame({"user": ["b", "a"], "item": ["x", "x"], "weight": [1.0, 2.0], "row": [2, 3]}))
    >>> builder.add(pd.DataFrame({"user": ["a"], "item": ["y"], "weight": [1.0], "row": [4]}))
    >>> data = builder.finish()
    >>> list(data.user_ids), data.matrix.toarray().tolist()
    (['a', 'b'], [[2.0, 1.0], [1.0, 0.0]])
    """

    def __init__(self, roles: ColumnRoles):
        self.roles = roles
        self._users, self._items = _IdCodes(), _IdCodes()
        self._parts: dict[str, list[np.ndarray]] = {"u": [], "i": [], "weight": [], "row": [], "time": []}
        self._user_modes = {c: _ModeCounts() for c in roles.user_attrs}
        if roles.user_name:
            self._user_modes.setdefault(roles.user_name, _ModeCounts())
        self._item_modes = {c: _ModeCounts() for c in roles.item_attrs}
        self._prices = {c: _PriceValues() for c, canonical in roles.item_attrs.items() if canonical == "price"}

    def add(self, clean: pd.DataFrame) -> None:
        """Add validated rows (columns ``user``, ``item``, ``weight``, optional ``row``, ``time``, attributes)."""
        u = self._users.encode(clean["user"])
        i = self._items.encode(clean["item"])
        parts = self._parts
        parts["u"].append(u)
        parts["i"].append(i)
        parts["weight"].append(clean["weight"].to_numpy(dtype=np.float64))
        if "row" in clean.columns:
            parts["row"].append(clean["row"].to_numpy(np.int64))
        else:  # a frame built by hand: its index names the row
            parts["row"].append(np.asarray(clean.index, dtype=np.int64))
        if "time" in clean.columns:
            parts["time"].append(clean["time"].to_numpy(dtype="datetime64[ns]"))
        for column, counts in self._user_modes.items():
            counts.add(u, clean[column])
        for column, counts in self._item_modes.items():
            counts.add(i, clean[column])
        for column, prices in self._prices.items():
            prices.add(i, clean[column])

    def finish(
        self, *, source: str = "", warnings: list[str] | None = None, time_decay_days: float | None = None
    ) -> Interactions:
        """The :class:`Interactions` of every row added; raises the checks of the whole table."""
        roles, parts = self.roles, self._parts
        user_rank, user_ids = self._users.sorted()
        item_rank, item_ids = self._items.sorted()
        u_idx = user_rank[_joined(parts["u"], np.int32)]
        i_idx = item_rank[_joined(parts["i"], np.int32)]
        weight = _joined(parts["weight"], np.float64)
        has_time = bool(parts["time"])
        times = _joined(parts["time"], "datetime64[ns]") if has_time else None
        if time_decay_days is not None:
            if not has_time:
                raise InputError(
                    "time decay needs a time column",
                    file=source or None,
                    hint="pass --time-col, or leave time_decay_days unset",
                )
            age_days = (times.max() - times) / np.timedelta64(1, "D")
            weight = weight * 0.5 ** (age_days / float(time_decay_days))
        _check_weights(weight, self._rows(), roles, source)
        events = pd.DataFrame(
            {
                "user_idx": u_idx.astype(np.int32),
                "item_idx": i_idx.astype(np.int32),
                "weight": weight.astype(np.float32),
            }
        )
        del weight
        if has_time:
            events["time"] = times
        with np.errstate(over="ignore"):  # an overflowing sum is refused just below
            matrix = aggregate_events(events, roles.weight_kind, (len(user_ids), len(item_ids)))
        if matrix.nnz and not np.isfinite(matrix.data).all():
            raise InputError(
                "the summed weights overflow (a customer-item total is beyond 3.4e38)",
                file=source or None,
                column=roles.weight,
                hint="check the weight column's units, or pass --weight-col",
            )
        n_users, n_items = len(user_ids), len(item_ids)
        user_features = pd.DataFrame(
            {c: self._user_modes[c].modes(user_rank, n_users) for c in roles.user_attrs},
            index=pd.RangeIndex(n_users),
        )
        item_columns = {}
        for column, canonical in roles.item_attrs.items():
            if canonical in item_columns:
                raise InputError(
                    f"two item attribute columns would both be called {canonical!r}",
                    file=source or None,
                    column=column,
                    hint="name them differently in item_attrs",
                )
            prices = self._prices.get(column)
            item_columns[canonical] = (
                prices.medians(item_rank, n_items, self._item_modes[column])
                if prices is not None
                else self._item_modes[column].modes(item_rank, n_items)
            )
        item_features = pd.DataFrame(item_columns, index=pd.RangeIndex(n_items))
        user_names = (
            None
            if not roles.user_name
            else np.asarray(self._user_modes[roles.user_name].modes(user_rank, n_users), dtype=object)
        )
        return Interactions(
            matrix=matrix,
            user_ids=user_ids,
            item_ids=item_ids,
            user_features=user_features,
            item_features=item_features,
            events=events,
            user_names=user_names,
            roles=roles,
            source=source,
            warnings=list(warnings or []),
        )

    def _rows(self) -> np.ndarray:
        """Each event's message row."""
        return _joined(self._parts["row"], np.int64)


def _joined(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


class _IdCodes:
    """A growing id -> code map in order of first appearance; :meth:`sorted` gives the sorted ids."""

    def __init__(self):
        self._codes: dict[str, int] = {}

    def encode(self, ids: pd.Series) -> np.ndarray:
        codes, uniques = pd.factorize(ids)
        known = self._codes
        uniques = np.asarray(uniques, dtype=object)  # iterating an Arrow-backed array is ten times slower
        new = [u for u in uniques if u not in known]
        known.update(zip(new, range(len(known), len(known) + len(new))))
        table = np.fromiter(map(known.__getitem__, uniques), dtype=np.int32, count=len(uniques))
        return table[codes]

    def sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """``rank[code]`` (the position of each code's id among the sorted ids) and the sorted ids."""
        import pyarrow as pa
        import pyarrow.compute as pc

        ids = np.fromiter(self._codes, dtype=object, count=len(self._codes))
        # UTF-8 byte order is code point order, the order of Python's str comparison; Arrow sorts far faster
        order = pc.array_sort_indices(pa.array(ids, type=pa.string())).to_numpy(zero_copy_only=False)
        rank = np.empty(len(ids), dtype=np.int64)
        rank[order] = np.arange(len(ids))
        return rank, ids[order]


class _ModeCounts:
    """Rows per (code, non-empty value), summed part by part; the most frequent value per code at the end."""

    #: rows of partial counts held before they are summed into one table
    _COMPACT_ROWS = 2_000_000

    def __init__(self):
        self._counts: list[pd.DataFrame] = []
        self._held = 0

    def add(self, codes: np.ndarray, values: pd.Series) -> None:
        part = pd.DataFrame({"i": codes, "v": values.to_numpy(dtype=object)}).dropna()
        if len(part):
            counts = part.groupby(["i", "v"], sort=False).size().reset_index(name="n")
            self._counts.append(counts)
            self._held += len(counts)
            if self._held > self._COMPACT_ROWS and len(self._counts) > 1:
                self._counts = [self._summed()]
                self._held = len(self._counts[0])

    def _summed(self) -> pd.DataFrame:
        return pd.concat(self._counts).groupby(["i", "v"], sort=False)["n"].sum().reset_index()

    def modes(self, rank: np.ndarray, n: int) -> pd.Series:
        """Most frequent non-empty value per index (ties: the smallest value), NA where none."""
        out = pd.Series([None] * n, dtype="str")
        if self._counts:
            counts = self._summed()
            counts["i"] = rank[counts["i"].to_numpy(np.int64)]
            counts = counts.groupby(["i", "v"], sort=True)["n"].sum().reset_index()
            best = counts.sort_values(["i", "n"], ascending=[True, False], kind="stable").drop_duplicates("i")
            out.iloc[best["i"].to_numpy()] = best["v"].astype("str").to_numpy()
        return out


class _PriceValues:
    """Each row's price as a number (and how many cells were there), for the median price per item."""

    def __init__(self):
        self._codes: list[np.ndarray] = []
        self._numbers: list[np.ndarray] = []
        self.cells = 0
        self.numeric = 0

    def add(self, codes: np.ndarray, values: pd.Series) -> None:
        text = strip_currency(values)
        numbers = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce").to_numpy(np.float64)
        self._codes.append(codes)
        self._numbers.append(numbers)
        self.cells += int(values.notna().sum())
        self.numeric += int((~np.isnan(numbers)).sum())

    def medians(self, rank: np.ndarray, n: int, modes: _ModeCounts) -> pd.Series:
        """Median numeric price per item (prices vary with discounts, the median is the typical one);
        the most frequent text when fewer than half of the cells are numbers."""
        if self.cells and self.numeric < 0.5 * self.cells:
            return modes.modes(rank, n)
        idx = rank[_joined(self._codes, np.int32)]
        medians = pd.Series(_joined(self._numbers, np.float64), index=idx).groupby(level=0).median()
        return medians.reindex(range(n)).reset_index(drop=True).astype(np.float64)


def _check_weights(weight: np.ndarray, rows: np.ndarray, roles: ColumnRoles, source: str) -> None:
    """InputError for a weight that is NaN, infinite or beyond float32 (the models' precision): every
    score built on it would be NaN or infinite, and the output silently empty."""
    bad = ~np.isfinite(weight) | (np.abs(weight) > np.finfo(np.float32).max)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"weight {float(weight[first])!r} is not a finite number within ±3.4e38 ({int(bad.sum())} such rows)",
            file=source or None,
            column=roles.weight,
            row=int(rows[first]),
            hint="check the weight column (or --event-weights), or pass --weight-col",
        )


def aggregate_events(events: pd.DataFrame, weight_kind: str | None, shape: tuple[int, int]) -> sp.csr_matrix:
    """One value per (user, item): the latest rating, or the sum of other weights clipped at 0."""
    u = events["user_idx"].to_numpy(dtype=np.int64)
    i = events["item_idx"].to_numpy(dtype=np.int64)
    w = events["weight"].to_numpy(dtype=np.float64)
    if weight_kind == "rating":
        # stable sort by time (row order breaks ties), then keep the last value of each pair
        order = (
            np.argsort(events["time"].to_numpy(), kind="stable") if "time" in events.columns else np.arange(len(events))
        )
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


#: a currency sign before a number or a currency word after it ("¥1,299", "89 元", "12.5 EUR")
CURRENCY_AFFIX = r"^[¥￥$€£]\s*|\s*(元|RMB|CNY|USD|EUR)$"


#: a character every currency sign or word above contains
_CURRENCY_CHARS = r"[¥￥$€£元RCUE]"


def strip_currency(values: pd.Series) -> pd.Series:
    """Cells as stripped text without a currency sign or word, ready for a number parser."""
    text = values.astype("str").str.strip()
    # the affix pattern runs cell by cell in Python: only on the cells that could hold one
    marked = text.str.contains(_CURRENCY_CHARS, regex=True, na=False)
    if marked.any():
        text = text.copy()
        text[marked] = text[marked].str.replace(CURRENCY_AFFIX, "", regex=True)
    return text
