"""Generate the bundled sample order table: a synthetic retail shop with latent customer tastes.

One row per order line::

    order_id, customer_id, customer_name, segment, region, age_band,
    product_id, title, title_zh, category, price, quantity, order_time

How the shop works (all seeded from one ``numpy.random.Generator``, so a seed gives byte-identical files):

* every product has a style profile over 8 latent shopping styles (tea lover, snacker/gamer, new parent,
  beauty, fitness, home cook, student/office, pet owner); every customer a sparse taste vector over the
  same styles, drawn around a prior set by age band, region and segment (so context helps cold start);
* a new purchase picks item i with probability ~ popularity_i * affinity_ui ** 1.25 * price_fit_ui
  (affinity = taste . style profile; price fit = customer budget vs the item's price tier in its category);
  popularity is long-tailed (log-normal) but does not dominate taste;
* a line repeats an earlier item with a customer-specific loyalty, favouring consumables
  (tea, snacks, baby, pet food) over durables (kitchen, electronics);
* order days follow weekly (weekends) and yearly seasonality (Chinese New Year, 6-18, Double 11);
  segments shape activity windows: ``new`` customers start in 2024, ``dormant`` ones stop in 2023;
* about 2% of lines are returns: a separate row, negative quantity, for an item bought earlier.

Usage::

    python sample_data/generate.py --out sample_data/retail_orders.csv --customers 2000 --seed 7
    python sample_data/generate.py --check      # also evaluate popularity vs item-kNN (NDCG@10)

``--check`` exits with status 1 when item-kNN does not beat popularity by ``--min-lift`` (default 1.5x).
A second file ``new_customers.csv`` (customer_id, segment, region, age_band; ids never seen in the orders)
is written next to ``--out`` for the cold-start demo.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = [
    "order_id",
    "customer_id",
    "customer_name",
    "segment",
    "region",
    "age_band",
    "product_id",
    "title",
    "title_zh",
    "category",
    "price",
    "quantity",
    "order_time",
]
START, END = np.datetime64("2023-01-01"), np.datetime64("2024-06-30")
STYLES = ["tea lover", "snacker/gamer", "new parent", "beauty", "fitness", "home cook", "student/office", "pet owner"]

# --- catalogue vocabulary ----------------------------------------------------------------------------
# Size/variant ladders: (english, chinese, price multiplier).
SIZES = {
    "g": [("100g", "100克", 0.55), ("250g", "250克", 1.0), ("500g", "500克", 1.8)],
    "g_small": [("50g", "50克", 0.6), ("100g", "100克", 1.0), ("200g", "200克", 1.8)],
    "g_snack": [("80g", "80克", 0.5), ("200g", "200克", 1.0), ("500g", "500克", 2.1)],
    "bags": [("10 Bags", "10袋装", 0.5), ("20 Bags", "20袋装", 1.0), ("50 Bags", "50袋装", 2.2)],
    "bars": [("6 Bars", "6支装", 0.55), ("12 Bars", "12支装", 1.0), ("24 Bars", "24支装", 1.85)],
    "sheets": [("5 Sheets", "5片装", 0.55), ("10 Sheets", "10片装", 1.0), ("30 Sheets", "30片装", 2.5)],
    "pens": [("3 Pcs", "3支装", 0.4), ("10 Pcs", "10支装", 1.0), ("20 Pcs", "20支装", 1.8)],
    "packs": [("Single", "单件装", 0.5), ("Twin Pack", "两件装", 1.0), ("3-Pack", "三件装", 1.4)],
    "ml": [("30ml", "30毫升", 0.6), ("50ml", "50毫升", 1.0), ("100ml", "100毫升", 1.7)],
    "ml_large": [("100ml", "100毫升", 0.6), ("200ml", "200毫升", 1.0), ("400ml", "400毫升", 1.7)],
    "bottle": [("350ml", "350毫升", 0.85), ("500ml", "500毫升", 1.0), ("750ml", "750毫升", 1.2)],
    "litre": [("1.5L", "1.5升", 0.85), ("3L", "3升", 1.0), ("5L", "5升", 1.3)],
    "cm": [("24cm", "24厘米", 0.85), ("28cm", "28厘米", 1.0), ("32cm", "32厘米", 1.2)],
    "set": [("3-Piece", "3件套", 0.6), ("5-Piece", "5件套", 1.0), ("10-Piece", "10件套", 1.7)],
    "size": [("Small", "小号", 0.75), ("Medium", "中号", 1.0), ("Large", "大号", 1.3)],
    "apparel": [("M", "M码", 1.0), ("L", "L码", 1.0), ("XL", "XL码", 1.05)],
    "baby": [("S", "S码", 1.0), ("M", "M码", 1.0), ("L", "L码", 1.05)],
    "stage": [("Stage 1", "1段", 1.05), ("Stage 2", "2段", 1.0), ("Stage 3", "3段", 0.95)],
    "bed": [("1.5m", "1.5米", 0.85), ("1.8m", "1.8米", 1.0), ("2.0m", "2.0米", 1.2)],
    "colour": [("Black", "黑色", 1.0), ("White", "白色", 1.0), ("Grey", "灰色", 1.0), ("Blue", "蓝色", 1.0)],
    "len": [("1m", "1米", 0.8), ("2m", "2米", 1.0), ("3m", "3米", 1.2)],
    "mah": [("5000mAh", "5000毫安", 0.6), ("10000mAh", "10000毫安", 1.0), ("20000mAh", "20000毫安", 1.6)],
    "watt": [("20W", "20W", 0.6), ("33W", "33W", 0.8), ("65W", "65W", 1.2)],
    "switch": [("Red Switch", "红轴", 1.0), ("Brown Switch", "茶轴", 1.0), ("Blue Switch", "青轴", 1.0)],
    "paper": [("A5", "A5", 0.8), ("B5", "B5", 1.0), ("A4", "A4", 1.2)],
    "kg": [("2kg", "2公斤", 0.5), ("5kg", "5公斤", 1.0), ("10kg", "10公斤", 1.8)],
    "weights": [("2kg", "2公斤", 0.5), ("5kg", "5公斤", 1.0), ("10kg", "10公斤", 1.8)],
    "ball": [("Size 5", "5号", 0.85), ("Size 6", "6号", 0.95), ("Size 7", "7号", 1.0)],
    "mm": [("6mm", "6毫米", 0.85), ("8mm", "8毫米", 1.0), ("10mm", "10毫米", 1.2)],
}
# category -> (style weights over STYLES, repeat-buy propensity, qualifiers, nouns)
# qualifier: (english, chinese, price multiplier); noun: (english, chinese, base price CNY, size ladder)
CATALOGUE = {
    "Tea & Coffee": (
        [6, 0.5, 0.3, 0.6, 0.3, 1.5, 1.5, 0.2],
        1.0,
        [
            ("Organic", "有机", 1.3),
            ("Premium", "特级", 1.5),
            ("Classic", "经典", 1.0),
            ("Alpine", "高山", 1.25),
            ("Daily", "日常", 0.85),
            ("Estate", "庄园", 1.4),
        ],
        [
            ("Green Tea", "绿茶", 45, "g"),
            ("Oolong Tea", "乌龙茶", 68, "g"),
            ("Pu'er Tea", "普洱茶", 88, "g"),
            ("Jasmine Tea", "茉莉花茶", 39, "g"),
            ("Black Tea", "红茶", 52, "g"),
            ("Coffee Beans", "咖啡豆", 79, "g"),
            ("Drip Coffee", "挂耳咖啡", 49, "bags"),
            ("Instant Coffee", "速溶咖啡", 35, "bags"),
            ("Matcha Powder", "抹茶粉", 58, "g_small"),
            ("Chrysanthemum Tea", "菊花茶", 29, "g_small"),
        ],
    ),
    "Snacks": (
        [0.4, 6, 0.8, 0.8, 1.2, 0.6, 1.8, 0.2],
        1.0,
        [
            ("Original", "原味", 1.0),
            ("Low-Sugar", "低糖", 1.15),
            ("Classic", "经典", 1.0),
            ("Sea Salt", "海盐", 1.05),
            ("Imported", "进口", 1.3),
            ("Organic", "有机", 1.25),
        ],
        [
            ("Mixed Nuts", "每日坚果", 59, "g_snack"),
            ("Dried Mango", "芒果干", 25, "g_snack"),
            ("Beef Jerky", "牛肉干", 45, "g_snack"),
            ("Seaweed Snack", "海苔", 19, "g_snack"),
            ("Potato Chips", "薯片", 12, "g_snack"),
            ("Rice Crackers", "米饼", 15, "g_snack"),
            ("Dark Chocolate", "黑巧克力", 35, "g_snack"),
            ("Protein Bars", "蛋白棒", 49, "bars"),
            ("Sunflower Seeds", "瓜子", 16, "g_snack"),
            ("Tofu Strips", "豆干", 10, "g_snack"),
        ],
    ),
    "Skincare": (
        [0.3, 0.3, 0.8, 6, 0.6, 0.2, 0.6, 0.1],
        0.8,
        [
            ("Gentle", "温和", 1.0),
            ("Calming", "舒缓", 1.1),
            ("Bright", "亮肤", 1.2),
            ("Hydra", "水润", 1.25),
            ("Matte", "控油", 1.0),
            ("Herbal", "植物", 1.05),
        ],
        [
            ("Facial Cleanser", "洁面乳", 79, "ml_large"),
            ("Face Cream", "面霜", 159, "ml"),
            ("Toner", "爽肤水", 99, "ml_large"),
            ("Vitamin C Serum", "维C精华", 199, "ml"),
            ("Sunscreen SPF50", "防晒霜 SPF50", 129, "ml"),
            ("Sheet Masks", "面膜", 69, "sheets"),
            ("Eye Cream", "眼霜", 189, "ml"),
            ("Lip Balm", "润唇膏", 29, "packs"),
            ("Body Lotion", "身体乳", 69, "ml_large"),
            ("Micellar Water", "卸妆水", 89, "ml_large"),
        ],
    ),
    "Kitchen": (
        [0.6, 0.2, 0.8, 0.2, 0.2, 6, 0.3, 0.2],
        0.15,
        [
            ("Nordic", "北欧风", 1.1),
            ("Classic", "经典", 1.0),
            ("Sturdy", "加厚", 1.15),
            ("Compact", "小巧", 0.9),
            ("Japanese", "日式", 1.1),
            ("Premium", "高端", 1.4),
        ],
        [
            ("Non-Stick Pan", "不粘锅", 129, "cm"),
            ("Wok", "炒锅", 169, "cm"),
            ("Chef's Knife", "厨师刀", 89, "size"),
            ("Cutting Board", "砧板", 59, "size"),
            ("Glass Containers", "玻璃保鲜盒", 69, "set"),
            ("Electric Kettle", "电热水壶", 119, "colour"),
            ("Rice Cooker", "电饭煲", 299, "litre"),
            ("Ceramic Bowls", "陶瓷碗", 49, "set"),
            ("Silicone Spatula", "硅胶铲", 25, "colour"),
            ("Vacuum Flask", "保温杯", 89, "bottle"),
        ],
    ),
    "Home Textiles": (
        [0.4, 0.2, 1.2, 1.0, 0.2, 1.5, 0.3, 1.0],
        0.15,
        [
            ("Soft", "柔软", 1.0),
            ("Cotton", "纯棉", 1.4),
            ("Linen", "亚麻", 1.3),
            ("Nordic", "北欧风", 1.1),
            ("Anti-Mite", "防螨", 1.15),
            ("Classic", "经典", 1.0),
        ],
        [
            ("Bed Sheet Set", "床品四件套", 299, "bed"),
            ("Duvet", "被子", 399, "bed"),
            ("Memory Pillow", "记忆棉枕", 129, "packs"),
            ("Bath Towel", "浴巾", 59, "colour"),
            ("Throw Blanket", "毛毯", 149, "colour"),
            ("Blackout Curtains", "遮光窗帘", 199, "bed"),
            ("Bath Mat", "地垫", 39, "colour"),
            ("Cushion", "抱枕", 45, "colour"),
            ("Cooling Mat", "凉席", 159, "bed"),
            ("Silk Pillowcase", "真丝枕套", 89, "packs"),
        ],
    ),
    "Baby": (
        [0.1, 0.1, 6, 0.3, 0.1, 0.3, 0.1, 0.1],
        1.0,
        [
            ("Premium", "精选", 1.3),
            ("Natural", "天然", 1.1),
            ("Gentle", "温和", 1.0),
            ("Daily", "日常", 0.9),
            ("Little Bear", "小熊", 1.0),
            ("Organic", "有机", 1.25),
        ],
        [
            ("Diapers", "纸尿裤", 129, "baby"),
            ("Baby Wipes", "婴儿湿巾", 39, "packs"),
            ("Infant Formula", "婴儿奶粉", 268, "stage"),
            ("Baby Bottle", "奶瓶", 89, "bottle"),
            ("Teether", "牙胶", 29, "colour"),
            ("Baby Lotion", "婴儿润肤乳", 59, "ml_large"),
            ("Swaddle Blanket", "襁褓巾", 79, "colour"),
            ("Baby Bath Tub", "婴儿浴盆", 99, "colour"),
            ("Baby Rice Cereal", "婴儿米粉", 49, "g"),
            ("Bibs", "围兜", 35, "packs"),
        ],
    ),
    "Sports": (
        [0.1, 0.6, 0.2, 0.4, 6, 0.2, 0.4, 0.3],
        0.2,
        [
            ("Pro", "专业", 1.3),
            ("Lightweight", "轻量", 1.05),
            ("Outdoor", "户外", 1.0),
            ("Training", "训练", 1.0),
            ("Classic", "经典", 1.0),
            ("Eco", "环保", 1.1),
        ],
        [
            ("Yoga Mat", "瑜伽垫", 99, "mm"),
            ("Running Shoes", "跑步鞋", 399, "apparel"),
            ("Dumbbells", "哑铃", 129, "weights"),
            ("Resistance Bands", "弹力带", 49, "set"),
            ("Jump Rope", "跳绳", 39, "colour"),
            ("Sports Bottle", "运动水壶", 59, "bottle"),
            ("Quick-Dry T-Shirt", "速干T恤", 89, "apparel"),
            ("Badminton Racket", "羽毛球拍", 159, "colour"),
            ("Basketball", "篮球", 129, "ball"),
            ("Foam Roller", "泡沫轴", 69, "size"),
        ],
    ),
    "Electronics Accessories": (
        [0.1, 3.5, 0.2, 0.3, 1.2, 0.2, 2.5, 0.1],
        0.1,
        [
            ("Compact", "便携", 0.95),
            ("Pro", "专业级", 1.3),
            ("Classic", "经典", 1.0),
            ("Magnetic", "磁吸", 1.15),
            ("Ultra", "旗舰", 1.4),
            ("Lite", "轻享", 0.85),
        ],
        [
            ("USB-C Cable", "数据线", 29, "len"),
            ("Power Bank", "充电宝", 129, "mah"),
            ("Fast Charger", "快充充电器", 79, "watt"),
            ("Wireless Earbuds", "无线耳机", 199, "colour"),
            ("Phone Case", "手机壳", 39, "colour"),
            ("Screen Protector", "钢化膜", 25, "packs"),
            ("Bluetooth Speaker", "蓝牙音箱", 159, "colour"),
            ("Wireless Mouse", "无线鼠标", 69, "colour"),
            ("Mechanical Keyboard", "机械键盘", 299, "switch"),
            ("Laptop Stand", "笔记本支架", 89, "colour"),
        ],
    ),
    "Stationery": (
        [0.5, 0.6, 0.4, 0.4, 0.1, 0.2, 6, 0.1],
        0.6,
        [
            ("Minimalist", "简约", 1.0),
            ("Classic", "经典", 1.0),
            ("Morandi", "莫兰迪色", 1.05),
            ("Student", "学生", 0.85),
            ("Business", "商务", 1.2),
            ("Cute", "可爱", 1.0),
        ],
        [
            ("Gel Pens", "中性笔", 19, "pens"),
            ("Notebook", "活页本", 15, "paper"),
            ("Sticky Notes", "便利贴", 12, "packs"),
            ("Highlighters", "荧光笔", 25, "pens"),
            ("Fountain Pen", "钢笔", 129, "colour"),
            ("Desk Organiser", "桌面收纳盒", 49, "colour"),
            ("Planner", "手账本", 59, "paper"),
            ("Pencil Case", "笔袋", 35, "colour"),
            ("Washi Tape", "和纸胶带", 19, "packs"),
            ("Document Folders", "文件夹", 25, "packs"),
        ],
    ),
    "Pet Supplies": (
        [0.1, 0.2, 0.1, 0.1, 0.2, 0.3, 0.1, 6],
        1.0,
        [
            ("Premium", "高端", 1.35),
            ("Natural", "天然", 1.1),
            ("Daily", "日常", 0.85),
            ("Happy Paws", "乐爪", 1.0),
            ("Cosy", "舒适", 1.0),
            ("Classic", "经典", 1.0),
        ],
        [
            ("Cat Food", "猫粮", 129, "kg"),
            ("Dog Food", "狗粮", 119, "kg"),
            ("Cat Litter", "猫砂", 49, "kg"),
            ("Cat Treats", "猫零食", 35, "g_snack"),
            ("Dog Chew Toy", "狗狗磨牙玩具", 29, "size"),
            ("Pet Bed", "宠物窝", 119, "size"),
            ("Scratching Post", "猫抓板", 59, "size"),
            ("Pet Shampoo", "宠物沐浴露", 49, "ml_large"),
            ("Leash & Harness", "牵引绳套装", 69, "size"),
            ("Water Fountain", "自动饮水机", 149, "colour"),
        ],
    ),
}

# How strongly popularity and taste drive a new purchase; a lower concentration gives sparser tastes.
POPULARITY_EXPONENT, AFFINITY_EXPONENT, TASTE_CONCENTRATION = 1.0, 1.25, 2.0

# --- customers ----------------------------------------------------------------------------------------
SEGMENTS = {"new": 0.20, "regular": 0.45, "vip": 0.10, "dormant": 0.25}
MEDIAN_LINES = {"new": 5, "regular": 14, "vip": 44, "dormant": 9}
REGIONS = {"East": 0.30, "South": 0.22, "North": 0.20, "Central": 0.15, "West": 0.13}
AGE_BANDS = {"18-24": 0.16, "25-34": 0.34, "35-44": 0.26, "45-54": 0.14, "55+": 0.10}
# Prior taste weight per style (order of STYLES) by age band, then multiplied by region and segment.
AGE_TASTE = {
    "18-24": [0.3, 3.0, 0.2, 1.5, 1.2, 0.3, 2.5, 0.8],
    "25-34": [0.6, 1.2, 3.0, 1.5, 1.2, 0.8, 1.2, 1.0],
    "35-44": [1.0, 0.6, 2.0, 1.2, 1.0, 1.8, 0.8, 1.0],
    "45-54": [2.0, 0.4, 0.6, 1.0, 0.8, 2.5, 0.5, 1.0],
    "55+": [3.5, 0.3, 0.4, 0.6, 0.6, 2.5, 0.3, 0.8],
}
REGION_TASTE = {
    "East": [1.3, 1, 1, 1.2, 1, 1, 1, 1],
    "South": [1.4, 1.2, 1, 1.1, 1, 1, 1, 1],
    "North": [0.8, 1, 1, 1, 1.2, 1.3, 1, 1],
    "West": [0.9, 1.3, 1, 1, 1, 1, 1, 1.3],
    "Central": [1, 1, 1.2, 1, 1, 1, 1.2, 1],
}
SEGMENT_TASTE = {
    "new": [1, 1.2, 1, 1, 1, 1, 1.1, 1],
    "regular": [1] * 8,
    "vip": [1.2, 1, 1, 1.3, 1, 1, 1, 1],
    "dormant": [1, 1, 1, 1, 1, 1.1, 1, 1],
}
SURNAMES_ZH = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁沈")
GIVEN_ZH = [
    "芳",
    "伟",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "平",
    "刚",
    "桂英",
    "浩",
    "宇",
    "欣怡",
    "子涵",
    "梓萱",
    "一诺",
    "思远",
    "俊杰",
    "雨桐",
    "晨",
    "婷",
    "琳",
    "博文",
    "佳怡",
    "浩然",
    "诗涵",
    "宇轩",
    "建华",
    "晓东",
    "丹",
    "鑫",
    "慧",
]
SURNAMES_PINYIN = [
    "Li",
    "Wang",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Lin",
    "Guo",
    "He",
    "Gao",
    "Luo",
    "Zheng",
    "Tang",
    "Han",
    "Wong",
    "Lee",
    "Chan",
    "Ng",
]
FIRST_EN = [
    "Emma",
    "Olivia",
    "Sophia",
    "Grace",
    "Chloe",
    "Lily",
    "Amy",
    "Helen",
    "Vivian",
    "Cindy",
    "Iris",
    "Kevin",
    "David",
    "Jason",
    "Eric",
    "Leo",
    "Jack",
    "Daniel",
    "Tony",
    "Michael",
    "Ryan",
    "Sam",
    "Lucas",
    "Ethan",
    "Anna",
    "Joyce",
    "Wendy",
    "Peter",
    "Frank",
    "Alice",
]

# --- time -------------------------------------------------------------------------------------------
WEEKDAY_FACTOR = np.array([0.9, 0.88, 0.92, 0.95, 1.05, 1.4, 1.3])  # Monday .. Sunday
HOUR_WEIGHT = np.array(
    [3, 1.5, 0.8, 0.4, 0.3, 0.3, 0.6, 1.5, 2.5, 3.5, 4, 4.5, 5.5, 5, 4, 3.8, 3.8, 4, 4.5, 5.5, 7, 7.5, 6.5, 4.5]
)
CHINESE_NEW_YEAR = ["2023-01-22", "2024-02-10"]


def day_intensity(days: np.ndarray) -> np.ndarray:
    """Relative order volume of each day: growth trend x weekday x shopping festivals."""
    t = (days - START).astype(int)
    w = (1.0 + 0.25 * t / max(t.max(), 1)) * WEEKDAY_FACTOR[(days.astype("datetime64[D]").view("int64") + 3) % 7]
    md = pd.DatetimeIndex(days).strftime("%m-%d").to_numpy()
    w = w * np.where((md >= "10-31") & (md <= "11-10"), 1.6, 1.0)  # Double 11 pre-sale
    w = w * np.where(md == "11-11", 6.0, 1.0)
    w = w * np.where(md == "12-12", 2.0, 1.0)
    w = w * np.where((md >= "06-01") & (md <= "06-17"), 1.3, 1.0)  # 6-18 mid-year festival
    w = w * np.where(md == "06-18", 4.0, 1.0)
    for cny in CHINESE_NEW_YEAR:
        offset = (days - np.datetime64(cny)).astype(int)
        w = w * np.where((offset >= -21) & (offset < -5), 1.7, 1.0)  # New Year gift shopping
        w = w * np.where((offset >= -5) & (offset <= 6), 0.45, 1.0)  # couriers on holiday
    return w


def make_products(rng: np.random.Generator, n_products: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Catalogue with bilingual titles, per-category prices and a latent style profile."""
    counts = np.full(len(CATALOGUE), n_products // len(CATALOGUE))
    counts[: n_products - counts.sum()] += 1
    ids = rng.choice(np.arange(1, max(6 * n_products, 1000)), size=n_products, replace=False)
    rows = []
    for c, (cat, (style_w, repeat, quals, nouns)) in enumerate(CATALOGUE.items()):
        # qualifier -1 (listed twice): plain "Green Tea 250g" next to "Organic Green Tea 250g"
        combos = [
            (q, n, s)
            for q in [-1, *range(-1, len(quals))]
            for n in range(len(nouns))
            for s in range(len(SIZES[nouns[n][3]]))
        ]
        picked = rng.choice(len(combos), size=counts[c], replace=False)
        style_p = np.asarray(style_w, float) / np.sum(style_w)
        for q, n, s in (combos[i] for i in picked):
            q_en, q_zh, q_mult = quals[q] if q >= 0 else ("", "", 1.0)
            n_en, n_zh, base, ladder = nouns[n]
            s_en, s_zh, s_mult = SIZES[ladder][s]
            raw = base * q_mult * s_mult * rng.lognormal(0.0, 0.12)
            # Shop prices end in .90 or .00 (two decimals always).
            price = max(round(raw) - (0.1 if rng.random() < 0.7 else 0.0), 1.9)
            rows.append(
                (
                    cat,
                    f"{q_en} {n_en} {s_en}".lstrip(),
                    f"{q_zh}{n_zh} {s_zh}",
                    price,
                    repeat,
                    rng.choice(len(STYLES), p=style_p),
                )
            )
    products = pd.DataFrame(rows, columns=["category", "title", "title_zh", "price", "repeat", "style"])
    products.insert(0, "product_id", [f"{i:06d}" for i in ids])
    profile = 0.2 * rng.dirichlet(np.full(len(STYLES), 0.5), size=len(products))
    profile[np.arange(len(products)), products["style"].to_numpy()] += 0.8
    products["popularity"] = rng.lognormal(0.0, 1.0, size=len(products))
    # Price tier inside the category (z-score of log price): matched against a customer's budget.
    log_p = np.log(products["price"])
    products["tier"] = (log_p - log_p.groupby(products["category"]).transform("mean")) / log_p.groupby(
        products["category"]
    ).transform("std")
    return products, profile


def make_customers(
    rng: np.random.Generator, n: int, id_pool: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Customers with context (segment, region, age band), a sparse taste over STYLES and a budget."""
    seg = rng.choice(list(SEGMENTS), size=n, p=list(SEGMENTS.values()))
    region = rng.choice(list(REGIONS), size=n, p=list(REGIONS.values()))
    age = rng.choice(list(AGE_BANDS), size=n, p=list(AGE_BANDS.values()))
    chinese = rng.random(n) < 0.7
    names = np.where(
        chinese,
        np.char.add(rng.choice(SURNAMES_ZH, n), rng.choice(GIVEN_ZH, n)),
        np.char.add(np.char.add(rng.choice(FIRST_EN, n), " "), rng.choice(SURNAMES_PINYIN, n)),
    )
    prior = np.array(
        [np.multiply(np.multiply(AGE_TASTE[a], REGION_TASTE[r]), SEGMENT_TASTE[s]) for a, r, s in zip(age, region, seg)]
    )
    taste = np.vstack([rng.dirichlet(TASTE_CONCENTRATION * p / p.sum()) for p in prior])
    budget = rng.normal(0.0, 0.8, size=n) + np.where(seg == "vip", 0.8, 0.0) - np.where(age == "18-24", 0.4, 0.0)
    return (
        pd.DataFrame(
            {
                "customer_id": [f"C{i:06d}" for i in id_pool[:n]],
                "customer_name": names,
                "segment": seg,
                "region": region,
                "age_band": age,
            }
        ),
        taste,
        budget,
    )


def activity_window(rng: np.random.Generator, segment: str, n_days: int) -> tuple[int, int]:
    """First and last active day: new customers join in 2024, dormant ones leave in 2023."""
    if segment == "new":
        return int(rng.integers(n_days - 180, n_days - 30)), n_days - 1
    if segment == "dormant":
        first = int(rng.integers(0, 200))
        return first, int(min(first + rng.integers(60, 220), 364))
    # Most regulars were already customers on day one; the rest were won over the period.
    return (0 if rng.random() < 0.6 else int(rng.integers(0, n_days - 120))), n_days - 1


def simulate_lines(rng, customers, taste, budget, products, profile) -> pd.DataFrame:
    """Baskets for every customer: new picks by taste x popularity, repeats of favourites, then returns."""
    days = np.arange(START, END + np.timedelta64(1, "D"))
    day_w = day_intensity(days)
    hour_p = HOUR_WEIGHT / HOUR_WEIGHT.sum()
    qty_values, qty_p = np.arange(1, 7), np.array([0.72, 0.17, 0.06, 0.025, 0.015, 0.01])
    pop = products["popularity"].to_numpy() ** POPULARITY_EXPONENT
    repeat = products["repeat"].to_numpy()
    tier = products["tier"].to_numpy()
    n_items = len(products)
    out_c, out_i, out_q, out_t, out_o = [], [], [], [], []
    order_no = 0
    for c, segment in enumerate(customers["segment"]):
        n_lines = int(np.clip(round(rng.lognormal(np.log(MEDIAN_LINES[segment]), 0.75)), 1, 400))
        pref = pop * (profile @ taste[c]) ** AFFINITY_EXPONENT * np.exp(-0.5 * (tier - budget[c]) ** 2)
        pref /= pref.sum()
        loyalty = rng.beta(2.0, 4.0)
        first, last = activity_window(rng, segment, len(days))
        window_p = day_w[first : last + 1] / day_w[first : last + 1].sum()
        bought = np.zeros(n_items)
        sizes = 1 + rng.poisson(0.6, size=n_lines)
        sizes = sizes[: np.searchsorted(np.cumsum(sizes), n_lines) + 1]
        sizes[-1] -= sizes.sum() - n_lines
        order_days = np.sort(rng.choice(np.arange(first, last + 1), size=len(sizes), p=window_p))
        for order_day, size in zip(order_days, sizes):
            stamp = days[order_day] + np.timedelta64(int(rng.choice(24, p=hour_p)) * 60 + int(rng.integers(60)), "m")
            basket = set()
            for _ in range(size):
                rep_w = bought * repeat
                if rep_w.sum() > 0 and rng.random() < loyalty:
                    item = int(rng.choice(n_items, p=rep_w / rep_w.sum()))
                else:
                    item = int(rng.choice(n_items, p=pref))
                if item in basket:
                    continue
                basket.add(item)
                bought[item] += 1
                out_c.append(c), out_i.append(item), out_o.append(order_no), out_t.append(stamp)
                out_q.append(int(rng.choice(qty_values, p=qty_p)))
            order_no += 1
    lines = pd.DataFrame({"c": out_c, "i": out_i, "q": out_q, "t": np.array(out_t, dtype="datetime64[m]"), "o": out_o})
    return pd.concat([lines, make_returns(rng, lines, order_no)], ignore_index=True)


def make_returns(rng: np.random.Generator, lines: pd.DataFrame, first_order_no: int) -> pd.DataFrame:
    """About 2% of lines come back 2-20 days later as their own order with a negative quantity."""
    latest = np.datetime64(END) + np.timedelta64(1, "D") - np.timedelta64(25, "D")
    eligible = np.flatnonzero(lines["t"].to_numpy() < latest)
    picked = np.sort(rng.choice(eligible, size=min(round(0.02 * len(lines)), len(eligible)), replace=False))
    src = lines.iloc[picked]
    q = src["q"].to_numpy()
    back = np.where(rng.random(len(src)) < 0.8, q, rng.integers(1, q + 1))
    delay = rng.integers(2 * 24 * 60, 20 * 24 * 60, size=len(src)).astype("timedelta64[m]")
    return pd.DataFrame(
        {
            "c": src["c"].to_numpy(),
            "i": src["i"].to_numpy(),
            "q": -back,
            "t": src["t"].to_numpy() + delay,
            "o": first_order_no + np.arange(len(src)),
        }
    )


def generate(n_customers: int = 2000, n_products: int = 300, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build the order-line table and a table of new (order-less) customers.

    Returns
    -------
    orders : DataFrame with columns ``COLUMNS``, sorted by order_time
    new_customers : DataFrame with customer_id, segment, region, age_band (about 50 ids not in orders)
    """
    rng = np.random.default_rng(seed)
    products, profile = make_products(rng, n_products)
    n_new = max(5, round(0.025 * n_customers))
    id_pool = rng.permutation(np.arange(1, 5 * (n_customers + n_new) + 1))[: n_customers + n_new]
    customers, taste, budget = make_customers(rng, n_customers + n_new, id_pool)
    known = customers.iloc[:n_customers]
    lines = simulate_lines(rng, known, taste[:n_customers], budget[:n_customers], products, profile)
    # Order numbers follow time, as a shop's would.
    first_seen = lines.groupby("o")["t"].min().sort_values(kind="stable")
    order_rank = pd.Series(np.arange(len(first_seen)), index=first_seen.index)
    lines["o"] = order_rank.reindex(lines["o"]).to_numpy()
    lines = lines.sort_values(["o", "i"], kind="stable").reset_index(drop=True)
    cust = known.iloc[lines["c"].to_numpy()].reset_index(drop=True)
    prod = products.iloc[lines["i"].to_numpy()].reset_index(drop=True)
    orders = pd.DataFrame(
        {
            "order_id": [f"O{100_001 + o}" for o in lines["o"]],
            "customer_id": cust["customer_id"],
            "customer_name": cust["customer_name"],
            "segment": cust["segment"],
            "region": cust["region"],
            "age_band": cust["age_band"],
            "product_id": prod["product_id"],
            "title": prod["title"],
            "title_zh": prod["title_zh"],
            "category": prod["category"],
            "price": prod["price"],
            "quantity": lines["q"],
            "order_time": pd.DatetimeIndex(lines["t"]).strftime("%Y-%m-%d %H:%M"),
        }
    )
    new_customers = customers.iloc[n_customers:][["customer_id", "segment", "region", "age_band"]]
    return orders[COLUMNS], new_customers.reset_index(drop=True)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """UTF-8, comma, header, '\\n' line ends, prices with two decimals: byte-stable across platforms."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n", float_format="%.2f")


def temporal_split(orders: pd.DataFrame, test_share: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each customer's last ``test_share`` of purchase lines (by time) is the test part; returns dropped."""
    bought = orders[orders["quantity"] > 0].sort_values(["customer_id", "order_time", "order_id"], kind="stable")
    pos = bought.groupby("customer_id").cumcount()
    size = bought.groupby("customer_id")["order_id"].transform("size")
    is_test = pos >= size - np.floor(test_share * size)
    return bought[~is_test], bought[is_test]


def check_lift(orders: pd.DataFrame, k: int = 10, neighbours: int = 50) -> dict[str, float]:
    """NDCG@k of popularity and of cosine item-kNN on a per-customer temporal split (seen items excluded)."""
    train, test = temporal_split(orders)
    users = np.unique(train["customer_id"])
    items = np.unique(orders["product_id"])
    u_pos = pd.Series(np.arange(len(users)), index=users)
    i_pos = pd.Series(np.arange(len(items)), index=items)
    x = np.zeros((len(users), len(items)))
    x[u_pos[train["customer_id"]].to_numpy(), i_pos[train["product_id"]].to_numpy()] = 1.0
    target = np.zeros_like(x, dtype=bool)
    test = test[test["customer_id"].isin(u_pos.index)]
    target[u_pos[test["customer_id"]].to_numpy(), i_pos[test["product_id"]].to_numpy()] = True
    target &= x == 0  # only items new to the customer count: recommenders hide what was bought
    has_target = target.any(axis=1)
    norms = np.sqrt(x.sum(axis=0)) + 1e-9
    sim = (x.T @ x) / np.outer(norms, norms)
    np.fill_diagonal(sim, 0.0)
    weakest = np.argsort(sim, axis=0)[:-neighbours, :]  # keep each item's strongest neighbours
    np.put_along_axis(sim, weakest, 0.0, axis=0)
    scores = {"pop": np.broadcast_to(x.sum(axis=0), x.shape), "itemknn": x @ sim.T}
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(target.sum(axis=1), k)]
    result = {"users": int(has_target.sum()), "train_lines": len(train), "test_lines": len(test)}
    for name, s in scores.items():
        ranked = np.argsort(-np.where(x > 0, -np.inf, s), axis=1, kind="stable")[:, :k]
        dcg = (np.take_along_axis(target, ranked, axis=1) * discount).sum(axis=1)
        result[name] = float(np.mean(dcg[has_target] / ideal[has_target]))
    return result


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=here / "retail_orders.csv", help="order-line CSV to write")
    parser.add_argument(
        "--new-customers",
        type=Path,
        default=None,
        help="cold-start customers CSV (default: new_customers.csv next to --out)",
    )
    parser.add_argument("--customers", type=int, default=2000, help="customers with orders")
    parser.add_argument("--products", type=int, default=300, help="catalogue size")
    parser.add_argument("--seed", type=int, default=7, help="seed of the numpy Generator")
    parser.add_argument("--check", action="store_true", help="evaluate popularity vs item-kNN on the output")
    parser.add_argument("--min-lift", type=float, default=1.5, help="--check fails below this kNN/pop ratio")
    args = parser.parse_args(argv)
    if args.customers < 1 or not 40 <= args.products <= 2000:
        parser.error("--customers must be >= 1 and --products between 40 and 2000")
    started = time.perf_counter()
    orders, new_customers = generate(args.customers, args.products, args.seed)
    write_csv(orders, args.out)
    write_csv(new_customers, args.new_customers or args.out.with_name("new_customers.csv"))
    print(
        f"wrote {len(orders):,} lines, {orders['customer_id'].nunique():,} customers, "
        f"{orders['product_id'].nunique()} products to {args.out} "
        f"({args.out.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - started:.1f} s"
    )
    if args.check:
        stored = pd.read_csv(args.out, dtype=str, keep_default_na=False)
        stored["quantity"] = stored["quantity"].astype(int)
        res = check_lift(stored)
        lift = res["itemknn"] / res["pop"]
        print(
            f"NDCG@10 over {res['users']} customers: pop = {res['pop']:.4f}, "
            f"itemknn = {res['itemknn']:.4f} (x{lift:.2f})"
        )
        if lift < args.min_lift:
            print(f"check failed: lift below {args.min_lift}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
