"""SASRec: the next item from the customer's ordered sequence (causal Transformer), trained SASRec+ style.

The network is :class:`~aigc_biz.models.sasrec_net.SASRecNet`; this module owns the data side (the
ordered sequences, last-N windows, a start token that carries the customer's attributes), the
leave-last-out validation and the scoring contract. Inside the net item ``j`` of the model is index
``j + 1``, ``0`` is padding and ``n_items + 1`` is the start token; the start token is scored like an
item while training (it is never a target, so it learns to score low) and is cut from the scores.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn

from aigc_biz.data.interactions import Interactions
from aigc_biz.errors import ModelError
from aigc_biz.models.sampled_softmax import popularity_log_q
from aigc_biz.models.sasrec_net import SASRecNet, full_ce_loss, sampled_softmax_loss
from aigc_biz.models.training import (
    TorchRecommender,
    TrainingRuntime,
    TrainingSettings,
    TrainingTask,
    ValidationSlice,
    run_training,
)

log = logging.getLogger(__name__)

#: rows per forward pass when scoring (attention memory grows with rows x max_len^2)
SCORE_ROWS = 256


# --- sequences -> windows ---------------------------------------------------------------------------
def training_windows(
    indptr: np.ndarray, items: np.ndarray, rows: np.ndarray, max_len: int, start: int
) -> tuple[np.ndarray, np.ndarray]:
    """Left-padded (input, target) pairs of next-item steps for the sequences of ``rows``.

    ``items[indptr[u]:indptr[u + 1]]`` is customer ``u``'s sequence (net indices, 1-based). The input
    is ``[start] + s[:-1]`` and the target ``s``; a sequence longer than ``max_len`` keeps its last
    ``max_len`` steps behind the start token, whose target is then 0 (none), so the start token is
    always the first column as it is when scoring.
    """
    lengths = indptr[rows + 1] - indptr[rows]
    width = int(np.where(lengths > max_len, max_len + 1, lengths).max(initial=1))
    x = np.zeros((len(rows), width), dtype=np.int64)
    y = np.zeros((len(rows), width), dtype=np.int64)
    for r, u in enumerate(rows):
        s = items[indptr[u] : indptr[u + 1]]
        n = len(s)
        if n <= max_len:
            x[r, width - n] = start
            x[r, width - n + 1 :] = s[:-1]
            y[r, width - n :] = s
        else:
            x[r, width - max_len - 1] = start
            x[r, width - max_len :] = s[n - max_len - 1 : n - 1]
            y[r, width - max_len :] = s[n - max_len :]
    return x, y


def last_items(indptr: np.ndarray, items: np.ndarray, rows: np.ndarray, max_len: int) -> np.ndarray:
    """(len(rows), max_len) int64: each sequence's last ``max_len`` items, left-padded with 0 (-1 rows: empty)."""
    out = np.zeros((len(rows), max_len), dtype=np.int64)
    for r, u in enumerate(rows):
        if u < 0:
            continue
        s = items[indptr[u] : indptr[u + 1]][-max_len:]
        if len(s):
            out[r, max_len - len(s) :] = s
    return out


def with_start_token(sequence: np.ndarray, start: int) -> torch.Tensor:
    """``[start] + items`` for left-padded rows of items, trimmed to the longest row (an empty row is
    the start token alone: the context-only path of a customer without events)."""
    sequence = np.asarray(sequence, dtype=np.int64)
    rows, width = sequence.shape
    lengths = (sequence > 0).sum(axis=1)
    x = np.zeros((rows, width + 1), dtype=np.int64)
    x[:, 1:] = sequence
    x[np.arange(rows), width - lengths] = start
    first = int((width - lengths).min(initial=width))
    return torch.from_numpy(x[:, first:])


def sequences_as_matrix(indptr: np.ndarray, items: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Binary (customers x items) matrix of sequences in net indices (1-based)."""
    users = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    matrix = sp.csr_matrix(
        (np.ones(len(items), dtype=np.float32), (users, items - 1)), shape=(len(indptr) - 1, n_items)
    )
    matrix.data[:] = 1.0  # repeats were summed by the constructor: the seen mask is binary
    return matrix


@dataclass
class SequenceValidation(ValidationSlice):
    """A leave-last-out validation: the sampled customers' last events are the target.

    Attributes (beyond :class:`ValidationSlice`)
    ----------
    indptr, items : int arrays
        The training sequences (net indices, 1-based) with those last events removed.
    """

    indptr: np.ndarray = None
    items: np.ndarray = None


def carve_last_events(
    indptr: np.ndarray, items: np.ndarray, n_items: int, fraction: float, seed: int, max_users: int = 5000
) -> tuple[np.ndarray, np.ndarray, SequenceValidation | None]:
    """Hold out the last event of a seeded ``fraction`` (at most ``max_users``) of the customers with two
    or more events. Returns the training sequences and the validation (None when nobody qualifies).

    ``items`` are net indices (1-based); ``train`` of the validation is the training sequences as a
    binary (customers x items) matrix, so its rows are the seen items masked when ranking.
    """
    n_users = len(indptr) - 1
    lengths = np.diff(indptr)
    eligible = np.flatnonzero(lengths >= 2)
    n_val = min(int(round(fraction * n_users)), len(eligible), int(max_users))
    if fraction == 0.0 or n_val < 2:
        return indptr, items, None
    users = np.sort(np.random.default_rng(seed).choice(eligible, size=n_val, replace=False))
    drop = np.zeros(len(items), dtype=bool)
    drop[indptr[users + 1] - 1] = True
    held = lengths.copy()
    held[users] -= 1
    train_ptr = np.zeros_like(indptr)
    np.cumsum(held, out=train_ptr[1:])
    train_items = items[~drop]
    target = sp.csr_matrix(
        (np.ones(n_val, dtype=np.float32), (np.arange(n_val), items[drop] - 1)), shape=(n_val, n_items)
    )
    validation = SequenceValidation(
        train=sequences_as_matrix(train_ptr, train_items, n_items),
        users=users,
        target=target,
        indptr=train_ptr,
        items=train_items,
    )
    return train_ptr, train_items, validation


# --- the network with item categories ---------------------------------------------------------------
class CategorisedItems(nn.Module):
    """Item embeddings plus an embedding of each item's category, in the place of ``SASRecNet.item_emb``.

    The net reads its item table only as ``item_emb(seq)``, ``item_emb.weight`` (the tied output
    head) and ``item_emb.embedding_dim``; this module gives all three with the category vector
    added, so an item is scored, and read in a sequence, as its own vector plus its category's.
    ``category``: (n_items + 2,) int, 0 for no category (and for the pad and start slots).
    """

    def __init__(self, n_rows: int, hidden: int, category: torch.Tensor, n_categories: int):
        super().__init__()
        self.items = nn.Embedding(n_rows, hidden, padding_idx=0)
        self.categories = nn.Embedding(n_categories + 1, hidden, padding_idx=0)
        self.register_buffer("category", category.to(torch.long))
        self.embedding_dim = hidden
        nn.init.normal_(self.items.weight, std=hidden**-0.5)
        nn.init.normal_(self.categories.weight, std=hidden**-0.5)
        with torch.no_grad():
            self.items.weight[0].zero_()
            self.categories.weight[0].zero_()

    @property
    def weight(self) -> torch.Tensor:
        return self.items.weight + self.categories(self.category)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        return self.items(seq) + self.categories(self.category[seq])


def build_net(
    n_items: int,
    max_len: int,
    hidden: int,
    blocks: int,
    heads: int,
    dropout: float,
    n_context: int,
    category: np.ndarray | None,
    n_categories: int,
) -> SASRecNet:
    """SASRecNet over ``n_items`` items plus the start token; with ``category`` the item table is
    :class:`CategorisedItems`. Positions cover ``max_len`` items and the start token."""
    net = SASRecNet(n_items + 1, max_len + 1, hidden, blocks, heads, dropout, context_dim=n_context or None)
    if category is not None:
        net.item_emb = CategorisedItems(n_items + 2, hidden, torch.as_tensor(category), n_categories)
    return net


# --- training -------------------------------------------------------------------------------------
class _SASRecTask(TrainingTask):
    """One step: windows of the batch's sequences, the net's hidden states, full or sampled softmax."""

    def __init__(
        self,
        net: SASRecNet,
        model: "SASRec",
        indptr: np.ndarray,
        items: np.ndarray,
        unknown_context: torch.Tensor | None,
        log_q: torch.Tensor | None,
    ):
        self.net, self.model = net, model
        self.indptr, self.items = indptr, items
        self.start = net.n_items  # net index of the start token (the last row of the item table)
        self.unknown = unknown_context
        self.log_q = log_q
        self.modules = {"net": net}
        self.optimizers = {
            "adam": torch.optim.Adam(net.parameters(), lr=float(model.lr), weight_decay=float(model.weight_decay))
        }

    def batch_input(self, matrix, rows, device):
        return torch.from_numpy(np.asarray(rows, dtype=np.int64))

    def _context(self, context: torch.Tensor | None) -> torch.Tensor | None:
        rate = float(self.model.context_dropout)
        if context is None or self.unknown is None or rate <= 0:
            return context
        # some sequences are seen without attributes, so a customer whose attributes are missing is
        # still scored from the sequence rather than from an untrained "unknown" vector
        hide = torch.rand(context.shape[0], 1, device=context.device) < rate
        return torch.where(hide, self.unknown.to(context.device).expand_as(context), context)

    def train_batch(self, batch, context, runtime: TrainingRuntime, step: int) -> float:
        device = runtime.device
        x, y = training_windows(self.indptr, self.items, batch.numpy(), int(self.model.max_len), self.start)
        x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
        context = self._context(context)
        with runtime.autocast():
            h = self.net(x, context)
            if self.log_q is None:
                loss = full_ce_loss(self.net, h, y)
            else:
                loss = sampled_softmax_loss(self.net, h, y, int(self.model.n_negatives), self.log_q)
        loss = loss.float()
        runtime.step(loss, self.optimizers["adam"])
        return float(loss.detach())

    def score(self, batch, context):
        sequence = last_items(self.indptr, self.items, batch.numpy(), int(self.model.max_len))
        x = with_start_token(sequence, self.start).to(self.net.pos_emb.weight.device)
        return self.net.score_last(x, context)[:, :-1]


class SASRec(TorchRecommender):
    """Self-attentive sequential recommendation (SASRec) trained with full-softmax cross-entropy (SASRec+).

    Each customer's events, in time order (ties in file order; without a time column, file order), are a
    sequence; a causal Transformer reads the last ``max_len`` of them and scores every item as the next
    one. Training predicts the next item at every position with a softmax over the whole catalogue
    (Klenitskiy & Vasilev 2023); above ``max_full_softmax_items`` items a sampled softmax with logQ
    correction (``n_negatives`` negatives drawn by popularity) keeps memory bounded.

    Context: every sequence starts with a start token, and the one-hot customer attributes go through
    a linear layer added to every position, so a customer with no events is scored from the start
    token and their attributes alone (cold start). When the data has an item ``category`` column, each
    item's vector is its own plus its category's (``item_categories``).

    Early stopping watches NDCG@10 of each sampled customer's last training event, predicted from the
    events before it (``val_fraction`` of the customers, at most 5,000; that event is not trained on).

    Parameters
    ----------
    max_len : int
        Most recent events read per customer (last-N truncation).
    hidden, blocks, heads : int
        Width of the item embeddings, Transformer blocks, attention heads (``hidden % heads == 0``).
    dropout : float
        Dropout on embeddings and inside the blocks while training.
    lr, weight_decay : float
        Adam.
    max_full_softmax_items : int
        Largest catalogue trained with the full softmax; above it, sampled softmax.
    n_negatives : int
        Negatives per batch of the sampled softmax.
    context_dropout : float
        Share of training sequences whose customer attributes are hidden (read as unknown).
    item_categories : bool
        Add a category embedding to each item's when the data has a ``category`` item column.
    epochs, batch_size, patience, val_fraction, device, precision, seed, restarts, restart_combine, checkpoint_dir,
    resume :
        The shared training loop (see :class:`~aigc_biz.models.training.TorchRecommender`; ``restart_combine``
        must stay "best": its validation holds out each customer's last event, which averaged scores miss);
        ``batch_size`` counts sequences. The defaults (dropout 0.1, lr 2e-3, batch 16) are the configuration
        that reached the best *validation* NDCG@10 on ML-1M in the prototype runs of ``bench/sasrec_proto.md``;
        the published SASRec+ setting (lr 1e-3, batch 128) stayed at popularity level for 4 epochs there.

    Attributes
    ----------
    net_ : SASRecNet
    categories_ : list of str
        Item categories in embedding-slot order (slot 0: none); empty without categories.
    full_softmax_ : bool
        Whether training used the full softmax.
    event_order_ : str
        "time" or "file": how the training sequences were ordered.
    n_epochs_, best_epoch_, best_val_ndcg_, training_curve_, context_encoder_, device_ :
        As every torch model (validation NDCG is NDCG@10 of the last events).

    Examples
    --------
    >>> model = SASRec(epochs=50, device="cpu").fit(interactions)          # doctest: +SKIP
    >>> model.recommend(interactions, ["C000847"], k=5)                     # doctest: +SKIP

    References
    ----------
    Kang, McAuley. Self-Attentive Sequential Recommendation. ICDM 2018.
    Klenitskiy, Vasilev. Turning Dross Into Gold Loss: is BERT4Rec really better than SASRec? RecSys 2023.
    """

    name = "sasrec"
    averages_restarts = False

    def __init__(
        self,
        max_len: int = 200,
        hidden: int = 64,
        blocks: int = 2,
        heads: int = 1,
        dropout: float = 0.1,
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        max_full_softmax_items: int = 50_000,
        n_negatives: int = 3000,
        context_dropout: float = 0.1,
        item_categories: bool = True,
        epochs: int = 200,
        batch_size: int = 16,
        patience: int = 10,
        val_fraction: float = 0.1,
        device: str = "auto",
        precision: str = "auto",
        seed: int = 0,
        restarts: int = 1,
        restart_combine: str = "best",
        checkpoint_dir: str | None = None,
        resume: bool = False,
    ):
        self._keep(locals())

    # --- parameters -----------------------------------------------------------------------------
    def _own_problems(self) -> list[str]:
        problems = [
            f"{key}={getattr(self, key)}"
            for key in ("max_len", "hidden", "blocks", "heads", "max_full_softmax_items", "n_negatives")
            if int(getattr(self, key)) < 1
        ]
        if int(self.heads) >= 1 and int(self.hidden) % int(self.heads):
            problems.append(f"hidden={self.hidden} is not divisible by heads={self.heads}")
        for key in ("dropout", "context_dropout"):
            if not 0.0 <= float(getattr(self, key)) < 1.0:
                problems.append(f"{key}={getattr(self, key)}")
        if float(self.lr) <= 0 or float(self.weight_decay) < 0:
            problems.append(f"lr={self.lr}, weight_decay={self.weight_decay}")
        return problems

    def training_settings(self) -> TrainingSettings:
        settings = super().training_settings()
        settings.val_k = 10  # next-item protocol: NDCG@10 of the one held-out event
        return settings

    # --- data -------------------------------------------------------------------------------------
    def _sequences(self, data: Interactions) -> tuple[np.ndarray, np.ndarray]:
        """Training sequences in net indices (data item j -> j + 1: the vocabulary is ``data``'s)."""
        if data.event_order == "none":
            raise ModelError(
                "sasrec needs each customer's events in order, and these interactions have no event log",
                file=data.source or None,
                hint="load the table with aigc_biz.api.load",
            )
        if data.event_order == "file":
            log.info(
                "sasrec: no time column, so each customer's sequence follows the order of the rows in %s",
                data.source or "the table",
            )
        else:
            log.info("sasrec: each customer's sequence is in time order (ties in file order)")
        indptr, items = data.sequences()
        return indptr, items + 1

    def _item_categories(self, data: Interactions) -> tuple[np.ndarray | None, list[str]]:
        """Net-index category codes (pad and start slots 0) and the category names, or (None, [])."""
        if not self.item_categories or "category" not in data.item_features.columns:
            return None, []
        values = data.item_features["category"]
        present = values.notna() & (values.astype(str).str.strip() != "")
        names = sorted({str(v) for v in values[present]})
        if not names:
            return None, []
        slot = {name: i + 1 for i, name in enumerate(names)}
        codes = np.zeros(data.n_items + 2, dtype=np.int64)
        codes[1:-1] = [slot.get(str(v), 0) if ok else 0 for v, ok in zip(values, present)]
        return codes, names

    def validation_slice(self, data, matrix):
        indptr, items = self._sequences(data)
        _, _, validation = carve_last_events(indptr, items, data.n_items, float(self.val_fraction), self.split_seed)
        return validation

    # --- fitting ----------------------------------------------------------------------------------
    def _fit(self, data: Interactions, progress: Callable[[dict], None] | None) -> None:
        if self.warm_source is not None:
            raise ModelError("sasrec cannot warm-start yet", hint="train from scratch (drop --warm-start)")
        fit = self.prepare_fit(data)
        if fit.validation is not None:
            indptr, items = fit.validation.indptr, fit.validation.items
            train = fit.validation.train
        else:
            indptr, items = self._sequences(data)
            train = sequences_as_matrix(indptr, items, data.n_items)
        n_items = data.n_items
        category, self.categories_ = self._item_categories(data)
        self.full_softmax_ = n_items <= int(self.max_full_softmax_items)
        self.event_order_ = data.event_order
        net = self._build(category, fit.n_context).to(fit.device)
        log_q = None
        if not self.full_softmax_:
            # negatives by popularity (add-one so every item can be drawn), never the start token
            log_q = torch.full((n_items + 1,), -torch.inf, dtype=torch.float32)
            log_q[:n_items] = popularity_log_q(np.bincount(items - 1, minlength=n_items))
            log_q = log_q.to(fit.device)
        unknown = None
        if fit.context is not None:
            unknown = self.context_encoder_.transform(None, n_rows=1)
        task = _SASRecTask(net, self, indptr, items, unknown, log_q)
        report = run_training(
            task, train, fit.settings, context=fit.context, validation=fit.validation, progress=progress, rng=fit.rng
        )
        self.net_ = net.eval()
        self.record_report(report)

    def _build(self, category: np.ndarray | None, n_context: int) -> SASRecNet:
        return build_net(
            len(self.item_ids_),
            int(self.max_len),
            int(self.hidden),
            int(self.blocks),
            int(self.heads),
            float(self.dropout),
            n_context,
            category,
            len(self.categories_),
        )

    # --- scoring ----------------------------------------------------------------------------------
    def scoring_features(self, data: Interactions, rows: np.ndarray, item_map: np.ndarray) -> dict:
        """``{"sequence": (len(rows), max_len) int64}``: each customer's last ``max_len`` items known to the
        model, as net indices (model item + 1), left-padded with 0; empty for customers not in ``data``."""
        self.check_fitted()
        if data.event_order == "none":
            log.warning("sasrec: the data to score has no event log; each history is read in item order")
            return {}
        indptr, items = data.sequences()
        mapped = item_map[items]
        keep = mapped >= 0
        counts = np.bincount(np.repeat(np.arange(data.n_users), np.diff(indptr))[keep], minlength=data.n_users)
        ptr = np.zeros(data.n_users + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        return {"sequence": last_items(ptr, mapped[keep] + 1, np.asarray(rows, dtype=np.int64), int(self.max_len))}

    def score_batch(
        self, history: sp.csr_matrix, context: pd.DataFrame | None = None, features: dict | None = None
    ) -> torch.Tensor:
        """Next-item logits (rows, n_items) from each row's sequence (``features["sequence"]``; without it,
        the history's items in column order) and attributes; a row with no items is scored from its
        attributes alone."""
        self.check_fitted()
        history = sp.csr_matrix(history, dtype=np.float32)
        n_rows = history.shape[0]
        if history.shape[1] != self.n_items:
            raise ModelError(f"history has {history.shape[1]} item columns, the model knows {self.n_items}")
        if features and "sequence" in features:
            sequence = np.asarray(features["sequence"], dtype=np.int64)
        else:
            sequence = last_items(
                history.indptr, history.indices.astype(np.int64) + 1, np.arange(n_rows), int(self.max_len)
            )
        if sequence.shape[0] != n_rows:
            raise ModelError(f"sequence features have {sequence.shape[0]} rows for {n_rows} history rows")
        device = torch.device(self.device_)
        ctx = None
        if self.context_encoder_.n_features_:
            ctx = self.context_encoder_.transform(context, n_rows=n_rows).to(device)
        out = torch.empty((n_rows, self.n_items), dtype=torch.float32, device=device)
        start = self.n_items + 1
        # rows of similar length go together, so a forward pass pads each sequence to little more than itself
        order = np.argsort((sequence > 0).sum(axis=1), kind="stable")
        with torch.inference_mode():
            for lo in range(0, n_rows, SCORE_ROWS):
                rows = order[lo : lo + SCORE_ROWS]
                x = with_start_token(sequence[rows], start).to(device)
                index = torch.from_numpy(rows).to(device)
                part = None if ctx is None else ctx[index]
                out[index] = self.net_.score_last(x, part)[:, :-1].float()
        return out

    def item_vectors(self) -> np.ndarray:
        """The tied output embeddings (item vector plus its category's), one row per item."""
        self.check_fitted()
        with torch.inference_mode():
            return self.net_.item_weights()[:-1].detach().cpu().numpy()

    # --- saving -----------------------------------------------------------------------------------
    def _networks(self) -> dict[str, nn.Module]:
        return {"net": self.net_}

    def _state(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.net_.state_dict().items()}

    def _own_meta(self) -> dict:
        return {
            "categories": list(self.categories_),
            "full_softmax": bool(self.full_softmax_),
            "event_order": self.event_order_,
        }

    def _load_networks(self, state: dict[str, np.ndarray], meta: dict, device: str) -> None:
        self.categories_ = [str(c) for c in meta.get("categories", [])]
        self.full_softmax_ = bool(meta.get("full_softmax", True))
        self.event_order_ = str(meta.get("event_order", "file"))
        n_items = len(self.item_ids_)
        category = None
        if self.categories_:
            category = np.asarray(state.get("item_emb.category", np.zeros(0)), dtype=np.int64)
            if (
                category.shape != (n_items + 2,)
                or (category < 0).any()
                or (category > len(self.categories_)).any()
                or category[0]
                or category[-1]
            ):
                raise ValueError("item_emb.category does not fit the item and category vocabularies")
        net = self._build(category, self.context_encoder_.n_features_)
        net.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state.items()})
        self.net_ = net.to(device).eval()
