"""The behaviour synthesizer: invented customers whose orders come from an engine model's item-item weights.

How one synthetic customer is made (``BehaviourSynthesizer.sample``):

1. **Attributes**, drawn jointly: with probability ``1 - smoothing`` the whole attribute combination of a
   random real customer (segment, region, age band together, never the id or name), otherwise each
   attribute from its own marginal, so rare and unseen combinations appear too.
2. **Activity shape**: a real customer with the same attributes (fewer when none matches) lends the
   number of orders, the basket sizes and the gaps between orders; the start is moved by days and every
   gap stretched by a random factor, and each order day is then redrawn near its place in proportion to
   the real number of orders per calendar day, so weekday, month and peak-day seasonality follow the real
   table. The time of day is drawn from real orders on the same weekday, moved by up to 20 minutes.
3. **Taste**: a latent taste model (latent Dirichlet allocation over the customers' item sets, ``topics``
   tastes, each a distribution over the catalogue) is fitted on the real table. A synthetic customer's
   taste mix is drawn from a Dirichlet whose mean is the average taste mix of real customers with the
   same attributes and whose concentration is fitted to the spread of all real customers' mixes (by the
   moments); no real customer's mix is copied. Their taste distribution is that mix of the tastes.
4. **Items**: the first basket comes from the customer's taste distribution; after that each line is a
   repeat of an item the customer already has (at the real repeat rate), or a new item from a mixture of
   the engine's item-item weights (EASE by default, fitted on the real table) scoring the customer's
   synthetic history so far (the basket being filled included), and the taste distribution. The mixture
   weight (per history length) and the sharpness of the item-item part are fitted by maximum likelihood
   on real customers held out of the item-item fit (against item popularity among customers with the
   same attributes, which is also what replaces the taste distribution when ``topics=0``).
5. **Lines**: quantity, price, title and every other line column come together from one real line of the
   same product, so they stay consistent per product (Online Retail's quantity-dependent prices included).
6. **Returns**: each line is returned with its product's real return rate (shrunk towards the overall
   rate), after a delay drawn from the real purchase-to-return delays, as its own order.

Nothing of a real customer is copied whole: ids and names are new; attributes are a combination that
exists (or a smoothed one), activity shapes are jittered, taste mixes are drawn from a fitted
distribution, items are drawn afresh. See
:mod:`aigc_biz.synth.privacy` for what is measured and what is not guaranteed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.decomposition import LatentDirichletAllocation

from aigc_biz.data.interactions import Interactions
from aigc_biz.errors import ConfigError, InputError, NotFittedError
from aigc_biz.models.ease import EASE
from aigc_biz.models.itemknn import ItemKNN
from aigc_biz.synth.columns import column_kinds, first_per_key
from aigc_biz.synth.formats import OrderNumbers, format_times, mask_like, new_ids, time_format
from aigc_biz.synth.names import NameMaker
from aigc_biz.synth.source import SourceTable

__all__ = ["BehaviourSynthesizer"]

_DAY = np.timedelta64(1, "D")
_SECONDS_PER_DAY = 86_400
#: customers kept out of the item-item fit to fit the mixture weight on, and transitions used
_MIXTURE_HOLDOUT, _MIXTURE_TRANSITIONS = 0.2, 3000
_BETAS = (1.0, 2.0, 3.0, 4.0)
#: the mixture weight is fitted per history length: 1, 2-3, 4-7, 8-15, 16+ distinct items
_BUCKET_EDGES = (1, 2, 4, 8, 16)
#: pseudo-lines that shrink a product's return rate and repeat share (and a segment's popularity) towards
#: the overall one
_SHRINK = 20.0
#: variational passes of the taste model, and the fewest real customers whose mean taste mix an attribute
#: combination gets (fewer: the attributes are relaxed from the last column on)
_TASTE_ITERATIONS, _TASTE_GROUP = 20, 5


class BehaviourSynthesizer:
    """Fit on a real behaviour table, then sample a table of invented customers in its formats.

    Parameters
    ----------
    noise : float in [0, 1], default 0.0
        Stronger protection at some cost in fidelity. Exactly: attribute smoothing + 0.5 × noise; start
        moved by up to ±(7 + 60 × noise) days and every gap stretched by a log-normal factor of sigma
        0.3 + noise; order count multiplied by a log-normal factor of sigma 0.5 × noise; each basket size
        replaced by a random real order's with probability noise; item-item share × (1 − 0.5 × noise).
        0 keeps the fitted model (the jitter of 7 days and sigma 0.3 always applies).
    smoothing : float in [0, 1], default 0.05
        Share of customers whose attributes are drawn one by one from the marginals.
    item_model : {"ease", "itemknn"}, default "ease"
        The engine model whose item-item weights drive the walk: EASE (:class:`~aigc_biz.models.ease.EASE`,
        positive weights; memory n_items²) or itemknn's shrunk cosine (sparse, for very large catalogues).
    k_neighbours : int, default 20
        Strongest source items kept per item.
    l2 : float, default 100.0
        EASE's ridge penalty.
    topics : int, default 24
        Latent tastes of the taste model (latent Dirichlet allocation over customers' item sets); 0 turns
        it off, and new items off the walk come from the attribute popularity instead.
    seed : int, default 0
        Seeds the fit's holdout (sampling takes its own seed).

    Attributes
    ----------
    kinds_ : dict column -> kind (see :mod:`aigc_biz.synth.columns`)
    item_ids_ : array of str (n_items,), the catalogue of purchased items
    similarity_ : csr (n_items, n_items), the item -> item weights of the fitted engine model
    mixture_weight_ : float array (5,), share of new items drawn from the item-item model, by history
        length (1, 2-3, 4-7, 8-15, 16+ distinct items)
    sharpness_ : float, power applied to item-item scores
    item_tastes_ : float array (topics, n_items) or None, each taste's distribution over the catalogue
    customer_tastes_ : float array (n_customers, topics) or None, each real customer's fitted taste mix
    taste_concentration_ : float, the Dirichlet concentration synthetic taste mixes are drawn with
    repeat_rate_ : float, share of a customer's later lines that repeat an item they have
    item_repeat_ : float array (n_items,), share of each item's later lines that are repeats (shrunk); a
        repeat picks among the customer's items in proportion to times bought × this share
    return_rate_ : float, returns per purchase line

    References
    ----------
    Blei, Ng, Jordan. "Latent Dirichlet allocation." JMLR 2003 (the taste model; scikit-learn's
    variational implementation). Minka. "Estimating a Dirichlet distribution." 2000 (the moments).
    """

    def __init__(
        self,
        noise: float = 0.0,
        smoothing: float = 0.05,
        item_model: str = "ease",
        k_neighbours: int = 20,
        l2: float = 100.0,
        topics: int = 24,
        seed: int = 0,
    ):
        self.noise = noise
        self.smoothing = smoothing
        self.item_model = item_model
        self.k_neighbours = k_neighbours
        self.l2 = l2
        self.topics = topics
        self.seed = seed

    # --- fitting ------------------------------------------------------------------------------------
    def fit(self, table: SourceTable) -> "BehaviourSynthesizer":
        noise = float(self.noise)
        if not 0.0 <= noise <= 1.0:
            raise ConfigError(f"synth: noise={self.noise!r} must be between 0 and 1")
        if self.item_model not in ("ease", "itemknn"):
            raise ConfigError(f"synth: item_model={self.item_model!r} is not 'ease' or 'itemknn'")
        if int(self.k_neighbours) < 1:
            raise ConfigError(f"synth: k_neighbours={self.k_neighbours!r} must be at least 1")
        if int(self.topics) < 0:
            raise ConfigError(f"synth: topics={self.topics!r} must be 0 (off) or more")
        if not 0.0 <= float(self.smoothing) <= 1.0:
            raise ConfigError(f"synth: smoothing={self.smoothing!r} must be between 0 and 1")
        bought = ~table.is_return
        if not bought.any():
            raise InputError("the table has no purchase rows to learn from", file=table.source or None)
        self.columns_ = [str(c) for c in table.raw.columns]
        self.kinds_ = column_kinds(table)
        self.roles_ = table.roles
        self.raw_ = table.raw
        self._fit_customers(table.subset(bought))
        self._fit_orders(table.subset(bought))
        self._fit_items(table.subset(bought), np.flatnonzero(bought))
        self._fit_returns(table, bought)
        self._fit_formats(table, bought)
        return self

    def _fit_customers(self, table: SourceTable) -> None:
        """Customers with at least one purchase (``table`` holds their purchase rows)."""
        self.user_ids_ = np.unique(table.user)
        self.attr_columns_ = [c for c, kind in self.kinds_.items() if kind == "customer"]
        self.key_columns_ = [c for c, kind in self.kinds_.items() if kind == "customer_key"]
        attrs = pd.DataFrame(index=pd.Index(self.user_ids_))
        for column in self.attr_columns_:
            attrs[column] = first_per_key(table.user, table.raw[column]).reindex(self.user_ids_).to_numpy()
        self.customer_attrs_ = attrs.reset_index(drop=True)
        # the attributes as text, and the customers found per attribute prefix (filled while sampling)
        self._attr_text = self.customer_attrs_.astype(str)
        self._groups: dict[tuple, np.ndarray] = {}
        self.key_values_ = {c: table.raw[c].dropna().astype(str).unique() for c in self.key_columns_}
        name_col = self.roles_.user_name
        self.names_ = NameMaker(table.raw[name_col].dropna().unique() if name_col else [])

    def _fit_orders(self, bought: SourceTable) -> None:
        """Orders (baskets) of each real customer: times, sizes; the lines' raw rows."""
        order_col = next((c for c, kind in self.kinds_.items() if kind == "order"), None)
        user_pos = np.searchsorted(self.user_ids_, bought.user)
        if order_col is not None:
            key = pd.Series(bought.raw[order_col].astype(str).to_numpy())
        elif bought.time is not None:
            key = pd.Series(bought.time.astype("int64")).astype(str)
        else:
            key = pd.Series(np.arange(len(bought))).astype(str)
        order_codes = pd.factorize(pd.Series(user_pos).astype(str) + "\x1f" + key)[0]
        frame = pd.DataFrame({"order": order_codes, "user": user_pos})
        if bought.time is not None:
            frame["time"] = bought.time
        else:
            frame["time"] = np.arange(len(bought)).astype("datetime64[s]").astype("datetime64[ns]")
        orders = frame.groupby("order").agg(user=("user", "first"), time=("time", "min"), size=("user", "size"))
        orders = orders.sort_values(["user", "time"], kind="stable")
        self.has_time_ = bought.time is not None
        self.order_user_ = orders["user"].to_numpy(np.int64)
        self.order_time_ = orders["time"].to_numpy("datetime64[ns]")
        self.order_size_ = orders["size"].to_numpy(np.int64)
        self.order_ptr_ = np.searchsorted(self.order_user_, np.arange(len(self.user_ids_) + 1))
        if self.has_time_:
            days = self.order_time_.astype("datetime64[D]")
            self.first_day_, self.last_day_ = days.min(), days.max()
            self.time_span_ = (self.order_time_.min(), self.order_time_.max())
            span = int((self.last_day_ - self.first_day_) / _DAY) + 1
            per_day = np.bincount(((days - self.first_day_) / _DAY).astype(np.int64), minlength=span)
            self.day_weights_ = per_day.astype(np.float64) + 0.5
            seconds = ((self.order_time_ - days) / np.timedelta64(1, "s")).astype(np.int64)
            weekday = ((days.astype(np.int64) + 3) % 7).astype(np.int64)  # 1970-01-01 was a Thursday
            self.time_of_day_ = [seconds[weekday == d] if (weekday == d).any() else seconds for d in range(7)]
        self.order_col_ = order_col
        self.purchase_order_ids_ = (
            bought.raw[order_col].dropna().astype(str).unique() if order_col is not None else np.array([])
        )

    def _fit_items(self, bought: SourceTable, rows: np.ndarray) -> None:
        data = Interactions.from_frame(pd.DataFrame({"u": bought.user, "i": bought.item}), "u", "i")
        self.item_ids_ = data.item_ids
        item_pos = data.item_index(bought.item)
        self.lines_by_item_ = _rows_by_key(item_pos, len(self.item_ids_), rows=rows)
        counts = np.bincount(item_pos, minlength=len(self.item_ids_)).astype(np.float64)
        self.popularity_ = counts / counts.sum()
        user_pos = np.searchsorted(self.user_ids_, bought.user)
        self.popularity_by_attr_ = {}
        for column in self.attr_columns_:
            values = self.customer_attrs_[column].astype(str).to_numpy()[user_pos]
            table = {}
            for value in np.unique(values):
                c = np.bincount(item_pos[values == value], minlength=len(self.item_ids_)).astype(np.float64)
                table[value] = (c + _SHRINK * self.popularity_) / (c.sum() + _SHRINK)
            self.popularity_by_attr_[column] = table
        self.similarity_ = self._item_model(data.matrix)
        self.repeat_rate_, self.item_repeat_ = _repeat_rate(user_pos, item_pos, bought.time, len(self.item_ids_))
        self.mixture_weight_, self.sharpness_ = self._fit_mixture(data, user_pos, item_pos, bought.time)
        self._fit_taste(data)

    def _fit_taste(self, data: Interactions) -> None:
        """Latent tastes over the customers' item sets (each distinct item once), and how spread the real
        customers' taste mixes are (the Dirichlet concentration of the moments, median over tastes)."""
        self.item_tastes_ = self.customer_tastes_ = None
        self.taste_concentration_ = 0.0
        k = int(self.topics)
        if k == 0 or data.matrix.shape[0] < 2 or len(self.item_ids_) < 2:
            return
        matrix = sp.csr_matrix(data.matrix, dtype=np.float64, copy=True)
        matrix.data[:] = 1.0
        lda = LatentDirichletAllocation(
            n_components=k, learning_method="batch", max_iter=_TASTE_ITERATIONS, random_state=int(self.seed)
        )
        mixes = lda.fit_transform(matrix)
        tastes = np.asarray(lda.components_, dtype=np.float64)
        self.item_tastes_ = tastes / tastes.sum(axis=1, keepdims=True)
        rows = np.searchsorted(self.user_ids_, data.user_ids)
        self.customer_tastes_ = np.full((len(self.user_ids_), k), 1.0 / k)
        self.customer_tastes_[rows] = mixes / mixes.sum(axis=1, keepdims=True)
        mean, var = self.customer_tastes_.mean(axis=0), self.customer_tastes_.var(axis=0)
        ok = var > 1e-12
        self.taste_concentration_ = (
            float(np.clip(np.median(mean[ok] * (1 - mean[ok]) / var[ok] - 1.0), 0.05, 1e4)) if ok.any() else 1e4
        )

    def _item_model(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """Item -> item weights the walk adds up: EASE's positive weights (or itemknn's cosine), the
        ``k_neighbours`` strongest sources kept per target item."""
        users = np.arange(matrix.shape[0]).astype(str)
        data = Interactions(matrix=matrix, user_ids=users, item_ids=self.item_ids_)
        k = int(self.k_neighbours)
        if self.item_model == "itemknn":
            return ItemKNN(k_neighbours=k).fit(data).similarity_
        weights = np.maximum(EASE(l2=float(self.l2)).fit(data).item_weights_, 0.0)
        k = min(k, max(weights.shape[0] - 1, 1))
        top = np.argpartition(-weights, k - 1, axis=0)[:k]
        cols = np.broadcast_to(np.arange(weights.shape[1]), top.shape)
        kept = sp.csr_matrix((weights[top, cols].ravel(), (top.ravel(), cols.ravel())), shape=weights.shape)
        kept.eliminate_zeros()
        return kept

    def _fit_mixture(self, data: Interactions, user_pos, item_pos, times) -> tuple[float, float]:
        """Maximum-likelihood mixture weight and sharpness on next new items of held-out customers."""
        rng = np.random.default_rng(self.seed)
        n_users = len(self.user_ids_)
        held = rng.random(n_users) < _MIXTURE_HOLDOUT
        if held.sum() < 5 or (~held).sum() < 5:
            return np.full(len(_BUCKET_EDGES), 0.8), 1.0
        train = sp.csr_matrix(data.matrix.multiply(~held[:, None]))
        train.eliminate_zeros()
        similarity = self._item_model(train)
        order = np.lexsort(((times.astype("int64") if times is not None else np.arange(len(user_pos))), user_pos))
        histories, targets, owners = [], [], []
        seen: dict[int, set] = {}
        for row in order:
            u = int(user_pos[row])
            if not held[u]:
                continue
            have = seen.setdefault(u, set())
            i = int(item_pos[row])
            if have and i not in have:
                histories.append(sorted(have))
                targets.append(i)
                owners.append(u)
            have.add(i)
        if len(targets) < 20:
            return np.full(len(_BUCKET_EDGES), 0.8), 1.0
        pick = rng.permutation(len(targets))[:_MIXTURE_TRANSITIONS]
        indptr = np.cumsum([0] + [len(histories[p]) for p in pick])
        indices = np.concatenate([histories[p] for p in pick])
        history = sp.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(pick), len(self.item_ids_))
        )
        target = np.asarray(targets)[pick]
        owner = np.asarray(owners)[pick]
        scores = np.asarray((history @ similarity).todense())
        mask = history.toarray() > 0
        attr_pop = np.stack([self._attribute_popularity(self.customer_attrs_.iloc[u]) for u in owner])
        attr_pop[mask] = 0.0
        b = attr_pop[np.arange(len(pick)), target] / np.maximum(attr_pop.sum(axis=1), 1e-12)
        bucket = _history_bucket(np.diff(indptr))
        best = (-np.inf, np.full(len(_BUCKET_EDGES), 0.8), 1.0)
        for beta in _BETAS:
            w = np.power(np.maximum(scores, 0.0), beta)
            w[mask] = 0.0
            total = w.sum(axis=1)
            a = np.where(total > 0, w[np.arange(len(pick)), target] / np.maximum(total, 1e-12), 0.0)
            lams = np.array([_mixture_weight(a[bucket == g], b[bucket == g]) for g in range(len(_BUCKET_EDGES))])
            lam = lams[bucket]
            loglik = float(np.sum(np.log(np.maximum(lam * a + (1 - lam) * b, 1e-300))))
            if loglik > best[0]:
                best = (loglik, lams, beta)
        return best[1], float(best[2])

    def _fit_returns(self, table: SourceTable, bought: np.ndarray) -> None:
        returned = ~bought
        item_pos = np.searchsorted(self.item_ids_, table.item)
        known = (item_pos < len(self.item_ids_)) & (
            self.item_ids_[np.minimum(item_pos, len(self.item_ids_) - 1)] == table.item
        )
        self.return_rows_by_item_ = _rows_by_key(
            np.where(returned & known, item_pos, -1), len(self.item_ids_), rows=np.arange(len(table))
        )
        n_purchases = max(int(bought.sum()), 1)
        self.return_rate_ = float(returned.sum()) / n_purchases
        per_item_returns = np.bincount(item_pos[returned & known], minlength=len(self.item_ids_)).astype(np.float64)
        per_item_lines = np.bincount(item_pos[bought], minlength=len(self.item_ids_)).astype(np.float64)
        self.item_return_rate_ = np.clip(
            (per_item_returns + _SHRINK * self.return_rate_) / (per_item_lines + _SHRINK), 0.0, 1.0
        )
        self.return_delays_ = _return_delays(table, bought)

    def _fit_formats(self, table: SourceTable, bought: np.ndarray) -> None:
        roles = self.roles_
        self.time_format_ = time_format(table.raw[roles.time], table.time) if roles.time else None
        self.return_order_ids_ = (
            table.raw.loc[~bought, self.order_col_].dropna().astype(str).unique() if self.order_col_ else np.array([])
        )

    # --- sampling -----------------------------------------------------------------------------------
    def sample(self, n_customers: int | None = None, seed: int = 0, sparse: bool = False) -> pd.DataFrame:
        """A table of ``n_customers`` invented customers (default: as many as the real table has),
        with the input's columns in the input's order, every cell as text in the input's format.

        ``sparse``: draw attribute combinations in inverse proportion to how many real customers share
        them, so small segments get as many synthetic customers as large ones (augmentation).
        """
        if not hasattr(self, "similarity_"):
            raise NotFittedError("BehaviourSynthesizer.sample called before fit")
        n = len(self.user_ids_) if n_customers is None else int(n_customers)
        if n < 1:
            raise ConfigError(f"synth: customers={n_customers!r} must be at least 1")
        rng = np.random.default_rng(seed)
        noise = float(self.noise)
        attrs = self._draw_attributes(n, rng, min(1.0, float(self.smoothing) + 0.5 * noise), sparse)
        templates = self._templates(attrs, rng)
        lines = []  # (customer, order, time, item, is_return)
        for c in range(n):
            lines += self._customer_lines(c, attrs.iloc[c], int(templates[c]), rng, noise)
        return self._assemble(attrs, lines, rng)

    def _draw_attributes(self, n: int, rng: np.random.Generator, smoothing: float, sparse: bool) -> pd.DataFrame:
        real = self.customer_attrs_
        weights = None
        if sparse and len(real.columns):
            size = real.astype(str).groupby(list(real.columns))[real.columns[0]].transform("size")
            weights = 1.0 / size.to_numpy(np.float64)
            weights /= weights.sum()
        out = real.iloc[rng.choice(len(real), size=n, p=weights)].reset_index(drop=True)
        if len(real.columns):
            loose = rng.random(n) < smoothing
            for column in real.columns:
                out.loc[loose, column] = real[column].to_numpy()[rng.integers(len(real), size=int(loose.sum()))]
        return out

    def _templates(self, attrs: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """For each synthetic customer, a real customer with the same attributes (relaxed from the last
        column on when no one matches) who lends the activity shape."""
        keys = [tuple(row) for row in attrs.astype(str).itertuples(index=False)]
        chosen = np.empty(len(keys), dtype=np.int64)
        for c, key in enumerate(keys):
            group = self._relaxed_group(key)
            chosen[c] = group[int(rng.integers(len(group)))]
        return chosen

    def _relaxed_group(self, key: tuple, at_least: int = 1) -> np.ndarray:
        """Rows of the real customers whose attributes equal ``key`` on its longest prefix that at least
        ``at_least`` of them share: the attributes are relaxed from the last column on, down to every
        customer."""
        for width in range(len(key), 0, -1):
            part = key[:width]
            if part not in self._groups:
                match = np.ones(len(self._attr_text), dtype=bool)
                for column, value in zip(self.attr_columns_, part):
                    match &= self._attr_text[column].to_numpy() == value
                self._groups[part] = np.flatnonzero(match)
            if len(self._groups[part]) >= at_least:
                return self._groups[part]
        return np.arange(len(self._attr_text))

    def _taste(self, attrs: pd.Series, rng: np.random.Generator) -> np.ndarray:
        """A new customer's distribution over the catalogue: a taste mix drawn around the mean mix of real
        customers with these attributes (see the module docstring), or the attribute popularity."""
        if self.item_tastes_ is None:
            return self._attribute_popularity(attrs)
        key = tuple(str(attrs[c]) for c in self.attr_columns_)
        mean = self.customer_tastes_[self._relaxed_group(key, _TASTE_GROUP)].mean(axis=0)
        mix = rng.dirichlet(np.maximum(self.taste_concentration_ * mean, 1e-3))
        return mix @ self.item_tastes_

    def _attribute_popularity(self, attrs: pd.Series) -> np.ndarray:
        if not self.attr_columns_:
            return self.popularity_
        tables = [self.popularity_by_attr_[c].get(str(attrs[c])) for c in self.attr_columns_]
        tables = [t for t in tables if t is not None] or [self.popularity_]
        return np.mean(tables, axis=0)

    def _order_times(self, template: int, rng: np.random.Generator, noise: float) -> np.ndarray:
        start, stop = self.order_ptr_[template], self.order_ptr_[template + 1]
        times = self.order_time_[start:stop]
        n_orders = len(times)
        if noise > 0:
            n_orders = max(1, int(round(n_orders * rng.lognormal(0.0, 0.5 * noise))))
        if not self.has_time_:
            return np.arange(n_orders).astype("datetime64[s]").astype("datetime64[ns]")
        day0 = (times.astype("datetime64[D]") - self.first_day_) / _DAY
        gaps = np.diff(day0.astype(np.float64))
        if n_orders - 1 > len(gaps):
            pool = gaps if len(gaps) else np.array([30.0])
            gaps = np.concatenate([gaps, rng.choice(pool, size=n_orders - 1 - len(gaps))])
        gaps = rng.permutation(gaps[: n_orders - 1]) * rng.lognormal(0.0, 0.3 + noise, size=n_orders - 1)
        span = len(self.day_weights_)
        start_day = float(day0[0]) + rng.uniform(-1, 1) * (7 + 60 * noise)
        days = np.clip(start_day, 0, span - 1) + np.concatenate([[0.0], np.cumsum(gaps)])
        days = days[days < span]
        snapped = np.empty(len(days), dtype=np.int64)
        for k, day in enumerate(days):
            low, high = max(0, int(day) - 3), min(span, int(day) + 4)
            weights = self.day_weights_[low:high]
            snapped[k] = low + int(rng.choice(len(weights), p=weights / weights.sum()))
        snapped.sort()
        dates = self.first_day_ + snapped.astype("timedelta64[D]")
        weekday = (dates.astype(np.int64) + 3) % 7
        seconds = np.array([self.time_of_day_[d][int(rng.integers(len(self.time_of_day_[d])))] for d in weekday])
        seconds = (seconds + rng.integers(-20, 21, size=len(seconds)) * 60) % _SECONDS_PER_DAY
        stamps = (dates.astype("datetime64[ns]") + seconds.astype("timedelta64[s]")).astype("datetime64[ns]")
        # the moved time of day must not leave the real span (an order at 00:25 before a first one at 00:47)
        return np.clip(stamps, *self.time_span_)

    def _basket_sizes(self, template: int, n_orders: int, rng: np.random.Generator, noise: float) -> np.ndarray:
        own = self.order_size_[self.order_ptr_[template] : self.order_ptr_[template + 1]]
        sizes = own[np.arange(n_orders) % len(own)]
        if noise > 0:
            swap = rng.random(n_orders) < noise
            sizes = np.where(swap, self.order_size_[rng.integers(len(self.order_size_), size=n_orders)], sizes)
        return sizes

    def _customer_lines(self, c: int, attrs: pd.Series, template: int, rng, noise: float) -> list[tuple]:
        times = self._order_times(template, rng, noise)
        sizes = self._basket_sizes(template, len(times), rng, noise)
        n_items = len(self.item_ids_)
        pop = self._taste(attrs, rng)
        pop_cdf = np.cumsum(pop)
        score = np.zeros(n_items, dtype=np.float64)
        counts = np.zeros(n_items, dtype=np.int64)
        have: list[int] = []
        lams = np.asarray(self.mixture_weight_) * (1.0 - 0.5 * noise)
        sim = self.similarity_
        lines = []
        for order, (when, size) in enumerate(zip(times, sizes)):
            basket: set[int] = set()
            for _ in range(int(size)):
                lam = lams[min(np.searchsorted(_BUCKET_EDGES, len(have), side="right") - 1, len(lams) - 1)]
                item = self._next_item(have, counts, score, pop_cdf, basket, lam, rng)
                if item < 0:
                    break
                basket.add(item)
                lines.append((c, order, when, item))
                # the basket so far counts at once: items bought together are related to each other
                if counts[item] == 0:
                    have.append(item)
                    start, stop = sim.indptr[item], sim.indptr[item + 1]
                    score[sim.indices[start:stop]] += sim.data[start:stop]
                counts[item] += 1
        return lines

    def _next_item(self, have, counts, score, pop_cdf, basket, lam, rng) -> int:
        if have and rng.random() < self.repeat_rate_:
            options = [i for i in have if i not in basket]
            if options:
                # consumables come back more often than durables: weight by each item's real repeat share
                weights = counts[options] * self.item_repeat_[options]
                return int(options[int(rng.choice(len(options), p=weights / weights.sum()))])
        if have and rng.random() < lam:
            w = np.power(score, self.sharpness_)
            w[counts > 0] = 0.0
            if basket:
                w[list(basket)] = 0.0
            total = w.sum()
            if total > 0:
                return int(np.searchsorted(np.cumsum(w), rng.random() * total, side="right"))
        for _ in range(50):
            item = int(np.searchsorted(pop_cdf, rng.random() * pop_cdf[-1], side="right"))
            item = min(item, len(pop_cdf) - 1)
            if counts[item] == 0 and item not in basket:
                return item
        free = np.flatnonzero(counts == 0)
        free = free[~np.isin(free, list(basket))]
        return int(free[int(rng.integers(len(free)))]) if len(free) else -1

    # --- assembling the table -----------------------------------------------------------------------
    def _assemble(self, attrs: pd.DataFrame, lines: list[tuple], rng: np.random.Generator) -> pd.DataFrame:
        if not lines:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in self.columns_})
        customer = np.array([line[0] for line in lines], dtype=np.int64)
        order = np.array([line[1] for line in lines], dtype=np.int64)
        when = np.array([line[2] for line in lines], dtype="datetime64[ns]")
        item = np.array([line[3] for line in lines], dtype=np.int64)
        source_rows = np.array([self._line_row(self.lines_by_item_, i, rng) for i in item], dtype=np.int64)
        negate = np.zeros(len(item), dtype=bool)
        is_return = np.zeros(len(item), dtype=bool)
        # returns: each line with its product's return rate, after a real purchase-to-return delay
        back = rng.random(len(item)) < self.item_return_rate_[item]
        if back.any() and self.roles_.weight is not None and self.return_rate_ > 0:
            delays = self.return_delays_[rng.integers(len(self.return_delays_), size=int(back.sum()))]
            r_time = when[back] + delays
            keep = r_time <= self.time_span_[1] if self.has_time_ else np.ones(len(r_time), dtype=bool)
            r_item = item[back][keep]
            r_rows, r_negate = [], []
            for i, purchase_row in zip(r_item, source_rows[back][keep]):
                own = self.return_rows_by_item_[i]
                r_rows.append(own[int(rng.integers(len(own)))] if len(own) else purchase_row)
                r_negate.append(not len(own))
            customer = np.concatenate([customer, customer[back][keep]])
            order = np.concatenate([order, -1 - np.arange(int(keep.sum()))])  # each return is its own order
            when = np.concatenate([when, r_time[keep]])
            item = np.concatenate([item, r_item])
            source_rows = np.concatenate([source_rows, np.asarray(r_rows, dtype=np.int64)])
            negate = np.concatenate([negate, np.asarray(r_negate, dtype=bool)])
            is_return = np.concatenate([is_return, np.ones(int(keep.sum()), dtype=bool)])
        sort = np.lexsort((item, when)) if self.has_time_ else np.lexsort((order, customer))
        customer, order, when, item = customer[sort], order[sort], when[sort], item[sort]
        source_rows, negate, is_return = source_rows[sort], negate[sort], is_return[sort]

        n = len(attrs)
        ids = np.asarray(new_ids(self.user_ids_, n, rng), dtype=object)
        out = {}
        for column in self.columns_:
            kind = self.kinds_[column]
            if kind == "user":
                out[column] = ids[customer]
            elif kind == "name":
                out[column] = np.asarray(self.names_.draw(n, rng), dtype=object)[customer]
            elif kind == "customer":
                out[column] = attrs[column].to_numpy(dtype=object)[customer]
            elif kind == "customer_key":
                real = list(self.key_values_[column])
                values = np.asarray(
                    [mask_like(real[int(rng.integers(len(real)))], rng) for _ in range(n)], dtype=object
                )
                out[column] = values[customer]
            elif kind == "time":
                out[column] = format_times(when, self.time_format_)
            elif kind == "item":
                out[column] = self.item_ids_[item]
            elif kind == "order":
                out[column] = self._order_ids(customer, order, is_return, rng)
            else:
                values = self.raw_[column].to_numpy(dtype=object)[source_rows].copy()
                if column == self.roles_.weight and negate.any():
                    values[negate] = [_negated(v) for v in values[negate]]
                out[column] = values
        return pd.DataFrame(out, columns=self.columns_)

    def _order_ids(self, customer, order, is_return, rng) -> np.ndarray:
        numbers = OrderNumbers(self.purchase_order_ids_, self.return_order_ids_, rng)
        out = np.empty(len(customer), dtype=object)
        given: dict[tuple, str] = {}
        for k, key in enumerate(zip(customer.tolist(), order.tolist())):
            if key not in given:
                given[key] = numbers.take(bool(is_return[k]))
            out[k] = given[key]
        return out

    @staticmethod
    def _line_row(rows_by_item: list[np.ndarray], item: int, rng: np.random.Generator) -> int:
        own = rows_by_item[item]
        return int(own[int(rng.integers(len(own)))])


def _history_bucket(lengths: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(_BUCKET_EDGES, lengths, side="right") - 1, 0, len(_BUCKET_EDGES) - 1)


def _mixture_weight(a: np.ndarray, b: np.ndarray) -> float:
    """EM for the weight of component ``a`` in ``lam * a + (1 - lam) * b`` (likelihoods per event)."""
    if len(a) < 10:
        return 0.8 if len(a) == 0 else float(np.mean(a > b))
    lam = 0.5
    for _ in range(100):
        mix = lam * a + (1 - lam) * b
        lam = float(np.mean(np.where(mix > 0, lam * a / np.maximum(mix, 1e-300), 0.0)))
    return lam


def _rows_by_key(keys: np.ndarray, n_keys: int, rows: np.ndarray | None = None) -> list[np.ndarray]:
    """For each key 0..n_keys-1 the ``rows`` (default: positions) where ``keys`` holds it (-1: none)."""
    rows = np.arange(len(keys)) if rows is None else rows
    keep = keys >= 0
    order = np.argsort(keys[keep], kind="stable")
    sorted_rows = rows[keep][order]
    bounds = np.searchsorted(keys[keep][order], np.arange(n_keys + 1))
    return [sorted_rows[bounds[k] : bounds[k + 1]] for k in range(n_keys)]


def _repeat_rate(user_pos, item_pos, times, n_items: int) -> tuple[float, np.ndarray]:
    """Share of lines, after a customer's first line, whose item the customer already had; and per item,
    the share of its lines that are such repeats (shrunk towards the overall share)."""
    order = np.lexsort(((times.astype("int64") if times is not None else np.arange(len(user_pos))), user_pos))
    frame = pd.DataFrame({"u": user_pos[order], "i": item_pos[order]})
    first_of_user = ~frame["u"].duplicated()
    repeat = frame.duplicated(["u", "i"]).to_numpy()
    later = ~first_of_user.to_numpy()
    overall = float(repeat[later].mean()) if later.any() else 0.0
    items = frame["i"].to_numpy()[later]
    repeats = np.bincount(items[repeat[later]], minlength=n_items)
    lines = np.bincount(items, minlength=n_items)
    return overall, (repeats + _SHRINK * overall) / (lines + _SHRINK)


def _return_delays(table: SourceTable, bought: np.ndarray) -> np.ndarray:
    """Time from the latest earlier purchase of the same item by the same customer to each return."""
    default = np.array([np.timedelta64(d, "D") for d in range(2, 21)], dtype="timedelta64[ns]")
    if table.time is None or bought.all():
        return default
    purchases = pd.DataFrame({"u": table.user[bought], "i": table.item[bought], "t": table.time[bought]})
    returns = pd.DataFrame({"u": table.user[~bought], "i": table.item[~bought], "t": table.time[~bought]})
    purchases["bought_at"] = purchases["t"]
    matched = pd.merge_asof(
        returns.sort_values("t"), purchases.sort_values("t"), on="t", by=["u", "i"], direction="backward"
    ).dropna(subset=["bought_at"])
    delays = (matched["t"] - matched["bought_at"]).to_numpy("timedelta64[ns]")
    delays = delays[delays >= np.timedelta64(0, "ns")]
    return delays if len(delays) else default


def _negated(value) -> str:
    text = str(value).strip()
    return text[1:] if text.startswith("-") else "-" + text
