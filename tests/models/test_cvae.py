"""ConditionalVAE: the shared contract, cold start by context, seeds, checkpoints, early stopping, devices."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from aigc_biz.errors import ConfigError
from aigc_biz.models.base import Recommender
from aigc_biz.models.cvae import ConditionalVAE
from aigc_biz.models.training import CHECKPOINT_NAME

# tiny network, many small steps: the checkerboard is learned in well under a second
SMALL = dict(
    hidden=32,
    latent=8,
    context_dim=4,
    epochs=40,
    batch_size=16,
    lr=0.01,
    linear_l2=5.0,
    val_fraction=0.0,
    device="cpu",
    seed=0,
)


def small_vae(**changes) -> ConditionalVAE:
    return ConditionalVAE(**{**SMALL, **changes})


def scores_of(model, data) -> np.ndarray:
    scoring = model.history_for(data)
    return np.asarray(model.score_batch(scoring.history, scoring.context))


@pytest.fixture(scope="module")
def plain_vae(checkerboard) -> ConditionalVAE:
    """Without the item-item path, so that history and context are all the model has."""
    return small_vae(linear_path=False, epochs=60).fit(checkerboard.train)


def test_cold_start_user_gets_items_of_their_segment(plain_vae, checkerboard):
    model = plain_vae
    context = pd.DataFrame({"user_id": ["new-a", "new-b"], "segment": ["A", "B"]})
    rec = model.recommend(checkerboard.train, ["new-a", "new-b"], k=5, context=context)
    for user, group in (("new-a", "A"), ("new-b", "B")):
        items = rec.loc[rec["user_id"] == user, "item_id"]
        assert len(items) == 5 and {checkerboard.half_of_item[t] for t in items} == {group}


def test_context_shifts_the_ranking_of_a_known_user(plain_vae, checkerboard):
    model = plain_vae
    user = checkerboard.train.user_ids[:1]
    history = model.history_for(checkerboard.train, user).history
    as_a = np.asarray(model.score_batch(history, pd.DataFrame({"segment": ["A"]})))
    as_b = np.asarray(model.score_batch(history, pd.DataFrame({"segment": ["B"]})))
    half_b = [i for i, t in enumerate(model.item_ids_) if checkerboard.half_of_item[t] == "B"]
    assert (as_b[0, half_b] - as_a[0, half_b]).mean() > 0


def test_same_seed_same_scores_other_seed_other_scores(checkerboard):
    first = scores_of(small_vae(epochs=5).fit(checkerboard.train), checkerboard.train)
    again = scores_of(small_vae(epochs=5).fit(checkerboard.train), checkerboard.train)
    other = scores_of(small_vae(epochs=5, seed=1).fit(checkerboard.train), checkerboard.train)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_checkpoint_and_resume_continue_the_same_run(checkerboard, tmp_path):
    folder = tmp_path / "ckpt"
    # the KL schedule must not depend on the epoch budget, or the two runs differ by design
    interrupted = small_vae(epochs=2, anneal_steps=16, checkpoint_dir=str(folder)).fit(checkerboard.train)
    assert interrupted.n_epochs_ == 2 and (folder / CHECKPOINT_NAME).is_file()
    saved = torch.load(folder / CHECKPOINT_NAME, weights_only=True)
    assert saved["epoch"] == 2
    resumed = small_vae(epochs=4, anneal_steps=16, checkpoint_dir=str(folder), resume=True).fit(checkerboard.train)
    assert resumed.n_epochs_ == 4
    assert [r["epoch"] for r in resumed.training_curve_] == [1, 2, 3, 4]
    straight = small_vae(epochs=4, anneal_steps=16).fit(checkerboard.train)
    np.testing.assert_allclose(
        scores_of(resumed, checkerboard.train), scores_of(straight, checkerboard.train), rtol=0, atol=1e-5
    )


def test_early_stopping_stops_before_the_last_epoch(checkerboard):
    seen = []
    model = small_vae(epochs=300, patience=3, val_fraction=0.3, lr=0.05).fit(checkerboard.train, progress=seen.append)
    assert model.n_epochs_ < 300
    assert model.best_epoch_ == model.n_epochs_ - 3
    assert len(seen) == model.n_epochs_ and all(r["val_ndcg"] is not None for r in seen)
    best = max(r["val_ndcg"] for r in seen)
    assert model.best_val_ndcg_ == pytest.approx(best)


def test_save_load_gives_identical_scores(checkerboard, tmp_path):
    model = small_vae(epochs=5).fit(checkerboard.train)
    loaded = Recommender.load(model.save(tmp_path / "cvae"))
    assert isinstance(loaded, ConditionalVAE) and loaded.linear_path_
    np.testing.assert_array_equal(scores_of(model, checkerboard.train), scores_of(loaded, checkerboard.train))
    meta = json.loads((tmp_path / "cvae" / "model.json").read_text())
    assert meta["meta"]["context"]["columns"] == ["segment"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback on a machine without CUDA")
def test_cuda_request_without_gpu_falls_back_to_cpu(checkerboard):
    with pytest.warns(RuntimeWarning, match="CUDA is not available"):
        model = small_vae(epochs=1, device="cuda").fit(checkerboard.train)
    assert model.device_ == "cpu"


def test_large_catalogue_drops_the_linear_path_with_a_warning(checkerboard):
    with pytest.warns(RuntimeWarning, match="max_linear_items"):
        model = small_vae(epochs=1, max_linear_items=10).fit(checkerboard.train)
    assert not model.linear_path_ and not model.net_.has_linear


def test_data_without_user_attributes(checkerboard):
    plain = checkerboard.train.with_matrix(checkerboard.train.matrix)
    plain.user_features = pd.DataFrame(index=pd.RangeIndex(plain.n_users))
    model = small_vae(epochs=3).fit(plain)
    assert model.context_encoder_.n_features_ == 0
    assert np.isfinite(scores_of(model, plain)).all()


@pytest.mark.parametrize("bad", [dict(dropout=1.0), dict(hidden=0), dict(lr=0.0), dict(cold_start_rate=-0.1)])
def test_invalid_parameters_are_refused(checkerboard, bad):
    with pytest.raises(ConfigError, match="invalid cvae parameters"):
        small_vae(**bad).fit(checkerboard.train)


def test_sampled_softmax_above_the_threshold_still_learns(checkerboard, tmp_path):
    model = small_vae(max_full_softmax_items=5, n_negatives=8, linear_path=False).fit(checkerboard.train)
    assert model.full_softmax_ is False and model.net_.sparse_input
    rec = model.recommend(checkerboard.train, k=checkerboard.n_items // 2)
    lists = rec.groupby("user_id")["item_id"].agg(list)
    found = np.mean([checkerboard.heldout[u] in lists[u] for u in checkerboard.heldout])
    assert found >= 0.9
    again = ConditionalVAE.load(model.save(tmp_path / "m"))  # saved and loaded in the sampled layout
    assert again.full_softmax_ is False and again.net_.sparse_input
    np.testing.assert_allclose(scores_of(again, checkerboard.train), scores_of(model, checkerboard.train), atol=1e-5)


def test_sampled_softmax_validates_with_the_item_item_path(checkerboard):
    model = small_vae(max_full_softmax_items=5, n_negatives=8, val_fraction=0.3, epochs=3).fit(checkerboard.train)
    assert model.full_softmax_ is False and model.linear_path_
    assert model.best_val_ndcg_ is not None and model.linear_mix_ is not None
