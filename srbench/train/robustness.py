"""Same-seed stochastic sensitivity (Eq. 6/7 of Ohayon et al. 2023) and its Adam L2 inner attack.

For an estimator ``fn(y, z)`` (a consistent restorer: ``fn`` already includes
any consistency projection) the stochastic sensitivity of an input y is

    r~(y) = max_{||d||_2 <= eps} E_Z || fn(y, Z) - fn(y + d, Z) ||^2 ,

with the *same* seed Z on both sides, averaged over ``n_seeds`` seeds, and
R~ = E_Y r~(Y) (Eq. 7). ``||.||^2`` is the squared L2 norm over all non-batch
dimensions of the output (``reduction="sum"``, the paper's formula) or its
per-element mean (``reduction="mean"``). The L2 ball is per sample, over all
non-batch dimensions of y, so the same code serves the 1-D toy (y of shape
B x 1) and images (B x C x h x w).

The inner maximisation is the Adam attack: ``steps`` Adam steps on d with a
fresh optimizer state per call, d projected back onto the L2 ball after every
step. The objective has an exactly zero gradient at d = 0 (it is a squared
distance to the clean output), so d starts at a random point drawn uniformly
in the ball (``random_start=True``, the default).

Seeds follow :mod:`srbench.restorer`'s seed-major convention: ``sample_z(y, n,
generator)`` returns the seeds of n draws per input with n*B leading rows (row
k*B + b is draw k of input b) or None for a deterministic estimator, in which
case a single "seed" is used (E_Z of a constant is the constant, so this is
exact, not an approximation).

In the training loss the maximiser d* is treated as a constant and the
gradient flows through ``fn`` at y and at y + d* (Danskin's theorem); see
:meth:`AdamL2Attack.penalty`. Note for networks with BatchNorm: the attack
calls ``fn`` in whatever mode the network is in; in training mode every
attack forward updates the running statistics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

from srbench.restorer import repeat_seeds

Fn = Callable[[torch.Tensor, Any], torch.Tensor]
SampleZ = Callable[[torch.Tensor, int, "torch.Generator | None"], Any]

__all__ = ["AdamL2Attack", "l2_project", "random_in_ball", "sensitivity", "draw_seeds"]


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


def draw_seeds(sample_z: SampleZ | None, y: torch.Tensor, n_seeds: int,
               generator: torch.Generator | None = None) -> tuple[Any, int]:
    """(z, n): seeds for ``n_seeds`` draws per input, or (None, 1) for a deterministic estimator."""
    if sample_z is None:
        return None, 1
    z = sample_z(y, n_seeds, generator)
    return (None, 1) if z is None else (z, n_seeds)


def sensitivity(fn: Fn, y: torch.Tensor, d: torch.Tensor, z: Any = None, n: int = 1,
                reduction: str = "sum", clean: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample E_Z ||fn(y, Z) - fn(y + d, Z)||^2 over the n seed-major seeds in z (shape B).

    Differentiable with respect to fn's parameters (and to d). ``clean`` may pass a
    precomputed fn(repeat_seeds(y, n), z) (it is then treated as given).
    """
    b = y.shape[0]
    yr, dr = repeat_seeds(y, n), repeat_seeds(d, n)
    if clean is None:
        clean = fn(yr, z)
    diff = (fn(yr + dr, z) - clean).flatten(1).pow(2)
    per = diff.sum(1) if reduction == "sum" else diff.mean(1)
    return per.view(n, b).mean(0)


@dataclass
class AdamL2Attack:
    """Seed-averaged Adam attack in an L2 ball (the inner maximisation of Eq. 6/7).

    Toy defaults of paper 1: 4 steps, lr 1e-4, eps 1e-3, 50 seeds. The image
    GAN tables use 5 steps, lr 1, 10 seeds and eps from a target AI-PSNR.
    """

    eps: float = 1e-3
    steps: int = 4
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    n_seeds: int = 50
    random_start: bool = True
    reduction: str = "sum"

    def perturb(self, fn: Fn, y: torch.Tensor, z: Any = None, n: int = 1,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """The maximiser d (detached, shape of y) for fixed seeds z (n seed-major draws)."""
        y = y.detach()
        if self.random_start:
            d = random_in_ball(y, self.eps, generator)
        else:
            d = torch.zeros_like(y)
        d = d.requires_grad_(True)
        opt = torch.optim.Adam([d], lr=self.lr, betas=self.betas)  # fresh state per call
        with torch.no_grad():
            clean = fn(repeat_seeds(y, n), z)  # constant during the attack: computed once
        with torch.enable_grad():
            for _ in range(self.steps):
                loss = sensitivity(fn, y, d, z, n, self.reduction, clean=clean).sum()
                (grad,) = torch.autograd.grad(loss, d)  # never touches the parameters' .grad
                d.grad = -grad  # Adam minimises; we ascend
                opt.step()
                with torch.no_grad():
                    d.copy_(l2_project(d, self.eps))
        return d.detach()

    def penalty(self, fn: Fn, y: torch.Tensor, sample_z: SampleZ | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-sample r~(y) with the gradient to fn's parameters (d* held fixed): the training term."""
        z, n = draw_seeds(sample_z, y, self.n_seeds, generator)
        d = self.perturb(fn, y, z, n, generator)
        return sensitivity(fn, y.detach(), d, z, n, self.reduction)

    @torch.no_grad()
    def estimate(self, fn: Fn, y: torch.Tensor, sample_z: SampleZ | None = None,
                 generator: torch.Generator | None = None, chunk: int = 1024) -> torch.Tensor:
        """Per-sample r~(y) (no parameter gradients), over y in chunks of ``chunk`` inputs."""
        out = []
        for i in range(0, y.shape[0], chunk):
            yc = y[i:i + chunk]
            z, n = draw_seeds(sample_z, yc, self.n_seeds, generator)
            d = self.perturb(fn, yc, z, n, generator)
            out.append(sensitivity(fn, yc, d, z, n, self.reduction))
        return torch.cat(out)

    def robustness(self, fn: Fn, y: torch.Tensor, sample_z: SampleZ | None = None,
                   generator: torch.Generator | None = None, chunk: int = 1024) -> float:
        """sqrt(R~): the square root of the mean sensitivity over y (lower is more robust)."""
        return math.sqrt(float(self.estimate(fn, y, sample_z, generator, chunk).mean()))
