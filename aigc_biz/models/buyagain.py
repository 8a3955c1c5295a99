"""Buy again: the probability that a customer buys an item they bought before within the next horizon.

Features of each (customer, item) pair (how often, how long ago, the customer's own rhythm with the
item, the item's typical inter-purchase interval and rebuy rate) go through a logistic regression
fitted on the training data's own last horizon, so ``score_batch`` returns calibrated probabilities.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aigc_biz.data.interactions import Interactions
from aigc_biz.errors import ConfigError, InputError, ModelError
from aigc_biz.models.artifacts import expect_array
from aigc_biz.models.base import Recommender

#: the columns of the design matrix, in order (saved models must list the same)
FEATURES = (
    "log_count",
    "log_age",
    "log_span",
    "log_gap",
    "log_overdue",
    "logit_item_rebuy",
    "log_item_gap",
    "log_item_buyers",
    "log_customer_total",
    "repeated",
    "logit_renewal",
)
#: bought items never score below this; items never bought score below it (a popularity prior)
PROBABILITY_FLOOR = 1e-4
_DAY_NS = 86_400 * 10**9
#: fewer labelled pairs of either class than this and the renewal estimate is used unfitted
_MIN_CLASS = 5


class BuyAgain(Recommender):
    """Repurchase propensity of every (customer, item) pair over the next ``horizon``.

    For each item the customer bought, the score is the calibrated probability that they buy it again
    within ``horizon``, from the number of purchase days, days since the last and the first purchase,
    the customer's own mean gap for the item (shrunk toward the item's median gap when the customer has
    few repeats), the item's median inter-purchase gap and rebuy rate (shrunk toward the global figures
    when few customers rebought it), the item's buyers and the customer's total purchase days, plus a
    renewal-process estimate ``rebuy * (1 - exp(-horizon / gap))``. A logistic regression on these
    (log / logit, standardised) is fitted with the training data's own last ``horizon`` as labels:
    features from the events before ``max_time - horizon``, label = bought again after it.

    Items the customer never bought score a popularity prior below :data:`PROBABILITY_FLOOR`, which
    every bought item's probability is clipped to: lists stay full and bought items always come
    first. Those prior scores are an order, not probabilities; a blend of repeat and new items should
    take the bought items' scores (>= the floor) as probabilities and rank the rest with its own model.

    Purchases are counted per calendar day (several lines or invoices on one day are one purchase).
    Fitting and scoring need a time column (an InputError otherwise).

    Parameters
    ----------
    horizon : str or float, default "30d"
        The period the probability is for ("30d", "2w" or a number of days).
    C : float, default 1.0
        Inverse L2 strength of the logistic regression.
    item_prior : float, default 5.0
        Pseudo-counts pulling an item's rebuy rate and median gap toward the global figures.
    customer_prior : float, default 2.0
        Pseudo-gaps pulling a customer's own mean gap toward the item's median gap.
    max_train_pairs : int, default 500000
        At most this many (customer, item) pairs train the classifier (a seeded sample beyond it).
    seed : int, default 0
        Seed of that sample.

    Attributes
    ----------
    coef_, intercept_ : ndarray
        Logistic regression weights on the standardised features (``FEATURES`` order).
    feature_mean_, feature_scale_ : ndarray of shape (n_features,)
        Standardisation of each feature.
    item_rebuy_ : ndarray of shape (n_items,)
        Shrunk share of the item's buyers who bought it on two or more days.
    item_gap_ : ndarray of shape (n_items,)
        Shrunk median days between two purchases of the item by one customer.
    item_buyers_ : ndarray of shape (n_items,)
        Customers who bought the item.
    fitted_classifier_ : bool
        False when the training data had too few labelled repeats (or too short a span): the score is
        then the renewal estimate itself.

    Examples
    --------
    >>> import pandas as pd
    >>> from aigc_biz.data import Interactions
    >>> df = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "x", "y"],
    ...                    "time": ["2024-01-01", "2024-01-11", "2024-01-05"]})
    >>> data = Interactions.from_frame(df, "user", "item", time_col="time")
    >>> model = BuyAgain(horizon="30d").fit(data)
    >>> model.recommend(data, ["a"], k=1, exclude_seen=False)["item_id"].tolist()
    ['x']
    """

    name = "buyagain"

    def __init__(
        self,
        horizon="30d",
        C: float = 1.0,
        item_prior: float = 5.0,
        customer_prior: float = 2.0,
        max_train_pairs: int = 500_000,
        seed: int = 0,
    ):
        self._keep(locals())

    # --- fitting -------------------------------------------------------------------------------
    def _fit(self, data: Interactions, progress: Callable[[dict], None] | None) -> None:
        self._check_params()
        days = _horizon_days(self.horizon)
        pairs = _purchase_days(data, self.name)
        from aigc_biz.models.pop import svd_item_factors

        self.item_factors_ = svd_item_factors(data.binary())
        end = float(pairs.day.max())
        cut = end - days
        before = pairs.day < cut
        self.fitted_classifier_ = False
        n_features = len(FEATURES)
        self.feature_mean_ = np.zeros(n_features)
        self.feature_scale_ = np.ones(n_features)
        self.coef_ = np.zeros(n_features)
        self.coef_[FEATURES.index("logit_renewal")] = 1.0
        self.intercept_ = np.zeros(1)
        if before.any():
            # item figures from the past only: the labels must not leak into the features
            self._set_item_stats(pairs[before], data.n_items)
            stats = _pair_stats(pairs[before], end_day=cut)
            key = stats.user * data.n_items + stats.item
            later = pairs[~before]
            label = np.isin(key, later.user * data.n_items + later.item)
            if label.sum() >= _MIN_CLASS and (~label).sum() >= _MIN_CLASS:
                X = self._design(stats, days)
                self._fit_classifier(X, label.astype(np.int64))
        self._set_item_stats(pairs, data.n_items)
        if progress is not None:
            progress({"stage": "fit", "fitted_classifier": self.fitted_classifier_})

    def _fit_classifier(self, X: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        if len(y) > self.max_train_pairs:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(y), int(self.max_train_pairs), replace=False))
            X, y = X[keep], y[keep]
            if y.sum() < _MIN_CLASS or (1 - y).sum() < _MIN_CLASS:
                return
        mean, scale = X.mean(axis=0), X.std(axis=0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        clf = LogisticRegression(C=float(self.C), max_iter=1000)
        clf.fit((X - mean) / scale, y)
        self.feature_mean_, self.feature_scale_ = mean, scale
        self.coef_ = clf.coef_.ravel().astype(np.float64)
        self.intercept_ = clf.intercept_.astype(np.float64)
        self.fitted_classifier_ = True

    def _set_item_stats(self, pairs: "_Days", n_items: int) -> None:
        """Rebuy rate, median gap and buyers per item, shrunk toward the global figures."""
        stats = _pair_stats(pairs, end_day=float(pairs.day.max()))
        buyers = np.bincount(stats.item, minlength=n_items).astype(np.float64)
        rebuyers = np.bincount(stats.item, weights=(stats.count >= 2).astype(np.float64), minlength=n_items)
        self.global_rebuy_ = float((rebuyers.sum() + 1.0) / (buyers.sum() + 2.0))
        gaps, gap_items = pairs.gaps()
        self.global_gap_ = float(np.median(gaps)) if len(gaps) else 30.0
        prior = float(self.item_prior)
        self.item_rebuy_ = (rebuyers + prior * self.global_rebuy_) / (buyers + prior)
        log_gap = np.full(n_items, np.log(self.global_gap_))
        n_gaps = np.zeros(n_items)
        if len(gaps):
            frame = pd.DataFrame({"item": gap_items, "gap": np.log(gaps)}).groupby("item")["gap"]
            med, cnt = frame.median(), frame.size()
            n_gaps[med.index.to_numpy()] = cnt.to_numpy()
            log_gap[med.index.to_numpy()] = med.to_numpy()
        log_gap = (n_gaps * log_gap + prior * np.log(self.global_gap_)) / (n_gaps + prior)
        self.item_gap_ = np.exp(log_gap)
        self.item_buyers_ = buyers

    def _design(self, stats: "_PairStats", days: float) -> np.ndarray:
        """The (n_pairs, n_features) design matrix of :data:`FEATURES`."""
        item = stats.item
        count = stats.count.astype(np.float64)
        repeats = count - 1
        item_gap = self.item_gap_[item]
        own_gap = np.where(repeats > 0, stats.span / np.maximum(repeats, 1), item_gap)
        k = float(self.customer_prior)
        # shrunk in log space: a multiplicative rhythm, and one odd gap should not dominate
        gap = np.exp((repeats * np.log(np.maximum(own_gap, 1.0)) + k * np.log(item_gap)) / (repeats + k))
        rebuy = self.item_rebuy_[item]
        still_rebuying = np.where(repeats > 0, (repeats + k * rebuy) / (repeats + k), rebuy)
        renewal = still_rebuying * -np.expm1(-days / gap)
        return np.column_stack(
            [
                np.log1p(count),
                np.log1p(stats.age),
                np.log1p(stats.span),
                np.log(gap),
                np.log1p(stats.age / gap),
                _logit(rebuy),
                np.log(item_gap),
                np.log1p(self.item_buyers_[item]),
                np.log1p(stats.customer_total),
                (repeats > 0).astype(np.float64),
                _logit(renewal),
            ]
        )

    def _check_params(self) -> None:
        for name in ("C", "item_prior", "customer_prior"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ConfigError(f"buyagain: {name} must be a positive number, got {value!r}")
        if not (isinstance(self.max_train_pairs, int) and self.max_train_pairs >= 2 * _MIN_CLASS):
            raise ConfigError(
                f"buyagain: max_train_pairs must be an integer >= {2 * _MIN_CLASS}, got {self.max_train_pairs!r}"
            )

    # --- scoring -------------------------------------------------------------------------------
    def scoring_features(self, data: Interactions, rows: np.ndarray, item_map: np.ndarray) -> dict:
        """Purchase days, days since the last and the first purchase (each + 1, so no entry is 0) per scored
        customer x model item, and each customer's total purchase days: from every event in ``data``,
        ages counted from ``data``'s last event."""
        pairs = _purchase_days(data, self.name)
        stats = _pair_stats(pairs, end_day=float(pairs.day.max()))
        rows = np.asarray(rows, dtype=np.int64)
        known = rows >= 0
        select = sp.csr_matrix(
            (np.ones(int(known.sum())), (np.flatnonzero(known), rows[known])), shape=(len(rows), data.n_users)
        )
        total = np.bincount(stats.user, weights=stats.count, minlength=data.n_users)
        columns = np.asarray(item_map, dtype=np.int64)[stats.item]
        mapped = columns >= 0
        out = {"customer_total": select @ total}
        shape = (data.n_users, self.n_items)
        for name, values in (("count", stats.count), ("age", stats.age + 1.0), ("span", stats.span + 1.0)):
            matrix = sp.csr_matrix((values[mapped], (stats.user[mapped], columns[mapped])), shape=shape)
            matrix = sp.csr_matrix(select @ matrix)
            matrix.sort_indices()
            out[name] = matrix
        return out

    def score_batch(
        self, history: sp.csr_matrix, context: pd.DataFrame | None = None, features: dict | None = None
    ) -> np.ndarray:
        """Probability of buying each bought item again within ``horizon``; never-bought items score a
        popularity prior below :data:`PROBABILITY_FLOOR` (see the class docstring).

        Without ``features`` (a bare history matrix), each item in the history is scored as a pair with
        average features.
        """
        self.check_fitted()
        n_rows = history.shape[0]
        prior = PROBABILITY_FLOOR * self.item_buyers_ / (self.item_buyers_.max() + 1.0)
        scores = np.tile(prior.astype(np.float32), (n_rows, 1))
        if not features:
            coo = sp.coo_matrix(history)
            scores[coo.row, coo.col] = max(_sigmoid(float(self.intercept_[0])), PROBABILITY_FLOOR)
            return scores
        count = sp.csr_matrix(features["count"])
        age, span = sp.csr_matrix(features["age"]), sp.csr_matrix(features["span"])
        for other in (age, span):
            if other.shape != count.shape or not (
                np.array_equal(other.indptr, count.indptr) and np.array_equal(other.indices, count.indices)
            ):
                raise ModelError("buyagain: scoring features do not line up (count, age, span)")
        row = np.repeat(np.arange(n_rows), np.diff(count.indptr))
        stats = _PairStats(
            user=row,
            item=count.indices.astype(np.int64),
            count=count.data.astype(np.float64),
            age=age.data - 1.0,
            span=span.data - 1.0,
            customer_total=np.asarray(features["customer_total"], dtype=np.float64)[row],
        )
        if len(row):
            scores[row, stats.item] = self.predict_pairs(stats)
        return scores

    def predict_pairs(self, stats: "_PairStats") -> np.ndarray:
        """Calibrated repurchase probabilities of pairs, clipped below at :data:`PROBABILITY_FLOOR`."""
        X = (self._design(stats, _horizon_days(self.horizon)) - self.feature_mean_) / self.feature_scale_
        return np.clip(_sigmoid(X @ self.coef_ + self.intercept_[0]), PROBABILITY_FLOOR, 1.0).astype(np.float32)

    def item_vectors(self) -> np.ndarray:
        """Co-purchase factors (a truncated SVD of who bought what), for ``similar_items``."""
        self.check_fitted()
        return self.item_factors_

    # --- saving --------------------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        return {
            "coef": self.coef_,
            "intercept": self.intercept_,
            "feature_mean": self.feature_mean_,
            "feature_scale": self.feature_scale_,
            "item_rebuy": self.item_rebuy_,
            "item_gap": self.item_gap_,
            "item_buyers": self.item_buyers_,
            "item_factors": self.item_factors_,
        }

    def _meta(self) -> dict:
        return {
            "features": list(FEATURES),
            "fitted_classifier": bool(self.fitted_classifier_),
            "global_rebuy": self.global_rebuy_,
            "global_gap": self.global_gap_,
        }

    def _set_state(self, state: dict[str, np.ndarray], meta: dict) -> None:
        if list(meta["features"]) != list(FEATURES):
            raise ValueError("features differ from this version's: " + ", ".join(map(str, meta["features"])))
        n_items, n_features = len(self.item_ids_), len(FEATURES)

        def finite(key, shape, low=-np.inf, high=np.inf, open_low=False):
            value = expect_array(state, key, shape).astype(np.float64)
            if (
                not np.isfinite(value).all()
                or (value < low).any()
                or (value > high).any()
                or (open_low and (value <= low).any())
            ):
                raise ValueError(f"array {key!r} has values out of range")
            return value

        self.coef_ = finite("coef", (n_features,))
        self.intercept_ = finite("intercept", (1,))
        self.feature_mean_ = finite("feature_mean", (n_features,))
        self.feature_scale_ = finite("feature_scale", (n_features,), low=0.0, open_low=True)
        self.item_rebuy_ = finite("item_rebuy", (n_items,), low=0.0, high=1.0, open_low=True)
        if (self.item_rebuy_ >= 1.0).any():
            raise ValueError("array 'item_rebuy' has values out of range")
        self.item_gap_ = finite("item_gap", (n_items,), low=0.0, open_low=True)
        self.item_buyers_ = finite("item_buyers", (n_items,), low=0.0)
        self.item_factors_ = finite("item_factors", (n_items, None)).astype(np.float32)
        self.fitted_classifier_ = bool(meta["fitted_classifier"])
        self.global_rebuy_, self.global_gap_ = float(meta["global_rebuy"]), float(meta["global_gap"])


class _Days:
    """Distinct purchase days of (customer, item) pairs, sorted by pair then day."""

    def __init__(self, user: np.ndarray, item: np.ndarray, day: np.ndarray):
        self.user, self.item, self.day = user, item, day

    def __getitem__(self, mask: np.ndarray) -> "_Days":
        return _Days(self.user[mask], self.item[mask], self.day[mask])

    def gaps(self) -> tuple[np.ndarray, np.ndarray]:
        """Days between consecutive purchases of one pair, and the item of each gap."""
        same = (self.user[1:] == self.user[:-1]) & (self.item[1:] == self.item[:-1])
        return (self.day[1:] - self.day[:-1])[same], self.item[1:][same]


class _PairStats:
    """One row per (customer, item) pair: purchase days, days since the last and the first purchase."""

    def __init__(self, user, item, count, age, span, customer_total):
        self.user, self.item, self.count = user, item, count
        self.age, self.span, self.customer_total = age, span, customer_total


def _purchase_days(data: Interactions, who: str) -> _Days:
    if data.event_order != "time":
        raise InputError(
            f"{who}: a buy-again model needs a time column (when each purchase happened)",
            file=data.source or None,
            hint="pass --time-col when loading the table",
        )
    events = data.events
    positive = events["weight"].to_numpy(np.float64) > 0
    user = events["user_idx"].to_numpy(np.int64)[positive]
    item = events["item_idx"].to_numpy(np.int64)[positive]
    times = events["time"].to_numpy(dtype="datetime64[ns]")[positive]
    valid = ~np.isnat(times)
    user, item, times = user[valid], item[valid], times[valid]
    if len(user) == 0:
        raise InputError(f"{who}: no purchase with a time to learn or score from", file=data.source or None)
    day = np.floor(times.astype(np.int64) / _DAY_NS)
    order = np.lexsort((day, item, user))
    user, item, day = user[order], item[order], day[order]
    new = np.ones(len(user), dtype=bool)
    new[1:] = (user[1:] != user[:-1]) | (item[1:] != item[:-1]) | (day[1:] != day[:-1])
    return _Days(user[new], item[new], day[new])


def _pair_stats(pairs: _Days, end_day: float) -> _PairStats:
    start = np.ones(len(pairs.user), dtype=bool)
    start[1:] = (pairs.user[1:] != pairs.user[:-1]) | (pairs.item[1:] != pairs.item[:-1])
    first = np.flatnonzero(start)
    last = np.append(first[1:], len(pairs.user)) - 1
    count = (last - first + 1).astype(np.float64)
    user = pairs.user[first]
    total = np.bincount(user, weights=count)
    return _PairStats(
        user=user,
        item=pairs.item[first],
        count=count,
        age=np.maximum(end_day - pairs.day[last], 0.0),
        span=pairs.day[last] - pairs.day[first],
        customer_total=total[user],
    )


def _horizon_days(horizon) -> float:
    from aigc_biz.data.splits import parse_horizon

    return parse_horizon(horizon) / pd.Timedelta(days=1)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
