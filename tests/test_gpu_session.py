"""The GPU session's scripts (benchmarks/gpu_session, docs/performance.md): they parse, and collect.py
unpacks what a call returns where the docs say and compares GPU and CPU cells image by image."""
import importlib.util
import io
import json
import subprocess
import tarfile

import pytest

from conftest import REPO

HERE = REPO / "benchmarks" / "gpu_session"


@pytest.mark.parametrize("script", ["prepare.sh", "run.sh", "dry_run.sh"])
def test_scripts_parse(script):
    subprocess.run(["bash", "-n", str(HERE / script)], check=True)


def _collect():
    spec = importlib.util.spec_from_file_location("gpu_session_collect", HERE / "collect.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cell(model, alpha, shift=0.0, elapsed=10.0):
    rows = [{"image": name, "psnr_y": 30.0 + k + shift / 10, "ssim_y": 0.9, "niqe": 7.0, "adv_input_psnr": 50.0,
             "adv_psnr_y": 25.0 + shift, "adv_output_psnr": float("inf") if model == "bicubic" else 33.0 + shift,
             "elapsed_s": elapsed, "device": "cpu", "device_name": "cpu", "torch_version": "x", "python": "3"}
            for k, name in enumerate(["baby", "bird"])]
    cid = f"{model}__set5__x4__ifgsm_{alpha}__61d3bc93"
    return cid, {"cell": {"model": model, "dataset": "set5", "budget": alpha, "cell_id": cid}, "rows": rows}


def _tar(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_collect_unpacks_and_compares(tmp_path):
    cpu = tmp_path / "cpu" / "cells"
    cpu.mkdir(parents=True)
    gpu = {}
    for model, alpha, shift in (("bicubic", 1, 0.0), ("imdn", 2, 0.1)):
        cid, cell = _cell(model, alpha)
        (cpu / f"{cid}.json").write_text(json.dumps(cell))
        gpu[f"real/run/cells/{cid}.json"] = json.dumps(_cell(model, alpha, shift, elapsed=0.1)[1])
    cid, cell = _cell("rlfn", 4)  # only on the CPU: not compared
    (cpu / f"{cid}.json").write_text(json.dumps(cell))
    back = tmp_path / "back"
    back.mkdir()
    _tar(back / "real.tar.gz", {**gpu, "real/logs/imdn.log": "done"})
    _tar(back / "perf.tar.gz", {"perf/h200.md": "# perf", "perf/perf.log": "log"})
    (back / "log.txt").write_text("== 2026-12-01T10:00:00Z GPU session: budget 540s\n")
    (back / "times.tsv").write_text("item\texit_code\tseconds\ttimeout_s\nreal\t0\t200\t250\n")

    dest = tmp_path / "repo"
    assert _collect().main([str(back), "--dest", str(dest), "--cpu-run", str(tmp_path / "cpu")]) == 0
    for path in ("results/real-gpu/logs/imdn.log", "results/perf/h200.md", "results/perf/h200.log",
                 "results/real-gpu/session/20261201T100000Z/times.tsv", "results/real-gpu/agreement.md"):
        assert (dest / path).is_file(), path
    text = (dest / "results/real-gpu/agreement.md").read_text()
    assert "cells: 2 on the GPU, 3 on the CPU, 2 on both" in text
    assert "clean PSNR-Y 0.0100" in text and "adv output PSNR 0.1000" in text  # imdn's shift; bicubic: inf = inf
    assert "1 of 2: imdn__set5__x4__ifgsm_2__61d3bc93" in text
    assert "**100.0x**" in text and "200 s (exit code 0, timeout 250 s)" in text
