"""A generated shop for copy tests: customers with attributes, a catalogue with zh/en titles, top-K recs."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

_PRODUCTS = [
    # (title, title_zh, category, category_zh, base price)
    ("Organic Green Tea 250g", "有机绿茶 250克", "Tea & Coffee", "茶饮冲调", 45.9),
    ("Premium Jasmine Tea 250g", "特级茉莉花茶 250克", "Tea & Coffee", "茶饮冲调", 62.9),
    ("Cold Brew Coffee 12 Packs", "冷萃咖啡 12袋装", "Tea & Coffee", "茶饮冲调", 59.0),
    ("Sea Salt Rice Crackers 200g", "海盐米饼 200克", "Snacks", "休闲零食", 13.9),
    ("Dried Mango 80g", "芒果干 80克", "Snacks", "休闲零食", 11.9),
    ("Mixed Nuts Daily 30 Packs", "每日坚果 30袋", "Snacks", "休闲零食", 129.0),
    ("Amino Acid Facial Cleanser", "氨基酸洗面奶", "Skincare", "护肤", 89.0),
    ("Hydrating Night Cream 50ml", "保湿晚霜 50毫升", "Skincare", "护肤", 239.0),
    ("Sunscreen Spray SPF50", "防晒喷雾 SPF50", "Skincare", "护肤", 119.0),
    ("Cast Iron Skillet 26cm", "铸铁平底锅 26厘米", "Kitchen", "厨房用品", 299.0),
    ("Ceramic Knife Set", "陶瓷刀具套装", "Kitchen", "厨房用品", 159.0),
    ("Memory Foam Pillow", "记忆棉枕头", "Home Textiles", "家纺", 199.0),
    ("Cotton Bedding Set Queen", "纯棉四件套 1.8米", "Home Textiles", "家纺", 459.0),
    ("Baby Wipes 80 Sheets x 6", "婴儿湿巾 80抽x6包", "Baby", "母婴", 49.9),
    ("Kids Insulated Bottle", "儿童保温杯", "Baby", "母婴", 129.0),
    ("Thick Yoga Mat 10mm", "加厚瑜伽垫 10毫米", "Sports", "运动户外", 99.0),
    ("Quick-Dry Running Shirt", "速干跑步T恤", "Sports", "运动户外", 79.0),
    ("Noise-Cancelling Earbuds", "降噪蓝牙耳机", "Electronics Accessories", "数码配件", 399.0),
    ("Power Bank 20000mAh", "充电宝 20000毫安", "Electronics Accessories", "数码配件", 149.0),
    ("Gel Pens 12 Colours", "中性笔 12色", "Stationery", "文具", 19.9),
    ("Grain-Free Cat Food 2kg", "无谷猫粮 2公斤", "Pet Supplies", "宠物用品", 168.0),
]
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林")
_GIVEN = ["芳", "伟", "娜", "敏", "静", "磊", "洋", "艳", "杰", "婷", "浩然", "子涵", "雨桐"]
_EN_FIRST = ["Emma", "Sam", "Jack", "Olivia", "Liam", "Mia", "Noah", "Ava", "Lucas", "Chloe"]
_EN_LAST = ["Chen", "Li", "Wang", "Tang", "Sun", "Smith", "Brown", "Lee"]


def make_shop(n_users: int = 2000, k: int = 10, seed: int = 7):
    """``(recs, users, items)``: ids with leading zeros, 25% customers without a name, some discounts."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(300):
        title, title_zh, category, category_zh, base = _PRODUCTS[index % len(_PRODUCTS)]
        edition, edition_zh = [
            ("", ""),
            (" Gift Box", " 礼盒装"),
            (" Travel Size", " 旅行装"),
            (" Family Pack", " 家庭装"),
        ][(index // len(_PRODUCTS)) % 4]
        rows.append(
            {
                "item_id": f"{index:06d}",
                "title": title + edition,
                "title_zh": title_zh + edition_zh,
                "category": category,
                "category_zh": category_zh if index % 3 else "",
                "price": round(base * float(rng.uniform(0.8, 1.6)), 1) + 0.09,
                "discount": [0, 0, 0.1, 0.2, 0.15, 0, 30][index % 7],
                "url": f"https://m.shop.example.cn/p/{index:06d}",
            }
        )
    items = pd.DataFrame(rows)
    user_ids = [f"C{n:06d}" for n in rng.permutation(n_users)]
    popularity = rng.lognormal(0, 1.2, size=len(items))
    popularity /= popularity.sum()
    recs = []
    for user_id in user_ids:
        chosen = rng.choice(len(items), size=k, replace=False, p=popularity)
        for rank, item_index in enumerate(chosen, start=1):
            recs.append((user_id, rank, f"{item_index:06d}", round(1.0 / rank, 4)))
    recs = pd.DataFrame(recs, columns=["user_id", "rank", "item_id", "score"])
    names = []
    for index in range(n_users):
        if index % 4 == 0:
            names.append("")
        elif index % 3 == 0:
            names.append(f"{_EN_FIRST[index % 10]} {_EN_LAST[index % 8]}")
        else:
            names.append(_SURNAMES[index % len(_SURNAMES)] + _GIVEN[(index * 7) % len(_GIVEN)])
    users = pd.DataFrame(
        {
            "user_id": user_ids,
            "customer_name": names,
            "segment": [["vip", "new", "regular", "dormant"][i % 4] for i in range(n_users)],
            "region": [["East", "North", "South", "West", "Central"][i % 5] for i in range(n_users)],
            "age_band": [["18-24", "25-34", "35-44", "45-54", "55+"][i % 5] for i in range(n_users)],
        }
    )
    return recs, users, items


@pytest.fixture(scope="session")
def shop():
    return make_shop()


@pytest.fixture(scope="session")
def small_shop():
    return make_shop(n_users=60, k=5, seed=3)


@functools.lru_cache(maxsize=1)  # read once per session; render_copy never changes its inputs
def sample_shop():
    """``(recs, users, items)`` of the bundled sample orders: each customer's 10 most-bought items as recs."""
    from aigc_biz.resources import sample_data_path

    orders = pd.read_csv(sample_data_path(), dtype=str)  # committed to the repository: missing is a failure
    bought = orders[orders["quantity"].astype(int) > 0]
    counts = bought.groupby(["customer_id", "product_id"]).size().rename("n").reset_index()
    counts = counts.sort_values(["customer_id", "n", "product_id"], ascending=[True, False, True], kind="mergesort")
    counts["rank"] = counts.groupby("customer_id").cumcount() + 1
    recs = counts[counts["rank"] <= 10].rename(columns={"customer_id": "user_id", "product_id": "item_id"})
    items = orders.drop_duplicates("product_id")[["product_id", "title", "title_zh", "category", "price"]].rename(
        columns={"product_id": "item_id"}
    )
    users = orders.drop_duplicates("customer_id")[
        ["customer_id", "customer_name", "segment", "region", "age_band"]
    ].rename(columns={"customer_id": "user_id"})
    return recs[["user_id", "rank", "item_id"]].reset_index(drop=True), users, items
