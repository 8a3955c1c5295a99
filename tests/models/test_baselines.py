"""Known answers for the baselines, worked out by hand or with plain numpy."""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from aigc_biz.data import Interactions
from aigc_biz.errors import ConfigError, ModelError
from aigc_biz.models import ease as ease_module
from aigc_biz.models import itemknn as itemknn_module
from aigc_biz.models.ease import EASE
from aigc_biz.models.itemknn import ItemKNN
from aigc_biz.models.pop import Popularity


def matrix_data(dense) -> Interactions:
    dense = np.asarray(dense, dtype=np.float32)
    return Interactions(
        matrix=sp.csr_matrix(dense),
        user_ids=np.array([f"u{i}" for i in range(dense.shape[0])], dtype=object),
        item_ids=np.array([f"i{j}" for j in range(dense.shape[1])], dtype=object),
    )


# --- EASE --------------------------------------------------------------------------------------------
TINY = [[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 0]]


def test_ease_matches_numpy_closed_form():
    x = np.asarray(TINY, dtype=np.float64)
    l2 = 2.0
    p = np.linalg.inv(x.T @ x + l2 * np.eye(4))
    expected = -p / np.diag(p)[None, :]
    np.fill_diagonal(expected, 0.0)

    model = EASE(l2=l2).fit(matrix_data(TINY))
    assert np.all(np.diag(model.item_weights_) == 0.0)
    np.testing.assert_allclose(model.item_weights_, expected, atol=1e-6)
    np.testing.assert_allclose(model.score_batch(sp.csr_matrix(x)), x @ expected, atol=1e-5)


def test_ease_reads_weights_as_taken_or_not():
    weighted = np.asarray(TINY, dtype=np.float32) * np.array([[3.0], [1.0], [2.0], [5.0], [1.0]])
    model = EASE(l2=2.0).fit(matrix_data(weighted))
    np.testing.assert_array_equal(model.item_weights_, EASE(l2=2.0).fit(matrix_data(TINY)).item_weights_)
    np.testing.assert_array_equal(
        model.score_batch(sp.csr_matrix(weighted)), model.score_batch(sp.csr_matrix(TINY, dtype=np.float32))
    )


def test_ease_refuses_more_items_than_max_items():
    with pytest.raises(ModelError, match="max_items=3") as caught:
        EASE(max_items=3).fit(matrix_data(TINY))
    assert "itemknn" in str(caught.value) and "--candidates" in str(caught.value)


def test_ease_refuses_when_memory_is_short(monkeypatch):
    monkeypatch.setattr(ease_module, "available_memory_bytes", lambda: 100)
    with pytest.raises(ModelError, match="GiB of memory") as caught:
        EASE().fit(matrix_data(TINY))
    assert "itemknn" in str(caught.value)


def test_available_memory_is_read():
    available = ease_module.available_memory_bytes()
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert isinstance(available, int) and 0 < available <= total  # Linux: /proc/meminfo is always there


@pytest.mark.parametrize("l2", [0.0, -1.0])
def test_ease_needs_positive_l2(l2):
    with pytest.raises(ConfigError, match="l2"):
        EASE(l2=l2).fit(matrix_data(TINY))


# --- ItemKNN -----------------------------------------------------------------------------------------
# item 0 is taken by users 0, 1, 2; item 1 by users 0, 1; item 2 by users 2, 3
HAND = [[1, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 1]]
S01 = 2 / (math.sqrt(3) * math.sqrt(2) + 1)  # 2 common users, shrinkage 1
S02 = 1 / (math.sqrt(3) * math.sqrt(2) + 1)  # 1 common user; items 1 and 2 share nobody


def test_itemknn_shrunk_cosine_by_hand():
    model = ItemKNN(k_neighbours=2, shrinkage=1.0).fit(matrix_data(HAND))
    expected = [[0, S01, S02], [S01, 0, 0], [S02, 0, 0]]
    np.testing.assert_allclose(model.similarity_.toarray(), expected, rtol=1e-6)
    scores = model.score_batch(sp.csr_matrix([[0, 1, 0], [0, 1, 1]], dtype=np.float32))
    np.testing.assert_allclose(scores, [[S01, 0, 0], [S01 + S02, 0, 0]], rtol=1e-6)


def test_itemknn_keeps_k_neighbours_per_target_item():
    model = ItemKNN(k_neighbours=1, shrinkage=1.0).fit(matrix_data(HAND))
    # column j keeps the single item most similar to j: 1 for item 0, 0 for items 1 and 2
    expected = [[0, S01, S02], [S01, 0, 0], [0, 0, 0]]
    np.testing.assert_allclose(model.similarity_.toarray(), expected, rtol=1e-6)
    assert model.similar_items(["i2"], k=5)["similar_item_id"].tolist() == ["i0"]
    # taking item 2 counts towards nothing (it is nobody's nearest neighbour); item 0 counts towards 1 and 2
    scores = model.score_batch(sp.csr_matrix([[0, 0, 1], [1, 0, 0]], dtype=np.float32))
    np.testing.assert_allclose(scores, [[0, 0, 0], [0, S01, S02]], rtol=1e-6)


def test_itemknn_binary_ignores_weights_and_weighted_does_not():
    weighted = np.asarray(HAND, dtype=np.float32) * np.array([[4.0], [1.0], [1.0], [1.0]])
    binary = ItemKNN(shrinkage=1.0).fit(matrix_data(weighted)).similarity_.toarray()
    np.testing.assert_allclose(binary, ItemKNN(shrinkage=1.0).fit(matrix_data(HAND)).similarity_.toarray())
    by_weight = ItemKNN(shrinkage=1.0, binary=False).fit(matrix_data(weighted)).similarity_.toarray()
    # items 0 and 1: dot 4*4 + 1 = 17, norms sqrt(18) and sqrt(17)
    assert by_weight[0, 1] == pytest.approx(17 / (math.sqrt(18) * math.sqrt(17) + 1), rel=1e-6)


def test_itemknn_blocks_give_the_same_similarity(monkeypatch, checkerboard):
    whole = ItemKNN(k_neighbours=5).fit(checkerboard.train).similarity_
    monkeypatch.setattr(itemknn_module, "_BLOCK_CELLS", 3 * checkerboard.n_items)  # blocks of 3 items
    blocked = ItemKNN(k_neighbours=5).fit(checkerboard.train).similarity_
    np.testing.assert_allclose(blocked.toarray(), whole.toarray(), rtol=1e-6)
    assert np.all(np.diff(blocked.tocsc().indptr) <= 5)


@pytest.mark.parametrize("params", [{"k_neighbours": 0}, {"shrinkage": -1.0}])
def test_itemknn_refuses_bad_parameters(params):
    with pytest.raises(ConfigError):
        ItemKNN(**params).fit(matrix_data(HAND))


# --- Popularity --------------------------------------------------------------------------------------
def shop() -> Interactions:
    rows = [
        ("a", "p", "X", 1),
        ("a", "q", "X", 1),
        ("b", "p", "X", 2),
        ("c", "r", "Y", 1),
        ("d", "r", "Y", 3),
        ("d", "q", "Y", 1),
        ("e", "q", None, 1),
        ("e", "s", None, 1),
        ("f", "p", None, 1),
        ("f", "q", None, 1),
    ]
    frame = pd.DataFrame(rows, columns=["user", "item", "segment", "quantity"])
    return Interactions.from_frame(frame, "user", "item", weight_col="quantity", user_attr_cols=["segment"])


def test_popularity_counts_distinct_users():
    model = Popularity().fit(shop())
    np.testing.assert_array_equal(model.popularity_, [3, 4, 2, 1])  # p, q, r, s
    assert model.recommend(shop(), ["new"], k=4)["item_id"].tolist() == ["q", "p", "r", "s"]
    assert not model.uses_context


def test_popularity_sums_weights():
    model = Popularity(weighting="weight").fit(shop())
    np.testing.assert_array_equal(model.popularity_, [4, 4, 4, 1])


def test_popularity_by_segment():
    model = Popularity(by_segment="segment").fit(shop())
    assert model.uses_context
    assert model.segment_values_ == ["X", "Y"]
    # within-segment counts; the fraction only orders items tied within a segment
    np.testing.assert_array_equal(np.floor(model.segment_scores_), [[2, 1, 0, 0], [0, 1, 2, 0]])
    context = pd.DataFrame({"user_id": ["x", "y", "z", "none"], "segment": ["X", "Y", "Z", None]})
    rec = model.recommend(shop(), ["x", "y", "z", "none"], k=4, context=context)
    lists = rec.groupby("user_id")["item_id"].agg(list)
    assert lists["x"] == ["p", "q", "r", "s"]  # r and s unseen in X: r is more popular overall
    assert lists["y"] == ["r", "q", "p", "s"]
    assert lists["z"] == lists["none"] == ["q", "p", "r", "s"]  # unknown or missing segment: overall
    # without context every row gets the overall popularity
    np.testing.assert_array_equal(
        model.score_batch(sp.csr_matrix((2, 4), dtype=np.float32)), np.vstack([model.popularity_] * 2)
    )
    # a known user's own segment comes from the training data
    assert model.recommend(shop(), ["c"], k=1, exclude_seen=False)["item_id"].tolist() == ["r"]


def test_popularity_refuses_bad_parameters():
    with pytest.raises(ConfigError, match="segment") as caught:
        Popularity(by_segment="region").fit(shop())
    assert caught.value.hint == "user attribute columns: segment"
    with pytest.raises(ConfigError, match="weighting"):
        Popularity(weighting="revenue").fit(shop())


def test_ease_weights_refuses_a_singular_gram_and_short_memory(monkeypatch):
    # the one closed form behind EASE and the CVAE's item-item path checks both ways it can fail
    empty = sp.csr_matrix((3, 2), dtype=np.float32)
    with pytest.raises(ModelError, match="could not be inverted"):
        ease_module.ease_weights(empty, 0.0)
    monkeypatch.setattr(ease_module, "available_memory_bytes", lambda: 100)
    with pytest.raises(ModelError, match="GiB of memory"):
        ease_module.ease_weights(sp.csr_matrix(TINY, dtype=np.float32), 1.0, dtype=torch.float32)
