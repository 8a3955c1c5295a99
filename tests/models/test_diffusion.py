"""DiffRec, L-DiffRec and GiffCF beyond the shared contract: the noise schedule, importance sampling,
the cached item graph and its truncated stand-in."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from aigc_biz.errors import ConfigError
from aigc_biz.models.diffusion import LOSS_HISTORY, GaussianSchedule

from .test_warm_start import months  # noqa: F401 - the old/new data fixture

SMALL_DIFFREC = dict(
    hidden=0,
    bottleneck=16,
    steps=5,
    noise_scale=0.1,
    cold_start_rate=0.3,
    epochs=60,
    batch_size=16,
    lr=0.01,
    val_fraction=0.0,
    device="cpu",
)
SMALL_LDIFFREC = dict(
    latent=8, mlp_width=16, epochs=60, batch_size=16, lr=0.01, lr_ae=0.01, val_fraction=0.0, device="cpu"
)
SMALL_GIFFCF = dict(dim=16, epochs=40, batch_size=16, lr=0.01, val_fraction=0.0, device="cpu")


def test_schedule_matches_diffrec_linear_var():
    """1 - alpha_bar rises linearly from scale*min to scale*max (the first beta pinned at 1e-5)."""
    schedule = GaussianSchedule(steps=5, scale=0.1, noise_min=0.01, noise_max=0.05)
    alpha_bar = schedule.sqrt_cum.double() ** 2
    variance = 0.1 * np.linspace(0.01, 0.05, 5)
    # each step's alpha = (1 - v_t) / (1 - v_{t-1}), as betas_from_linear_variance
    np.testing.assert_allclose(
        (alpha_bar[1:] / alpha_bar[:-1]).numpy(), (1 - variance[1:]) / (1 - variance[:-1]), rtol=1e-5
    )
    assert 1.0 - float(alpha_bar[0]) < 2e-5
    # the reverse step given the true x0 at t=0 returns x0 exactly
    x0, xt = torch.rand(3, 4), torch.rand(3, 4)
    t = torch.zeros(3, dtype=torch.long)
    torch.testing.assert_close(schedule.posterior_mean(x0, xt, t), x0)


def test_importance_sampling_starts_uniform_then_follows_the_losses():
    torch.manual_seed(0)
    schedule = GaussianSchedule(steps=4, scale=0.1, noise_min=0.01, noise_max=0.05)
    t, relative = schedule.sample_steps(8, torch.device("cpu"))
    assert torch.equal(relative, torch.ones(8))
    # step 2 has much larger losses than the others: once every step has its history, it is drawn most
    for _ in range(LOSS_HISTORY):
        steps = torch.arange(4)
        schedule.record(steps, torch.tensor([1.0, 1.0, 100.0, 1.0]))
    assert bool((schedule.step_counts == LOSS_HISTORY).all())
    t, relative = schedule.sample_steps(2000, torch.device("cpu"))
    share = float((t == 2).float().mean())
    assert share > 0.9
    # the loss is divided by p_t * steps, which keeps the estimate unbiased
    expected = 100.0 / 103.0 * 0.999 + 0.001 / 4
    np.testing.assert_allclose(float(relative[t == 2][0]), expected * 4, rtol=1e-5)
    # the ring keeps the last LOSS_HISTORY values per step, in order
    schedule.record(torch.tensor([0, 0]), torch.tensor([7.0, 8.0]))
    assert schedule.step_losses[0, -2:].tolist() == [7.0, 8.0]


def _two_blocks(n_users=40, n_items=12, seed=0):
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for u in range(n_users):
        half = u % 2
        items = rng.choice(np.arange(half * n_items // 2, (half + 1) * n_items // 2), size=3, replace=False)
        rows += [u] * 3
        cols += list(items)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))


def test_heat_graph_dense_and_eigen_forms_agree():
    from aigc_biz.models.giffcf import HeatGraph

    matrix = _two_blocks()
    dense = HeatGraph(12, dense=True, n_vectors=11).build(matrix, seed=0)
    truncated = HeatGraph(12, dense=False, n_vectors=12).build(matrix, seed=0)
    top = HeatGraph(12, dense=False, n_vectors=4).build(matrix, seed=0)
    x = torch.as_tensor(matrix[:5].toarray(), dtype=torch.float32)
    # the largest eigenvalue normalises the graph to 1; every eigenpair reproduces the graph exactly
    assert abs(float(dense.values[0]) - 1.0) < 1e-6
    torch.testing.assert_close(truncated.propagate(x), dense.propagate(x), atol=1e-5, rtol=1e-4)
    # the truncated form keeps the largest eigenpairs (svds agrees with the full decomposition on them)
    torch.testing.assert_close(top.values, truncated.values[:4], atol=1e-5, rtol=1e-4)
    # the sparse path (a history's nonzeros gathered) equals the dense product
    torch.testing.assert_close(dense.propagate(x, sparse=True), dense.propagate(x), atol=1e-6, rtol=1e-5)
    # smoothing keeps a customer's signal inside their block
    smoothed = dense.propagate(x).numpy()
    for row, user in enumerate(range(5)):
        other = slice(0, 6) if user % 2 else slice(6, 12)
        assert np.abs(smoothed[row, other]).max() < 1e-6


def test_giffcf_caches_its_graph_in_the_saved_folder(tmp_path, checkerboard):
    from safetensors.numpy import load_file

    from aigc_biz.models.giffcf import GiffCF

    model = GiffCF(**{**SMALL_GIFFCF, "epochs": 2, "max_dense_items": 5, "n_eigen": 6}).fit(checkerboard.train)
    assert not model.graph_.dense and model.graph_.vectors.shape == (checkerboard.n_items, 6)
    arrays = load_file(model.save(tmp_path / "m") / "arrays.safetensors")
    assert arrays["state.graph.vectors"].shape == (checkerboard.n_items, 6)
    assert "state.graph.graph" in arrays and arrays["state.graph.graph"].size == 0


def test_ldiffrec_clusters_split_the_catalogue_and_its_memory_is_linear(checkerboard):
    from aigc_biz.models.diffrec import LatentDiffRec, cluster_items

    clusters = cluster_items(checkerboard.train.binary(), 2, seed=0)
    halves = np.array([checkerboard.half_of_item[i] for i in checkerboard.train.item_ids])
    # the checkerboard's two halves never co-occur: k-means on the SVD vectors finds them
    assert len(set(zip(clusters, halves))) == 2
    model = LatentDiffRec(**{**SMALL_LDIFFREC, "epochs": 1}).fit(checkerboard.train)
    n_weights = sum(p.numel() for p in model.ae_.parameters())
    assert n_weights < 4 * checkerboard.n_items * model.latent + 100


def test_each_diffusion_model_gets_a_row_in_evaluate(tmp_path, checkerboard):
    """``aigc-biz evaluate --models diffrec,ldiffrec,giffcf`` ranks the three registry names side by side."""
    import json

    from typer.testing import CliRunner

    from aigc_biz.cli import app

    table = tmp_path / "orders.csv"
    checkerboard.frame.rename(columns={"customer": "user_id", "product": "item_id"}).to_csv(table, index=False)
    out = tmp_path / "board.json"
    params = ["diffrec.epochs=3", "diffrec.steps=5", "ldiffrec.epochs=3", "giffcf.epochs=3"]
    args = ["evaluate", str(table), "--models", "ease,diffrec,ldiffrec,giffcf", "--json-out", str(out), "--quiet"]
    result = CliRunner().invoke(app, args + [a for p in params for a in ("-p", p)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {row["model"]: row for row in json.loads(out.read_text())["models"]}
    assert set(rows) == {"ease", "diffrec", "ldiffrec", "giffcf"}
    for name in ("diffrec", "ldiffrec", "giffcf"):
        assert rows[name]["metrics"]["ndcg@10"]["mean"] > 0, name


def test_warm_start_keeps_the_old_item_rows(months):  # noqa: F811 - the imported fixture
    """diffrec and giffcf grow their item-sized weights on a warm start; ldiffrec refuses one."""
    from aigc_biz import api
    from aigc_biz.errors import ModelError

    old_data, new_data = months
    for name, params, rows in (
        ("diffrec", SMALL_DIFFREC, lambda m: m.net_.up[-1].weight),
        ("giffcf", SMALL_GIFFCF, lambda m: m.denoiser_.item_embed),
    ):
        old = api.train(old_data, name, {**params, "epochs": 3})
        new = api.train(new_data, name, {"epochs": 0}, warm_start=old)
        shared = list(old.item_ids_)
        assert torch.equal(rows(new)[new.item_positions(shared)], rows(old)[old.item_positions(shared)]), name
        assert new.n_items == old.n_items + 1
    old = api.train(old_data, "ldiffrec", {**SMALL_LDIFFREC, "epochs": 1})
    with pytest.raises(ModelError, match="warm-start"):
        api.train(new_data, "ldiffrec", {"epochs": 1}, warm_start=old)


def own_half_share(model, checkerboard) -> float:
    """Share of customers whose first recommendation lies in their own half of the checkerboard."""
    rec = model.recommend(checkerboard.train, k=3)
    first = rec[rec["rank"] == 1].set_index("user_id")["item_id"]
    return float(np.mean([checkerboard.half_of_item[first[u]] == g for u, g in checkerboard.group_of_user.items()]))


def test_giffcf_with_rescaled_smoothing_still_finds_the_own_half(checkerboard):
    from aigc_biz.models.giffcf import GiffCF

    model = GiffCF(**{**SMALL_GIFFCF, "rescale_smoothed": True}).fit(checkerboard.train)
    assert own_half_share(model, checkerboard) >= 0.9


def test_giffcf_init_scale_widens_the_embedding_init_and_must_be_positive(checkerboard):
    """``init_scale`` multiplies the Glorot bound of the item embedding (1 keeps the reference's init)."""
    from aigc_biz.models.giffcf import GiffCF, GiffDenoiser

    bound = np.sqrt(6.0 / (500 + 20))
    torch.manual_seed(0)
    plain = GiffDenoiser(500, 20, 3, 0, 0, init_scale=1.0, mixer_width=2).item_embed.abs().max().item()
    torch.manual_seed(0)
    wide = GiffDenoiser(500, 20, 3, 0, 0, init_scale=10.0, mixer_width=2).item_embed.abs().max().item()
    assert 0.9 * bound < plain <= bound
    assert wide == pytest.approx(10 * plain, rel=1e-5)
    with pytest.raises(ConfigError, match="init_scale=0"):
        GiffCF(**SMALL_GIFFCF, init_scale=0.0).fit(checkerboard.train)


def test_giffcf_mixer_width_is_the_mixers_hidden_size_and_still_learns(checkerboard):
    from aigc_biz.models.giffcf import GiffCF

    model = GiffCF(**{**SMALL_GIFFCF, "mixer_width": 6}).fit(checkerboard.train)
    for mixer in (model.denoiser_.code_mixer, model.denoiser_.score_mixer):
        assert mixer.hidden.out_features == 6 and mixer.out.in_features == 6
    assert own_half_share(model, checkerboard) >= 0.9
    with pytest.raises(ConfigError, match="mixer_width=0"):
        GiffCF(**SMALL_GIFFCF, mixer_width=0).fit(checkerboard.train)
