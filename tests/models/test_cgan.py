"""ConditionalGAN: the shared contract, seeds, checkpoints, early stopping, saving, devices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from aigc_biz.errors import ConfigError
from aigc_biz.models.base import Recommender
from aigc_biz.models.cgan import ConditionalGAN

# 20 items: sampling 30 % of the unpurchased ones (not the 70 % used on real catalogues) keeps D's
# task from being trivial; stable over seeds 0-4 in our runs
SMALL = dict(
    hidden_g=32,
    hidden_d=16,
    context_dim=4,
    epochs=40,
    batch_size=16,
    lr_g=0.005,
    lr_d=0.005,
    s_pm=0.3,
    s_zr=0.3,
    zr_weight=1.0,
    val_fraction=0.0,
    device="cpu",
    seed=0,
)


def small_gan(**changes) -> ConditionalGAN:
    return ConditionalGAN(**{**SMALL, **changes})


def scores_of(model, data) -> np.ndarray:
    scoring = model.history_for(data)
    history, context = scoring.history, scoring.context
    return np.asarray(model.score_batch(history, context))


def test_generator_output_is_a_purchase_vector_in_0_1(checkerboard):
    model = small_gan(epochs=3).fit(checkerboard.train)
    probabilities = torch.sigmoid(torch.as_tensor(scores_of(model, checkerboard.train)))
    assert probabilities.shape == (checkerboard.train.n_users, checkerboard.n_items)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_noise_input_trains_and_scores_deterministically(checkerboard):
    model = small_gan(noise_dim=4, epochs=3).fit(checkerboard.train)
    np.testing.assert_array_equal(scores_of(model, checkerboard.train), scores_of(model, checkerboard.train))


def test_same_seed_same_scores_other_seed_other_scores(checkerboard):
    first = scores_of(small_gan(epochs=3).fit(checkerboard.train), checkerboard.train)
    again = scores_of(small_gan(epochs=3).fit(checkerboard.train), checkerboard.train)
    other = scores_of(small_gan(epochs=3, seed=3).fit(checkerboard.train), checkerboard.train)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_checkpoint_and_resume_continue_the_same_run(checkerboard, tmp_path):
    folder = str(tmp_path / "ckpt")
    small_gan(epochs=2, checkpoint_dir=folder).fit(checkerboard.train)
    resumed = small_gan(epochs=4, checkpoint_dir=folder, resume=True).fit(checkerboard.train)
    assert [r["epoch"] for r in resumed.training_curve_] == [1, 2, 3, 4]
    straight = small_gan(epochs=4).fit(checkerboard.train)
    np.testing.assert_allclose(
        scores_of(resumed, checkerboard.train), scores_of(straight, checkerboard.train), rtol=0, atol=1e-5
    )


def test_early_stopping_stops_before_the_last_epoch(checkerboard):
    model = small_gan(epochs=300, patience=3, val_fraction=0.3).fit(checkerboard.train)
    assert model.n_epochs_ < 300 and model.best_epoch_ == model.n_epochs_ - 3


def test_save_load_gives_identical_scores(checkerboard, tmp_path):
    model = small_gan(epochs=3).fit(checkerboard.train)
    loaded = Recommender.load(model.save(tmp_path / "cgan"))
    assert isinstance(loaded, ConditionalGAN)
    np.testing.assert_array_equal(scores_of(model, checkerboard.train), scores_of(loaded, checkerboard.train))
    context = pd.DataFrame({"user_id": ["new"], "segment": ["A"]})
    pd.testing.assert_frame_equal(
        model.recommend(checkerboard.train, ["new"], k=4, context=context),
        loaded.recommend(checkerboard.train, ["new"], k=4, context=context),
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback on a machine without CUDA")
def test_cuda_request_without_gpu_falls_back_to_cpu(checkerboard):
    with pytest.warns(RuntimeWarning, match="CUDA is not available"):
        model = small_gan(epochs=1, device="cuda").fit(checkerboard.train)
    assert model.device_ == "cpu"


@pytest.mark.parametrize("bad", [dict(s_pm=1.5), dict(g_steps=0), dict(lr_d=0.0), dict(noise_dim=-1)])
def test_invalid_parameters_are_refused(checkerboard, bad):
    with pytest.raises(ConfigError, match="invalid cgan parameters"):
        small_gan(**bad).fit(checkerboard.train)
