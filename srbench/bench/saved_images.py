"""Attacked inputs and outputs kept beside a cell (``--save-images``), for the gallery and for re-use.

    RUN_DIR/images/<cell_id>/<image>__lr.png        the clean LR input
    RUN_DIR/images/<cell_id>/<image>__lr_adv.png    the attacked LR, rounded to 8 bits (lossless PNG)
    RUN_DIR/images/<cell_id>/<image>__delta.npy     the exact float32 perturbation (C x h x w), as Choi et al. keep it
    RUN_DIR/images/<cell_id>/<image>__sr_clean.png  the output on the clean input (first seed)
    RUN_DIR/images/<cell_id>/<image>__sr_adv.png    the output on the attacked input (same seed)

    RUN_DIR/images/<cell_id>/universal__delta.npy   a fitted attack's perturbation (C x p x p, float32), always kept
    RUN_DIR/images/<cell_id>/universal__delta.png   the same, 0.5 + delta / (2 eps): mid-gray is 0, black/white +-eps

Cells without an attack keep only ``lr`` and ``sr_clean``. Each file is written atomically before
the cell file, so a finished cell always has its images; rows name them (``saved_images``, paths
relative to the run folder).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from srbench.data.images import write_image
from srbench.files import atomic_path

IMAGE_FOLDER = "images"


class ImageSaver:
    """Which images of a cell to keep (the first N of the dataset, or named ones), and where."""

    def __init__(self, run_dir: str | Path, cell_id: str, keep: int | Sequence[str], order: Sequence[str]):
        self.run_dir = Path(run_dir)
        self.folder = Path(IMAGE_FOLDER) / cell_id
        self.keep = set(order[:keep]) if isinstance(keep, int) else set(keep)

    def __call__(self, pair, tensors: dict[str, torch.Tensor]) -> dict[str, str] | None:
        if pair.name not in self.keep:
            return None
        saved = {}
        for kind, tensor in tensors.items():
            rel = self.folder / f"{pair.name}__{kind}.{'npy' if kind == 'delta' else 'png'}"
            if kind == "delta":
                with atomic_path(self.run_dir / rel) as tmp:
                    np.save(tmp, tensor.detach().float().cpu().numpy())
            else:
                write_image(tensor.detach().float().cpu(), self.run_dir / rel)
            saved[kind] = rel.as_posix()
        return saved


def saved_images(run_dir: str | Path) -> dict[str, list[str]]:
    """cell_id -> the files kept for it (names inside its folder), as the manifest lists them."""
    root = Path(run_dir) / IMAGE_FOLDER
    if not root.is_dir():
        return {}
    return {d.name: sorted(f.name for f in d.iterdir() if not f.name.startswith("."))
            for d in sorted(root.iterdir()) if d.is_dir()}


def save_perturbation(run_dir: str | Path, cell_id: str, name: str, delta: torch.Tensor, eps: float) -> dict[str, str]:
    """Keep a perturbation an attack learned (e.g. universal) as ``<name>__delta.npy`` and a viewable PNG.

    Why both: the .npy is the exact tensor (to re-use it), the PNG what the gallery and a reader can look at.
    """
    folder = Path(IMAGE_FOLDER) / cell_id
    delta = delta.detach().float().cpu()
    npy, png = folder / f"{name}__delta.npy", folder / f"{name}__delta.png"
    with atomic_path(Path(run_dir) / npy) as tmp:
        np.save(tmp, delta.numpy())
    write_image((0.5 + delta / (2 * eps)).clamp(0, 1) if eps > 0 else torch.full_like(delta, 0.5), Path(run_dir) / png)
    return {"npy": npy.as_posix(), "png": png.as_posix()}
