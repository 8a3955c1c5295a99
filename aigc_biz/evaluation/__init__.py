"""Offline evaluation: metrics with bootstrap intervals, the split -> fit -> score protocol, the Leaderboard."""

from aigc_biz.evaluation.leaderboard import Leaderboard, ModelResult, metrics_rows
from aigc_biz.evaluation.metrics import (
    average_precision_at_k,
    average_recommended_popularity,
    bootstrap_ci,
    catalogue_coverage,
    coverage_ci,
    hit_rate_at_k,
    intra_list_diversity,
    item_popularity,
    ndcg_at_k,
    novelty,
    popularity_percentile,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
)
from aigc_biz.evaluation.protocol import evaluate, metrics_by_segment, metrics_from_topk, score_split

__all__ = [
    "Leaderboard",
    "ModelResult",
    "metrics_rows",
    "evaluate",
    "metrics_by_segment",
    "metrics_from_topk",
    "score_split",
    "average_precision_at_k",
    "average_recommended_popularity",
    "bootstrap_ci",
    "catalogue_coverage",
    "coverage_ci",
    "hit_rate_at_k",
    "intra_list_diversity",
    "item_popularity",
    "ndcg_at_k",
    "novelty",
    "popularity_percentile",
    "precision_at_k",
    "recall_at_k",
    "reciprocal_rank_at_k",
]
