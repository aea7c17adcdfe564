"""`srbench explore`: imitate posterior sampling with a deterministic model (farthest-point exploration)."""
from __future__ import annotations

import math
from pathlib import Path

from srbench.core.errors import UserError
from srbench.data import bicubic_lr, mod_crop
from srbench.data.images import read_image
from srbench.experiments.explore import explore, write_exploration
from srbench.files import writable_dir
from srbench.models import load_model


def add_parser(sub):
    p = sub.add_parser("explore", help="explore the outputs a model gives inside an input-PSNR ball",
                       description="Farthest-point exploration: each new sample is the output of a perturbed "
                                   "input (PSNR >= --min-input-psnr) that maximises its minimum distance to the "
                                   "samples found so far, starting from f(y). Stochastic models sample their seeds "
                                   "instead. Writes sample PNGs, a contact sheet and summary.json.")
    p.add_argument("--model", required=True, help="registered model name (or file:/hf: spec)")
    p.add_argument("--image", required=True, help="the measurement (LR image); with --from-hr, a ground truth")
    p.add_argument("--from-hr", action="store_true", help="IMAGE is a ground truth: make y by MATLAB bicubic at the model's scale")
    p.add_argument("--n", type=int, default=8, help="number of samples, f(y) included (default 8)")
    p.add_argument("--min-input-psnr", type=float, default=30.0, help="input-PSNR budget in dB (default 30)")
    p.add_argument("--steps", type=int, default=30, help="Adam steps per sample (default 30)")
    p.add_argument("--restarts", type=int, default=1, help="random starts per sample, the best kept (default 1)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 0.5 eps / sqrt(n input values))")
    p.add_argument("--crop", type=int, help="centre crop of the measurement to CROP x CROP pixels (fast on CPU)")
    p.add_argument("--degradation", default="bicubic", help="D for the consistency PSNR: bicubic (default), sr4, ...")
    p.add_argument("--scale", type=int, help="SR factor (checked against the model)")
    p.add_argument("--weights", help="checkpoint for the model")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", "-o", help="output folder (default results/explore/<model>_<image>)")
    return p


def main(args):
    if args.n < 2:
        raise UserError(f"--n must be >= 2, got {args.n}")
    path = Path(args.image)
    if not path.is_file():
        raise UserError(f"--image {path} does not exist")
    restorer = load_model(args.model, weights=args.weights, device=args.device, scale=args.scale)
    img, _ = read_image(path)
    y = bicubic_lr(mod_crop(img, restorer.scale), restorer.scale) if args.from_hr else img
    if args.crop:
        h, w = y.shape[-2:]
        if args.crop > min(h, w):
            raise UserError(f"--crop {args.crop} is larger than the {h}x{w} measurement")
        top, left = (h - args.crop) // 2, (w - args.crop) // 2
        y = y[:, top:top + args.crop, left:left + args.crop]
    y = y.to(restorer.device)
    out = writable_dir(args.output or f"results/explore/{restorer.name}_{path.stem}")  # fail before the search
    result = explore(restorer, y, n=args.n, min_input_psnr=args.min_input_psnr, steps=args.steps, lr=args.lr,
                     restarts=args.restarts, seed=args.seed, degradation=args.degradation)
    extra = {"command": "srbench explore " + " ".join(_argv(args)), "image": str(path), "measurement_hw": list(y.shape[-2:])}
    summary = write_exploration(result, y.cpu(), out, extra)
    s = result.stats
    print(f"{result.model}: {result.samples.shape[0]} samples ({result.mode}) -> {out}")
    print(f"  per-pixel std {s['pixel_std']:.4f}; pairwise RMSE mean {s['pairwise_rmse_mean']:.4f}, min {s['pairwise_rmse_min']:.4f}")
    finite = [v for v in result.input_psnr if math.isfinite(v)]
    if finite:
        print(f"  input PSNR min {min(finite):.2f} dB (budget {args.min_input_psnr:g} dB)")
    print(f"  consistency PSNR mean {sum(result.consistency_psnr) / len(result.consistency_psnr):.2f} dB")
    if result.random_stats:
        r = result.random_stats
        print(f"  random perturbations of the same budget: pairwise RMSE mean {r['pairwise_rmse_mean']:.4f}, "
              f"min {r['pairwise_rmse_min']:.4f} (explored min > random mean: {summary['farther_than_random']})")
    print(f"  contact sheet: {out / 'contact_sheet.png'}")
    return 0


def _argv(args) -> list[str]:
    out = [f"--model {args.model}", f"--image {args.image}", f"--n {args.n}", f"--min-input-psnr {args.min_input_psnr:g}",
           f"--steps {args.steps}", f"--seed {args.seed}"]
    for flag in ("crop", "restarts", "lr", "scale", "weights"):
        v = getattr(args, flag)
        if v is not None and not (flag == "restarts" and v == 1):
            out.append(f"--{flag} {v}")
    if args.from_hr:
        out.append("--from-hr")
    if args.degradation != "bicubic":
        out.append(f"--degradation {args.degradation}")
    return out
