"""A differentiable stand-in for JPEG, for BPDA's backward pass through the JPEG defense.

Why: BPDA with the identity backward (Athalye et al. 2018) treats JPEG as if it were not there,
so the attack spends its budget on directions JPEG removes (fine detail, colour at full
resolution). This function follows JPEG's steps in torch, so its gradient says which
directions survive: JFIF's RGB -> YCbCr, 4:2:0 chroma subsampling (2x2 means, as libjpeg and
PIL's default), 8x8 block DCT, division by the quality-scaled quantization tables of the JPEG
standard (Annex K, scaled as libjpeg does), rounding, and back (triangular chroma upsampling,
libjpeg's "fancy" default, is bilinear at 2x). The rounding is Shin and Song's (2017)
differentiable approximation ``round(x) + (x - round(x))**3``; ``rounding=torch.round`` gives
the plain JPEG steps (tests compare that with PIL).

It is an approximation in value too (float DCT, no entropy coding subtleties), which is why the
defense runs PIL's real JPEG forward and uses this only for the gradient.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

# JPEG standard, Annex K: quantization tables at quality 50, row-major over the 8x8 DCT frequencies
_LUMA_Q50 = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
             14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
             18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)
_CHROMA_Q50 = (17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
               24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
               *(99,) * 32)


def quantization_table(quality: int, chroma: bool) -> torch.Tensor:
    """The 8x8 table libjpeg (and PIL) uses at ``quality`` 1..100: Annex K's table scaled, clamped to 1..255."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    base = torch.tensor(_CHROMA_Q50 if chroma else _LUMA_Q50, dtype=torch.float64)
    return torch.clamp(torch.floor((base * scale + 50) / 100), 1, 255).view(8, 8)


def soft_round(x: torch.Tensor) -> torch.Tensor:
    """Shin and Song (2017): equal to round(x) up to (x - round(x))**3, with a non-zero gradient."""
    r = torch.round(x)
    return r + (x - r) ** 3


def _dct_matrix(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The orthonormal 8-point DCT-II matrix (rows: frequencies)."""
    n = torch.arange(8, dtype=torch.float64)
    m = torch.cos((2 * n[None, :] + 1) * n[:, None] * torch.pi / 16) * (2 / 8) ** 0.5
    m[0] /= 2 ** 0.5
    return m.to(dtype=dtype, device=device)


def _quantized_plane(plane: torch.Tensor, table: torch.Tensor, rounding: Callable) -> torch.Tensor:
    """One B x 1 x h x w plane (0..255) through level shift, 8x8 DCT, quantization and back."""
    h, w = plane.shape[-2:]
    padded = F.pad(plane, (0, -w % 8, 0, -h % 8), mode="replicate") - 128
    b, _, hp, wp = padded.shape
    blocks = padded.view(b, hp // 8, 8, wp // 8, 8).permute(0, 1, 3, 2, 4)  # B x rows x cols x 8 x 8
    d = _dct_matrix(plane.dtype, plane.device)
    q = table.to(dtype=plane.dtype, device=plane.device)
    coefficients = d @ blocks @ d.T
    restored = d.T @ (rounding(coefficients / q) * q) @ d
    out = restored.permute(0, 1, 3, 2, 4).reshape(b, 1, hp, wp) + 128
    return out[..., :h, :w]


def jpeg_like(y: torch.Tensor, quality: int, rounding: Callable = soft_round) -> torch.Tensor:
    """JPEG's lossy steps on ``y`` (B x C x h x w in [0, 1], C = 1 or 3), differentiable with ``soft_round``."""
    if y.shape[1] not in (1, 3):
        raise ValueError(f"jpeg_like takes 1- or 3-channel images, got {y.shape[1]} channels")
    x = y * 255
    luma_table = quantization_table(quality, chroma=False)
    if x.shape[1] == 1:
        return (_quantized_plane(x, luma_table, rounding) / 255).clamp(0, 1)
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    h, w = x.shape[-2:]
    chroma = F.pad(torch.cat([cb, cr], 1), (0, w % 2, 0, h % 2), mode="replicate")
    chroma = F.avg_pool2d(chroma, 2)
    chroma_table = quantization_table(quality, chroma=True)
    chroma = torch.cat([_quantized_plane(chroma[:, k:k + 1], chroma_table, rounding) for k in (0, 1)], 1)
    chroma = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)[..., :h, :w]
    luma = _quantized_plane(luma, luma_table, rounding)
    cb, cr = chroma[:, 0:1] - 128, chroma[:, 1:2] - 128
    rgb = torch.cat([luma + 1.402 * cr, luma - 0.344136 * cb - 0.714136 * cr, luma + 1.772 * cb], 1)
    return (rgb / 255).clamp(0, 1)
