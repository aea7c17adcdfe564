"""After the device call of a GPU session (docs/performance.md): unpack what came back, compare GPU and CPU.

    .venv/bin/python benchmarks/gpu_session/collect.py FILES_AT [--dest .] [--tag h200]

FILES_AT is the folder where the run tool put the files of $OUT (its files_at). Unpacks

    real.tar.gz      -> results/real-gpu/run (cells, manifest), results/real-gpu/logs
    defenses.tar.gz  -> results/real-gpu/defenses/run, results/real-gpu/defenses/logs
    ldm.tar.gz       -> results/perf/ldm_step_<tag>.{json,md,log}
    perf.tar.gz      -> results/perf/<tag>.{json,md,log}                (EDSR, ESRGAN)
    srflow.tar.gz    -> results/perf/<tag>_srflow.{json,md,log}         (SRFlow)
    log.txt, times.tsv -> results/real-gpu/session/<the session's UTC start, from log.txt>/

under --dest, then compares every cell of the GPU track with the CPU cell of the same id in
results/real-cpu/run (same suite, flags and cell ids), image by image, and writes
results/real-gpu/agreement.md: per (model, dataset, alpha) the largest |GPU - CPU| of the clean and
attacked scores, and the speedup (the sum of the rows' elapsed_s on the CPU over that on the GPU).
"""
from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import tarfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROUTES = {"real": "results/real-gpu", "defenses": "results/real-gpu/defenses", "ldm": "results/perf",
          "perf": "results/perf", "srflow": "results/perf"}
SESSION_FILES = ("log.txt", "times.tsv")
# (row key, column title): clean scores, then the attacked ones
METRICS = [("psnr_y", "clean PSNR-Y"), ("ssim_y", "clean SSIM-Y"), ("niqe", "NIQE"),
           ("adv_input_psnr", "adv input PSNR"), ("adv_psnr_y", "adv PSNR-Y"), ("adv_output_psnr", "adv output PSNR")]
EXACT_DB = 0.05  # docs/performance.md: an option is exact when adv_output_psnr moves by less than this


def unpack(files_at: Path, dest: Path, tag: str) -> list[str]:
    rename = {"ldm.log": f"ldm_step_{tag}.log", "perf.log": f"{tag}.log", "srflow.log": f"{tag}_srflow.log"}
    written = []
    for item, route in ROUTES.items():
        archive = files_at / f"{item}.tar.gz"
        if not archive.is_file():
            print(f"{archive.name}: not there (the item did not run or did not finish)")
            continue
        with tarfile.open(archive) as tar:
            for m in tar.getmembers():
                parts = Path(m.name).parts
                if not m.isfile() or len(parts) < 2 or parts[0] != item or ".." in parts:
                    continue
                rest = Path(*parts[1:])
                target = dest / route / rename.get(str(rest), rest)
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(m) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                written.append(str(target.relative_to(dest)))
        print(f"{archive.name}: unpacked under {route}")
    session = dest / "results/real-gpu/session" / session_stamp(files_at / "log.txt")
    for name in SESSION_FILES:
        if (files_at / name).is_file():
            session.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(files_at / name, session / name)
            written.append(str((session / name).relative_to(dest)))
    return written


def session_stamp(log: Path) -> str:
    """The session's start as run.sh's first line prints it (2026-12-01T16:34:23Z -> 20261201T163423Z)."""
    m = re.search(r"== (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) GPU session", log.read_text()) if log.is_file() else None
    return re.sub(r"[-:]", "", m.group(1)) if m else time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def read_times(session: Path) -> dict[str, str]:
    path = session / "times.tsv"
    if not path.is_file():
        return {}
    lines = [ln.split("\t") for ln in path.read_text().splitlines()[1:] if ln.strip()]
    return {f[0]: f"{f[2]} s (exit code {f[1]}, timeout {f[3]} s)" for f in lines if len(f) >= 4}


def load_cells(run: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((run / "cells").glob("*.json"))}


def delta(a, b) -> float | None:
    if a is None or b is None:
        return None
    if math.isinf(a) or math.isinf(b):
        return 0.0 if a == b else math.inf
    return abs(a - b)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "-"


def fmt(v: float | None, digits: int = 4) -> str:
    return "" if v is None else ("inf" if math.isinf(v) else f"{v:.{digits}f}")


def compare(cpu: dict[str, dict], gpu: dict[str, dict]) -> tuple[list[dict], dict]:
    rows = []
    for cid in sorted(set(cpu) & set(gpu), key=lambda c: (gpu[c]["cell"]["model"], gpu[c]["cell"]["dataset"],
                                                           gpu[c]["cell"]["budget"] or 0)):
        c_rows = {r["image"]: r for r in cpu[cid]["rows"]}
        g_rows = {r["image"]: r for r in gpu[cid]["rows"]}
        images = sorted(set(c_rows) & set(g_rows))
        cell = gpu[cid]["cell"]
        out = {"cell_id": cid, "model": cell["model"], "dataset": cell["dataset"], "alpha": cell["budget"],
               "images": len(images), "cpu_s": sum(c_rows[i]["elapsed_s"] for i in images),
               "gpu_s": sum(g_rows[i]["elapsed_s"] for i in images)}
        for key, _ in METRICS:
            ds = [d for d in (delta(c_rows[i].get(key), g_rows[i].get(key)) for i in images) if d is not None]
            out[key] = max(ds) if ds else None
        rows.append(out)
    env = {}
    for cells, side in ((gpu, "gpu"), (cpu, "cpu")):
        for cell in cells.values():
            if cell["rows"]:
                r = cell["rows"][0]
                env[side] = f"{r.get('device_name')} ({r.get('device')}), torch {r.get('torch_version')}, Python {r.get('python')}"
                break
    return rows, env


def report(rows: list[dict], env: dict, n_cpu: int, n_gpu: int, times: dict[str, str]) -> str:
    lines = ["# The real-model track on a GPU against the CPU track (issue 14)", "",
             "Made by `benchmarks/gpu_session/collect.py` from `results/real-gpu/run` (GPU) and "
             "`results/real-cpu/run` (CPU): same suite (`benchmarks/real-cpu.yaml`), flags and cell ids, "
             "compared image by image. See docs/performance.md, \"GPU session\".", "",
             f"- GPU rows: {env.get('gpu', '-')}", f"- CPU rows: {env.get('cpu', '-')}",
             f"- cells: {n_gpu} on the GPU, {n_cpu} on the CPU, {len(rows)} on both (compared)"]
    if "real" in times:
        lines.append(f"- wall time of the GPU track (10 processes sharing the GPU, start-up included): {times['real']}")
    if not rows:
        return "\n".join(lines + ["", "No cell is on both sides yet."]) + "\n"
    worst = {key: max((r[key] for r in rows if r[key] is not None), default=None) for key, _ in METRICS}
    cpu_s, gpu_s = sum(r["cpu_s"] for r in rows), sum(r["gpu_s"] for r in rows)
    off = [r for r in rows if r["adv_output_psnr"] is not None and r["adv_output_psnr"] >= EXACT_DB]
    lines += ["", "## Agreement", "",
              "Largest |GPU - CPU| over every compared image: " +
              ", ".join(f"{title} {fmt(worst[key])}" for key, title in METRICS) + ".",
              f"Cells whose adversarial output PSNR moves by {EXACT_DB} dB or more (the project's bar for an "
              f"'exact' speed option): {len(off)} of {len(rows)}" +
              (": " + ", ".join(r["cell_id"] for r in off) if off else "") + ".", "",
              "## Speed", "",
              f"Sum of the compared rows' elapsed_s: CPU {cpu_s:,.0f} s, GPU {gpu_s:,.1f} s: **{ratio(cpu_s, gpu_s)}** "
              "(CPU: one thread per process, two processes on a shared 2-core machine; GPU: per-row times with "
              "10 processes sharing the GPU, so each is an upper bound).", "",
              "| model | dataset | CPU s | GPU s | speedup |", "|---|---|---:|---:|---:|"]
    by_md = defaultdict(lambda: [0.0, 0.0])
    for r in rows:
        by_md[(r["model"], r["dataset"])][0] += r["cpu_s"]
        by_md[(r["model"], r["dataset"])][1] += r["gpu_s"]
    for (m, d), (c, g) in by_md.items():
        lines.append(f"| {m} | {d} | {c:,.0f} | {g:,.1f} | {ratio(c, g)} |")
    lines += ["", "## Per cell: largest |GPU - CPU| over its images (dB, except SSIM and NIQE)", "",
              "| model | dataset | alpha | images | " + " | ".join(t for _, t in METRICS) + " | CPU s | GPU s | speedup |",
              "|---|---|---:|---:|" + "---:|" * (len(METRICS) + 3)]
    for r in rows:
        lines.append(f"| {r['model']} | {r['dataset']} | {r['alpha']:g} | {r['images']} | " +
                     " | ".join(fmt(r[key]) for key, _ in METRICS) +
                     f" | {r['cpu_s']:.1f} | {r['gpu_s']:.2f} | {ratio(r['cpu_s'], r['gpu_s'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files_at", type=Path, help="the folder holding the files that came back from $OUT")
    p.add_argument("--dest", type=Path, default=REPO, help="repository root to unpack into (default: this one)")
    p.add_argument("--cpu-run", type=Path, default=REPO / "results/real-cpu/run")
    p.add_argument("--tag", default="h200", help="the GPU's short name, as run.sh's GPU_TAG")
    args = p.parse_args(argv)
    written = unpack(args.files_at, args.dest, args.tag)
    print(f"{len(written)} files written under {args.dest}")
    gpu_run = args.dest / "results/real-gpu/run"
    cpu, gpu = load_cells(args.cpu_run), load_cells(gpu_run) if gpu_run.is_dir() else {}
    rows, env = compare(cpu, gpu)
    sessions = sorted((args.dest / "results/real-gpu/session").glob("*/times.tsv"))
    times = {}
    for path in sessions:  # the latest session that ran the real track
        times = {**times, **{k: v for k, v in read_times(path.parent).items() if k == "real"}}
    text = report(rows, env, len(cpu), len(gpu), times)
    out = args.dest / "results/real-gpu/agreement.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text.split("\n## Per cell")[0])
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
