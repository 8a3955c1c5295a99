"""Every registered model passes the same contract (see contract.py).

One contract class is generated per name in the model registry, so a model added to the registry is
tested here without anyone remembering to; ``CONTRACT_SETTINGS`` only makes its fit small and fast.
"""

from __future__ import annotations

from aigc_biz.models.pop import Popularity
from aigc_biz.models.registry import available_models, create_model

from .contract import RecommenderContract
from .test_cgan import SMALL as SMALL_GAN
from .test_cvae import SMALL as SMALL_VAE
from .test_cvae import small_vae
from .test_diffusion import SMALL_DIFFREC, SMALL_GIFFCF, SMALL_LDIFFREC
from .test_sasrec import SMALL as SMALL_SASREC

#: per registered model: small parameters and contract class attributes (see contract.py)
CONTRACT_SETTINGS: dict[str, dict] = {
    "pop": {"personalised": False},
    "itemknn": {"params": {"k_neighbours": 10, "shrinkage": 2.0}},
    "ease": {"params": {"l2": 10.0}},
    "cvae": {"params": SMALL_VAE, "slow_fit": True},
    "cgan": {"params": SMALL_GAN, "slow_fit": True},
    "buyagain": {"repeat_model": True},
    # the checkerboard has no time column: each customer's rows in file order are the sequence
    "sasrec": {"params": SMALL_SASREC, "slow_fit": True},
    # diffusion models: few steps, narrow layers, no validation slice, so each fit takes about a second
    "diffrec": {"params": SMALL_DIFFREC, "slow_fit": True},
    "ldiffrec": {"params": SMALL_LDIFFREC, "slow_fit": True},
    "giffcf": {"params": SMALL_GIFFCF, "slow_fit": True},
    # with exclude_seen (the contract's default) a blend ranks as its new-item model
    "blend": {"params": {"new_model": "ease", "new_params": {"l2": 10.0}, "horizon": "7d"}, "timed_data": True},
    # the taste model's ranking mixed with recent popularity, the weight chosen on the last 7 days
    "trend": {"params": {"base_model": "ease", "base_params": {"l2": 10.0}, "horizon": "7d"}, "timed_data": True},
}


def _contract_class(name: str) -> type:
    settings = dict(CONTRACT_SETTINGS.get(name, {}))
    params = settings.pop("params", {})

    def _get_model(self):
        return create_model(name, **params)

    return type(f"TestRegistered_{name}", (RecommenderContract,), {"_get_model": _get_model, **settings})


for _name in available_models():
    globals()[f"TestRegistered_{_name}"] = _contract_class(_name)


def test_every_registered_model_has_a_contract_class():
    generated = {name[len("TestRegistered_") :] for name in globals() if name.startswith("TestRegistered_")}
    assert generated == set(available_models())
    assert set(CONTRACT_SETTINGS) <= set(available_models()), "settings for a model that is not registered"


class TestPopularityBySegment(RecommenderContract):
    scores_history = False

    def _get_model(self):
        return Popularity(by_segment="segment")


class TestCVAEWithoutLinearPath(RecommenderContract):
    slow_fit = True

    def _get_model(self):
        return small_vae(linear_path=False, epochs=40)
