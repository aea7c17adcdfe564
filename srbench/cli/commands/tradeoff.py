"""`srbench tradeoff`: the perception-robustness tradeoff experiment (srbench/experiments/tradeoff.py)."""
from __future__ import annotations

from srbench.cli.commands.run import weights_flags
from srbench.experiments.tradeoff import TradeoffConfig, run

INTERRUPTED = "finished attack cells are kept; re-run the same command to resume"


def _csv(kind):
    return lambda text: [kind(v) for v in text.split(",") if v.strip()]


def add_parser(sub):
    d = TradeoffConfig()
    p = sub.add_parser("tradeoff", help="the perception-robustness tradeoff experiment (ICML 2024)",
                       description="Attack each model on each dataset (I-FGSM with the clean output as target, and "
                                   "the Adam L2 attack of Eq. 6), estimate local Lipschitz constants, measure jfid/"
                                   "fid and precision/recall of the clean outputs, and write summary.csv, the "
                                   "tables, tradeoff.png and a README with this command (docs/tradeoff.md).")
    p.add_argument("--models", type=_csv(str), default=d.models, help="comma-separated (default bicubic,tiny-edsr)")
    p.add_argument("--datasets", type=_csv(str), default=d.datasets, help="comma-separated (default set5,set5-noisy)")
    p.add_argument("--scale", type=int, default=d.scale)
    p.add_argument("--alphas", type=_csv(float), default=d.alphas, help="I-FGSM budgets (1/255), default 1,2,4")
    p.add_argument("--ifgsm-steps", type=int, default=d.ifgsm_steps, dest="ifgsm_steps")
    p.add_argument("--adam-psnr", type=float, default=d.adam_psnr, dest="adam_psnr",
                   help="adam-l2 target input PSNR (dB); <= 0 skips it")
    p.add_argument("--adam-steps", type=int, default=d.adam_steps, dest="adam_steps")
    p.add_argument("--n-eot", type=int, default=d.n_eot, dest="n_eot",
                   help="seeds per attack step for stochastic models")
    p.add_argument("--reference", default=d.reference, help="attack@budget for the Eq. 9 robustness column")
    p.add_argument("--features", default=d.features)
    p.add_argument("--patch", type=int, default=d.patch, help="tile size for jfid/fid samples (0: whole images)")
    p.add_argument("--limit", type=int)
    p.add_argument("--data-root", dest="data_root")
    p.add_argument("--device", default=d.device)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--weights", action="append", default=[], metavar="NAME=PATH",
                   help="checkpoint for a registered model (repeatable)")
    p.add_argument("--out", default="results/tradeoff")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(args) -> int:
    config = TradeoffConfig(models=args.models, datasets=args.datasets, scale=args.scale, alphas=args.alphas,
                            ifgsm_steps=args.ifgsm_steps,
                            adam_psnr=args.adam_psnr if args.adam_psnr is not None and args.adam_psnr > 0 else None,
                            adam_steps=args.adam_steps, n_eot=args.n_eot, reference=args.reference,
                            features=args.features, patch=args.patch or None, limit=args.limit,
                            data_root=args.data_root, device=args.device, seed=args.seed,
                            weights=weights_flags(args.weights))
    run(config, args.out, command=args._command_line, quiet=args.quiet)
    return 0
