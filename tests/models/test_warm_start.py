"""Warm start: a fitted model continues on new data whose item and context vocabularies grew."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from aigc_biz import api
from aigc_biz.cli import app
from aigc_biz.data import Interactions
from aigc_biz.errors import ModelError
from aigc_biz.models.cgan import ConditionalGAN
from aigc_biz.models.context import ContextEncoder
from aigc_biz.models.cvae import ConditionalVAE
from aigc_biz.models.training import TorchRecommender, warm_start_epochs

NEW_ITEM = "00001"  # the most popular item of half A; the old model never saw it
CVAE = dict(
    hidden=32,
    latent=8,
    context_dim=4,
    epochs=40,
    batch_size=16,
    lr=0.01,
    linear_path=False,
    val_fraction=0.0,
    device="cpu",
    seed=0,
)
CGAN = dict(
    hidden_g=32,
    hidden_d=16,
    context_dim=4,
    epochs=40,
    batch_size=16,
    lr_g=3e-3,
    lr_d=3e-3,
    s_zr=0.3,
    s_pm=0.3,
    zr_weight=1.0,
    val_fraction=0.0,
    device="cpu",
    seed=0,
)


@pytest.fixture(scope="module")
def months(checkerboard):
    """Old data: the checkerboard without NEW_ITEM; new data: all of it plus segment "C" customers."""
    frame = checkerboard.frame
    old = frame[frame["product"] != NEW_ITEM]
    extra = pd.DataFrame(
        [
            {"customer": f"9{n:03d}", "product": item, "segment": "C"}
            for n in range(6)
            for item in ("00002", "00003", NEW_ITEM)
        ]
    )
    new = pd.concat([frame, extra], ignore_index=True)
    build = lambda f: Interactions.from_frame(f, "customer", "product", user_attr_cols=["segment"])  # noqa: E731
    return build(old), build(new)


def positions(model, ids):
    return model.item_positions(ids)


@pytest.mark.parametrize("name, params", [("cvae", CVAE), ("cgan", CGAN)])
def test_epochs_zero_keeps_every_old_row_bit_identical(months, name, params):
    old_data, new_data = months
    old = api.train(old_data, name, params)
    new = api.train(new_data, name, {"epochs": 0}, warm_start=old)
    assert list(new.item_ids_) == list(new_data.item_ids) and NEW_ITEM in set(new.item_ids_)
    assert new.context_encoder_.vocabularies_["segment"] == ["A", "B", "C"]
    shared = [t for t in old.item_ids_]
    o, n = positions(old, shared), positions(new, shared)
    slots = new.context_encoder_.slot_sources(old.context_encoder_)
    kept_slots = np.flatnonzero(slots >= 0)
    fresh = positions(new, [NEW_ITEM])
    if name == "cvae":
        a, b = old.net_, new.net_
        assert torch.equal(b.enc_items.weight[:, n], a.enc_items.weight[:, o])
        assert torch.equal(b.dec_out.weight[n], a.dec_out.weight[o])
        assert torch.equal(b.dec_out.bias[n], a.dec_out.bias[o])
        assert torch.allclose(b.dec_out.weight[fresh], a.dec_out.weight.mean(0, keepdim=True))
        assert torch.equal(b.context.weight[:, kept_slots], a.context.weight[:, slots[kept_slots]])
        assert torch.equal(b.enc_out.weight, a.enc_out.weight)
    else:
        a, b = old.generator_, new.generator_
        assert torch.equal(b.inp.weight[:, n], a.inp.weight[:, o])
        assert torch.equal(b.inp.weight[:, new.n_items :], a.inp.weight[:, old.n_items :])
        assert torch.equal(b.out.weight[n], a.out.weight[o]) and torch.equal(b.out.bias[n], a.out.bias[o])
        d_old, d_new = old.discriminator_.net[0].weight, new.discriminator_.net[0].weight
        assert torch.equal(d_new[:, new.n_items + n], d_old[:, old.n_items + o])
        assert torch.equal(b.context.weight[:, kept_slots], a.context.weight[:, slots[kept_slots]])
        assert torch.equal(b.mid.weight, a.mid.weight)


@pytest.mark.parametrize("name, params", [("cvae", CVAE), ("cgan", CGAN)])
def test_a_new_item_is_recommended_after_warm_training(months, checkerboard, name, params):
    old_data, new_data = months
    old = api.train(old_data, name, params)
    new = api.train(new_data, name, {"epochs": 15}, warm_start=old)
    assert new.n_epochs_ == 15
    # group A customers who did not take the new item: it is the most popular item of their half
    users = [
        u
        for u, g in checkerboard.group_of_user.items()
        if g == "A" and NEW_ITEM not in set(checkerboard.frame.loc[checkerboard.frame["customer"] == u, "product"])
    ]
    recs = new.recommend(new_data, users, k=3)
    share = recs.groupby("user_id")["item_id"].apply(lambda s: NEW_ITEM in set(s)).mean()
    assert share >= 0.5, f"{name}: the new item is in the top 3 of only {share:.0%} of group A customers"
    assert recs["item_id"].map(checkerboard.half_of_item).eq("A").mean() > 0.9


def test_warm_start_defaults_to_fewer_epochs_and_the_old_hyper_parameters(months):
    old_data, new_data = months
    old = api.train(old_data, "cvae", {**CVAE, "epochs": 12})
    new = api.train(new_data, "cvae", warm_start=old)
    assert new.epochs == warm_start_epochs(old) == 3 and new.n_epochs_ == 3
    assert new.hidden == 32 and new.latent == 8


def test_other_model_type_or_other_attribute_columns_are_refused(months, checkerboard, tmp_path):
    old_data, new_data = months
    ease = api.train(old_data, "ease", {"l2": 1.0}, save=tmp_path / "ease")
    with pytest.raises(ModelError, match="cannot warm-start a 'cvae' model from a 'ease' model"):
        api.train(new_data, "cvae", CVAE, warm_start=tmp_path / "ease")
    plain = Interactions.from_frame(checkerboard.frame, "customer", "product")
    with pytest.raises(ModelError, match="user attributes"):
        api.train(plain, "ease", warm_start=ease)
    with pytest.raises(ModelError, match="hidden|architecture"):
        old = api.train(old_data, "cvae", {**CVAE, "epochs": 1})
        api.train(new_data, "cvae", {"hidden": 16}, warm_start=old)


def test_ease_warm_start_is_a_plain_refit(months):
    old_data, new_data = months
    old = api.train(old_data, "ease", {"l2": 1.0})
    warm = api.train(new_data, "ease", warm_start=old)
    cold = api.train(new_data, "ease", {"l2": 1.0})
    assert warm.l2 == 1.0 and np.array_equal(warm.item_weights_, cold.item_weights_)


def test_cli_warm_start_writes_a_loadable_model_and_a_wrong_folder_exits_2(months, checkerboard, tmp_path):
    frame = checkerboard.frame
    frame[frame["product"] != NEW_ITEM].to_csv(tmp_path / "old.csv", index=False)
    frame.to_csv(tmp_path / "new.csv", index=False)
    runner = CliRunner()
    common = ["--user-col", "customer", "--item-col", "product", "--user-attrs", "segment", "-q"]
    small = [
        a
        for key in ("hidden=16", "latent=4", "epochs=2", "batch_size=16", "val_fraction=0", "linear_path=false")
        for a in ("-p", key)
    ]
    done = runner.invoke(
        app,
        [
            "train",
            str(tmp_path / "old.csv"),
            "-m",
            "cvae",
            "-o",
            str(tmp_path / "m0"),
            *small,
            *common,
            "--device",
            "cpu",
        ],
    )
    assert done.exit_code == 0, done.output
    done = runner.invoke(
        app,
        [
            "train",
            str(tmp_path / "new.csv"),
            "-m",
            "cvae",
            "--warm-start",
            str(tmp_path / "m0"),
            "-o",
            str(tmp_path / "m1"),
            *common,
            "--device",
            "cpu",
        ],
    )
    assert done.exit_code == 0, done.output
    model = api.load_model(tmp_path / "m1")
    assert NEW_ITEM in set(model.item_ids_) and model.hidden == 16 and model.n_epochs_ == 1
    assert len(model.recommend(checkerboard.train, ["0001"], k=3)) == 3
    bad = runner.invoke(
        app,
        [
            "train",
            str(tmp_path / "new.csv"),
            "--warm-start",
            str(tmp_path / "new.csv"),
            "-o",
            str(tmp_path / "m2"),
            *common,
        ],
    )
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert bad.exit_code == 2 and len(lines) == 1 and "model.json" in lines[0] and "Traceback" not in bad.stderr


def test_every_torch_model_declares_the_shared_hyper_parameters():
    for cls in (ConditionalVAE, ConditionalGAN):
        assert issubclass(cls, TorchRecommender)
        signature = inspect.signature(cls.__init__).parameters
        assert set(TorchRecommender.shared_params) <= set(signature), cls.__name__


def test_grown_context_encoder_keeps_old_slots_and_appends_new_values():
    old = ContextEncoder().fit(pd.DataFrame({"segment": ["vip", "new"], "region": ["n", "s"]}))
    new = old.grown(pd.DataFrame({"segment": ["gold", "vip", "gold"], "region": ["e", "n", "s"]}))
    assert new.vocabularies_ == {"segment": ["new", "vip", "gold"], "region": ["n", "s", "e"]}
    # segment block: unknown, new, vip, gold | region block: unknown, n, s, e
    assert new.slot_sources(old).tolist() == [0, 1, 2, -1, 3, 4, 5, -1]
    with pytest.raises(ModelError, match="columns"):
        old.grown(pd.DataFrame({"segment": ["vip"]}))


class CountingCVAE(ConditionalVAE):
    """Records the matrices its item-item closed forms and softmax-scale fits run on (their entry counts)."""

    def item_item_weights(self, matrix, device):
        self.__dict__.setdefault("closed_forms", []).append(matrix.nnz)
        return super().item_item_weights(matrix, device)

    def softmax_scale(self, weights, matrix, rng, device):
        self.__dict__.setdefault("scale_fits", []).append(matrix.nnz)
        return super().softmax_scale(weights, matrix, rng, device)


LINEAR = {**CVAE, "linear_path": True, "linear_l2": 5.0, "val_fraction": 0.3, "epochs": 6, "patience": 2}


@pytest.fixture(scope="module")
def one_new_item(checkerboard):
    """New data where the catalogue barely changed: three customers also took one new item."""
    extra = pd.DataFrame([{"customer": u, "product": "00099", "segment": "A"} for u in ("0001", "0002", "0003")])
    new = pd.concat([checkerboard.frame, extra], ignore_index=True)
    return Interactions.from_frame(new, "customer", "product", user_attr_cols=["segment"])


def test_warm_start_on_a_barely_changed_catalogue_computes_the_closed_form_once(checkerboard, one_new_item):
    old = ConditionalVAE(**LINEAR).fit(checkerboard.train)
    scratch = CountingCVAE(**LINEAR).fit(one_new_item)
    full_nnz = one_new_item.binary().nnz
    assert len(scratch.closed_forms) == 2 and scratch.closed_forms[1] == full_nnz
    assert scratch.closed_forms[0] < full_nnz and len(scratch.scale_fits) == 2  # the first without validation items
    warm = CountingCVAE(**{**LINEAR, "epochs": 2}).fit(one_new_item, warm_start=old)
    assert warm.closed_forms == [full_nnz] and "scale_fits" not in warm.__dict__
    assert warm.n_epochs_ == 2 and warm.best_val_ndcg_ is not None
    assert warm.linear_scale_ == old.linear_scale_ and warm.linear_mix_ == old.linear_mix_
    # the final item-item path is the closed form on all the new data, as from scratch
    assert torch.allclose(warm.net_.item_item, scratch.net_.item_item)
    assert float(warm.net_.linear_weight) == pytest.approx(old.linear_mix_ * old.linear_scale_)
    new_item = warm.item_positions(["00099"])[0]
    assert warm.net_.item_item[:, new_item].abs().sum() > 0  # learnt from the new data, not the grown zeros


def test_warm_start_refits_the_item_item_path_when_many_entries_are_on_new_items(months):
    old_data, new_data = months  # NEW_ITEM is the most taken item of its half: above 5 % of the entries
    old = ConditionalVAE(**LINEAR).fit(old_data)
    warm = CountingCVAE(**{**LINEAR, "epochs": 1}).fit(new_data, warm_start=old)
    assert len(warm.closed_forms) == 2 and len(warm.scale_fits) == 2
    other_l2 = CountingCVAE(**{**LINEAR, "epochs": 1, "linear_l2": 9.0}).fit(old_data, warm_start=old)
    assert len(other_l2.closed_forms) == 2  # another ridge: the old W and scale do not apply


def test_the_softmax_scale_is_saved_and_recovered_from_an_older_save(checkerboard, tmp_path):
    model = ConditionalVAE(**{**LINEAR, "epochs": 1}).fit(checkerboard.train)
    assert model.linear_scale_ > 0
    model.save(tmp_path / "m")
    assert api.load_model(tmp_path / "m").linear_scale_ == model.linear_scale_
    meta_file = tmp_path / "m" / "model.json"
    manifest = json.loads(meta_file.read_text())
    del manifest["meta"]["linear_scale"]  # as saved before the scale was recorded
    meta_file.write_text(json.dumps(manifest))
    assert api.load_model(tmp_path / "m").linear_scale_ == pytest.approx(model.linear_scale_, rel=1e-6)


def test_default_warm_epochs_are_a_quarter_of_the_epochs_the_old_model_kept(checkerboard):
    old = ConditionalVAE(**{**LINEAR, "epochs": 40, "patience": 5, "lr": 0.05}).fit(checkerboard.train)
    assert old.best_epoch_ < old.n_epochs_  # stopped early: the patience epochs after the best were dropped
    assert warm_start_epochs(old) == max(1, -(-old.best_epoch_ // 4))
    old.best_epoch_ = 0  # a save without a best epoch: the epochs it ran count
    assert warm_start_epochs(old) == max(1, -(-old.n_epochs_ // 4))
