"""How many SMS parts a text takes: GSM-7 when every character fits, UCS-2 as soon as one does not.

The figures are those of 3GPP TS 23.038 / 23.040 (default alphabet, no national shift tables):

=========  ============  =============================
encoding   single part   per part of a long message
=========  ============  =============================
GSM-7      160 septets   153 septets (7-byte UDH)
UCS-2      70 units      67 units (UTF-16 code units)
=========  ============  =============================

A GSM-7 extension character (``^ { } \\ [ ] ~ | €`` and form feed) is an escape plus a septet, so it
counts 2; a character outside the Basic Multilingual Plane (most emoji) is a surrogate pair, so it
counts 2 UTF-16 units. Neither pair is ever split across two parts, as handsets and gateways do.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The GSM 03.38 default alphabet (ESC 0x1B excluded: it is the escape, not a character to send).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Characters of the default extension table: sent as ESC + septet, so 2 septets each.
GSM7_EXTENSION = frozenset("\f^{}\\[]~|€")

GSM7_SINGLE, GSM7_PER_PART = 160, 153
UCS2_SINGLE, UCS2_PER_PART = 70, 67


@dataclass(frozen=True)
class SmsCount:
    """The size of one SMS body as it goes over the air.

    Attributes
    ----------
    encoding : str
        ``"GSM-7"`` or ``"UCS-2"``.
    units : int
        Septets (GSM-7) or UTF-16 code units (UCS-2).
    parts : int
        Number of SMS the text is sent as (0 for an empty text).
    """

    encoding: str
    units: int
    parts: int


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM-7 default alphabet or its extension."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_sizes(text: str, gsm: bool) -> list[int]:
    if gsm:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _count_parts(sizes: list[int], per_part: int) -> int:
    # greedy packing that never splits an escape pair or a surrogate pair between parts
    parts, used = 1, 0
    for size in sizes:
        if used + size > per_part:
            parts += 1
            used = 0
        used += size
    return parts


def count_sms(text: str) -> SmsCount:
    """Encoding, size and number of parts of ``text`` sent as one (possibly concatenated) SMS.

    Examples
    --------
    >>> count_sms("a" * 160).parts, count_sms("a" * 161).parts
    (1, 2)
    >>> count_sms("您好" * 35)
    SmsCount(encoding='UCS-2', units=70, parts=1)
    """
    gsm = is_gsm7(text)
    sizes = _unit_sizes(text, gsm)
    units = sum(sizes)
    single, per_part = (GSM7_SINGLE, GSM7_PER_PART) if gsm else (UCS2_SINGLE, UCS2_PER_PART)
    if units == 0:
        parts = 0
    elif units <= single:
        parts = 1
    else:
        parts = _count_parts(sizes, per_part)
    return SmsCount("GSM-7" if gsm else "UCS-2", units, parts)
