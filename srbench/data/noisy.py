"""Noisy SR degradations: MATLAB bicubic x s plus white Gaussian noise of a given sigma.

y = quantize_8bit(clamp(bicubic_down(x) + sigma/255 * N(0, I), 0, 1)): the
noise is drawn per image from a seed derived from (image name, sigma, seed),
so every run sees the same noisy measurements, and the result is stored as
8 bits like the benchmark LR files. The HR ground truth is unchanged.

Registered datasets (``srbench.datasets`` entry points) use
``DEFAULT_SIGMA`` = 10 (units of 1/255): ``set5-noisy``, ``set14-noisy``,
``bsd100-noisy``, ``demo-noisy``. Any other sigma: :func:`with_noise`.
"""
from __future__ import annotations

import hashlib
from functools import partial

import torch

from srbench.data import DATASETS, SRPair
from srbench.core.pixels import quantize

DEFAULT_SIGMA = 10.0


def _generator(name: str, sigma: float, seed: int) -> torch.Generator:
    digest = hashlib.sha256(f"noise/{seed}/{sigma:g}/{name}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))


def with_noise(pairs: list[SRPair], sigma: float, seed: int = 0) -> list[SRPair]:
    """The same pairs with Gaussian noise of std sigma/255 added to every LR image (8-bit stored)."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    out = []
    for p in pairs:
        noise = torch.randn(p.lr.shape, generator=_generator(p.name, sigma, seed)) * (sigma / 255.0)
        lr = quantize(p.lr + noise.to(p.lr.dtype)) if sigma > 0 else p.lr
        if p.gray:  # keep a gray image gray: one noise field for its three equal channels
            lr = lr[:1].expand_as(p.lr).contiguous()
        out.append(SRPair(p.name, p.hr, lr, p.gray))
    return out


def noisy(base: str, scale: int, root=None, sigma: float = DEFAULT_SIGMA) -> list[SRPair]:
    """A registered dataset with noise added (``base`` is its registry name)."""
    return with_noise(DATASETS.get(base)(scale=scale, root=root), sigma)


set5_noisy = partial(noisy, "set5")
set14_noisy = partial(noisy, "set14")
bsd100_noisy = partial(noisy, "bsd100")
demo_noisy = partial(noisy, "demo")
