"""Cost of the Fig. 7 suite (benchmarks/fig7.yaml), counted rather than guessed.

    python benchmarks/fig7_cost.py [--data-root ../shared/data/sr-benchmarks] [--gpu-tflops 40]

Counts the floating-point operations of one forward pass per LR pixel for each
model (torch's FlopCounterMode, random weights: FLOPs do not depend on them),
assumes forward+backward = 3x forward, and multiplies by the work of the suite:
50 I-FGSM steps x 6 alphas x seeds (1, or 10 for SRFlow), plus the clean and
attacked evaluations, over the LR pixels of Set5, Set14 and BSD100 at x4. It
also times one forward+backward on this CPU at LR 32x32 to turn FLOPs into CPU
hours. GPU hours are an ESTIMATE at an assumed sustained rate (--gpu-tflops,
float32 convolutions): no GPU was available when this was written.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import srbench

MODELS = {"esrgan": 1, "edsr": 1, "srflow": 10}  # seeds per step
STEPS, ALPHAS = 50, 6


def lr_pixels(root: Path) -> int:
    rows = json.loads((root / "manifest.json").read_text())
    return sum(r["width"] * r["height"] for r in rows
               if r["scale"] == 4 and r["kind"] == "LR" and r["dataset"] in ("Set5", "Set14", "BSD100"))


def build(name: str):
    card = srbench.get_card(name)
    model = card.builder()(**card.arch)
    return model.eval().requires_grad_(False)


def forward_flops_per_pixel(model, side: int = 32) -> float:
    y = torch.rand(1, 3, side, side)
    z = model.sample_z(y, 1, torch.Generator().manual_seed(0))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.restore(y, z)
    return counter.get_total_flops() / side**2


def cpu_fwd_bwd_seconds(model, side: int = 32, repeats: int = 3) -> float:
    y = torch.rand(1, 3, side, side)
    z = model.sample_z(y, 1, torch.Generator().manual_seed(0))
    times = []
    for _ in range(repeats + 1):
        x = y.clone().requires_grad_(True)
        t0 = time.perf_counter()
        model.restore(x, z).square().mean().backward()
        times.append(time.perf_counter() - t0)
    return sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data/sr-benchmarks"))
    parser.add_argument("--gpu-tflops", type=float, default=40.0, help="assumed sustained GPU rate, TFLOP/s")
    args = parser.parse_args()
    pixels = lr_pixels(args.data_root)
    print(f"LR pixels at x4 over Set5+Set14+BSD100: {pixels:,}")
    print(f"{'model':8} {'GFLOP/fwd@32x32':>16} {'CPU s fwd+bwd@32x32':>20} {'suite TFLOP':>12} "
          f"{'CPU hours':>10} {'GPU hours (est.)':>17}")
    total_gpu = 0.0
    for name, seeds in MODELS.items():
        model = build(name)
        per_px = forward_flops_per_pixel(model)
        cpu = cpu_fwd_bwd_seconds(model)
        attack = STEPS * ALPHAS * seeds * 3 * per_px * pixels  # fwd+bwd = 3 fwd
        evaluate = ALPHAS * seeds * 2 * per_px * pixels + (32 * per_px * pixels if seeds > 1 else 0)
        flops = attack + evaluate
        cpu_hours = flops / (3 * per_px * 32**2 / cpu) / 3600
        gpu_hours = flops / (args.gpu_tflops * 1e12) / 3600
        total_gpu += gpu_hours
        print(f"{name:8} {per_px * 32**2 / 1e9:16.2f} {cpu:20.3f} {flops / 1e12:12.0f} {cpu_hours:10.1f} {gpu_hours:17.2f}")
    print(f"total GPU hours (estimate at {args.gpu_tflops:g} TFLOP/s sustained): {total_gpu:.2f}")


if __name__ == "__main__":
    main()
