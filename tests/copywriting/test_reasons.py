"""A ``reason`` column (repeat = bought before, new = cross-sell) reaches templates; copy words each row by it."""

import pandas as pd
import pytest

from aigc_biz.copywriting import render_copy
from aigc_biz.copywriting.channel_rules import visible_text
from aigc_biz.errors import InputError
from tests.copywriting.conftest import sample_shop

FIELDS = (
    "{% for row in items %}{{ row.id }}={{ row.reason }} {% endfor %}"
    "| {{ replenish }} | {{ repeat_items | map(attribute='id') | join(',') }}"
    " | {{ new_items | map(attribute='id') | join(',') }} Reply STOP"
)


def _render(tmp_path, recs, source=FIELDS, **kwargs):
    path = tmp_path / "sms.en.j2"
    path.write_text(source, encoding="utf-8")
    return render_copy(recs, channel="sms", locale="en", template=path, **kwargs).frame


def test_reason_fields_per_customer_and_item(tmp_path):
    # the same item "a" is a repeat for u1 and new for u2: reason belongs to the row, not the item
    recs = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u2", "u3"],
            "rank": [1, 2, 3, 1, 2, 1],
            "item_id": ["a", "b", "c", "b", "a", "c"],
            "reason": ["repeat", "new", " Repeat ", "new", None, "REPEAT"],
        }
    )
    frame = _render(tmp_path, recs)
    assert frame["body"].tolist() == [
        "a=repeat b=new c=repeat | True | a,c | b Reply STOP",
        "b=new a=new | False | | b,a Reply STOP",  # a missing reason is new
        "c=repeat | True | c | Reply STOP",
    ]


def test_replenish_follows_the_top_item_not_the_majority(tmp_path):
    recs = pd.DataFrame(
        {
            "user_id": ["u1"] * 3 + ["u2"] * 3,
            "rank": [1, 2, 3] * 2,
            "item_id": ["a", "b", "c"] * 2,
            "reason": ["new", "repeat", "repeat", "repeat", "new", "new"],
        }
    )
    frame = _render(tmp_path, recs, source="{{ replenish }} Reply STOP")
    assert frame["body"].tolist() == ["False Reply STOP", "True Reply STOP"]


def test_without_a_reason_column_every_item_is_new(tmp_path):
    recs = pd.DataFrame({"user_id": ["u1", "u1"], "rank": [2, 1], "item_id": ["b", "a"]})
    frame = _render(tmp_path, recs)
    assert frame["body"].tolist() == ["a=new b=new | False | | a,b Reply STOP"]


def test_reading_reason_does_not_count_as_naming_the_item(tmp_path):
    # the template looks at the reason of all three items but shows only the repeats
    source = "{{ items | selectattr('reason', 'equalto', 'repeat') | map(attribute='title') | join(', ') }} Reply STOP"
    recs = pd.DataFrame(
        {
            "user_id": ["u1"] * 3,
            "rank": [1, 2, 3],
            "item_id": ["a", "b", "c"],
            "title": ["Tea", "Mug", "Rice"],
            "reason": ["new", "repeat", "repeat"],
        }
    )
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
    recs = pd.DataFrame({"user_id": ["u1", "u2"], "rank": [1, 1], "item_id": ["a", "b"], "reason": ["repeat", "rebuy"]})
    with pytest.raises(InputError, match="unknown reason 'rebuy'") as info:
        _render(tmp_path, recs)
    assert info.value.column == "reason" and info.value.row == 2


# --- the bundled templates --------------------------------------------------------------------------

PAIRS = [(channel, locale) for channel in ("sms", "push", "email") for locale in ("zh", "en")]
#: Restock and cross-sell wording of the bundled pack, as a reader would spot it.
RESTOCK = {"en": "running low", "zh": "该补货了"}
CROSS_SELL = {"en": "new for you", "zh": "还没试过"}
#: What opens a restock line at the end of a cross-sell message (zh names the items before "该补货了").
RESTOCK_LEAD = {"en": "running low on", "zh": "常买的"}
#: Every mix of reasons over a customer's three recommendations, top item first.
PATTERNS = [
    ("repeat",) * 3,
    ("new",) * 3,
    ("repeat", "new", "new"),
    ("repeat", "repeat", "new"),
    ("new", "repeat", "new"),
    ("new", "new", "repeat"),
    ("repeat", "new", "repeat"),
]
_EN = [
    "Alpha Tea",
    "Bravo Mug",
    "Cocoa Nibs",
    "Delta Rice",
    "Echo Soap",
    "Fig Jam",
    "Golf Balls",
    "Hemp Rope",
    "Ink Pens",
    "Jade Bowl",
    "Kelp Chips",
    "Lime Salt",
]
_ZH = [
    "甲级绿茶",
    "乙款马克杯",
    "丙号可可碎",
    "丁香大米",
    "戊己香皂",
    "无花果酱",
    "高尔夫球",
    "麻绳",
    "墨水笔",
    "玉石碗",
    "海苔片",
    "青柠盐",
]


def _reasoned_shop(n_users=84, long_titles=False, discount=True):
    """Three recs per customer with every reason pattern; titles short and distinct unless ``long_titles``."""
    items = pd.DataFrame(
        {
            "item_id": [f"{n:03d}" for n in range(len(_EN))],
            "title": [
                (t + " " + "Extra Large Family Value Pack With Refill" * 2)[:80] if long_titles else t for t in _EN
            ],
            "title_zh": [(t + "家庭超值装加量不加价配替换装赠品礼盒" * 2)[:34] if long_titles else t for t in _ZH],
            "category": "Pantry",
            "category_zh": "食品",
            "price": [1234.5 - 97 * n for n in range(len(_EN))],
            "discount": [0.2 if discount and n % 2 else 0 for n in range(len(_EN))],
            "url": [f"https://m.shop.example.cn/p/{n:03d}?from=app" for n in range(len(_EN))],
        }
    )
    rows = []
    for user in range(n_users):
        pattern = PATTERNS[user % len(PATTERNS)]
        for rank, reason in enumerate(pattern, start=1):
            rows.append((f"U{user:04d}", rank, f"{(user + 5 * rank) % len(_EN):03d}", reason))
    recs = pd.DataFrame(rows, columns=["user_id", "rank", "item_id", "reason"])
    names = ["", "Emma Stone-Whitfield", "欧阳娜娜", "Sam"] if long_titles else ["", "Emma", "王芳"]
    users = pd.DataFrame({"user_id": recs["user_id"].unique()})
    users["name"] = [names[n % len(names)] for n in range(len(users))]
    return recs, users, items


@pytest.mark.parametrize("channel, locale", PAIRS)
def test_bundled_templates_word_repeat_items_as_restock_and_new_as_cross_sell(channel, locale):
    recs, users, items = _reasoned_shop()
    reasoned = render_copy(recs, users=users, items=items, channel=channel, locale=locale, campaign="refill")
    plain = render_copy(
        recs.drop(columns="reason"), users=users, items=items, channel=channel, locale=locale, campaign="refill"
    ).frame.set_index("user_id")
    assert reasoned.rule_counts == {}
    reason_of = recs.set_index(["user_id", "item_id"])["reason"]
    title_of = items.set_index("item_id")["title_zh" if locale == "zh" else "title"]
    restock, cross_sell = RESTOCK[locale], CROSS_SELL[locale]
    seen = set()
    for row in reasoned.frame.itertuples():
        body = visible_text(row.body, channel).casefold()
        shown = row.item_ids.split("|")
        repeats = [title_of[i].casefold() for i in shown if reason_of[(row.user_id, i)] == "repeat"]
        news = [title_of[i].casefold() for i in shown if reason_of[(row.user_id, i)] == "new"]
        top_is_repeat = (
            reason_of[(row.user_id, recs.loc[recs["user_id"] == row.user_id, "item_id"].iloc[0])] == "repeat"
        )
        seen.add((row.variant, top_is_repeat, bool(repeats), bool(news)))
        if not repeats:  # nothing bought before is shown: the message is the cross-sell copy of old
            assert (row.subject, row.body) == tuple(plain.loc[row.user_id, ["subject", "body"]]), row
            assert restock not in body
            continue
        assert restock in body, row
        if top_is_repeat:
            assert shown[0] == recs.loc[recs["user_id"] == row.user_id, "item_id"].iloc[0]
            if channel != "sms":  # the push title / email subject says it too
                subject = row.subject.casefold()
                assert ("补货" in subject) if locale == "zh" else ("restock" in subject or "running low" in subject)
            # restock first; the new items come after the cross-sell line, never before it
            if news:
                assert cross_sell in body, row
                assert all(body.index(title) > body.index(cross_sell) for title in news), row
                assert all(body.index(title) < body.index(cross_sell) for title in repeats), row
        else:  # a cross-sell message: new items first, then a restock line for the repeats it shows
            lead = body.rindex(RESTOCK_LEAD[locale])
            assert all(body.index(title) < lead for title in news), row
            assert all(body.index(title) > lead for title in repeats), row
    # every variant met a restock opener, a cross-sell opener with a repeat in it, and a mixed restock message
    for variant in ("A", "B", "C"):
        assert (variant, True, True, False) in seen or (variant, True, True, True) in seen
    assert any(key[1] and key[3] for key in seen) and any(not key[1] and key[2] for key in seen)


def _hand_counted_parts(body: str, locale: str) -> int:
    """SMS parts counted by hand: GSM-7 160 / 153 per part, UCS-2 70 / 67 (callers check the alphabet)."""
    single, per_part = (70, 67) if locale == "zh" else (160, 153)
    return 1 if len(body) <= single else -(-len(body) // per_part)


@pytest.mark.parametrize("shop", ["long-titles", "sample"])
@pytest.mark.parametrize("locale", ["zh", "en"])
def test_restock_sms_stays_within_three_parts_by_hand_count(shop, locale):
    if shop == "sample":
        recs, users, items = _sample_with_reasons()
    else:
        recs, users, items = _reasoned_shop(long_titles=True)
    result = render_copy(recs, users=users, items=items, channel="sms", locale=locale, campaign="refill")
    frame = result.frame
    assert result.rule_counts == {}
    if locale == "en":  # plain ASCII without GSM-7 extension characters: one septet a character
        assert frame["body"].map(lambda b: b.isascii() and not set(b) & set("^{}\\[]~|")).all()
    else:  # nothing outside the BMP: one UTF-16 unit a character
        assert not frame["body"].map(lambda b: any(ord(ch) > 0xFFFF for ch in b)).any()
    expected = [_hand_counted_parts(body, locale) for body in frame["body"]]
    assert frame["sms_parts"].tolist() == expected
    assert max(expected) <= 3
    restock = frame["body"].str.casefold().str.contains(RESTOCK[locale])
    assert restock.sum() > len(frame) / 3  # the restock wording is what is being measured
    if shop == "long-titles":
        assert max(expected) >= 2  # long titles do push messages past one part


@pytest.mark.parametrize("channel, locale", [(c, loc) for c in ("push", "email") for loc in ("zh", "en")])
def test_restock_titles_and_subjects_fit_with_long_titles(channel, locale):
    recs, users, items = _reasoned_shop(long_titles=True)
    result = render_copy(recs, users=users, items=items, channel=channel, locale=locale, campaign="refill")
    assert result.rule_counts == {}, result.frame.loc[result.frame["warnings"] != "", ["subject", "warnings"]]
    replenish = recs.groupby("user_id", sort=False)["reason"].first().eq("repeat").to_numpy()
    subjects = result.frame["subject"].str.casefold()
    marker = subjects.str.contains("补货") if locale == "zh" else subjects.str.contains("restock|running low")
    assert (marker.to_numpy() == replenish).all()


def _sample_with_reasons():
    """The bundled sample: each customer's two most-bought items (repeat) around one popular item they never
    bought (new), so restock and cross-sell lines meet the sample's long titles."""
    bought, users, items = sample_shop()
    popular = bought["item_id"].value_counts().index.tolist()
    rows = []
    for user_id, own in bought.groupby("user_id", sort=False)["item_id"]:
        own = own.tolist()
        new = next(item for item in popular if item not in own)
        top = [(own[0], "repeat"), (new, "new")] if len(rows) % 2 else [(new, "new"), (own[0], "repeat")]
        for rank, (item_id, reason) in enumerate(top + [(own[1] if len(own) > 1 else own[0], "repeat")], start=1):
            rows.append((user_id, rank, item_id, reason))
    return pd.DataFrame(rows, columns=["user_id", "rank", "item_id", "reason"]), users, items
