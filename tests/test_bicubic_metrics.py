"""MATLAB bicubic and the SR-literature metrics, against basicsr's independent implementations."""
import math

import numpy as np
import pytest
import torch

from srbench.core.compat import _alias_functional_tensor, basicsr_matlab_imresize
from srbench.data.bicubic import imresize
from srbench.core.metrics import batch_psnr, fidelity, linf_lower_bound_psnr, psnr


@pytest.mark.parametrize("scale", [1 / 4, 1 / 3, 1 / 2, 2, 3, 4])
def test_imresize_matches_basicsr(scale):
    ref = basicsr_matlab_imresize()
    x = torch.rand(3, 23, 31, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = imresize(x, scale)
    theirs = ref(x.float(), scale)
    assert ours.shape == theirs.shape == (3, math.ceil(23 * scale), math.ceil(31 * scale))
    assert (ours.float() - theirs).abs().max() < 1e-5


def test_imresize_is_differentiable_and_batched():
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    imresize(x, 4).sum().backward()
    assert x.grad.shape == x.shape and x.grad.abs().sum() > 0


def test_fidelity_matches_basicsr_metrics():
    _alias_functional_tensor()
    from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_ssim

    g = torch.Generator().manual_seed(1)
    hr = torch.rand(3, 40, 52, generator=g)
    sr = (hr + 0.05 * torch.randn(hr.shape, generator=g)).clamp(0, 1)
    ours = fidelity(sr, hr, scale=4)
    bgr = lambda t: (t.permute(1, 2, 0).numpy()[..., ::-1] * 255).round().astype(np.float64)  # noqa: E731
    a, b = bgr(sr), bgr(hr)
    assert ours["psnr_y"] == pytest.approx(calculate_psnr(a, b, 4, test_y_channel=True), abs=1e-6)
    assert ours["ssim_y"] == pytest.approx(calculate_ssim(a, b, 4, test_y_channel=True), abs=1e-6)
    assert ours["psnr_rgb"] == pytest.approx(calculate_psnr(a, b, 4), abs=1e-6)
    assert ours["ssim_rgb"] == pytest.approx(calculate_ssim(a, b, 4), abs=1e-6)


def test_gray_images_are_scored_on_raw_gray_under_the_matlab_convention():
    hr = torch.rand(1, 30, 30).expand(3, -1, -1)
    sr = (hr + 0.1).clamp(0, 1)
    gray = fidelity(sr, hr, 2, gray=True, gray_convention="matlab")["psnr_y"]
    as_y = fidelity(sr, hr, 2, gray=False, gray_convention="matlab")["psnr_y"]
    # Y = 16 + 219/255 * gray shrinks differences: the Y score is higher by 20 log10(255/219)
    assert as_y - gray == pytest.approx(20 * math.log10(255 / 219), abs=0.05)
    # BasicSR's convention takes Y of the 3 equal channels, gray or not
    assert fidelity(sr, hr, 2, gray=True)["psnr_y"] == fidelity(sr, hr, 2, gray=False)["psnr_y"]


def test_psnr_values():
    a = torch.zeros(1, 3, 4, 4)
    b = torch.full((1, 3, 4, 4), 0.1)
    assert psnr(a, b) == pytest.approx(20.0)
    assert batch_psnr(a, b).item() == pytest.approx(20.0)
    assert psnr(a, a) == math.inf
    assert linf_lower_bound_psnr(8) == pytest.approx(20 * math.log10(255 / 8))
