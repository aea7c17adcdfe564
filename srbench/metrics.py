"""Per-image quality and robustness metrics (formulas in docs/metrics.md).

Two families, kept apart on purpose:
- fidelity to the ground truth, SR-literature convention: output rounded to
  8 bits, ``scale`` border pixels shaved, Y channel of ITU-R BT.601
  (Y in [16, 235]); grayscale images scored on their raw gray values;
  SSIM of Wang et al. 2004 with an 11x11 Gaussian (sigma 1.5), valid region.
- robustness (Eq. 9 of Ohayon et al. 2023, adversarial input PSNR of Choi et
  al. 2019): plain PSNR between [0, 1] RGB tensors, no rounding, no shave.
"""
from __future__ import annotations

import math

import torch

_Y_WEIGHTS = torch.tensor([65.481, 128.553, 24.966], dtype=torch.float64)


def to_8bit(img: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> rounded [0, 255] float64."""
    return (img.detach().double().clamp(0, 1) * 255).round()


def y_channel(img255: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of (..., 3, H, W) RGB in [0, 255] -> (..., 1, H, W) in [16, 235]."""
    w = _Y_WEIGHTS.to(img255.device).view(3, 1, 1) / 255.0
    return 16.0 + (img255 * w).sum(-3, keepdim=True)


def shave(img: torch.Tensor, border: int) -> torch.Tensor:
    return img[..., border:-border, border:-border] if border > 0 else img


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> float:
    """PSNR in dB between two images (inf when identical)."""
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return math.inf if mse == 0 else 10 * math.log10(data_range**2 / mse)


def batch_psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-sample PSNR of (B, ...) tensors, as a float64 tensor of B values."""
    mse = ((a.double() - b.double()) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)


SSIM_WINDOW = 11  # side of the Gaussian window; images smaller than this cannot be scored
_SSIM_STRIP_VALUES = 1 << 18  # values in each temporary of one SSIM strip (2 MiB in float64)
_SSIM_MIN_STRIP_ROWS = 32  # thinner strips would recompute their 10 extra rows too often


def _gaussian_1d(device: torch.device) -> torch.Tensor:
    x = torch.arange(SSIM_WINDOW, dtype=torch.float64, device=device) - SSIM_WINDOW // 2
    g = torch.exp(-(x**2) / (2 * 1.5**2))
    return g / g.sum()


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """11x11 Gaussian, valid region, as two 1-D passes (the window is separable)."""
    x = x.contiguous().unfold(-1, SSIM_WINDOW, 1) @ g
    return (x.transpose(-1, -2).contiguous().unfold(-1, SSIM_WINDOW, 1) @ g).transpose(-1, -2)


def ssim_strip_rows(channels: int, width: int) -> int:
    """Output rows per SSIM strip: about ``_SSIM_STRIP_VALUES`` values per temporary, whatever the height."""
    return max(_SSIM_MIN_STRIP_ROWS, _SSIM_STRIP_VALUES // (channels * width))


def _ssim_map_sum(a255: torch.Tensor, b255: torch.Tensor) -> float:
    """Sum of the SSIM map (valid region) of two (C, h, W) images in [0, 255]."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = _gaussian_1d(a255.device)
    x = a255.double().unsqueeze(1)  # channels as batch
    y = b255.double().unsqueeze(1)
    mu_x, mu_y = _blur(x, g), _blur(y, g)
    sxx = _blur(x * x, g) - mu_x**2
    syy = _blur(y * y, g) - mu_y**2
    sxy = _blur(x * y, g) - mu_x * mu_y
    smap = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return smap.sum().item()


def ssim(a255: torch.Tensor, b255: torch.Tensor, strip_rows: int | None = None) -> float:
    """SSIM of (C, H, W) images in [0, 255], averaged over the map and channels (valid filtering).

    Computed in horizontal strips of ``strip_rows`` output rows (default :func:`ssim_strip_rows`),
    each reading the 10 rows below it too, so a 4000x4000 image needs megabytes, not gigabytes;
    the strips tile the map exactly, so the value does not depend on their height.
    """
    channels, h, w = a255.shape
    if h < SSIM_WINDOW or w < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {h}x{w}")
    halo = SSIM_WINDOW - 1
    rows = h - halo  # rows of the SSIM map
    step = strip_rows or ssim_strip_rows(channels, w)
    total = sum(_ssim_map_sum(a255[:, top:top + step + halo], b255[:, top:top + step + halo])
                for top in range(0, rows, step))
    return total / (channels * rows * (w - halo))


def fidelity(sr: torch.Tensor, hr: torch.Tensor, scale: int, gray: bool = False) -> dict[str, float]:
    """PSNR/SSIM of one (3, H, W) output against its ground truth, both conventions."""
    sr8, hr8 = shave(to_8bit(sr), scale), shave(to_8bit(hr), scale)
    if gray:
        sr_y, hr_y = sr8[:1], hr8[:1]
    else:
        sr_y, hr_y = y_channel(sr8), y_channel(hr8)
    return {
        "psnr_y": psnr(sr_y, hr_y, 255.0),
        "ssim_y": ssim(sr_y, hr_y),
        "psnr_rgb": psnr(sr8, hr8, 255.0),
        "ssim_rgb": ssim(sr8, hr8),
    }


def perturbation_norms(y: torch.Tensor, y_adv: torch.Tensor) -> dict[str, float]:
    d = (y_adv.double() - y.double()).flatten()
    return {"linf": d.abs().max().item(), "l2": d.norm().item()}


def linf_lower_bound_psnr(alpha: float) -> float:
    """Smallest adversarial input PSNR an L_inf budget of alpha/255 allows: 20 log10(255/alpha)."""
    return math.inf if alpha <= 0 else 20 * math.log10(255.0 / alpha)
