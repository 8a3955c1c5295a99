"""The contract every recommender passes, as a test mixin (implicit style, scikit-learn check spirit).

How to run it over a new model: subclass it in ``tests/models/test_contract.py`` with a name that
starts with ``Test`` and supply ``_get_model`` returning a new, unfitted model with small settings::

    class TestConditionalVAE(RecommenderContract):
        slow_fit = True            # every test of the class gets the ``slow`` marker

        def _get_model(self):
            return ConditionalVAE(epochs=5, random_state=0)

The data is the session fixture ``checkerboard`` (see ``conftest.py``): two customer groups that
each take items only from their own half of a 20-item catalogue, ids with leading zeros, a user
attribute column ``segment`` equal to the group, and one held-out item per user.

Most tests share one fitted model per class (the class-scoped ``fitted`` fixture) and must not
change it. Only three fits happen per class: ``fitted``, ``test_fit_returns_self`` and
``test_deterministic``, so a neural model with a few epochs stays within seconds.

Class attributes a subclass may set:

``slow_fit``
    True for models whose fit takes more than a fraction of a second; adds the ``slow`` marker.
``personalised``
    False for models that give every user the same list (global popularity): the checkerboard test
    then checks that every user gets the same ranking instead of the group's own half.
``similar_items_by_group``
    True when ``similar_items`` must find items of the same half for nearly every item.
``score_atol``
    Tolerance for "the same scores" when a model cannot be bit-for-bit deterministic (default 0).
"""
from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from aigc_biz.errors import ModelError, NotFittedError
from aigc_biz.models.base import Recommender
from aigc_biz.models.registry import get_model_class

COLUMNS = ["user_id", "rank", "item_id", "score"]


class RecommenderContract:
    """Shared tests; subclasses supply ``_get_model()`` (a new, unfitted model)."""

    slow_fit: ClassVar[bool] = False
    personalised: ClassVar[bool] = True
    similar_items_by_group: ClassVar[bool] = True
    score_atol: ClassVar[float] = 0.0

    def _get_model(self) -> Recommender:
        raise NotImplementedError("a contract test class must define _get_model()")

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, checkerboard) -> Recommender:
        return cls()._get_model().fit(checkerboard.train)

    # --- construction and parameters ----------------------------------------------------------
    def test_constructor_has_only_defaulted_keyword_parameters(self):
        model = self._get_model()
        default = type(model)()
        assert set(default.get_params()) == set(model.get_params())
        assert get_model_class(model.name) is type(model)
        assert not [name for name in vars(default) if name.endswith("_")], "no fitted state before fit"

    def test_get_params_set_params_round_trip(self):
        model = self._get_model()
        params = model.get_params()
        other = type(model)()
        assert other.set_params(**params) is other
        assert other.get_params() == params
        json.dumps(params)  # saved models store parameters as JSON
        with pytest.raises(ModelError, match="no parameter"):
            other.set_params(no_such_parameter=1)

    def test_fit_returns_self_and_keeps_params(self, checkerboard):
        model = self._get_model()
        before = model.get_params()
        assert model.fit(checkerboard.train) is model
        assert model.get_params() == before
        assert list(model.item_ids_) == list(checkerboard.train.item_ids)

    def test_not_fitted_raises(self, tmp_path):
        model = self._get_model()
        with pytest.raises(NotFittedError):
            model.recommend(["0001"])
        with pytest.raises(NotFittedError):
            model.similar_items(["00001"])
        with pytest.raises(NotFittedError):
            model.save(tmp_path / "model")
        assert not (tmp_path / "model").exists()

    # --- recommend ----------------------------------------------------------------------------
    def test_recommend_frame(self, fitted, checkerboard):
        rec = fitted.recommend(k=5)
        assert list(rec.columns) == COLUMNS
        assert rec["user_id"].unique().tolist() == list(checkerboard.train.user_ids)
        for _, one in rec.groupby("user_id", sort=False):
            assert one["rank"].tolist() == [1, 2, 3, 4, 5]
            assert one["item_id"].nunique() == 5
            assert np.all(np.diff(one["score"].to_numpy()) <= 0), "scores must not increase with rank"
            assert np.isfinite(one["score"]).all()

    def test_score_batch_shape(self, fitted, checkerboard):
        users = checkerboard.train.user_ids[:7]
        history, context = fitted.history_for(users)
        scores = np.asarray(fitted.score_batch(history, context))
        assert scores.shape == (7, checkerboard.n_items)
        assert np.isfinite(scores).all()

    def test_exclude_seen(self, fitted, checkerboard):
        n_items = checkerboard.n_items
        seen = set(zip(checkerboard.frame["customer"], checkerboard.frame["product"]))
        rec = fitted.recommend(k=n_items, exclude_seen=True)
        assert not seen & set(zip(rec["user_id"], rec["item_id"]))
        n_seen = checkerboard.frame.groupby("customer")["product"].nunique()
        counts = rec.groupby("user_id")["item_id"].nunique()
        assert (counts == n_items - n_seen.reindex(counts.index)).all()
        everything = fitted.recommend(k=n_items, exclude_seen=False)
        assert (everything.groupby("user_id")["item_id"].nunique() == n_items).all()

    def test_candidates_restrict_items(self, fitted, checkerboard):
        allowed = ["00002", "00005", "00013", "00020"]
        rec = fitted.recommend(k=10, exclude_seen=False, candidates=allowed + ["not-an-item"])
        assert set(rec["item_id"]) <= set(allowed)
        assert (rec.groupby("user_id").size() == len(allowed)).all()

    def test_k_larger_than_catalogue(self, fitted, checkerboard):
        user = checkerboard.train.user_ids[0]
        n_seen = checkerboard.frame.loc[checkerboard.frame["customer"] == user, "product"].nunique()
        rec = fitted.recommend([user], k=checkerboard.n_items + 5)
        assert len(rec) == checkerboard.n_items - n_seen
        assert rec["item_id"].notna().all()

    def test_cold_start_users_are_kept(self, fitted):
        users = ["0001", "new-customer", "000"]
        rec = fitted.recommend(users, k=3)
        assert rec["user_id"].unique().tolist() == users
        assert (rec.groupby("user_id").size() == 3).all()

    def test_context_steers_cold_start_users_only_if_used(self, fitted, checkerboard):
        context = pd.DataFrame({"user_id": ["new-a", "new-b"], "segment": ["A", "B"]})
        rec = fitted.recommend(["new-a", "new-b"], k=3, context=context)
        if not fitted.uses_context:
            lists = rec.groupby("user_id")["item_id"].agg(tuple)
            assert lists["new-a"] == lists["new-b"], "a model without context must ignore it"
            return
        for user, group in (("new-a", "A"), ("new-b", "B")):
            items = rec.loc[rec["user_id"] == user, "item_id"]
            assert {checkerboard.half_of_item[t] for t in items} == {group}

    def test_batch_equals_single(self, fitted):
        one_by_one = fitted.recommend(k=5, batch_size=1)
        batched = fitted.recommend(k=5, batch_size=1024)
        assert_same_recommendations(one_by_one, batched)

    def test_ids_come_back_unchanged(self, fitted, checkerboard):
        rec = fitted.recommend(k=3)
        assert set(rec["user_id"]) == set(checkerboard.group_of_user)
        assert set(rec["item_id"]) <= set(checkerboard.half_of_item)
        assert rec["user_id"].str.len().eq(4).all() and rec["item_id"].str.startswith("000").all()

    # --- known answers ------------------------------------------------------------------------
    def test_checkerboard(self, fitted, checkerboard):
        n_items = checkerboard.n_items
        if not self.personalised:
            rec = fitted.recommend(k=n_items, exclude_seen=False)
            rankings = {tuple(one["item_id"]) for _, one in rec.groupby("user_id")}
            assert len(rankings) == 1, "a non-personalised model gives every user the same ranking"
            return
        rec = fitted.recommend(k=n_items // 2, exclude_seen=True)
        lists = rec.groupby("user_id")["item_id"].agg(list)
        held_out_found = np.mean([checkerboard.heldout[u] in lists[u] for u in checkerboard.heldout])
        top_in_own_half = np.mean([checkerboard.half_of_item[lists[u][0]] == checkerboard.group_of_user[u]
                                   for u in checkerboard.heldout])
        assert held_out_found >= 0.9, f"held-out item in the top half for only {held_out_found:.0%} of users"
        assert top_in_own_half >= 0.9, f"first item from the user's own half for only {top_in_own_half:.0%}"

    def test_similar_items(self, fitted, checkerboard):
        items = ["00001", "00002", "00011", "00012"]
        similar = fitted.similar_items(items, k=3)
        assert list(similar.columns) == ["item_id", "rank", "similar_item_id", "score"]
        assert not (similar["item_id"] == similar["similar_item_id"]).any()
        assert (similar.groupby("item_id").size() <= 3).all()
        assert set(similar["item_id"]) == set(items)
        with pytest.raises(ModelError, match="unknown item"):
            fitted.similar_items(["no-such-item"])
        if self.similar_items_by_group:
            every = fitted.similar_items(list(checkerboard.train.item_ids), k=1)
            same_half = np.mean([checkerboard.half_of_item[a] == checkerboard.half_of_item[b]
                                 for a, b in zip(every["item_id"], every["similar_item_id"])])
            assert same_half >= 0.9

    def test_deterministic(self, fitted, checkerboard):
        again = type(fitted)(**fitted.get_params()).fit(checkerboard.train)
        history, context = fitted.history_for(checkerboard.train.user_ids)
        first = np.asarray(fitted.score_batch(history, context))
        second = np.asarray(again.score_batch(history, context))
        np.testing.assert_allclose(first, second, rtol=0, atol=self.score_atol)

    # --- saving -------------------------------------------------------------------------------
    def test_save_load_round_trip(self, fitted, tmp_path):
        folder = fitted.save(tmp_path / "model")
        loaded = Recommender.load(folder)
        assert type(loaded) is type(fitted)
        assert loaded.get_params() == fitted.get_params()
        users = list(fitted.user_ids_[:10]) + ["cold-start"]
        context = pd.DataFrame({"user_id": ["cold-start"], "segment": ["B"]})
        pd.testing.assert_frame_equal(loaded.recommend(users, k=5, context=context),
                                      fitted.recommend(users, k=5, context=context))
        pd.testing.assert_frame_equal(type(fitted).load(folder).similar_items(["00003"], k=2),
                                      fitted.similar_items(["00003"], k=2))

    def test_loading_a_bad_folder_raises(self, fitted, tmp_path):
        empty = tmp_path / "empty"
        empty.mkdir()
        garbage = tmp_path / "garbage"
        garbage.mkdir()
        (garbage / "model.json").write_text("{not json")
        truncated = fitted.save(tmp_path / "truncated")
        arrays = truncated / "arrays.safetensors"
        arrays.write_bytes(arrays.read_bytes()[:-8])
        for folder in (tmp_path / "missing", empty, garbage, truncated):
            with pytest.raises(ModelError) as caught:
                Recommender.load(folder)
            assert str(folder) in str(caught.value)


def assert_same_recommendations(left: pd.DataFrame, right: pd.DataFrame, rtol: float = 1e-5) -> None:
    """Equal users, ranks and scores; items equal too, except where tied scores may swap places."""
    assert list(left.columns) == list(right.columns) == COLUMNS
    assert left["user_id"].tolist() == right["user_id"].tolist()
    assert left["rank"].tolist() == right["rank"].tolist()
    np.testing.assert_allclose(left["score"].to_numpy(), right["score"].to_numpy(), rtol=rtol, atol=1e-6)
    for (_, a), (_, b) in zip(left.groupby("user_id", sort=False), right.groupby("user_id", sort=False)):
        a_items, a_scores = a["item_id"].tolist(), a["score"].to_numpy()
        for rank, item in enumerate(b["item_id"]):
            if item == a_items[rank]:
                continue
            tied = np.isclose(a_scores, a_scores[rank], rtol=rtol, atol=1e-6)
            # a swap among tied scores, or a tie at the cut-off that let another item in
            assert item in [t for t, is_tied in zip(a_items, tied) if is_tied] or tied[-1], (
                f"user {a['user_id'].iloc[0]}: rank {rank + 1} differs ({a_items[rank]} vs {item})")


def mark_slow_contract_classes(items) -> None:
    """Give every test of a ``slow_fit`` contract class the ``slow`` marker (``-m "not slow"`` skips them)."""
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and issubclass(cls, RecommenderContract) and cls.slow_fit:
            item.add_marker(pytest.mark.slow)
