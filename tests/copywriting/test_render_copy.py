import datetime as dt
import re

import pandas as pd
import pytest

from aigc_biz.copywriting import COPY_COLUMNS, CopyTemplate, default_template_path, preview, render_copy
from aigc_biz.errors import InputError

PAIRS = [(channel, locale) for channel in ("sms", "push", "email") for locale in ("zh", "en")]


@pytest.mark.parametrize("channel, locale", PAIRS)
def test_bundled_pack_has_three_or_more_variants(channel, locale):
    template = CopyTemplate.load(default_template_path(channel, locale), channel, locale)
    assert len(template.variants) >= 3


@pytest.mark.parametrize("channel, locale", PAIRS)
def test_each_channel_and_locale_renders_clean_sendable_copy(small_shop, channel, locale):
    recs, users, items = small_shop
    result = render_copy(recs, users=users, items=items, channel=channel, locale=locale, campaign="spring")
    frame = result.frame
    assert list(frame.columns) == list(COPY_COLUMNS)
    assert frame["user_id"].tolist() == list(dict.fromkeys(recs["user_id"]))
    assert (frame["channel"] == channel).all() and (frame["locale"] == locale).all()
    assert frame["body"].str.len().min() > 20
    assert result.rule_counts == {}, preview(result, 3)
    assert set(frame["variant"]) == {"A", "B", "C"}
    assert (frame["chars"] == frame["body"].str.len()).all()
    if channel == "sms":
        assert (frame["subject"] == "").all()
        assert frame["sms_parts"].between(1, 3).all()
        assert frame["body"].str.endswith("回T退订" if locale == "zh" else "Reply STOP to opt out").all()
    else:
        assert (frame["sms_parts"] == 0).all()
        assert (frame["subject"].str.len() > 3).all()
    if channel == "email":
        assert frame["body"].str.startswith("<div").all()
        assert frame["body"].str.contains("退订" if locale == "zh" else "unsubscribe").all()
    money = "¥" if locale == "zh" else "$"
    assert frame["body"].str.contains(re.escape(money) + r"\d").mean() >= 0.5
    if locale == "zh":  # zh copy uses the Chinese titles (long ones cut to "…"), never the English ones
        english = items["title"].tolist()
        assert not frame["body"].map(lambda body: any(title in body for title in english)).any()
        chinese = items.set_index("item_id")["title_zh"]
        for body, item_ids in zip(frame["body"], frame["item_ids"]):
            for item_id in item_ids.split("|"):
                assert chinese[item_id][:5] in body, (item_id, body)
        assert frame["body"].str.contains("[\u4e00-\u9fff]").all()
    else:  # the only Chinese in en copy is a customer's own name
        names = [name for name in users["customer_name"] if name]
        without_names = frame["body"].map(lambda body: re.sub("|".join(names), "", body))
        assert not without_names.str.contains("[\u4e00-\u9fff]").any()


@pytest.mark.parametrize(
    "locale, opt_out, filler, cases",
    [
        # GSM-7: 160 septets in one SMS, 153 per part beyond; "{" is an escape pair (2 septets)
        ("en", " Reply STOP", "a", [(149, 1), (150, 2), (295, 2), (296, 3), (448, 3)]),
        ("en", " Reply STOP", "{", [(74, 1), (75, 2)]),  # 148 + 11 = 159, 150 + 11 = 161
        # UCS-2: 70 characters in one SMS, 67 per part beyond
        ("zh", "回T退订", "您", [(66, 1), (67, 2), (130, 2), (131, 3), (197, 3)]),
    ],
)
def test_sms_parts_column_counts_hand_checked_lengths(tmp_path, locale, opt_out, filler, cases):
    template = tmp_path / f"sms.{locale}.j2"
    template.write_text("{{ item.title }}" + opt_out, encoding="utf-8")
    recs = pd.DataFrame({"user_id": [f"u{n}" for n, _ in cases], "rank": 1, "item_id": [f"i{n}" for n, _ in cases]})
    items = pd.DataFrame({"item_id": [f"i{n}" for n, _ in cases], "title": [filler * n for n, _ in cases]})
    frame = render_copy(recs, items=items, channel="sms", locale=locale, template=template).frame
    assert frame["body"].tolist() == [filler * n + opt_out for n, _ in cases]
    assert frame["sms_parts"].tolist() == [parts for _, parts in cases]


def test_item_ids_are_the_items_the_template_read(small_shop):
    recs, users, items = small_shop
    frame = render_copy(recs, users=users, items=items, channel="push", locale="en", campaign="spring").frame
    top = recs.sort_values(["user_id", "rank"]).groupby("user_id")["item_id"].apply(list)
    for row in frame.itertuples():
        mentioned = row.item_ids.split("|")
        assert mentioned == top[row.user_id][: len(mentioned)]  # in rank order, top first
        expected = {"A": 2, "B": 1, "C": 3}[row.variant]  # A names two, B one, C three
        assert len(mentioned) == expected, row


def test_max_items_limits_what_templates_see(small_shop):
    recs, users, items = small_shop
    frame = render_copy(recs, users=users, items=items, channel="email", locale="en", max_items=1).frame
    assert (frame["item_ids"].str.count(r"\|") == 0).all()


@pytest.mark.parametrize("channel, locale", PAIRS)
def test_two_runs_give_byte_identical_frames(small_shop, channel, locale):
    recs, users, items = small_shop
    first = render_copy(recs, users=users, items=items, channel=channel, locale=locale, campaign="x")
    second = render_copy(
        recs.copy(), users=users.copy(), items=items.copy(), channel=channel, locale=locale, campaign="x"
    )
    assert first.frame.to_csv(index=False).encode() == second.frame.to_csv(index=False).encode()
    assert first.frame.dtypes.tolist() == second.frame.dtypes.tolist()


def test_no_date_means_no_date_in_output_and_a_date_shows_up(small_shop):
    recs, users, items = small_shop
    without = render_copy(recs, users=users, items=items, channel="sms", locale="zh", campaign="d").frame
    assert not without["body"].str.contains("月18日").any()
    dated = render_copy(
        recs, users=users, items=items, channel="sms", locale="zh", campaign="d", date=dt.date(2024, 6, 18)
    ).frame
    assert dated.loc[dated["variant"] == "B", "body"].str.contains("6月18日为您精选").all()
    assert (dated["variant"] == without["variant"]).all()


def test_customer_attributes_by_index_or_column_and_customer_name(small_shop):
    recs, users, items = small_shop
    by_column = render_copy(recs, users=users, items=items, channel="email", locale="zh").frame
    by_index = render_copy(
        recs, users=users.set_index("user_id"), items=items.set_index("item_id"), channel="email", locale="zh"
    ).frame
    pd.testing.assert_frame_equal(by_column, by_index)
    named = users.loc[users["customer_name"] != "", ["user_id", "customer_name"]].head(5)
    subjects = by_column.set_index("user_id").loc[named["user_id"], "body"]
    for name, body in zip(named["customer_name"], subjects):
        assert f"<p>{name}，您好：</p>" in body


def test_recs_alone_with_titles_and_unknown_items(small_shop):
    recs = pd.DataFrame(
        {
            "user_id": [7, 7, 8],
            "rank": ["2", "1", "1"],
            "item_id": ["b", "a", "zz"],
            "title": ["Mango", "Green Tea", None],
            "price": ["3.5", "12", None],
        }
    )
    frame = render_copy(recs, channel="sms", locale="en", campaign="c").frame
    assert frame["user_id"].tolist() == ["7", "8"]
    assert "Green Tea" in frame.loc[0, "body"] and "$12.00" in frame.loc[0, "body"]
    assert "zz" in frame.loc[1, "body"]  # no title: the id stands in


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"channel": "fax"}, "unknown channel"),
        ({"locale": "fr"}, "unknown locale"),
        ({"max_items": 0}, "max_items"),
        ({"date": "18/06/2024"}, "date must be a date"),
    ],
)
def test_bad_options_are_input_errors(small_shop, kwargs, message):
    recs, _, _ = small_shop
    with pytest.raises(InputError, match=message):
        render_copy(recs, **kwargs)


def test_bad_recommendations_are_input_errors():
    with pytest.raises(InputError, match="lack column 'rank'") as info:
        render_copy(pd.DataFrame({"user_id": ["u"], "item_id": ["i"]}))
    assert info.value.column == "rank"
    with pytest.raises(InputError, match="non-numeric rank") as info:
        render_copy(pd.DataFrame({"user_id": ["u", "u"], "rank": ["1", "first"], "item_id": ["i", "j"]}))
    assert info.value.row == 2


def test_empty_recommendations_give_an_empty_frame():
    result = render_copy(pd.DataFrame({"user_id": [], "rank": [], "item_id": []}))
    assert list(result.frame.columns) == list(COPY_COLUMNS) and len(result.frame) == 0


def test_template_folder_and_preview(tmp_path, small_shop):
    recs, users, items = small_shop
    (tmp_path / "push.en.j2").write_text(
        "{% macro subject() %}For {{ customer.name or 'you' }}{% endmacro %}"
        "{% macro body_X() %}{{ item.title }}{% endmacro %}{% macro body_Y() %}{{ item.title|upper }}{% endmacro %}",
        encoding="utf-8",
    )
    result = render_copy(recs, users=users, items=items, channel="push", locale="en", template=tmp_path)
    assert set(result.variant_counts) == {"X", "Y"}
    text = preview(result, 2)
    assert text.count("push/en variant") == 2 and "Title: For " in text


def test_full_customer_base_renders_clean(shop):
    """The 2,000-customer base: every channel and locale (its speed is bench/bench_copy_sandbox.py's figure:
    a timed test fails on a loaded machine, so none is asserted here)."""
    recs, users, items = shop
    calls = []
    for channel, locale in PAIRS:
        result = render_copy(
            recs,
            users=users,
            items=items,
            channel=channel,
            locale=locale,
            campaign="double-11",
            date=dt.date(2024, 11, 11),
            progress=lambda done, total: calls.append((done, total)),
        )
        assert len(result.frame) == 2000
        assert result.rule_counts == {}, (channel, locale, result.rule_counts)
        assert all(abs(count - 2000 / 3) < 100 for count in result.variant_counts.values())
        assert result.frame["body"].nunique() > 1500  # personal, not one sentence for everyone
    assert calls[-1] == (2000, 2000) and calls[0] == (500, 2000)


def test_every_item_has_every_column_and_customers_every_attribute(tmp_path):
    template = tmp_path / "sms.en.j2"
    template.write_text(
        "{{ item.title }} in {{ item.colour or 'assorted colours' }} for {{ customer.tier or 'you' }}. Reply STOP",
        encoding="utf-8",
    )
    recs = pd.DataFrame({"user_id": ["u1", "u2", "u3"], "rank": 1, "item_id": ["a", "b", "ghost"]})
    items = pd.DataFrame({"item_id": ["a", "b"], "title": ["Mug", "Cap"], "colour": ["red", None]})
    users = pd.DataFrame({"tier": ["gold"]}, index=pd.Index(["u1"], name="user_id"))
    frame = render_copy(recs, users=users, items=items, channel="sms", locale="en", template=template).frame
    assert frame["body"].tolist() == [
        "Mug in red for gold. Reply STOP",
        "Cap in assorted colours for you. Reply STOP",
        "ghost in assorted colours for you. Reply STOP",
    ]


@pytest.mark.parametrize("channel", ["sms", "push", "email"])
def test_currency_symbol_overrides_the_locale_default(small_shop, channel):
    """English copy about CNY prices must not print dollars; prices are shown as given, never converted."""
    recs, users, items = small_shop
    default = render_copy(recs, users=users, items=items, channel=channel, locale="en").frame
    yuan = render_copy(recs, users=users, items=items, channel=channel, locale="en", currency="¥").frame
    text = lambda frame: " ".join(frame["subject"]) + " ".join(frame["body"])  # noqa: E731
    assert "$" in text(default) and "¥" not in text(default)
    assert "¥" in text(yuan) and "$" not in text(yuan)
    assert text(yuan) == text(default).replace("$", "¥")
