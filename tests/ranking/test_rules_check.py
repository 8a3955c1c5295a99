"""BusinessRules.check: the errors scoring would raise, raised before any customer is scored."""

import numpy as np
import pandas as pd
import pytest

from aigc_biz.errors import InputError
from aigc_biz.ranking import BusinessRules

ITEMS = np.array(["a", "b", "c"])
WITH_CATEGORY = pd.DataFrame({"category": ["x", "x", "y"], "price": [1.0, 5.0, 9.0]})
NO_CATEGORY = pd.DataFrame({"price": [1.0, 5.0, 9.0]})


def test_check_accepts_rules_the_catalogue_can_serve():
    BusinessRules(max_per_category=1, exclude_categories=["y"], max_price=6.0).check(ITEMS, WITH_CATEGORY)


def test_check_names_the_missing_category_for_max_per_category():
    # allowed_mask alone does not look at the category for this rule; check must
    assert BusinessRules(max_per_category=1).allowed_mask(ITEMS, NO_CATEGORY) is None
    with pytest.raises(InputError, match="--max-per-category needs an item category column"):
        BusinessRules(max_per_category=1).check(ITEMS, NO_CATEGORY)


def test_check_refuses_rules_that_leave_no_item():
    with pytest.raises(InputError, match="leave no item"):
        BusinessRules(candidates=["z"]).check(ITEMS, WITH_CATEGORY)
    with pytest.raises(InputError, match="leave no item"):
        BusinessRules(min_price=100.0).check(ITEMS, WITH_CATEGORY)
