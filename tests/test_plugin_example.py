"""The plugin template in examples/srbench-plugin-example: installed as a separate package, found
through its entry points, and run through the whole pipeline."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "srbench-plugin-example"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    """pip-install the example into its own folder (offline: no deps, no isolated build env)."""
    target = tmp_path_factory.mktemp("plugin")
    build = tmp_path_factory.mktemp("plugin-src")
    src = build / "srbench-plugin-example"  # a copy, so no build/ or egg-info lands in the repository
    subprocess.run(["cp", "-r", str(EXAMPLE), str(src)], check=True)
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(target), str(src)], capture_output=True, text=True,
                         timeout=300)
    if res.returncode != 0:
        pytest.fail(f"pip install of the example plugin failed:\n{res.stderr[-3000:]}")
    return target


def _env(plugin_path: Path) -> dict:
    path = os.pathsep.join(p for p in (str(plugin_path), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def test_entry_points_are_found(plugin_path, cli):
    res = cli("models", "example*", env={**_env(plugin_path), "COLUMNS": "200"})
    assert res.returncode == 0, res.stderr
    assert "example-sharp-bicubic" in res.stdout and "x4" in res.stdout
    code = ("import srbench, srbench.attacks as a; "
            "print(srbench.list_models('example*'), a.ATTACKS.names('example*'), "
            "a.make_attack('example-noise', alpha=2).options())")
    res = subprocess.run([sys.executable, "-c", code], env={**os.environ, **_env(plugin_path)},
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "['example-sharp-bicubic'] ['example-noise'] {'alpha': 2, 'seed': 0}"
    # without the plugin on the path, the names are unknown (nothing leaks from the source tree)
    res = cli("validate", str(REPO / "benchmarks" / "quickstart.yaml"))
    assert res.returncode == 0
    assert "example-sharp-bicubic" not in cli("models").stdout


def test_plugin_model_and_attack_run_end_to_end(plugin_path, tmp_path, cli):
    res = cli("run", "--models", "example-sharp-bicubic,bicubic", "--attack", "example-noise", "--alpha", "4",
              "--datasets", "demo", "--limit", "1", "--quiet", "--out", "run", cwd=tmp_path, env=_env(plugin_path))
    assert res.returncode == 0, res.stderr
    cells = sorted((tmp_path / "run" / "cells").glob("*.json"))
    assert [c.name.split("__")[0] for c in cells] == ["bicubic", "example-sharp-bicubic"]
    rows = {c.name.split("__")[0]: json.loads(c.read_text())["rows"][0] for c in cells}
    row = rows["example-sharp-bicubic"]
    assert row["attack"] == "example-noise" and row["alpha"] == 4 and row["attack_options"] == {"alpha": 4.0, "seed": 0}
    # sign noise of amplitude 4/255 everywhere (up to clamping): L_inf is exactly the budget
    assert row["linf"] == pytest.approx(4 / 255, abs=1e-6)
    assert 20 < row["psnr_y"] < 40 and row["adv_output_psnr"] > 20
    # the unsharp mask amplifies the noise: less robust than plain bicubic on the same input
    assert row["adv_output_psnr"] < rows["bicubic"]["adv_output_psnr"]
