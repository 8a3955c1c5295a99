"""SASRec network (causal self-attention over an item sequence), trained SASRec+ style.

The module holds only the network; batching and the loss live in plain functions next to it so
that a future ``Recommender`` wrapper can own the data loader. Item indices inside the net are
``1..n_items``; ``0`` is padding. Sequences are left-padded, so the last column is the most recent
item, and learned positions count back from the end (the last item is position 0), which makes the
embedding of a position independent of how much padding a batch carries.

Losses (Klenitskiy & Vasilev, RecSys 2023): full-softmax cross-entropy over the whole catalogue at
every non-pad position (``full_ce_loss``); for large catalogues a sampled softmax with logQ
correction (``sampled_softmax_loss``). ``train_step`` picks one by catalogue size.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aigc_biz.models.sampled_softmax import draw_negatives, sampled_softmax_nll

#: above this many items ``train_step`` uses the sampled softmax instead of the full one
SAMPLED_SOFTMAX_THRESHOLD = 50_000


class _Dropout(nn.Module):
    """Inverted dropout from a uint8 random draw: same result as ``nn.Dropout`` (p rounded to 1/256)
    at a fraction of its CPU cost, which dominated a training step here."""

    def __init__(self, p: float):
        super().__init__()
        self.p, self.cut = p, round(p * 256)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.cut == 0:
            return x
        keep = torch.randint(0, 256, x.shape, dtype=torch.uint8, device=x.device) >= self.cut
        return x * keep * (256.0 / (256 - self.cut))


class _Block(nn.Module):
    """One Transformer block: self-attention + position-wise FFN (GELU), pre-LN or post-LN."""

    def __init__(self, d: int, heads: int, dropout: float, attn_dropout: float, pre_ln: bool):
        super().__init__()
        if d % heads:
            raise ValueError(f"hidden {d} is not divisible by heads {heads}")
        self.h, self.pre_ln, self.p = heads, pre_ln, attn_dropout
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), _Dropout(dropout), nn.Linear(4 * d, d))
        self.ln1, self.ln2, self.drop = nn.LayerNorm(d), nn.LayerNorm(d), _Dropout(dropout)

    def _attn(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.p if self.training else 0.0)
        return self.drop(self.out(y.transpose(1, 2).reshape(b, length, d)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pre_ln:
            x = x + self._attn(self.ln1(x), mask)
            return x + self.drop(self.ff(self.ln2(x)))
        x = self.ln1(x + self._attn(x, mask))
        return self.ln2(x + self.drop(self.ff(x)))

    def forward_last(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``forward(x, mask)[:, -1:]`` computed for the last position only (keys and values still see
        every position): the out-projection and FFN, two thirds of the block, run on one row per sequence."""
        b, length, d = x.shape
        h = self.ln1(x) if self.pre_ln else x
        q, k, v = self.qkv(h).view(b, length, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q[:, :, -1:], k, v, attn_mask=mask[:, :, -1:])
        x = x[:, -1:] + self.out(y.transpose(1, 2).reshape(b, 1, d))
        if self.pre_ln:
            return x + self.ff(self.ln2(x))
        x = self.ln1(x)
        return self.ln2(x + self.ff(x))


class SASRecNet(nn.Module):
    """Causal Transformer over item ids; ``forward`` returns hidden states ``(B, L, hidden)``.

    ``context_dim``: when set, ``forward(seq, context)`` adds ``Linear(context)`` (one vector per
    sequence, e.g. user attributes) to every position. Scores tie to the item embedding.
    ``attn_dropout`` (dropout on the attention weights) is off by default: it forces the unfused
    attention path and costs more CPU time than the rest of the block.
    """

    def __init__(
        self,
        n_items: int,
        max_len: int = 200,
        hidden: int = 64,
        blocks: int = 2,
        heads: int = 1,
        dropout: float = 0.2,
        attn_dropout: float = 0.0,
        pre_ln: bool = True,
        context_dim: int | None = None,
    ):
        super().__init__()
        self.n_items, self.max_len = n_items, max_len
        self.item_emb = nn.Embedding(n_items + 1, hidden, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, hidden)
        self.ctx = nn.Linear(context_dim, hidden) if context_dim else None
        self.emb_drop = _Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(hidden, heads, dropout, attn_dropout, pre_ln) for _ in range(blocks))
        self.final_ln = nn.LayerNorm(hidden) if pre_ln else nn.Identity()
        nn.init.normal_(self.item_emb.weight, std=hidden**-0.5)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def forward(self, seq: torch.Tensor, context: torch.Tensor | None = None, last_only: bool = False) -> torch.Tensor:
        """Hidden states ``(B, L, hidden)``; with ``last_only`` (inference), ``(B, 1, hidden)`` of the last
        position, the final block computed for that position alone."""
        b, length = seq.shape
        if length > self.max_len:
            raise ValueError(f"sequence length {length} > max_len {self.max_len}; use pad_sequences")
        valid = seq > 0
        pos = torch.arange(length - 1, -1, -1, device=seq.device)  # distance from the last column
        x = self.item_emb(seq) * math.sqrt(self.item_emb.embedding_dim) + self.pos_emb(pos)
        if context is not None:
            if self.ctx is None:
                raise ValueError("context given but the net was built without context_dim")
            x = x + self.ctx(context)[:, None, :]
        x = self.emb_drop(x) * valid[..., None]
        # causal & key-not-pad; the diagonal stays open so that all-pad rows do not turn into NaN
        eye = torch.eye(length, dtype=torch.bool, device=seq.device)
        causal = torch.ones(length, length, dtype=torch.bool, device=seq.device).tril()
        mask = (causal & (valid[:, None, :] | eye))[:, None]  # (B, 1, L, L)
        for i, blk in enumerate(self.blocks):
            if last_only and i == len(self.blocks) - 1:
                x = blk.forward_last(x, mask) * valid[:, -1:, None]
            else:
                x = blk(x, mask) * valid[..., None]
        return self.final_ln(x)

    def item_weights(self) -> torch.Tensor:
        """Output-head weights for items 1..n_items (row i-1 = item i); the pad row is left out."""
        return self.item_emb.weight[1:]

    def score_last(self, seq: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``(B, n_items)`` of the next item after each (left-padded) sequence; column j = item j+1."""
        return self.forward(seq, context, last_only=not self.training)[:, -1] @ self.item_weights().T


def pad_sequences(seqs: Sequence[Sequence[int]], max_len: int) -> torch.Tensor:
    """Left-pad with 0 to the longest sequence (at most ``max_len``), keeping the last ``max_len`` items."""
    width = min(max_len, max((len(s) for s in seqs), default=0)) or 1
    out = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        s = np.asarray(s[-width:], dtype=np.int64)
        if len(s):
            out[i, width - len(s) :] = s
    return torch.from_numpy(out)


def full_ce_loss(net: SASRecNet, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean softmax CE over all items at every position whose target is not 0 (pads are gathered out
    before the head, so the ``(N, n_items)`` logits only exist for real positions)."""
    keep = targets > 0
    return F.cross_entropy(h[keep] @ net.item_weights().T, targets[keep] - 1)


def sampled_softmax_loss(
    net: SASRecNet,
    h: torch.Tensor,
    targets: torch.Tensor,
    n_neg: int,
    log_q: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sampled softmax with logQ correction: ``n_neg`` negatives, shared by the batch, drawn with
    replacement from ``q`` (``log_q``: log-probabilities of items 1..n_items; uniform when None).
    Negative logits get ``-log(n_neg * q)``, negatives equal to the row's target are masked, so
    ``logsumexp`` estimates the full log-partition and the loss approaches ``full_ce_loss`` as
    ``n_neg`` grows (the shared implementation: :mod:`aigc_biz.models.sampled_softmax`)."""
    keep = targets > 0
    n = net.n_items
    if log_q is None:
        log_q = torch.full((n,), -math.log(n), device=h.device)
    negatives = draw_negatives(log_q, n_neg, generator)
    return sampled_softmax_nll(h[keep], net.item_weights(), targets[keep] - 1, negatives, log_q).mean()


def train_step(
    net: SASRecNet,
    opt: torch.optim.Optimizer,
    seq: torch.Tensor,
    targets: torch.Tensor,
    context: torch.Tensor | None = None,
    n_neg: int = 3000,
    log_q: torch.Tensor | None = None,
    threshold: int = SAMPLED_SOFTMAX_THRESHOLD,
    autocast_bf16: bool = False,
) -> float:
    """One optimiser step on a batch (``seq``/``targets`` both ``(B, L)``, targets = next item, 0 = no
    target). Full softmax CE up to ``threshold`` items, sampled softmax with logQ above."""
    net.train()
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast_bf16):
        h = net(seq, context)
        if net.n_items > threshold:
            loss = sampled_softmax_loss(net, h, targets, n_neg, log_q)
        else:
            loss = full_ce_loss(net, h, targets)
    loss.backward()
    opt.step()
    return float(loss.detach())
