"""The Adam L2 attack of Ohayon et al. (2023), Eq. 6, and the one Adam-in-an-L2-ball loop behind it.

Eq. 6 is the seed-averaged same-seed sensitivity

    r~(y) = max_{||d||_2 <= eps} E_Z || G(y, Z) - G(y + d, Z) ||^2     (per image)

maximised by ``steps`` Adam steps on d (fresh optimizer state per call), d
projected onto the L2 ball after every step. The pieces, each written once:

- :func:`adam_ascent`: the Adam loop (any objective; optionally keeping the
  best iterate), used by the benchmark attack :class:`AdamL2`, by the
  trainers' robustness term (:class:`srbench.experiments.training.robustness.AdamL2Attack`)
  and by posterior exploration (:mod:`srbench.experiments.explore`);
- :func:`sensitivity_objective`: Eq. 6's objective and its gradient, with the
  seeds batched ``chunk`` at a time (same result); :func:`sensitivity`: the
  same quantity as a differentiable function of the model's parameters (the
  training penalty at d*);
- the starts: :func:`random_in_ball` (uniform in the ball) and
  :func:`random_directions` (on a sphere, scaled by the caller).

What differs between callers is explicit, as options: whether the model sees
clamp(y + d, 0, 1) (images) or y + d (the toy's y in [-1, 1]), the start, and
whether the squared distance is summed or averaged over output values.

The benchmark attack :class:`AdamL2`: d starts at a small random point inside
the ball (radius ``init_radius * eps``, random direction), since the
objective's gradient at d = 0 is exactly zero; the model sees clamp(y + d, 0, 1)
and the attacked input returned is that clamped image (clamping moves every
pixel towards y, so the perturbation never leaves the ball). For a stochastic
model the expectation is over the seeds z the caller passes (the evaluator
draws ``n_eot`` per image); a deterministic model uses its single output. The
objective needs no HR target. The budget is ``eps`` (L2 radius, images in
[0, 1]), or a target adversarial-input PSNR: with ``target_input_psnr`` set,
eps = sqrt(n * 10^(-PSNR/10)) for n input values per image (0.553 for a
16x16x3 input at 34 dB), and ``eps`` is a placeholder.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import torch

from srbench.attacks import L2_EPS, Attack, check_steps_and_seeds
from srbench.core.errors import UserError
from srbench.core.restorer import DEFAULT_N_SEEDS, batch_size_of_z, repeat_seeds, slice_z

Fn = Callable[[torch.Tensor, Any], torch.Tensor]
# d -> (per-sample objective values, gradient of their sum with respect to d); d is not modified
ValueAndGrad = Callable[[torch.Tensor], "tuple[torch.Tensor, torch.Tensor]"]


def eps_for_input_psnr(n_values: int, psnr_db: float) -> float:
    """L2 radius whose full use gives PSNR(y, y + d) = psnr_db for n input values in [0, 1]."""
    return math.sqrt(n_values * 10.0 ** (-psnr_db / 10.0))


def _norm(t: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norm over all non-batch dims, shaped to broadcast against t."""
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.dim() - 1)))


def l2_project(d: torch.Tensor, eps: float) -> torch.Tensor:
    """Project every sample of d onto the L2 ball of radius eps (over all non-batch dims)."""
    n = _norm(d)
    return d * torch.clamp(eps / n.clamp_min(1e-30), max=1.0)


def random_in_ball(like: torch.Tensor, eps: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Points drawn uniformly in the per-sample L2 ball of radius eps, shaped like ``like``."""
    g = torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)
    n = like[0].numel()
    u = torch.rand((like.shape[0],), generator=generator, device=like.device, dtype=like.dtype)
    radius = eps * u.pow(1.0 / n).view(-1, *([1] * (like.dim() - 1)))
    return g / _norm(g).clamp_min(1e-30) * radius


def random_directions(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Unit vectors (per sample, over all non-batch dims) in random directions, on the generator's device."""
    d = torch.randn(shape, generator=generator)
    return d / d.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, *([1] * (len(shape) - 1)))


def _squared_distance(a: torch.Tensor, b: torch.Tensor, reduction: str) -> torch.Tensor:
    """Per-row ||a - b||^2 over all non-batch dims: summed (the paper's formula) or averaged over values."""
    diff = (a - b).flatten(1).pow(2)
    return diff.sum(1) if reduction == "sum" else diff.mean(1)


def sensitivity(fn: Fn, y: torch.Tensor, d: torch.Tensor, z: Any = None, n: int = 1,
                reduction: str = "sum", clean: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample E_Z ||fn(y, Z) - fn(y + d, Z)||^2 over the n seed-major seeds in z (shape B).

    Differentiable with respect to fn's parameters (and to d): the training penalty at d*.
    ``clean`` may pass a precomputed fn(repeat_seeds(y, n), z) (it is then treated as given).
    """
    b = y.shape[0]
    yr, dr = repeat_seeds(y, n), repeat_seeds(d, n)
    if clean is None:
        clean = fn(yr, z)
    return _squared_distance(fn(yr + dr, z), clean, reduction).view(n, b).mean(0)


def sensitivity_objective(fn: Fn, y: torch.Tensor, z: Any = None, n: int = 1, *, clamp: bool,
                          reduction: str = "sum", chunk: int | None = None,
                          average_in_graph: bool = False) -> ValueAndGrad:
    """Eq. 6's objective at d and its gradient, for fixed seeds z (n seed-major draws per input).

    ``clamp``: the model sees clamp(y + d, 0, 1) (images) instead of y + d. The seeds are
    batched ``chunk`` at a time; the gradient is summed over chunks in one fixed order, so
    chunking does not change the result. The clean outputs are computed once, here.

    ``average_in_graph``: where the mean over the n seeds is taken. False (the benchmark attack):
    the gradients of the seeds are summed, then divided by n. True (the trainers' robustness term):
    the mean is part of the differentiated loss, so autograd divides each seed's gradient by n
    before summing. The same gradient, rounded differently; for n > 1 the difference grows
    through GAN training, and the committed toy runs were trained with the second.
    """
    y = y.detach()
    b = y.shape[0]
    chunk = n if not chunk or chunk >= n else chunk
    spans = [(k0, min(n, k0 + chunk)) for k0 in range(0, n, chunk)]
    with torch.no_grad():
        clean = [fn(repeat_seeds(y, k1 - k0), slice_z(z, k0 * b, k1 * b)) for k0, k1 in spans]

    def value_and_grad(d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        grad = torch.zeros_like(y)
        values = torch.zeros(b, dtype=torch.float64, device=y.device)
        with torch.enable_grad():
            for (k0, k1), c in zip(spans, clean):
                dd = d.detach().requires_grad_(True)
                v = (y + dd).clamp(0, 1) if clamp else y + dd
                per_row = _squared_distance(fn(repeat_seeds(v, k1 - k0), slice_z(z, k0 * b, k1 * b)), c, reduction)
                loss = per_row.view(k1 - k0, b).sum(0).div(n).sum() if average_in_graph else per_row.sum()
                (g,) = torch.autograd.grad(loss, dd)
                grad += g
                values += per_row.detach().double().view(k1 - k0, b).sum(0)
        return values / n, grad if average_in_graph else grad / n

    return value_and_grad


@dataclasses.dataclass
class Ascent:
    """What :func:`adam_ascent` found: the last iterate, the objective before each step, and the best iterate."""

    d: torch.Tensor
    trace: list[torch.Tensor]  # per-sample objective values, one tensor per evaluation
    best_d: torch.Tensor | None = None  # keep_best only: per sample, the iterate with the largest objective
    best_values: torch.Tensor | None = None  # float64, on the CPU


def adam_ascent(value_and_grad: ValueAndGrad, d0: torch.Tensor, eps: float, *, steps: int, lr: float,
                betas: tuple[float, float] = (0.9, 0.999), keep_best: bool = False,
                on_step: Callable[[int], None] | None = None) -> Ascent:
    """Maximise a per-sample objective over d in the L2 ball of radius eps: the one Adam loop of srbench.

    ``steps`` Adam steps from d0 (a fresh optimizer state per call), d projected onto the ball after
    each. With ``keep_best`` the objective is also evaluated after the last step and the best iterate
    per sample is kept (exploration); otherwise the last iterate is the answer (Eq. 6's attack).
    """
    d = d0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([d], lr=lr, betas=betas)
    trace: list[torch.Tensor] = []
    best_values = torch.full((d.shape[0],), -math.inf, dtype=torch.float64) if keep_best else None
    best_d = d.detach().clone() if keep_best else None
    for t in range(steps + 1 if keep_best else steps):
        values, grad = value_and_grad(d.detach())
        trace.append(values.detach())
        if keep_best:
            current = values.detach().double().cpu()
            better = current > best_values
            if better.any():
                best_values = torch.where(better, current, best_values)
                best_d[better.to(d.device)] = d.detach()[better.to(d.device)]
        if t == steps:
            break
        d.grad = -grad  # Adam minimises; we ascend
        opt.step()
        with torch.no_grad():
            d.copy_(l2_project(d, eps))
        if on_step is not None:
            on_step(t + 1)
    return Ascent(d.detach(), trace, best_d, best_values)


@dataclasses.dataclass
class AdamL2(Attack):
    name = "adam-l2"
    budget = L2_EPS

    eps: float = 0.5  # L2 radius per image, pixel range [0, 1]
    steps: int = 5
    lr: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.999
    n_eot: int = DEFAULT_N_SEEDS  # seeds per image for stochastic models (the evaluator draws them)
    z_chunk: int | None = None
    target_input_psnr: float | None = None  # dB; when set, eps is derived per image
    init_radius: float = 0.01  # random start radius, as a fraction of eps
    seed: int = 0

    n_seeds = property(lambda self: self.n_eot)
    seed_chunk = property(lambda self: self.z_chunk)
    n_steps = property(lambda self: self.steps)

    def validate(self) -> None:
        if not self.eps >= 0:
            raise UserError(f"eps must be >= 0 (L2 radius, images in [0, 1]), got {self.eps}")
        check_steps_and_seeds(self.steps, self.n_eot, self.z_chunk)
        if not self.lr > 0:
            raise UserError(f"lr must be > 0, got {self.lr}")
        if self.target_input_psnr is not None and not self.target_input_psnr > 0:
            raise UserError(f"{{target_input_psnr}} must be > 0 dB, got {self.target_input_psnr}",
                            {"target_input_psnr": ""})
        if not 0 < self.init_radius <= 1:
            raise UserError(f"init_radius must be in (0, 1], got {self.init_radius}")

    def budget_unit(self) -> str | None:
        """None when eps is a placeholder (derived from ``target_input_psnr`` instead)."""
        return None if self.target_input_psnr is not None else self.budget.unit

    def radius(self, y: torch.Tensor) -> float:
        if self.target_input_psnr is not None:
            return eps_for_input_psnr(y[0].numel(), self.target_input_psnr)
        return float(self.eps)

    def __call__(self, restorer, y, target=None, z=None, on_step=None):
        if z is None and restorer.stochastic:
            raise ValueError("adam-l2 on a stochastic model needs its seeds z (n per image, seed-major) from "
                             "the caller, as the evaluator passes them")
        y = y.detach()
        b = y.shape[0]
        eps = self.radius(y)
        if eps == 0:
            return y.clone(), {"eps": 0.0, "steps": 0, "loss_trace": [[] for _ in range(b)]}
        n = 1 if z is None else batch_size_of_z(z) // b
        g = torch.Generator(device="cpu").manual_seed(self.seed)
        start = random_directions(tuple(y.shape), g).to(y.device, y.dtype) * self.init_radius * eps
        objective = sensitivity_objective(restorer.restore, y, z, n, clamp=True, reduction="sum", chunk=self.z_chunk)
        found = adam_ascent(objective, start, eps, steps=self.steps, lr=self.lr, betas=(self.beta1, self.beta2),
                            on_step=on_step)
        y_adv = (y + found.d).clamp(0, 1)
        record = {"eps": eps, "steps": self.steps, "n_seeds": n, "loss_trace": torch.stack(found.trace, 1).tolist()}
        return y_adv.detach(), record
