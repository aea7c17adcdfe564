"""Hand-made consistent estimators of the toy study and the Appendix C zigzag.

- Disk (paper 1, Fig. 2): G_a(Y) = (Y, sqrt(1 - Y^2) sin(a Y)); a = 1 is smooth ("robust"),
  a = 50 oscillates fast enough to fill the disk ("erratic").
- Unit square (Appendix C): X uniform on [0, 1]^2, Y = X1, G_f(Y) = (Y, arccos(cos(2 pi f Y)) / pi),
  a zigzag with 2f linear pieces of width 1/(2f) and slope +-2f. Its output distribution tends
  to the uniform law on the square in W2 as f grows, while its Lipschitz constant 2f blows up.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from srbench.experiments.distribution import w2_discrete

__all__ = ["HandMade", "sine_estimator", "zigzag", "zigzag_estimator", "zigzag_w2", "sample_square"]


@dataclass
class HandMade:
    """A deterministic consistent estimator (Y, g(Y)) as a differentiable function of y (B x 1)."""

    name: str
    g: Callable[[torch.Tensor], torch.Tensor]
    domain: str = "disk"  # or "square"
    stochastic: bool = False
    sample_z = None

    def __call__(self, y: torch.Tensor, z=None) -> torch.Tensor:
        return torch.cat([y, self.g(y)], dim=1)


def sine_estimator(a: float) -> HandMade:
    """(Y, sqrt(1 - Y^2) sin(a Y)); sqrt(1 - Y^2) is clamped at 0 outside [-1, 1]."""

    def g(y: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(torch.clamp(1 - y * y, min=1e-12)) * torch.sin(a * y)

    label = "robust" if a <= 1 else "erratic"
    return HandMade(name=f"hand-{label}-a{a:g}", g=g)


def zigzag(y: torch.Tensor | np.ndarray, f: float):
    """G_f(y) = arccos(cos(2 pi f y)) / pi (torch or numpy)."""
    if isinstance(y, torch.Tensor):
        return torch.arccos(torch.clamp(torch.cos(2 * math.pi * f * y), -1.0, 1.0)) / math.pi
    return np.arccos(np.clip(np.cos(2 * np.pi * f * np.asarray(y)), -1.0, 1.0)) / np.pi


def zigzag_estimator(f: int) -> HandMade:
    return HandMade(name=f"zigzag-f{f}", g=lambda y: zigzag(y, f), domain="square")


def sample_square(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    return torch.rand(n, 2, generator=generator)


def zigzag_w2(f: int, grid: int = 40) -> dict:
    """W2 between the zigzag's output law and U[0, 1]^2, by exact discrete OT, with error bars.

    Both laws are quantised deterministically with n = grid^2 equal-weight points: the square
    by the centres of a grid x grid lattice, the output by Y at the mid-quantiles (i + 1/2)/n
    mapped through G_f. The W2 between the two point sets is computed exactly (optimal
    assignment, :func:`srbench.experiments.distribution.w2_discrete`). By the triangle inequality the
    continuous W2 lies within ``err`` of that number, where
    err = W2(lattice, U) + W2(quantised output, output) <= 1/(grid sqrt 6) + sqrt(1 + 4 f^2)/(n sqrt 12)
    (the first term is exact: the lattice is the nearest-centre quantiser). ``upper`` is the
    analytic bound 1/(2 f sqrt 6) from the coupling that moves mass horizontally inside each of
    the 2f strips onto the zigzag's linear piece.
    """
    n = grid * grid
    y = (np.arange(n) + 0.5) / n
    out = np.stack([y, zigzag(y, f)], axis=1)
    c = (np.arange(grid) + 0.5) / grid
    lattice = np.stack(np.meshgrid(c, c, indexing="ij"), axis=-1).reshape(-1, 2)
    w = w2_discrete(out, lattice)
    err = 1 / (grid * math.sqrt(6)) + math.sqrt(1 + 4 * f * f) / (n * math.sqrt(12))
    return {"f": f, "w2": w, "err": err, "lower": max(0.0, w - err), "upper_est": w + err,
            "upper": 1 / (2 * f * math.sqrt(6)), "lipschitz": 2 * f, "grid": grid, "method": "exact assignment"}
