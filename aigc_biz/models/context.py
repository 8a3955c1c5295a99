"""User attributes (segment, region, age band...) -> one-hot vectors that context-aware models condition on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from aigc_biz.errors import ModelError

#: slot 0 of every column's block: missing values and values never seen at fit time
UNKNOWN = "<unknown>"


def _as_text(values: pd.Series) -> np.ndarray:
    """Column values as stripped strings; missing values become ``UNKNOWN``."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values.to_numpy(dtype=object)):
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            out[i] = UNKNOWN
        else:
            text = str(value).strip()
            out[i] = text if text else UNKNOWN
    return out


class ContextEncoder:
    """One vocabulary per attribute column, learned at ``fit``; ``transform`` gives one-hot rows.

    Every column owns a block of ``1 + len(vocabulary)`` slots; slot 0 of the block is "unknown"
    (missing, blank or never seen at fit time), so a new segment never breaks scoring.

    Parameters
    ----------
    max_values : int
        Most frequent values kept per column; rarer values share the unknown slot (bounds the width
        when a column is nearly unique, such as a free-text city).

    Attributes
    ----------
    columns_ : list of str
        Attribute columns in the order of their blocks.
    vocabularies_ : dict of str -> list of str
        Known values of each column, in slot order (slot 1 onwards).
    n_features_ : int
        Width of the one-hot output (sum of block sizes); 0 when there are no columns.

    Examples
    --------
    >>> enc = ContextEncoder().fit(pd.DataFrame({"segment": ["vip", "new", "vip"]}))
    >>> enc.transform(pd.DataFrame({"segment": ["new", "gold"]})).tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """

    def __init__(self, max_values: int = 1000):
        self.max_values = max_values

    def fit(self, frame: pd.DataFrame) -> "ContextEncoder":
        if self.max_values < 1:
            raise ModelError(f"max_values must be at least 1, got {self.max_values}")
        self.columns_ = [str(c) for c in frame.columns]
        self.vocabularies_ = {}
        for column in frame.columns:
            text = pd.Series(_as_text(frame[column]))
            counts = text[text != UNKNOWN].value_counts()
            # ties broken by value so the vocabulary does not depend on row order
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: self.max_values]
            self.vocabularies_[str(column)] = sorted(value for value, _ in ranked)
        self._build_lookup()
        return self

    def grown(self, frame: pd.DataFrame) -> "ContextEncoder":
        """A new encoder with this one's slots first and the values of ``frame`` it lacks appended (warm start).

        Every column's known values keep their order; new values (most frequent first, ties by value)
        follow them, up to ``max_values`` per column. ``frame`` must have exactly this encoder's columns.

        Examples
        --------
        >>> old = ContextEncoder().fit(pd.DataFrame({"segment": ["vip", "new"]}))
        >>> old.grown(pd.DataFrame({"segment": ["gold", "vip"]})).vocabularies_
        {'segment': ['new', 'vip', 'gold']}
        """
        self.check_fitted()
        if [str(c) for c in frame.columns] != self.columns_:
            raise ModelError(
                f"user attribute columns {[str(c) for c in frame.columns]} differ from the model's {self.columns_}"
            )
        out = ContextEncoder(self.max_values)
        out.columns_ = list(self.columns_)
        out.vocabularies_ = {}
        for column in self.columns_:
            old = list(self.vocabularies_[column])
            known = set(old)
            text = pd.Series(_as_text(frame[column]))
            counts = text[text != UNKNOWN].value_counts()
            added = [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if v not in known]
            out.vocabularies_[column] = old + sorted(added[: max(0, self.max_values - len(old))])
        out._build_lookup()
        return out

    def slot_sources(self, older: "ContextEncoder") -> np.ndarray:
        """For each of this encoder's slots, the slot of the same column and value in ``older`` (-1: new)."""
        self.check_fitted()
        older.check_fitted()
        sources = np.full(self.n_features_, -1, dtype=np.int64)
        for column in self.columns_:
            if column not in older._lookup:
                continue
            base, old_base, old_lookup = self._offsets[column], older._offsets[column], older._lookup[column]
            sources[base] = old_base  # the unknown slot
            for value, slot in self._lookup[column].items():
                if value in old_lookup:
                    sources[base + slot] = old_base + old_lookup[value]
        return sources

    def _build_lookup(self) -> None:
        self._offsets = {}
        self._lookup = {}
        offset = 0
        for column in self.columns_:
            vocab = self.vocabularies_[column]
            self._offsets[column] = offset
            self._lookup[column] = {value: i + 1 for i, value in enumerate(vocab)}
            offset += 1 + len(vocab)
        self.n_features_ = offset

    def check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise ModelError("ContextEncoder is not fitted yet")

    def transform(self, frame: pd.DataFrame | None, n_rows: int | None = None) -> torch.Tensor:
        """One-hot float32 tensor (n_rows, ``n_features_``).

        Columns absent from ``frame`` (or ``frame=None``, then ``n_rows`` gives the row count)
        are encoded as unknown; extra columns are ignored.
        """
        self.check_fitted()
        if frame is None:
            if n_rows is None:
                raise ModelError("transform(None) needs n_rows")
            rows = int(n_rows)
        else:
            rows = len(frame)
        out = torch.zeros((rows, self.n_features_), dtype=torch.float32)
        if rows == 0 or self.n_features_ == 0:
            return out
        row_index = torch.arange(rows)
        for column in self.columns_:
            lookup = self._lookup[column]
            if frame is not None and column in frame.columns:
                slots = [lookup.get(v, 0) for v in _as_text(frame[column])]
            else:
                slots = [0] * rows
            out[row_index, self._offsets[column] + torch.tensor(slots, dtype=torch.long)] = 1.0
        return out

    def fit_transform(self, frame: pd.DataFrame) -> torch.Tensor:
        return self.fit(frame).transform(frame)

    def to_meta(self) -> dict:
        """JSON-able description: enough to rebuild the encoder with ``from_meta``."""
        self.check_fitted()
        return {
            "max_values": self.max_values,
            "columns": list(self.columns_),
            "vocabularies": {c: list(v) for c, v in self.vocabularies_.items()},
        }

    @classmethod
    def from_meta(cls, meta: dict) -> "ContextEncoder":
        try:
            encoder = cls(max_values=int(meta.get("max_values", 1000)))
            encoder.columns_ = [str(c) for c in meta["columns"]]
            encoder.vocabularies_ = {str(c): [str(v) for v in meta["vocabularies"][c]] for c in encoder.columns_}
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"saved context encoder is malformed: {exc}") from None
        encoder._build_lookup()
        return encoder
