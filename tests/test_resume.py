"""Interrupting a run and running it again completes it without recomputing finished cells."""
import json
import signal
import subprocess
import sys
import time


def _default_sigint() -> None:
    """A shell starts background jobs (`make test &`) with SIGINT ignored, and the child inherits that: Python
    then installs no KeyboardInterrupt handler and the run below would ignore Ctrl-C. Restore the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupted_run_resumes(tmp_path):
    args = [sys.executable, "-m", "srbench.cli", "run", "--models", "bicubic,tiny-edsr", "--datasets", "demo",
            "--alpha", "1,2,4,8,16,32", "--steps", "20", "--limit", "2", "--out", "run", "--quiet"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    cells_dir = tmp_path / "run" / "cells"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(cells_dir.glob("[!.]*.json"))) < 5:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err
    finished = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in cells_dir.glob("[!.]*.json")}
    assert 5 <= len(finished) < 12, "the run should have been interrupted mid-way"  # 7 cells of margin: a busy machine
    for p in cells_dir.iterdir():  # no half-written file under a cell's name
        if not p.name.startswith("."):  # temporary files are hidden and skipped by readers
            json.loads(p.read_text())

    again = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    cells = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in cells_dir.glob("[!.]*.json")}
    assert len(cells) == 12
    for name, value in finished.items():
        assert cells[name] == value, f"{name} was recomputed"
    manifest_path = tmp_path / "run" / "manifest.json"
    manifest = manifest_path.read_bytes()
    third = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert third.returncode == 0
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in cells_dir.glob("[!.]*.json")} == cells
    assert manifest_path.read_bytes() == manifest, "a resume with nothing to do rewrote the manifest"


def test_leftover_temporary_file_is_not_read_as_a_cell(tmp_path):
    """A writer killed with SIGKILL leaves its hidden temporary file; results stay readable."""
    from srbench.report.leaderboard import load_rows
    from srbench.bench.store import RunStore

    store = RunStore(tmp_path / "run")
    store.write_cell("m__d", {"model": "m"}, [{"model": "m", "dataset": "d", "image": "a", "psnr_y": 30.0}])
    (store.cells_dir / ".m__d2.json.abc123.part.json").write_text("")  # what a killed writer leaves
    rows = list(store.rows())
    assert len(rows) == 1 and rows[0]["psnr_y"] == 30.0
    assert len(load_rows([tmp_path / "run"])) == 1
