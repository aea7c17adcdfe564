"""Image files as users have them: 16-bit, palette, alpha, odd modes, too small, very large."""
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from srbench.data import LARGE_IMAGE_PIXELS, load_dataset, make_pair, min_hr_side
from srbench.data.demo import skimage_image
from srbench.core.pixels import to_uint8
from srbench.data.images import read_image
from srbench.core.errors import UserError
from srbench.core.metrics import fidelity, ssim
from srbench.models import load_model
from test_cli_errors import _assert_one_line_error


def _set_dir(root, name="Set5", scale=4, kind="HR"):
    folder = root / name / f"x{scale}" / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _gray8(sr_benchmarks, name="bird") -> np.ndarray:
    with Image.open(sr_benchmarks / "Set5" / "x4" / "HR" / f"{name}.png") as im:
        return np.asarray(im.convert("L"))


def _bicubic_scores(root) -> list[dict]:
    model = load_model("bicubic", scale=4)
    with torch.no_grad():
        return [fidelity(model.restore(p.lr[None])[0], p.hr, 4, gray=p.gray) for p in load_dataset("set5", 4, root=root)]


# ---------------------------------------------------------------- 16-bit PNGs

def test_16bit_gray_png_reads_full_precision(tmp_path):
    values = np.array([[0, 1, 255, 256, 257, 32768, 65534, 65535]] * 3, dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    img, gray = read_image(tmp_path / "g16.png")
    assert gray and img.shape == (3, 3, 8)
    assert torch.equal(img[0], torch.from_numpy(values.astype(np.float32) / 65535.0))
    assert torch.equal(img[0], img[2])


def test_16bit_gray_png_scores_like_its_8bit_source(sr_benchmarks, tmp_path):
    """The same content in 8 and 16 bits (v * 257) gives the same scores; a real 16-bit image
    (values between the 8-bit levels) within 0.01 dB. Saturating it gave 35.83 instead of 27.86 dB."""
    gray8 = _gray8(sr_benchmarks)
    Image.fromarray(gray8).save(_set_dir(tmp_path / "d8") / "bird.png")
    Image.fromarray(gray8.astype(np.uint16) * 257).save(_set_dir(tmp_path / "d16") / "bird.png")
    dither = np.random.default_rng(0).integers(-120, 121, gray8.shape)
    fine16 = np.clip(gray8.astype(np.int64) * 257 + dither, 0, 65535).astype(np.uint16)
    Image.fromarray(fine16).save(_set_dir(tmp_path / "fine16") / "bird.png")

    (p8,), (p16,) = load_dataset("set5", 4, root=tmp_path / "d8"), load_dataset("set5", 4, root=tmp_path / "d16")
    assert p16.gray and torch.equal(p8.hr, p16.hr) and torch.equal(p8.lr, p16.lr)
    (s8,), (s16,), (fine,) = (_bicubic_scores(tmp_path / d) for d in ("d8", "d16", "fine16"))
    assert 25 < s8["psnr_y"] < 35
    assert s16 == pytest.approx(s8, abs=1e-12)
    assert fine["psnr_y"] == pytest.approx(s8["psnr_y"], abs=0.01)
    assert fine["ssim_y"] == pytest.approx(s8["ssim_y"], abs=1e-4)


@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_color_png_is_refused(tmp_path, channels):
    """Pillow reads 16-bit RGB(A) PNGs as 8 bits (high byte only): refuse rather than score them silently."""
    cv2 = pytest.importorskip("cv2")  # Pillow cannot write them; basicsr brings OpenCV
    rgb = skimage_image("chelsea")[:, :24, :24]
    arr = torch.cat([rgb, torch.ones_like(rgb[:1])])[:channels].permute(1, 2, 0).numpy() * 65535
    assert cv2.imwrite(str(tmp_path / "c16.png"), arr.round().astype(np.uint16))
    with pytest.raises(UserError, match=r"c16\.png has 16 bits per channel .*convert it to 8 bits") as err:
        read_image(tmp_path / "c16.png")
    assert "\n" not in str(err.value)


def test_16bit_color_png_through_cli(cli, tmp_path):
    cv2 = pytest.importorskip("cv2")
    rgb16 = (np.asarray(skimage_image("chelsea")[:, :32, :32].permute(1, 2, 0)) * 65535).round().astype(np.uint16)
    assert cv2.imwrite(str(_set_dir(tmp_path / "data") / "c16.png"), rgb16)
    result = cli("run", "--models", "bicubic", "--attack", "none", "--datasets", "set5",
                 "--data-root", str(tmp_path / "data"), "--quiet", cwd=tmp_path)
    _assert_one_line_error(result, "c16.png", "16 bits per channel", "convert it to 8 bits")


# ---------------------------------------------------------------- other modes

@pytest.fixture
def rgb8():
    return to_uint8(skimage_image("chelsea")[:, :40, :48])  # H x W x 3 uint8


def test_alpha_is_dropped_not_composited(tmp_path, rgb8):
    alpha = np.linspace(0, 255, rgb8.shape[0] * rgb8.shape[1]).reshape(rgb8.shape[:2]).astype(np.uint8)
    Image.fromarray(np.dstack([rgb8, alpha])).save(tmp_path / "rgba.png")
    Image.fromarray(rgb8).save(tmp_path / "rgb.png")
    (rgba, gray_a), (rgb, gray_b) = read_image(tmp_path / "rgba.png"), read_image(tmp_path / "rgb.png")
    assert torch.equal(rgba, rgb) and not gray_a and not gray_b

    gray = rgb8[..., 1]
    Image.fromarray(np.dstack([gray, alpha]), mode="LA").save(tmp_path / "la.png")
    la, is_gray = read_image(tmp_path / "la.png")
    assert is_gray and torch.equal(la, torch.from_numpy(gray / np.float32(255)).expand(3, -1, -1))


def test_palette_and_bilevel_images(tmp_path, rgb8):
    pal = Image.fromarray(rgb8).quantize(32)
    pal.save(tmp_path / "p.png")
    img, gray = read_image(tmp_path / "p.png")
    assert not gray
    assert torch.equal(img, torch.from_numpy(np.asarray(pal.convert("RGB")) / np.float32(255)).permute(2, 0, 1))
    assert len(torch.unique(img.flatten(1), dim=1).T) <= 32

    Image.fromarray(rgb8[..., 0] > 128).save(tmp_path / "bw.png")
    img, gray = read_image(tmp_path / "bw.png")
    assert gray and set(img.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(img[0] == 1, torch.from_numpy(rgb8[..., 0] > 128))


@pytest.mark.parametrize("mode, dtype", [("I", np.int32), ("F", np.float32)])
def test_integer_and_float_pixels_are_refused(tmp_path, mode, dtype):
    Image.fromarray(np.full((24, 24), 100, dtype=dtype), mode=mode).save(tmp_path / "odd.tif")
    with pytest.raises(UserError, match=rf"odd\.tif has Pillow mode '{mode}'.*save it as an 8-bit or 16-bit PNG"):
        read_image(tmp_path / "odd.tif")


# ---------------------------------------------------------------- too small

@pytest.mark.parametrize("side", [1, 4])
def test_tiny_image_is_one_line_error_before_any_model_runs(cli, tmp_path, side):
    folder = _set_dir(tmp_path / "data")
    Image.fromarray(to_uint8(skimage_image("chelsea")[:, :32, :32])).save(folder / "a_fine.png")
    Image.new("RGB", (side, side), (90, 120, 30)).save(folder / "tiny.png")
    result = cli("run", "--models", "bicubic", "--attack", "none", "--datasets", "set5",
                 "--data-root", str(tmp_path / "data"), "--out", "out", "--quiet", cwd=tmp_path)
    _assert_one_line_error(result, "'tiny'", f"{side}x{side} pixels", "at least 20x20", "x4")
    assert not [p for p in (tmp_path / "out").rglob("*.json") if p.name != "manifest.json"]  # no cell computed


@pytest.mark.parametrize("scale, side", [(1, 13), (2, 16), (3, 18), (4, 20), (8, 32)])
def test_minimum_size_is_exactly_scorable(scale, side):
    """The smallest accepted HR holds one SSIM window after the shave; one pixel less is refused."""
    assert min_hr_side(scale) == side
    hr = skimage_image("astronaut")[:, :side, :side + 5]
    pair = make_pair("edge", hr, scale)
    assert pair.lr.shape[-2:] == (side // scale, (side + 5) // scale)
    scores = fidelity(pair.hr, pair.hr, scale)
    assert scores["ssim_y"] == pytest.approx(1.0) and scores["ssim_rgb"] == pytest.approx(1.0)
    with pytest.raises(UserError, match=rf"'edge' is {side + 5}x{side - 1} pixels, too small to score at x{scale}"):
        make_pair("edge", hr[:, : side - 1], scale)


# ---------------------------------------------------------------- SSIM in strips

def _whole_image_ssim(a255, b255):
    """The former one-piece SSIM (whole-image temporaries), kept as the reference for the strips."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    x = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(x**2) / (2 * 1.5**2))
    g = g / g.sum()

    def blur(t):
        t = t.contiguous().unfold(-1, 11, 1) @ g
        return (t.transpose(-1, -2).contiguous().unfold(-1, 11, 1) @ g).transpose(-1, -2)

    x, y = a255.double().unsqueeze(1), b255.double().unsqueeze(1)
    mu_x, mu_y = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2, blur(x * y) - mu_x * mu_y
    smap = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return smap.mean().item()


def test_ssim_strips_equal_whole_image_on_real_image(sr_benchmarks):
    hr, _ = read_image(sr_benchmarks / "Set5" / "x4" / "HR" / "baby.png")
    lr, _ = read_image(sr_benchmarks / "Set5" / "x4" / "LR" / "baby.png")
    with torch.no_grad():
        sr = load_model("bicubic", scale=4).restore(lr[None])[0]
    a, b = (hr.double() * 255).round(), (sr.double().clamp(0, 1) * 255).round()
    reference = _whole_image_ssim(a, b)
    assert 0.8 < reference < 0.95
    for strip_rows in (None, 1, 37, 10_000):
        assert ssim(a, b, strip_rows=strip_rows) == pytest.approx(reference, abs=1e-10)
    assert ssim(a[:1], b[:1], strip_rows=64) == pytest.approx(_whole_image_ssim(a[:1], b[:1]), abs=1e-10)


@pytest.mark.parametrize("shape", [(3, 157, 203), (1, 11, 13), (2, 12, 11)])
def test_ssim_strips_equal_whole_image_on_random_odd_sizes(shape):
    g = torch.Generator().manual_seed(sum(shape))
    a = torch.randint(0, 256, shape, generator=g).double()
    b = (a + torch.randn(shape, generator=g, dtype=torch.float64) * 20).clamp(0, 255).round()
    reference = _whole_image_ssim(a, b)
    for strip_rows in (None, 1, 2, 5, 64):
        assert ssim(a, b, strip_rows=strip_rows) == pytest.approx(reference, abs=1e-10)


def test_ssim_refuses_images_smaller_than_its_window():
    with pytest.raises(ValueError, match="at least 11x11 pixels, got 10x40"):
        ssim(torch.zeros(1, 10, 40), torch.zeros(1, 10, 40))


_PEAK_SCRIPT = """
import resource, torch
from srbench.core.metrics import ssim
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
n = {n}
a = torch.rand(1, n, n, generator=g, dtype=torch.float64).mul_(255)
b = torch.rand(1, n, n, generator=g, dtype=torch.float64).mul_(255)
ssim(a[:, :64, :64], b[:, :64, :64])  # page in the code paths first
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ssim(a, b)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's convention")
def test_ssim_peak_memory_stays_bounded():
    """A 2000x2000 image: one float64 plane is 32 MB and the one-piece SSIM grew the peak by
    about 9 planes; the strips stay under two planes (measured in a fresh process)."""
    out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT.format(n=2000)], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    grown_mb, plane_mb = float(out.stdout.split()[-1]), 2000 * 2000 * 8 / 2**20
    assert grown_mb < 2 * plane_mb, grown_mb


# ---------------------------------------------------------------- very large

def test_large_dataset_warns_once(tmp_path, caplog):
    """Above LARGE_IMAGE_PIXELS HR pixels, loading a dataset says so in one logged line, once."""
    hr_side = (2048, 2000)  # 4.1 megapixels; the LR files are given, so no bicubic of a 4 MP image here
    assert hr_side[0] * hr_side[1] > LARGE_IMAGE_PIXELS
    ramp = np.add.outer(np.arange(hr_side[0]) % 256, np.arange(hr_side[1]) % 7).astype(np.uint8)
    Image.fromarray(ramp).save(_set_dir(tmp_path / "big") / "huge.png")
    Image.fromarray(ramp[::4, ::4]).save(_set_dir(tmp_path / "big", kind="LR") / "huge.png")
    Image.fromarray(ramp[:64, :64]).save(_set_dir(tmp_path / "big") / "a_small.png")

    with caplog.at_level(logging.WARNING, logger="srbench.data"):
        for _ in range(2):
            load_dataset("set5", 4, root=tmp_path / "big")
        load_dataset("set5", 4, root=tmp_path / "big", limit=1)  # only the small image: nothing to say
    lines = [r.getMessage() for r in caplog.records if r.name == "srbench.data"]
    assert len(lines) == 1, lines
    assert "dataset 'set5' x4: 1 of 2 HR images have more than 4 megapixels" in lines[0]
    assert "'huge', 2000x2048" in lines[0] and "\n" not in lines[0]
