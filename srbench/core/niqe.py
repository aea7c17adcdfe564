"""NIQE, the no-reference perceptual measure of the real-model track (lower looks more natural).

Mittal et al.'s "completely blind" quality evaluator, computed by basicsr's implementation (its
pristine-image parameters ship inside the package, so it works offline). basicsr is reached only
through :mod:`srbench.core.compat`. Convention, as in the perception-distortion literature (PIRM 2018):
the 8-bit rounded output, ``crop_border`` pixels shaved, the Y channel of BT.601, 96x96 blocks.
"""
from __future__ import annotations

import math

import torch

from srbench.core.compat import basicsr_niqe
from srbench.core.metrics import to_8bit

NIQE_BLOCK = 96  # basicsr's block size: an image needs at least one full block after shaving


def niqe(img: torch.Tensor, crop_border: int = 0) -> float:
    """NIQE of one (3, H, W) RGB image in [0, 1]; NaN when it is smaller than one 96x96 block after shaving."""
    h, w = img.shape[-2] - 2 * crop_border, img.shape[-1] - 2 * crop_border
    if min(h, w) < NIQE_BLOCK:
        return math.nan
    bgr_hwc = to_8bit(img).flip(0).permute(1, 2, 0).cpu().numpy()  # basicsr expects BGR, H x W x C, [0, 255]
    return float(basicsr_niqe()(bgr_hwc, crop_border, input_order="HWC", convert_to="y"))
