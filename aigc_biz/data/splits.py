"""Train/test splits of :class:`Interactions`, deterministic under a seed.

Every split returns a :class:`Split`. Evaluation scores each user row whose ``test_target`` has entries,
using that row of ``test_input`` as the user's history and never recommending an item of ``test_input``.
The (user, item) pairs of ``train`` and ``test_target`` never overlap; together with the held-out users'
``test_input`` (only :func:`split_users` has those) they are exactly the pairs of the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aigc_biz.data.interactions import Interactions, aggregate_events
from aigc_biz.errors import ConfigError, InputError

__all__ = [
    "Split",
    "split_random",
    "split_temporal",
    "split_users",
    "split_leave_last_out",
    "split_horizon",
    "parse_horizon",
    "validation_split",
    "holdout_items",
]


@dataclass
class Split:
    """One evaluation protocol applied to one data set.

    Attributes
    ----------
    train : Interactions
        What models are fitted on (same users and items as the source, held-out entries removed).
    test_input : csr_matrix of shape (n_users, n_items)
        Each evaluated user's history: scored from, and excluded from recommendations.
    test_target : csr_matrix of shape (n_users, n_items)
        The held-out pairs a good model ranks high; rows without entries are not evaluated.
    name : str
        The protocol and its parameters, e.g. ``random(test_fraction=0.2, seed=0)``.
    test_events : DataFrame or None
        The event log behind ``test_input`` (time order, for models that weight history by recency or
        read sequences); None when the source had none.
    repeats : bool
        True when targets may be items already in ``test_input`` (next-period purchases with repeats):
        evaluation then scores them with seen items allowed.
    """

    train: Interactions
    test_input: sp.csr_matrix
    test_target: sp.csr_matrix
    name: str
    test_events: pd.DataFrame | None = None
    repeats: bool = False

    def test_data(self) -> Interactions:
        """What evaluation scores from: the test input with the training data's ids, attributes and events."""
        return self.train.with_matrix(self.test_input, events=self.test_events)

    @property
    def test_users(self) -> np.ndarray:
        """Indices of the users that are evaluated (those with a held-out target)."""
        return np.flatnonzero(np.diff(self.test_target.indptr) > 0)


def split_random(data: Interactions, test_fraction: float = 0.2, seed: int = 0, min_interactions: int = 2) -> Split:
    """Hold out a random ``test_fraction`` of each user's items (at least one, never all).

    Users with fewer than ``min_interactions`` items keep everything in train.

    Examples
    --------
    >>> import scipy.sparse as sp, numpy as np
    >>> data = Interactions(sp.csr_matrix(np.ones((3, 5))), ["a", "b", "c"], list("vwxyz"))
    >>> split = split_random(data, test_fraction=0.4, seed=1)
    >>> split.train.nnz, split.test_target.nnz
    (9, 6)
    """
    _check_fraction("test_fraction", test_fraction)
    if min_interactions < 2:
        raise ConfigError(
            f"min_interactions must be at least 2 (one to learn from, one to test), got {min_interactions}"
        )
    matrix = _canonical(data.matrix)
    test = _per_user_holdout(matrix, test_fraction, seed, min_interactions)
    train = _entries(matrix, ~test)
    view = _train_view(data, train)
    return Split(
        train=view,
        test_input=train,
        test_target=_entries(matrix, test),
        name=f"random(test_fraction={test_fraction}, seed={seed})",
        test_events=view.events,
    )


def validation_split(data: Interactions, fraction: float = 0.1, seed: int = 0) -> Split:
    """A validation slice carved from training data only (for early stopping and tuning).

    Pass a split's ``train``; each user with two or more items lends ``fraction`` of them to the target.
    """
    _check_fraction("fraction", fraction)
    matrix = _canonical(data.matrix)
    test, _ = holdout_items(matrix, fraction, seed, min_items=2)
    train = _entries(matrix, ~test)
    view = _train_view(data, train)
    return Split(
        train=view,
        test_input=train,
        test_target=_entries(matrix, test),
        name=f"validation(fraction={fraction}, seed={seed})",
        test_events=view.events,
    )


def split_temporal(
    data: Interactions, last_n: int | None = 1, cutoff: str | datetime | pd.Timestamp | None = None, seed: int = 0
) -> Split:
    """Hold out the future: each user's ``last_n`` most recent items, or everything first seen at ``cutoff`` or later.

    Parameters
    ----------
    last_n : int or None, default 1
        Per user, the ``last_n`` items with the latest interaction go to the target; users with at most
        ``last_n`` items keep all in train.
    cutoff : str or datetime, optional
        When given it takes precedence over ``last_n``: a pair whose events are all at or after ``cutoff``
        is a target; other pairs are trained on their events before ``cutoff`` only.
    seed : int
        Accepted so every split takes the same arguments; a temporal split has no randomness.
    """
    if data.events is None or "time" not in data.events.columns:
        raise InputError(
            "a temporal split needs a time column",
            file=data.source or None,
            hint="pass --time-col when loading, or use a random split",
        )
    events = data.events
    times = events["time"].to_numpy(dtype="datetime64[ns]")
    n_items = data.n_items
    pair = events["user_idx"].to_numpy(np.int64) * n_items + events["item_idx"].to_numpy(np.int64)
    kind = data.roles.weight_kind if data.roles is not None else None
    if cutoff is not None:
        try:
            moment = pd.Timestamp(cutoff)
        except (ValueError, TypeError):
            raise ConfigError(f"cutoff={cutoff!r} is not a date/time") from None
        if moment.tzinfo is not None:
            moment = moment.tz_convert("UTC").tz_localize(None)
        before = times < moment.to_datetime64()
        trained_pairs = np.unique(pair[before])
        target_events = ~np.isin(pair, trained_pairs)
        if not before.any() or not target_events.any():
            first, last = pd.Timestamp(times.min()), pd.Timestamp(times.max())
            raise InputError(
                f"cutoff {moment} leaves nothing to {'train on' if not before.any() else 'test'}; "
                f"the data runs from {first} to {last}",
                file=data.source or None,
            )
        train_events = before
        name = f"temporal(cutoff={moment.isoformat()})"
    else:
        if last_n is None or int(last_n) < 1:
            raise ConfigError(f"last_n must be at least 1 when no cutoff is given, got {last_n!r}")
        last_n = int(last_n)
        # each pair's latest time; per user the last_n latest pairs (item index breaks ties) are targets
        frame = pd.DataFrame({"pair": pair, "time": times}).groupby("pair", sort=True)["time"].max()
        pairs = frame.index.to_numpy()
        users = pairs // n_items
        order = np.lexsort((pairs % n_items, frame.to_numpy(), users))
        users_sorted = users[order]
        counts = np.bincount(users_sorted, minlength=data.n_users)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank_from_end = counts[users_sorted] - (np.arange(len(order)) - starts[users_sorted])
        is_target = (rank_from_end <= last_n) & (counts[users_sorted] > last_n)
        target_pairs = pairs[order][is_target]
        target_events = np.isin(pair, target_pairs)
        train_events = ~target_events
        name = f"temporal(last_n={last_n})"
    shape = (data.n_users, data.n_items)
    train_frame = events[train_events].reset_index(drop=True)
    train = aggregate_events(train_frame, kind, shape)
    target = aggregate_events(events[target_events], kind, shape)
    return Split(
        train=data.with_matrix(train, events=train_frame),
        test_input=train,
        test_target=target,
        name=name,
        test_events=train_frame,
    )


def split_leave_last_out(data: Interactions, seed: int = 0) -> Split:
    """Each customer's last event is the test target; everything before it is the input (SASRec protocol).

    Order is the event log's (:attr:`Interactions.event_order`): by time with ties in file order, or by
    file order when there is no time column. Customers with a single event keep it in train and are not
    evaluated. HR@K over these lists is Recall@K with one target.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"user": ["a", "a", "a", "b"], "item": ["x", "y", "z", "x"]})
    >>> split = split_leave_last_out(Interactions.from_frame(df, "user", "item"))
    >>> split.test_target.toarray().tolist(), split.train.nnz
    ([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]], 3)
    """
    ordered = data.ordered_events()
    users = ordered["user_idx"].to_numpy(np.int64)
    counts = np.bincount(users, minlength=data.n_users)
    last = np.zeros(len(users), dtype=bool)
    if len(users):
        is_end = np.r_[users[1:] != users[:-1], True]
        last = is_end & (counts[users] > 1)
    kind = data.roles.weight_kind if data.roles is not None else None
    shape = (data.n_users, data.n_items)
    train_events = ordered[~last].sort_index().reset_index(drop=True)
    train = aggregate_events(train_events, kind, shape)
    target_events = ordered[last]
    target = sp.csr_matrix(
        (
            np.ones(len(target_events), dtype=np.float32),
            (target_events["user_idx"].to_numpy(), target_events["item_idx"].to_numpy()),
        ),
        shape=shape,
    )
    return Split(
        train=data.with_matrix(train, events=train_events),
        test_input=train,
        test_target=target,
        name=f"leave-last-out(order={data.event_order})",
        test_events=train_events,
    )


def parse_horizon(value) -> pd.Timedelta:
    """``"30d"``, ``"2w"``, ``"12h"`` or a number of days -> a positive Timedelta (ConfigError otherwise)."""
    text = str(value).strip().lower()
    units = {"d": "D", "w": "W", "h": "h"}
    try:
        delta = (
            pd.Timedelta(float(text), unit="D")
            if text.replace(".", "", 1).isdigit()
            else pd.Timedelta(float(text[:-1]), unit=units[text[-1]])
        )
    except (KeyError, ValueError, IndexError):
        raise ConfigError(f"horizon {value!r} is not a duration", hint="e.g. 30d, 2w or 12h") from None
    if delta <= pd.Timedelta(0):
        raise ConfigError(f"horizon {value!r} must be positive", hint="e.g. 30d")
    return delta


def split_horizon(data: Interactions, horizon="30d", repeats: bool = False, seed: int = 0) -> Split:
    """A global cut ``horizon`` before the data's last event: train before it, test on the period after.

    The target is what customers known before the cut bought in the period, among items known before it:
    only pairs new to the customer (``repeats=False``, the "new for you" question), or every pair bought
    in the period (``repeats=True``: next-period purchases, buying again included).
    """
    if data.event_order != "time":
        raise InputError(
            "a temporal split needs a time column",
            file=data.source or None,
            hint="pass --time-col when loading, or use a random split",
        )
    delta = parse_horizon(horizon)
    events = data.events
    times = events["time"].to_numpy(dtype="datetime64[ns]")
    cut = (pd.Timestamp(times.max()) - delta).to_datetime64()
    before = times < cut
    if not before.any() or before.all():
        raise InputError(
            f"a {horizon} horizon leaves nothing to {'train on' if not before.any() else 'test'}; "
            f"the data runs from {pd.Timestamp(times.min())} to {pd.Timestamp(times.max())}",
            file=data.source or None,
        )
    kind = data.roles.weight_kind if data.roles is not None else None
    shape = (data.n_users, data.n_items)
    train_events = events[before].reset_index(drop=True)
    train = aggregate_events(train_events, kind, shape)
    after = events[~before]
    known_user = np.diff(train.indptr) > 0
    known_item = np.bincount(train.indices, minlength=data.n_items) > 0
    keep = known_user[after["user_idx"].to_numpy()] & known_item[after["item_idx"].to_numpy()]
    period = aggregate_events(after[keep], kind, shape)
    period.data = (period.data > 0).astype(np.float32)
    period.eliminate_zeros()
    if not repeats:
        seen = train.copy()
        seen.data[:] = 1
        period = sp.csr_matrix(period - period.multiply(seen))
        period.eliminate_zeros()
    name = f"temporal(horizon={horizon}, cut={pd.Timestamp(cut).isoformat()}, repeats={repeats})"
    return Split(
        train=data.with_matrix(train, events=train_events),
        test_input=train,
        test_target=period,
        name=name,
        test_events=train_events,
        repeats=repeats,
    )


def split_users(data: Interactions, test_fraction: float = 0.1, fold_in_fraction: float = 0.8, seed: int = 0) -> Split:
    """Hold out whole users: train never sees them; each is scored from a fold-in part of their items.

    Only users with at least two items can be held out. ``test_input`` holds the held-out users'
    fold-in items (at least one), ``test_target`` the rest (at least one); their train rows are empty.
    """
    _check_fraction("test_fraction", test_fraction)
    _check_fraction("fold_in_fraction", fold_in_fraction)
    rng = np.random.default_rng(seed)
    matrix = _canonical(data.matrix)
    counts = np.diff(matrix.indptr)
    eligible = np.flatnonzero(counts >= 2)
    if len(eligible) == 0:
        raise InputError("no user has two or more items to hold out", file=data.source or None)
    n_held = min(len(eligible), max(1, int(round(test_fraction * len(eligible)))))
    held = np.zeros(data.n_users, dtype=bool)
    held[rng.choice(eligible, size=n_held, replace=False)] = True
    entry_user = np.repeat(np.arange(data.n_users), counts)
    held_entry = held[entry_user]
    # fold-in share per held-out user, the rest is target
    keep = np.clip(np.round(fold_in_fraction * counts), 1, np.maximum(counts - 1, 1)).astype(np.int64)
    rank = _random_rank_within_rows(matrix, rng)
    fold_in = held_entry & (rank < keep[entry_user])
    target = held_entry & ~fold_in
    train = _entries(matrix, ~held_entry)
    fold_in_matrix = _entries(matrix, fold_in)
    return Split(
        train=_train_view(data, train),
        test_input=fold_in_matrix,
        test_target=_entries(matrix, target),
        name=f"users(test_fraction={test_fraction}, fold_in_fraction={fold_in_fraction}, seed={seed})",
        test_events=_events_of(data, fold_in_matrix),
    )


# --- helpers -------------------------------------------------------------------------------------
def _check_fraction(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise ConfigError(f"{name} must be between 0 and 1 (exclusive), got {value!r}")


def _canonical(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Sorted indices and no duplicate entries, so entry masks line up with ``tocoo()``."""
    if matrix.has_canonical_format:
        return matrix
    matrix = matrix.copy()
    matrix.sum_duplicates()
    return matrix


def _random_rank_within_rows(matrix: sp.csr_matrix, rng: np.random.Generator) -> np.ndarray:
    """For each stored entry, its position in a random permutation of its row."""
    counts = np.diff(matrix.indptr)
    entry_user = np.repeat(np.arange(matrix.shape[0]), counts)
    order = np.lexsort((rng.random(matrix.nnz), entry_user))
    rank = np.empty(matrix.nnz, dtype=np.int64)
    rank[order] = np.arange(matrix.nnz) - matrix.indptr[entry_user[order]]
    return rank


def holdout_items(
    matrix: sp.csr_matrix,
    fraction: float,
    seed: int,
    *,
    min_items: int = 2,
    user_fraction: float | None = None,
    max_users: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The one validation carve: which stored entries a validation slice holds out, and whose.

    Each chosen user (one with ``min_items`` or more items) lends ``round(fraction * n)`` of its ``n``
    items, at least 1 and at most ``n - 1`` (every chosen user keeps fold-in items).

    Parameters
    ----------
    matrix : csr_matrix in canonical format
    fraction : float
        Share of each chosen user's items held out.
    seed : int
    min_items : int, default 2
        Users with fewer items are never chosen.
    user_fraction : float, optional
        ``None`` (``validation_split``): every eligible user is chosen and all users' items are drawn at
        once (vectorised, fast on millions of users). A number (the models' training loop,
        ``models.training.carve_validation``): a seeded sample of ``round(user_fraction * n_users)``
        eligible users (at most ``max_users``; none when fewer than 2 would be chosen), their items drawn
        user by user. The two draw orders are kept apart on purpose: the per-user order is the one every
        trained model's early stopping was tuned and benchmarked with, so its numbers stay identical.
    max_users : int, optional
        Cap on the sample (with ``user_fraction``).

    Returns
    -------
    held : bool array over the stored entries of ``matrix``
    users : sorted int array of the chosen users
    """
    eligible = np.flatnonzero(np.diff(matrix.indptr) >= min_items)
    if user_fraction is None:
        return _per_user_holdout(matrix, fraction, seed, min_items), eligible
    rng = np.random.default_rng(seed)
    held = np.zeros(matrix.nnz, dtype=bool)
    n_users = min(
        int(round(user_fraction * matrix.shape[0])),
        len(eligible),
        len(eligible) if max_users is None else int(max_users),
    )
    if n_users < 2:
        return held, np.zeros(0, dtype=np.int64)
    users = np.sort(rng.choice(eligible, size=n_users, replace=False))
    for user in users:
        lo, hi = matrix.indptr[user], matrix.indptr[user + 1]
        n_out = min(max(1, int(round(fraction * (hi - lo)))), max(hi - lo - 1, 1))
        held[lo + rng.choice(hi - lo, size=n_out, replace=False)] = True
    return held, users


def _per_user_holdout(matrix: sp.csr_matrix, fraction: float, seed: int, min_interactions: int) -> np.ndarray:
    """Boolean mask over stored entries: the held-out ones."""
    rng = np.random.default_rng(seed)
    counts = np.diff(matrix.indptr)
    n_test = np.where(
        counts >= min_interactions, np.clip(np.round(fraction * counts), 1, np.maximum(counts - 1, 1)), 0
    ).astype(np.int64)
    entry_user = np.repeat(np.arange(matrix.shape[0]), counts)
    return _random_rank_within_rows(matrix, rng) < n_test[entry_user]


def _entries(matrix: sp.csr_matrix, mask: np.ndarray) -> sp.csr_matrix:
    """The stored entries of ``matrix`` where ``mask`` is true, same shape."""
    coo = matrix.tocoo()
    # tocoo of a canonical csr keeps the stored order, so the mask lines up
    part = sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=matrix.shape, dtype=np.float32)
    part.sort_indices()
    return part


def _train_view(data: Interactions, train: sp.csr_matrix) -> Interactions:
    """``data`` with the train matrix; events restricted to the trained pairs."""
    return data.with_matrix(train, events=_events_of(data, train))


def _events_of(data: Interactions, matrix: sp.csr_matrix) -> pd.DataFrame | None:
    """The events of ``data`` whose (user, item) pair is stored in ``matrix``, in file order."""
    if data.events is None:
        return None
    coo = matrix.tocoo()
    kept = coo.row.astype(np.int64) * data.n_items + coo.col
    pair = data.events["user_idx"].to_numpy(np.int64) * data.n_items + data.events["item_idx"].to_numpy(np.int64)
    return data.events[np.isin(pair, kept)].reset_index(drop=True)
