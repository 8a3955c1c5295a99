"""zh SMS for every customer of the bundled sample shop, with their 10 most-bought items as stand-in recs."""
import pandas as pd

from aigc_biz.copywriting import count_sms, render_copy
from aigc_biz.resources import sample_data_path


def test_zh_sms_for_every_sample_customer():
    orders = pd.read_csv(sample_data_path(), dtype=str)  # committed to the repository: missing is a failure
    bought = orders[orders["quantity"].astype(int) > 0]
    counts = bought.groupby(["customer_id", "product_id"]).size().rename("n").reset_index()
    counts = counts.sort_values(["customer_id", "n", "product_id"], ascending=[True, False, True], kind="mergesort")
    counts["rank"] = counts.groupby("customer_id").cumcount() + 1
    recs = counts[counts["rank"] <= 10].rename(columns={"customer_id": "user_id", "product_id": "item_id"})
    items = (orders.drop_duplicates("product_id")[["product_id", "title", "title_zh", "category", "price"]]
             .rename(columns={"product_id": "item_id"}))
    users = (orders.drop_duplicates("customer_id")[["customer_id", "customer_name", "segment", "region", "age_band"]]
             .rename(columns={"customer_id": "user_id"}))

    result = render_copy(recs[["user_id", "rank", "item_id"]], users=users, items=items,
                         channel="sms", locale="zh", campaign="618")
    frame = result.frame
    assert len(frame) == orders["customer_id"].nunique()
    assert result.rule_counts == {}
    assert frame["body"].str.endswith("回T退订").all()
    assert (frame["sms_parts"] == [count_sms(body).parts for body in frame["body"]]).all()
    # product ids keep their leading zeros and the Chinese titles are used
    first = frame.iloc[0]
    top_item = first["item_ids"].split("|")[0]
    assert len(top_item) == 6
    assert items.set_index("item_id").loc[top_item, "title_zh"].split(" ")[0] in first["body"]
    assert frame["body"].str.contains("¥").mean() > 0.9
