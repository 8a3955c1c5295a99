"""ContextEncoder: per-column vocabularies, an unknown slot, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aigc_biz.errors import ModelError
from aigc_biz.models.context import ContextEncoder


def frame() -> pd.DataFrame:
    return pd.DataFrame({"segment": ["vip", "new", "vip", None], "region": ["West", "East", " ", "East"]})


def test_one_hot_blocks_with_an_unknown_slot():
    enc = ContextEncoder().fit(frame())
    assert enc.vocabularies_ == {"segment": ["new", "vip"], "region": ["East", "West"]}
    assert enc.n_features_ == 3 + 3
    out = enc.transform(pd.DataFrame({"segment": ["vip", "gold", None], "region": ["East", "West", "North"]}))
    assert out.dtype == torch.float32
    expected = [
        [0, 0, 1, 0, 1, 0],  # vip, East
        [1, 0, 0, 0, 0, 1],  # unseen "gold" -> unknown, West
        [1, 0, 0, 1, 0, 0],
    ]  # missing -> unknown, unseen "North" -> unknown
    assert out.tolist() == expected
    assert (out.sum(dim=1) == 2).all(), "exactly one slot per column"


def test_missing_columns_and_no_frame_encode_as_unknown():
    enc = ContextEncoder().fit(frame())
    only_segment = enc.transform(pd.DataFrame({"segment": ["new"], "extra": [1]}))
    assert only_segment.tolist() == [[0, 1, 0, 1, 0, 0]]
    assert enc.transform(None, n_rows=2).tolist() == [[1, 0, 0, 1, 0, 0]] * 2
    with pytest.raises(ModelError, match="n_rows"):
        enc.transform(None)


def test_numbers_are_read_as_text_and_rare_values_share_unknown():
    enc = ContextEncoder(max_values=1).fit(pd.DataFrame({"age": [30, 30, 40]}))
    assert enc.vocabularies_ == {"age": ["30"]}
    assert enc.transform(pd.DataFrame({"age": ["30", 40]})).tolist() == [[0, 1], [1, 0]]


def test_no_columns_gives_zero_width():
    enc = ContextEncoder().fit(pd.DataFrame(index=range(3)))
    assert enc.n_features_ == 0 and enc.transform(pd.DataFrame(index=range(3))).shape == (3, 0)


def test_not_fitted_and_malformed_meta_raise():
    with pytest.raises(ModelError, match="not fitted"):
        ContextEncoder().transform(frame())
    with pytest.raises(ModelError, match="malformed"):
        ContextEncoder.from_meta({"columns": ["a"]})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=6), st.integers(-3, 3)), min_size=1, max_size=12))
def test_meta_round_trip_through_json_gives_the_same_encoding(values):
    data = pd.DataFrame({"attr": pd.Series(values, dtype=object)})
    enc = ContextEncoder().fit(data)
    again = ContextEncoder.from_meta(json.loads(json.dumps(enc.to_meta())))
    np.testing.assert_array_equal(enc.transform(data).numpy(), again.transform(data).numpy())
    assert (enc.transform(data).sum(dim=1) == 1).all()
