"""`srbench evaluate-gan`: Table 1 columns (FID, precision, recall, std, robustness, AI-PSNR, consistency)."""
from __future__ import annotations

import json
from pathlib import Path

from srbench.core.errors import UserError
from srbench.core.restorer import DEFAULT_N_SEEDS, resolve_device
from srbench.experiments.gan.config import load_config
from srbench.experiments.gan.data import load_data
from srbench.experiments.gan.evaluate import evaluate_checkpoints, find_checkpoints, render
from srbench.files import atomic_write_text, writable_dir


def add_parser(sub):
    p = sub.add_parser("evaluate-gan", help="Table 1 of paper 1 for trained U-Net GANs",
                       description="Score checkpoints of `srbench train` (files or run folders) on clean "
                                   "images: FID, precision/recall (k=3), per-pixel std, Eq. 9 robustness, "
                                   "AI-PSNR, consistency PSNR.")
    p.add_argument("checkpoints", nargs="+", help="ckpt.pt files or folders holding */ckpt.pt")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="training config: evaluate on its held-out images (data.val_images)")
    src.add_argument("--data", help="folder of clean images (preprocessed with --preprocess/--size)")
    p.add_argument("--preprocess", default="center", help="celeba, center or random_crop (with --data)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--n-images", type=int, default=64, dest="n_images", help="evaluation images (crops)")
    p.add_argument("--features", default="inception", help="inception (download once), random or pixels "
                   "(offline), none")
    p.add_argument("--samples", type=int, default=32, help="samples per input for the per-pixel std")
    p.add_argument("--seeds", type=int, default=DEFAULT_N_SEEDS, help="seeds of the Eq. 9 attack (stochastic models)")
    p.add_argument("--attack-images", type=int, dest="attack_images", help="attack only the first N images")
    p.add_argument("--input-psnr", type=float, default=34.0, dest="input_psnr", help="target AI-PSNR (dB)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--format", default="md", choices=["md", "csv", "json"])
    p.add_argument("--out", help="also write the table here (and the full rows to OUT.json)")
    return p


def main(args):
    for key in ("n_images", "samples", "seeds"):
        if getattr(args, key) < 1:
            raise UserError(f"--{key.replace('_', '-')} must be >= 1")
    out = Path(args.out) if args.out else None
    if out is not None:
        writable_dir(out.parent, "the folder of --out")  # fail now, not after the evaluation
    checkpoints = find_checkpoints(args.checkpoints)  # a wrong path fails before the data are read
    if args.config:
        cfg = load_config(args.config)
        data = load_data(cfg["data"])
        n_val = int(cfg["data"].get("val_images", 0) or 0)
        if not n_val:
            raise UserError(f"{args.config} holds out no images (data.val_images); use --data")
        data = data.split(n_val)[1]
    else:
        data = load_data({"folder": args.data, "preprocess": args.preprocess, "size": args.size})
    x = data.fixed_set(args.n_images, seed=args.seed)
    rows = evaluate_checkpoints(checkpoints, x, features=args.features,
                                n_samples=args.samples, n_seeds=args.seeds, attack_images=args.attack_images,
                                input_psnr=args.input_psnr, seed=args.seed, device=resolve_device(args.device))
    table = render(rows, args.format)
    print(table)
    if out is not None:
        atomic_write_text(out, table + "\n")
        atomic_write_text(str(out) + ".json", json.dumps(rows, indent=1, default=str))
    return 0
