"""Pieces the diffusion recommenders share: the Gaussian noise schedule of DiffRec, importance-sampled
steps, sinusoidal step embeddings and the cold-start masking of training rows."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

#: losses remembered per step before importance sampling starts (DiffRec's ``history_num_per_term``)
LOSS_HISTORY = 10
#: share of uniform sampling mixed into the importance weights, so no step is starved
UNIFORM_SHARE = 0.001


def timestep_embedding(steps: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embeddings (len(steps), dim) of integer steps (cos half, then sin half)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=steps.device) / half)
    angles = steps.float()[:, None] * freqs[None]
    out = torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)
    if dim % 2:
        out = torch.cat([out, torch.zeros_like(out[:, :1])], dim=1)
    return out


class GaussianSchedule(nn.Module):
    """DiffRec's forward process ``q(x_t | x_0) = N(sqrt(a_t) x_0, (1 - a_t) I)`` with a "linear-var"
    schedule: ``1 - a_t`` rises linearly from ``scale * noise_min`` to ``scale * noise_max`` over ``steps``.

    The buffers are derived from the four numbers, so they are rebuilt, never loaded. ``step_losses``
    is the per-step loss history the importance sampler reads (``LOSS_HISTORY`` per step).
    """

    def __init__(self, steps: int, scale: float, noise_min: float, noise_max: float):
        super().__init__()
        self.steps = int(steps)
        variance = float(scale) * np.linspace(noise_min, noise_max, self.steps, dtype=np.float64)
        alpha_bar = 1.0 - variance
        betas = np.empty(self.steps)
        betas[0] = 1.0 - alpha_bar[0]
        betas[1:] = np.minimum(1.0 - alpha_bar[1:] / alpha_bar[:-1], 0.999)
        betas[0] = 1e-5  # the first step's variance fixed small, as DiffRec does (Sohl-Dickstein et al. 2.4.1)
        alphas = 1.0 - betas
        cum = np.cumprod(alphas)
        prev = np.concatenate([[1.0], cum[:-1]])
        with np.errstate(divide="ignore", invalid="ignore"):
            coef_x0 = np.nan_to_num(betas * np.sqrt(prev) / (1.0 - cum))
            coef_xt = np.nan_to_num((1.0 - prev) * np.sqrt(alphas) / (1.0 - cum))
            snr = np.nan_to_num(cum / (1.0 - cum), posinf=1e12)
        for name, value in (
            ("sqrt_cum", np.sqrt(cum)),
            ("sqrt_one_minus_cum", np.sqrt(1.0 - cum)),
            ("coef_x0", coef_x0),
            ("coef_xt", coef_xt),
            ("snr", snr),
        ):
            self.register_buffer(name, torch.as_tensor(value, dtype=torch.float32), persistent=False)
        self.register_buffer("step_losses", torch.zeros(self.steps, LOSS_HISTORY))
        self.register_buffer("step_counts", torch.zeros(self.steps, dtype=torch.long))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.sqrt_cum[t, None] * x0 + self.sqrt_one_minus_cum[t, None] * noise

    def posterior_mean(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Mean of ``q(x_{t-1} | x_t, x_0)``: the deterministic reverse step given a predicted ``x_0``."""
        return self.coef_x0[t, None] * x0 + self.coef_xt[t, None] * xt

    def loss_weight(self, t: torch.Tensor) -> torch.Tensor:
        """DiffRec's x0 reweighting ``SNR(t-1) - SNR(t)`` (1 at the first step)."""
        prev = self.snr[(t - 1).clamp(min=0)]
        return torch.where(t == 0, torch.ones_like(prev), prev - self.snr[t])

    def sample_steps(self, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Steps for a batch and their relative probabilities ``p_t * steps`` (the loss is divided by it).

        Uniform until every step has ``LOSS_HISTORY`` losses, then proportional to the root mean square
        of each step's recent losses (Nichol & Dhariwal 2021), as DiffRec trains.
        """
        if bool((self.step_counts < LOSS_HISTORY).any()):
            t = torch.randint(0, self.steps, (n,), device=device)
            return t, torch.ones(n, device=device)
        weights = self.step_losses.pow(2).mean(dim=1).sqrt()
        probs = weights / weights.sum() * (1.0 - UNIFORM_SHARE) + UNIFORM_SHARE / self.steps
        t = torch.multinomial(probs, n, replacement=True)
        return t, probs[t] * self.steps

    @torch.no_grad()
    def record(self, t: torch.Tensor, losses: torch.Tensor) -> None:
        """Remember each row's (weighted, not yet importance-divided) loss under its step: the last
        ``LOSS_HISTORY`` per step, in batch order (DiffRec's ``Lt_history``)."""
        steps = t.detach().cpu().numpy()
        values = losses.detach().float().cpu()
        for step in np.unique(steps):
            count = int(self.step_counts[step])
            kept = torch.cat([self.step_losses[step, :count].cpu(), values[steps == step]])[-LOSS_HISTORY:]
            self.step_losses[step, : len(kept)] = kept.to(self.step_losses.device)
            self.step_counts[step] = len(kept)

    def reverse(self, denoise, x: torch.Tensor, start_step: int) -> torch.Tensor:
        """Deterministic reverse chain from ``x`` (the history, noised ``start_step`` steps when > 0):
        at each step the denoiser predicts ``x_0`` and the chain moves to the posterior mean."""
        if start_step > 0:
            # the mean of q(x_t | x_0): scoring stays deterministic
            x = self.sqrt_cum[start_step - 1] * x
        for step in range(self.steps - 1, -1, -1):
            t = torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)
            x0 = denoise(x, t)
            x = self.posterior_mean(x0, x, t)
        return x


def hide_rows(
    x: torch.Tensor, context: torch.Tensor | None, rate: float, unknown: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Training rows with the history hidden for a ``rate`` share (learn p(items | context) for new
    customers) and, independently, the context replaced by ``unknown`` for as many (score customers whose
    attributes are missing from their history). A no-op without context or with ``rate`` 0."""
    if context is None or rate <= 0:
        return x, context
    keep = (torch.rand(x.shape[0], 1, device=x.device) >= rate).to(x.dtype)
    hide = torch.rand(x.shape[0], 1, device=x.device) < rate
    return x * keep, torch.where(hide, unknown.expand_as(context), context)
