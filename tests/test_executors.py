"""The Ray executor gives the local executor's rows; a worker killed mid-run is retried and recorded."""
import json
import math
import os

import pytest

from srbench.models import register_model
from srbench.bench.runner import run_suite
from srbench.bench.suite import Suite, cells

ray = pytest.importorskip("ray")

VOLATILE = {"time", "elapsed_s", "executor"}


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A local 2-CPU Ray instance; its workers inherit an isolated cache and one OpenMP thread."""
    env = {"SRBENCH_CACHE": str(tmp_path_factory.mktemp("ray-cache")), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _suite(models, **kw):
    return Suite(name="t", models=models, datasets=["demo"], alphas=[2.0, 8.0], limit=2, batch_size=1,
                 attack={"name": "ifgsm", "steps": 3, "init": "uniform", "target": "clean"}, device="cpu", **kw)


def _rows(run_dir):
    out = {}
    for path in sorted((run_dir / "cells").glob("*.json")):
        out[path.stem] = [{k: v for k, v in r.items() if k not in VOLATILE} for r in json.loads(path.read_text())["rows"]]
    return out


def _assert_same(a, b, path=""):
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6), (path, a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), (path, set(a) ^ set(b))
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


def test_ray_rows_equal_local_rows(ray_cluster, tmp_path):
    suite = _suite(["bicubic", "tiny-edsr"])
    run_suite(suite, tmp_path / "local", quiet=True)
    run_suite(suite, tmp_path / "ray", quiet=True, executor="ray")
    local, remote = _rows(tmp_path / "local"), _rows(tmp_path / "ray")
    assert set(local) == {c.cell_id for c in cells(suite)} and len(local) == 4
    _assert_same(local, remote)
    assert not (tmp_path / "ray" / "parts").exists() and not (tmp_path / "ray" / "errors").exists()
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["executor"] == "ray" and "finished" in manifest
    again = run_suite(suite, tmp_path / "ray", quiet=True, executor="ray")  # resumes: nothing left to do
    assert _rows(again) == remote


def test_killed_worker_is_retried_and_recorded(ray_cluster, tmp_path):
    marker = tmp_path / "crashed-once"

    def build():
        """tiny-edsr, but the first worker to build it dies (os._exit) as if killed mid-run."""
        from srbench.models import load_model

        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return load_model("tiny-edsr", device="cpu")
        os._exit(1)

    register_model("crashy-tiny-edsr", build=build, scale=4, overwrite=True)
    suite = _suite(["crashy-tiny-edsr"])
    run_dir = run_suite(suite, tmp_path / "run", quiet=True, executor="ray", max_retries=2)
    assert marker.exists()
    done = sorted(p.stem for p in (run_dir / "cells").glob("*.json"))
    assert done == sorted(c.cell_id for c in cells(suite))
    for rows in _rows(run_dir).values():
        assert [r["image"] for r in rows] == ["astronaut", "chelsea"]
    errors = [json.loads(p.read_text()) for p in (run_dir / "errors").glob("*.json")]
    assert len(errors) == 1, errors
    assert errors[0]["attempt"] == 1 and "Crash" in errors[0]["error_type"] + errors[0]["error"], errors[0]
    # the same rows as a clean local run of the plain model
    reference = run_suite(_suite(["tiny-edsr"]), tmp_path / "ref", quiet=True)
    for (_, a), (_, b) in zip(sorted(_rows(run_dir).items()), sorted(_rows(reference).items())):
        for ra, rb in zip(a, b):
            assert math.isclose(ra["adv_output_psnr"], rb["adv_output_psnr"], rel_tol=1e-5)


def test_failing_task_is_reported_not_lost(ray_cluster, tmp_path):
    def build():
        raise RuntimeError("this model always fails")

    register_model("always-fails", build=build, scale=4, overwrite=True)
    from srbench.core.errors import UserError

    with pytest.raises(UserError, match="failed after 1 retries"):
        run_suite(_suite(["always-fails"]), tmp_path / "run", quiet=True, executor="ray", max_retries=1)
    errors = [json.loads(p.read_text()) for p in (tmp_path / "run" / "errors").glob("*.json")]
    assert len(errors) == 2 * 2 * 2  # 2 cells x 2 one-image chunks x 2 attempts
    assert all("this model always fails" in e["error"] for e in errors)
    assert not list((tmp_path / "run").glob("cells/*.json"))


def test_a_cell_fitted_on_a_split_is_one_ray_task():
    """universal learns from the split's training images, so chunking its cell would fit it once per chunk."""
    from srbench.bench.executors import RayExecutor
    chunked = Suite(name="c", models=["bicubic"], datasets=["demo"], alphas=[2.0, 8.0], limit=3, batch_size=1,
                    attack={"name": "ifgsm", "steps": 2}, device="cpu")
    fitted = Suite(name="u", models=["bicubic"], datasets=["demo"], alphas=[4.0], limit=3, batch_size=1,
                   attack={"name": "universal", "steps": 2, "patch": 8, "train_images": 1}, device="cpu")
    executor = RayExecutor(images_per_task=1)
    attacked = [c for c in cells(chunked) if c.budget is not None]
    assert [u.n_chunks for u in executor.units(chunked, attacked)] == [3] * 3 * len(attacked)
    [unit] = executor.units(fitted, [c for c in cells(fitted) if c.budget is not None])
    assert (unit.start, unit.stop, unit.n_chunks) == (0, 3, 1)
    assert unit.images == ("chelsea", "coffee")  # the images it is evaluated on: not the one it learns from


def test_images_per_task_sets_what_a_stopped_run_keeps(ray_cluster, tmp_path, capsys):
    """One image per task: the finished image of a cell whose other image fails is kept under parts/."""
    from srbench.cli import main

    def build():
        from srbench.models import load_model
        model = load_model("bicubic", device="cpu")
        plain = model.restore

        def restore(y, z=None):
            if y.mean() < 0.45:  # chelsea (LR mean 0.424), never astronaut (0.476): alpha 2 moves it 0.008
                raise RuntimeError("this model fails on chelsea")
            return plain(y, z)
        model.restore = restore
        return model

    register_model("fails-on-chelsea", build=build, scale=4, overwrite=True)
    args = ["run", "--models", "fails-on-chelsea", "--datasets", "demo", "--limit", "2", "--alpha", "2",
            "--steps", "2", "--batch-size", "1", "--executor", "ray", "--quiet"]
    kept = {}
    for per_task in (1, 2):
        out = tmp_path / f"per{per_task}"
        assert main([*args, "--images-per-task", str(per_task), "--out", str(out)]) != 0
        assert "this model fails on chelsea" in capsys.readouterr().err
        assert not list(out.glob("cells/*.json"))
        kept[per_task] = sorted(r["image"] for p in out.glob("parts/*/*.json") for r in json.loads(p.read_text())["rows"])
    assert kept == {1: ["astronaut"], 2: []}
    assert main(["run", "--models", "bicubic", "--datasets", "demo", "--images-per-task", "1",
                 "--out", str(tmp_path / "local")]) == 2
    assert capsys.readouterr().err.strip() == "srbench: error: --images-per-task is for --executor ray"


def test_memory_per_task_keeps_big_tasks_apart_and_refuses_what_no_node_has(ray_cluster, tmp_path, capsys):
    """Tasks that each reserve over half a node's memory run one at a time, though 2 CPUs are free."""
    import time

    from srbench.bench.executors import largest_node_memory_gib
    from srbench.cli import main

    log = tmp_path / "spans.txt"

    def build():
        from srbench.models import load_model
        model = load_model("bicubic", device="cpu")
        plain = model.restore

        def restore(y, z=None):
            t0 = time.time()
            time.sleep(0.2)
            with open(log, "a") as f:
                f.write(f"{os.getpid()} {t0} {time.time()}\n")
            return plain(y, z)
        model.restore = restore
        return model

    register_model("slow-bicubic", build=build, scale=4, overwrite=True)
    node = largest_node_memory_gib(ray)
    local = ["run", "--models", "slow-bicubic", "--datasets", "demo", "--limit", "2", "--alpha", "2", "--steps", "2",
             "--batch-size", "1", "--quiet"]
    args = [*local, "--executor", "ray", "--images-per-task", "1"]
    assert main([*args, "--memory-per-task", f"{0.6 * node:.3f}", "--out", str(tmp_path / "run")]) == 0
    notice = capsys.readouterr().err
    assert "1 task(s) run at once where the CPUs allow 2" in notice, notice  # says why a CPU sits idle
    assert len(list((tmp_path / "run").glob("cells/*.json"))) == 1
    spans: dict[str, list[float]] = {}
    for pid, t0, t1 in (line.split() for line in log.read_text().splitlines()):
        lo, hi = spans.get(pid, (float("inf"), 0.0))
        spans[pid] = [min(lo, float(t0)), max(hi, float(t1))]
    ordered = sorted(spans.values())
    assert all(a[1] <= b[0] for a, b in zip(ordered, ordered[1:])), ordered  # no two tasks at once

    capsys.readouterr()
    assert main([*args, "--memory-per-task", f"{2 * node:.0f}", "--out", str(tmp_path / "too-big")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("srbench: error: --memory-per-task") and "no Ray node has that much" in err, err
    assert "\n" not in err and not (tmp_path / "too-big" / "cells").exists()
    for bad, message in (([*args, "--memory-per-task", "0"], "a positive number of GiB"),
                         ([*local, "--memory-per-task", "1"], "--memory-per-task is for --executor ray")):
        assert main([*bad, "--out", str(tmp_path / "bad")]) == 2
        assert message in capsys.readouterr().err


def test_tasks_at_once_counts_what_memory_leaves_of_the_cpus():
    """A memory reservation, not the CPUs, caps how many tasks run: the case a 2-CPU node with 15 GiB hits."""
    from srbench.bench.executors import GIB, tasks_at_once

    node = {"Alive": True, "Resources": {"CPU": 2.0, "memory": 15.1 * GIB}}
    dead = {"Alive": False, "Resources": {"CPU": 64.0, "memory": 500 * GIB}}
    assert tasks_at_once([node, dead], 1, 8) == (1, 2)
    assert tasks_at_once([node], 1, 7.5) == (2, 2)
    assert tasks_at_once([node], 1, None) == (2, 2)
    assert tasks_at_once([node, node], 2, 4) == (2, 2)
    assert tasks_at_once([node, dict(node, Resources={"CPU": 4.0, "memory": 40 * GIB})], 1, 16) == (2, 6)
