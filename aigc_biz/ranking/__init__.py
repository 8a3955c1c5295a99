"""Business rules on top of model scores (exclude seen, candidate pools, category caps, price bands)."""

from aigc_biz.ranking.rules import (
    BusinessRules,
    aligned_item_features,
    attach_item_info,
    business_rules,
    catalogue_features,
    recommend_with_rules,
    recommendation_frame,
    unknown_items_warnings,
)

__all__ = [
    "BusinessRules",
    "aligned_item_features",
    "attach_item_info",
    "business_rules",
    "catalogue_features",
    "recommend_with_rules",
    "recommendation_frame",
    "unknown_items_warnings",
]
