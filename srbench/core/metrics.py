"""Per-image quality and robustness metrics (formulas in docs/metrics.md).

Two families, kept apart on purpose:
- fidelity to the ground truth, SR-literature convention: output rounded to
  8 bits, ``scale`` border pixels shaved, Y channel of ITU-R BT.601
  (Y in [16, 235]); a grayscale ground truth scored by one of two
  conventions (``GRAY_CONVENTIONS``: BasicSR's Y, or MATLAB's raw gray);
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


def psnr_of_mse(mse: float | torch.Tensor, data_range: float = 1.0) -> float | torch.Tensor:
    """PSNR in dB of a mean squared error (inf where it is 0): srbench's one PSNR formula.

    A float is computed with ``math`` (the scores of result rows, unchanged since the first release),
    a tensor elementwise with torch.
    """
    if isinstance(mse, torch.Tensor):
        return 10 * torch.log10(data_range**2 / mse)
    return math.inf if mse == 0 else 10 * math.log10(data_range**2 / mse)


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> float:
    """PSNR in dB between two images (inf when identical)."""
    return psnr_of_mse(torch.mean((a.double() - b.double()) ** 2).item(), data_range)


def batch_psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-sample PSNR of (B, ...) tensors, as a float64 tensor of B values."""
    return psnr_of_mse(((a.double() - b.double()) ** 2).flatten(1).mean(1), data_range)


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


def fidelity(sr: torch.Tensor, hr: torch.Tensor, scale: int, gray: bool = False,
             gray_convention: str = "basicsr") -> dict[str, float]:
    """PSNR/SSIM of one (3, H, W) output against its ground truth, Y (or gray) and RGB.

    ``gray`` marks a grayscale ground truth; ``gray_convention`` says how it is scored
    (see :data:`GRAY_CONVENTIONS`), because published tables disagree on it. "basicsr" also
    rounds to 8 bits and computes Y with BasicSR's own float32 arithmetic, so its scores equal
    what BasicSR reports; "matlab" keeps the float64 steps srbench used before the convention existed.
    """
    basicsr = check_gray_convention(gray_convention) == "basicsr"
    eight_bit = basicsr_8bit if basicsr else to_8bit
    sr8, hr8 = shave(eight_bit(sr), scale), shave(eight_bit(hr), scale)
    if basicsr:
        sr_y, hr_y = basicsr_y(sr8), basicsr_y(hr8)
    elif gray:
        sr_y, hr_y = sr8[:1], hr8[:1]
    else:
        sr_y, hr_y = y_channel(sr8), y_channel(hr8)
    return {
        "psnr_y": psnr(sr_y, hr_y, 255.0),
        "ssim_y": ssim(sr_y, hr_y),
        "psnr_rgb": psnr(sr8, hr8, 255.0),
        "ssim_rgb": ssim(sr8, hr8),
    }


# How a grayscale ground truth (Set14 `bridge`) is scored; the two differ by about 0.09 dB on Set14.
GRAY_CONVENTIONS = {
    "basicsr": "gray read as 3 equal channels, Y of output and ground truth (BasicSR; learned-model papers)",
    "matlab": "raw gray values, channel 0 of the output (MATLAB scripts; EDSR/CARN bicubic rows)",
}
# The default: a new model is compared with its paper, and learned-model tables are made with BasicSR.
DEFAULT_GRAY_CONVENTION = "basicsr"
# Rows and cells written before the convention was recorded were scored this way.
LEGACY_GRAY_CONVENTION = "matlab"


def basicsr_8bit(img: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> rounded [0, 255] float64, rounded in float32 as BasicSR's ``tensor2img`` does.

    Why not :func:`to_8bit`: x * 255 rounded in float32 lands on the other side of .5 for some
    outputs of a real model, which moves a PSNR by about 1e-5 dB.
    """
    return (img.detach().float().clamp(0, 1) * 255.0).round().double()


def basicsr_y(img255: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of (..., 3, H, W) RGB in [0, 255] with BasicSR's arithmetic (``to_y_channel``).

    BasicSR divides by 255 in float32, sums B, G, R in float64, and returns float32 times 255.
    Why not :func:`y_channel`: those float32 steps move a PSNR by about 1e-5 dB, and a score
    under BasicSR's convention must equal the number BasicSR prints.
    """
    x = (img255.float() / 255.0).double()
    r, g, b = x[..., 0:1, :, :], x[..., 1:2, :, :], x[..., 2:3, :, :]
    y = (b * 24.966 + g * 128.553 + r * 65.481 + 16.0) / 255.0
    return (y.float() * 255.0).double()


def check_gray_convention(name: str) -> str:
    """Return ``name`` if it is a known grayscale convention; a ValueError naming the choices otherwise."""
    if not isinstance(name, str) or name not in GRAY_CONVENTIONS:
        raise ValueError(f"gray_convention must be one of {', '.join(GRAY_CONVENTIONS)}, got {str(name)[:60]!r}")
    return name


def perturbation_norms(y: torch.Tensor, y_adv: torch.Tensor) -> dict[str, float]:
    d = (y_adv.double() - y.double()).flatten()
    return {"linf": d.abs().max().item(), "l2": d.norm().item()}


def linf_lower_bound_psnr(alpha: float) -> float:
    """Smallest adversarial input PSNR an L_inf budget of alpha/255 allows: 20 log10(255/alpha)."""
    return math.inf if alpha <= 0 else 20 * math.log10(255.0 / alpha)
