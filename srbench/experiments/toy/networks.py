"""The MLPs of the toy study (2 -> 512 -> 512 -> 512 -> 512 -> 1, ReLU) and the consistent estimator."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["MLP", "ToyGenerator", "consistency"]


class MLP(nn.Module):
    def __init__(self, in_dim: int = 2, out_dim: int = 1, width: int = 512, depth: int = 4):
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.ReLU()]
            d = width
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ToyGenerator(nn.Module):
    """g(Y, Z): the second output coordinate from (Y, Z); Z = 0 when z is None (deterministic)."""

    def __init__(self, stochastic: bool, width: int = 512, depth: int = 4):
        super().__init__()
        self.stochastic = stochastic
        self.mlp = MLP(2, 1, width, depth)

    def forward(self, y: torch.Tensor, z: Any = None) -> torch.Tensor:
        if z is None:
            z = torch.zeros_like(y)
        return self.mlp(torch.cat([y, z], dim=1))

    def sample_z(self, y: torch.Tensor, n: int = 1, generator: torch.Generator | None = None):
        """Z ~ U[0, 1], n draws per input, seed-major (n*B x 1); None for the deterministic model."""
        if not self.stochastic:
            return None
        return torch.rand(n * y.shape[0], 1, generator=generator, device=y.device, dtype=y.dtype)


def consistency(raw: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Consistent output (Y, g): the first coordinate is the input itself."""
    return torch.cat([y, raw], dim=1)
