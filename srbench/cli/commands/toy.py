"""``srbench toy``: paper 1's toy study end to end (see docs/toy.md)."""
from __future__ import annotations

import argparse
import shlex
import sys

import torch

from srbench.core.errors import UserError
from srbench.core.restorer import resolve_device
from srbench.experiments.toy.experiment import fmt_seconds, full_config, quick_config, run_toy, table_rows
from srbench.experiments.toy.fill import NEW_COLUMN, fill_x2
from srbench.experiments.toy.seeds import across_seeds, across_seeds_markdown

INTERRUPTED = "checkpoints in --ckpt-dir are kept (every 2000 steps); re-run the same command to continue"


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("toy", help="reproduce paper 1's toy study (disk, hand-made and learned estimators)")
    p.add_argument("--quick", action="store_true", help="CI smoke run: few hundred steps, narrower MLPs")
    p.add_argument("--seed", type=int, default=0, help="seed of data, initialisation and evaluation (default 0)")
    p.add_argument("--steps", type=int, default=None, help="GAN steps per learned estimator (default 20000; quick 200)")
    p.add_argument("--out", default=None, help="output folder (default results/toy; quick: results/runs/toy-quick)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--jobs", type=int, default=1, help="train the learned estimators in this many processes")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per process (default 1: the MLPs are small, extra threads mostly add contention)")
    p.add_argument("--estimators", default=None,
                   help="comma-separated subset of erratic-det,robust-det,erratic-stoch,robust-stoch")
    p.add_argument("--lambda-r", type=float, default=None, dest="lambda_r",
                   help="weight of Eq. 7's R~ for the robust estimators (default 0.1, the paper's value)")
    p.add_argument("--robust-scale", choices=["per-eps2", "raw"], default=None, dest="robust_scale",
                   help="what --lambda-r multiplies: R~/eps^2 (default; the paper's picture) or raw R~ "
                        "(Eq. 7 as written, inert at eps 1e-3); see docs/toy.md")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoints in --ckpt-dir (the default except with --quick)")
    p.add_argument("--fresh", action="store_true",
                   help="start over: overwrite the checkpoints of the chosen estimators in --ckpt-dir")
    p.add_argument("--ckpt-dir", default=None,
                   help="checkpoint folder (default results/runs/toy-checkpoints; quick: <out>/checkpoints)")
    p.add_argument("--summarize", nargs="+", metavar="DIR",
                   help="train nothing: print a markdown table of the learned estimators over these output "
                        "folders (one seed each): mean, sd, range, and in how many seeds P and R exceed 0.9")
    p.add_argument("--fill-x2", metavar="DIR", dest="fill_x2",
                   help="train nothing: add the robustness_sqrtR_x2 column to DIR/table.csv written before it "
                        "existed; hand-made and zigzag rows are recomputed, learned rows only from finished "
                        "checkpoints given with --ckpt-dir (else left empty); refuses if any existing cell "
                        "would change")
    return p


def main(args) -> int:
    if args.summarize:
        print(across_seeds_markdown(across_seeds(args.summarize)), end="")
        return 0
    if args.fill_x2:
        return _fill_x2(args)

    if args.steps is not None and args.steps < 1:
        raise UserError(f"--steps must be a positive integer, got {args.steps}; e.g. --steps 200")
    if args.jobs < 1:
        raise UserError(f"--jobs must be >= 1, got {args.jobs}")
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be >= 1, got {args.threads}")
    if args.fresh and args.resume:
        raise UserError("--fresh (start over) and --resume (continue) contradict each other; give one")
    kw = {"device": str(resolve_device(args.device))}
    if args.steps is not None:
        kw["steps"] = args.steps
    if args.lambda_r is not None:
        if args.lambda_r < 0:
            raise UserError(f"--lambda-r must be >= 0, got {args.lambda_r}")
        kw["lambda_r"] = args.lambda_r
    if args.robust_scale is not None:
        kw["robust_scale"] = args.robust_scale
    if args.estimators:
        kw["estimators"] = tuple(e.strip() for e in args.estimators.split(",") if e.strip())
    cfg = (quick_config if args.quick else full_config)(args.seed, **kw)
    out = args.out or ("results/runs/toy-quick" if args.quick else "results/toy")
    ckpt = args.ckpt_dir or (f"{out}/checkpoints" if args.quick else "results/runs/toy-checkpoints")
    if args.threads:
        torch.set_num_threads(args.threads)
    command = _command()

    # a --quick smoke run trains afresh each time (its checkpoints are throwaway) unless --resume says otherwise
    resume = args.resume or not (args.fresh or args.quick)
    res = run_toy(cfg, out, ckpt_dir=ckpt, resume=resume, jobs=args.jobs, threads=args.threads,
                  progress=sys.stderr.isatty(), command=command)
    print(f"{'estimator':<18} {'precision':>9} {'recall':>7} {'sqrt(R~)':>10} {'x2 alone':>10}")
    for r in table_rows(res):
        print(f"{r['estimator']:<18} {r['precision']:>9.3f} {r['recall']:>7.3f} {r['robustness_sqrtR']:>10.4g} "
              f"{r['robustness_sqrtR_x2']:>10.4g}")
    print(f"wrote {res['out']}/table.md, table.csv and figures in {fmt_seconds(res['wall_s'])}")
    if res["meta"]["checkpoints"]:
        print(f"checkpoints (sha256 in run.json) are in {ckpt}: keep a copy beside any table you commit "
              f"(results/toy/README.md, 'Checkpoints')")
    return 0


def _fill_x2(args) -> int:
    table = fill_x2(args.fill_x2, ckpt_dir=args.ckpt_dir, command=_command())
    blank = list(table.loc[table[NEW_COLUMN] == "", "estimator"])
    print(f"wrote {NEW_COLUMN} into {args.fill_x2}/table.csv and table.md (other cells unchanged)"
          + (f"; left empty (no checkpoint): {', '.join(blank)}" if blank else ""))
    return 0


def _command() -> str | None:
    return "srbench " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else None
