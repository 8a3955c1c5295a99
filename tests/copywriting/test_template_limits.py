"""A user template reads message data only, and each message's work is bounded (issue 15, Medium 1-2).

Through the CLI, as a user meets it: ``aigc-biz copy recs.csv --template mine.j2`` exits 2 with one
line naming the template, quickly, and writes nothing.
"""

from __future__ import annotations

import os
import time

import pytest
from typer.testing import CliRunner

from aigc_biz.cli import app

runner = CliRunner()


@pytest.fixture
def shop(tmp_path):
    (tmp_path / "recs.csv").write_text("user_id,rank,item_id,title\nu1,1,i1,Tea\nu2,1,i2,Mango\n", encoding="utf-8")
    return tmp_path


def _copy(folder, source: str, name: str = "sms.en.j2"):
    (folder / name).write_text(source, encoding="utf-8")
    out = folder / "copy.csv"
    args = ["copy", str(folder / "recs.csv"), "-o", str(out), "--locale", "en", "--template", str(folder / name)]
    started = time.perf_counter()
    result = runner.invoke(app, args, catch_exceptions=False)
    return result, out, time.perf_counter() - started


def _refused(result, out, pattern: str, template: str = "sms.en.j2") -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and template in lines[0], result.stderr
    assert pattern in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()


def test_a_pack_template_can_be_included(shop):
    (shop / "footer.j2").write_text("Reply STOP", encoding="utf-8")
    result, out, _ = _copy(shop, "Hi {{ item.title }}. {% include 'footer.j2' %}")
    assert result.exit_code == 0, result.output
    assert "Hi Tea. Reply STOP" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "tag",
    [
        "{% include '/etc/passwd' %}",
        "{% include '../sms.en.j2' %}",
        "{% include 'sub/inner.j2' %}",
        "{% import '.ssh/id_rsa' as key %}",
        "{% extends 'id_rsa' %}",
        "{% include ['x.j2', '/etc/hostname'] %}",
    ],
)
def test_includes_outside_the_pack_are_refused_before_any_message(shop, tag):
    (shop / "sub").mkdir()
    (shop / "sub" / "inner.j2").write_text("secret", encoding="utf-8")
    (shop / "id_rsa").write_text("PRIVATE KEY", encoding="utf-8")
    result, out, _ = _copy(shop, tag + " Reply STOP")
    _refused(result, out, "a copy template may only use .j2 files of its own folder")


def test_an_include_name_taken_from_data_is_refused(shop):
    result, out, _ = _copy(shop, "{% include customer.name %} Reply STOP")
    _refused(result, out, "must name a template file in quotes")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlinks_are_never_followed_neither_included_nor_as_the_template(shop):
    secret = shop / "secret.txt"
    secret.write_text("root:x:0:0", encoding="utf-8")
    os.symlink(secret, shop / "passwd.j2")
    result, out, _ = _copy(shop, "{% include 'passwd.j2' %} Reply STOP")
    _refused(result, out, "'passwd.j2' is a symbolic link")
    os.symlink(secret, shop / "linked.en.j2")
    result = runner.invoke(
        app, ["copy", str(shop / "recs.csv"), "-o", str(out), "--template", str(shop / "linked.en.j2")]
    )
    _refused(result, out, "is a symbolic link", template="linked.en.j2")


def test_included_template_is_checked_like_the_main_one(shop):
    (shop / "part.j2").write_text("\n{{ ''.__class__ }}", encoding="utf-8")
    result, out, _ = _copy(shop, "{% include 'part.j2' %} Reply STOP")
    _refused(result, out, "line 2: template reaches for Python internals", template="part.j2")


@pytest.mark.parametrize(
    "source, pattern",
    [
        ("{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}", "range()"),
        ("{% for i in range(1000) %}{% for j in range(1000) %}{{ j }}{% endfor %}{% endfor %}", "loop iterations"),
        ("{% for i in range(900) %}{% for j in range(900) %}x{% endfor %}{% endfor %}", "loop iterations"),
        ("{{ 'x' * 300000000 }}", "repeating 1 characters"),
        ("{{ ['x'] * 300000000 }}", "repeating 1 characters"),
        ("{{ '{:>900000000}'.format('') }}", "a format width 900,000,000"),
        ("{{ '{:{w}}'.format('', w=900000000) }}", "format spec built from another field"),
        ("{{ ('{:>900000000}'|safe).format('') }}", "a format width 900,000,000"),  # Markup's own methods
        ("{{ ('x'|safe).center(900000000) }}", "an argument of center()"),
        ("{{ '%900000000s' % 'a' }}", "a % width"),
        ("{{ '%900000000s'|format('a') }}", "a % width"),
        ("{{ 'x'|center(900000000) }}", "a width 900,000,000"),
        ("{{ 'x'.rjust(900000000) }}", "an argument of rjust()"),
        ("{{ 'ab'|replace('', 'x' * 90000) }}", "replace() would build"),
        ("{{ (2 ** 100000000) }}", "a power of more than"),
        ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "value"),
        ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}", "calls"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
    ],
)
def test_work_per_message_is_bounded_and_names_the_template(shop, source, pattern):
    result, out, seconds = _copy(shop, source + " Reply STOP")
    _refused(result, out, "template exceeds what one message may take")
    assert pattern in result.stderr
    assert "line 1" in result.stderr
    assert seconds < 20  # each of these ran for minutes or took gigabytes before


def test_ordinary_loops_filters_and_formatting_still_work(shop):
    source = (
        "{% for i in range(3) %}{{ i }}{% endfor %} {{ '{:>6}'.format('x') }} {{ 'ab' * 3 }} "
        "{{ '%05.1f'|format(3.14159) }} {{ items|map(attribute='title')|join(', ') }} Reply STOP"
    )
    result, out, _ = _copy(shop, source)
    assert result.exit_code == 0, result.output
    assert "012 x ababab 003.1 Tea Reply STOP" in out.read_text(encoding="utf-8")


def test_render_time_per_message_is_bounded(shop):
    import dataclasses

    from aigc_biz.copywriting.template_pack import CopyTemplate
    from aigc_biz.errors import InputError

    (shop / "slow.j2").write_text("{% for i in range(900) %}{{ i }}{% endfor %}", encoding="utf-8")
    template = CopyTemplate.load(shop / "slow.j2", "sms", "en")
    assert template.render("A", {"customer": {}, "items": [], "item": {}})[1].startswith("0123")
    template.limits = dataclasses.replace(template.limits, seconds=0.0)
    with pytest.raises(InputError, match=r"slow.j2: line 1: .*took longer than 0 s \(variant A, customer u9\)"):
        template.render("A", {"customer": {}, "items": [], "item": {}}, user_id="u9")
