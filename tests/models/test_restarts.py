"""``restarts``: several seeds fitted, the one that validates best kept, all judged on one carve."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from aigc_biz.cli import app
from aigc_biz.errors import ConfigError
from aigc_biz.models.artifacts import load_model
from aigc_biz.models.diffrec import DiffRec
from aigc_biz.models.registry import create_model
from aigc_biz.models.training import carve_validation

from .test_diffusion import SMALL_DIFFREC

RESTARTING = {**SMALL_DIFFREC, "epochs": 4, "val_fraction": 0.3}


class CarveRecorder(DiffRec):
    """DiffRec that records the customers of every validation slice it is handed."""

    carves: list = []

    def validation_slice(self, data, matrix):
        carve = super().validation_slice(data, matrix)
        CarveRecorder.carves.append(carve.users.copy())
        return carve


def test_restarts_keep_the_best_seed_judged_on_one_carve(checkerboard):
    CarveRecorder.carves = []
    model = CarveRecorder(**RESTARTING, restarts=3).fit(checkerboard.train)
    scores = model.restart_scores_
    assert [s["seed"] for s in scores] == [0, 1, 2]
    # every restart (and the up-front check) saw the carve of the model's seed, not of its own seed
    matrix = checkerboard.train.binary()
    assert len(CarveRecorder.carves) == 4
    assert all(np.array_equal(users, CarveRecorder.carves[0]) for users in CarveRecorder.carves)
    assert np.array_equal(CarveRecorder.carves[0], carve_validation(matrix, 0.3, seed=0).users)
    assert not np.array_equal(CarveRecorder.carves[0], carve_validation(matrix, 0.3, seed=1).users)
    # the seeds really differ, and the kept fit is the best of them
    values = [s["best_val_ndcg"] for s in scores]
    assert len(set(values)) > 1
    assert model.best_val_ndcg_ == max(values)
    assert max(r["val_ndcg"] for r in model.training_curve_) == model.best_val_ndcg_
    # the first restart is the plain fit with the model's seed
    plain = DiffRec(**RESTARTING).fit(checkerboard.train)
    assert (plain.best_val_ndcg_, plain.best_epoch_) == (values[0], scores[0]["best_epoch"])
    assert plain.restart_scores_ == []


def test_the_kept_restart_is_what_scores_and_what_is_saved(tmp_path, checkerboard):
    model = DiffRec(**RESTARTING, restarts=3).fit(checkerboard.train)
    chosen = max(model.restart_scores_, key=lambda s: s["best_val_ndcg"])["seed"]
    # rebuilt by hand: seed ``chosen`` trained on the carve of seed 0
    alone = DiffRec(**{**RESTARTING, "seed": chosen})
    alone._split_seed = 0
    alone.fit(checkerboard.train)
    history = checkerboard.train.matrix
    np.testing.assert_allclose(
        np.asarray(model.score_batch(history)), np.asarray(alone.score_batch(history)), rtol=1e-6, atol=1e-6
    )
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.restart_scores_ == model.restart_scores_ and loaded.restarts == 3
    np.testing.assert_allclose(
        np.asarray(loaded.score_batch(history)), np.asarray(model.score_batch(history)), rtol=1e-6, atol=1e-6
    )


def test_restarts_need_a_validation_slice_and_a_positive_count(checkerboard):
    with pytest.raises(ConfigError, match="restarts=2"):
        DiffRec(**{**RESTARTING, "val_fraction": 0.0}, restarts=2).fit(checkerboard.train)
    with pytest.raises(ConfigError, match="restarts=2"):  # no epoch, so no validation score to choose by
        DiffRec(**{**RESTARTING, "epochs": 0}, restarts=2).fit(checkerboard.train)
    with pytest.raises(ConfigError, match="restarts=0"):
        DiffRec(**RESTARTING, restarts=0).fit(checkerboard.train)


def recommend_diffrec_in_the_cli(tmp_path, checkerboard, *params: str):
    """``aigc-biz recommend orders.csv --model diffrec`` of 2 epochs with 2 restarts and ``params``."""
    table = tmp_path / "orders.csv"
    checkerboard.frame.rename(columns={"customer": "user_id", "product": "item_id"}).to_csv(table, index=False)
    params = ("epochs=2", "steps=5", "val_fraction=0.3", "restarts=2", *params)
    args = ["recommend", str(table), "--model", "diffrec", "-o", str(tmp_path / "recs.csv")]
    result = CliRunner().invoke(app, args + [a for p in params for a in ("-p", p)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_the_cli_names_each_restart_in_its_log(tmp_path, checkerboard):
    result = recommend_diffrec_in_the_cli(tmp_path, checkerboard, "seed=5")
    assert "[diffrec seed 5, restart 1/2] epoch 2/2" in result.output
    assert "[diffrec seed 6, restart 2/2] epoch 2/2" in result.output
    kept = max(bench_training_curve(result.output)["restarts"], key=lambda r: r["best_val_ndcg"])
    other = 11 - kept["seed"]
    assert f"[diffrec] kept seed {kept['seed']} of 2 restarts: val NDCG {kept['best_val_ndcg']:.4f}" in result.output
    assert f"(seed {other}: " in result.output
    assert (tmp_path / "recs.csv").stat().st_size > 0
    # bench/bench_diffusion.py reads these lines back: the kept seed and each restart's best
    curve = bench_training_curve(result.output)
    assert [r["seed"] for r in curve["restarts"]] == [5, 6] and curve["epochs_run"] == 2
    assert curve["kept_seed"] in (5, 6) and curve["best_val_ndcg"] == max(r["best_val_ndcg"] for r in curve["restarts"])


def bench_training_curve(log: str) -> dict:
    bench = Path(__file__).resolve().parents[2] / "bench"
    sys.path.insert(0, str(bench))
    try:
        from bench_diffusion import training_curve
    finally:
        sys.path.remove(str(bench))
    return training_curve(log)


def test_averaged_restarts_score_with_the_mean_of_every_fit_and_save_them_all(tmp_path, checkerboard):
    model = DiffRec(**RESTARTING, restarts=3, restart_combine="mean").fit(checkerboard.train)
    kept = max(model.restart_scores_, key=lambda s: s["best_val_ndcg"])["seed"]
    assert sorted(m.seed for m in model.members_) == sorted({0, 1, 2} - {kept})
    history = checkerboard.train.matrix
    # each fit rebuilt by hand (its seed, the carve of seed 0): the model scores with their mean
    alone = []
    for seed in (0, 1, 2):
        fit = DiffRec(**{**RESTARTING, "seed": seed})
        fit._split_seed = 0
        alone.append(np.asarray(fit.fit(checkerboard.train).score_batch(history)))
    mean = np.mean(alone, axis=0)
    np.testing.assert_allclose(np.asarray(model.score_rows(history)), mean, rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(model.score_rows(history)), np.asarray(model.score_batch(history)), atol=1e-4)
    # the recommendations rank by the mean too (with the customers' attributes, as recommend scores)
    top = model.recommend(checkerboard.train, k=3, exclude_seen=True)
    first = top[top["rank"] == 1].set_index("user_id")["item_id"]
    context = checkerboard.train.user_features.reset_index(drop=True)
    with_context = np.mean([np.asarray(m.score_batch(history, context)) for m in [model, *model.members_]], axis=0)
    masked = np.where(history.toarray() > 0, -np.inf, with_context)
    expected = model.item_ids_[masked.argmax(axis=1)]
    users = checkerboard.train.user_ids
    assert [first[u] for u in users] == list(expected)
    # the mean's validation NDCG, measured on the restarts' carve, is recorded beside theirs
    assert 0.0 <= model.ensemble_val_ndcg_ <= 1.0
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert len(loaded.members_) == 2 and loaded.ensemble_val_ndcg_ == model.ensemble_val_ndcg_
    np.testing.assert_allclose(np.asarray(loaded.score_rows(history)), mean, rtol=1e-5, atol=1e-6)
    # a refit with restart_combine=best drops the averaged fits
    model.set_params(restart_combine="best").fit(checkerboard.train)
    assert model.members_ == [] and model.ensemble_val_ndcg_ is None


def test_restart_combine_is_checked(checkerboard):
    from aigc_biz.models.sasrec import SASRec

    with pytest.raises(ConfigError, match="restart_combine=median"):
        DiffRec(**RESTARTING, restarts=2, restart_combine="median").fit(checkerboard.train)
    with pytest.raises(ConfigError, match="restart_combine=mean"):
        SASRec(restarts=2, restart_combine="mean").check_params()
    with pytest.raises(ConfigError, match="restart_combine=select"):
        SASRec(restarts=2, restart_combine="select").check_params()


def test_the_cli_logs_the_validation_of_averaged_restarts(tmp_path, checkerboard):
    result = recommend_diffrec_in_the_cli(tmp_path, checkerboard, "restart_combine=mean")
    assert "[diffrec] scoring with the mean of the 2 restarts: val NDCG " in result.output
    assert 0.0 <= bench_training_curve(result.output)["ensemble_val_ndcg"] <= 1.0


class Reversed(DiffRec):
    """A fit that ranks every item backwards: averaging it in can only hurt."""

    def score_batch(self, history, context=None, **kwargs):
        return -10 * super().score_batch(history, context, **kwargs)


def _validation_of(model, members, data) -> float:
    saved = model.members_
    model.members_ = list(members)
    try:
        return model._ensemble_validation(data)
    finally:
        model.members_ = saved


def test_select_averages_only_the_restarts_that_raise_the_validation(tmp_path, checkerboard):
    train = checkerboard.train
    model = DiffRec(**RESTARTING, restarts=3, restart_combine="select").fit(train)
    kept = max(model.restart_scores_, key=lambda s: s["best_val_ndcg"])["seed"]
    assert {m.seed for m in model.members_} <= {0, 1, 2} - {kept}
    # the recorded value is the chosen average's, and never below the best fit alone
    assert model.ensemble_val_ndcg_ == _validation_of(model, model.members_, train)
    assert model.ensemble_val_ndcg_ >= _validation_of(model, [], train)
    # a fit that ranks backwards is left out; one that is the kept fit's twin changes nothing, so it is
    # left out too (it must raise the NDCG to join)
    bad = Reversed(**{**RESTARTING, "seed": 1})
    bad._split_seed = 0
    bad.fit(train)
    assert _validation_of(model, [bad], train) < _validation_of(model, [], train)
    twin = DiffRec(**{**RESTARTING, "seed": kept})
    twin._split_seed = 0
    twin.fit(train)
    model._select_members(train, [bad, twin])
    assert model.members_ == [] and model.ensemble_val_ndcg_ == _validation_of(model, [], train)
    # saved and loaded with its chosen members
    chosen = DiffRec(**RESTARTING, restarts=3, restart_combine="select").fit(train)
    chosen.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert [m.seed for m in loaded.members_] == [m.seed for m in chosen.members_]
    history = train.matrix
    np.testing.assert_allclose(
        np.asarray(loaded.score_rows(history)), np.asarray(chosen.score_rows(history)), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("name", ["giffcf", "cvae"])
def test_averages_are_validated_on_the_fits_as_validated_then_learn_from_every_item(name, checkerboard, caplog):
    """GiffCF's graph and CVAE's item-item path are relearnt from all of the data after validation; an
    average of restarts must be validated before that, or the carved items leak into its NDCG."""
    from .test_cvae import SMALL as SMALL_CVAE
    from .test_diffusion import SMALL_GIFFCF

    base = {**(SMALL_GIFFCF if name == "giffcf" else SMALL_CVAE), "epochs": 3, "val_fraction": 0.3}
    train = checkerboard.train
    with caplog.at_level("INFO", logger="aigc_biz.models.training"):
        model = create_model(name, **base, restarts=2, restart_combine="select").fit(train)
    # the best fit alone, scored the way the average is: exactly the training loop's validation NDCG
    first = next(m for m in caplog.messages if "the average scores validation NDCG" in m)
    assert f"(was {model.best_val_ndcg_:.4f})" in first
    # and the final model still learnt from every item: it scores like a plain fit of the kept seed
    kept = max(model.restart_scores_, key=lambda s: s["best_val_ndcg"])["seed"]
    alone = create_model(name, **{**base, "seed": kept})
    alone._split_seed = 0
    alone.fit(train)
    history = train.matrix
    np.testing.assert_allclose(
        np.asarray(model.score_batch(history)), np.asarray(alone.score_batch(history)), rtol=1e-5, atol=1e-6
    )


def test_the_cli_logs_which_restarts_select_averaged(tmp_path, checkerboard):
    result = recommend_diffrec_in_the_cli(tmp_path, checkerboard, "restart_combine=select")
    line = next(x for x in result.output.splitlines() if "scoring with the mean of" in x)
    curve = bench_training_curve(result.output)
    assert 0.0 <= curve["ensemble_val_ndcg"] <= 1.0 and f"val NDCG {curve['ensemble_val_ndcg']:.4f}" in line
    if "mean of the 2 restarts:" in line:  # both joined
        assert "averaged_seeds" not in curve
    else:
        assert line.startswith("[diffrec] scoring with the mean of 1 of the 2 restarts (seeds ")
        assert curve["averaged_seeds"] == [curve["kept_seed"]]


def test_a_wrapper_saves_and_loads_averaged_restarts_of_its_base_model(tmp_path):
    from .conftest import make_checkerboard

    data = make_checkerboard(timed=True).train
    base = {**RESTARTING, "restarts": 2, "restart_combine": "mean"}
    model = create_model("trend", base_model="diffrec", base_params=base, horizon="15d").fit(data)
    assert len(model.base_model_.members_) == 1
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert len(again.base_model_.members_) == 1
    users = data.user_ids
    a, b = model.recommend_topk(data, users, k=5), again.recommend_topk(data, users, k=5)
    assert (a.indices == b.indices).all() and np.allclose(a.scores, b.scores)
