"""Conditional Mult-VAE: a variational autoencoder over a user's items, conditioned on user attributes,
with an optional EASE-like item-item path beside the decoder."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from aigc_biz.data.interactions import Interactions
from aigc_biz.models.ease import ease_weights
from aigc_biz.models.large_catalogue import SPARSE_ALTERNATIVE, dense_item_item_allowed, dense_limit_text, sparse_times
from aigc_biz.models.sampled_softmax import draw_negatives, popularity_log_q, sampled_softmax_nll
from aigc_biz.models.training import TorchRecommender, TrainingRuntime, TrainingTask, run_training

#: weights of the item-item logits tried on the validation slice (relative to the fitted scale)
MIX_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0)

#: share of the new data's entries on items the warm-start model knew, from which a warm start keeps
#: its item-item path for the warm epochs and its softmax scale and fusion weight (see ConditionalVAE)
WARM_REUSE_MIN_COVERAGE = 0.95


def best_softmax_scale(
    weights: torch.Tensor, matrix: sp.csr_matrix, rng: np.random.Generator, device: torch.device, n_users: int = 1000
) -> float:
    """Scale s maximising the multinomial likelihood of ``softmax(s * x @ W)`` on a user sample.

    EASE scores are regression outputs near [0, 1]; as logits they need a scale, and learning it by
    gradient steps alone would take many epochs. W has a zero diagonal, so this is a leave-one-out fit.
    """
    active = np.flatnonzero(np.diff(matrix.indptr) > 0)
    rows = np.sort(rng.choice(active, size=min(n_users, len(active)), replace=False))
    x = torch.as_tensor(matrix[rows].toarray(), device=device)
    raw = x @ weights
    candidates = np.geomspace(1.0, 300.0, 25)
    loglik = [float((F.log_softmax(s * raw, dim=1) * x).sum()) for s in candidates]
    return float(candidates[int(np.argmax(loglik))])


class ConditionalVAENet(nn.Module):
    """Encoder [x ; c] -> (mu, logvar); decoder [z ; c] -> item logits (+ x @ W when W is given).

    ``c`` is a learned embedding of the user's one-hot context; ``W`` (n_items x n_items, zero
    diagonal) is the optional item-item path. With ``sparse_input`` (large catalogues) the encoder reads
    only the history's nonzero entries (the same product, a fraction of the operations).
    """

    def __init__(
        self,
        n_items: int,
        n_context: int,
        hidden: int,
        latent: int,
        context_dim: int,
        linear_path: bool,
        sparse_input: bool = False,
    ):
        super().__init__()
        self.latent = latent
        self.sparse_input = bool(sparse_input)
        self.context = nn.Linear(n_context, context_dim, bias=False) if n_context and context_dim else None
        c_dim = context_dim if self.context is not None else 0
        self.enc_items = nn.Linear(n_items, hidden)
        self.enc_context = nn.Linear(c_dim, hidden, bias=False) if c_dim else None
        self.enc_out = nn.Linear(hidden, 2 * latent)
        self.dec_latent = nn.Linear(latent, hidden)
        self.dec_context = nn.Linear(c_dim, hidden, bias=False) if c_dim else None
        self.dec_out = nn.Linear(hidden, n_items)
        self.has_linear = bool(linear_path)
        if linear_path:
            # EASE closed form (fixed) and the weight of its logits, both set by ConditionalVAE.fit
            self.register_buffer("item_item", torch.zeros(n_items, n_items))
            self.register_buffer("linear_weight", torch.ones(()))

    def encode(self, x_in: torch.Tensor, c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.sparse_input:
            h = sparse_times(x_in, self.enc_items.weight.T) + self.enc_items.bias
        else:
            h = self.enc_items(x_in)
        if c is not None and self.enc_context is not None:
            h = h + self.enc_context(c)
        mu, logvar = self.enc_out(torch.tanh(h)).chunk(2, dim=1)
        return mu, logvar

    def encode_pairs(
        self, rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, n_rows: int, c: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`encode` of the (already normalised) input given as its nonzero (row, item, value) triples."""
        # columns of the (hidden, n_items) weight summed per row: its gradient stays in that layout,
        # about twice as fast on 100,000 items as embedding_bag over the transposed weight
        weight = self.enc_items.weight
        picked = weight.index_select(1, cols) * values.to(weight.dtype)
        h = torch.zeros(weight.shape[0], n_rows, dtype=weight.dtype, device=weight.device).index_add_(1, rows, picked)
        h = h.T + self.enc_items.bias
        if c is not None and self.enc_context is not None:
            h = h + self.enc_context(c)
        mu, logvar = self.enc_out(torch.tanh(h)).chunk(2, dim=1)
        return mu, logvar

    def decode_hidden(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """The decoder's last hidden layer: ``decode`` is ``dec_out`` of it."""
        h = self.dec_latent(z)
        if c is not None and self.dec_context is not None:
            h = h + self.dec_context(c)
        return torch.tanh(h)

    def decode(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.dec_out(self.decode_hidden(z, c))

    def linear_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Item-item path ``x @ W`` (unweighted); zeros without the path."""
        if not self.has_linear:
            return torch.zeros_like(x)
        return x @ self.item_item

    def logits(self, x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """Scoring logits: decoder of the encoder mean plus the weighted item-item path."""
        c = self.embed_context(context)
        mu, _ = self.encode(F.normalize(x, dim=1), c)
        out = self.decode(mu, c)
        if self.has_linear:
            out = out + self.linear_weight * (x @ self.item_item)
        return out

    def embed_context(self, context: torch.Tensor | None) -> torch.Tensor | None:
        return None if context is None or self.context is None else self.context(context)


@dataclass
class HistoryRows:
    """A training batch as the nonzero (row, item) pairs of its binary history rows, rows ascending."""

    rows: torch.Tensor
    cols: torch.Tensor
    n_rows: int
    n_items: int

    @classmethod
    def of(cls, matrix: sp.csr_matrix, rows: np.ndarray, device: torch.device) -> "HistoryRows":
        part = sp.csr_matrix(matrix[rows])
        part.data = (part.data > 0).astype(np.float32)
        part.eliminate_zeros()
        row_of = np.repeat(np.arange(len(rows), dtype=np.int64), np.diff(part.indptr))
        return cls(
            torch.from_numpy(row_of).to(device),
            torch.from_numpy(part.indices.astype(np.int64)).to(device),
            len(rows),
            matrix.shape[1],
        )

    def dense(self) -> torch.Tensor:
        out = torch.zeros((self.n_rows, self.n_items), device=self.rows.device)
        out[self.rows, self.cols] = 1.0
        return out


class _CVAETask(TrainingTask):
    def __init__(
        self,
        net: ConditionalVAENet,
        model: "ConditionalVAE",
        anneal_steps: int,
        has_context: bool,
        mixes: tuple = MIX_GRID,
        log_q: torch.Tensor | None = None,
    ):
        self.net = net
        self.log_q = log_q
        self.mixes = tuple(mixes)
        self.model = model
        self.anneal_steps = max(1, anneal_steps)
        self.has_context = has_context
        self.modules = {"net": net}
        self.optimizers = {"adam": torch.optim.Adam(net.parameters(), lr=model.lr, weight_decay=model.weight_decay)}
        self._unknown: torch.Tensor | None = None

    def unknown_context(self, context: torch.Tensor) -> torch.Tensor:
        """The one-hot row of a customer whose every attribute is unknown (slot 0 of each block)."""
        if self._unknown is None:
            self._unknown = self.model.context_encoder_.transform(None, n_rows=1).to(context.device)
        return self._unknown.expand_as(context)

    def batch_input(self, matrix: sp.csr_matrix, rows: np.ndarray, device: torch.device):
        """Dense rows with the full softmax; with the sampled softmax only their nonzero pairs
        (:class:`HistoryRows`), so no training step touches rows x n_items cells."""
        if self.log_q is None:
            return super().batch_input(matrix, rows, device)
        return HistoryRows.of(matrix, rows, device)

    def hide(
        self, context: torch.Tensor | None, n_rows: int, device
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Cold-start training: (rows kept, (n, 1) float, or None for all; the context with some rows hidden).

        Some rows see no history, so the model also learns p(items | context) for new customers; as many
        others see no context, so a customer whose attributes are missing (new since the model was
        trained) is still scored from their history."""
        rate = self.model.cold_start_rate
        if not (self.has_context and rate > 0):
            return None, context
        keep = (torch.rand(n_rows, 1, device=device) >= rate).float()
        hide = torch.rand(n_rows, 1, device=device) < rate
        return keep, torch.where(hide, self.unknown_context(context), context)

    def train_batch(self, batch, context, runtime: TrainingRuntime, step: int) -> float:
        if isinstance(batch, HistoryRows):
            return self.train_sampled(batch, context, runtime, step)
        model, net = self.model, self.net
        x = (batch > 0).float()
        keep, context = self.hide(context, x.shape[0], x.device)
        x_seen = x if keep is None else x * keep
        x_drop = F.dropout(x_seen, p=model.dropout, training=True)
        with runtime.autocast():
            c = net.embed_context(context)
            mu, logvar = net.encode(F.normalize(x_drop, dim=1), c)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            logits = net.decode(z, c)
        nll = -(F.log_softmax(logits.float(), dim=1) * x).sum(dim=1).mean()
        return self.step_on(nll, mu, logvar, runtime, step)

    def train_sampled(self, batch: "HistoryRows", context, runtime: TrainingRuntime, step: int) -> float:
        """:meth:`train_batch` on the nonzero pairs: the same input dropout and L2 normalisation per
        row, the encoder as a weighted sum of the kept items' columns, the sampled-softmax NLL."""
        model, net = self.model, self.net
        rows, cols, n_rows = batch.rows, batch.cols, batch.n_rows
        keep, context = self.hide(context, n_rows, rows.device)
        values = torch.ones(len(rows), device=rows.device) if keep is None else keep[rows, 0]
        values = F.dropout(values, p=model.dropout, training=True)
        norms = torch.zeros(n_rows, device=rows.device).index_add_(0, rows, values * values).sqrt()
        values = values / norms.clamp_min(1e-12)[rows]
        with runtime.autocast():
            c = net.embed_context(context)
            mu, logvar = net.encode_pairs(rows, cols, values, n_rows, c)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            hidden = net.decode_hidden(z, c)
        negatives = draw_negatives(self.log_q, int(model.n_negatives))
        out = net.dec_out
        nll = sampled_softmax_nll(hidden.float(), out.weight, cols, negatives, self.log_q, bias=out.bias, rows=rows)
        return self.step_on(nll.sum() / n_rows, mu, logvar, runtime, step)

    def step_on(self, nll: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, runtime, step: int) -> float:
        """One optimiser step on ``nll + beta * KL`` (beta annealed over ``anneal_steps``)."""
        mu, logvar = mu.float(), logvar.float()
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1).mean()
        beta = self.model.beta_max * min(1.0, step / self.anneal_steps)
        loss = nll + beta * kl
        runtime.step(loss, self.optimizers["adam"])
        return float(loss.detach())

    def score(self, batch, context):
        if isinstance(batch, HistoryRows):
            batch = batch.dense()
        return self.net.logits((batch > 0).float(), context)

    def score_variants(self, batch, context):
        """With the item-item path: one scoring per fusion weight of ``mixes`` (``MIX_GRID`` by default)."""
        net = self.net
        if not net.has_linear:
            return {None: self.score(batch, context)}
        if isinstance(batch, HistoryRows):
            batch = batch.dense()
        x = (batch > 0).float()
        c = net.embed_context(context)
        mu, _ = net.encode(F.normalize(x, dim=1), c)
        vae = net.decode(mu, c)
        linear = net.linear_weight * net.linear_logits(x)
        return {mix: vae + mix * linear for mix in self.mixes}


class ConditionalVAE(TorchRecommender):
    """Conditional multinomial VAE (Mult-VAE, Liang et al. 2018) with context and an item-item path.

    The encoder reads the user's L2-normalised item vector (with dropout while training) and an
    embedding of the user's attributes, the decoder maps the latent code and the same context back
    to logits over all items; the loss is the multinomial log-likelihood plus a KL term whose weight
    rises linearly over ``anneal_steps`` real optimisation steps up to ``beta_max``. A customer with
    no history still gets context-aware candidates (cold start); for known customers the context
    shifts the ranking.

    With ``linear_path`` the scoring logits are ``decoder(mu, c) + w * (x @ W)``: W is the EASE closed
    form (Steck 2019; n_items x n_items, zero diagonal) computed in torch inside ``fit``, and
    ``w = s * m`` with ``s`` the scale that makes ``softmax(s * x @ W)`` most likely on the training
    rows and ``m`` the fusion weight (from ``MIX_GRID``) with the best validation NDCG at the best
    epoch. The VAE itself is trained on its own likelihood (jointly fine-tuning W, or training the
    decoder as a residual on top of W, lost ranking quality in our ML-1M runs). A warm start
    (``fit(data, warm_start=old)``) on data whose entries fall for at least ``WARM_REUSE_MIN_COVERAGE``
    on items ``old`` knew, with the same ``linear_l2``, computes the closed form once: the warm epochs
    validate with ``old``'s W grown to the new items (new rows and columns zero), ``old``'s scale and
    its fusion weight, and the final W is the closed form on all of ``data`` with that scale and weight
    (a from-scratch fit computes it twice, once without the validation items, and fits both). Its
    ``best_val_ndcg_`` is optimistic (the old W saw the validation items bought before) and only ranks
    the warm epochs against each other. Above
    ``max_linear_items`` items (never more than ``large_catalogue.DENSE_ITEM_ITEM_MAX``) the path is
    dropped with a warning (memory n_items^2 floats).

    Large catalogues: above ``max_full_softmax_items`` items the decoder trains with a sampled softmax
    (:mod:`aigc_biz.models.sampled_softmax`): each positive is scored against ``n_negatives`` items
    drawn by popularity with logQ correction, so a step reads ``positives + n_negatives`` rows of the
    output layer instead of computing all ``n_items`` logits, and the encoder reads only the history's
    nonzero entries. Scoring still ranks every item (in blocks, see ``Recommender.recommend_indices``).

    Parameters
    ----------
    hidden, latent : int
        Width of the hidden layer and of the latent code.
    dropout : float
        Input dropout rate while training.
    beta_max : float
        Cap of the KL weight.
    anneal_steps : int or None
        Steps over which the KL weight rises to ``beta_max``; default: every step of ``epochs`` epochs.
    epochs, batch_size, lr, weight_decay :
        Optimisation (Adam). ``epochs`` is the maximum; early stopping usually ends sooner. ``lr`` is
        3e-3 rather than Mult-VAE's 1e-3: on ML-1M (12 steps per epoch) 1e-3 stopped early at a weaker
        VAE (test NDCG@20 0.1167 vs 0.1198).
    context_dim : int
        Size of the context embedding (ignored when the data has no user attributes).
    linear_path : bool
        Add the EASE item-item path beside the decoder (recommended up to ``max_linear_items``).
    linear_l2 : float
        L2 weight (lambda) of the EASE closed form of the item-item path.
    max_linear_items : int
        Largest catalogue for which the n_items^2 matrix is built (20,000 items: 1.6 GB kept in the
        model, about 5 GB at peak while it is computed).
    max_full_softmax_items : int
        Largest catalogue trained with the full multinomial softmax; above it, the sampled softmax.
    n_negatives : int
        Negatives per batch of the sampled softmax (shared by the batch's rows).
    cold_start_rate : float
        Share of training rows whose history is hidden so the model learns context-only scoring.
    patience, val_fraction :
        Early stopping on a validation slice carved from the training data: ``val_fraction`` of users
        each lose 20% of their items to it; 0 turns early stopping off.
    device : str
        "auto", "cpu" or "cuda" (falls back to CPU with a warning).
    precision : str
        "auto" (mixed precision on CUDA, fp32 on CPU), "fp32", "bf16" or "fp16".
    seed : int
        Seeds weights, shuffling and dropout; two CPU fits with one seed give identical scores.
    restarts : int
        Fit seeds ``seed`` .. ``seed + restarts - 1`` and keep the one with the best validation NDCG (all
        judged on the one slice carved with ``seed``); needs ``val_fraction`` > 0.
    restart_combine : {"best", "mean", "select"}
        With ``restarts`` > 1: keep the best fit, or keep all and score with the mean of their scores
        (an ensemble; its validation NDCG is logged beside each fit's), or "select": start from the best
        and average in each other fit, best first, only if the average's validation NDCG rises with it
        (ensemble selection). "mean" costs ``restarts`` times the memory and scoring time.
    checkpoint_dir : str or None
        Folder for a checkpoint after every epoch; ``resume=True`` continues from it.

    Attributes
    ----------
    n_epochs_, best_epoch_ : int
        Epochs run and the epoch whose weights were kept.
    training_curve_ : list of dict
        ``{epoch, epochs, loss, val_ndcg, seconds}`` per epoch.
    context_encoder_ : ContextEncoder
    net_ : ConditionalVAENet
    linear_path_ : bool
        Whether the item-item path was built.
    full_softmax_ : bool
        Whether the decoder was trained with the full softmax (False: sampled softmax).
    linear_mix_ : float or None
        Fusion weight chosen on the validation slice (1.0 without validation; None without the path).
    linear_scale_ : float or None
        Softmax scale ``s`` of the item-item logits (None without the path).
    best_val_ndcg_ : float or None
    device_ : str

    Examples
    --------
    >>> model = ConditionalVAE(epochs=30, device="cpu").fit(interactions)      # doctest: +SKIP
    >>> model.recommend(data, ["C000847"], k=5)                                      # doctest: +SKIP
    >>> new = pd.DataFrame({"user_id": ["new-1"], "segment": ["vip"]})
    >>> model.recommend(data, ["new-1"], k=5, context=new)   # cold start: context only  # doctest: +SKIP

    References
    ----------
    Liang, Krishnan, Hoffman, Jebara. Variational Autoencoders for Collaborative Filtering. WWW 2018.
    Steck. Embarrassingly Shallow Autoencoders for Sparse Data. WWW 2019.
    Shenbin et al. RecVAE. WSDM 2020.
    """

    name = "cvae"

    def __init__(
        self,
        hidden: int = 600,
        latent: int = 200,
        dropout: float = 0.5,
        beta_max: float = 0.2,
        anneal_steps: int | None = None,
        epochs: int = 100,
        batch_size: int = 500,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        context_dim: int = 16,
        linear_path: bool = True,
        linear_l2: float = 500.0,
        max_linear_items: int = 20000,
        max_full_softmax_items: int = 50_000,
        n_negatives: int = 2000,
        cold_start_rate: float = 0.1,
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

    def _own_problems(self) -> list[str]:
        keys = ("hidden", "latent", "max_full_softmax_items", "n_negatives")
        problems = [f"{key}={getattr(self, key)}" for key in keys if int(getattr(self, key)) < 1]
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout={self.dropout}")
        if not 0.0 <= self.cold_start_rate < 1.0:
            problems.append(f"cold_start_rate={self.cold_start_rate}")
        if self.beta_max < 0 or self.lr <= 0 or self.linear_l2 < 0:
            problems.append(f"beta_max={self.beta_max}, lr={self.lr}, linear_l2={self.linear_l2}")
        return problems

    def _use_linear(self, n_items: int) -> bool:
        if self.linear_path and not dense_item_item_allowed(n_items, int(self.max_linear_items)):
            warnings.warn(
                f"{n_items} items is above {dense_limit_text('max_linear_items', self.max_linear_items)}: "
                f"training without the item-item path (for a sparse item-item model, {SPARSE_ALTERNATIVE})",
                RuntimeWarning,
                stacklevel=3,
            )
            return False
        return bool(self.linear_path)

    def _build_net(self, n_items: int, n_context: int, linear: bool, sampled: bool = False) -> ConditionalVAENet:
        dims = (int(self.hidden), int(self.latent), int(self.context_dim))
        return ConditionalVAENet(n_items, n_context, *dims, linear, sparse_input=sampled)

    def item_item_weights(self, matrix: sp.csr_matrix, device: torch.device) -> torch.Tensor:
        """EASE closed form of the item-item path on ``matrix`` (the fit's costliest fixed step)."""
        return ease_weights(matrix, float(self.linear_l2), device)

    def softmax_scale(
        self, weights: torch.Tensor, matrix: sp.csr_matrix, rng: np.random.Generator, device: torch.device
    ) -> float:
        """Scale of the item-item logits fitted on ``matrix`` (:func:`best_softmax_scale`)."""
        return best_softmax_scale(weights, matrix, rng, device)

    def _reusable_linear(self, matrix: sp.csr_matrix) -> tuple[float, float] | None:
        """(scale, mix) of the warm-start model's item-item path when this fit may keep them, else None.

        Kept when that model has the path with the same ``linear_l2``, a known scale, and the items it
        knew carry at least ``WARM_REUSE_MIN_COVERAGE`` of ``matrix``'s entries (the catalogue barely changed).
        """
        previous = self.warm_source
        if previous is None or not self.linear_path_ or not getattr(previous, "linear_path_", False):
            return None
        scale, mix = getattr(previous, "linear_scale_", None), previous.linear_mix_
        if scale is None or mix is None or float(previous.linear_l2) != float(self.linear_l2):
            return None
        known = previous.item_positions(self.item_ids_, strict=False) >= 0
        coverage = float(np.diff(matrix.tocsc().indptr)[known].sum()) / max(matrix.nnz, 1)
        return (float(scale), float(mix)) if coverage >= WARM_REUSE_MIN_COVERAGE else None

    def _fit(self, data: Interactions, progress: Callable[[dict], None] | None) -> None:
        fit = self.prepare_fit(data)
        matrix, train, device, rng = fit.matrix, fit.train, fit.device, fit.rng
        self.linear_path_ = self._use_linear(matrix.shape[1])
        self.full_softmax_ = matrix.shape[1] <= int(self.max_full_softmax_items)
        net = self._build_net(matrix.shape[1], fit.n_context, self.linear_path_, not self.full_softmax_).to(device)
        # negatives by the training slice's popularity (validation items never shape the proposal)
        log_q = (
            None
            if self.full_softmax_
            else popularity_log_q(np.bincount(train.indices, minlength=train.shape[1])).to(device)
        )
        warm = self.warm_load({"net": net})
        kept = self._reusable_linear(matrix) if warm else None
        mixes = MIX_GRID
        if kept is not None:
            # warm_load grew the old W into item_item; its validation items partly overlap the old data,
            # so the fusion weight is not re-chosen on it
            scale, mix = kept
            net.linear_weight.fill_(scale)
            mixes = (mix,)
        elif self.linear_path_:  # closed form on the training slice, so validation never sees its items
            net.item_item.copy_(self.item_item_weights(train, device))
            scale = self.softmax_scale(net.item_item, train, rng, device)
            net.linear_weight.fill_(scale)
        n_rows = int((np.diff(train.indptr) > 0).sum())
        steps = int(self.anneal_steps) if self.anneal_steps else int(self.epochs) * -(-n_rows // int(self.batch_size))
        if warm:
            steps = 1  # the warm-start model is already annealed: the KL weight starts at beta_max
        task = _CVAETask(net, self, steps, fit.context is not None, mixes=mixes, log_q=log_q)
        report = run_training(
            task, train, fit.settings, context=fit.context, validation=fit.validation, progress=progress, rng=rng
        )
        net.eval()
        self.linear_mix_ = self.linear_scale_ = None
        if self.linear_path_:
            chosen = 1.0 if report.best_variant is None else float(report.best_variant)
            self.linear_mix_ = kept[1] if kept is not None else chosen
            self.linear_scale_ = scale  # as validated, until the refresh below
            net.linear_weight.fill_(self.linear_mix_ * scale)

            def refresh() -> None:  # the final item-item path also learns from the items held out for validation
                net.item_item.copy_(self.item_item_weights(matrix, device))
                self.linear_scale_ = (
                    scale if kept is not None else self.softmax_scale(net.item_item, matrix, rng, device)
                )
                net.linear_weight.fill_(self.linear_mix_ * self.linear_scale_)

            self.after_validation(refresh)
        self.net_ = net
        self.record_report(report)

    # --- scoring ------------------------------------------------------------------------------
    def score_batch(self, history: sp.csr_matrix, context: pd.DataFrame | None = None) -> torch.Tensor:
        """Logits (rows, n_items) from the encoder mean: no sampling, no dropout."""
        x, ctx = self.model_inputs(history, context)
        with torch.inference_mode():
            return self.net_.logits(x, ctx)

    def item_vectors(self) -> np.ndarray:
        """Decoder output weights: one row per item."""
        self.check_fitted()
        return self.net_.dec_out.weight.detach().cpu().numpy()

    # --- warm start and saving -----------------------------------------------------------------
    def _networks(self) -> dict[str, nn.Module]:
        return {"net": self.net_}

    def _warm_layout(self) -> tuple[dict[str, tuple], frozenset]:
        layout = {
            "net.context.weight": (None, ("context",)),
            "net.enc_items.weight": (None, ("items",)),
            "net.dec_out.weight": (("items",), None),
            "net.dec_out.bias": (("items",),),
            "net.item_item": (("items",), ("items",)),
        }
        return layout, frozenset({"net.dec_out.weight", "net.dec_out.bias"})

    def _state(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy() for k, v in self.net_.state_dict().items()}

    def _own_meta(self) -> dict:
        return {
            "linear_path": bool(self.linear_path_),
            "full_softmax": bool(self.full_softmax_),
            "linear_mix": self.linear_mix_,
            "linear_scale": self.linear_scale_,
        }

    def _load_networks(self, state: dict[str, np.ndarray], meta: dict, device: str) -> None:
        self.linear_path_ = bool(meta["linear_path"])
        self.linear_mix_ = meta.get("linear_mix")
        self.full_softmax_ = bool(meta.get("full_softmax", True))
        n_items, n_context = len(self.item_ids_), self.context_encoder_.n_features_
        net = self._build_net(n_items, n_context, self.linear_path_, not self.full_softmax_)
        net.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state.items()})
        self.net_ = net.to(device).eval()
        self.linear_scale_ = meta.get("linear_scale")
        if self.linear_scale_ is None and self.linear_path_ and self.linear_mix_:
            # saved before the scale was recorded: the buffer holds mix * scale
            self.linear_scale_ = float(net.linear_weight) / float(self.linear_mix_)
