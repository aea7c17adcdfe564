"""MATLAB-compatible bicubic ``imresize`` in torch (differentiable, batched).

MATLAB resizes each axis with a cubic kernel (a = -0.5); when shrinking it
widens the kernel by 1/scale (antialiasing) and it mirrors indices past the
border ("symmetric" padding). Each axis becomes a dense (out x in) matrix, so
resizing is two matrix products: exact, differentiable and GPU-friendly.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch


def _cubic(x: torch.Tensor) -> torch.Tensor:
    ax = x.abs()
    ax2, ax3 = ax**2, ax**3
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


@lru_cache(maxsize=64)
def resize_matrix(in_len: int, out_len: int, scale: float, antialias: bool = True) -> torch.Tensor:
    """The (out_len x in_len) float64 matrix MATLAB's imresize applies along one axis."""
    kernel_width = 4.0
    shrink = scale < 1 and antialias
    if shrink:
        kernel_width /= scale
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    dist = u[:, None] - idx
    weights = scale * _cubic(dist * scale) if shrink else _cubic(dist)
    weights = weights / weights.sum(1, keepdim=True)
    # mirror out-of-range (1-based) indices: 0 -> 1, -1 -> 2, in+1 -> in, ...
    mirror = torch.cat([torch.arange(in_len), torch.arange(in_len - 1, -1, -1)])
    cols = mirror[(idx.long() - 1) % (2 * in_len)]
    mat = torch.zeros(out_len, in_len, dtype=torch.float64)
    mat.scatter_add_(1, cols, weights)
    return mat


def imresize(img: torch.Tensor, scale: float | None = None, size: tuple[int, int] | None = None,
             antialias: bool = True) -> torch.Tensor:
    """Resize (..., H, W) by ``scale`` or to ``size`` exactly as MATLAB's bicubic imresize.

    Output size for a scale is ceil(H * scale), MATLAB's rule.
    """
    h, w = img.shape[-2:]
    if size is None:
        if scale is None:
            raise ValueError("give scale or size")
        size = (math.ceil(h * scale), math.ceil(w * scale))
        sh = sw = float(scale)
    else:
        sh, sw = size[0] / h, size[1] / w
    mh = resize_matrix(h, size[0], sh, antialias).to(img.device, img.dtype)
    mw = resize_matrix(w, size[1], sw, antialias).to(img.device, img.dtype)
    return mh @ img @ mw.T
