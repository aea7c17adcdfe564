"""Datasets: HR/LR pairs as tensors, found through the ``srbench.datasets`` registry.

A dataset entry is a function ``(scale, root=None) -> list[SRPair]``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from srbench.core.errors import UserError
from srbench.core.metrics import SSIM_WINDOW
from srbench.core.registry import Registry
from srbench.data.bicubic import imresize
from srbench.core.pixels import quantize

DATASETS = Registry("dataset", "srbench.datasets")
# HR pixels above which loading a dataset warns (once): such an image takes minutes and
# gigabytes in a model on a CPU. DIV2K's 2K images stay below it.
LARGE_IMAGE_PIXELS = 4_000_000

log = logging.getLogger(__name__)
_warned_large: set[tuple] = set()


@dataclass
class SRPair:
    """One test image: HR ground truth and LR input, both 3 x H x W in [0, 1]."""

    name: str
    hr: torch.Tensor
    lr: torch.Tensor
    gray: bool = False  # scored on raw gray values (MATLAB convention)


def mod_crop(img: torch.Tensor, scale: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    return img[..., : h - h % scale, : w - w % scale]


def bicubic_lr(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """LR = MATLAB imresize(HR, 1/scale, 'bicubic'), stored as 8-bit like the benchmark files."""
    return quantize(imresize(hr.double(), 1.0 / scale).float())


def min_hr_side(scale: int) -> int:
    """Smallest HR side that can be scored: a multiple of the scale (LR = HR / scale) that still
    holds an SSIM window after ``scale`` border pixels are shaved from each side."""
    needed = SSIM_WINDOW + 2 * scale
    return scale * -(-needed // scale)


def check_hr_size(name: str, height: int, width: int, scale: int) -> None:
    """Refuse an image too small to score now, before any model runs on it."""
    side = min_hr_side(scale)
    if min(height, width) < side:
        raise UserError(
            f"image {name!r} is {width}x{height} pixels, too small to score at x{scale}: HR images need at least "
            f"{side}x{side} (an {SSIM_WINDOW}x{SSIM_WINDOW} SSIM window after shaving {scale} border pixels); "
            f"remove it or use larger images")


def _warn_if_large(dataset: str, pairs: list[SRPair], scale: int, root) -> None:
    """One line per dataset and process, so a huge image is not mistaken for a hang."""
    large = [p for p in pairs if p.hr.shape[-2] * p.hr.shape[-1] > LARGE_IMAGE_PIXELS]
    key = (dataset, scale, str(root))
    if not large or key in _warned_large:
        return
    _warned_large.add(key)
    biggest = max(large, key=lambda p: p.hr.shape[-2] * p.hr.shape[-1])
    h, w = biggest.hr.shape[-2:]
    log.warning(f"warning: dataset {dataset!r} x{scale}: {len(large)} of {len(pairs)} HR images have more than "
                f"{LARGE_IMAGE_PIXELS / 1e6:g} megapixels (largest: {biggest.name!r}, {w}x{h}); each can take "
                f"minutes and gigabytes in a model on a CPU (SSIM itself runs in row strips)")


def make_pair(name: str, hr: torch.Tensor, scale: int, lr: torch.Tensor | None = None, gray: bool = False) -> SRPair:
    check_hr_size(name, hr.shape[-2], hr.shape[-1], scale)
    hr = mod_crop(hr, scale)
    if lr is None:
        lr = bicubic_lr(hr, scale)
    if tuple(lr.shape[-2:]) != (hr.shape[-2] // scale, hr.shape[-1] // scale):
        raise UserError(
            f"image {name!r}: LR size {tuple(lr.shape[-2:])} is not HR size {tuple(hr.shape[-2:])} / {scale}; "
            f"check {{scale}} or regenerate the LR images", {"scale": ""})
    return SRPair(name=name, hr=hr, lr=lr, gray=gray)


def load_dataset(name: str, scale: int, root: str | None = None, limit: int | None = None) -> list[SRPair]:
    """The pairs of a registered dataset; too-small images are refused and very large ones announced here."""
    pairs = DATASETS.get(name)(scale=scale, root=root)
    if not pairs:
        raise UserError(f"dataset {name!r} at x{scale} has no images")
    pairs = pairs[:limit] if limit else pairs
    for p in pairs:  # datasets of other packages may build SRPairs without make_pair
        check_hr_size(p.name, p.hr.shape[-2], p.hr.shape[-1], scale)
    _warn_if_large(name, pairs, scale, root)
    return pairs
