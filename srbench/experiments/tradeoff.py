"""The perception-robustness tradeoff experiment (Ohayon, Michaeli, Elad, ICML 2024).

For every model and dataset (degradation: noiseless bicubic SR and its noisy
version, e.g. ``set5`` and ``set5-noisy``) it measures

- robustness: attacks through the ordinary runner (one run folder per attack
  under ``OUT/runs``): I-FGSM with the clean output as target (random start)
  at several alphas, and the Adam L2 attack (Eq. 6) at a target input PSNR.
  Every attacked row carries ``lipschitz_k``; per image the strongest attack
  found gives K(y) (the largest one), reported per model as mean, median and
  max (:func:`srbench.bench.lipschitz.k_report`). Eq. 9 robustness (adversarial
  output PSNR, same seed) is taken at a reference attack (``ifgsm@2`` by
  default);
- perceptual quality: jfid, fid and (joint) precision/recall of the clean
  outputs against the ground truths (:mod:`srbench.experiments.joint`), one seeded draw
  per input for stochastic models.

It writes ``summary.csv`` (one row per model x dataset), ``lipschitz.csv``,
``perceptual.csv``, ``leaderboard.md`` (the runs' leaderboard, with the
``lipschitz_k`` column), ``tradeoff.png`` and ``README.md`` with the command
and its wall time. Run it as ``srbench tradeoff`` (srbench/cli/commands/tradeoff.py) or
:func:`run` with a :class:`TradeoffConfig`.
"""
from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch

from srbench.bench.evaluate import draw_z
from srbench.bench.lipschitz import k_report
from srbench.bench.runner import run_suite
from srbench.bench.suite import build_suite
from srbench.core.errors import UserError
from srbench.core.restorer import resolve_device
from srbench.data import load_dataset
from srbench.data.noisy import DEFAULT_SIGMA
from srbench.experiments.joint import get_extractor, joint_index
from srbench.files import atomic_write_text, writable_dir
from srbench.models import load_model
from srbench.report.leaderboard import aggregate, load_rows, render
from srbench.report.plots import tradeoff as plot_tradeoff

SUMMARY = "summary.csv"


def _noise_sigma(dataset: str) -> float:
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
        raise UserError(f"{path} not found (a tradeoff folder holds summary.csv, which `srbench tradeoff` writes)")
    return pd.read_csv(path)


@dataclass
class TradeoffConfig:
    """What the experiment runs (the defaults are those of ``srbench tradeoff``)."""

    models: list[str] = field(default_factory=lambda: ["bicubic", "tiny-edsr"])
    datasets: list[str] = field(default_factory=lambda: ["set5", "set5-noisy"])
    scale: int = 4
    alphas: list[float] = field(default_factory=lambda: [1.0, 2.0, 4.0])  # I-FGSM budgets (1/255)
    ifgsm_steps: int = 10
    adam_psnr: float | None = 40.0  # adam-l2 target input PSNR (dB); None skips it
    adam_steps: int = 5
    n_eot: int = 4  # seeds per attack step for stochastic models
    reference: str = "ifgsm@2"  # attack@budget of the Eq. 9 robustness column
    features: str = "random-conv"
    patch: int | None = 48  # tile size of the jfid/fid samples (None: whole images)
    limit: int | None = None
    data_root: str | None = None
    device: str = "cpu"
    seed: int = 0
    weights: dict[str, str] = field(default_factory=dict)  # registered model -> checkpoint file


def run(config: TradeoffConfig, out: str | Path, command: str = "", quiet: bool = False) -> Path:
    """Run the experiment into ``out`` (resumable attack runs under ``out/runs``) and write its tables,
    figure and README; ``command`` is the command line the README quotes."""
    t0 = time.perf_counter()
    out = writable_dir(out)
    c = config
    suites = attack_suites(c.models, c.datasets, c.scale, c.alphas, c.ifgsm_steps, c.adam_psnr, c.adam_steps,
                           c.n_eot, c.limit, c.data_root, c.device, c.weights, c.seed)
    runs = []
    for key, raw in suites.items():
        run_dir = out / "runs" / key
        print(f"[tradeoff] attack runs: {key} -> {run_dir}", flush=True)
        run_suite(build_suite(raw), run_dir, quiet=quiet)
        runs.append(run_dir)
    rows = load_rows(runs)
    t_attacks = time.perf_counter() - t0
    print("[tradeoff] perceptual indices (jfid, fid)", flush=True)
    perc = perceptual(c.models, c.datasets, c.scale, c.data_root, c.device, c.weights, c.limit, c.features,
                      c.patch, c.seed)
    summary = summarize(rows, perc, c.reference)
    atomic_write_text(out / SUMMARY, summary.to_csv(index=False))
    atomic_write_text(out / "perceptual.csv", perc.to_csv(index=False))
    atomic_write_text(out / "lipschitz.csv", k_report(rows, by=("model", "dataset")).to_csv(index=False))
    atomic_write_text(out / "leaderboard.md", render(aggregate(rows), "md") + "\n")
    plot_tradeoff(summary, out / "tradeoff.png")
    wall = time.perf_counter() - t0
    _write_readme(out, command, summary, wall, t_attacks, c)
    print(summary.to_string(index=False))
    print(f"[tradeoff] wrote {out} in {wall:.0f} s")
    return out


def _write_readme(out: Path, command: str, summary: pd.DataFrame, wall: float, t_attacks: float,
                  c: TradeoffConfig) -> None:
    cols = ["model", "dataset", "psnr_y", "jfid", "fid", "jprecision", "jrecall", "k_mean", "k_median", "k_max",
            "robustness", "robustness_input_psnr"]
    table = summary[[col for col in cols if col in summary]].to_markdown(index=False, floatfmt=".3f")
    text = f"""# Perception-robustness tradeoff ({', '.join(c.datasets)}, x{c.scale})

Made by (from the repository root):

    {command}

Wall time: {wall:.0f} s ({t_attacks:.0f} s of attacks), {torch.get_num_threads()} CPU thread(s), torch {torch.__version__},
{platform.processor() or platform.machine()}, device {c.device}.

Redraw the figure: `srbench plot tradeoff {out} -o {out}/tradeoff.png`.

{table}

- `jfid`: Fréchet distance between joint features [phi(x), phi(up(y))] of ground-truth and restored pairs
  (y = the model's input brought to the image size by bicubic); `fid`: the same on phi(x) alone;
  features `{c.features}`, tiles of {c.patch or 'whole images'} px, one sample per tile
  (see `srbench/experiments/joint.py`). Compare only numbers made with the same extractor and tiles.
- `k_*`: K(y) = ||f(y + d*) - f(y)||_2 / ||d*||_2 with d* the strongest of the attacks below
  (largest K per image), mean / median / max over images (`lipschitz.csv`).
- `robustness`: Eq. 9 adversarial output PSNR (same seed) at `{c.reference}`, with its input PSNR.
- Attacks: I-FGSM, target = clean output, uniform random start, {c.ifgsm_steps} steps, alphas
  {', '.join(f'{a:g}' for a in c.alphas)} (1/255); Adam L2 (Eq. 6), {c.adam_steps} steps, eps from a
  target input PSNR of {c.adam_psnr} dB. Run folders: `runs/`; leaderboard with the `lipschitz_k` column:
  `leaderboard.md`.
- `*-noisy` datasets: bicubic x{c.scale} + Gaussian noise of sigma 10/255 (`srbench/data/noisy.py`).
"""
    atomic_write_text(out / "README.md", text)
