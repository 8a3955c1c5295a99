"""Templates are untrusted: every escape attempt and every mistake is an InputError naming file and line."""

import pandas as pd
import pytest

from aigc_biz.copywriting import render_copy
from aigc_biz.errors import InputError

RECS = pd.DataFrame({"user_id": ["u1", "u2"], "rank": [1, 1], "item_id": ["i1", "i2"]})
ITEMS = pd.DataFrame({"item_id": ["i1", "i2"], "title": ["Tea <b>&</b> Co", "Mango"], "price": [9.5, 3.0]})


def _render(tmp_path, source, channel="sms", locale="en", **kwargs):
    path = tmp_path / f"{channel}.{locale}.j2"
    path.write_text(source, encoding="utf-8")
    return render_copy(RECS, items=ITEMS, channel=channel, locale=locale, template=path, **kwargs)


@pytest.mark.parametrize(
    "line3",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ customer|attr('__class__') }}",
        "{{ items['__len__'] }}",
    ],
)
def test_private_attribute_access_is_refused_with_file_and_line(tmp_path, line3):
    source = "{% macro body_A() %}\nHi {{ customer.name }}\n" + line3 + "\nReply STOP\n{% endmacro %}\n"
    with pytest.raises(InputError, match=r"line 3: template reaches for Python internals") as info:
        _render(tmp_path, source)
    assert "sms.en.j2" in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    "expression",
    [
        "{{ '{0.__class__}'.format(customer) }}",
        "{{ customer|attr('_' ~ '_class__') }}",
        "{{ customer.update({'name': 'x'}) }}",
        "{{ items.append(item) }}",
    ],
)
def test_runtime_sandbox_violations_are_input_errors(tmp_path, expression):
    source = "{% macro body_A() %}\nHi\n\n" + expression + " Reply STOP\n{% endmacro %}\n"
    with pytest.raises(InputError, match=r"line 4: template reaches for Python internals") as info:
        _render(tmp_path, source)
    assert str(tmp_path / "sms.en.j2") in str(info.value)


def test_unknown_variable_is_caught_before_rendering_even_in_a_branch_never_taken(tmp_path):
    source = "{% macro body_A() %}\n{% if false %}\n{{ custmer.name }}\n{% endif %}Reply STOP{% endmacro %}"
    with pytest.raises(InputError, match=r"line 3: unknown variable 'custmer'"):
        _render(tmp_path, source)


def test_missing_attribute_names_variable_and_line(tmp_path):
    source = "{% macro body_A() %}\nHi\n{{ customer.loyalty_tier }} Reply STOP\n{% endmacro %}"
    with pytest.raises(InputError, match=r"line 3: missing variable 'loyalty_tier'") as info:
        _render(tmp_path, source)
    assert "sms.en.j2" in str(info.value)


def test_syntax_error_names_template_and_line(tmp_path):
    source = "{% macro body_A() %}\nHi\n{% if customer.name %}\nReply STOP\n{% endmacro %}"
    with pytest.raises(InputError, match=r"line \d+: template syntax error") as info:
        _render(tmp_path, source)
    assert "sms.en.j2" in str(info.value)


def test_date_used_without_a_date_is_an_input_error(tmp_path):
    source = "{% macro body_A() %}\nSale ends {{ date|date }}. Reply STOP\n{% endmacro %}"
    with pytest.raises(InputError, match=r"line 2: .*no date was given"):
        _render(tmp_path, source)
    assert "Jun 18, 2024" in _render(tmp_path, source, date="2024-06-18").frame.loc[0, "body"]


def test_email_body_escapes_data_and_subject_stays_plain(tmp_path):
    source = (
        "{% macro subject_A() %}{{ item.title }}{% endmacro %}"
        "{% macro body_A() %}<p>{{ item.title }}</p><p>unsubscribe</p>{% endmacro %}"
    )
    frame = _render(tmp_path, source, channel="email").frame
    assert frame.loc[0, "body"] == "<p>Tea &lt;b&gt;&amp;&lt;/b&gt; Co</p><p>unsubscribe</p>"
    assert frame.loc[0, "subject"] == "Tea <b>&</b> Co"


def test_sms_is_plain_text_not_escaped(tmp_path):
    frame = _render(tmp_path, "{{ item.title }} Reply STOP").frame
    assert frame.loc[0, "body"] == "Tea <b>&</b> Co Reply STOP"
    assert frame.loc[0, "variant"] == "A"


def test_push_and_email_need_a_subject(tmp_path):
    with pytest.raises(InputError, match="variant 'A' has no push title"):
        _render(tmp_path, "{% macro body_A() %}Hi{% endmacro %}", channel="push")


def test_missing_template_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="template file not found"):
        render_copy(RECS, items=ITEMS, template=tmp_path / "nope.j2")
