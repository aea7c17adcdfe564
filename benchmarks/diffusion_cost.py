"""What attacking a diffusion restorer through its whole sampling chain costs, measured and estimated.

    OMP_NUM_THREADS=1 python benchmarks/diffusion_cost.py --out results/perf/diffusion_cost

1. Measured, tiny random-weight LDM-SR (model_zoo/ldm_sr, the real diffusers
   classes) on this CPU, LR 32x32, one seed: for T sampling steps, the peak
   memory of one attack step (one seed-averaged I-FGSM gradient) with and
   without per-step checkpointing, as tensor bytes (model_zoo/ldm_sr/cost.py's
   counter: what autograd keeps) and as the process's resident-memory peak
   (a fresh process per configuration), and the time of the step.
2. Counted, the real architectures of ldm-sr-x4 (model_zoo/ldm_sr/random_weights.REAL)
   and sd-x4-upscaler (model_zoo/sd_upscaler/random_weights.REAL), built on
   the meta device (shapes only, no weights, no arithmetic): FLOPs of the UNet
   and the decoder (torch's FlopCounterMode) and the tensor bytes of an attack
   step per seed, at the five Set5 LR sizes (x4).
3. An ESTIMATE of the Set5 suite of benchmarks/diffusion.yaml (5 alphas x 50
   I-FGSM steps x 10 seeds, plus the clean, diversity and attacked
   evaluations) for each model at its step counts (ldm-sr-x4: T = 20/50/100;
   sd-x4-upscaler, the same suite: T = 20/75): FLOPs from 2., an attack step
   costing 4 forwards with checkpointing (forward, recomputation, backward =
   2), and hours at a CPU rate measured here on each real UNet and at an
   ASSUMED GPU rate (--gpu-tflops). No GPU was used.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from model_zoo.diffusion.loading import import_diffusers  # noqa: E402
from model_zoo.ldm_sr import random_weights as ldm_weights  # noqa: E402
from model_zoo.ldm_sr.cost import tensor_peak  # noqa: E402
from model_zoo.ldm_sr.model import LatentDiffusionSR  # noqa: E402
from model_zoo.sd_upscaler import random_weights as sd_weights  # noqa: E402
from model_zoo.sd_upscaler.model import StableDiffusionUpscaler  # noqa: E402
from srbench.files import atomic_write_text, write_json  # noqa: E402

ALPHAS, ATTACK_STEPS, SEEDS, DIVERSITY = (1, 2, 4, 8, 16), 50, 10, 32  # benchmarks/diffusion.yaml on Set5
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
            model = ldm_weights.random_ldm_sr(ldm_weights.TINY, steps=t, checkpointing=checkpointing)
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


def ldm_on_meta(steps: int, checkpointing: bool) -> LatentDiffusionSR:
    with torch.device("meta"):
        parts = ldm_weights.random_modules(ldm_weights.REAL)
    return LatentDiffusionSR(*parts, steps=steps, checkpointing=checkpointing).requires_grad_(False)


def empty_text_states() -> torch.Tensor:
    """Stand-in for the empty prompt's text states: a constant of the model, only its shape matters here."""
    return torch.zeros(1, sd_weights.TEXT_TOKENS, sd_weights.REAL["unet"]["cross_attention_dim"])


def sd_on_meta(steps: int, checkpointing: bool) -> StableDiffusionUpscaler:
    """The upscaler with the empty prompt's text states (a constant: zeros of their shape stand in for them)."""
    with torch.device("meta"):
        parts = sd_weights.random_parts(sd_weights.REAL)
    del parts["text_encoder"]  # runs once at load, outside the attack graph
    text = empty_text_states()
    model = StableDiffusionUpscaler(**parts, text_embeds=text, empty_embeds=text, steps=steps,
                                    checkpointing=checkpointing)
    return model.to("meta").requires_grad_(False)


def ldm_unet_on_cpu():
    """The real UNet with random weights, and one prediction at step 500 as the chain makes it."""
    unet = import_diffusers().UNet2DModel(**ldm_weights.REAL["unet"]).eval().requires_grad_(False)
    return unet, lambda x: unet(x, 500).sample


def sd_unet_on_cpu():
    unet = import_diffusers().UNet2DConditionModel(**sd_weights.REAL["unet"]).eval().requires_grad_(False)
    text = empty_text_states()
    level = torch.tensor([20])  # the card's noise level, the UNet's class label
    return unet, lambda x: unet(x, 500, encoder_hidden_states=text, class_labels=level).sample


@dataclasses.dataclass(frozen=True)
class RealArchitecture:
    """A diffusion restorer's real architecture: built on the meta device to count, its UNet on the CPU to time."""

    name: str
    on_meta: Callable[[int, bool], Any]  # (steps, checkpointing) -> the restorer on the meta device
    unet_on_cpu: Callable[[], tuple[torch.nn.Module, Callable]]
    suite_steps: tuple[int, ...]
    config: str  # where its configuration is written
    layout: str  # what its parts are, in words


ARCHITECTURES = (
    RealArchitecture("ldm-sr-x4", ldm_on_meta, ldm_unet_on_cpu, (20, 50, 100), "model_zoo/ldm_sr/random_weights.REAL",
                     "UNet2DModel (channels 160-320-320-640, self-attention at the lowest level and the middle), "
                     "VQModel decoder (f = 4, 8192 codes)"),
    RealArchitecture("sd-x4-upscaler", sd_on_meta, sd_unet_on_cpu, (20, 75),
                     "model_zoo/sd_upscaler/random_weights.REAL",
                     "UNet2DConditionModel (channels 256-512-512-1024, cross-attention to the 77 x 1024 text "
                     "states at the three lower levels, self-attention too at the lowest and the middle), "
                     "AutoencoderKL decoder (f = 4); the CLIP text encoder runs once at load, not per step"),
)


def flops(fn) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn()
    return counter.get_total_flops()


def meta_zeros(*shape: int) -> torch.Tensor:
    return torch.zeros(*shape, device="meta")


def meta_z(model, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """One seed's z for y, every part in its shape, on the meta device."""
    return {k: meta_zeros(1, *shape) for k, shape in model.z_shapes(y).items()}


def real_counts(arch: RealArchitecture, sizes: dict[str, tuple[int, int]]) -> dict[str, dict]:
    """Per image: UNet and decoder forward FLOPs, and attack-step tensor bytes (one seed) at T = 1 and 2."""
    models = {(t, c): arch.on_meta(t, c) for t in (1, 2) for c in (True, False)}
    out = {}
    for name, (h, w) in sizes.items():
        m = models[1, True]
        y = meta_zeros(1, 3, h, w)
        _, ph, pw = m.latent_shape(y)
        row = {"lr": [h, w], "latent": [ph, pw],
               "unet_flops": flops(lambda: m.predict(meta_zeros(1, m.unet.config.in_channels, ph, pw), 500)),
               "decoder_flops": flops(lambda: m.decode(meta_zeros(1, m.latent_channels, ph, pw)))}
        hr = meta_zeros(1, 3, 4 * h, 4 * w)
        for (t, c), model in models.items():
            row[f"bytes_T{t}_{'checkpointing' if c else 'plain'}"] = tensor_peak(model, y, hr, meta_z(model, y))
        out[name] = row
        log(f"  {arch.name} {name} LR {h}x{w}: UNet {row['unet_flops'] / 1e9:.0f} GFLOP/step, "
            f"decoder {row['decoder_flops'] / 1e9:.0f} GFLOP")
    return out


def bytes_at(row: dict, mode: str, t: int) -> float:
    """Attack-step tensor bytes at T steps, from the exact values at T = 1 and 2 (they are linear in T)."""
    b1, b2 = row[f"bytes_T1_{mode}"], row[f"bytes_T2_{mode}"]
    return b1 + (b2 - b1) * (t - 1)


def check_linearity(arch: RealArchitecture, sizes: dict[str, tuple[int, int]], counts: dict[str, dict],
                    t: int = 8) -> dict[str, float]:
    """The T = 1, 2 extrapolation against a direct count at T = t on the smallest image."""
    name = min(sizes, key=lambda n: sizes[n][0] * sizes[n][1])
    h, w = sizes[name]
    out = {}
    for mode, c in (("checkpointing", True), ("plain", False)):
        model = arch.on_meta(t, c)
        y = meta_zeros(1, 3, h, w)
        direct = tensor_peak(model, y, meta_zeros(1, 3, 4 * h, 4 * w), meta_z(model, y))
        out[mode] = direct / bytes_at(counts[name], mode, t)
    return {"image": name, "T": t, "direct_over_extrapolated": out}


def parameters(arch: RealArchitecture) -> dict[str, int]:
    model = arch.on_meta(1, True)
    return {"unet": sum(p.numel() for p in model.unet.parameters()),
            "decoder": sum(p.numel() for p in model.autoencoder.parameters())}


def cpu_rate(arch: RealArchitecture, threads: int) -> dict[str, float]:
    """Measured float32 rate of the real UNet (random weights) on this CPU: forward+backward at latent 32x32."""
    torch.set_num_threads(threads)
    unet, predict = arch.unet_on_cpu()
    x = torch.rand(1, unet.config.in_channels, 32, 32)
    fwd = flops(lambda: predict(x))
    times = []
    for _ in range(3):
        xi = x.clone().requires_grad_(True)
        t0 = time.perf_counter()
        predict(xi).square().mean().backward()
        times.append(time.perf_counter() - t0)
    seconds = sorted(times)[1]
    return {"unet_fwd_flops_32x32": fwd, "fwd_bwd_seconds": seconds, "flops_per_second": 3 * fwd / seconds,
            "threads": threads}


def suite_estimate(arch: RealArchitecture, counts: dict[str, dict], cpu_flops: float,
                   gpu_flops: float) -> list[dict]:
    rows = []
    for t in arch.suite_steps:
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


def real_markdown(section: str, name: str, arch: dict) -> list[str]:
    params = arch["parameters"]
    lines = [f"## {section}. Counted: the real {name} architecture at the Set5 LR sizes (x4)", "",
             f"{arch['layout']}: UNet {params['unet'] / 1e6:.1f}M parameters, decoder's autoencoder "
             f"{params['decoder'] / 1e6:.1f}M; config {arch['config']}.", "",
             "| image | LR (h x w) | latent | UNet GFLOP / step | decoder GFLOP | MiB/seed, T=1 plain | "
             "MiB per extra step, plain | MiB/seed checkpointed (any T) |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for image, row in arch["images"].items():
        per_step = (row["bytes_T2_plain"] - row["bytes_T1_plain"]) / MiB
        lines.append(f"| {image} | {row['lr'][0]}x{row['lr'][1]} | {row['latent'][0]}x{row['latent'][1]} | "
                     f"{row['unet_flops'] / 1e9:.0f} | {row['decoder_flops'] / 1e9:.0f} | "
                     f"{row['bytes_T1_plain'] / MiB:.0f} | {per_step:.0f} | "
                     f"{row['bytes_T2_checkpointing'] / MiB:.0f} |")
    lin = arch["linearity_check"]
    lines += ["", f"Bytes at other T are linear in T (from the T = 1 and 2 counts; a direct count at "
              f"T = {lin['T']} on {lin['image']} is {lin['direct_over_extrapolated']['plain']:.4f}x (plain) and "
              f"{lin['direct_over_extrapolated']['checkpointing']:.4f}x (checkpointed) the extrapolation).", ""]
    return lines


def estimate_markdown(section: str, name: str, est: dict) -> list[str]:
    lines = [f"## {section}. ESTIMATE: the Set5 suite (benchmarks/diffusion.yaml) for {name}", "",
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
    return lines + [""]


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
    for letter, (name, arch) in zip("ab", res["architectures"].items()):
        lines += real_markdown(f"2{letter}", name, arch)
    for letter, (name, arch) in zip("ab", res["architectures"].items()):
        lines += estimate_markdown(f"3{letter}", name, arch["estimate"])
    lines += ["Peak memory is for the largest Set5 image (baby, LR 128x128), per seed (seeds batched together "
              "multiply it; `--z-chunk` bounds how many share one pass). With checkpointing it is dominated by the "
              "decoder at the 512x512 output (checkpointed block by block). The counts use PyTorch's "
              "attention as it runs on a CPU, which holds the full attention matrix: each decoder's middle block "
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

    sizes = set5_lr_sizes(args.data_root)
    architectures = {}
    for arch in ARCHITECTURES:
        log(f"2. {arch.name}: the real architecture on the meta device, FLOPs and tensor bytes at the Set5 LR sizes")
        counts = real_counts(arch, sizes)
        log(f"3. {arch.name}: measured CPU rate of the real UNet, and the suite estimate")
        cpu = cpu_rate(arch, args.threads)
        est = {"cpu": cpu, "gpu_tflops": args.gpu_tflops,
               "rows": suite_estimate(arch, counts, cpu["flops_per_second"], args.gpu_tflops * 1e12)}
        for row in est["rows"]:
            log(f"   T={row['T']}: {row['flops'] / 1e15:.1f} PFLOP, {row['gpu_hours_estimate']:.1f} GPU h (estimate)")
        architectures[arch.name] = {"layout": arch.layout, "config": arch.config, "parameters": parameters(arch),
                                    "images": counts, "linearity_check": check_linearity(arch, sizes, counts),
                                    "estimate": est}

    command = "OMP_NUM_THREADS=1 python benchmarks/diffusion_cost.py" + "".join(
        f" {a}" for a in sys.argv[1:])
    res = {"command": command, "machine": f"{platform.machine()} CPU, torch {torch.__version__}",
           "seconds": time.perf_counter() - t_start, "tiny": tiny, "architectures": architectures}
    text = markdown(res)
    print(text)
    if args.out is not None:
        write_json(args.out.with_suffix(".json"), res)
        atomic_write_text(args.out.with_suffix(".md"), text)


if __name__ == "__main__":
    main()
