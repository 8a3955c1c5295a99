import pytest

from aigc_biz.copywriting import count_sms, is_gsm7


@pytest.mark.parametrize("length, parts", [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)])
def test_gsm7_parts_at_the_boundaries(length, parts):
    result = count_sms("a" * length)
    assert (result.encoding, result.units, result.parts) == ("GSM-7", length, parts)


@pytest.mark.parametrize("length, parts", [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_ucs2_parts_at_the_boundaries(length, parts):
    result = count_sms("您" * length)
    assert (result.encoding, result.units, result.parts) == ("UCS-2", length, parts)


def test_gsm7_extension_characters_count_double():
    for ch in "^{}\\[]~|€":
        assert count_sms(ch).units == 2
        assert count_sms(ch).encoding == "GSM-7"
    assert count_sms("{" * 80).parts == 1  # 160 septets
    assert count_sms("{" * 80 + "a").parts == 2  # 161 septets
    assert count_sms("€" * 77).units == 154


def test_escape_pair_is_never_split_between_parts():
    # 152 + 2 does not fit in a 153-septet part, so "{" opens part 2 and the tail spills into part 3
    text = "a" * 152 + "{" + "a" * 152
    assert count_sms(text).units == 306
    assert count_sms(text).parts == 3


def test_basic_alphabet_accents_stay_gsm7_but_one_outsider_switches_to_ucs2():
    assert is_gsm7("Café £5 @ Ñoño! ¿Qué? é è ù Ø Ä ß")
    assert count_sms("a" * 100 + "ç").encoding == "UCS-2"  # only capital Ç is in GSM-7
    assert count_sms("Ñandú").encoding == "UCS-2"  # ù is, ú is not
    assert count_sms("It’s here").encoding == "UCS-2"  # a curly apostrophe
    assert count_sms("Price: $5 " + "中").units == 11


def test_emoji_outside_bmp_count_two_utf16_units():
    assert count_sms("😀").units == 2
    assert count_sms("😀" * 35).parts == 1
    assert count_sms("😀" * 35 + "a").parts == 2
    # the surrogate pair is not split: 66 units + 2 does not fit a 67-unit part
    assert count_sms("a" * 66 + "😀" + "a" * 66).parts == 3
    assert count_sms("☕" * 70).parts == 1  # BMP symbol: one unit


def test_empty_text_is_zero_parts():
    assert count_sms("").parts == 0
