"""Without a ``reason`` column the copy is byte for byte what it was before reasons existed.

``fixtures/copy_before_reasons.json`` was written by ``python tests/copywriting/test_copy_without_reasons.py``
at the commit before the copy learnt about reasons: the SHA-256 of each output frame (as CSV) for the
bundled sample and a generated shop, on every channel and locale, plus the full rows of one customer per
variant so that a failure shows which wording moved. Regenerate it only when a wording change is meant.
"""

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from aigc_biz.copywriting import render_copy
from tests.copywriting.conftest import make_shop, sample_shop

FIXTURE = Path(__file__).parent / "fixtures" / "copy_before_reasons.json"
PAIRS = [(channel, locale) for channel in ("sms", "push", "email") for locale in ("zh", "en")]
SHOPS = {
    "sample": (sample_shop, {"campaign": "618"}),
    "sample-dated": (sample_shop, {"campaign": "618", "date": dt.date(2024, 6, 18)}),
    # the sample has no discounts, urls or English names: the generated shop takes the other branches
    "generated-dated": (
        lambda: make_shop(n_users=300, k=5, seed=11),
        {"campaign": "spring", "date": dt.date(2024, 6, 18)},
    ),
}


def render(shop: str, channel: str, locale: str):
    make, options = SHOPS[shop]
    recs, users, items = make()
    return render_copy(recs, users=users, items=items, channel=channel, locale=locale, **options).frame


def digest(frame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()


def excerpt(frame) -> list[dict]:
    """The first customer of each variant, every column as text."""
    rows = frame.drop_duplicates("variant").sort_values("variant")
    return [{k: str(v) for k, v in row.items()} for row in rows.to_dict("records")]


@pytest.mark.parametrize("shop", list(SHOPS))
@pytest.mark.parametrize("channel, locale", PAIRS)
def test_output_without_reasons_is_unchanged(shop, channel, locale):
    expected = json.loads(FIXTURE.read_text(encoding="utf-8"))[f"{shop}/{channel}.{locale}"]
    frame = render(shop, channel, locale)
    assert excerpt(frame) == expected["excerpt"]
    assert digest(frame) == expected["sha256"]
    assert len(frame) == expected["rows"]


if __name__ == "__main__":
    recorded = {}
    for shop in SHOPS:
        for channel, locale in PAIRS:
            frame = render(shop, channel, locale)
            recorded[f"{shop}/{channel}.{locale}"] = {
                "rows": len(frame),
                "sha256": digest(frame),
                "excerpt": excerpt(frame),
            }
    FIXTURE.write_text(json.dumps(recorded, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
