import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aigc_biz.copywriting import display_width, format_date, join_natural, money, truncate_width
from aigc_biz.copywriting.text_filters import FilterInputError, discount_label, full_stop, has_cjk


def test_money_by_locale():
    assert money(1299, "zh") == "¥1,299.00"
    assert money(1299, "en") == "$1,299.00"
    assert money("1,234,567.891", "en") == "$1,234,567.89"
    assert money(2.675, "zh") == "¥2.68"  # half up on the decimal text, not the binary float
    assert money(-5, "en") == "-$5.00"
    assert money(0, "zh") == "¥0.00"


@pytest.mark.parametrize("bad", [None, "", "abc", float("nan"), True])
def test_money_rejects_non_numbers(bad):
    with pytest.raises(FilterInputError):
        money(bad, "zh")


def test_dates_by_locale():
    day = dt.date(2024, 6, 18)
    assert format_date(day, "zh") == "2024年6月18日"
    assert format_date(day, "en") == "Jun 18, 2024"
    assert format_date("2024-01-05", "en") == "Jan 5, 2024"
    assert format_date(dt.datetime(2024, 12, 1, 23, 59), "zh") == "2024年12月1日"
    with pytest.raises(FilterInputError, match="no date was given"):
        format_date(None, "zh")


def test_display_width_counts_cjk_double():
    assert display_width("abc") == 3
    assert display_width("降噪耳机") == 8
    assert display_width("Pro 耳机") == 8
    assert display_width("ｗ") == 2  # fullwidth latin
    assert display_width("e\u0301") == 1  # combining accent takes no column


def test_truncate_width_by_columns():
    assert truncate_width("降噪蓝牙耳机", 12) == "降噪蓝牙耳机"
    assert truncate_width("降噪蓝牙耳机", 11) == "降噪蓝牙耳…"
    assert truncate_width("降噪蓝牙耳机", 8) == "降噪蓝…"
    assert truncate_width("Noise-cancelling earbuds", 12, "...") == "Noise-can..."
    assert truncate_width("Dried mango 80g", 9, "...") == "Dried..."  # no space left before the dots
    assert truncate_width("耳机Pro Max", 7) == "耳机Pr…"


@given(st.text(alphabet=st.sampled_from("ab c中文字😀ｗ-"), max_size=40), st.integers(min_value=1, max_value=30))
def test_truncate_width_never_exceeds_width(text, width):
    cut = truncate_width(text, width)
    assert display_width(cut) <= width
    if display_width(text) <= width:
        assert cut == text
    else:
        assert cut.endswith("…")


def test_join_natural_per_language():
    assert join_natural([], "en") == ""
    assert join_natural(["A"], "zh") == "A"
    assert join_natural(["A", "B"], "en") == "A and B"
    assert join_natural(["A", "B", "C"], "en") == "A, B and C"
    assert join_natural(["A", "B"], "zh") == "A和B"
    assert join_natural(["A", "B", "C"], "zh") == "A、B和C"


def test_discount_label_per_language():
    assert discount_label(0.2, "zh") == "8折"
    assert discount_label(0.15, "zh") == "85折"
    assert discount_label(0.2, "en") == "20% off"
    with pytest.raises(FilterInputError):
        discount_label(1.5, "en")


def test_has_cjk():
    assert has_cjk("茶饮冲调") and not has_cjk("Tea & Coffee") and not has_cjk(None)


def test_full_stop_ends_a_sentence_once():
    assert full_stop("Mugs and caps", "en") == "Mugs and caps."
    assert full_stop("Mugs and Sticky...", "en") == "Mugs and Sticky..."
    assert full_stop("马克杯和帽子", "zh") == "马克杯和帽子。"
    assert full_stop("马克杯和帽…", "zh") == "马克杯和帽…"
