"""Personalised marketing copy from recommendations: sandboxed Jinja2 templates, channel rules, A/B variants.

>>> from aigc_biz.copywriting import render_copy, preview
>>> result = render_copy(recs, users=users, items=items, channel="sms", locale="zh")  # doctest: +SKIP
>>> print(preview(result, 3))  # doctest: +SKIP
"""

from .assignment import assign_variant, stable_bucket
from .channel_rules import CHANNELS, DEFAULT_FORBIDDEN_WORDS, ChannelLimits, check_message
from .render import COPY_COLUMNS, CopyResult, default_template_path, preview, render_copy
from .sms import SmsCount, count_sms, is_gsm7
from .template_pack import CopyTemplate
from .text_filters import LOCALES, display_width, format_date, join_natural, money, truncate_width

__all__ = [
    "CHANNELS",
    "COPY_COLUMNS",
    "DEFAULT_FORBIDDEN_WORDS",
    "LOCALES",
    "ChannelLimits",
    "CopyResult",
    "CopyTemplate",
    "SmsCount",
    "assign_variant",
    "check_message",
    "count_sms",
    "default_template_path",
    "display_width",
    "format_date",
    "is_gsm7",
    "join_natural",
    "money",
    "preview",
    "render_copy",
    "stable_bucket",
    "truncate_width",
]
