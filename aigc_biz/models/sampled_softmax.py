"""Sampled softmax with logQ correction: the training loss of the neural models on large catalogues.

A full softmax needs logits for every item at every training row: ``rows x n_items`` floats and the same
again for the gradient, the cost that grows with the catalogue. The sampled softmax (Jean et al. 2015;
Bengio & Senecal 2008) scores each target against the target itself plus ``n_neg`` negatives shared by
the batch, drawn from a proposal ``q``; the negatives' logits get ``-log(n_neg * q)`` so that their
``logsumexp`` estimates the full log-partition, and a negative equal to the row's target is masked.
Only the output weights of the target and sampled columns are read (the weight matrix is indexed, never
multiplied whole), so a training step costs ``rows x (targets + n_neg)`` whatever the catalogue size.

One implementation for SASRec (one target per position) and the CVAE decoder (several positives per
customer, each its own target over the customer's hidden state). With every item drawn once under a
uniform ``q`` (``negatives=arange(n)``) the loss is exactly the full softmax cross-entropy.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def popularity_log_q(item_counts: np.ndarray) -> torch.Tensor:
    """Log-probabilities of drawing each item as a negative: its count plus one (every item can be
    drawn), normalised. Popular items are the hard negatives a uniform draw would rarely show."""
    counts = np.asarray(item_counts, dtype=np.float64) + 1.0
    return torch.from_numpy(np.log(counts / counts.sum()).astype(np.float32))


def draw_negatives(log_q: torch.Tensor, n_neg: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n_neg`` item indices drawn with replacement from ``exp(log_q)`` (entries at -inf never drawn)."""
    return torch.multinomial(log_q.exp(), int(n_neg), replacement=True, generator=generator)


def sampled_softmax_nll(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    negatives: torch.Tensor,
    log_q: torch.Tensor | None = None,
    *,
    bias: torch.Tensor | None = None,
    rows: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-target negative log-likelihood ``(n_targets,)`` of the sampled softmax with logQ correction.

    Parameters
    ----------
    hidden : tensor (n_rows, d)
        The hidden state each target is scored from.
    weight : tensor (n_items, d)
        Output weights (item ``i``'s logit is ``hidden @ weight[i] + bias[i]``); only the target and
        negative rows are read.
    targets : long tensor (n_targets,)
        Item index of each target.
    negatives : long tensor (n_neg,)
        The shared negatives, drawn from ``exp(log_q)`` (:func:`draw_negatives`).
    log_q : tensor (n_items,), optional
        Log-probabilities the negatives were drawn with; None: uniform.
    bias : tensor (n_items,), optional
        Output bias.
    rows : long tensor (n_targets,), optional
        Row of ``hidden`` each target belongs to; None: target ``t`` belongs to row ``t``.
    """
    n_items, n_neg = weight.shape[0], negatives.shape[0]
    if log_q is None:
        correction = torch.full((n_neg,), math.log(n_neg) - math.log(n_items), device=hidden.device)
    else:
        correction = math.log(n_neg) + log_q[negatives]
    h_target = hidden if rows is None else hidden[rows]
    pos_logit = (h_target * weight[targets]).sum(-1, keepdim=True)
    neg_logit = hidden @ weight[negatives].T - correction
    if bias is not None:
        pos_logit = pos_logit + bias[targets][:, None]
        neg_logit = neg_logit + bias[negatives]
    if rows is not None:
        neg_logit = neg_logit[rows]
    neg_logit = neg_logit.masked_fill(negatives[None, :] == targets[:, None], float("-inf"))
    logits = torch.cat([pos_logit, neg_logit], dim=1)
    return F.cross_entropy(logits, torch.zeros(len(targets), dtype=torch.long, device=hidden.device), reduction="none")
