"""The toy problem of paper 1: X uniform on the unit disk, Y = X1 (the first coordinate)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["sample_disk", "ToyData"]


def sample_disk(n: int, generator: torch.Generator | None = None, device="cpu") -> torch.Tensor:
    """n points uniform on the unit disk (n x 2): radius sqrt(U), angle 2 pi U'."""
    u = torch.rand(n, 2, generator=generator, device=device, dtype=torch.float32)
    r, t = u[:, 0].sqrt(), 2 * math.pi * u[:, 1]
    return torch.stack([r * torch.cos(t), r * torch.sin(t)], dim=1)


@dataclass
class ToyData:
    """Seeded train / validation sets of clean points X (n x 2); the inputs are Y = X[:, :1]."""

    train: torch.Tensor
    val: torch.Tensor

    @classmethod
    def make(cls, seed: int = 0, n_train: int = 100_000, n_val: int = 10_000, device="cpu") -> "ToyData":
        g = torch.Generator().manual_seed(seed)
        x = sample_disk(n_train + n_val, g)
        return cls(train=x[:n_train].to(device), val=x[n_train:].to(device))

    def sampler(self):
        """``data(batch_size, rng) -> (x, y)`` for the GAN trainer: uniform draws from the train set."""
        train = self.train

        def data(batch_size: int, rng: torch.Generator):
            idx = torch.randint(train.shape[0], (batch_size,), generator=rng, device=rng.device)
            x = train[idx.to(train.device)]
            return x, x[:, :1]

        return data
