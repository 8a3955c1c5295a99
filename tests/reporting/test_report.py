"""The HTML report and its JSON: sections, escaping, offline-ness, atomic writes."""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from report_fixtures import (
    CHINESE_TITLE,
    DOLLAR_CATEGORY,
    HOSTILE_BODY,
    HOSTILE_CATEGORY,
    HOSTILE_SEGMENT,
    HOSTILE_TITLE,
)

from aigc_biz.data import Interactions
from aigc_biz.errors import InputError, OutputError
from aigc_biz.reporting import build_report, collect_figures, data_fingerprint
from aigc_biz.reporting.strings import STRINGS


class PageParser(HTMLParser):
    """Start tags, ids and the visible text of a page, as a browser's parser sees them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.ids, self.text, self.svg_text, self._svg_depth = [], set(), [], [], 0
        self.attribute_values = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._svg_depth += tag == "svg"
        for name, value in attrs:
            self.attribute_values.append((tag, name, value or ""))
            if name == "id":
                self.ids.add(value)

    def handle_endtag(self, tag):
        self._svg_depth -= tag == "svg"

    def handle_data(self, data):
        (self.svg_text if self._svg_depth else self.text).append(data)


def parse(path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_every_section_is_present_in_both_locales(built_reports, locale):
    page = parse(built_reports[locale].html_path)
    assert {"profile", "leaderboard", "segments", "coverage", "customers", "meta"} <= page.ids
    assert {
        "chart-activity",
        "chart-longtail",
        "chart-timeline",
        "chart-leaderboard",
        "chart-segments",
        "chart-deciles",
        "chart-categories",
    } <= page.ids
    text = " ".join(page.text)
    for key in ("profile", "leaderboard", "segments", "coverage", "sample", "meta"):
        assert STRINGS[locale][key] in text
    html = built_reports[locale].html_path.read_text(encoding="utf-8")
    assert f'<html lang="{ {"en": "en", "zh": "zh-CN"}[locale] }">' in html
    assert len(page.tags) > 500 and page.tags.count("svg") == 7


def test_locales_share_every_key_and_none_shadows_a_dict_method():
    assert set(STRINGS["en"]) == set(STRINGS["zh"])
    # the template reads t.<key>: a key named like a dict method would show the method instead
    assert not set(STRINGS["en"]) & set(dir(dict))


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_values_from_the_data_are_text_never_markup(built_reports, locale):
    page = parse(built_reports[locale].html_path)
    assert "script" not in page.tags
    assert not {"b", "img", "i"} & set(page.tags)
    assert not any(name.startswith("on") for _, name, _ in page.attribute_values)
    text = "".join(page.text)
    for hostile in (
        HOSTILE_TITLE,
        HOSTILE_CATEGORY,
        HOSTILE_SEGMENT,
        HOSTILE_BODY,
        CHINESE_TITLE,
        "orders <test>.csv",
        "3 rows dropped: empty <customer> id",
        '"note": "</code><i>x</i>"',
    ):
        assert hostile in text
    # chart labels from the data (categories, segments) are SVG text, shown literally, $ included
    svg_text = page.svg_text
    for label in (HOSTILE_CATEGORY, HOSTILE_SEGMENT, DOLLAR_CATEGORY):
        assert label in svg_text


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_nothing_in_the_page_points_to_a_network(built_reports, locale):
    html = built_reports[locale].html_path.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    page = parse(built_reports[locale].html_path)
    links = [(tag, name, value) for tag, name, value in page.attribute_values if name in ("src", "href", "srcset")]
    assert links and all(name == "href" and value.startswith("#") for _, name, value in links)  # in-page only
    assert "@import" not in html and "url(" not in html.replace("url(#", "")
    assert "default-src 'none'" in html


def test_chart_ids_do_not_clash_between_charts(built_reports):
    html = built_reports["en"].html_path.read_text(encoding="utf-8")
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    referenced = re.findall(r'(?:url\(#|href="#)([^)"]+)', html)
    assert referenced and set(referenced) <= set(ids)


def test_json_beside_the_html_holds_the_figures(built_reports, run):
    data, recs, leaderboard, _ = run
    result = built_reports["en"]
    assert result.json_path == result.html_path.with_suffix(".json")
    assert result.bytes == result.html_path.stat().st_size and result.seconds > 0
    figures = json.loads(result.json_path.read_text(encoding="utf-8"))
    assert figures["schema"] == "aigc-biz-report/1" and figures["locale"] == "en"
    assert figures["profile"]["users"] == data.n_users
    assert figures["profile"]["interactions"] == data.nnz
    assert figures["profile"]["events"] == len(data.events)
    assert figures["profile"]["date_range"][0].startswith(str(data.events["time"].min().date()))
    coverage = figures["coverage"]
    assert coverage["distinct_items"] == recs["item_id"].nunique()
    assert coverage["item_coverage"] == pytest.approx(recs["item_id"].nunique() / data.n_items)
    assert sum(coverage["deciles"]["in_recs"]) == pytest.approx(1.0)
    assert figures["leaderboard"]["winner"] == "ease"
    assert [m["model"] for m in figures["leaderboard"]["models"]] == ["pop", "ease"]
    assert figures["leaderboard"]["models"][1]["metrics"]["ndcg@10"] == {"mean": 0.12, "low": 0.11, "high": 0.13}
    assert figures["segments"]["values"]["ease"][HOSTILE_SEGMENT] == 0.10
    assert figures["segments"]["customers"][HOSTILE_SEGMENT] == 20
    assert len(figures["customers"]["rows"]) == 8
    assert figures["meta"]["device"] == "cpu"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", figures["meta"]["data_fingerprint"])  # value: see the known answer
    assert set(figures["charts"]) == {
        "chart-activity",
        "chart-longtail",
        "chart-timeline",
        "chart-leaderboard",
        "chart-segments",
        "chart-deciles",
        "chart-categories",
    }
    html = result.html_path.read_text(encoding="utf-8")
    assert f"{data.n_users:,}" in html


def test_sampled_customers_are_fixed_by_the_seed(run):
    data, recs, _, copy = run
    ids = []
    for seed in (5, 5, 6):
        rows = collect_figures(data, recs=recs, copy=copy, seed=seed, sample_customers=4)["customers"]["rows"]
        ids.append([r["user_id"] for r in rows])
    assert ids[0] == ids[1] and len(ids[0]) == 4
    assert ids[0] != ids[2]
    row = rows[0]
    user_recs = recs[recs["user_id"] == row["user_id"]].sort_values("rank")
    assert [r["item_id"] for r in row["recommendations"]] == user_recs["item_id"].tolist()
    assert row["messages"][0]["body"] == copy.loc[copy["user_id"] == row["user_id"], "body"].item()
    user = data.user_index([row["user_id"]])[0]
    assert row["history_total"] == data.matrix[user].nnz


def test_without_optional_inputs_only_the_data_sections_appear(run, tmp_path):
    data = run[0]
    result = build_report(data, tmp_path / "plain.html", sample_customers=3)
    page = parse(result.html_path)
    assert {"profile", "customers", "meta"} <= page.ids
    assert not {"leaderboard", "segments", "coverage", "chart-deciles"} & page.ids
    figures = json.loads(result.json_path.read_text(encoding="utf-8"))
    assert figures["leaderboard"] is None and figures["coverage"] is None
    assert all(r["recommendations"] == [] and r["history"] for r in figures["customers"]["rows"])


def test_data_without_times_or_attributes(tmp_path):
    frame = pd.DataFrame({"user": ["a", "a", "b", "c"], "item": ["x", "y", "x", "z"]})
    data = Interactions.from_frame(frame, "user", "item")
    result = build_report(data, tmp_path / "r.html", locale="zh")
    figures = json.loads(result.json_path.read_text(encoding="utf-8"))
    assert figures["profile"]["date_range"] is None and figures["profile"]["over_time"] is None
    assert "chart-timeline" not in parse(result.html_path).ids
    assert STRINGS["zh"]["no_dates"] in result.html_path.read_text(encoding="utf-8")


def earlier_report(built_reports, folder):
    """A copy of a finished report in ``folder``: the one a failing build must leave alone."""
    out = folder / "report.html"
    shutil.copyfile(built_reports["en"].html_path, out)
    shutil.copyfile(built_reports["en"].json_path, out.with_suffix(".json"))
    return out


def test_bad_input_raises_before_anything_is_written(run, built_reports, tmp_path):
    data, recs, leaderboard, copy = run
    out = earlier_report(built_reports, tmp_path)
    html_before, json_before = out.read_bytes(), out.with_suffix(".json").read_bytes()
    with pytest.raises(InputError, match="item_id"):
        build_report(data, out, recs=recs.drop(columns=["item_id"]))
    with pytest.raises(InputError, match="non-numeric score"):
        build_report(data, out, recs=recs.assign(score="high"))
    with pytest.raises(InputError, match="locale"):
        build_report(data, out, locale="fr")
    with pytest.raises(InputError, match="models"):
        build_report(data, out, leaderboard={"winner": "x"})
    with pytest.raises(InputError, match="not a number"):
        bad = dict(leaderboard, models=[{"model": "m", "metrics": {"ndcg@10": {"mean": "high"}}}])
        build_report(data, out, leaderboard=bad)
    with pytest.raises(InputError, match="body"):
        build_report(data, out, copy=copy.drop(columns=["body"]))
    assert out.read_bytes() == html_before and out.with_suffix(".json").read_bytes() == json_before
    assert sorted(os.listdir(tmp_path)) == ["report.html", "report.json"]


def test_a_failed_write_leaves_the_earlier_report_intact(run, built_reports, tmp_path):
    data = run[0]
    out = earlier_report(built_reports, tmp_path)
    before = out.read_bytes()
    (tmp_path / "report.json").unlink()
    (tmp_path / "report.json").mkdir()  # a folder where the JSON must go: os.replace fails for real
    (tmp_path / "report.json" / "keep").write_text("x")
    with pytest.raises(OutputError, match="report.json"):
        build_report(data, out, sample_customers=2, seed=9)
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["report.html", "report.json"]


def test_metadata_defaults_and_caller_values(run, tmp_path):
    data = run[0]
    result = build_report(
        data, tmp_path / "r.html", sample_customers=0, meta={"versions": {"torch": "9.9"}, "parameters": {"k": 10}}
    )
    meta = json.loads(result.json_path.read_text(encoding="utf-8"))["meta"]
    assert meta["versions"]["torch"] == "9.9" and meta["versions"]["numpy"] == np.__version__
    assert meta["parameters"] == {"k": 10} and meta["report_time"]
    assert "parameters.k" in result.html_path.read_text(encoding="utf-8")


#: a hand-made table and its fingerprint, recorded once: the value must not move between runs, machines
#: or library versions, or a report could no longer be matched to the data it was built from
HAND_DATA = dict(
    matrix=np.array([[1, 0, 2, 0], [0, 1, 0, 0], [3, 0, 0, 1]], dtype=np.float32),
    user_ids=["007", "u2", "用户3"],
    item_ids=["00042", "i1", "i2", "i3"],
)
HAND_FINGERPRINT = "sha256:8724f4098c45e361f4e8d041b73cfba29992c4406874cff377184b81ea7b8345"


def hand_data() -> Interactions:
    return Interactions(
        matrix=sp.csr_matrix(HAND_DATA["matrix"]), user_ids=HAND_DATA["user_ids"], item_ids=HAND_DATA["item_ids"]
    )


def test_report_records_the_known_fingerprint_of_its_data(tmp_path):
    result = build_report(hand_data(), tmp_path / "hand.html", sample_customers=0)
    meta = json.loads(result.json_path.read_text(encoding="utf-8"))["meta"]
    assert meta["data_fingerprint"] == HAND_FINGERPRINT
    assert data_fingerprint(hand_data()) == HAND_FINGERPRINT


def test_fingerprint_follows_the_data(run):
    data = run[0]
    same = Interactions(matrix=data.matrix.copy(), user_ids=data.user_ids.copy(), item_ids=data.item_ids.copy())
    assert data_fingerprint(same) == data_fingerprint(data)
    changed = data.matrix.copy()
    changed.data[0] += 1
    assert data_fingerprint(data.with_matrix(changed)) != data_fingerprint(data)


def test_the_mix_of_repeat_and_new_items_and_each_kinds_hit_rate(run, tmp_path):
    data, recs = run[0], run[1].copy()
    recs["reason"] = np.where(recs["rank"] <= 2, "repeat", "new")  # two buy-again slots per customer
    board = {
        "split": "temporal(horizon=30d, repeats=True)",
        "ks": [10],
        "winner": "blend",
        "models": [
            {
                "model": "blend",
                "params": {},
                "metrics": {
                    "ndcg@10": {"mean": 0.3, "low": 0.2, "high": 0.4},
                    "repeat_share@10": {"mean": 0.25, "low": 0.2, "high": 0.3},
                    "repeat_hit_rate@10": {"mean": 0.4, "low": 0.3, "high": 0.5},
                    "new_hit_rate@10": {"mean": 0.05, "low": 0.03, "high": 0.07},
                },
            }
        ],
    }
    for locale, heading in (("en", "Buy again and new for you"), ("zh", "再次购买与新品推荐")):
        result = build_report(data, tmp_path / f"r-{locale}.html", recs=recs, leaderboard=board, locale=locale)
        assert "reasons" in parse(result.html_path).ids and heading in result.html_path.read_text(encoding="utf-8")
    reasons = json.loads(result.json_path.read_text(encoding="utf-8"))["reasons"]
    n_users = recs["user_id"].nunique()
    assert reasons["repeat_slots"] == 2 * n_users and reasons["new_slots"] == len(recs) - 2 * n_users
    assert reasons["customers_with_repeats"] == n_users and reasons["k"] == 10
    assert reasons["hit_rates"] == [
        {"model": "blend", "reason": "repeat", "hit_rate": 0.4, "share": 0.25},
        {"model": "blend", "reason": "new", "hit_rate": 0.05, "share": 0.75},
    ]
    plain = build_report(data, tmp_path / "plain.html", recs=run[1])
    assert "reasons" not in parse(plain.html_path).ids
