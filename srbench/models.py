"""The model registry and the Python API to find, register and load models."""
from __future__ import annotations

import os
from typing import Any, Callable

import torch

from srbench.errors import UserError
from srbench.registry import Registry
from srbench.restorer import Restorer, resolve_device
from srbench.zoo import ModelCard, load_error_summary, read_state_dict, resolve_weights, sha256_of

MODELS = Registry("model", "srbench.models")


def register_model(card_or_name: ModelCard | str, build: str | Callable[..., Restorer] | None = None,
                   *, overwrite: bool = False, **card_fields: Any) -> ModelCard:
    """Register a model: pass a :class:`ModelCard`, or a name, a builder and the card's fields.

    ``register_model("mine", build=make_restorer, scale=4)`` is the short form;
    ``build(**arch)`` must return a :class:`srbench.Restorer`.
    """
    if isinstance(card_or_name, ModelCard):
        card = card_or_name
    else:
        if build is None:
            raise TypeError("register_model(name, build=...) needs a builder")
        card = ModelCard(name=card_or_name, build=build, **card_fields)
    MODELS.register(card.name, card, overwrite=overwrite)
    return card


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names, optionally filtered by a shell pattern like ``'*esr*'``."""
    return MODELS.names(pattern)


def get_card(name: str) -> ModelCard:
    if name.startswith(("file:", "hf:")):  # any checkpoint spandrel recognises (srbench/external.py)
        from srbench.external import external_card
        return external_card(name)
    card = MODELS.get(name)
    if not isinstance(card, ModelCard):
        raise TypeError(f"entry {name!r} of srbench.models is a {type(card).__name__}, expected a ModelCard")
    return card


def training_of(name: str) -> str:
    """How a registered model was trained (its card's ``training``); "unknown" for file:/hf: checkpoints
    and names that are not registered in this process. Recorded in every result row."""
    card = MODELS.get(name) if name in MODELS else None
    return card.training if isinstance(card, ModelCard) else "unknown"


def load_model(name: str, weights: str | os.PathLike | None = None, device: str | torch.device | None = None,
               scale: int | None = None) -> Restorer:
    """Build a registered model, load its verified weights, and put it in eval mode on ``device``.

    ``scale`` checks (or, for models like bicubic that list ``scales``, selects) the SR factor.
    ``name`` (or ``weights``) may be a ``file:PATH`` / ``hf:ORG/REPO/FILE`` spec loaded through spandrel.
    """
    from srbench.external import is_spec, load_external

    if is_spec(name) or is_spec(weights):
        return load_external(str(weights) if is_spec(weights) else name, name=name if is_spec(weights) else None,
                             device=device, scale=scale)
    card = get_card(name)
    arch = dict(card.arch)
    if scale is not None and scale != card.scale:
        if scale not in card.scales:
            supported = ", ".join(f"x{s}" for s in sorted({card.scale, *card.scales}))
            raise UserError(f"model {name!r} supports {supported}, not x{scale}; pick another --scale or model")
        arch["scale"] = scale
    restorer = card.builder()(**arch)
    if not isinstance(restorer, Restorer):
        raise TypeError(f"builder of model {name!r} returned {type(restorer).__name__}, not a Restorer")
    restorer.name, restorer.scale, restorer.stochastic = card.name, arch.get("scale", card.scale), card.stochastic
    restorer.weights_sha256 = None
    if card.weights is not None or weights is not None:
        if card.weights is None:
            raise UserError(f"model {name!r} takes no weights, but weights were given")
        path = resolve_weights(card, weights)
        state = read_state_dict(path)
        try:
            restorer.load_weights(state)
        except RuntimeError as exc:
            raise UserError(f"weights {path} do not fit model {name!r}: {load_error_summary(exc)} "
                            f"(expected the layout of {card.weights.file})") from exc
        restorer.weights_sha256 = sha256_of(path)
    restorer.requires_grad_(False)
    return restorer.eval().to(resolve_device(device))

