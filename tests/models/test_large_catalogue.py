"""Large catalogues: no dense items x items matrix above the shared limit, sampled softmax, scoring in blocks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from aigc_biz.data import Interactions
from aigc_biz.errors import ModelError
from aigc_biz.models.cvae import ConditionalVAE
from aigc_biz.models.ease import EASE, ease_weights
from aigc_biz.models.giffcf import GiffCF
from aigc_biz.models.itemknn import ItemKNN
from aigc_biz.models.large_catalogue import DENSE_ITEM_ITEM_MAX, rows_per_block, sparse_times
from aigc_biz.models.sampled_softmax import draw_negatives, sampled_softmax_nll

N_BIG = 40_000  # above DENSE_ITEM_ITEM_MAX, small enough for CI


@pytest.fixture(scope="module")
def big_catalogue() -> Interactions:
    """300 customers, 2-30 items each from a long-tailed 40,000-item catalogue (every item sold once)."""
    rng = np.random.default_rng(3)
    popularity = 1.0 / np.arange(1, N_BIG + 1) ** 0.8
    popularity /= popularity.sum()
    users, items = [], []
    for u in range(300):
        taken = rng.choice(N_BIG, size=int(rng.integers(2, 31)), replace=False, p=popularity)
        users += [f"u{u:03d}"] * len(taken)
        items += [f"i{i:05d}" for i in taken]
    # every item appears, so the catalogue really has N_BIG items
    users += [f"u{i % 300:03d}" for i in range(N_BIG)]
    items += [f"i{i:05d}" for i in range(N_BIG)]
    frame = pd.DataFrame({"user": users, "item": items}).drop_duplicates()
    return Interactions.from_frame(frame, "user", "item")


def largest_array(model) -> int:
    """Cells of the largest array a fitted model saves (a saved folder is everything it holds)."""
    state = model._state()
    assert state, "the model saves no arrays"
    return max(int(np.asarray(v).size) for v in state.values())


def test_itemknn_fits_and_scores_a_large_catalogue_sparsely(big_catalogue):
    model = ItemKNN(k_neighbours=20).fit(big_catalogue)
    n = big_catalogue.n_items
    assert n == N_BIG and sp.issparse(model.similarity_)
    assert model.similarity_.nnz <= 20 * n
    assert largest_array(model) <= 20 * n
    top = model.recommend_topk(big_catalogue, ["u000", "u001"], k=5)
    assert (top.indices >= 0).all()


def test_cvae_trains_with_sampled_softmax_on_a_large_catalogue(big_catalogue):
    params = {"hidden": 16, "latent": 8, "epochs": 1, "val_fraction": 0.0, "device": "cpu", "n_negatives": 64}
    with pytest.warns(RuntimeWarning, match="itemknn"):  # the EASE path is dropped, naming the alternative
        model = ConditionalVAE(max_full_softmax_items=10_000, max_linear_items=10**6, **params).fit(big_catalogue)
    n = big_catalogue.n_items
    assert not model.full_softmax_ and not model.linear_path_
    assert model.net_.sparse_input
    assert largest_array(model) <= 16 * n  # the encoder and decoder layers, nothing items x items
    assert np.isfinite(model.training_curve_[0]["loss"])
    top = model.recommend_topk(big_catalogue, ["u000", "u001"], k=5)
    assert (top.indices >= 0).all()


def test_ease_refuses_a_large_catalogue_naming_the_alternative(big_catalogue):
    for model in (EASE(), EASE(max_items=10**6)):  # a larger max_items is still capped
        with pytest.raises(ModelError, match="DENSE_ITEM_ITEM_MAX|max_items") as caught:
            model.fit(big_catalogue)
        assert "--model itemknn" in caught.value.hint
    with pytest.raises(ModelError, match="DENSE_ITEM_ITEM_MAX"):
        ease_weights(big_catalogue.binary(), 10.0)


def test_giffcf_keeps_eigenpairs_above_the_dense_limit():
    dense, n_vectors = GiffCF(max_dense_items=10**6, n_eigen=16)._graph_shape(DENSE_ITEM_ITEM_MAX + 1)
    assert not dense and n_vectors == 16
    assert GiffCF(max_dense_items=10**6)._graph_shape(DENSE_ITEM_ITEM_MAX)[0]


def test_sampled_softmax_is_the_full_softmax_when_every_item_is_sampled():
    torch.manual_seed(0)
    n_rows, n_items, d = 6, 50, 8
    hidden, weight, bias = torch.randn(n_rows, d), torch.randn(n_items, d), torch.randn(n_items)
    x = (torch.rand(n_rows, n_items) < 0.2).float()
    x[:, 0] = 1.0  # every row has a positive
    full = -(F.log_softmax(hidden @ weight.T + bias, dim=1) * x).sum(dim=1).mean()
    rows, cols = x.nonzero(as_tuple=True)
    # every item once under a uniform proposal: the correction is log(n * 1/n) = 0, the target masked
    sampled = sampled_softmax_nll(hidden, weight, cols, torch.arange(n_items), None, bias=bias, rows=rows)
    assert float(sampled.sum() / n_rows) == pytest.approx(float(full), rel=1e-5)
    log_q = torch.full((n_items,), -float(np.log(n_items)))
    same = sampled_softmax_nll(hidden, weight, cols, torch.arange(n_items), log_q, bias=bias, rows=rows)
    assert torch.allclose(same, sampled)


def test_sampled_softmax_estimate_approaches_the_full_loss_with_many_negatives():
    torch.manual_seed(1)
    n_items, d = 400, 8
    hidden, weight = torch.randn(20, d), torch.randn(n_items, d)
    targets = torch.randint(0, n_items, (20,))
    full = float(F.cross_entropy(hidden @ weight.T, targets))
    q = torch.rand(n_items) + 0.1
    log_q = (q / q.sum()).log()
    g = torch.Generator().manual_seed(0)
    few = [
        float(sampled_softmax_nll(hidden, weight, targets, draw_negatives(log_q, 5, g), log_q).mean())
        for _ in range(20)
    ]
    many = float(sampled_softmax_nll(hidden, weight, targets, draw_negatives(log_q, 50_000, g), log_q).mean())
    assert abs(many - full) < 0.05 < abs(float(np.mean(few)) - full)


def test_sparse_encoder_input_is_the_dense_product():
    torch.manual_seed(2)
    layer = torch.nn.Linear(500, 7)
    x = (torch.rand(9, 500) < 0.02).float()
    x[3] = 0.0  # an empty history row
    assert torch.allclose(sparse_times(x, layer.weight.T) + layer.bias, layer(x), atol=1e-6)


@dataclass
class _Extra:
    """New items scored beside the model's (the ``extra_items`` interface): the row mean of known scores."""

    item_ids: np.ndarray

    def scores(self, known: torch.Tensor) -> torch.Tensor:
        return known.mean(dim=1, keepdim=True).expand(-1, len(self.item_ids)) + torch.arange(len(self.item_ids))


def test_scoring_in_small_blocks_gives_the_same_lists():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {"user": rng.integers(0, 120, 3000).astype(str), "item": rng.integers(0, 400, 3000).astype(str)}
    )
    data = Interactions.from_frame(frame.drop_duplicates(), "user", "item")
    model = ItemKNN(k_neighbours=15).fit(data)
    history = model.history_for(data).history
    n = model.n_items
    allowed = rng.random(n + 3) > 0.3
    exclude = sp.random(history.shape[0], n + 3, density=0.02, random_state=1, format="csr")
    extra = _Extra(np.asarray(["new1", "new2", "new3"], dtype=object))
    args = (history, 12, None, exclude, allowed, 1024)
    one_idx, one_score = model.recommend_indices(*args, extra_items=extra)
    assert rows_per_block(1024, n + 3, 3 * (n + 3)) == 3
    for budget in (1, 3 * (n + 3), 50 * (n + 3)):  # one row, three rows, fifty rows at a time
        idx, score = model.recommend_indices(*args, extra_items=extra, cell_budget=budget)
        np.testing.assert_array_equal(idx, one_idx)
        np.testing.assert_array_equal(score, one_score)
    assert (one_idx >= n).any()  # the extra items took part


def test_sparse_cosine_keeps_the_dense_blocks_neighbours():
    from aigc_biz.models.itemknn import _top_k_cosine, _top_k_cosine_sparse

    rng = np.random.default_rng(11)
    matrix = sp.random(300, 500, density=0.03, random_state=4, format="csr", dtype=np.float32)
    matrix.data = rng.random(matrix.nnz).astype(np.float32) + 0.5  # weights, so no ties at the k-th place
    dense, sparse = _top_k_cosine(matrix, 7, 2.0), _top_k_cosine_sparse(matrix, 7, 2.0)
    assert (dense != sparse).nnz == 0 and dense.nnz == sparse.nnz > 0


def test_cvae_pairs_encoder_is_the_dense_encoder():
    from aigc_biz.models.cvae import ConditionalVAENet, HistoryRows

    torch.manual_seed(3)
    matrix = sp.random(12, 300, density=0.03, random_state=2, format="csr", dtype=np.float32)
    batch = HistoryRows.of(matrix, np.arange(12), torch.device("cpu"))
    np.testing.assert_array_equal(batch.dense().numpy(), (matrix.toarray() > 0).astype(np.float32))
    net = ConditionalVAENet(300, 0, 16, 4, 0, linear_path=False)
    x = batch.dense()
    norms = x.sum(dim=1).sqrt().clamp_min(1e-12)
    mu, logvar = net.encode_pairs(batch.rows, batch.cols, 1.0 / norms[batch.rows], 12, None)
    mu_dense, logvar_dense = net.encode(torch.nn.functional.normalize(x, dim=1), None)
    assert torch.allclose(mu, mu_dense, atol=1e-6) and torch.allclose(logvar, logvar_dense, atol=1e-6)
