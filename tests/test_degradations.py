import math

import pytest
import torch

from srbench.core.degradations import BoxSR, Inpaint, consistency_psnr, get_degradation


@pytest.mark.parametrize("s", [4, 8, 16])
def test_box_sr_projection_is_consistent_and_in_range(s):
    g = torch.Generator().manual_seed(s)
    x = torch.rand(2, 3, 64, 64, generator=g)
    deg = get_degradation(f"sr{s}")
    y = deg.degrade(x)
    assert y.shape == (2, 3, 64 // s, 64 // s)
    assert deg.network_input(y).shape == x.shape
    # a wild estimate (far outside [0, 1]) still projects to a consistent image in range
    raw = torch.randn(2, 3, 64, 64, generator=g) * 2
    xh = deg.project(raw, y)
    assert xh.min() >= 0 and xh.max() <= 1
    assert consistency_psnr(deg, xh, y).min() > 60
    # a mild estimate is projected by the paper's linear map exactly
    mild = torch.full_like(x, 0.5)
    xm = deg.project(mild, y)
    assert torch.allclose(xm, deg.linear_project(mild, y))
    assert consistency_psnr(deg, xm, y).min() > 60


def test_box_sr_projection_keeps_consistent_images():
    x = torch.rand(1, 3, 32, 32)
    deg = BoxSR(4)
    assert torch.allclose(deg.project(x, deg.degrade(x)), x, atol=1e-6)


def test_inpaint_masks_upper_three_quarters_and_is_consistent():
    x = torch.rand(2, 3, 64, 64)
    deg = Inpaint()
    y = deg.degrade(x)
    assert y[..., :48, :].abs().sum() == 0 and torch.equal(y[..., 48:, :], x[..., 48:, :])
    xh = deg.project(torch.randn(2, 3, 64, 64) * 3, y)
    assert xh.min() >= 0 and xh.max() <= 1
    assert torch.equal(xh[..., 48:, :], x[..., 48:, :])
    assert math.isinf(consistency_psnr(deg, xh, y)[0].item())
    # an inconsistent estimate scores finite
    assert consistency_psnr("inpaint", torch.zeros_like(x), y).max() < 60


def test_projection_gradient_flows():
    deg = BoxSR(4)
    raw = torch.rand(1, 3, 16, 16, requires_grad=True)
    deg.project(raw, torch.rand(1, 3, 4, 4)).sum().backward()
    assert raw.grad is not None and raw.grad.abs().sum() > 0
