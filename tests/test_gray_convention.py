"""Both grayscale conventions (issue 13, section 4) on the real Set14 `bridge`, a grayscale PNG.

basicsr (default): the gray file read as 3 equal channels, Y of output and ground truth, as
BasicSR-evaluated papers score it. matlab: raw gray values, as the published bicubic rows.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO, SR_BENCHMARKS
from srbench.core.compat import basicsr_psnr_ssim
from srbench.core.metrics import fidelity
from srbench.bench.runner import run_suite
from srbench.bench.store import RunStore
from srbench.bench.suite import Cell, build_suite, cells

needs_data = pytest.mark.skipif(not SR_BENCHMARKS.is_dir(), reason="../shared/data/sr-benchmarks is absent")
SET14_X4 = SR_BENCHMARKS / "Set14" / "x4"
GRAY_GAP_DB = 20 * math.log10(255 / 219)  # Y = 16 + 219/255 * gray shrinks every error by 219/255


def _rows(run_dir: Path) -> list[dict]:
    return list(RunStore(run_dir).rows())


def _bgr_uint8(t: torch.Tensor) -> np.ndarray:
    """A (3, H, W) tensor in [0, 1] as basicsr's tensor2img makes it: rounded uint8, HWC, BGR."""
    return (t.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()[..., ::-1].copy()


def _read_rgb(path: Path) -> np.ndarray:
    """The file as 3 channels (a gray file gives 3 equal ones), as BasicSR's cv2.imread reads it."""
    return np.array(Image.open(path).convert("RGB"))


@needs_data
def test_learned_model_set14_bridge_equals_basicsr_scoring(tmp_path):
    suite = build_suite({"name": "gray", "models": ["tiny-edsr"], "datasets": ["set14"], "limit": 3,
                         "data_root": str(SR_BENCHMARKS), "attack": "none", "batch_size": 1, "device": "cpu"})
    assert suite.gray_convention == "basicsr"  # the default
    run_suite(suite, tmp_path / "run", quiet=True)
    rows = {r["image"]: r for r in _rows(tmp_path / "run")}
    assert sorted(rows) == ["baboon", "barbara", "bridge"] and rows["bridge"]["gray"] is True
    assert all(r["gray_convention"] == "basicsr" for r in rows.values())

    from srbench.models import load_model

    model = load_model("tiny-edsr", device="cpu", scale=4)
    lr = torch.from_numpy(_read_rgb(SET14_X4 / "LR" / "bridge.png")).permute(2, 0, 1).float().div(255)
    with torch.no_grad():
        sr = model.restore(lr[None])[0]
    hr_bgr = _read_rgb(SET14_X4 / "HR" / "bridge.png")[..., ::-1]
    sr_bgr = _bgr_uint8(sr)
    assert sr_bgr.shape == hr_bgr.shape == (512, 512, 3)
    calculate_psnr, calculate_ssim = basicsr_psnr_ssim()
    assert rows["bridge"]["psnr_y"] == pytest.approx(calculate_psnr(sr_bgr, hr_bgr, 4, test_y_channel=True), abs=1e-6)
    assert rows["bridge"]["ssim_y"] == pytest.approx(calculate_ssim(sr_bgr, hr_bgr, 4, test_y_channel=True), abs=1e-6)

    hr = torch.from_numpy(_read_rgb(SET14_X4 / "HR" / "bridge.png")).permute(2, 0, 1).float().div(255)
    matlab = fidelity(sr, hr, 4, gray=True, gray_convention="matlab")
    assert rows["bridge"]["psnr_y"] - matlab["psnr_y"] > 1.0  # the two conventions are far apart on this image
    # RGB is scored alike but for BasicSR's float32 rounding to 8 bits (a few pixels on the other side of .5)
    assert matlab["psnr_rgb"] == pytest.approx(rows["bridge"]["psnr_rgb"], abs=1e-4)


@needs_data
def test_bicubic_set14_under_both_conventions_and_resume_never_mixes(tmp_path):
    """MATLAB reproduces the published bicubic row (26.00 dB at x4); BasicSR moves only bridge, by 20 log10(255/219)."""
    raw = {"name": "b", "models": ["bicubic"], "datasets": ["set14"], "data_root": str(SR_BENCHMARKS),
           "attack": "none", "device": "cpu"}
    out = tmp_path / "run"
    by_convention = {}
    for convention in ("matlab", "basicsr"):  # one run folder: the second run must not reuse the first cell
        suite = build_suite({**raw, "gray_convention": convention})
        run_suite(suite, out, quiet=True)
        (cell,) = cells(suite)
        by_convention[convention] = json.loads(RunStore(out).cell_path(cell.cell_id).read_text())["rows"]
    assert len(list((out / "cells").glob("*.json"))) == 2
    matlab = {r["image"]: r for r in by_convention["matlab"]}
    basicsr = {r["image"]: r for r in by_convention["basicsr"]}
    assert {r["gray_convention"] for r in matlab.values()} == {"matlab"}
    assert {r["gray_convention"] for r in basicsr.values()} == {"basicsr"}
    assert np.mean([r["psnr_y"] for r in matlab.values()]) == pytest.approx(26.00, abs=0.02)
    # BasicSR's float32 arithmetic moves scores by < 2e-5 dB; the convention moves bridge alone, by 1.32 dB
    assert basicsr["bridge"]["psnr_y"] - matlab["bridge"]["psnr_y"] == pytest.approx(GRAY_GAP_DB, abs=2e-5)
    for name in matlab:
        if name != "bridge":
            assert basicsr[name]["psnr_y"] == pytest.approx(matlab[name]["psnr_y"], abs=2e-5)
            assert basicsr[name]["ssim_y"] == pytest.approx(matlab[name]["ssim_y"], abs=1e-6)
    gap = np.mean([r["psnr_y"] for r in basicsr.values()]) - np.mean([r["psnr_y"] for r in matlab.values()])
    assert gap == pytest.approx(GRAY_GAP_DB / 14, abs=2e-5)  # about 0.094 dB on the Set14 mean

    before = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")}
    run_suite(build_suite({**raw, "gray_convention": "matlab"}), out, quiet=True)  # resume: nothing recomputed
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")} == before


def test_cells_made_before_the_convention_keep_their_names():
    """Committed cells lack the convention and were scored the MATLAB way: their ids must not change."""
    files = sorted((REPO / "results" / "tradeoff" / "runs").glob("*/cells/*.json"))
    assert files
    for path in files:
        stored = json.loads(path.read_text())
        assert all("gray_convention" not in r for r in stored["rows"])
        fields = {k: v for k, v in stored["cell"].items() if k != "cell_id"}
        fields["options"] = tuple(sorted(fields["options"].items()))
        fields["numerics"] = tuple(sorted(fields.get("numerics", {}).items()))
        legacy = Cell(**fields, gray_convention="matlab")
        assert legacy.cell_id == stored["cell"]["cell_id"] == path.stem
        assert Cell(**fields, gray_convention="basicsr").cell_id != legacy.cell_id


def test_convention_is_recorded_in_manifest_and_cell(tmp_path):
    suite = build_suite({"name": "demo", "models": ["bicubic"], "datasets": ["demo"], "limit": 1, "attack": "none",
                         "gray_convention": "matlab"})
    run_suite(suite, tmp_path, quiet=True)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["suite"]["gray_convention"] == "matlab"
    (cell_file,) = (tmp_path / "cells").glob("*.json")
    stored = json.loads(cell_file.read_text())
    assert stored["cell"]["gray_convention"] == "matlab"
    assert [r["gray_convention"] for r in stored["rows"]] == ["matlab"]


def test_fidelity_refuses_an_unknown_convention():
    img = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="basicsr, matlab"):
        fidelity(img, img, 2, gray_convention="MATLAB")
