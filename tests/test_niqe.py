"""NIQE: srbench's tensor convention equals basicsr's calculate_niqe on the PNG file; blur raises it."""
import math

import pytest
import torch

from srbench.data.images import read_image
from srbench.core.niqe import niqe


@pytest.mark.parametrize("image", ["Set5/x4/HR/butterfly.png", "Set14/x4/HR/bridge.png"])
def test_niqe_equals_basicsr_on_the_file(sr_benchmarks, image):
    cv2 = pytest.importorskip("cv2")
    from srbench.core.compat import basicsr_niqe

    path = sr_benchmarks / image
    img, _ = read_image(path)  # RGB tensor in [0, 1]; the gray bridge as 3 equal channels
    expected = basicsr_niqe()(cv2.imread(str(path)).astype("float64"), 4)  # BGR file as basicsr reads it
    assert niqe(img, crop_border=4) == pytest.approx(expected, abs=1e-9)


def test_blur_makes_an_image_less_natural(sr_benchmarks):
    img, _ = read_image(sr_benchmarks / "Set5/x4/HR/butterfly.png")
    k = torch.ones(3, 1, 5, 5) / 25
    blurred = torch.nn.functional.conv2d(img[None], k, padding=2, groups=3)[0]
    assert niqe(blurred, 4) > niqe(img, 4) + 1


def test_too_small_for_one_block_is_nan():
    assert math.isnan(niqe(torch.rand(3, 100, 200), crop_border=4))  # 92 rows after shaving < 96
    assert not math.isnan(niqe(torch.rand(3, 104, 200), crop_border=4))
