"""Models: the registry, the Python API to find and load them, and model specs.

A model is named by a spec (:mod:`srbench.models.spec`): a registered name,
whose card (:class:`srbench.models.card.ModelCard`) builds it, or a ``file:``/``hf:``
checkpoint whose architecture spandrel detects
(:mod:`srbench.models.external`), optionally behind defenses (``imdn+jpeg75``,
:mod:`srbench.models.defenses`). Every loader goes through :func:`load_model`, that is
through a card's :meth:`~srbench.models.card.ModelCard.load`.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import torch

from srbench.core.errors import UserError
from srbench.core.registry import Registry
from srbench.core.restorer import Restorer
from srbench.models.card import ModelCard
from srbench.models.defenses import defend
from srbench.models.external import checkpoint_card
from srbench.models.spec import ModelSpec, is_checkpoint_spec, parse_model_spec, weights_through_defenses

MODELS = Registry("model", "srbench.models")

__all__ = ["MODELS", "ModelSpec", "get_card", "is_checkpoint_spec", "list_models", "load_model", "parse_model_spec",
           "register_model", "training_of", "weights_through_defenses"]


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
    """The card of a registered model, or of a ``file:``/``hf:`` checkpoint (read to detect its architecture).

    A defended model (``imdn+jpeg75``) has the card of the model behind its defenses (its weights, its training)."""
    spec = parse_model_spec(name)
    if spec.defenses:
        return get_card(spec.base_text)
    if spec.is_checkpoint:
        return checkpoint_card(spec, spec.local_path())
    card = MODELS.get(name)
    if not isinstance(card, ModelCard):
        raise TypeError(f"entry {name!r} of srbench.models is a {type(card).__name__}, expected a ModelCard")
    return card


def training_of(name: str) -> str:
    """How a registered model was trained (its card's ``training``); "unknown" for file:/hf: checkpoints
    and names that are not registered in this process. Recorded in every result row."""
    name = parse_model_spec(name).base_text
    card = MODELS.get(name) if name in MODELS else None
    return card.training if isinstance(card, ModelCard) else "unknown"


def load_model(name: str, weights: str | os.PathLike | None = None, device: str | torch.device | None = None,
               scale: int | None = None) -> Restorer:
    """Build a model, load its verified weights, and put it in eval mode on ``device``.

    ``name`` is a registered model (``weights``: a checkpoint file for it, else its card's) or a
    ``file:PATH`` / ``hf:ORG/REPO/FILE`` checkpoint, which is the whole model (no separate weights).
    ``scale`` checks (or, for models like bicubic that list ``scales``, selects) the SR factor.
    """
    spec = parse_model_spec(name)
    if spec.defenses:  # the model behind the defenses takes the weights; then each defense wraps it in turn
        problems = spec.problems()
        if problems:
            raise UserError(problems[0])
        return defend(load_model(spec.base_text, weights, device, scale), spec.defenses)
    if not spec.is_checkpoint:
        return get_card(name).load(weights, device, scale)
    if weights is not None:
        raise UserError(f"model {name!r} is a checkpoint itself; it takes no separate weights ({weights})")
    path = spec.local_path()
    return checkpoint_card(spec, path).load(path, device, scale)
