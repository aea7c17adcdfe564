"""8-bit pixel levels of float images in [0, 1]: one rounding rule for files, defenses and attacks.

Why one place: the SR literature quantises by clamping to [0, 1], scaling by 255 and rounding to
the nearest level; a PNG written by the evaluator, the JPEG defense's input and an attack's
8-bit projection must all land on the same levels.
"""
from __future__ import annotations

import numpy as np
import torch


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """C x H x W in [0,1] -> H x W x C uint8, rounded (the SR-literature quantisation)."""
    return img.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def quantize(img: torch.Tensor) -> torch.Tensor:
    """Round to the nearest 8-bit level (keeps the tensor float)."""
    return torch.round(img.clamp(0, 1) * 255) / 255
