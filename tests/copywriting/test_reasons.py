"""A ``reason`` column (repeat = bought before, new = cross-sell) reaches templates; copy words each row by it."""
import pandas as pd
import pytest

from aigc_biz.copywriting import render_copy
from aigc_biz.errors import InputError

FIELDS = ("{% for row in items %}{{ row.id }}={{ row.reason }} {% endfor %}"
          "| {{ replenish }} | {{ repeat_items | map(attribute='id') | join(',') }}"
          " | {{ new_items | map(attribute='id') | join(',') }} Reply STOP")


def _render(tmp_path, recs, source=FIELDS, **kwargs):
    path = tmp_path / "sms.en.j2"
    path.write_text(source, encoding="utf-8")
    return render_copy(recs, channel="sms", locale="en", template=path, **kwargs).frame


def test_reason_fields_per_customer_and_item(tmp_path):
    # the same item "a" is a repeat for u1 and new for u2: reason belongs to the row, not the item
    recs = pd.DataFrame({"user_id": ["u1", "u1", "u1", "u2", "u2", "u3"], "rank": [1, 2, 3, 1, 2, 1],
                         "item_id": ["a", "b", "c", "b", "a", "c"],
                         "reason": ["repeat", "new", " Repeat ", "new", None, "REPEAT"]})
    frame = _render(tmp_path, recs)
    assert frame["body"].tolist() == [
        "a=repeat b=new c=repeat | True | a,c | b Reply STOP",
        "b=new a=new | False | | b,a Reply STOP",     # a missing reason is new
        "c=repeat | True | c | Reply STOP",
    ]


def test_replenish_follows_the_top_item_not_the_majority(tmp_path):
    recs = pd.DataFrame({"user_id": ["u1"] * 3 + ["u2"] * 3, "rank": [1, 2, 3] * 2,
                         "item_id": ["a", "b", "c"] * 2, "reason": ["new", "repeat", "repeat", "repeat", "new", "new"]})
    frame = _render(tmp_path, recs, source="{{ replenish }} Reply STOP")
    assert frame["body"].tolist() == ["False Reply STOP", "True Reply STOP"]


def test_without_a_reason_column_every_item_is_new(tmp_path):
    recs = pd.DataFrame({"user_id": ["u1", "u1"], "rank": [2, 1], "item_id": ["b", "a"]})
    frame = _render(tmp_path, recs)
    assert frame["body"].tolist() == ["a=new b=new | False | | a,b Reply STOP"]


def test_reading_reason_does_not_count_as_naming_the_item(tmp_path):
    # the template looks at the reason of all three items but shows only the repeats
    source = ("{{ items | selectattr('reason', 'equalto', 'repeat') | map(attribute='title') | join(', ') }}"
              " Reply STOP")
    recs = pd.DataFrame({"user_id": ["u1"] * 3, "rank": [1, 2, 3], "item_id": ["a", "b", "c"],
                         "title": ["Tea", "Mug", "Rice"], "reason": ["new", "repeat", "repeat"]})
    frame = _render(tmp_path, recs, source=source)
    assert frame.loc[0, "body"] == "Mug, Rice Reply STOP"
    assert frame.loc[0, "item_ids"] == "b|c"


def test_a_reason_in_the_recs_is_not_an_item_attribute(tmp_path):
    # with only reason beside the ids, the items keep their titles from the items table
    recs = pd.DataFrame({"user_id": ["u1"], "rank": [1], "item_id": ["a"], "reason": ["repeat"]})
    items = pd.DataFrame({"item_id": ["a"], "title": ["Tea"]})
    frame = _render(tmp_path, recs, source="{{ item.title }} {{ item.reason }} Reply STOP", items=items)
    assert frame.loc[0, "body"] == "Tea repeat Reply STOP"


def test_an_unknown_reason_is_an_input_error_naming_the_row(tmp_path):
    recs = pd.DataFrame({"user_id": ["u1", "u2"], "rank": [1, 1], "item_id": ["a", "b"],
                         "reason": ["repeat", "rebuy"]})
    with pytest.raises(InputError, match="unknown reason 'rebuy'") as info:
        _render(tmp_path, recs)
    assert info.value.column == "reason" and info.value.row == 2
