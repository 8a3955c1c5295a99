"""Deterministic choices per customer: the A/B variant and the phrase picked at each template slot.

Both hash their key with SHA-256 (``hashlib``), never Python's ``hash()``, which is salted per process:
the same campaign and customer get the same variant and wording on every machine and every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from jinja2 import pass_context

_SEPARATOR = "\x1f"  # unit separator: cannot occur in an id typed by a person


def stable_bucket(n_buckets: int, *key: str) -> int:
    """A bucket in ``range(n_buckets)`` that depends only on ``key``, spread uniformly.

    Examples
    --------
    >>> stable_bucket(3, "spring-sale", "u001") == stable_bucket(3, "spring-sale", "u001")
    True
    """
    if n_buckets < 1:
        raise ValueError("n_buckets must be at least 1")
    digest = hashlib.sha256(_SEPARATOR.join(key).encode("utf-8")).digest()
    # 64 bits reduced modulo a handful of buckets: the modulo bias is below 1e-18
    return int.from_bytes(digest[:8], "big") % n_buckets


def assign_variant(user_id: str, campaign: str, variants: Sequence[str]) -> str:
    """The variant ``user_id`` sees in ``campaign``; ``variants`` in a fixed order (e.g. sorted names)."""
    if not variants:
        raise ValueError("no variants to choose from")
    return variants[stable_bucket(len(variants), "variant", str(campaign), str(user_id))]


@pass_context
def pick(context, *options, slot: str | None = None):
    """Template global: one of ``options``, the same for a customer every time, different across customers.

    The key is (campaign, customer id, slot); ``slot`` defaults to the options themselves, so two call
    sites with different options vary independently. ``pick()`` with no options is an error.
    """
    if not options:
        raise ValueError("pick() needs at least one option")
    customer = context.get("customer") or {}
    slot_key = slot if slot is not None else _SEPARATOR.join(str(option) for option in options)
    index = stable_bucket(len(options), "pick", str(context.get("campaign", "")), str(customer.get("id", "")), slot_key)
    return options[index]
