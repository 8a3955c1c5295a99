"""The real table a synthesizer learns from: the rows as written (text) beside what each row means.

The loader (:mod:`aigc_biz.data`) decides the column roles and validates every row; this module keeps
the rows it kept *as text*, because the synthetic table must come out in the input's own formats
(``62.90``, ``2023-01-01 00:47``, ``C000847``), which the parsed :class:`~aigc_biz.data.Interactions`
no longer holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from aigc_biz.data.interactions import ColumnRoles
from aigc_biz.data.loading import validate_frame
from aigc_biz.data.readers import read_table
from aigc_biz.data.roles import detect_roles
from aigc_biz.errors import InputError

__all__ = ["SourceTable", "read_source"]

#: the role options :func:`read_source` accepts (a subset of the loader's ROLE_FLAGS)
SOURCE_FLAGS = ("user_col", "item_col", "time_col", "weight_col", "user_attrs", "item_attrs", "sheet")


@dataclass
class SourceTable:
    """Validated rows of a behaviour table, as text and as values.

    Attributes
    ----------
    raw : DataFrame
        The kept rows with every column of the source, cells as the text the source holds.
    user, item : numpy object arrays of str (n_rows,)
    time : numpy datetime64[ns] array (n_rows,) or None
    quantity : float array (n_rows,) or None
        The weight column when it counts units or money (negative = a return), else None.
    roles : ColumnRoles
    """

    raw: pd.DataFrame
    user: np.ndarray
    item: np.ndarray
    time: np.ndarray | None
    quantity: np.ndarray | None
    roles: ColumnRoles
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def is_return(self) -> np.ndarray:
        """Rows with a negative quantity or revenue (returns, cancellations)."""
        if self.quantity is None:
            return np.zeros(len(self), dtype=bool)
        return self.quantity < 0

    def subset(self, mask: np.ndarray) -> "SourceTable":
        """The rows where ``mask`` is true (a time split, a customer split)."""
        mask = np.asarray(mask, dtype=bool)
        return replace(
            self,
            raw=self.raw[mask].reset_index(drop=True),
            user=self.user[mask],
            item=self.item[mask],
            time=None if self.time is None else self.time[mask],
            quantity=None if self.quantity is None else self.quantity[mask],
            warnings=list(self.warnings),
        )

    def before(self, share: float) -> tuple["SourceTable", "SourceTable"]:
        """Split by time at the ``share`` quantile of the timestamps: (earlier rows, later rows)."""
        if self.time is None:
            raise InputError("a split by time needs a time column", file=self.source or None, hint="pass --time-col")
        cut = np.quantile(self.time.astype("int64"), share).astype("datetime64[ns]")
        early = self.time < cut
        return self.subset(early), self.subset(~early)


def read_source(source, *, table: str | None = None, query: str | None = None, **role_flags) -> SourceTable:
    """Read ``source`` (file, URL or DataFrame), detect roles and keep the valid rows as text.

    Rows the loader drops (an empty customer or item, an unreadable timestamp or number) are dropped
    here too and counted in ``warnings``; returns (negative quantities) are kept.
    """
    unknown = set(role_flags) - set(SOURCE_FLAGS)
    if unknown:
        raise InputError(
            f"unknown option(s) for synth: {', '.join(sorted(unknown))}", hint="valid: " + ", ".join(SOURCE_FLAGS)
        )
    sheet = role_flags.pop("sheet", None)
    frame = read_table(source, table=table, query=query, sheet=sheet)
    name = str(frame.attrs.get("source", "<DataFrame>"))
    roles = detect_roles(frame, source=name, **{k: v for k, v in role_flags.items() if v is not None})
    clean, warnings = validate_frame(frame, roles, source=name, returns="net")
    rows = frame.attrs.get("row_numbers")
    if rows is None:
        rows = np.arange(len(frame)) + int(frame.attrs.get("row_offset", 2))
    position = pd.Series(np.arange(len(frame)), index=np.asarray(rows, dtype=np.int64))
    kept = position.loc[clean["row"].to_numpy(np.int64)].to_numpy()
    raw = frame.iloc[kept].reset_index(drop=True)
    quantity = None
    if roles.weight is not None and roles.weight_kind in ("quantity", "revenue"):
        quantity = clean["weight"].to_numpy(np.float64)
    return SourceTable(
        raw=raw,
        user=clean["user"].to_numpy(dtype=object),
        item=clean["item"].to_numpy(dtype=object),
        time=clean["time"].to_numpy(dtype="datetime64[ns]") if "time" in clean.columns else None,
        quantity=quantity,
        roles=roles,
        source=name,
        warnings=warnings,
    )


def role_flags(roles: ColumnRoles) -> dict:
    """The explicit column options that make a reader see ``roles`` again (no detection)."""
    return {
        "user_col": roles.user,
        "item_col": roles.item,
        "time_col": roles.time,
        "weight_col": roles.weight,
        "user_attrs": list(roles.user_attrs),
        "item_attrs": dict(roles.item_attrs),
    }


def read_like(frame: pd.DataFrame, roles: ColumnRoles, name: str = "<synthetic>") -> SourceTable:
    """A synthetic (or any) frame read with the column roles of the table it imitates."""
    framed = frame.copy()
    framed.attrs["source"] = name
    return read_source(framed, **role_flags(roles))
