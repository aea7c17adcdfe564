"""`srbench evaluate-gan`: Table 1 of Ohayon et al. (2023) for a set of trained U-Net GANs.

Each checkpoint written by ``srbench train`` (or a run folder holding
``ckpt.pt``) is loaded as a restorer and scored on clean evaluation images
with :func:`srbench.experiments.gan.metrics.gan_metrics`: FID, precision, recall (k = 3)
in the features of a pluggable extractor, per-pixel std over ``n_samples``
samples per input, Eq. 9 robustness and AI-PSNR of the adam-l2 attack at a
target AI-PSNR, consistency PSNR and PSNR to the clean image.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Iterable

import torch

from srbench.core.errors import UserError
from srbench.core.restorer import DEFAULT_N_SEEDS
from srbench.experiments.gan import checkpoint_card, read_trainer_checkpoint
from srbench.experiments.gan.features import get_extractor
from srbench.experiments.gan.metrics import gan_metrics

COLUMNS = ["model", "step", "fid", "precision", "recall", "std", "robustness_psnr", "ai_psnr",
           "consistency_psnr", "psnr", "n_images"]


def find_checkpoints(paths: Iterable[str | os.PathLike]) -> list[Path]:
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("ckpt.pt")) or sorted(p.glob("*/ckpt.pt"))
            if not found:
                raise UserError(f"no ckpt.pt in {p} or its subfolders")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise UserError(f"checkpoint not found: {p}")
    return out


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu", name: str | None = None):
    """(restorer in eval mode, checkpoint summary) for a trainer checkpoint, loaded through its model card."""
    state = read_trainer_checkpoint(path)
    restorer = checkpoint_card(path, name).load(weights=path, device=device)
    return restorer, {"step": int(state["step"]), "arch": state["arch"], "config": state.get("config")}


def evaluate_checkpoints(ckpts: list[Path], x: torch.Tensor, *, features: str = "inception",
                         n_samples: int = 32, n_seeds: int = DEFAULT_N_SEEDS, attack_images: int | None = None,
                         input_psnr: float = 34.0, seed: int = 0, device: str | torch.device = "cpu",
                         batch_size: int = 16, names: list[str] | None = None) -> list[dict]:
    extractor = get_extractor(features, device) if features != "none" else None
    real = extractor(x) if extractor is not None else None
    rows = []
    for i, path in enumerate(ckpts):
        name = names[i] if names else (path.parent.name if path.name == "ckpt.pt" else path.stem)
        restorer, info = load_checkpoint(path, device, name)
        t0 = time.perf_counter()
        m = gan_metrics(restorer, x, restorer.degradation, extractor=extractor, n_samples=n_samples,
                        attack_images=attack_images, n_seeds=n_seeds, input_psnr=input_psnr, seed=seed,
                        batch_size=batch_size, real_features=real)
        rows.append({"model": name, "step": info["step"], **m, "features": features if extractor else None,
                     "arch": info["arch"], "checkpoint": str(path), "eval_s": time.perf_counter() - t0})
    return rows


def render(rows: list[dict], fmt: str = "md") -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    cols = [c for c in COLUMNS if c in df]
    df = df[cols]
    if fmt == "md":
        return df.to_markdown(index=False, floatfmt=".4g")
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "json":
        return json.dumps(rows, indent=1, default=str)
    raise UserError(f"unknown format {fmt!r}; use md, csv or json")
