"""Degradations with exact consistency (the GAN experiments of Ohayon et al. 2023).

A :class:`Degradation` D maps a clean image x (B x C x H x W in [0, 1]) to the
observation y a restorer receives, and knows how to make any estimate x_hat
*consistent* with y, i.e. D(project(x_hat, y)) = y:

- :class:`BoxSR` (``sr4``, ``sr8``, ``sr16``): y = AvgPool_s(x), s x s box
  averaging (B x C x H/s x W/s). The network sees the nearest-neighbour
  upsampled y; consistency by x <- x + NNup(y - AvgPool_s(x)) (CEM for a box
  average). That projection can leave [0, 1]; blocks where it does are
  corrected by the exact Euclidean projection onto {mean = y_b} ∩ [0, 1]^(s*s),
  which is clamp(x + t_b, 0, 1) with a per-block scalar t_b found by bisection
  (the gradient flows through the linear projection and the clamp; t_b is a
  constant). Blocks already in range are untouched, so there the map is
  exactly the paper's.
- :class:`Inpaint` (``inpaint``): the upper 3/4 of the rows are masked (set
  to 0); y has the full size; consistency replaces the bottom 1/4 of x_hat by
  y's (x_hat is clamped to [0, 1] first).

:func:`consistency_psnr` measures PSNR(D(x_hat), y) over the observed values
only (for inpainting the masked zeros are not counted), for any restorer.
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from srbench.core.errors import UserError
from srbench.core.metrics import psnr_of_mse
from srbench.core.registry import Registry

__all__ = ["Degradation", "BoxSR", "Inpaint", "get_degradation", "DEGRADATIONS", "consistency_psnr"]


class Degradation:
    name: str = "degradation"
    scale: int = 1  # output size / input size of the restorer

    def degrade(self, x: torch.Tensor) -> torch.Tensor:
        """The observation y = D(x) that the restorer receives."""
        raise NotImplementedError

    def observed(self, y: torch.Tensor) -> torch.Tensor:
        """The measured values of an observation (flattened per sample)."""
        return y.flatten(1)

    def network_input(self, y: torch.Tensor) -> torch.Tensor:
        """What the network sees (at the output size)."""
        raise NotImplementedError

    def project(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Make x consistent with y (D(result) = y) and inside [0, 1]."""
        raise NotImplementedError

    def lr_shape(self, hr_hw: tuple[int, int]) -> tuple[int, int]:
        return hr_hw[0] // self.scale, hr_hw[1] // self.scale

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def nn_up(y: torch.Tensor, s: int) -> torch.Tensor:
    return y.repeat_interleave(s, dim=-2).repeat_interleave(s, dim=-1) if s > 1 else y


class BoxSR(Degradation):
    """s x s box averaging; the network input is the nearest-upsampled LR image."""

    def __init__(self, scale: int, bisection_steps: int = 40):
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale}")
        self.scale = int(scale)
        self.name = f"sr{self.scale}"
        self.bisection_steps = bisection_steps

    def degrade(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, self.scale) if self.scale > 1 else x

    def network_input(self, y: torch.Tensor) -> torch.Tensor:
        return nn_up(y, self.scale)

    def linear_project(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x + NNup(y - AvgPool_s(x)): the paper's projection (may leave [0, 1])."""
        return x + nn_up(y - self.degrade(x), self.scale)

    def project(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        s = self.scale
        p = self.linear_project(x, y)
        with torch.no_grad():
            lo = -F.max_pool2d(-p, s) if s > 1 else p
            hi = F.max_pool2d(p, s) if s > 1 else p
            bad = (lo < 0) | (hi > 1)  # blocks the linear projection pushed out of range
            if not bool(bad.any()):
                return p
            # mean(clamp(p + t, 0, 1)) is nondecreasing in t; the root lies in [-hi, 1 - lo]
            # (where the mean is 0 and 1), y in [0, 1]
            a, b = -hi, 1 - lo
            target = y.clamp(0, 1)
            for _ in range(self.bisection_steps):
                mid = (a + b) / 2
                m = self.degrade((p + nn_up(mid, s)).clamp(0, 1))
                below = m < target
                a = torch.where(below, mid, a)
                b = torch.where(below, b, mid)
            t = torch.where(bad, (a + b) / 2, torch.zeros_like(a))
            keep = nn_up(bad, s)
        fixed = (p + nn_up(t, s)).clamp(0, 1)
        return torch.where(keep, fixed, p)


class Inpaint(Degradation):
    """Upper ``masked`` fraction of the rows set to 0; the bottom rows are observed."""

    def __init__(self, masked: float = 0.75):
        self.masked = masked
        self.scale = 1
        self.name = "inpaint"

    def first_observed_row(self, h: int) -> int:
        return int(round(h * self.masked))

    def mask(self, x: torch.Tensor) -> torch.Tensor:
        m = torch.zeros(x.shape[-2:], dtype=x.dtype, device=x.device)
        m[self.first_observed_row(x.shape[-2]):] = 1
        return m

    def degrade(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask(x)

    def observed(self, y: torch.Tensor) -> torch.Tensor:
        return y[..., self.first_observed_row(y.shape[-2]):, :].flatten(1)

    def network_input(self, y: torch.Tensor) -> torch.Tensor:
        return y

    def project(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r = self.first_observed_row(x.shape[-2])
        return torch.cat([x[..., :r, :].clamp(0, 1), y[..., r:, :]], dim=-2)

    def lr_shape(self, hr_hw: tuple[int, int]) -> tuple[int, int]:
        return hr_hw


# name -> factory of the degradation; box SR also answers to ``srN`` for any N (see get_degradation)
DEGRADATIONS = Registry("degradation")
DEGRADATIONS.register("inpaint", Inpaint)
DEGRADATIONS.register("sr4", partial(BoxSR, 4))
DEGRADATIONS.register("sr8", partial(BoxSR, 8))
DEGRADATIONS.register("sr16", partial(BoxSR, 16))


def get_degradation(name: str | Degradation) -> Degradation:
    """A registered degradation (``inpaint``, ``sr4``, ``sr8``, ``sr16``) or box SR ``srN`` for any integer N."""
    if isinstance(name, Degradation):
        return name
    if not isinstance(name, str):
        raise UserError(f"a degradation is a name such as sr4 or inpaint, got {type(name).__name__}")
    if name.startswith("sr") and name[2:].isdigit():
        return BoxSR(int(name[2:]))
    return DEGRADATIONS.get(name)()


def consistency_psnr(degradation: str | Degradation, x_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR(D(x_hat), y) in dB over the observed values ([0, 1] range; inf when exact)."""
    deg = get_degradation(degradation)
    a = deg.observed(deg.degrade(x_hat.to(torch.float64)))
    b = deg.observed(y.to(torch.float64))
    return psnr_of_mse((a - b).pow(2).mean(1)).float()
