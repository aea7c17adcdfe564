"""Model cards: what a model is (builder, scale, stochasticity, license, paper) and where its weights come from.

A card builds its model: :meth:`ModelCard.load` returns a frozen, eval-mode
restorer that already carries the card's name, its scale and stochasticity
and the sha256 of the weights it loaded (nothing patches them on later).

Resolution order for a model's weights: an explicit path (``weights=`` /
``--weights NAME=PATH``), the environment variable ``SRBENCH_WEIGHTS_<NAME>``,
the file bundled with the card, the cache (``$SRBENCH_CACHE`` or
``~/.cache/srbench``), then each download source of the card in turn (mirrors
of the same file: when one fails, the next is tried, and the final error names
every source with why it failed). A file that comes from the cache or a
download must match the card's sha256 (or the 8-hex-digit prefix that BasicSR
writes into its file names); checkpoints are read with
``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from srbench.core.errors import UserError
from srbench.core.registry import import_object
from srbench.core.restorer import Restorer, resolve_device
from srbench.models.weights import (Weights, _fetch, bundled_path, cached_path, env_var_for, hash_matches,
                                    load_error_summary, read_state_dict, sha256_of)


@dataclass(frozen=True)
class ModelCard:
    """Everything srbench needs to build, load and describe a model."""

    name: str
    build: str | Callable[..., Any]  # "module:function"; called with **arch, returns a Restorer
    scale: int
    stochastic: bool = False
    arch: Mapping[str, Any] = field(default_factory=dict)
    scales: tuple[int, ...] = ()  # other scales reachable by setting arch["scale"] (e.g. bicubic)
    weights: Weights | None = None
    license: str = ""
    paper: str = ""
    source: str = ""
    description: str = ""
    # how the weights were trained: "pixel" (L1/L2 loss), "GAN", "flow" (likelihood), "-" (nothing learned);
    # the leaderboard can group by it, since the papers' claim is about GAN-trained deterministic models
    training: str = "unknown"

    @property
    def short_license(self) -> str:
        """The license without its explanation in parentheses, for tables ("Apache-2.0")."""
        return self.license.split(" (")[0].strip() or "-"

    def builder(self) -> Callable[..., Any]:
        return import_object(self.build) if isinstance(self.build, str) else self.build

    def arch_for(self, scale: int | None = None) -> dict[str, Any]:
        """The builder's arguments at ``scale`` (None: the card's); a scale the card cannot reach is a UserError."""
        arch = dict(self.arch)
        if scale is not None and scale != self.scale:
            if scale not in self.scales:
                scales = sorted({self.scale, *self.scales})
                supported = ", ".join(f"x{s}" for s in scales)
                hint = "{scale} or another model" if len(scales) > 1 else f"{{scale}} {scales[0]} or another model"
                raise UserError(f"model {self.name!r} supports {supported}, not x{scale}; use {hint}", {"scale": ""})
            arch["scale"] = scale
        return arch

    def build_restorer(self, scale: int | None = None) -> Restorer:
        """The restorer at ``scale``, before any weights, carrying the card's identity (name, scale, stochastic).

        The card is the authority on what the model is: a builder may leave these attributes at the
        Restorer defaults (docs/adding-a-model.md), so they are set here, in the one place models are built.
        """
        arch = self.arch_for(scale)
        restorer = self.builder()(**arch)
        if not isinstance(restorer, Restorer):
            raise TypeError(f"builder of model {self.name!r} returned {type(restorer).__name__}, not a Restorer")
        restorer.name, restorer.scale, restorer.stochastic = self.name, arch.get("scale", self.scale), self.stochastic
        return restorer

    def locate_weights(self, explicit: str | os.PathLike | None = None) -> Path:
        """The weights on this machine (downloaded and verified if needed); a card whose weights are not
        one checkpoint file (a diffusers folder) overrides it."""
        return resolve_weights(self, explicit)

    def cache_location(self) -> Path:
        """Where a download of the weights is kept (``srbench models NAME`` shows it)."""
        return cached_path(self.weights)

    def load(self, weights: str | os.PathLike | None = None, device: str | torch.device | None = None,
             scale: int | None = None) -> Restorer:
        """Build the model, load its verified weights (``weights``: an explicit checkpoint), freeze it and put it
        in eval mode on ``device``. The restorer carries the card's name and the sha256 of the weights it loaded."""
        restorer = self.build_restorer(scale)
        if weights is not None and self.weights is None:
            raise UserError(f"model {self.name!r} takes no weights, but weights were given")
        if self.weights is not None:
            path = self.locate_weights(weights)
            try:
                restorer.load_weights(read_state_dict(path))
            except RuntimeError as exc:
                raise UserError(f"weights {path} do not fit model {self.name!r}: {load_error_summary(exc)} "
                                f"(expected the layout of {self.weights.file})") from exc
            restorer.weights_sha256 = sha256_of(path)
        restorer.requires_grad_(False)
        return restorer.eval().to(resolve_device(device))


def weights_status(card: ModelCard) -> str:
    """Where the card's weights would come from on this machine, without downloading or hashing anything.

    "none" (the model has no weights), "env var" (SRBENCH_WEIGHTS_<NAME> names a file), "bundled",
    "cached", "will download" (the card lists sources) or "must be supplied".
    """
    w = card.weights
    if w is None:
        return "none"
    env = os.environ.get(env_var_for(card.name))
    if env and Path(env).expanduser().is_file():
        return "env var"
    bundled = bundled_path(w)
    if bundled is not None and bundled.is_file():
        return "bundled"
    if card.cache_location().exists():
        return "cached"
    return "will download" if w.sources else "must be supplied"


def resolve_weights(card: ModelCard, explicit: str | os.PathLike | None = None) -> Path:
    """Return a local, verified checkpoint path for the card (see module docstring)."""
    w = card.weights
    if w is None:
        raise UserError(f"model {card.name!r} has no weights to load")
    user = explicit or os.environ.get(env_var_for(card.name))
    if user:
        path = Path(user).expanduser()
        if not path.is_file():
            raise UserError(f"weights file for {card.name!r} not found: {path}")
        return path
    expected = w.expected_hash
    bundled = bundled_path(w)
    if bundled is not None and bundled.is_file():
        if not hash_matches(bundled, expected):
            raise UserError(f"bundled weights {bundled} do not match the card's sha256; reinstall srbench")
        return bundled
    cached = cached_path(w)
    if cached.is_file():
        if hash_matches(cached, expected):
            return cached
        cached.unlink()  # stale or corrupted: fetch again
    failures = []
    for source in w.sources:  # mirrors of one file: the first that delivers the right bytes wins
        why = _fetch(source, cached, expected)
        if why is None:
            return cached
        failures.append(f"[{len(failures) + 1}] {source}: {why}")
    tried = (f"tried {len(failures)} source{'s' if len(failures) > 1 else ''}: {'; '.join(failures)}"
             if failures else "the card lists no download source")
    raise UserError(
        f"could not obtain weights {w.file!r} for model {card.name!r} ({tried}). "
        f"{w.how_to_get + ' ' if w.how_to_get else ''}"
        f"Supply the file with {{weights}}, set {env_var_for(card.name)}=PATH, "
        f"or put it at {cached}.", {"weights": f"{card.name}=PATH"}
    )
