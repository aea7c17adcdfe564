"""Preflight: every model's weights and every dataset are found before any cell is computed."""
import hashlib
import json
from pathlib import Path

from conftest import srbench
from srbench.core.errors import UserError
from srbench.models import register_model
from srbench.models.weights import Weights

EDSR_FILE = "EDSR_Mx4_f64b16_DIV2K_official-0c287733.pth"
TINY = ["--models", "bicubic,tiny-edsr", "--datasets", "demo", "--attack", "none", "--limit", "2", "--quiet"]


def error_lines(code, err):
    """The `srbench: error:` line of a failed command (exit 2, no traceback) and the lines after it."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("srbench: error:")]
    assert len(starts) == 1, err
    return lines[starts[0]:]


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_missing_weights_stop_the_run_before_any_cell(tmp_path, capsys):
    """bicubic comes first and needs nothing, but edsr's file is missing: nothing is computed or written."""
    args = ["run", "--models", "bicubic,edsr", "--datasets", "demo", "--attack", "none", "--limit", "1", "--quiet"]
    (line,) = error_lines(*srbench(capsys, *args, "--out", tmp_path / "new" / "run")[::2])
    assert EDSR_FILE in line and "--weights edsr=PATH" in line
    assert not (tmp_path / "new").exists(), "a failed run left a folder behind"

    (tmp_path / "empty").mkdir()  # a folder the user made stays, untouched
    error_lines(*srbench(capsys, *args, "--out", tmp_path / "empty")[::2])
    assert list((tmp_path / "empty").iterdir()) == []

    code, _, err = srbench(capsys, *args[:2], "bicubic", *args[3:], "--out", tmp_path / "done")
    assert code == 0, err
    before = snapshot(tmp_path / "done")
    error_lines(*srbench(capsys, *args, "--out", tmp_path / "done")[::2])
    assert snapshot(tmp_path / "done") == before, "the manifest or a cell changed"


def test_every_missing_input_is_reported_at_once(tmp_path, capsys):
    register_model("preflight-no-file", build=lambda: None, scale=4, overwrite=True,
                   weights=Weights(file="preflight-x4.pth", how_to_get="Train it with train.py."))
    (tmp_path / "data").mkdir()
    lines = error_lines(*srbench(capsys, "run", "--models", "bicubic,edsr,preflight-no-file", "--datasets",
                                 "demo,set5", "--data-root", tmp_path / "data", "--attack", "none", "--quiet",
                                 "--out", tmp_path / "run")[::2])
    assert lines[0] == "srbench: error: 3 inputs of the run are missing or broken (nothing was computed):"
    assert len(lines) == 4 and all(line.startswith("  - ") for line in lines[1:]), lines
    assert EDSR_FILE in lines[1] and "--weights edsr=PATH" in lines[1]
    assert "preflight-x4.pth" in lines[2] and "Train it with train.py." in lines[2]
    assert "SRBENCH_WEIGHTS_PREFLIGHT_NO_FILE=PATH" in lines[2]
    assert "Set5" in lines[3] and str(tmp_path / "data") in lines[3]
    assert not (tmp_path / "run").exists()


def test_a_run_that_fails_before_its_first_cell_leaves_no_folder(tmp_path, capsys):
    """The manifest is written after the preflight; a later failure with no result removes the folder it made."""
    def build():
        raise UserError("this model cannot be built here")

    register_model("preflight-unbuildable", build=build, scale=4, overwrite=True)
    (line,) = error_lines(*srbench(capsys, "run", "--models", "preflight-unbuildable", "--datasets", "demo",
                                   "--attack", "none", "--limit", "1", "--quiet", "--out", tmp_path / "run")[::2])
    assert "this model cannot be built here" in line
    assert not (tmp_path / "run").exists()


def test_dry_run_lists_weights_datasets_and_cells_and_writes_nothing(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, out, err = srbench(capsys, "run", *TINY, "--out", run_dir, "--dry-run")
    assert code == 0, err
    assert not run_dir.exists()
    lines = out.splitlines()
    tiny = next(line for line in lines if line.startswith("  tiny-edsr: "))
    path, digest = tiny.removeprefix("  tiny-edsr: ").removesuffix(")").split(" (sha256 ")
    assert Path(path).name == "tiny_edsr_x4.pth" and "model_zoo" in path
    assert digest == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert "  bicubic: no weights" in lines and "  demo: 2 images" in lines
    assert "cells: 2 (0 finished, 2 pending)" in lines
    assert sum(line.endswith("  [pending]") for line in lines) == 2

    code, _, err = srbench(capsys, "run", *TINY, "--out", run_dir)
    assert code == 0, err
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["inputs"] == {"weights": {"bicubic": {"path": None, "sha256": None},
                                              "tiny-edsr": {"path": path, "sha256": digest}},
                                  "datasets": {"demo": 2}}
    (broken,) = (run_dir / "cells").glob("tiny-edsr__*.json")
    broken.write_text('{"cell": {}, "rows": []}')
    before = snapshot(run_dir)
    code, out, err = srbench(capsys, "run", *TINY, "--out", run_dir, "--dry-run")
    assert code == 0, err
    assert snapshot(run_dir) == before
    assert "cells: 2 (1 finished, 1 pending)" in out
    assert f"  {broken.stem}  [pending, to recompute: no rows]" in out.splitlines()

    code, out, err = srbench(capsys, "run", *TINY, "--out", run_dir, "--dry-run", "--shard", "1/2")
    assert code == 0 and "cells of shard 1/2: 1 (0 finished, 1 pending)" in out
