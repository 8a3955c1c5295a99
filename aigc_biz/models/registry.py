"""Model names the CLI and pipelines accept (``--model NAME``), imported only when asked for."""

from __future__ import annotations

import importlib
import json

from aigc_biz.errors import InputError

_MODELS = {
    "pop": "aigc_biz.models.pop:Popularity",
    "itemknn": "aigc_biz.models.itemknn:ItemKNN",
    "ease": "aigc_biz.models.ease:EASE",
    "cvae": "aigc_biz.models.cvae:ConditionalVAE",
    "cgan": "aigc_biz.models.cgan:ConditionalGAN",
    "blend": "aigc_biz.models.blend:RepeatBlend",
    "trend": "aigc_biz.models.trend:TrendBlend",
    "buyagain": "aigc_biz.models.buyagain:BuyAgain",
    "sasrec": "aigc_biz.models.sasrec:SASRec",
    "diffrec": "aigc_biz.models.diffrec:DiffRec",
    "ldiffrec": "aigc_biz.models.diffrec:LatentDiffRec",
    "giffcf": "aigc_biz.models.giffcf:GiffCF",
}

#: what `recommend` uses unless told (the rule and its evidence: README, "Why trend is the default")
DEFAULT_MODEL = "trend"


def available_models() -> list[str]:
    return list(_MODELS)


def get_model_class(name: str):
    try:
        target = _MODELS[name.strip().lower()]
    except KeyError:
        raise InputError(f"unknown model {name!r}", hint="choose from " + ", ".join(_MODELS)) from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def create_model(name: str, **params):
    """A new, unfitted model; unknown parameters are refused with the list of valid ones."""
    cls = get_model_class(name)
    model = cls()
    if params:
        model.set_params(**params)
    return model


def parse_params(pairs) -> dict:
    """``["epochs=30", "beta=0.2", "device=cpu"]`` -> dict; values read as JSON when they parse, else strings."""
    params = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise InputError(f"--param {pair!r} is not key=value")
        key, raw = pair.split("=", 1)
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        params[key.strip()] = value
    return params
