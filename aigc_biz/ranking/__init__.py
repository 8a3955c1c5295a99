"""Business rules on top of model scores (exclude seen, candidate pools, category caps, price bands)."""
from aigc_biz.ranking.rules import BusinessRules, business_rules, aligned_item_features, attach_item_info, recommend_with_rules

__all__ = ["BusinessRules", "business_rules", "aligned_item_features", "attach_item_info", "recommend_with_rules"]
