"""`srbench run`: evaluate a suite (a YAML file, a packaged suite, or flags alone)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from srbench.bench.executors import parse_shard
from srbench.bench.preflight import saved_images_within
from srbench.bench.runner import dry_run_report, run_suite
from srbench.bench.suite import build_suite, read_suite_file
from srbench.core.errors import UserError, shown
from srbench.core.restorer import DEFAULT_N_SEEDS
from srbench.models import parse_model_spec

INTERRUPTED = "finished cells and the finished images of the cell in progress are kept; re-run the same command to resume"

ATTACK_FLAGS = {"steps": int, "init": str, "target": str, "n_eot": int, "z_chunk": int,
                "target_input_psnr": float, "restarts": int, "train_images": int}


def add_parser(sub):
    p = sub.add_parser("run", help="attack models on datasets and store per-image results",
                       description="Run a benchmark suite. Without SUITE and flags, runs the offline quickstart.")
    p.add_argument("suite", nargs="?", help="suite YAML file or packaged suite name (default: quickstart)")
    p.add_argument("--models", help="comma-separated model names")
    p.add_argument("--datasets", help="comma-separated dataset names (set5,set14,bsd100,demo)")
    p.add_argument("--scale", type=int)
    p.add_argument("--attack", help="attack name (ifgsm, none, ...)")
    p.add_argument("--alpha", help="comma-separated L_inf budgets in units of 1/255, e.g. 1,2,4,8")
    p.add_argument("--eps", help="comma-separated L2 budgets (adam-l2; images in [0,1]), e.g. 0.5,1; "
                   "same list as --alpha: the budgets of whatever attack is chosen")
    p.add_argument("--target-input-psnr", type=float, dest="target_input_psnr",
                   help="adam-l2: derive eps per image from this adversarial-input PSNR in dB "
                        "(eps = sqrt(n 10^(-PSNR/10)), n input values)")
    p.add_argument("--steps", type=int, help="attack steps (default 50)")
    p.add_argument("--init", choices=["zero", "uniform"], help="I-FGSM start (default zero)")
    p.add_argument("--target", choices=["hr", "clean", "other-image", "region"],
                   help="attack target: hr (default) or clean; ifgsm-targeted: other-image (default; the next "
                        "image's clean output) or region (the clean output, central square flipped)")
    p.add_argument("--restarts", type=int, help="pgd: random restarts (default 3)")
    p.add_argument("--train-images", type=int, dest="train_images",
                   help="universal: fit on the first N images of each dataset, evaluate on the others (default 2)")
    p.add_argument("--quantize", action="store_true", default=None, help="round attacked inputs to 8 bits")
    p.add_argument("--n-eot", type=int, dest="n_eot", help=f"seeds per attack step for stochastic models (default {DEFAULT_N_SEEDS})")
    p.add_argument("--z-chunk", type=int, dest="z_chunk", help="seeds per batch (bounds memory; same result)")
    p.add_argument("--limit", type=int, help="first N images of each dataset")
    p.add_argument("--data-root", help="folder with Set5/Set14/BSD100 (layout: SET/x4/HR/*.png)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int)
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--weights", action="append", default=[], metavar="NAME=PATH",
                   help="checkpoint for a model of this run (repeatable)")
    p.add_argument("--gray-convention", choices=["basicsr", "matlab"], dest="gray_convention",
                   help="how grayscale ground truth (Set14 bridge) is scored: basicsr (default; Y of 3 equal "
                        "channels, as learned-model papers) or matlab (raw gray, as the published bicubic rows); "
                        "see docs/metrics.md")
    p.add_argument("--niqe", action="store_true", default=None,
                   help="also score each clean output with NIQE (no-reference; lower looks more natural; "
                        "about a second per image on a CPU)")
    p.add_argument("--save-images", nargs="?", const="1", dest="save_images", metavar="N|NAMES",
                   help="keep, for the first N images of each cell (default 1) or the named ones (comma-separated), "
                        "the LR and attacked LR (PNG), the exact perturbation (.npy) and the clean and attacked "
                        "outputs (PNG), under RUN/images/<cell>/; the html gallery shows them")
    p.add_argument("--name", help="run name: the folder results/runs/NAME, so a plain folder name "
                   "(default: suite name)")
    p.add_argument("--out", help="run folder (default results/runs/<name>)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--dry-run", action="store_true", dest="dry_run",
                   help="only resolve every model's weights (downloading missing ones into the cache) and load "
                        "every dataset, then list the cells (finished or pending); computes and writes nothing")
    g = p.add_argument_group("execution and speed (see docs/performance.md)")
    g.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: this process; ray: one Ray task per cell x image chunk (pip install 'srbench[ray]')")
    g.add_argument("--address", help="Ray cluster address (default: start a local Ray instance)")
    g.add_argument("--images-per-task", type=int, dest="images_per_task", metavar="N",
                   help="ray: images per task (whole batches of equal-sized images; default: batch_size); "
                        "each finished task is kept, so a stopped run loses only the tasks in flight")
    g.add_argument("--memory-per-task", type=float, dest="memory_per_task", metavar="GB",
                   help="ray: GiB of memory Ray reserves for each task, so no more tasks run at once than memory "
                        "holds (a big model's batch of attacked images can take over 10 GB on a CPU)")
    g.add_argument("--shard", metavar="I/N", help="run only shard I of N (0 <= I < N) of the cells, e.g. for a "
                   "SLURM array; the leaderboard merges the shards")
    g.add_argument("--channels-last", action="store_true", default=None, dest="channels_last",
                   help="NHWC memory format for the model")
    g.add_argument("--amp", choices=["bf16", "none"], help="autocast the model in bfloat16 (GPU; inexact)")
    g.add_argument("--tf32", action="store_true", default=None, help="TF32 matmuls/convolutions (Ampere+ GPUs)")
    g.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    return p


def default_run_name(models: str, attack: str) -> str:
    """The run folder's name when only flags are given: models and attack, as one plain folder name.

    Why: ``--models file:ckpt/4x-net.pth`` must name the run ``4x-net_ifgsm``, not a path.
    """
    names = [parse_model_spec(m.strip()).display_name() for m in models.split(",") if m.strip()]
    return "".join(c if c not in "/\\:" else "_" for c in "-".join(names) + f"_{attack}")


def suite_from_args(args: argparse.Namespace):
    flags_given = any(getattr(args, k) is not None for k in ("models", "datasets", "attack", "alpha", "eps"))
    if args.suite:
        raw = read_suite_file(args.suite)
    elif flags_given:
        # flags alone: the paper's three test sets unless --datasets says otherwise
        raw = {"name": default_run_name(args.models or "bicubic", args.attack or "ifgsm"),
               "datasets": ["set5", "set14", "bsd100"]}
    else:
        raw = read_suite_file("quickstart")
    for key in ("models", "datasets", "scale", "limit", "data_root", "device", "seed", "batch_size",
                "channels_last", "amp", "tf32", "compile", "gray_convention", "niqe"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    if args.save_images is not None:
        raw["save_images"] = save_images_flag(args.save_images)
    if args.alpha is not None:
        try:
            raw["alphas"] = [float(a) for a in args.alpha.split(",") if a.strip()]
        except ValueError:
            raise UserError(f"--alpha takes numbers separated by commas, got {shown(args.alpha)}") from None
    if args.eps is not None:
        if args.alpha is not None:
            raise UserError("--eps and --alpha both set the budget list; give one")
        try:
            raw["alphas"] = [float(a) for a in args.eps.split(",") if a.strip()]
        except ValueError:
            raise UserError(f"--eps takes numbers separated by commas, got {shown(args.eps)}") from None
    elif args.target_input_psnr is not None and args.alpha is None:
        raw["alphas"] = [0.0]  # eps is derived from the target AI-PSNR; the cell budget is a placeholder
    if "attacks" in raw and args.attack is None:
        if isinstance(raw["attacks"], list):  # a malformed list is left for validation to report
            raw["attacks"] = [with_attack_flags(a, args) for a in raw["attacks"]]  # the flags set each listed attack
    else:
        raw.pop("attacks", None)  # --attack names the one attack
        raw["attack"] = with_attack_flags(raw.get("attack", {"name": "ifgsm"}), args)
    weights = weights_flags(args.weights)
    if weights and isinstance(raw.get("weights") or {}, dict):  # a malformed suite entry is reported by validation
        raw["weights"] = {**(raw.get("weights") or {}), **weights}
    if args.name:
        raw["name"] = args.name
    return build_suite(raw)


def with_attack_flags(attack: Any, args: argparse.Namespace) -> Any:
    """The suite's attack entry with the attack flags applied (a malformed entry is left for validation to report)."""
    attack = {"name": attack} if isinstance(attack, str) else attack
    if args.attack is not None and (not isinstance(attack, dict) or args.attack != attack.get("name", "ifgsm")):
        attack = {"name": args.attack}
    if not isinstance(attack, dict):
        return attack
    attack = dict(attack)
    for key in ATTACK_FLAGS:
        if getattr(args, key) is not None:
            attack[key] = getattr(args, key)
    if args.quantize:
        attack["quantize"] = True
    return attack


def save_images_flag(text: str) -> int | list[str]:
    """``--save-images 3`` (the first three images) or ``--save-images baby,bird`` (those images)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or text.startswith("-"):
        raise UserError(f"--save-images takes a number of images or image names separated by commas, got {shown(text)}")
    return names


def weights_flags(specs: list[str]) -> dict[str, str]:
    """``--weights NAME=PATH`` flags as a mapping."""
    weights = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--weights takes NAME=PATH, got {shown(spec)}")
        weights[name] = path
    return weights


def main(args):
    shard = parse_shard(args.shard)
    suite = suite_from_args(args)
    if args.save_images is None and (args.datasets is not None or args.limit is not None):
        suite, cut = saved_images_within(suite)  # the suite file's names, for the images this command runs
        if cut:
            print(f"note: save_images: {', '.join(cut)} not among the images of this run "
                  f"({', '.join(suite.datasets)}); nothing kept for {'it' if len(cut) == 1 else 'them'}",
                  file=sys.stderr)
    out = Path(args.out) if args.out else Path("results/runs") / suite.name
    ray_flags = (("--address", args.address), ("--images-per-task", args.images_per_task),
                 ("--memory-per-task", args.memory_per_task))
    for flag, value in ray_flags:
        if value is not None and args.executor != "ray":
            raise UserError(f"{flag} is for --executor ray")
    if args.images_per_task is not None and args.images_per_task < 1:
        raise UserError(f"--images-per-task takes a whole number >= 1, got {args.images_per_task}")
    if args.memory_per_task is not None and not args.memory_per_task > 0:
        raise UserError(f"--memory-per-task takes a positive number of GiB, got {args.memory_per_task:g}")
    options = ({"address": args.address, "images_per_task": args.images_per_task,
                "memory_per_task": args.memory_per_task} if args.executor == "ray" else {})
    if args.dry_run:
        print(dry_run_report(suite, out, shard))
        return 0
    run_dir = run_suite(suite, out, quiet=args.quiet, executor=args.executor, shard=shard, **options)
    print(f"results in {run_dir}  (next: srbench leaderboard {run_dir})")
    return 0
