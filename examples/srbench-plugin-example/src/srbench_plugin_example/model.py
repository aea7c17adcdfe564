"""A model: bicubic upsampling followed by an unsharp mask (no weights to download).

A model is a ModelCard (name, scale, how to build it, where its weights are)
plus a builder that returns a ``srbench.Restorer``. ``restore(y, z=None)``
must be a pure, differentiable function of y in [0, 1] (B x 3 x h x w) that
returns B x 3 x (s*h) x (s*w) in [0, 1]; attacks take gradients through it.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from srbench import ModelCard, Restorer


class SharpBicubic(Restorer):
    """x = up(y) + amount * (up(y) - blur(up(y))), clamped to [0, 1]."""

    def __init__(self, scale: int = 4, amount: float = 0.6, sigma: float = 1.0):
        super().__init__()
        self.scale, self.amount, self.stochastic = scale, amount, False
        r = max(1, round(3 * sigma))
        x = torch.arange(-r, r + 1, dtype=torch.float32)
        k = torch.exp(-x**2 / (2 * sigma**2))
        k = k / k.sum()
        # a buffer, not a parameter: it moves with .to(device) and is not trained
        self.register_buffer("kernel", (k[:, None] * k[None, :]).expand(3, 1, -1, -1).contiguous())

    def restore(self, y: torch.Tensor, z=None) -> torch.Tensor:
        up = F.interpolate(y, scale_factor=self.scale, mode="bicubic", align_corners=False)
        pad = self.kernel.shape[-1] // 2
        blur = F.conv2d(F.pad(up, (pad,) * 4, mode="replicate"), self.kernel, groups=3)
        return (up + self.amount * (up - blur)).clamp(0, 1)


CARD = ModelCard(
    name="example-sharp-bicubic",
    build=SharpBicubic,  # or the lazy string "srbench_plugin_example.model:SharpBicubic"
    scale=4,
    scales=(2, 3, 8),  # other scales reachable through arch["scale"] (srbench run --scale 2)
    arch={"scale": 4, "amount": 0.6, "sigma": 1.0},
    stochastic=False,
    weights=None,  # a learned model gives Weights(file=..., sha256=..., sources=("hf://org/repo/file.pth",))
    license="MIT",
    source="examples/srbench-plugin-example",
    description="bicubic + unsharp mask; a template for plugins",
)
