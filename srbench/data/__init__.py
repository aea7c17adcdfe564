"""Datasets: HR/LR pairs as tensors, found through the ``srbench.datasets`` registry.

A dataset entry is a function ``(scale, root=None) -> list[SRPair]``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from srbench.data.bicubic import imresize
from srbench.data.images import quantize
from srbench.errors import UserError
from srbench.registry import Registry

DATASETS = Registry("dataset", "srbench.datasets")


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


def make_pair(name: str, hr: torch.Tensor, scale: int, lr: torch.Tensor | None = None, gray: bool = False) -> SRPair:
    hr = mod_crop(hr, scale)
    if lr is None:
        lr = bicubic_lr(hr, scale)
    if tuple(lr.shape[-2:]) != (hr.shape[-2] // scale, hr.shape[-1] // scale):
        raise UserError(
            f"image {name!r}: LR size {tuple(lr.shape[-2:])} is not HR size {tuple(hr.shape[-2:])} / {scale}; "
            f"check --scale or regenerate the LR images")
    return SRPair(name=name, hr=hr, lr=lr, gray=gray)


def load_dataset(name: str, scale: int, root: str | None = None, limit: int | None = None) -> list[SRPair]:
    pairs = DATASETS.get(name)(scale=scale, root=root)
    if not pairs:
        raise UserError(f"dataset {name!r} at x{scale} has no images")
    return pairs[:limit] if limit else pairs


def list_datasets() -> list[str]:
    return DATASETS.names()
