"""The contract every recommender passes, as a test mixin (implicit style, scikit-learn check spirit).

``tests/models/test_contract.py`` builds one contract class for every name in the model registry, so
a new model cannot escape it; give it small settings there (``CONTRACT_SETTINGS``)::

    CONTRACT_SETTINGS["sasrec"] = {"params": {"epochs": 5, "seed": 0}, "slow_fit": True}

Extra variants (another parameter setting of a registered model) subclass it with a name that starts
with ``Test`` and supply ``_get_model`` returning a new, unfitted model with small settings.

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
``scores_history``
    False for models whose lists do not depend on the customer's history (popularity by segment):
    the fold-in check of a customer new since training is then skipped.
``score_atol``
    Tolerance for "the same scores" when a model cannot be bit-for-bit deterministic (default 0).
``repeat_model``
    True for buy-again models, which rank what the customer bought before and need purchase times:
    the class runs on ``timed_checkerboard`` (the checkerboard with a time column and some repeats),
    and the known-answer checks assert that, with ``exclude_seen=False``, each customer's own items
    come first instead of the held-out item of their half.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file
from safetensors.numpy import save as save_arrays

from aigc_biz.errors import ModelError, NotFittedError
from aigc_biz.models.base import Recommender
from aigc_biz.models.registry import get_model_class

COLUMNS = ["user_id", "rank", "item_id", "score"]


class RecommenderContract:
    """Shared tests; subclasses supply ``_get_model()`` (a new, unfitted model)."""

    slow_fit: ClassVar[bool] = False
    personalised: ClassVar[bool] = True
    similar_items_by_group: ClassVar[bool] = True
    scores_history: ClassVar[bool] = True
    score_atol: ClassVar[float] = 0.0
    repeat_model: ClassVar[bool] = False
    #: True for models that need a time column (they run on ``timed_checkerboard`` too)
    timed_data: ClassVar[bool] = False

    @pytest.fixture(scope="class")
    @classmethod
    def checkerboard(cls, checkerboard, timed_checkerboard):
        """The session checkerboard, or its timed variant for a ``repeat_model``."""
        return timed_checkerboard if cls.repeat_model or cls.timed_data else checkerboard

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

    def test_not_fitted_raises(self, tmp_path, checkerboard):
        model = self._get_model()
        with pytest.raises(NotFittedError):
            model.recommend(checkerboard.train, ["0001"])
        with pytest.raises(NotFittedError):
            model.similar_items(["00001"])
        with pytest.raises(NotFittedError):
            model.save(tmp_path / "model")
        assert not (tmp_path / "model").exists()

    # --- recommend ----------------------------------------------------------------------------
    def test_recommend_frame(self, fitted, checkerboard):
        rec = fitted.recommend(checkerboard.train, k=5)
        assert list(rec.columns) == COLUMNS
        assert rec["user_id"].unique().tolist() == list(checkerboard.train.user_ids)
        for _, one in rec.groupby("user_id", sort=False):
            assert one["rank"].tolist() == [1, 2, 3, 4, 5]
            assert one["item_id"].nunique() == 5
            assert np.all(np.diff(one["score"].to_numpy()) <= 0), "scores must not increase with rank"
            assert np.isfinite(one["score"]).all()

    def test_score_batch_shape(self, fitted, checkerboard):
        users = checkerboard.train.user_ids[:7]
        scoring = fitted.history_for(checkerboard.train, users)
        scores = np.asarray(fitted.score_batch(scoring.history, scoring.context))
        assert scores.shape == (7, checkerboard.n_items)
        assert np.isfinite(scores).all()

    def test_exclude_seen(self, fitted, checkerboard):
        n_items = checkerboard.n_items
        seen = set(zip(checkerboard.frame["customer"], checkerboard.frame["product"]))
        rec = fitted.recommend(checkerboard.train, k=n_items, exclude_seen=True)
        assert not seen & set(zip(rec["user_id"], rec["item_id"]))
        n_seen = checkerboard.frame.groupby("customer")["product"].nunique()
        counts = rec.groupby("user_id")["item_id"].nunique()
        assert (counts == n_items - n_seen.reindex(counts.index)).all()
        everything = fitted.recommend(checkerboard.train, k=n_items, exclude_seen=False)
        assert (everything.groupby("user_id")["item_id"].nunique() == n_items).all()

    def test_candidates_restrict_items(self, fitted, checkerboard):
        allowed = ["00002", "00005", "00013", "00020"]
        rec = fitted.recommend(checkerboard.train, k=10, exclude_seen=False, candidates=allowed + ["not-an-item"])
        assert set(rec["item_id"]) <= set(allowed)
        assert (rec.groupby("user_id").size() == len(allowed)).all()

    def test_k_larger_than_catalogue(self, fitted, checkerboard):
        user = checkerboard.train.user_ids[0]
        n_seen = checkerboard.frame.loc[checkerboard.frame["customer"] == user, "product"].nunique()
        rec = fitted.recommend(checkerboard.train, [user], k=checkerboard.n_items + 5)
        assert len(rec) == checkerboard.n_items - n_seen
        assert rec["item_id"].notna().all()

    def test_cold_start_users_are_kept(self, fitted, checkerboard):
        users = ["0001", "new-customer", "000"]
        rec = fitted.recommend(checkerboard.train, users, k=3)
        assert rec["user_id"].unique().tolist() == users
        assert (rec.groupby("user_id").size() == 3).all()

    def test_context_steers_cold_start_users_only_if_used(self, fitted, checkerboard):
        context = pd.DataFrame({"user_id": ["new-a", "new-b"], "segment": ["A", "B"]})
        rec = fitted.recommend(checkerboard.train, ["new-a", "new-b"], k=3, context=context)
        if not fitted.uses_context:
            lists = rec.groupby("user_id")["item_id"].agg(tuple)
            assert lists["new-a"] == lists["new-b"], "a model without context must ignore it"
            return
        for user, group in (("new-a", "A"), ("new-b", "B")):
            items = rec.loc[rec["user_id"] == user, "item_id"]
            assert {checkerboard.half_of_item[t] for t in items} == {group}

    def test_batch_equals_single(self, fitted, checkerboard):
        one_by_one = fitted.recommend(checkerboard.train, k=5, batch_size=1)
        batched = fitted.recommend(checkerboard.train, k=5, batch_size=1024)
        assert_same_recommendations(one_by_one, batched)

    def test_ids_come_back_unchanged(self, fitted, checkerboard):
        rec = fitted.recommend(checkerboard.train, k=3)
        assert set(rec["user_id"]) == set(checkerboard.group_of_user)
        assert set(rec["item_id"]) <= set(checkerboard.half_of_item)
        assert rec["user_id"].str.len().eq(4).all() and rec["item_id"].str.startswith("000").all()

    # --- known answers ------------------------------------------------------------------------
    def test_checkerboard(self, fitted, checkerboard):
        n_items = checkerboard.n_items
        if self.repeat_model:
            rec = fitted.recommend(checkerboard.train, k=n_items, exclude_seen=False)
            lists = rec.groupby("user_id")["item_id"].agg(list)
            own = checkerboard.frame.groupby("customer")["product"].agg(set)
            for user, items in own.items():
                assert set(lists[user][: len(items)]) == items, f"{user}: own items must come first"
            return
        if not self.personalised:
            rec = fitted.recommend(checkerboard.train, k=n_items, exclude_seen=False)
            rankings = {tuple(one["item_id"]) for _, one in rec.groupby("user_id")}
            assert len(rankings) == 1, "a non-personalised model gives every user the same ranking"
            return
        rec = fitted.recommend(checkerboard.train, k=n_items // 2, exclude_seen=True)
        lists = rec.groupby("user_id")["item_id"].agg(list)
        held_out_found = np.mean([checkerboard.heldout[u] in lists[u] for u in checkerboard.heldout])
        top_in_own_half = np.mean(
            [checkerboard.half_of_item[lists[u][0]] == checkerboard.group_of_user[u] for u in checkerboard.heldout]
        )
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
            same_half = np.mean(
                [
                    checkerboard.half_of_item[a] == checkerboard.half_of_item[b]
                    for a, b in zip(every["item_id"], every["similar_item_id"])
                ]
            )
            assert same_half >= 0.9

    def test_deterministic(self, fitted, checkerboard):
        again = type(fitted)(**fitted.get_params()).fit(checkerboard.train)
        scoring = fitted.history_for(checkerboard.train)
        first = np.asarray(fitted.score_batch(scoring.history, scoring.context))
        second = np.asarray(again.score_batch(scoring.history, scoring.context))
        np.testing.assert_allclose(first, second, rtol=0, atol=self.score_atol)
        # refitting the same instance forgets the first fit and lands on the same model
        again.fit(checkerboard.train)
        third = np.asarray(again.score_batch(scoring.history, scoring.context))
        np.testing.assert_allclose(first, third, rtol=0, atol=self.score_atol)

    # --- scoring the data handed in -------------------------------------------------------------
    def test_scores_the_fresh_history_it_is_given(self, fitted, checkerboard):
        fresh = fresh_interactions(checkerboard)
        rec = fitted.recommend(fresh, k=checkerboard.n_items)
        bought = set(zip(fresh_frame(checkerboard)["customer"], fresh_frame(checkerboard)["product"]))
        assert not bought & set(zip(rec["user_id"], rec["item_id"])), "bought since training must be excluded"
        assert NEW_ITEM not in set(rec["item_id"]), "an item unknown to the model is never recommended"
        lists = rec.groupby("user_id")["item_id"].agg(list)
        assert NEW_CUSTOMER in lists.index, "a customer new since training is scored"
        assert len(lists[NEW_CUSTOMER]) == checkerboard.n_items - 4
        frame = fresh_frame(checkerboard)
        known = frame[frame["product"].isin(set(checkerboard.train.item_ids))]
        n_bought = known.groupby("customer")["product"].nunique()
        assert (lists.map(len) == checkerboard.n_items - n_bought.reindex(lists.index)).all()
        if self.repeat_model:
            # what a customer bought since training is among the first things they are offered again
            again = fitted.recommend(fresh, [NEW_CUSTOMER, "0001"], k=checkerboard.n_items, exclude_seen=False)
            first = again.groupby("user_id")["item_id"].agg(list)
            assert set(first[NEW_CUSTOMER][:4]) == {"00011", "00012", "00013", "00014"}
            own = set(frame.loc[frame["customer"] == "0001", "product"])
            assert {"00012", "00015"} <= set(first["0001"][: len(own)]) == own
        elif self.personalised and self.scores_history:
            # folded in from a history of half-B items only: its list starts in half B
            top = lists[NEW_CUSTOMER][:3]
            assert {checkerboard.half_of_item[t] for t in top} == {"B"}, top

    def test_unknown_items_are_counted_in_one_warning(self, fitted, checkerboard, caplog):
        with caplog.at_level("WARNING", logger="aigc_biz"):
            top = fitted.recommend_topk(fresh_interactions(checkerboard), k=3)
        assert list(top.unknown_items) == [NEW_ITEM]
        messages = [r.getMessage() for r in caplog.records if "unknown to the" in r.getMessage()]
        assert len(messages) == 1 and messages[0].startswith("1 of 21 items")

    def test_input_data_is_unchanged(self, checkerboard):
        data = fresh_interactions(checkerboard)
        before = (
            data.matrix.copy(),
            data.user_features.copy(),
            data.item_features.copy(),
            data.events.copy(),
            data.user_ids.copy(),
            data.item_ids.copy(),
        )
        model = self._get_model().fit(data)
        model.recommend(data, k=3)
        model.recommend(checkerboard.train, ["new"], k=3)
        assert (data.matrix != before[0]).nnz == 0 and data.matrix.dtype == before[0].dtype
        pd.testing.assert_frame_equal(data.user_features, before[1])
        pd.testing.assert_frame_equal(data.item_features, before[2])
        pd.testing.assert_frame_equal(data.events, before[3])
        assert list(data.user_ids) == list(before[4]) and list(data.item_ids) == list(before[5])

    # --- saving -------------------------------------------------------------------------------
    def test_save_load_round_trip(self, fitted, tmp_path, checkerboard):
        folder = fitted.save(tmp_path / "model")
        loaded = Recommender.load(folder)
        assert type(loaded) is type(fitted)
        assert loaded.get_params() == fitted.get_params()
        users = list(checkerboard.train.user_ids[:10]) + ["cold-start"]
        context = pd.DataFrame({"user_id": ["cold-start"], "segment": ["B"]})
        pd.testing.assert_frame_equal(
            loaded.recommend(checkerboard.train, users, k=5, context=context),
            fitted.recommend(checkerboard.train, users, k=5, context=context),
        )
        fresh = fresh_interactions(checkerboard)
        pd.testing.assert_frame_equal(loaded.recommend(fresh, k=5), fitted.recommend(fresh, k=5))
        assert not any(name.startswith("history") for name in load_file(folder / "arrays.safetensors")), (
            "a saved model keeps weights, not the training matrix"
        )
        pd.testing.assert_frame_equal(
            type(fitted).load(folder).similar_items(["00003"], k=2), fitted.similar_items(["00003"], k=2)
        )

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

    def test_tampered_folder_is_refused(self, fitted, tmp_path):
        """Every array changed in shape or value, with its checksum recomputed, is refused (exit 2)."""
        folder = fitted.save(tmp_path / "model")
        arrays = load_file(folder / "arrays.safetensors")
        tried = 0
        for key, value in arrays.items():
            for how, changed in tamperings(value):
                copy = tmp_path / f"tampered-{tried}"
                shutil.copytree(folder, copy)
                write_tampered(copy, {**arrays, key: changed})
                tried += 1
                with pytest.raises(ModelError) as caught:
                    Recommender.load(copy)
                assert caught.value.exit_code == 2, (key, how)
        assert tried >= len(arrays)
        ids = json.loads((folder / "ids.json").read_text())
        copy = tmp_path / "tampered-ids"
        shutil.copytree(folder, copy)
        (copy / "ids.json").write_text(json.dumps({"item_ids": ids["item_ids"] + ["extra"]}))
        rewrite_checksum(copy, "ids.json")
        with pytest.raises(ModelError):
            Recommender.load(copy)


NEW_CUSTOMER = "9999"
NEW_ITEM = "99999"


def fresh_frame(checkerboard) -> pd.DataFrame:
    """The training rows plus purchases made since: user 0001 (half A) took two half-B items, a new
    customer took four half-B items, and someone bought an item the model has never seen."""
    since = pd.DataFrame(
        {
            "customer": ["0001", "0001", NEW_CUSTOMER, NEW_CUSTOMER, NEW_CUSTOMER, NEW_CUSTOMER, "0002"],
            "product": ["00012", "00015", "00011", "00012", "00013", "00014", NEW_ITEM],
            "segment": ["A", "A", None, None, None, None, "A"],
        }
    )
    if "time" in checkerboard.frame.columns:  # the timed checkerboard: bought in the week after training
        since["time"] = checkerboard.frame["time"].max() + pd.to_timedelta(np.arange(1, len(since) + 1), unit="D")
    return pd.concat([checkerboard.frame, since], ignore_index=True)


def fresh_interactions(checkerboard):
    from aigc_biz.data import Interactions

    time_col = "time" if "time" in checkerboard.frame.columns else None
    return Interactions.from_frame(
        fresh_frame(checkerboard), "customer", "product", time_col=time_col, user_attr_cols=["segment"]
    )


def tamperings(value: np.ndarray):
    """(description, changed array) pairs: a shorter first axis, and an impossible value."""
    if value.ndim >= 1 and value.shape[0] > 0:
        yield "shorter", np.ascontiguousarray(value[:-1])
    if value.size and value.dtype.kind == "f":
        bad = value.copy()
        bad.flat[0] = np.nan
        yield "nan", bad
    if value.size and value.dtype.kind in "iu":
        bad = value.copy()
        bad.flat[-1] = 10**6
        yield "out of range", bad


def write_tampered(folder, arrays) -> None:
    (folder / "arrays.safetensors").write_bytes(save_arrays(arrays))
    rewrite_checksum(folder, "arrays.safetensors")


def rewrite_checksum(folder, name: str) -> None:
    """What anyone who can edit the folder can do: make the checksum match the edited file."""
    manifest = json.loads((folder / "model.json").read_text())
    manifest["checksums"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "model.json").write_text(json.dumps(manifest))


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
                f"user {a['user_id'].iloc[0]}: rank {rank + 1} differs ({a_items[rank]} vs {item})"
            )


def mark_slow_contract_classes(items) -> None:
    """Give every test of a ``slow_fit`` contract class the ``slow`` marker (``-m "not slow"`` skips them)."""
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and issubclass(cls, RecommenderContract) and cls.slow_fit:
            item.add_marker(pytest.mark.slow)
