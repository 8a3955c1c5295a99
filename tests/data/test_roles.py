"""detect_roles: English and Chinese names, flags, ambiguity and attribute constancy."""

from __future__ import annotations

import pandas as pd
import pytest

from aigc_biz.data import detect_roles
from aigc_biz.errors import InputError


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns, dtype="str")


def test_uci_retail_headers():
    df = frame(
        InvoiceNo=["1", "2", "3"],
        StockCode=["A", "A", "B"],
        Description=["Mug", "Mug", "Tea"],
        Quantity=["6", "1", "2"],
        InvoiceDate=["12/1/2010 8:26"] * 3,
        UnitPrice=["2.5", "2.9", "1"],
        CustomerID=["17850", "17850", "13047"],
        Country=["UK", "UK", "France"],
    )
    roles = detect_roles(df)
    assert (roles.user, roles.item, roles.time, roles.weight, roles.weight_kind) == (
        "CustomerID",
        "StockCode",
        "InvoiceDate",
        "Quantity",
        "quantity",
    )
    assert roles.user_attrs == ("Country",)
    # price may vary per item (discounts); the title is constant enough
    assert roles.item_attrs == {"Description": "title", "UnitPrice": "price"}


def test_chinese_headers():
    df = frame(
        用户ID=["u1", "u2"],
        商品编号=["i1", "i2"],
        下单时间=["2023年1月5日"] * 2,
        行为=["购买", "浏览"],
        性别=["女", "男"],
        商品名称=["杯子", "茶"],
        类目=["厨房", "饮料"],
        单价=["9.9", "5"],
    )
    roles = detect_roles(df)
    assert (roles.user, roles.item, roles.time, roles.weight, roles.weight_kind) == (
        "用户ID",
        "商品编号",
        "下单时间",
        "行为",
        "event",
    )
    assert roles.user_attrs == ("性别",)
    assert roles.item_attrs == {"商品名称": "title", "类目": "category", "单价": "price"}


@pytest.mark.parametrize(
    "user,item",
    [
        ("Customer ID", "product-id"),
        ("USERID", "Item_Id"),
        ("uid", "sku"),
        ("会员ID", "SKU"),
        ("member_id", "goods_id"),
        ("client_id", "movieId"),
    ],
)
def test_names_are_case_space_and_underscore_insensitive(user, item):
    roles = detect_roles(pd.DataFrame({user: ["1"], item: ["2"]}))
    assert (roles.user, roles.item) == (user, item)


def test_an_id_name_beats_a_bare_name():
    roles = detect_roles(frame(user=["a"], user_id=["1"], product=["Mug"], product_id=["9"]))
    assert (roles.user, roles.item) == ("user_id", "product_id")


def test_weight_kinds_from_names():
    for column, kind in [
        ("rating", "rating"),
        ("stars", "rating"),
        ("qty", "quantity"),
        ("销售额", "revenue"),
        ("event_type", "event"),
        ("behaviour", "event"),
        ("评分", "rating"),
    ]:
        roles = detect_roles(pd.DataFrame({"user_id": ["1"], "item_id": ["2"], column: ["3"]}))
        assert (roles.weight, roles.weight_kind) == (column, kind)
    roles = detect_roles(frame(user_id=["1"], item_id=["2"], revenue=["3"], quantity=["1"]))
    assert roles.weight == "quantity"  # quantity beats revenue: it does not favour expensive items


def test_flags_override_and_kind_from_values():
    df = frame(
        buyer=["1", "2"], thing=["a", "b"], when=["2023-01-01"] * 2, n=["3", "4"], kind=["x", "y"], user_id=["u", "v"]
    )
    roles = detect_roles(df, user_col="buyer", item_col="thing", time_col="when", weight_col="n")
    assert (roles.user, roles.item, roles.time, roles.weight, roles.weight_kind) == (
        "buyer",
        "thing",
        "when",
        "n",
        "quantity",
    )
    assert detect_roles(df, user_col="buyer", item_col="thing", weight_col="kind").weight_kind == "event"
    assert detect_roles(df, user_col="BUYER", item_col="thing").user == "buyer"  # a loose match is accepted
    assert (
        detect_roles(df, user_col="buyer", item_col="thing", weight_col="n", weight_kind="rating").weight_kind
        == "rating"
    )


def test_explicit_missing_column_names_it_and_lists_columns():
    df = frame(user_id=["1"], item_id=["2"])
    with pytest.raises(
        InputError, match=r"time_col='ts' is not a column; the columns are 'user_id', 'item_id'"
    ) as info:
        detect_roles(df, time_col="ts", source="orders.csv")
    assert info.value.column == "ts" and info.value.file == "orders.csv"
    with pytest.raises(InputError, match="user_attrs='segment' is not a column"):
        detect_roles(df, user_attrs=["segment"])


@pytest.mark.parametrize(
    "columns,role,flag", [(["visitor", "item_id"], "user", "--user-col"), (["user_id", "thing"], "item", "--item-col")]
)
def test_missing_role_lists_columns_and_flag(columns, role, flag):
    df = pd.DataFrame({c: ["1"] for c in columns})
    with pytest.raises(
        InputError, match=f"cannot tell which column is the {role}; the columns are '{columns[0]}', '{columns[1]}'"
    ) as info:
        detect_roles(df)
    assert flag in str(info.value)


def test_two_equally_good_candidates_are_refused():
    with pytest.raises(InputError, match="both 'user_id' and 'customer_id' could be the user column.*--user-col"):
        detect_roles(frame(user_id=["1"], customer_id=["2"], item_id=["3"]))
    with pytest.raises(InputError, match="both 'sku' and 'product_id' could be the item column.*--item-col"):
        detect_roles(frame(user_id=["1"], sku=["2"], product_id=["3"]))
    # the flag settles it
    assert (
        detect_roles(frame(user_id=["1"], customer_id=["2"], item_id=["3"]), user_col="customer_id").user
        == "customer_id"
    )


def test_attributes_that_vary_per_user_or_item_are_left_out():
    df = frame(
        user_id=["1", "1", "2", "2"],
        item_id=["a", "b", "a", "b"],
        region=["north", "south", "east", "east"],  # varies within user 1
        segment=["vip", "vip", "new", "new"],
        name=["Ann", "Ann", "Bob", "Bob"],  # a customer's name, not a title
        title_zh=["杯", "茶", "杯", "茶"],
        brand=["X", "Y", "X", "Z"],
    )  # brand varies for item b
    roles = detect_roles(df)
    assert roles.user_attrs == ("segment",)
    assert roles.item_attrs == {"title_zh": "title_zh"}
    explicit = detect_roles(df, user_attrs=["region"], item_attrs=["name", "brand"])
    assert explicit.user_attrs == ("region",)
    assert explicit.item_attrs == {"name": "title", "brand": "brand"}
    assert detect_roles(df, item_attrs={"brand": "maker"}).item_attrs == {"brand": "maker"}


def test_title_beats_description_which_keeps_its_name():
    df = frame(
        user_id=["1", "2"], item_id=["a", "b"], description=["long a", "long b"], title=["A", "B"], title_en=["A", "B"]
    )
    roles = detect_roles(df)
    assert roles.item_attrs == {"title": "title", "title_en": "title_en", "description": "description"}


def test_same_column_for_user_and_item_is_refused():
    with pytest.raises(InputError, match="cannot be both"):
        detect_roles(frame(user_id=["1"], item_id=["2"]), item_col="user_id")


def test_customer_name_is_found_for_copy_but_kept_out_of_model_features(tmp_path):
    from aigc_biz.data import load_interactions

    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,customer_name,segment,product_id\n001,王芳,vip,A\n001,王芳,vip,B\n002,Emma Li,new,A\n",
        encoding="utf-8",
    )
    data = load_interactions(path)
    assert data.roles.user_name == "customer_name"
    assert list(data.user_names) == ["王芳", "Emma Li"]
    assert "customer_name" not in data.user_features.columns
    assert list(data.user_features.columns) == ["segment"]
