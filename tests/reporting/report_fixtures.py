"""A small run with hostile and Chinese text everywhere the data reaches the report (shared by the tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aigc_biz.data import Interactions

HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_CATEGORY = "<script>"
DOLLAR_CATEGORY = "$5 & up"
HOSTILE_SEGMENT = "<b>vip</b>"
HOSTILE_BODY = '<img src=x onerror="alert(2)">'
CHINESE_TITLE = "夏季连衣裙"
CHINESE_CATEGORY = "女装"


def make_run(n_users: int = 60, n_items: int = 24, seed: int = 3):
    """Interactions with times and attributes, recommendations, a leaderboard and copy for every customer."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for _ in range(1 + int(rng.zipf(2.0)) % 12):
            item = min(int(rng.zipf(1.6)) - 1, n_items - 1)
            rows.append(
                (
                    f"U{u:03d}",
                    f"I{item:03d}",
                    np.datetime64("2025-03-01") + np.timedelta64(int(rng.integers(0, 90)), "D"),
                )
            )
    frame = pd.DataFrame(rows, columns=["user", "item", "time"])
    item_no = frame["item"].str[1:].astype(int)
    user_no = frame["user"].str[1:].astype(int)
    titles = {0: HOSTILE_TITLE, 1: CHINESE_TITLE}
    categories = {0: HOSTILE_CATEGORY, 1: CHINESE_CATEGORY, 2: DOLLAR_CATEGORY}
    frame["title"] = [titles.get(i, f"Item {i}") for i in item_no]
    frame["category"] = [categories.get(i % 5, f"cat-{i % 5}") for i in item_no]
    frame["price"] = 10.0 + item_no
    frame["segment"] = np.where(user_no % 3 == 0, HOSTILE_SEGMENT, np.where(user_no % 3 == 1, "新客", "regular"))
    data = Interactions.from_frame(
        frame,
        "user",
        "item",
        time_col="time",
        user_attr_cols=["segment"],
        item_attr_cols={"title": "title", "category": "category", "price": "price"},
        source="orders <test>.csv",
    )
    data.warnings.append("3 rows dropped: empty <customer> id")
    k = 5
    rec_items = np.array([rng.permutation(data.n_items)[:k] for _ in range(data.n_users)])
    rec_items[:, 0] = 0  # everyone gets the hostile-titled item first
    recs = pd.DataFrame(
        {
            "user_id": np.repeat(data.user_ids, k),
            "rank": np.tile(np.arange(1, k + 1), data.n_users),
            "item_id": data.item_ids[rec_items.ravel()],
            "score": np.tile(np.linspace(0.9, 0.5, k), data.n_users),
        }
    )
    copy = pd.DataFrame(
        {
            "user_id": data.user_ids,
            "channel": "sms",
            "locale": "zh",
            "variant": "A",
            "subject": "夏季上新",
            "body": "您好！" + HOSTILE_BODY,
            "item_ids": [["I000"]] * data.n_users,
            "chars": 30,
            "sms_parts": 1,
            "warnings": "",
        }
    )
    metrics = lambda base: {  # noqa: E731
        "ndcg@10": {"mean": base, "low": base - 0.01, "high": base + 0.01},
        "recall@10": {"mean": base * 1.5, "low": base * 1.4, "high": base * 1.6},
        "recall@20": {"mean": base * 2.0, "low": base * 1.9, "high": base * 2.1},
        "coverage": {"mean": 0.4, "low": 0.38, "high": 0.42},
    }
    leaderboard = {
        "split": "temporal",
        "ks": [10, 20],
        "seed": 0,
        "winner": "ease",
        "models": [
            {"model": "pop", "params": {}, "metrics": metrics(0.05), "fit_seconds": 0.01, "score_seconds": 0.02},
            {
                "model": "ease",
                "params": {"l2": 200.0, "note": "</code><i>x</i>"},
                "metrics": metrics(0.12),
                "fit_seconds": 1.5,
                "score_seconds": 0.3,
            },
        ],
        "by_segment": {
            "pop": {HOSTILE_SEGMENT: 0.04, "新客": 0.05, "regular": 0.06},
            "ease": {HOSTILE_SEGMENT: 0.10, "新客": 0.12, "regular": 0.13},
        },
    }
    return data, recs, leaderboard, copy
