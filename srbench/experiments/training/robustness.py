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

The inner maximisation is Eq. 6's Adam attack, the one implementation in
:mod:`srbench.attacks.adam_l2` (:func:`~srbench.attacks.adam_l2.adam_ascent`
on :func:`~srbench.attacks.adam_l2.sensitivity_objective`), with the
trainers' options: ``steps`` Adam steps, d projected back onto the L2 ball
after every step; the model sees y + d, unclamped (the toy's y lies in
[-1, 1]); the objective has an exactly zero gradient at d = 0 (it is a squared
distance to the clean output), so d starts at a random point drawn uniformly
in the ball (``random_start=True``, the default). The benchmark attack
(``adam-l2``, which also scores the GAN tables and their validation during
training) runs the same loop with other options: the model sees
clamp(y + d, 0, 1), d starts on a small sphere (1% of eps), and the squared
distance is summed over output values (the image GAN configs train with
``reduction: mean``).

Seeds follow :mod:`srbench.core.restorer`'s seed-major convention: ``sample_z(y, n,
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

from srbench.attacks.adam_l2 import Fn, adam_ascent, random_in_ball, sensitivity, sensitivity_objective

SampleZ = Callable[[torch.Tensor, int, "torch.Generator | None"], Any]

__all__ = ["AdamL2Attack", "draw_seeds"]


def draw_seeds(sample_z: SampleZ | None, y: torch.Tensor, n_seeds: int,
               generator: torch.Generator | None = None) -> tuple[Any, int]:
    """(z, n): seeds for ``n_seeds`` draws per input, or (None, 1) for a deterministic estimator."""
    if sample_z is None:
        return None, 1
    z = sample_z(y, n_seeds, generator)
    return (None, 1) if z is None else (z, n_seeds)


@dataclass
class AdamL2Attack:
    """Seed-averaged Adam attack in an L2 ball (the inner maximisation of Eq. 6/7), as the trainers use it.

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
        start = random_in_ball(y, self.eps, generator) if self.random_start else torch.zeros_like(y)
        objective = sensitivity_objective(fn, y, z, n, clamp=False, reduction=self.reduction, average_in_graph=True)
        return adam_ascent(objective, start, self.eps, steps=self.steps, lr=self.lr, betas=self.betas).d

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
