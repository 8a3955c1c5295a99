"""Recommenders behind one contract (see base.py); ``create_model(name)`` picks one by name."""

from aigc_biz.models.base import Recommender
from aigc_biz.models.registry import DEFAULT_MODEL, available_models, create_model, get_model_class, parse_params

__all__ = ["Recommender", "DEFAULT_MODEL", "available_models", "create_model", "get_model_class", "parse_params"]
