"""Rules every rendered message is checked against; a broken rule is a warning code on its row.

Codes: ``sms_too_long``, ``push_title_too_long``, ``push_body_too_long``, ``subject_too_long``,
``forbidden_word:<word>``, ``missing_opt_out``. Lengths of push titles/bodies and email subjects are
display columns (a CJK character counts 2), because what is cut off on a screen is width, not characters.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from .sms import count_sms
from .text_filters import display_width

CHANNELS = ("sms", "push", "email")

#: Words advertising regulators flag (China's Advertising Law art. 9 superlatives; US FTC/CAN-SPAM
#: spam triggers). Matched as case-insensitive substrings of subject and visible body text.
DEFAULT_FORBIDDEN_WORDS = ("最", "第一", "国家级", "绝对", "guaranteed", "free money", "100%", "risk-free")


def _default_opt_out() -> dict:
    return {
        ("sms", "zh"): ("回T退订", "退订回T"),
        ("sms", "en"): ("reply stop",),
        ("email", "zh"): ("退订",),
        ("email", "en"): ("unsubscribe",),
    }


@dataclass(frozen=True)
class ChannelLimits:
    """Limits and mandatory lines per channel. Every default on one line.

    Attributes
    ----------
    sms_max_parts : int, default 3
        An SMS body sent as more parts than this breaks ``sms_too_long`` (parts per :func:`count_sms`).
    push_title_max_width : int, default 40
        Push title width in display columns (20 CJK or 40 Latin characters: one notification line).
    push_body_max_width : int, default 160
        Push body width in display columns (about four lock-screen lines).
    email_subject_max_width : int, default 60
        Email subject width in display columns (what inbox lists show before cutting).
    opt_out_phrases : dict[(channel, locale), tuple[str, ...]]
        The body must contain one of these (case-insensitive): ``回T退订`` / ``Reply STOP`` for SMS,
        ``退订`` / ``unsubscribe`` for email. Channels not listed (push) need none.
    """

    sms_max_parts: int = 3
    push_title_max_width: int = 40
    push_body_max_width: int = 160
    email_subject_max_width: int = 60
    opt_out_phrases: dict = field(default_factory=_default_opt_out)


_BREAKING_TAG = re.compile(r"<\s*/?\s*(?:p|br|div|tr|td|th|li|ul|ol|table|h[1-6])\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def visible_text(body: str, channel: str) -> str:
    """What a reader sees: for HTML email the text without tags and with entities decoded."""
    if channel != "email":
        return body
    return html.unescape(_TAG.sub("", _BREAKING_TAG.sub(" ", body)))


def check_message(
    channel: str, locale: str, subject: str, body: str, limits: ChannelLimits, forbidden_words
) -> tuple[list[str], int]:
    """Rule codes ``(subject, body)`` breaks, in a fixed order, and the SMS part count (0 if not SMS)."""
    codes: list[str] = []
    sms_parts = 0
    if channel == "sms":
        sms_parts = count_sms(body).parts
        if sms_parts > limits.sms_max_parts:
            codes.append("sms_too_long")
    elif channel == "push":
        if display_width(subject) > limits.push_title_max_width:
            codes.append("push_title_too_long")
        if display_width(body) > limits.push_body_max_width:
            codes.append("push_body_too_long")
    elif channel == "email" and display_width(subject) > limits.email_subject_max_width:
        codes.append("subject_too_long")
    body_text = visible_text(body, channel).casefold()
    text = subject.casefold() + "\n" + body_text
    codes.extend(f"forbidden_word:{word}" for word in forbidden_words if word.casefold() in text)
    phrases = limits.opt_out_phrases.get((channel, locale), ())
    if phrases and not any(phrase.casefold() in body_text for phrase in phrases):
        codes.append("missing_opt_out")
    return codes, sms_parts
