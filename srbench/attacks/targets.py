"""The targets of a targeted attack, built from clean outputs (Choi et al.'s targeted variant).

- ``other-image``: the clean output of the next image of the dataset (in dataset order, the last
  image takes the first), resized to this image's output size with antialiased bilinear
  interpolation (aspect ratio not kept: every pixel of the output has a target pixel).
- ``region``: this image's clean output with its central square (side half the shorter side)
  flipped upside down: a local, natural-looking change the attack must put into the output.

For a stochastic model a clean output is the mean over the evaluator's seeds.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from srbench.core.errors import UserError

OTHER_IMAGE, REGION = "other-image", "region"
TARGETED_TARGETS = (OTHER_IMAGE, REGION)


def partner(names: list[str], name: str) -> str:
    """The image whose clean output is ``name``'s target under ``other-image``: the next one, cyclically."""
    if len(names) < 2:
        raise UserError("target other-image needs a dataset of at least 2 images (raise limit, or use target region)")
    return names[(names.index(name) + 1) % len(names)]


def resized(output: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """C x H x W output resized to ``size`` (H, W): antialiased bilinear, clamped to [0, 1]."""
    if tuple(output.shape[-2:]) == tuple(size):
        return output
    return F.interpolate(output[None], size=size, mode="bilinear", align_corners=False,
                         antialias=True)[0].clamp(0, 1)


def central_square(height: int, width: int) -> tuple[slice, slice]:
    """Rows and columns of the central square whose side is half the shorter side."""
    side = max(1, min(height, width) // 2)
    top, left = (height - side) // 2, (width - side) // 2
    return slice(top, top + side), slice(left, left + side)


def region_target(clean: torch.Tensor) -> torch.Tensor:
    """(B x) C x H x W clean outputs with the central square flipped upside down."""
    rows, cols = central_square(*clean.shape[-2:])
    out = clean.clone()
    out[..., rows, cols] = clean[..., rows, cols].flip(-2)
    return out
