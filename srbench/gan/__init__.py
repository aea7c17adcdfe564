"""The image GANs of Ohayon et al. (2023): training configs, data, training, Table 1 metrics.

See docs/gan.md. Entry points: :func:`srbench.gan.train.train_variant`,
:func:`srbench.gan.evaluate.evaluate_checkpoints`, :func:`register_checkpoint`.
"""
from __future__ import annotations

import os
from pathlib import Path

from srbench.errors import UserError


def read_trainer_checkpoint(path: str | os.PathLike) -> dict:
    """The saved state of ``srbench train`` (or its export): a dict with ``arch`` and ``params``;
    any other file is a one-line error."""
    from srbench.zoo import load_checkpoint_file

    state = load_checkpoint_file(path)
    if not isinstance(state, dict) or not state.get("arch") or "params" not in state:
        raise UserError(f"{path} is not a checkpoint written by srbench train (no 'arch'/'params')")
    return state


def register_checkpoint(path: str | os.PathLike, name: str | None = None, overwrite: bool = True):
    """Register a local model card for a trainer checkpoint (arch read from the file).

    ``srbench.load_model(name)`` then builds the right U-Net and loads the weights;
    the card's weights point at ``path`` (hash recorded).
    """
    from model_zoo.unet_gan.card import card
    from srbench.models import register_model
    from srbench.zoo import Weights, sha256_of

    state = read_trainer_checkpoint(path)
    arch = state["arch"]
    name = name or f"unet-gan-{Path(path).parent.name}"
    c = card(name, arch["degradation"], int(arch["base"]), bool(arch["stochastic"]), int(arch["z_channels"]),
             description=f"U-Net GAN trained by srbench ({Path(path).parent.name}, step {state.get('step')})")
    import dataclasses

    digest = sha256_of(path)
    c = dataclasses.replace(c, weights=Weights(file=f"{name}-{digest[:8]}.pt", sha256=digest,
                                               sources=(Path(path).resolve().as_uri(),),
                                               how_to_get=f"the local checkpoint {os.fspath(path)}"))
    register_model(c, overwrite=overwrite)
    return c


def export_weights(ckpt: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the estimator part of a trainer checkpoint (``params``, ``arch``, ``step``, ``config``).

    The result is small (no critic, no optimizer state) and still loads everywhere a
    checkpoint does (``--weights``, ``evaluate-gan``, :func:`register_checkpoint`); it
    cannot resume training.
    """
    import torch

    from srbench.store import atomic_path

    state = read_trainer_checkpoint(ckpt)
    small = {"params": {k: v.clone() for k, v in state["params"].items()}, "arch": state["arch"],
             "step": state.get("step"), "config": state.get("config")}

    out = Path(out)
    with atomic_path(out) as tmp:
        torch.save(small, tmp)
    return out
