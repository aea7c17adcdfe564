"""Model cards, weight resolution, hashed downloads and safe checkpoint loading.

Resolution order for a model's weights: an explicit path (``weights=`` /
``--weights NAME=PATH``), the environment variable ``SRBENCH_WEIGHTS_<NAME>``,
the file bundled with the card, the cache (``$SRBENCH_CACHE`` or
``~/.cache/srbench``), then each download source of the card in turn. A file
that comes from the cache or a download must match the card's sha256 (or the
8-hex-digit prefix that BasicSR writes into its file names); checkpoints are
read with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from srbench.errors import UserError
from srbench.registry import import_object
from srbench.store import atomic_path

HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.(?:pth|pt|safetensors)$")


@dataclass(frozen=True)
class Weights:
    """Where a checkpoint comes from and how to check it."""

    file: str
    sha256: str | None = None  # full digest when known
    sources: tuple[str, ...] = ()  # "https://..." or "hf://ORG/REPO/PATH/IN/REPO"
    bundled_in: str | None = None  # package that ships the file (small project-trained weights)
    how_to_get: str = ""  # shown when no source works

    @property
    def expected_hash(self) -> str | None:
        if self.sha256:
            return self.sha256.lower()
        m = HASH_IN_NAME.search(self.file)
        return m.group(1) if m else None


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

    def builder(self) -> Callable[..., Any]:
        return import_object(self.build) if isinstance(self.build, str) else self.build


def cache_dir() -> Path:
    return Path(os.environ.get("SRBENCH_CACHE", Path.home() / ".cache" / "srbench"))


def env_var_for(name: str) -> str:
    return "SRBENCH_WEIGHTS_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_matches(path: Path, expected: str | None) -> bool:
    return expected is None or sha256_of(path).startswith(expected)


def _download_url(url: str, dest: Path) -> None:
    """Stream url to dest through a temporary file, so a broken download never lands."""
    with atomic_path(dest) as tmp, open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
        shutil.copyfileobj(resp, out)


def _download_hf(spec: str, dest: Path) -> None:
    from huggingface_hub import hf_hub_download

    parts = spec[len("hf://"):].split("/")
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
    got = hf_hub_download(repo_id=repo_id, filename=filename, cache_dir=str(cache_dir() / "hf"))
    with atomic_path(dest) as tmp:
        shutil.copyfile(got, tmp)


def download(source: str, dest: Path) -> None:
    if source.startswith("hf://"):
        _download_hf(source, dest)
    else:
        _download_url(source, dest)


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
    if w.bundled_in:
        path = Path(str(resources.files(w.bundled_in) / w.file))
        if path.is_file():
            if not hash_matches(path, expected):
                raise UserError(f"bundled weights {path} do not match the card's sha256; reinstall srbench")
            return path
    cached = cache_dir() / "weights" / w.file
    if cached.is_file():
        if hash_matches(cached, expected):
            return cached
        cached.unlink()  # stale or corrupted: fetch again
    errors = []
    for source in w.sources:
        try:
            download(source, cached)
        except (OSError, urllib.error.URLError, ValueError, RuntimeError) as exc:
            errors.append(f"{source}: {exc.__class__.__name__}: {exc}")
            continue
        except Exception as exc:  # huggingface_hub raises its own types when offline
            errors.append(f"{source}: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            continue
        if hash_matches(cached, expected):
            return cached
        errors.append(f"{source}: sha256 mismatch (expected {expected}...), file rejected")
        cached.unlink()
    tried = "; ".join(errors) if errors else "the card lists no download source"
    raise UserError(
        f"could not obtain weights {w.file!r} for model {card.name!r} ({tried}). "
        f"{w.how_to_get + ' ' if w.how_to_get else ''}"
        f"Supply the file with --weights {card.name}=PATH, set {env_var_for(card.name)}=PATH, "
        f"or put it at {cached}."
    )


def load_checkpoint_file(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """What a .pt/.pth/.ckpt/.safetensors file holds, read without running pickled code.

    The one place srbench opens checkpoints: a file that is not a checkpoint, or one that needs
    arbitrary unpickling, is a one-line error that says what to do.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device=str(map_location))
        return torch.load(path, map_location=map_location, weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise UserError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    except Exception as exc:
        if "Unsupported global" in str(exc):
            raise UserError(f"refusing to load {path.name}: it holds pickled Python objects besides tensors, and "
                            f"srbench only loads checkpoints with weights_only=True (unpickling can run code). "
                            f"If you trust the file, re-save its state dict (torch.save(model.state_dict(), ...)) "
                            f"or convert it to .safetensors") from None
        raise UserError(f"cannot read checkpoint {path}: not a PyTorch or safetensors checkpoint, or a truncated "
                        f"one ({exc.__class__.__name__}); check the file or download it again") from None


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a checkpoint safely and unwrap the common containers and prefixes."""
    obj = load_checkpoint_file(path)
    if isinstance(obj, Mapping):
        for key in ("params_ema", "params", "state_dict", "model"):
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"checkpoint {path} does not hold a state dict of tensors")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}
