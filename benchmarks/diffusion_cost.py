"""What attacking a diffusion restorer through its whole sampling chain costs, measured and estimated.

    OMP_NUM_THREADS=1 python benchmarks/diffusion_cost.py --out results/perf/diffusion_cost

1. Measured, tiny random-weight LDM-SR (model_zoo/ldm_sr, the real diffusers
   classes) on this CPU, LR 32x32, one seed: for T sampling steps, the peak
   memory of one attack step (one seed-averaged I-FGSM gradient) with and
   without per-step checkpointing, as tensor bytes (model_zoo/ldm_sr/cost.py's
   counter: what autograd keeps) and as the process's resident-memory peak
   (a fresh process per configuration), and the time of the step.
2. Counted, the real architecture (model_zoo/ldm_sr/random_weights.REAL,
   built on the meta device: shapes only, no weights, no arithmetic): FLOPs
   of the UNet and the VQ decoder (torch's FlopCounterMode) and the tensor
   bytes of an attack step per seed, at the five Set5 LR sizes (x4).
3. An ESTIMATE of the Set5 suite of benchmarks/diffusion.yaml for ldm-sr-x4
   at T = 20/50/100 (5 alphas x 50 I-FGSM steps x 10 seeds, plus the clean,
   diversity and attacked evaluations): FLOPs from 2., an attack step costing
   4 forwards with checkpointing (forward, recomputation, backward = 2), and
   hours at a CPU rate measured here on the real UNet and at an ASSUMED GPU
   rate (--gpu-tflops). No GPU was used.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from model_zoo.ldm_sr.cost import tensor_peak  # noqa: E402
from model_zoo.ldm_sr.model import LatentDiffusionSR  # noqa: E402
from model_zoo.ldm_sr.random_weights import REAL, TINY, random_ldm_sr, random_modules  # noqa: E402
from srbench.files import atomic_write_text, write_json  # noqa: E402

ALPHAS, ATTACK_STEPS, SEEDS, DIVERSITY = (1, 2, 4, 8, 16), 50, 10, 32  # benchmarks/diffusion.yaml on Set5
SUITE_T = (20, 50, 100)
FWD_PER_ATTACK_STEP = {"checkpointing": 4, "plain": 3}  # forward + backward (2 forwards) + recomputation
MiB = 2 ** 20


def log(msg: str) -> None:
    print(msg, flush=True)


# ----------------------------------------------------------------------------- 1. tiny, measured


def tiny_tensor_peaks(steps: list[int], side: int) -> dict[str, list[int]]:
    g = torch.Generator().manual_seed(0)
    y, hr = torch.rand(1, 3, side, side, generator=g), torch.rand(1, 3, 4 * side, 4 * side, generator=g)
    out = {}
    for name, checkpointing in (("checkpointing", True), ("plain", False)):
        peaks = []
        for t in steps:
            model = random_ldm_sr(TINY, steps=t, checkpointing=checkpointing)
            peaks.append(tensor_peak(model, y, hr, model.sample_z(y, 1, torch.Generator().manual_seed(0))))
        out[name] = peaks
    return out


def tiny_rss_and_time(steps: list[int], side: int, repeats: int) -> dict[str, list[dict]]:
    out = {}
    for name, checkpointing in (("checkpointing", True), ("plain", False)):
        spec = {"size": "tiny", "side": side, "steps": steps, "checkpointing": checkpointing, "repeats": repeats}
        res = subprocess.run([sys.executable, "-m", "model_zoo.ldm_sr.cost", json.dumps(spec)], cwd=REPO,
                             capture_output=True, text=True, check=True)
        out[name] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


# ----------------------------------------------------------------------------- 2. real size, counted


def set5_lr_sizes(root: Path) -> dict[str, tuple[int, int]]:
    rows = json.loads((root / "manifest.json").read_text())
    return {r["name"]: (r["height"], r["width"]) for r in rows
            if r["dataset"] == "Set5" and r["scale"] == 4 and r["kind"] == "LR"}


def real_on_meta(steps: int, checkpointing: bool) -> LatentDiffusionSR:
    with torch.device("meta"):
        parts = random_modules(REAL)
    return LatentDiffusionSR(*parts, steps=steps, checkpointing=checkpointing).requires_grad_(False)


def flops(fn) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn()
    return counter.get_total_flops()


def real_counts(sizes: dict[str, tuple[int, int]]) -> dict[str, dict]:
    """Per image: UNet and decoder forward FLOPs, and attack-step tensor bytes (one seed) at T = 1 and 2."""
    models = {(t, c): real_on_meta(t, c) for t in (1, 2) for c in (True, False)}
    out = {}
    for name, (h, w) in sizes.items():
        m = models[1, True]
        y = torch.zeros(1, 3, h, w, device="meta")
        ph, pw = m.latent_shape(y)[1:]
        latent = torch.zeros(1, 3, ph, pw, device="meta")
        row = {"lr": [h, w], "latent": [ph, pw],
               "unet_flops": flops(lambda: m.unet(torch.cat([latent, latent], 1), 500)),
               "decoder_flops": flops(lambda: m.vqvae.decode(latent))}
        hr = torch.zeros(1, 3, 4 * h, 4 * w, device="meta")
        z = {"latent": latent}
        for (t, c), model in models.items():
            row[f"bytes_T{t}_{'checkpointing' if c else 'plain'}"] = tensor_peak(model, y, hr, z)
        out[name] = row
        log(f"  {name} LR {h}x{w}: UNet {row['unet_flops'] / 1e9:.0f} GFLOP/step, "
            f"decoder {row['decoder_flops'] / 1e9:.0f} GFLOP")
    return out


def bytes_at(row: dict, mode: str, t: int) -> float:
    """Attack-step tensor bytes at T steps, from the exact values at T = 1 and 2 (they are linear in T)."""
    b1, b2 = row[f"bytes_T1_{mode}"], row[f"bytes_T2_{mode}"]
    return b1 + (b2 - b1) * (t - 1)


def check_linearity(sizes: dict[str, tuple[int, int]], counts: dict[str, dict], t: int = 8) -> dict[str, float]:
    """The T = 1, 2 extrapolation against a direct count at T = t on the smallest image."""
    name = min(sizes, key=lambda n: sizes[n][0] * sizes[n][1])
    h, w = sizes[name]
    out = {}
    for mode, c in (("checkpointing", True), ("plain", False)):
        model = real_on_meta(t, c)
        y = torch.zeros(1, 3, h, w, device="meta")
        z = {"latent": torch.zeros(1, *model.latent_shape(y), device="meta")}
        direct = tensor_peak(model, y, torch.zeros(1, 3, 4 * h, 4 * w, device="meta"), z)
        out[mode] = direct / bytes_at(counts[name], mode, t)
    return {"image": name, "T": t, "direct_over_extrapolated": out}


def cpu_rate(threads: int) -> dict[str, float]:
    """Measured float32 rate of the real UNet (random weights) on this CPU: forward+backward at LR 32x32."""
    torch.set_num_threads(threads)
    unet, _, _ = random_modules({**REAL, "vqvae": TINY["vqvae"]})
    unet.requires_grad_(False)
    x = torch.rand(1, 6, 32, 32)
    fwd = flops(lambda: unet(x, 500))
    times = []
    for _ in range(3):
        xi = x.clone().requires_grad_(True)
        t0 = time.perf_counter()
        unet(xi, 500).sample.square().mean().backward()
        times.append(time.perf_counter() - t0)
    seconds = sorted(times)[1]
    return {"unet_fwd_flops_32x32": fwd, "fwd_bwd_seconds": seconds, "flops_per_second": 3 * fwd / seconds,
            "threads": threads}


def suite_estimate(counts: dict[str, dict], cpu_flops: float, gpu_flops: float) -> list[dict]:
    rows = []
    for t in SUITE_T:
        total = 0.0
        peak = {"checkpointing": 0.0, "plain": 0.0}
        for row in counts.values():
            fwd = t * row["unet_flops"] + row["decoder_flops"]
            attack = len(ALPHAS) * ATTACK_STEPS * SEEDS * FWD_PER_ATTACK_STEP["checkpointing"] * fwd
            evaluate = (SEEDS + DIVERSITY + len(ALPHAS) * SEEDS) * fwd
            total += attack + evaluate
            for mode in peak:
                peak[mode] = max(peak[mode], bytes_at(row, mode, t))
        rows.append({"T": t, "flops": total, "cpu_hours": total / cpu_flops / 3600,
                     "gpu_hours_estimate": total / gpu_flops / 3600,
                     "peak_bytes_per_seed_checkpointing": peak["checkpointing"],
                     "peak_bytes_per_seed_plain": peak["plain"]})
    return rows


# ----------------------------------------------------------------------------- report


def markdown(res: dict) -> str:
    tiny, cmd = res["tiny"], res["command"]
    lines = ["# Attacking a diffusion restorer through its sampling chain: cost", "",
             f"Command: `{cmd}` ({res['seconds']:.0f} s on {res['machine']}). No GPU was lent to this task: "
             f"every number is CPU-measured or counted, and GPU hours are an estimate.", "",
             f"## 1. Measured: tiny LDM-SR, LR {tiny['side']}x{tiny['side']}, one attack step (one seed), this CPU", "",
             "Tensor bytes = peak of the tensors the step allocates (what autograd keeps); RSS = the process's "
             "resident-memory peak above its level before the step (fresh process per configuration).", "",
             "| T | tensors, checkpointed (MiB) | tensors, plain (MiB) | RSS, checkpointed (MiB) | RSS, plain (MiB) "
             "| s/step, checkpointed | s/step, plain |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for i, t in enumerate(tiny["steps"]):
        rc, rp = tiny["rss"]["checkpointing"][i], tiny["rss"]["plain"][i]
        lines.append(f"| {t} | {tiny['tensor_bytes']['checkpointing'][i] / MiB:.2f} | "
                     f"{tiny['tensor_bytes']['plain'][i] / MiB:.2f} | {rc['rss_peak_bytes'] / MiB:.1f} | "
                     f"{rp['rss_peak_bytes'] / MiB:.1f} | {rc['seconds']:.3f} | {rp['seconds']:.3f} |")
    r = tiny["ratio_at_largest_T"]
    lines += ["", f"At T = {tiny['steps'][-1]}, plain / checkpointed: **{r['tensor_bytes']:.1f}x** the tensor memory, "
              f"**{r['rss']:.1f}x** the RSS peak; checkpointing costs **{r['time']:.2f}x** the time. "
              f"Growth per sampling step: tensors {tiny['slope_bytes']['checkpointing'] / 1024:.1f} KiB "
              f"checkpointed vs {tiny['slope_bytes']['plain'] / 1024:.0f} KiB plain; RSS "
              f"{tiny['slope_rss']['checkpointing'] / 1024:.0f} KiB vs {tiny['slope_rss']['plain'] / 1024:.0f} KiB "
              f"(the checkpointed RSS growth is allocator and Python-object overhead of the kept graph, "
              f"not tensors).", ""]
    real = res["real"]
    lines += ["## 2. Counted: the real ldm-sr-x4 architecture at the Set5 LR sizes (x4)", "",
              f"{real['architecture']}", "",
              "| image | LR (h x w) | latent | UNet GFLOP / step | decoder GFLOP | MiB/seed, T=1 plain | "
              "MiB per extra step, plain | MiB/seed checkpointed (any T) |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for name, row in real["images"].items():
        per_step = (row["bytes_T2_plain"] - row["bytes_T1_plain"]) / MiB
        lines.append(f"| {name} | {row['lr'][0]}x{row['lr'][1]} | {row['latent'][0]}x{row['latent'][1]} | "
                     f"{row['unet_flops'] / 1e9:.0f} | {row['decoder_flops'] / 1e9:.0f} | "
                     f"{row['bytes_T1_plain'] / MiB:.0f} | {per_step:.0f} | "
                     f"{row['bytes_T2_checkpointing'] / MiB:.0f} |")
    lin = real["linearity_check"]
    lines += ["", f"Bytes at other T are linear in T (from the T = 1 and 2 counts; a direct count at "
              f"T = {lin['T']} on {lin['image']} is {lin['direct_over_extrapolated']['plain']:.4f}x (plain) and "
              f"{lin['direct_over_extrapolated']['checkpointing']:.4f}x (checkpointed) the extrapolation).", ""]
    est = res["estimate"]
    lines += ["## 3. ESTIMATE: the Set5 suite (benchmarks/diffusion.yaml) for ldm-sr-x4", "",
              f"Work: {len(ALPHAS)} alphas x {ATTACK_STEPS} I-FGSM steps x {SEEDS} seeds, each step "
              f"{FWD_PER_ATTACK_STEP['checkpointing']} chain forwards (checkpointed), plus {SEEDS} clean, "
              f"{DIVERSITY} diversity and {len(ALPHAS)} x {SEEDS} attacked samples per image; a chain forward is "
              f"T UNet calls + one decode. CPU hours at the rate measured here on the real UNet "
              f"({est['cpu']['flops_per_second'] / 1e9:.0f} GFLOP/s, {est['cpu']['threads']} thread); GPU hours "
              f"at an ASSUMED sustained {est['gpu_tflops']:g} TFLOP/s (float32), not measured.", "",
              "| T | suite PFLOP | CPU hours (1 thread) | GPU hours (estimate) | peak GiB/seed checkpointed | "
              "peak GiB/seed plain | plain, 10 seeds batched (GiB) |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for row in est["rows"]:
        lines.append(f"| {row['T']} | {row['flops'] / 1e15:.1f} | {row['cpu_hours']:,.0f} | "
                     f"{row['gpu_hours_estimate']:.1f} | {row['peak_bytes_per_seed_checkpointing'] / 2**30:.1f} | "
                     f"{row['peak_bytes_per_seed_plain'] / 2**30:.1f} | "
                     f"{10 * row['peak_bytes_per_seed_plain'] / 2**30:.0f} |")
    lines += ["", "Peak memory is for the largest Set5 image (baby, LR 128x128), per seed (seeds batched together "
              "multiply it; `--z-chunk` bounds how many share one pass). With checkpointing it is dominated by the "
              "VQ decoder at the 512x512 output (checkpointed block by block). The counts use PyTorch's "
              "attention as it runs on a CPU, which holds the full attention matrix: the decoder's middle block "
              "attends over all 128x128 latent positions (2 GiB per seed for the matrix and its softmax), which "
              "a GPU's fused attention does not keep, so the GPU peak should be lower.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.md")
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data" / "sr-benchmarks")
    parser.add_argument("--steps", default="1,2,4,8,16,32", help="sampling steps T for the tiny measurements")
    parser.add_argument("--side", type=int, default=32, help="LR side of the tiny measurements")
    parser.add_argument("--repeats", type=int, default=3, help="timed attack steps per T (median)")
    parser.add_argument("--gpu-tflops", type=float, default=40.0, help="ASSUMED sustained GPU rate, TFLOP/s")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    steps = [int(s) for s in args.steps.split(",")]

    log("1. tiny model: tensor bytes of one attack step")
    tensor_bytes = tiny_tensor_peaks(steps, args.side)
    log("   ... resident-memory peak and time (fresh process per configuration)")
    rss = tiny_rss_and_time(steps, args.side, args.repeats)
    span = steps[-1] - steps[0]
    tiny = {"side": args.side, "steps": steps, "tensor_bytes": tensor_bytes, "rss": rss,
            "slope_bytes": {k: (v[-1] - v[0]) / span for k, v in tensor_bytes.items()},
            "slope_rss": {k: (v[-1]["rss_peak_bytes"] - v[0]["rss_peak_bytes"]) / span for k, v in rss.items()},
            "ratio_at_largest_T": {
                "tensor_bytes": tensor_bytes["plain"][-1] / tensor_bytes["checkpointing"][-1],
                "rss": rss["plain"][-1]["rss_peak_bytes"] / rss["checkpointing"][-1]["rss_peak_bytes"],
                "time": rss["checkpointing"][-1]["seconds"] / rss["plain"][-1]["seconds"]}}
    log(f"   ratio at T={steps[-1]}: {tiny['ratio_at_largest_T']}")

    log("2. real architecture on the meta device: FLOPs and tensor bytes at the Set5 LR sizes")
    sizes = set5_lr_sizes(args.data_root)
    counts = real_counts(sizes)
    with torch.device("meta"):
        parts = random_modules(REAL)
    n_unet, n_vq = (sum(p.numel() for p in m.parameters()) for m in parts[:2])
    architecture = (f"UNet2DModel {n_unet / 1e6:.1f}M parameters (channels {REAL['unet']['block_out_channels']}, "
                    f"attention at the lowest level and the middle), VQModel {n_vq / 1e6:.1f}M (f = 4, "
                    f"{REAL['vqvae']['num_vq_embeddings']} codes); config model_zoo/ldm_sr/random_weights.REAL.")
    real = {"architecture": architecture, "images": counts, "linearity_check": check_linearity(sizes, counts)}

    log("3. measured CPU rate of the real UNet, and the suite estimate")
    cpu = cpu_rate(args.threads)
    est = {"cpu": cpu, "gpu_tflops": args.gpu_tflops,
           "rows": suite_estimate(counts, cpu["flops_per_second"], args.gpu_tflops * 1e12)}
    for row in est["rows"]:
        log(f"   T={row['T']}: {row['flops'] / 1e15:.1f} PFLOP, {row['gpu_hours_estimate']:.1f} GPU h (estimate)")

    command = "OMP_NUM_THREADS=1 python benchmarks/diffusion_cost.py" + "".join(
        f" {a}" for a in sys.argv[1:])
    res = {"command": command, "machine": f"{platform.machine()} CPU, torch {torch.__version__}",
           "seconds": time.perf_counter() - t_start, "tiny": tiny, "real": real, "estimate": est}
    text = markdown(res)
    print(text)
    if args.out is not None:
        write_json(args.out.with_suffix(".json"), res)
        atomic_write_text(args.out.with_suffix(".md"), text)


if __name__ == "__main__":
    main()
