"""The perception-robustness tradeoff experiment (Ohayon, Michaeli, Elad, ICML 2024).

For every model and dataset (degradation: noiseless bicubic SR and its noisy
version, e.g. ``set5`` and ``set5-noisy``) it measures

- robustness: attacks through the ordinary runner (one run folder per attack
  under ``OUT/runs``): I-FGSM with the clean output as target (random start)
  at several alphas, and the Adam L2 attack (Eq. 6) at a target input PSNR.
  Every attacked row carries ``lipschitz_k``; per image the strongest attack
  found gives K(y) (the largest one), reported per model as mean, median and
  max (:func:`srbench.lipschitz.k_report`). Eq. 9 robustness (adversarial
  output PSNR, same seed) is taken at a reference attack (``ifgsm@2`` by
  default);
- perceptual quality: jfid, fid and (joint) precision/recall of the clean
  outputs against the ground truths (:mod:`srbench.joint`), one seeded draw
  per input for stochastic models.

It writes ``summary.csv`` (one row per model x dataset), ``lipschitz.csv``,
``perceptual.csv``, ``leaderboard.md`` (the runs' leaderboard, with the
``lipschitz_k`` column), ``tradeoff.png`` and ``README.md`` with the command
and its wall time. Run it as ``python -m srbench.tradeoff --help``.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch

from srbench.errors import UserError
from srbench.store import atomic_write_text, writable_dir

SUMMARY = "summary.csv"


def _noise_sigma(dataset: str) -> float:
    from srbench.data.noisy import DEFAULT_SIGMA

    return DEFAULT_SIGMA if dataset.endswith("-noisy") else 0.0


def attack_suites(models: Sequence[str], datasets: Sequence[str], scale: int, alphas: Sequence[float],
                  ifgsm_steps: int, adam_psnr: float | None, adam_steps: int, n_eot: int, limit: int | None,
                  data_root: str | None, device: str, weights: dict[str, str], seed: int = 0) -> dict[str, dict]:
    """The raw suites (one per attack) the experiment runs."""
    common = {"models": list(models), "datasets": list(datasets), "scale": scale, "limit": limit,
              "data_root": data_root, "device": device, "seed": seed, "weights": dict(weights), "batch_size": 1,
              "diversity_samples": 8}
    suites = {"ifgsm": {**common, "name": "tradeoff-ifgsm", "alphas": list(alphas),
                        "attack": {"name": "ifgsm", "steps": ifgsm_steps, "init": "uniform", "target": "clean",
                                   "n_eot": n_eot}}}
    if adam_psnr is not None:
        suites["adam-l2"] = {**common, "name": "tradeoff-adam-l2", "alphas": [0.5],  # eps ignored: target_input_psnr
                             "attack": {"name": "adam-l2", "steps": adam_steps, "target_input_psnr": adam_psnr,
                                        "n_eot": n_eot}}
    return suites


def perceptual(models: Sequence[str], datasets: Sequence[str], scale: int, data_root: str | None, device: str,
               weights: dict[str, str], limit: int | None, features: str, patch: int | None, seed: int = 0) -> pd.DataFrame:
    """jfid / fid / precision / recall of each model's clean outputs on each dataset."""
    from srbench.data import load_dataset
    from srbench.evaluate import draw_z
    from srbench.joint import get_extractor, joint_index
    from srbench.models import load_model
    from srbench.restorer import resolve_device

    dev = resolve_device(device)
    phi = get_extractor(features)
    rows = []
    for name in models:
        restorer = load_model(name, weights=weights.get(name), device=dev, scale=scale)
        for ds in datasets:
            pairs = load_dataset(ds, scale, root=data_root, limit=limit)
            outs = []
            with torch.no_grad():
                for p in pairs:
                    y = p.lr[None].to(dev)
                    z = draw_z(restorer, [p], y, 1, seed, "jfid")
                    outs.append(restorer.restore(y, z)[0].cpu())
            scores = joint_index([p.hr for p in pairs], outs, [p.lr for p in pairs], features=phi, patch=patch)
            rows.append({"model": name, "dataset": ds, "noise_sigma": _noise_sigma(ds), **scores})
        del restorer
    return pd.DataFrame(rows)


def robustness_at(rows: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Mean Eq. 9 robustness and AI-PSNR per model x dataset at ``reference`` (``attack@budget``)."""
    attack, _, budget = reference.partition("@")
    sel = rows[rows["attack"] == attack]
    if budget:
        sel = sel[(sel["budget"].astype(float) - float(budget)).abs() < 1e-9]
    if sel.empty:
        raise UserError(f"no rows for the reference attack {reference!r}")
    return (sel.groupby(["model", "dataset"]).agg(robustness=("adv_output_psnr", "mean"),
                                                  robustness_input_psnr=("adv_input_psnr", "mean"),
                                                  psnr_y=("psnr_y", "mean"))
               .reset_index())


def summarize(rows: pd.DataFrame, perceptual_table: pd.DataFrame, reference: str) -> pd.DataFrame:
    from srbench.lipschitz import k_report

    k = k_report(rows, by=("model", "dataset"))
    rob = robustness_at(rows, reference)
    out = perceptual_table.merge(k, on=["model", "dataset"], how="left").merge(rob, on=["model", "dataset"], how="left")
    out["log10_k_mean"] = out["k_mean"].map(lambda v: math.log10(v) if v and v > 0 else math.nan)
    out["reference_attack"] = reference
    first = ["model", "dataset", "noise_sigma", "psnr_y", "jfid", "fid", "jprecision", "jrecall", "precision", "recall",
             "k_mean", "k_median", "k_max", "log10_k_mean", "robustness", "robustness_input_psnr"]
    return out[[c for c in first if c in out] + [c for c in out if c not in first]]


def load_summary(path: str | Path) -> pd.DataFrame:
    """summary.csv of a tradeoff folder (or the CSV itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / SUMMARY
    if not path.is_file():
        raise UserError(f"{path} not found (a tradeoff folder holds summary.csv): run `python -m srbench.tradeoff --out DIR` first")
    return pd.read_csv(path)


def run(args: argparse.Namespace, argv: Sequence[str]) -> Path:
    from srbench.leaderboard import aggregate, load_rows, render
    from srbench.plots import tradeoff as plot_tradeoff
    from srbench.runner import run_suite
    from srbench.suite import build_suite

    t0 = time.perf_counter()
    out = writable_dir(args.out)
    weights = dict(w.split("=", 1) for w in args.weights)
    suites = attack_suites(args.models, args.datasets, args.scale, args.alphas, args.ifgsm_steps, args.adam_psnr,
                           args.adam_steps, args.n_eot, args.limit, args.data_root, args.device, weights, args.seed)
    runs = []
    for key, raw in suites.items():
        run_dir = out / "runs" / key
        print(f"[tradeoff] attack runs: {key} -> {run_dir}", flush=True)
        run_suite(build_suite(raw), run_dir, quiet=args.quiet)
        runs.append(run_dir)
    rows = load_rows(runs)
    t_attacks = time.perf_counter() - t0
    print("[tradeoff] perceptual indices (jfid, fid)", flush=True)
    perc = perceptual(args.models, args.datasets, args.scale, args.data_root, args.device, weights, args.limit,
                      args.features, args.patch or None, args.seed)
    from srbench.lipschitz import k_report

    summary = summarize(rows, perc, args.reference)
    atomic_write_text(out / SUMMARY, summary.to_csv(index=False))
    atomic_write_text(out / "perceptual.csv", perc.to_csv(index=False))
    atomic_write_text(out / "lipschitz.csv", k_report(rows, by=("model", "dataset")).to_csv(index=False))
    atomic_write_text(out / "leaderboard.md", render(aggregate(rows), "md") + "\n")
    plot_tradeoff(summary, out / "tradeoff.png")
    wall = time.perf_counter() - t0
    _write_readme(out, argv, summary, wall, t_attacks, args)
    print(summary.to_string(index=False))
    print(f"[tradeoff] wrote {out} in {wall:.0f} s")
    return out


def _write_readme(out: Path, argv: Sequence[str], summary: pd.DataFrame, wall: float, t_attacks: float, args) -> None:
    import platform

    cols = ["model", "dataset", "psnr_y", "jfid", "fid", "jprecision", "jrecall", "k_mean", "k_median", "k_max",
            "robustness", "robustness_input_psnr"]
    table = summary[[c for c in cols if c in summary]].to_markdown(index=False, floatfmt=".3f")
    text = f"""# Perception-robustness tradeoff ({', '.join(args.datasets)}, x{args.scale})

Made by (from the repository root):

    python -m srbench.tradeoff {' '.join(argv)}

Wall time: {wall:.0f} s ({t_attacks:.0f} s of attacks), {torch.get_num_threads()} CPU thread(s), torch {torch.__version__},
{platform.processor() or platform.machine()}, device {args.device}.

Redraw the figure: `srbench plot tradeoff {out} -o {out}/tradeoff.png`.

{table}

- `jfid`: Fréchet distance between joint features [phi(x), phi(up(y))] of ground-truth and restored pairs
  (y = the model's input brought to the image size by bicubic); `fid`: the same on phi(x) alone;
  features `{args.features}`, tiles of {args.patch or 'whole images'} px, one sample per tile
  (see `srbench/joint.py`). Compare only numbers made with the same extractor and tiles.
- `k_*`: K(y) = ||f(y + d*) - f(y)||_2 / ||d*||_2 with d* the strongest of the attacks below
  (largest K per image), mean / median / max over images (`lipschitz.csv`).
- `robustness`: Eq. 9 adversarial output PSNR (same seed) at `{args.reference}`, with its input PSNR.
- Attacks: I-FGSM, target = clean output, uniform random start, {args.ifgsm_steps} steps, alphas
  {', '.join(f'{a:g}' for a in args.alphas)} (1/255); Adam L2 (Eq. 6), {args.adam_steps} steps, eps from a
  target input PSNR of {args.adam_psnr} dB. Run folders: `runs/`; leaderboard with the `lipschitz_k` column:
  `leaderboard.md`.
- `*-noisy` datasets: bicubic x{args.scale} + Gaussian noise of sigma 10/255 (`srbench/data/noisy.py`).
"""
    atomic_write_text(out / "README.md", text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m srbench.tradeoff", description=__doc__.split("\n\n")[0])
    csv = lambda t: (lambda s: [t(v) for v in s.split(",") if v.strip()])  # noqa: E731
    p.add_argument("--models", type=csv(str), default=["bicubic", "tiny-edsr"])
    p.add_argument("--datasets", type=csv(str), default=["set5", "set5-noisy"])
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--alphas", type=csv(float), default=[1.0, 2.0, 4.0], help="I-FGSM budgets (1/255)")
    p.add_argument("--ifgsm-steps", type=int, default=10)
    p.add_argument("--adam-psnr", type=float, default=40.0, help="adam-l2 target input PSNR (dB); <= 0 skips it")
    p.add_argument("--adam-steps", type=int, default=5)
    p.add_argument("--n-eot", type=int, default=4, help="seeds per attack step for stochastic models")
    p.add_argument("--reference", default="ifgsm@2", help="attack@budget for the Eq. 9 robustness column")
    p.add_argument("--features", default="random-conv")
    p.add_argument("--patch", type=int, default=48, help="tile size for jfid/fid samples (0: whole images)")
    p.add_argument("--limit", type=int)
    p.add_argument("--data-root")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--out", default="results/tradeoff")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.adam_psnr is not None and args.adam_psnr <= 0:
        args.adam_psnr = None
    try:
        run(args, argv)
    except UserError as exc:
        print(f"srbench: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
