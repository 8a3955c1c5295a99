"""Every registered model passes the same contract (see contract.py for how to add one)."""
from __future__ import annotations

from aigc_biz.models.ease import EASE
from aigc_biz.models.itemknn import ItemKNN
from aigc_biz.models.pop import Popularity

from .contract import RecommenderContract


class TestPopularity(RecommenderContract):
    personalised = False

    def _get_model(self):
        return Popularity()


class TestPopularityBySegment(RecommenderContract):
    def _get_model(self):
        return Popularity(by_segment="segment")


class TestItemKNN(RecommenderContract):
    def _get_model(self):
        return ItemKNN(k_neighbours=10, shrinkage=2.0)


class TestEASE(RecommenderContract):
    def _get_model(self):
        return EASE(l2=10.0)
