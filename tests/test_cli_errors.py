"""Bad input: one line on stderr that says what to do, exit code 2, no traceback, finished cells kept."""
from pathlib import Path

from PIL import Image

from srbench.data.demo import skimage_image
from srbench.data.images import write_image


def _assert_one_line_error(result, *needles):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("srbench: error:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _folder_set(root: Path, scale=4, n=2, size=32) -> Path:
    img = skimage_image("chelsea")
    for i in range(n):
        write_image(img[:, i * size:(i + 1) * size, :size], root / "Set5" / f"x{scale}" / "HR" / f"im{i}.png")
    return root


def test_unknown_model_dataset_attack(cli, tmp_path):
    _assert_one_line_error(cli("run", "--models", "esrgna", "--quiet", cwd=tmp_path), "unknown model 'esrgna'", "'esrgan'")
    _assert_one_line_error(cli("run", "--datasets", "set15", "--quiet", cwd=tmp_path), "unknown dataset 'set15'", "'set14'")
    _assert_one_line_error(cli("run", "--attack", "ifgms", "--quiet", cwd=tmp_path), "unknown attack 'ifgms'", "'ifgsm'")


def test_negative_alpha(cli, tmp_path):
    _assert_one_line_error(cli("run", "--alpha", "-2", "--quiet", cwd=tmp_path), "alpha must be")
    _assert_one_line_error(cli("run", "--alpha", "two", "--quiet", cwd=tmp_path), "--alpha takes numbers")


def test_missing_weights_offline(cli, tmp_path):
    result = cli("run", "--models", "edsr", "--datasets", "demo", "--attack", "none", "--quiet", cwd=tmp_path)
    _assert_one_line_error(result, "EDSR_Mx4_f64b16_DIV2K_official-0c287733.pth", "--weights edsr=PATH", "Google Drive")


def test_unreadable_image_and_size_mismatch(cli, tmp_path):
    root = _folder_set(tmp_path / "data")
    (root / "Set5" / "x4" / "HR" / "broken.png").write_bytes(b"not a png")
    result = cli("run", "--models", "bicubic", "--attack", "none", "--datasets", "set5", "--data-root", str(root),
                 "--quiet", cwd=tmp_path)
    _assert_one_line_error(result, "cannot read image", "broken.png")

    root = _folder_set(tmp_path / "data2")
    lr_dir = root / "Set5" / "x4" / "LR"
    lr_dir.mkdir(parents=True)
    Image.new("RGB", (5, 5)).save(lr_dir / "im0.png")
    result = cli("run", "--models", "bicubic", "--attack", "none", "--datasets", "set5", "--data-root", str(root),
                 "--quiet", cwd=tmp_path)
    _assert_one_line_error(result, "LR size", "im0")


def test_error_later_keeps_finished_cells(cli, tmp_path):
    """A model that fails after another finished: the finished cells stay on disk, unchanged."""
    args = ["run", "--datasets", "demo", "--attack", "none", "--limit", "1", "--out", "out", "--quiet"]
    ok = cli(*args, "--models", "bicubic", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    cells = sorted((tmp_path / "out" / "cells").glob("*.json"))
    before = {p.name: p.read_bytes() for p in cells}
    _assert_one_line_error(cli(*args, "--models", "bicubic,edsr", cwd=tmp_path), "edsr")
    after = {p.name: p.read_bytes() for p in sorted((tmp_path / "out" / "cells").glob("*.json"))}
    assert after == before


def test_bad_suite_reports_every_problem(cli, tmp_path):
    (tmp_path / "bad.yaml").write_text("models: [esrgna]\ndatasets: [set5]\nalphas: [-1]\ncolour: red\n")
    result = cli("run", "bad.yaml", "--quiet", cwd=tmp_path)
    _assert_one_line_error(result, "unknown key 'colour'", "unknown model 'esrgna'", "alpha must be")


def test_unwritable_outputs_fail_first_in_one_line(cli, tmp_path):
    """An output path under a file (a folder cannot be made there): every writer says which path
    is wrong, before any long computation and without a traceback."""
    (tmp_path / "afile").write_text("not a folder")
    run = ["run", "--models", "bicubic", "--datasets", "demo", "--attack", "none", "--limit", "1", "--quiet"]
    _assert_one_line_error(cli(*run, "--out", "afile/run", cwd=tmp_path), "run folder afile/run", "afile is a file")
    _assert_one_line_error(cli("toy", "--quick", "--out", "afile/toy", cwd=tmp_path), "output folder afile/toy")
    _assert_one_line_error(cli("toy", "--quick", "--out", "toy", "--ckpt-dir", "afile/ckpt", cwd=tmp_path),
                           "checkpoint folder afile/ckpt")
    assert not (tmp_path / "toy" / "table.csv").exists()

    assert cli(*run, "--out", "ok", cwd=tmp_path).returncode == 0
    _assert_one_line_error(cli("leaderboard", "ok", "--format", "csv", "--out", "afile/lb.csv", cwd=tmp_path),
                           "folder afile", "is a file, not a folder")
    _assert_one_line_error(cli("leaderboard", "ok", "--format", "html", "--out", "afile/site", cwd=tmp_path),
                           "site folder afile/site")
    write_image(skimage_image("chelsea")[:, :16, :16], tmp_path / "lr.png")
    _assert_one_line_error(cli("explore", "--model", "bicubic", "--image", "lr.png", "--output", "afile/e",
                               cwd=tmp_path), "output folder afile/e")


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`srbench models | head` must not print a BrokenPipeError traceback when the reader goes away."""
    import subprocess
    import sys

    done = subprocess.run(["bash", "-c", f"'{sys.executable}' -m srbench.cli models | true"],
                          capture_output=True, text=True, timeout=120)
    assert done.stderr == ""
