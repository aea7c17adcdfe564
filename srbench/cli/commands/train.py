"""`srbench train CONFIG.yaml`: train the U-Net GAN variants of a config (resumes by default)."""
from __future__ import annotations

import json

from srbench.core.errors import UserError
from srbench.experiments.gan.config import load_config
from srbench.experiments.gan.train import train_variant

INTERRUPTED = "each variant's checkpoint (OUT/<variant>/ckpt.pt) is kept; re-run the same command to continue"


def add_parser(sub):
    p = sub.add_parser("train", help="train the U-Net GAN restorers of paper 1 from a YAML config",
                       description="Train every variant of CONFIG (erratic/robust x deterministic/stochastic "
                                   "by default), or those named with --variant. Each run resumes from "
                                   "OUT/<variant>/ckpt.pt when it exists.")
    p.add_argument("config", help="training config YAML (e.g. benchmarks/gan-celeba-sr4.yaml)")
    p.add_argument("--variant", action="append", default=[], help="train only this variant (repeatable)")
    p.add_argument("--out", help="output folder (default: the config's `out`)")
    p.add_argument("--steps", type=int, help="override train.steps (total)")
    p.add_argument("--until", type=int, help="stop at this step (a later call continues)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint (start over)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(args):
    cfg = load_config(args.config)
    variants = args.variant or list(cfg["variants"])
    unknown = [v for v in variants if v not in cfg["variants"]]
    if unknown:
        raise UserError(f"unknown variant(s) {', '.join(unknown)}; {args.config} has {', '.join(cfg['variants'])}")
    if args.steps is not None and args.steps < 1:
        raise UserError("--steps must be >= 1")
    for v in variants:
        summary = train_variant(cfg, v, out=args.out, device=args.device or "auto", steps=args.steps,
                                until=args.until, resume=not args.fresh, progress=not args.quiet)
        print(json.dumps({k: summary[k] for k in ("variant", "step", "s_per_step", "wall_s_total")}))
        if summary.get("last_validation"):
            print(json.dumps(summary["last_validation"]))
    return 0
