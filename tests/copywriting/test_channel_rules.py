import pandas as pd
import pytest

from aigc_biz.copywriting import DEFAULT_FORBIDDEN_WORDS, ChannelLimits, check_message, render_copy

LIMITS = ChannelLimits()
WORDS = list(DEFAULT_FORBIDDEN_WORDS)


def test_sms_parts_and_too_long():
    ok = "x" * 440 + " Reply STOP"  # 451 septets: 3 parts
    assert check_message("sms", "en", "", ok, LIMITS, WORDS) == ([], 3)
    long = "x" * 449 + " Reply STOP"  # 460 septets: 4 parts
    assert check_message("sms", "en", "", long, LIMITS, WORDS) == (["sms_too_long"], 4)
    assert check_message("sms", "en", "", long, ChannelLimits(sms_max_parts=4), WORDS) == ([], 4)


def test_push_limits_are_display_columns():
    assert check_message("push", "zh", "好" * 20, "正文", LIMITS, WORDS) == ([], 0)
    codes, _ = check_message("push", "zh", "好" * 21, "文" * 81, LIMITS, WORDS)
    assert codes == ["push_title_too_long", "push_body_too_long"]
    assert check_message("push", "en", "t" * 40, "b" * 160, LIMITS, WORDS)[0] == []


def test_email_subject_limit_and_unsubscribe():
    body = "<p>Hello</p><p>To unsubscribe, reply</p>"
    assert check_message("email", "en", "s" * 60, body, LIMITS, WORDS)[0] == []
    assert check_message("email", "en", "s" * 61, "<p>Hello</p>", LIMITS, WORDS)[0] == [
        "subject_too_long",
        "missing_opt_out",
    ]


def test_forbidden_words_case_insensitive_in_subject_and_visible_text():
    codes, _ = check_message(
        "email", "en", "GUARANTEED savings", "<p>Free Money inside. unsubscribe</p>", LIMITS, WORDS
    )
    assert codes == ["forbidden_word:guaranteed", "forbidden_word:free money"]
    # markup is not visible text: a 100% width in a style attribute is not a claim
    assert (
        check_message(
            "email", "en", "Hi", '<table style="width:100%"><tr><td>unsubscribe</td></tr></table>', LIMITS, WORDS
        )[0]
        == []
    )
    assert check_message("sms", "zh", "", "全网最低价，销量第一 回T退订", LIMITS, WORDS)[0] == [
        "forbidden_word:最",
        "forbidden_word:第一",
    ]
    assert check_message("sms", "zh", "", "全网最低价 回T退订", LIMITS, [])[0] == []


@pytest.mark.parametrize(
    "channel, locale, body, ok",
    [
        ("sms", "zh", "新品到了，回T退订", True),
        ("sms", "zh", "新品到了", False),
        ("sms", "en", "New in. Reply STOP to opt out", True),
        ("sms", "en", "New in.", False),
        ("email", "zh", "<p>如需退订请回复</p>", True),
        ("push", "en", "New in.", True),
    ],
)
def test_opt_out_line(channel, locale, body, ok):
    codes, _ = check_message(channel, locale, "t", body, LIMITS, WORDS)
    assert ("missing_opt_out" not in codes) == ok


def test_bad_rows_are_reported_per_row_and_strict_drops_them(tmp_path):
    template = tmp_path / "sms.zh.j2"
    # a template that breaks rules only for some items: the batch goes on, each row says why
    template.write_text(
        "{% macro body_A() %}{{ item.title }}，快来看看。{% if item.price %}回T退订{% endif %}{% endmacro %}",
        encoding="utf-8",
    )
    recs = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "rank": 1, "item_id": ["a", "b", "c", "d"]})
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c", "d"],
            "title": ["绿茶", "销量第一的绿茶", "最好的茶" * 50, "红茶"],
            "price": [1.0, 2.0, 3.0, None],
        }
    )
    loose = render_copy(recs, items=items, template=template)
    assert loose.frame["warnings"].tolist() == [
        "",
        "forbidden_word:第一",
        "sms_too_long;forbidden_word:最",
        "missing_opt_out",
    ]
    assert loose.frame["sms_parts"].tolist()[2] == 4
    assert loose.rule_counts == {
        "forbidden_word:第一": 1,
        "forbidden_word:最": 1,
        "missing_opt_out": 1,
        "sms_too_long": 1,
    }
    assert loose.dropped == 0
    strict = render_copy(recs, items=items, template=template, strict=True)
    assert strict.frame["user_id"].tolist() == ["u1"]
    assert strict.dropped == 3
    assert strict.rule_counts == loose.rule_counts
    custom = render_copy(recs, items=items, template=template, forbidden_words=["绿茶"])
    assert custom.frame["warnings"].tolist()[:2] == ["forbidden_word:绿茶", "forbidden_word:绿茶"]
