"""A broken cell file never counts as finished: the run recomputes it, the readers refuse it in one line."""
import json
import os
import shutil
import stat

import pytest

from conftest import srbench
from srbench.cli import main
from srbench.files import write_json
from srbench.bench.store import RunStore

RUN = ["run", "--models", "bicubic", "--datasets", "demo", "--alpha", "2,8", "--steps", "2", "--limit", "2",
       "--quiet"]


def error_line(code, err):
    """The one `srbench: error:` line of a failed command (exit 2, no traceback)."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("srbench: error:")]
    assert len(lines) == 1, err
    return lines[0]


def leaderboard_csv(capsys, run_dir):
    code, out, err = srbench(capsys, "leaderboard", run_dir, "--format", "csv")
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: two cells (alpha 2 and 8) of bicubic on two demo images."""
    run_dir = tmp_path_factory.mktemp("ref") / "run"
    assert main([*RUN, "--out", str(run_dir)]) == 0
    return run_dir


def _cell(run_dir, alpha):
    (path,) = (run_dir / "cells").glob(f"*_ifgsm_{alpha}__*.json")
    return path


def _truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _drop_second_row(path):
    cell = json.loads(path.read_text())
    cell["rows"] = cell["rows"][:1]
    path.write_text(json.dumps(cell))


CORRUPTIONS = {
    "truncated": (_truncated, "truncated or corrupted JSON"),
    "empty object": (lambda p: p.write_text("{}"), "not a result file"),
    "no rows": (lambda p: p.write_text('{"rows": []}'), "not a result file"),
    "empty rows": (lambda p: p.write_text('{"cell": {}, "rows": []}'), "no rows"),
    "a missing image": (_drop_second_row, "rows for 1 of 2 images missing (chelsea)"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_rerun_recomputes_a_broken_cell(case, reference, tmp_path, capsys):
    corrupt, reason = CORRUPTIONS[case]
    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir)
    broken, intact = _cell(run_dir, 8), _cell(run_dir, 2)
    corrupt(broken)
    intact_before = (intact.read_bytes(), intact.stat().st_mtime_ns)

    code, _, err = srbench(capsys, *RUN, "--out", run_dir)
    assert code == 0, err
    notices = [line for line in err.splitlines() if "recomputing" in line]
    assert len(notices) == 1, err
    assert notices[0].startswith(f"srbench: cell {broken.stem}: ") and notices[0].endswith("; recomputing it")
    assert reason in notices[0]
    assert (intact.read_bytes(), intact.stat().st_mtime_ns) == intact_before, "a sound cell was recomputed"
    assert [r["image"] for r in json.loads(broken.read_text())["rows"]] == ["astronaut", "chelsea"]
    assert leaderboard_csv(capsys, run_dir) == leaderboard_csv(capsys, reference)

    code, _, err = srbench(capsys, *RUN, "--out", run_dir)  # now nothing is left to do
    assert code == 0 and "recomputing" not in err


READER_CASES = {k: v for k, v in CORRUPTIONS.items() if k != "a missing image"}  # readers check structure only
READER_CASES["rows without image names"] = (lambda p: p.write_text('{"cell": {}, "rows": [{"psnr_y": 30}]}'),
                                            "rows that are not per-image records")


@pytest.mark.parametrize("case", list(READER_CASES))
def test_readers_name_a_broken_cell(case, reference, tmp_path, capsys):
    corrupt, reason = READER_CASES[case]
    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir)
    broken = _cell(run_dir, 8)
    corrupt(broken)
    commands = [["leaderboard", run_dir], ["plot", "fig7", run_dir, "--output", tmp_path / "fig7.png"],
                ["leaderboard", run_dir, "--format", "html", "--out", tmp_path / "site"]]
    for command in commands:
        line = error_line(*srbench(capsys, *command)[::2])
        assert f"broken result file {broken}: {reason}" in line, line
        assert "re-run the `srbench run` command that made it" in line
    assert not (tmp_path / "fig7.png").exists() and not (tmp_path / "site" / "index.html").exists()


def test_result_files_follow_the_umask(reference, tmp_path):
    cell_mode = stat.S_IMODE(_cell(reference, 2).stat().st_mode)
    umask = os.umask(0o022)
    os.umask(umask)
    assert cell_mode == 0o666 & ~umask
    for mask, mode in [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)]:
        old = os.umask(mask)
        try:
            store = RunStore(tmp_path / f"run{mask:o}")
            store.write_cell("c", {"model": "m"}, [{"image": "a"}])
            write_json(tmp_path / f"table{mask:o}.json", {"a": 1})
        finally:
            os.umask(old)
        assert stat.S_IMODE(store.cell_path("c").stat().st_mode) == mode
        assert stat.S_IMODE((tmp_path / f"table{mask:o}.json").stat().st_mode) == mode


def test_broken_ray_chunk_is_dropped_and_recomputed(tmp_path):
    """The Ray executor's chunk files get the same check: a broken one is deleted (then recomputed)."""
    from srbench.bench.executors import PartStore, WorkUnit
    from srbench.bench.suite import Cell

    cell = Cell("bicubic", "demo", 4, "ifgsm", 8.0, ())
    parts = PartStore(RunStore(tmp_path / "run"))
    unit = WorkUnit(cell, 0, 1, 0, 2, images=("astronaut", "chelsea"))
    cases = {"rows for 1 of 2 images missing (chelsea)": [{"image": "astronaut"}], "no rows": [],
             "truncated or corrupted JSON": None}
    for reason, rows in cases.items():
        parts.write(unit, rows or [])
        if rows is None:
            parts.path(unit).write_text('{"unit": "x", "rows": [{"ima')
        assert reason in parts.drop_if_broken(unit)
        assert not parts.has(unit)
    parts.write(unit, [{"image": "chelsea"}, {"image": "astronaut"}])
    assert parts.drop_if_broken(unit) is None and parts.has(unit)
    assert [r["image"] for r in parts.read(unit)] == ["chelsea", "astronaut"]


def test_a_stopped_run_resumes_mid_cell(reference, tmp_path, capsys):
    """Each finished batch of images is kept under parts/: a run stopped (Ctrl-C) on a cell's second
    image keeps its first, and the same command finishes the cell without recomputing it."""
    from srbench.models import load_model, register_model

    stopped = tmp_path / "stopped-once"

    def build():
        model = load_model("bicubic", device="cpu")
        plain = model.restore

        def restore(y, z=None):
            if y.mean() < 0.45 and not stopped.exists():  # chelsea (LR mean 0.424; astronaut 0.476)
                stopped.touch()
                raise KeyboardInterrupt
            return plain(y, z)
        model.restore = restore
        return model

    register_model("stops-once", build=build, scale=4, overwrite=True)
    args = ["run", "--models", "stops-once", "--datasets", "demo", "--alpha", "2", "--steps", "2", "--limit", "2",
            "--batch-size", "1", "--quiet", "--out", str(tmp_path / "run")]
    assert main(args) == 130
    assert "finished images of the cell in progress are kept" in capsys.readouterr().err
    assert not list((tmp_path / "run").glob("cells/*.json"))
    (part,) = (tmp_path / "run" / "parts").glob("*/*.json")
    kept = json.loads(part.read_text())["rows"]
    assert part.name == "0of2.json" and [r["image"] for r in kept] == ["astronaut"]
    assert main([*args, "--dry-run"]) == 0
    assert f"{part.parent.name}  [pending; 1 finished part(s) kept]" in capsys.readouterr().out
    assert main(args) == 0
    (cell,) = [json.loads(p.read_text()) for p in (tmp_path / "run" / "cells").glob("*.json")]
    assert [r["image"] for r in cell["rows"]] == ["astronaut", "chelsea"]
    assert cell["rows"][0] == kept[0]  # read back, not recomputed (same time stamp)
    assert not (tmp_path / "run" / "parts").exists()
    ref = json.loads(next((reference / "cells").glob("bicubic__demo__x4__ifgsm_2__*.json")).read_text())
    for mine, theirs in zip(cell["rows"], ref["rows"]):  # the same numbers as an uninterrupted run
        assert mine["adv_output_psnr"] == pytest.approx(theirs["adv_output_psnr"], abs=1e-9)
