"""The image GANs of Ohayon et al. (2023): training configs, data, training, Table 1 metrics.

See docs/gan.md. Entry points: :func:`srbench.experiments.gan.train.train_variant`,
:func:`srbench.experiments.gan.evaluate.evaluate_checkpoints`, :func:`register_checkpoint`.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from srbench.core.degradations import get_degradation
from srbench.core.errors import UserError
from srbench.files import atomic_path
from srbench.models import get_card, register_model
from srbench.models.card import ModelCard
from srbench.models.weights import Weights, load_checkpoint_file, sha256_of


def read_trainer_checkpoint(path: str | os.PathLike) -> dict:
    """The saved state of ``srbench train`` (or its export): a dict with ``arch`` and ``params``;
    any other file is a one-line error."""
    state = load_checkpoint_file(path)
    if not isinstance(state, dict) or not state.get("arch") or "params" not in state:
        raise UserError(f"{path} is not a checkpoint written by srbench train (no 'arch'/'params')")
    return state


def checkpoint_card(path: str | os.PathLike, name: str | None = None) -> ModelCard:
    """The model card of a trainer checkpoint: the registered U-Net GAN card with the file's arch and weights.

    Built from the ``unet-gan`` card of the registry, so the U-Net code stays in the zoo;
    ``card.load(weights=path)`` builds the right U-Net and loads the file.
    """
    state = read_trainer_checkpoint(path)
    arch = state["arch"]
    name = name or f"unet-gan-{Path(path).parent.name}"
    digest = sha256_of(path)
    stochastic = bool(arch["stochastic"])
    degradation = get_degradation(arch["degradation"])
    base_card = get_card("unet-gan")
    return dataclasses.replace(
        base_card, name=name, stochastic=stochastic, scale=degradation.scale,
        scales=tuple(s for s in (1, 4, 8, 16) if s != degradation.scale),
        arch={"degradation": arch["degradation"], "base": int(arch["base"]), "z_channels": int(arch["z_channels"]),
              "stochastic": stochastic},
        weights=Weights(file=f"{name}-{digest[:8]}.pt", sha256=digest, sources=(Path(path).resolve().as_uri(),),
                        how_to_get=f"the local checkpoint {os.fspath(path)}"),
        description=f"U-Net GAN trained by srbench ({Path(path).parent.name}, step {state.get('step')})")


def register_checkpoint(path: str | os.PathLike, name: str | None = None, overwrite: bool = True) -> ModelCard:
    """Register a local model card for a trainer checkpoint (arch read from the file).

    ``srbench.load_model(name)`` then builds the right U-Net and loads the weights;
    the card's weights point at ``path`` (hash recorded).
    """
    card = checkpoint_card(path, name)
    register_model(card, overwrite=overwrite)
    return card


def export_weights(ckpt: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the estimator part of a trainer checkpoint (``params``, ``arch``, ``step``, ``config``).

    The result is small (no critic, no optimizer state) and still loads everywhere a
    checkpoint does (``--weights``, ``evaluate-gan``, :func:`register_checkpoint`); it
    cannot resume training.
    """
    state = read_trainer_checkpoint(ckpt)
    small = {"params": {k: v.clone() for k, v in state["params"].items()}, "arch": state["arch"],
             "step": state.get("step"), "config": state.get("config")}

    out = Path(out)
    with atomic_path(out) as tmp:
        torch.save(small, tmp)
    return out
