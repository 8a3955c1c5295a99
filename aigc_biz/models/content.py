"""A content path for new items: item attributes mapped to where similar items sit in a model's item space.

A product with a title, a category and a price but no sales yet has no column in any behavioural
model. :class:`ContentItemMap` learns, over the items a model knows, a ridge map from attribute
features (TF-IDF of title words, one-hot category, log-price bucket) to the model's own item vectors
(``model.item_vectors()``), so a new item lands near the known items it resembles; its nearest known
items and their weights are what the ranking layer mixes a customer's scores from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aigc_biz.errors import ConfigError, InputError, NotFittedError

#: the item attributes the content path reads (canonical names, see ``Interactions.item_features``)
ATTRIBUTES = ("title", "category", "price")
_WEIGHTINGS = ("softmax", "cosine")


class ContentItemMap:
    """Attribute features -> a model's item space (ridge), and each new item's nearest known items.

    Parameters
    ----------
    title_features : int, default 5000
        Largest TF-IDF vocabulary of title words.
    price_bins : int, default 8
        Quantile buckets of ``log(1 + price)`` (one-hot).
    alpha : float, default 1.0
        Ridge regularisation of the attribute -> item-vector map.
    n_components : int, default 64
        The item vectors (rows scaled to unit length) are reduced to this many SVD components first,
        so the map has a small fixed output whatever the model (EASE rows are ``n_items`` long);
        vectors at most this wide are only scaled to unit length.
    n_neighbours : int, default 10
        Known items each new item's score is mixed from.
    weighting : {"softmax", "cosine"}, default "softmax"
        Neighbour weights: ``softmax(cos / temperature)`` or the positive cosines normalised to sum 1.
    temperature : float, default 0.1
        Softmax temperature (smaller: the nearest neighbour dominates).
    random_state : int, default 0
        Seed of the randomized SVD.

    Attributes
    ----------
    features_ : sklearn ColumnTransformer
        Attribute frame -> sparse features, fitted on the described known items.
    attributes_ : list of str
        The attribute columns it was fitted with (a subset of title, category, price).
    reducer_ : sklearn TruncatedSVD or None
        Item vectors -> ``n_components`` (None when the vectors are already that small).
    ridge_ : sklearn Ridge
        Features -> reduced item vectors.
    item_space_ : ndarray of shape (n_items, n_components'), float32
        Known items' reduced behavioural vectors, rows of unit length (zero rows stay zero).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> attrs = pd.DataFrame({"title": ["red mug", "blue mug", "red sock", "blue sock"],
    ...                       "category": ["kitchen", "kitchen", "clothes", "clothes"]})
    >>> vectors = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1]], dtype=np.float32)
    >>> cmap = ContentItemMap(n_neighbours=1).fit(attrs, vectors)
    >>> idx, _ = cmap.neighbours(pd.DataFrame({"title": ["green mug"], "category": ["kitchen"]}))
    >>> int(idx[0, 0]) in (0, 1)
    True
    """

    def __init__(
        self,
        title_features: int = 5000,
        price_bins: int = 8,
        alpha: float = 1.0,
        n_components: int = 64,
        n_neighbours: int = 10,
        weighting: str = "softmax",
        temperature: float = 0.1,
        random_state: int = 0,
    ):
        self.title_features = title_features
        self.price_bins = price_bins
        self.alpha = alpha
        self.n_components = n_components
        self.n_neighbours = n_neighbours
        self.weighting = weighting
        self.temperature = temperature
        self.random_state = random_state

    def get_params(self) -> dict:
        return {
            name: getattr(self, name)
            for name in (
                "title_features",
                "price_bins",
                "alpha",
                "n_components",
                "n_neighbours",
                "weighting",
                "temperature",
                "random_state",
            )
        }

    # --- fitting -------------------------------------------------------------------------------
    def fit(self, attributes: pd.DataFrame, item_vectors: np.ndarray) -> "ContentItemMap":
        """Learn the map from the known items' attributes (row i describes item i) to their vectors.

        Items with no attribute at all are left out of the ridge fit but stay neighbour candidates.
        """
        self._check_params()
        vectors = np.asarray(item_vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(attributes):
            raise ValueError(f"item_vectors {vectors.shape} do not match {len(attributes)} attribute rows")
        self.attributes_ = [c for c in ATTRIBUTES if c in attributes.columns]
        if not self.attributes_:
            raise InputError(
                "new items need item attributes (title, category or price), and the data has none",
                hint="name them with --item-attrs when loading",
            )
        frame = self._clean(attributes)
        described = _described(attributes[self.attributes_])
        if described.sum() < 2:
            raise InputError(
                f"only {int(described.sum())} known item(s) have attributes; the content path "
                f"needs at least 2 to learn from",
                hint="check the title/category/price columns",
            )
        from sklearn.linear_model import Ridge

        self.features_ = self._transformer(frame[described])
        features = self.features_.fit_transform(frame[described])
        self.item_space_, self.reducer_ = self._reduce(vectors)
        self.ridge_ = Ridge(alpha=float(self.alpha)).fit(features, self.item_space_[described])
        return self

    def _check_params(self) -> None:
        if self.weighting not in _WEIGHTINGS:
            raise ConfigError(f"content: weighting={self.weighting!r} is not one of {', '.join(_WEIGHTINGS)}")
        if int(self.n_neighbours) < 1 or int(self.n_components) < 1 or int(self.price_bins) < 1:
            raise ConfigError("content: n_neighbours, n_components and price_bins must be at least 1")
        if not float(self.temperature) > 0 or not float(self.alpha) > 0:
            raise ConfigError("content: temperature and alpha must be positive")

    def _clean(self, attributes: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=pd.RangeIndex(len(attributes)))
        for column in self.attributes_:
            values = attributes[column].reset_index(drop=True) if column in attributes.columns else None
            if column == "price":
                price = (
                    pd.to_numeric(values, errors="coerce") if values is not None else pd.Series(np.nan, index=out.index)
                )
                out[column] = price.clip(lower=0).to_numpy(dtype=float)
            else:
                text = values if values is not None else pd.Series("", index=out.index)
                out[column] = text.astype("string").fillna("").str.lower().to_numpy(dtype=object)
        return out

    def _transformer(self, frame: pd.DataFrame):
        from sklearn.compose import ColumnTransformer
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer, KBinsDiscretizer, OneHotEncoder

        parts = []
        if "title" in self.attributes_ and frame["title"].str.contains(r"\w", regex=True).any():
            parts.append(("title", TfidfVectorizer(max_features=int(self.title_features), sublinear_tf=True), "title"))
        if "category" in self.attributes_:
            parts.append(("category", OneHotEncoder(handle_unknown="ignore"), ["category"]))
        if "price" in self.attributes_ and frame["price"].notna().any():
            # quantile buckets of log price: one step is a similar *ratio* of prices at any price level
            bins = max(1, min(int(self.price_bins), int(frame["price"].nunique())))
            buckets = (
                KBinsDiscretizer(n_bins=bins, encode="onehot", strategy="quantile", quantile_method="linear")
                if bins > 1
                else OneHotEncoder(handle_unknown="ignore")
            )
            parts.append(
                (
                    "price",
                    make_pipeline(SimpleImputer(strategy="median"), FunctionTransformer(np.log1p), buckets),
                    ["price"],
                )
            )
        if not parts:
            raise InputError(
                "the known items' title/category/price columns are all empty",
                hint="check the item attribute columns of the data",
            )
        return ColumnTransformer(parts, sparse_threshold=1.0)

    def _reduce(self, vectors: np.ndarray):
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        width = min(int(self.n_components), len(unit) - 1)
        if unit.shape[1] <= width or width < 1:
            return unit.astype(np.float32), None
        from sklearn.decomposition import TruncatedSVD

        reducer = TruncatedSVD(n_components=width, random_state=int(self.random_state))
        reduced = reducer.fit_transform(unit)
        norms = np.linalg.norm(reduced, axis=1, keepdims=True)
        reduced = np.divide(reduced, norms, out=np.zeros_like(reduced), where=norms > 0)
        return reduced.astype(np.float32), reducer

    # --- new items -----------------------------------------------------------------------------
    def check_fitted(self) -> None:
        if not hasattr(self, "ridge_"):
            raise NotFittedError("ContentItemMap is not fitted yet: call fit(attributes, item_vectors)")

    def transform(self, attributes: pd.DataFrame) -> np.ndarray:
        """Items' attributes -> their predicted place in the (reduced) item space, shape (n, n_components')."""
        self.check_fitted()
        if not any(c in attributes.columns for c in self.attributes_):
            raise InputError(
                f"new items need at least one of the columns {', '.join(self.attributes_)}",
                hint="the columns the data's items are described by",
            )
        features = self.features_.transform(self._clean(attributes))
        return np.asarray(self.ridge_.predict(sp.csr_matrix(features)), dtype=np.float32)

    def neighbours(self, attributes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The ``n_neighbours`` known items nearest each new item (cosine in the learnt space) and their
        weights (rows sum to 1): arrays of shape (n, m), indices into the fitted items."""
        placed = self.transform(attributes)
        norms = np.linalg.norm(placed, axis=1, keepdims=True)
        placed = np.divide(placed, norms, out=np.zeros_like(placed), where=norms > 0)
        sims = placed @ self.item_space_.T
        m = min(int(self.n_neighbours), sims.shape[1])
        idx = np.argpartition(-sims, m - 1, axis=1)[:, :m]
        top = np.take_along_axis(sims, idx, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        idx, top = np.take_along_axis(idx, order, axis=1), np.take_along_axis(top, order, axis=1)
        if self.weighting == "softmax":
            logits = (top - top[:, :1]) / float(self.temperature)
            weights = np.exp(logits)
        else:
            weights = np.clip(top, 0.0, None)
            weights[weights.sum(axis=1) == 0] = 1.0  # no positive cosine: a plain mean of the m nearest
        weights = weights / weights.sum(axis=1, keepdims=True)
        return idx.astype(np.int64), weights.astype(np.float32)


def _described(attributes: pd.DataFrame) -> np.ndarray:
    """True for rows with at least one non-empty attribute."""
    present = np.zeros(len(attributes), dtype=bool)
    for column in attributes.columns:
        values = attributes[column].reset_index(drop=True)
        filled = values.notna().to_numpy().copy()
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            filled &= values.astype("string").fillna("").str.strip().ne("").to_numpy(dtype=bool)
        present |= filled
    return present


def described_items(attributes: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of ``attributes`` that have at least one content attribute filled."""
    columns = [c for c in ATTRIBUTES if c in attributes.columns]
    return _described(attributes[columns]) if columns else np.zeros(len(attributes), dtype=bool)
