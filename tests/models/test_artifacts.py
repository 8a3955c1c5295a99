"""Saved model folders: layout, atomic replacement, refusal of damaged folders, schema checks."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigc_biz._version import __version__
from aigc_biz.data import Interactions
from aigc_biz.errors import ModelError, OutputError
from aigc_biz.models.artifacts import FORMAT_VERSION, check_schema, load_model, save_model
from aigc_biz.models.ease import EASE
from aigc_biz.models.itemknn import ItemKNN
from aigc_biz.models.pop import Popularity


@pytest.fixture(scope="module")
def segment_pop(checkerboard):
    return Popularity(by_segment="segment").fit(checkerboard.train)


def test_folder_layout_and_manifest(segment_pop, tmp_path):
    folder = save_model(segment_pop, tmp_path / "model")
    assert folder == tmp_path / "model"
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.safetensors", "ids.json", "model.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"], "no temporary folder left behind"
    manifest = json.loads((folder / "model.json").read_text())
    assert manifest["model"] == "pop"
    assert manifest["class"] == "aigc_biz.models.pop.Popularity"
    assert manifest["params"] == {"by_segment": "segment", "weighting": "count"}
    assert manifest["meta"] == {"segment_values": ["A", "B"]}
    assert manifest["format_version"] == FORMAT_VERSION and manifest["aigc_biz_version"] == __version__
    schema = manifest["schema"]
    assert schema["n_items"] == 20 and schema["user_feature_columns"] == ["segment"]
    assert schema["data"]["roles"]["user"] == "customer" and schema["data"]["roles"]["item"] == "product"
    assert schema["data"]["user_feature_columns"] == ["segment"]
    assert set(manifest["checksums"]) == {"arrays.safetensors", "ids.json"}
    assert json.loads((folder / "ids.json").read_text()) == {"item_ids": list(segment_pop.item_ids_)}


def test_a_saved_model_holds_no_customer_data(tmp_path):
    frame = pd.DataFrame(
        {
            "user": ["cust-17", "cust-42", "cust-42"],
            "item": ["x", "x", "y"],
            "segment": ["gold-tier", "silver-tier", "silver-tier"],
        }
    )
    data = Interactions.from_frame(frame, "user", "item", user_attr_cols=["segment"])
    model = ItemKNN().fit(data)
    folder = model.save(tmp_path / "model")
    every_byte = b"".join(p.read_bytes() for p in folder.iterdir())
    assert b"cust-17" not in every_byte and b"cust-42" not in every_byte and b"silver-tier" not in every_byte
    loaded = load_model(folder)
    assert loaded.user_feature_columns_ == ["segment"]
    pd.testing.assert_frame_equal(loaded.recommend(data, k=2), model.recommend(data, k=2))


def test_saving_again_replaces_an_older_model(checkerboard, tmp_path):
    folder = Popularity().fit(checkerboard.train).save(tmp_path / "model")
    EASE(l2=5.0).fit(checkerboard.train).save(folder)
    assert isinstance(load_model(folder), EASE)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_refuses_to_replace_what_is_not_a_model(segment_pop, tmp_path):
    precious = tmp_path / "reports"
    precious.mkdir()
    (precious / "q3.html").write_text("keep me")
    with pytest.raises(ModelError, match="not a saved model"):
        segment_pop.save(precious)
    assert (precious / "q3.html").read_text() == "keep me"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me too")
    with pytest.raises(ModelError, match="not a folder"):
        segment_pop.save(a_file)
    with pytest.raises(OutputError):
        segment_pop.save(a_file / "model")  # parent is a file
    assert a_file.read_text() == "keep me too"


def test_an_empty_folder_can_be_used(segment_pop, tmp_path):
    (tmp_path / "model").mkdir()
    assert isinstance(load_model(segment_pop.save(tmp_path / "model")), Popularity)


def _rewrite_manifest(folder: Path, **changes) -> None:
    manifest = json.loads((folder / "model.json").read_text())
    manifest.update(changes)
    (folder / "model.json").write_text(json.dumps(manifest))


def test_changed_files_are_refused(segment_pop, tmp_path):
    folder = segment_pop.save(tmp_path / "model")
    ids = (folder / "ids.json").read_text()
    (folder / "ids.json").write_text(ids.replace('"00001"', '"00009"', 1))
    with pytest.raises(ModelError, match="checksum") as caught:
        load_model(folder)
    assert str(folder) in str(caught.value)
    (folder / "ids.json").unlink()
    with pytest.raises(ModelError, match="ids.json is missing"):
        load_model(folder)


def test_other_format_version_is_refused(segment_pop, tmp_path):
    folder = segment_pop.save(tmp_path / "model")
    _rewrite_manifest(folder, format_version=FORMAT_VERSION + 1)
    with pytest.raises(ModelError, match="format") as caught:
        load_model(folder)
    assert caught.value.hint == "retrain the model with this version"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"model": "no-such-model"}, "unknown model"),
        ({"params": {"no_such_parameter": 1}}, "no parameter"),
        ({"checksums": {"../outside.json": "0"}}, "lists no checksum"),
        ({"schema": {"n_items": 21, "user_feature_columns": ["segment"]}}, "disagrees"),
        ({"schema": {"n_items": 20}}, "cannot read"),
        ({"checksums": ["ids.json"]}, "model.json is corrupt"),
    ],
)
def test_inconsistent_manifest_is_refused(segment_pop, tmp_path, changes, message):
    folder = segment_pop.save(tmp_path / "model")
    _rewrite_manifest(folder, **changes)
    with pytest.raises(ModelError, match=message):
        load_model(folder)


def test_checksums_naming_files_outside_the_folder_are_refused(segment_pop, tmp_path):
    folder = segment_pop.save(tmp_path / "model")
    checksums = json.loads((folder / "model.json").read_text())["checksums"]
    _rewrite_manifest(folder, checksums={**checksums, "../outside.json": "0"})
    with pytest.raises(ModelError, match="unexpected file"):
        load_model(folder)


def test_state_that_does_not_fit_the_model_is_refused(checkerboard, tmp_path):
    folder = Popularity(by_segment="segment").fit(checkerboard.train).save(tmp_path / "model")
    _rewrite_manifest(folder, meta={"segment_values": ["A"]})  # the arrays hold two segments
    with pytest.raises(ModelError, match="does not fit"):
        load_model(folder)


def test_load_through_the_wrong_class_is_refused(segment_pop, tmp_path):
    folder = segment_pop.save(tmp_path / "model")
    with pytest.raises(ModelError, match="not 'ease'"):
        EASE.load(folder)


class _TextState(Popularity):
    def _state(self):
        return {"labels": np.array(["a", "b"], dtype=object)}


def test_non_numeric_state_is_refused_and_nothing_is_written(checkerboard, tmp_path):
    model = _TextState().fit(checkerboard.train)
    with pytest.raises(ModelError, match="not numeric"):
        save_model(model, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_user_attributes_with_gaps_and_mixed_types_round_trip(tmp_path):
    frame = pd.DataFrame(
        {
            "user": ["1", "2", "3", "3"],
            "item": ["x", "y", "x", "z"],
            "segment": ["gold", None, 3, 3],
            "region": ["北京", "Köln", None, None],
        }
    )
    data = Interactions.from_frame(frame, "user", "item", user_attr_cols=["segment", "region"])
    model = Popularity(by_segment="segment").fit(data)
    loaded = load_model(model.save(tmp_path / "model"))
    assert loaded.segment_values_ == model.segment_values_ == ["3", "gold"]  # mixed text/number: compared as text
    pd.testing.assert_frame_equal(
        loaded.recommend(data, k=3, exclude_seen=False), model.recommend(data, k=3, exclude_seen=False)
    )


id_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None)
@given(
    users=st.lists(id_text, min_size=1, max_size=6, unique=True),
    items=st.lists(id_text, min_size=1, max_size=6, unique=True),
)
def test_any_ids_round_trip(users, items):
    frame = pd.DataFrame({"user": [u for u in users for _ in items], "item": [t for _ in users for t in items]})
    frame = frame.iloc[: max(1, len(frame) - 1)]  # leave one pair out so not every user is complete
    data = Interactions.from_frame(frame, "user", "item")
    model = Popularity().fit(data)
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_model(model.save(Path(tmp) / "model"))
    assert list(loaded.item_ids_) == list(model.item_ids_) == sorted(set(frame["item"]))
    recs = loaded.recommend(data, k=3)
    pd.testing.assert_frame_equal(recs, model.recommend(data, k=3))
    assert set(recs["user_id"]) <= set(users) and set(recs["item_id"]) <= set(items)


# --- check_schema ------------------------------------------------------------------------------------
def test_check_schema_accepts_the_same_kind_of_data(segment_pop, checkerboard):
    assert check_schema(segment_pop, checkerboard.train) == []


def test_check_schema_refuses_other_user_attributes(segment_pop, checkerboard):
    frame = checkerboard.frame.assign(region="north")
    other = Interactions.from_frame(frame, "customer", "product", user_attr_cols=["region"])
    with pytest.raises(ModelError, match="missing segment; new region"):
        check_schema(segment_pop, other)


def test_check_schema_refuses_an_unknown_catalogue_and_warns_on_partial_overlap(segment_pop, checkerboard):
    frame = checkerboard.frame.assign(product="x" + checkerboard.frame["product"])
    with pytest.raises(ModelError, match="none of the 20 items"):
        check_schema(segment_pop, Interactions.from_frame(frame, "customer", "product", user_attr_cols=["segment"]))
    half = checkerboard.frame.copy()
    half.loc[half["product"] == "00001", "product"] = "new-item"
    warnings = check_schema(
        segment_pop, Interactions.from_frame(half, "customer", "product", user_attr_cols=["segment"])
    )
    assert warnings == ["1 of 20 items are unknown to the model and will never be recommended"]


def test_check_schema_names_each_way_the_data_was_read_differently(tmp_path):
    from aigc_biz.data import load_interactions

    path = tmp_path / "orders.csv"
    pd.DataFrame(
        {
            "customer_id": ["1", "1", "2", "3"],
            "product_id": ["a", "b", "a", "c"],
            "order_time": ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"],
            "quantity": [1, 2, 1, 3],
        }
    ).to_csv(path, index=False)
    model = Popularity().fit(load_interactions(str(path)))
    assert check_schema(model, load_interactions(str(path))) == []
    other = load_interactions(str(path), time_decay_days=30, returns="net")
    warnings = check_schema(model, other)
    assert any("time decay (days) 30" in w and "trained with None" in w for w in warnings), warnings
    assert any("returns handling 'net'" in w and "trained with 'drop'" in w for w in warnings), warnings
    renamed = tmp_path / "renamed.csv"
    pd.read_csv(path).rename(columns={"quantity": "qty"}).to_csv(renamed, index=False)
    warnings = check_schema(model, load_interactions(str(renamed), weight_col="qty"))
    assert any("weight column is 'qty'" in w and "trained with 'quantity'" in w for w in warnings), warnings
