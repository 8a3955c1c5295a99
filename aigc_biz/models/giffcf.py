"""GiffCF (Zhu et al., SIGIR 2024): graph signal diffusion. The forward process smooths a customer's
history over the item-item graph as the heat equation would; a denoiser conditioned on the history
sharpens it back, step by step, deterministically."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from scipy.sparse.linalg import svds
from torch import nn

from aigc_biz.data.interactions import Interactions
from aigc_biz.models.diffusion import hide_rows
from aigc_biz.models.large_catalogue import dense_item_item_allowed
from aigc_biz.models.large_catalogue import sparse_times as times
from aigc_biz.models.training import (
    TorchRecommender,
    TrainingRuntime,
    TrainingTask,
    load_modules_state,
    modules_state,
    run_training,
)


def normalised_adjacency(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """GiffCF's ``D_u^{-1/4} R D_i^{-1/2}`` of the binary history (customers or items without any
    interaction get zero rows/columns); the item graph is its Gram matrix."""
    binary = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    binary.data[:] = 1.0
    user_deg = np.asarray(binary.sum(axis=1)).ravel()
    item_deg = np.asarray(binary.sum(axis=0)).ravel()
    with np.errstate(divide="ignore"):
        left = np.where(user_deg > 0, user_deg**-0.25, 0.0)
        right = np.where(item_deg > 0, item_deg**-0.5, 0.0)
    return sp.csr_matrix(sp.diags(left) @ binary @ sp.diags(right))


def truncated_eigen(adjacency: sp.csr_matrix, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` eigenpairs of the item graph ``A^T A``: the squared singular values of ``A`` and its right
    singular vectors (items x k), largest first (GiffCF's ``compute_eigen``)."""
    n_items = adjacency.shape[1]
    k = max(1, min(int(k), n_items))
    if k >= min(adjacency.shape) - 1:
        # too small for ARPACK (k must be below min(shape)): the dense decomposition of the graph
        values, vectors = np.linalg.eigh((adjacency.T @ adjacency).toarray())
        order = np.argsort(values)[::-1][:k]
        return np.clip(values[order], 0, None), vectors[:, order]
    v0 = np.random.default_rng(seed).standard_normal(min(adjacency.shape))
    _, sigma, vt = svds(adjacency, k=k, v0=v0)
    order = np.argsort(sigma)[::-1]
    vectors = vt[order].T
    # a singular vector's sign is arbitrary; fix it so refits give identical buffers
    vectors = vectors * np.where(vectors[np.abs(vectors).argmax(axis=0), np.arange(k)] < 0, -1.0, 1.0)
    return sigma[order] ** 2, vectors.reshape(n_items, k)


class HeatGraph(nn.Module):
    """The item graph in the form scoring needs, built once per fit and saved with the model.

    ``graph`` (items x items, divided by its largest eigenvalue) when the catalogue is at most
    ``max_dense_items``; otherwise the top ``n_eigen`` eigenpairs stand in for it (memory items x
    n_eigen). ``vectors``/``values`` (values divided by the largest) also give the ideal low-pass filter
    on the first ``cutoff`` eigenvectors.
    """

    def __init__(self, n_items: int, dense: bool, n_vectors: int):
        super().__init__()
        self.dense = bool(dense)
        self.register_buffer("graph", torch.zeros(n_items, n_items) if dense else torch.zeros(0))
        self.register_buffer("vectors", torch.zeros(n_items, n_vectors))
        self.register_buffer("values", torch.zeros(n_vectors))

    @torch.no_grad()
    def build(self, matrix: sp.csr_matrix, seed: int) -> "HeatGraph":
        adjacency = normalised_adjacency(matrix)
        values, vectors = truncated_eigen(adjacency, self.vectors.shape[1], seed)
        top = float(values[0]) if len(values) and values[0] > 0 else 1.0
        device = self.vectors.device
        self.vectors.copy_(torch.as_tensor(vectors, dtype=torch.float32, device=device))
        self.values.copy_(torch.as_tensor(values / top, dtype=torch.float32, device=device))
        if self.dense:
            gram = (adjacency.T @ adjacency).toarray() / top
            self.graph.copy_(torch.as_tensor(gram, dtype=torch.float32, device=device))
        return self

    def propagate(self, x: torch.Tensor, sparse: bool = False) -> torch.Tensor:
        """``x`` times the normalised item graph (exact, or through the kept eigenpairs); ``sparse`` when
        ``x`` is mostly zeros (a history), so only its nonzero entries are gathered."""
        if self.dense:
            return times(x, self.graph, sparse)
        return (times(x, self.vectors, sparse) * self.values) @ self.vectors.T

    def ideal(self, x: torch.Tensor, cutoff: int, sparse: bool = False) -> torch.Tensor:
        """Projection of ``x`` on the first ``cutoff`` eigenvectors: an ideal low-pass filter."""
        vectors = self.vectors[:, :cutoff]
        return times(x, vectors, sparse) @ vectors.T


class StepScalar(nn.Module):
    """GiffCF's step embedding: sinusoids of the step (width 20) -> swish layer -> one number."""

    def __init__(self, n_steps: int, width: int = 20):
        super().__init__()
        scales = np.power(10000.0, -np.arange(0, width, 2) / width)
        angles = np.arange(n_steps + 1)[:, None] * scales[None, :]
        table = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
        self.register_buffer("table", torch.as_tensor(table, dtype=torch.float32), persistent=False)
        self.hidden = _glorot(nn.Linear(width, width))
        self.out = _glorot(nn.Linear(width, 1))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.out(F.silu(self.hidden(self.table[t])))


class Mixer(nn.Module):
    """Element-wise mix of stacked signals: (..., k) -> swish layer of ``width`` (GiffCF's SimpleMixer: 2) -> one
    value."""

    def __init__(self, n_inputs: int, width: int = 2):
        super().__init__()
        self.hidden = _glorot(nn.Linear(n_inputs, width))
        self.out = _glorot(nn.Linear(width, 1))

    def forward(self, *signals: torch.Tensor) -> torch.Tensor:
        """Signals of one shape, or (rows, 1) columns that broadcast (the step scalars)."""
        shape = torch.broadcast_shapes(*(signal.shape for signal in signals))
        stacked = torch.stack([signal.expand(shape) for signal in signals], dim=-1)
        return self.out(F.silu(self.hidden(stacked))).squeeze(-1)


def _glorot(layer: nn.Linear) -> nn.Linear:
    """Keras' Dense init (Glorot-uniform weights, zero biases), as the reference implementation."""
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class GiffDenoiser(nn.Module):
    """Predicts the history ``x`` from the smoothed ``z_t``, the history condition ``c`` and its smoothed
    ``Ac``: an item-embedding encoder/decoder whose code mixes ``z_t``, ``c`` (plus the customer's
    context embedding) and a step scalar, then an element-wise mix of the decoded scores with ``c``,
    ``Ac`` and a second step scalar."""

    def __init__(
        self,
        n_items: int,
        dim: int,
        n_steps: int,
        n_context: int,
        context_dim: int,
        *,
        init_scale: float,
        mixer_width: int,
    ):
        super().__init__()
        self.n_items = n_items
        bound = float(init_scale) * float(np.sqrt(6.0 / (n_items + dim)))
        self.item_embed = nn.Parameter(torch.empty(n_items, dim).uniform_(-bound, bound))
        self.step_code = StepScalar(n_steps)
        self.step_score = StepScalar(n_steps)
        self.code_mixer = Mixer(3, mixer_width)
        self.score_mixer = Mixer(4, mixer_width)
        # context enters the code beside the history; zero at start so it only learns what history lacks
        self.context = nn.Linear(n_context, dim, bias=False) if n_context and context_dim else None
        if self.context is not None:
            nn.init.zeros_(self.context.weight)

    def forward(
        self, z_t: torch.Tensor, c: torch.Tensor, ac: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None
    ) -> torch.Tensor:
        z_code = (z_t / self.n_items) @ self.item_embed
        c_code = times(c / c.abs().sum(dim=1, keepdim=True).clamp(min=1.0), self.item_embed, sparse=True)
        if context is not None and self.context is not None:
            c_code = c_code + self.context(context)
        code = self.code_mixer(z_code, c_code, self.step_code(t))
        scores = code @ self.item_embed.T
        return self.score_mixer(scores, c, ac, self.step_score(t))


class _GiffTask(TrainingTask):
    def __init__(self, denoiser: GiffDenoiser, graph: HeatGraph, model: "GiffCF", unknown):
        self.denoiser, self.graph, self.model, self.unknown = denoiser, graph, model, unknown
        self.modules = {"denoiser": denoiser}
        self.optimizers = {
            "adam": torch.optim.Adam(denoiser.parameters(), lr=model.lr, weight_decay=model.weight_decay)
        }

    def train_batch(self, batch, context, runtime: TrainingRuntime, step: int) -> float:
        model = self.model
        x = (batch > 0).float()
        # with context_dim=0 the attributes are ignored, so no row loses its history for them
        rate = model.cold_start_rate if self.denoiser.context is not None else 0.0
        x_in, context = hide_rows(x, context, rate, self.unknown)
        T = int(model.steps)
        t = torch.randint(1, T + 1, (x.shape[0],), device=x.device)
        z_t = model.forward_process(self.graph, x_in, t, model.smooth(self.graph, x_in, sparse=True))
        if model.noise_scale > 0:
            z_t = z_t + model.noise_sigma(t)[:, None] * torch.randn_like(z_t)
        c = F.dropout(x_in, p=model.dropout, training=True)
        ac = model.smooth(self.graph, c, sparse=True)
        with runtime.autocast():
            predicted = self.denoiser(z_t, c, model.condition_smooth(c, ac), t, context)
        loss = (x - predicted.float()).pow(2).sum(dim=1).mean()
        runtime.step(loss, self.optimizers["adam"])
        return float(loss.detach())

    def score(self, batch, context):
        return self.model.reverse(self.denoiser, self.graph, (batch > 0).float(), context)


class GiffCF(TorchRecommender):
    """GiffCF, the graph signal diffusion model (Zhu et al., SIGIR 2024).

    The item graph is ``G = A^T A`` with ``A = D_u^{-1/4} R D_i^{-1/2}`` (R the binary history), divided
    by its largest eigenvalue; smoothing a signal is ``s(x) = x G`` (optionally mixed with an ideal
    low-pass filter on the first ``ideal_cutoff`` eigenvectors, weight ``ideal_weight``). The forward
    process is one explicit Euler step of the heat equation of length ``alpha * t / T``:
    ``z_t = x + alpha * t / T * (s(x) - x)`` for t = 1..T (no Gaussian noise unless ``noise_scale``).
    The denoiser, conditioned on the (dropped-out) history ``c`` and ``s(c)``, predicts ``x`` under a
    squared loss. Scoring runs the reverse chain deterministically from ``z_T`` of the history: at each
    step t -> t-1 the denoiser predicts ``x``, the chain moves to ``z_{t-1}`` of that prediction plus
    ``noise_decay`` times the part of ``z_t`` the prediction did not explain. The final estimate
    scores every item.

    The graph is computed once per fit (on the training slice while validating, then on all of the
    data) together with a truncated eigendecomposition (scipy's ``svds`` of A), and both are cached in
    the fitted model and its saved folder: scoring and loading never recompute them. Up to
    ``max_dense_items`` items the graph is kept whole (items^2 floats); beyond, the top ``n_eigen``
    eigenpairs stand in for it (items x n_eigen floats), which keeps the low frequencies the heat
    equation preserves and drops the high ones it damps anyway.

    Defaults are GiffCF's published ML-1M configuration (``configs/movielens.toml`` of the authors'
    repository, which produced its "updated code" NDCG@20 of 0.1272): embedding 200, T = 3, alpha = 1.5,
    ideal_weight 0 (the ML-1M run uses the graph alone; its Yelp run adds the ideal filter at 0.2), no
    Gaussian noise, noise_decay 0.5, condition dropout 0.5, Adam lr 1e-3, batch 100, with two changes,
    both chosen on the split's ``valid_list`` (never on its test lists):

    - **mixers of 8 hidden units, not 2** (``mixer_width``). With the reference's 2, the denoiser sits on a
      plateau (it ranks by the condition and its smoothing alone) for a number of epochs that depends on
      the seed, and some seeds never leave it: of seven seeds, three reached a valid_list NDCG@20 of
      0.106 within 300 epochs, one (seed 1) peaked at 0.101 at epoch 8 and fell back onto the plateau,
      and three stayed at or below 0.099 (seed 4: 0.089). With 8 units those three and seed 1 left it
      (seed 0 by epoch ~20 instead of ~100) and reached 0.1050 / 0.0958 (still rising at epoch 150) /
      0.1031 / 0.1078 for seeds 0 / 4 / 6 / 1; a seed can then overfit (seed 1 fell to 0.099 by epoch
      150), which early stopping on validation is there to catch. On the test lists seed 0 alone, through the
      CLI, scored NDCG@20 0.1231 against 0.1095 with 2 units. A training epoch costs ~25 % more.
    - **at most 300 epochs** with a patience of 100, against the authors' 1000 validated every 10 with a
      patience of 200: no valid_list curve improved after epoch 300 (seed 2's best was at 293 and fell
      by 0.0065 over the next 60 epochs), while the slice carved from the training data, which early
      stopping watches here, keeps rewarding longer training. The long patience matters, since a short
      one stops the denoiser on its plateau.

    The seed still matters: as the authors advise, try a few and keep the one that validates best.
    ``restarts=4`` does that on the carved validation; on ML-1M with 2-unit mixers it kept seed 2 and
    scored NDCG@20 0.1257 on the test lists at 300 epochs. With 8-unit mixers only one of four seeds
    (seed 2) stayed on the plateau, and the carve put the other three within 0.0021 of each other
    (0.3337 / 0.3358 / 0.3340): it kept seed 1, which scored 0.1199 on the test lists against seed 0's
    0.1231. So restarts now guard against a stuck seed rather than find a better one, and stay off by
    default, since each multiplies the fit time. Averaging the four fits (``restart_combine=mean``)
    scored 0.1244 (8 units) and 0.1245 (2 units) on the test lists: no better than the best single
    fits. ``restart_combine=select`` averages in only the fits that raise the carved NDCG: with 2-unit
    mixers none did, so seed 2 scored alone (0.1257); with 8 units seed 3 joined seed 1 (0.1221).
    A carve twice as large (``val_fraction=0.2``) picked the same 2-unit seed (0.1252) and again could not
    separate the good 8-unit seeds (within 0.0022; 0.1221).
    ``init_scale`` widens the embedding's initialisation,
    which also shortens the plateau with 2-unit mixers but lifted fewer seeds (seed 4 to 0.100, seed 0 to
    0.100, seeds 1 and 6 not at all). A training epoch on ML-1M takes 5.4 s (2 units) or 6.7 s (8 units)
    on one AMD EPYC core, validation aside (see bench/RESULTS.md).

    Customer attributes condition the denoiser: their embedding is added to the history's code (a new
    customer with no history is scored from it), with ``cold_start_rate`` of training rows hiding the
    history and as many hiding the attributes when the data has attributes.

    Parameters
    ----------
    dim : int
        Width of the item embedding (encoder and decoder share it).
    init_scale : float
        Multiplies the bound of the embedding's Glorot-uniform init (1 = the reference's).
    mixer_width : int
        Hidden units of the two element-wise mixers (the reference's 2 leaves some seeds on a plateau).
    steps, alpha : int, float
        T and the total heat-equation time of the forward process.
    ideal_weight, ideal_cutoff : float, int
        Weight of the ideal low-pass filter in the smoothing, and its number of eigenvectors.
    noise_scale, noise_decay : float
        Optional Gaussian noise ``noise_scale * noise_decay^(T-t)`` on z_t while training, and the share
        of the unexplained residual carried by each reverse step.
    dropout : float
        Dropout of the history condition while training (surviving entries scaled by 1/(1-p)).
    rescale_smoothed : bool
        Not in the paper: hand the score mixer ``s(c)`` rescaled to ``c``'s row maximum (off by default).
    max_dense_items, n_eigen : int
        Largest catalogue kept as a whole graph (at most ``large_catalogue.DENSE_ITEM_ITEM_MAX``), and
        the eigenpairs kept beyond it.
    context_dim : int
        0 ignores user attributes; any positive value conditions on them (embedded at ``dim`` width).
    cold_start_rate : float
    epochs, batch_size, lr, weight_decay, patience, val_fraction, device, precision, seed, restarts,
    restart_combine, checkpoint_dir, resume :
        The shared training loop; ``restarts=N`` fits seeds ``seed`` .. ``seed + N - 1`` and keeps the one
        that validates best (see :class:`aigc_biz.models.training.TorchRecommender`).

    Attributes
    ----------
    denoiser_ : GiffDenoiser
    graph_ : HeatGraph
        The cached graph and eigenpairs.

    References
    ----------
    Zhu, Wang, Zhang, Xiong. Graph Signal Diffusion Model for Collaborative Filtering. SIGIR 2024.
    Shen et al. How Powerful is Graph Convolution for Recommendation? (GF-CF) CIKM 2021.
    """

    name = "giffcf"

    def __init__(
        self,
        dim: int = 200,
        init_scale: float = 1.0,
        mixer_width: int = 8,
        steps: int = 3,
        alpha: float = 1.5,
        ideal_weight: float = 0.0,
        ideal_cutoff: int = 200,
        noise_scale: float = 0.0,
        noise_decay: float = 0.5,
        dropout: float = 0.5,
        rescale_smoothed: bool = False,
        max_dense_items: int = 8000,
        n_eigen: int = 1000,
        context_dim: int = 16,
        cold_start_rate: float = 0.1,
        epochs: int = 300,
        batch_size: int = 100,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int = 100,
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
        problems = [
            f"{k}={getattr(self, k)}"
            for k in ("dim", "mixer_width", "steps", "ideal_cutoff", "n_eigen", "max_dense_items")
            if int(getattr(self, k)) < 1
        ]
        for key in ("dropout", "cold_start_rate"):
            if not 0.0 <= getattr(self, key) < 1.0:
                problems.append(f"{key}={getattr(self, key)}")
        if (
            self.alpha <= 0
            or self.lr <= 0
            or self.init_scale <= 0
            or min(self.ideal_weight, self.noise_scale, self.noise_decay) < 0
        ):
            problems.append(
                f"alpha={self.alpha}, lr={self.lr}, init_scale={self.init_scale}, ideal_weight={self.ideal_weight}, "
                f"noise_scale={self.noise_scale}, noise_decay={self.noise_decay}"
            )
        return problems

    # --- the diffusion --------------------------------------------------------------------------
    def _cutoff(self, graph: HeatGraph) -> int:
        return min(int(self.ideal_cutoff), graph.vectors.shape[1])

    def smooth(self, graph: HeatGraph, x: torch.Tensor, sparse: bool = False) -> torch.Tensor:
        """``s(x)``: the graph product, mixed with the ideal low-pass filter when ``ideal_weight`` > 0."""
        out = graph.propagate(x, sparse)
        if self.ideal_weight:
            ideal = graph.ideal(x, self._cutoff(graph), sparse)
            out = (out + self.ideal_weight * ideal) / (1.0 + self.ideal_weight)
        return out

    def forward_process(self, graph: HeatGraph, x: torch.Tensor, t: torch.Tensor, smoothed=None) -> torch.Tensor:
        """``z_t = x + alpha * t / T * (s(x) - x)``; ``t`` a tensor of steps or one int."""
        smoothed = self.smooth(graph, x) if smoothed is None else smoothed
        share = float(self.alpha) / int(self.steps)
        share = share * (t.float()[:, None] if torch.is_tensor(t) else float(t))
        return x + share * (smoothed - x)

    def condition_smooth(self, c: torch.Tensor, smoothed: torch.Tensor) -> torch.Tensor:
        """``s(c)`` as the score mixer sees it: as is (the paper), or with ``rescale_smoothed`` brought to
        the scale of ``c`` (row maximum to row maximum), since ``s(c)`` is ~50x smaller than ``c``."""
        if not self.rescale_smoothed:
            return smoothed
        top = smoothed.amax(dim=1, keepdim=True).clamp(min=1e-8)
        return smoothed * (c.amax(dim=1, keepdim=True) / top)

    def noise_sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.noise_scale * self.noise_decay ** (int(self.steps) - t.float())

    def reverse(self, denoiser: GiffDenoiser, graph: HeatGraph, x: torch.Tensor, context) -> torch.Tensor:
        """Deterministic reverse chain from ``z_T`` of the history to the estimate of the clean signal."""
        smoothed = self.smooth(graph, x, sparse=True)
        z = self.forward_process(graph, x, int(self.steps), smoothed)
        for t in range(int(self.steps), 0, -1):
            steps = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
            predicted = denoiser(z, x, self.condition_smooth(x, smoothed), steps, context)
            predicted_smooth = self.smooth(graph, predicted)
            z_prev = self.forward_process(graph, predicted, t - 1, predicted_smooth)
            if self.noise_decay > 0:
                z_here = self.forward_process(graph, predicted, t, predicted_smooth)
                z_prev = z_prev + self.noise_decay * (z - z_here)
            z = z_prev
        return z

    # --- fitting --------------------------------------------------------------------------------
    def _graph_shape(self, n_items: int) -> tuple[bool, int]:
        dense = dense_item_item_allowed(n_items, int(self.max_dense_items))
        cutoff = int(self.ideal_cutoff) if self.ideal_weight else 1
        n_vectors = cutoff if dense else max(int(self.n_eigen), cutoff)
        return dense, max(1, min(n_vectors, n_items))

    def _build(self, n_items: int, n_context: int) -> tuple[GiffDenoiser, HeatGraph]:
        dense, n_vectors = self._graph_shape(n_items)
        context = n_context if int(self.context_dim) else 0
        denoiser = GiffDenoiser(
            n_items,
            int(self.dim),
            int(self.steps),
            context,
            int(self.context_dim),
            init_scale=float(self.init_scale),
            mixer_width=int(self.mixer_width),
        )
        return denoiser, HeatGraph(n_items, dense, n_vectors)

    def _fit(self, data: Interactions, progress: Callable[[dict], None] | None) -> None:
        fit = self.prepare_fit(data)
        denoiser, graph = self._build(fit.matrix.shape[1], fit.n_context)
        denoiser, graph = denoiser.to(fit.device), graph.to(fit.device)
        self.warm_load({"denoiser": denoiser})
        # the graph of the training slice, so validation never sees the held-out items through it
        graph.build(fit.train, int(self.seed))
        unknown = self.context_encoder_.transform(None, n_rows=1).to(fit.device) if fit.n_context else None
        task = _GiffTask(denoiser, graph, self, unknown)
        report = run_training(
            task,
            fit.train,
            fit.settings,
            context=fit.context,
            validation=fit.validation,
            progress=progress,
            rng=fit.rng,
        )
        if fit.validation is not None:  # the final graph learns from every interaction
            self.after_validation(lambda: graph.build(fit.matrix, int(self.seed)))
        self.denoiser_, self.graph_ = denoiser.eval(), graph.eval()
        self.record_report(report)

    # --- scoring --------------------------------------------------------------------------------
    def score_batch(self, history: sp.csr_matrix, context: pd.DataFrame | None = None) -> torch.Tensor:
        """The reverse chain's estimate (rows, n_items) for each history row."""
        x, ctx = self.model_inputs(history, context)
        if not int(self.context_dim):
            ctx = None
        with torch.inference_mode():
            return self.reverse(self.denoiser_, self.graph_, x, ctx)

    def item_vectors(self) -> np.ndarray:
        """The item embedding shared by the denoiser's encoder and decoder."""
        self.check_fitted()
        return self.denoiser_.item_embed.detach().cpu().numpy()

    # --- warm start and saving -----------------------------------------------------------------
    def _networks(self) -> dict[str, nn.Module]:
        return {"denoiser": self.denoiser_}

    def _warm_layout(self) -> tuple[dict[str, tuple], frozenset]:
        layout = {"denoiser.item_embed": (("items",), None), "denoiser.context.weight": (None, ("context",))}
        return layout, frozenset()

    def _state(self) -> dict[str, np.ndarray]:
        return modules_state({"denoiser": self.denoiser_, "graph": self.graph_})

    def _own_meta(self) -> dict:
        return {"dense_graph": self.graph_.dense, "n_vectors": int(self.graph_.vectors.shape[1])}

    def _load_networks(self, state: dict[str, np.ndarray], meta: dict, device: str) -> None:
        n_items = len(self.item_ids_)
        dense, n_vectors = bool(meta["dense_graph"]), int(meta["n_vectors"])
        if (dense, n_vectors) != self._graph_shape(n_items):
            raise ValueError("the saved graph does not match the model's parameters")
        denoiser, graph = self._build(n_items, self.context_encoder_.n_features_)
        load_modules_state({"denoiser": denoiser, "graph": graph}, state)
        self.denoiser_, self.graph_ = denoiser.to(device).eval(), graph.to(device).eval()
