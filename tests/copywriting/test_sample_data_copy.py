"""zh SMS for every customer of the bundled sample shop, with their 10 most-bought items as stand-in recs."""

import numpy as np
import pandas as pd

from aigc_biz.copywriting import render_copy
from aigc_biz.resources import sample_data_path
from tests.copywriting.conftest import sample_shop


def test_zh_sms_for_every_sample_customer():
    recs, users, items = sample_shop()
    orders = pd.read_csv(sample_data_path(), dtype=str)

    result = render_copy(recs, users=users, items=items, channel="sms", locale="zh", campaign="618")
    frame = result.frame
    assert len(frame) == orders["customer_id"].nunique()
    assert result.rule_counts == {}
    assert frame["body"].str.endswith("回T退订").all()
    # zh copy is UCS-2: 70 characters fit one SMS, a longer one is sent in parts of 67
    length = frame["body"].str.len()
    assert not frame["body"].map(lambda body: any(ord(ch) > 0xFFFF for ch in body)).any()  # 1 char = 1 unit
    expected = np.select([length <= 70, length <= 2 * 67, length <= 3 * 67], [1, 2, 3], 4)
    assert frame["sms_parts"].tolist() == expected.tolist()
    assert set(frame["sms_parts"]) == {1, 2}  # both sides of the 70-character boundary occur
    # product ids keep their leading zeros and the Chinese titles are used
    first = frame.iloc[0]
    top_item = first["item_ids"].split("|")[0]
    assert len(top_item) == 6
    assert items.set_index("item_id").loc[top_item, "title_zh"].split(" ")[0] in first["body"]
    assert frame["body"].str.contains("¥").mean() > 0.9
