"""Shared fixtures: paths to ../shared, an isolated cache, and a CLI runner."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SR_BENCHMARKS = SHARED / "data" / "sr-benchmarks"


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tests use small tensors: one thread, here and in every `srbench` subprocess a test starts
    (they inherit OMP_NUM_THREADS). On a busy 2-core machine two OpenMP threads were seen to run
    30-80x slower than one (spin-waiting on a core another process holds)."""
    import torch

    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's ~/.cache/srbench, never reach the network hubs."""
    monkeypatch.setenv("SRBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def sr_benchmarks():
    if not SR_BENCHMARKS.is_dir():
        pytest.skip("../shared/data/sr-benchmarks is absent")
    return SR_BENCHMARKS


def run_cli(*args: str, cwd: str | os.PathLike | None = None, env: dict | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `srbench ARGS` as a user would, in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "srbench.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


def srbench(capsys, *args):
    """`srbench ARGS` in this process: (exit code, stdout, stderr), for tests that read the one-line errors."""
    from srbench.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err
