"""Model cards, weight resolution, hashed downloads and the one safe checkpoint reader.

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

import hashlib
import os
import re
import shutil
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from srbench.errors import UserError
from srbench.registry import import_object
from srbench.restorer import Restorer, resolve_device
from srbench.store import atomic_path

# containers that checkpoints wrap their state dict in (BasicSR, Lightning, GAN trainers, srbench train), in order
STATE_DICT_KEYS = ("params_ema", "params", "state_dict", "model", "net_g", "generator")
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


def raw_github(repo: str, commit: str, path: str) -> str:
    """The download URL of a file committed in a GitHub repository, pinned to a commit so the bytes never change."""
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def cache_dir() -> Path:
    return Path(os.environ.get("SRBENCH_CACHE", Path.home() / ".cache" / "srbench"))


def env_var_for(name: str) -> str:
    return "SRBENCH_WEIGHTS_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def sha256_of(path: str | os.PathLike) -> str:
    """The file's sha256; a folder's (a diffusers model) is the sha256 of its files' relative paths and digests."""
    if Path(path).is_dir():
        files = sorted(p for p in Path(path).rglob("*") if p.is_file())
        listing = "".join(f"{p.relative_to(path).as_posix()} {sha256_of(p)}\n" for p in files)
        return hashlib.sha256(listing.encode()).hexdigest()
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


def hub_download(repo_id: str, filename: str, *, revision: str | None = None, repo_type: str | None = None) -> Path:
    """A file of a Hugging Face Hub repo, downloaded into the srbench cache: the one place srbench calls the Hub.

    Any failure (offline, unknown repo or file, authentication: huggingface_hub raises many types) is
    one UserError line naming the file and the cause; callers add what to do instead.
    """
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id=repo_id, filename=filename, revision=revision, repo_type=repo_type,
                                    cache_dir=str(cache_dir() / "hf")))
    except Exception as exc:
        raise UserError(f"cannot download {filename} of {repo_id} from the Hugging Face Hub ({_one_line(exc)})") from None


def _download_hf(spec: str, dest: Path) -> None:
    parts = spec[len("hf://"):].split("/")
    got = hub_download("/".join(parts[:2]), "/".join(parts[2:]))
    with atomic_path(dest) as tmp:
        shutil.copyfile(got, tmp)


def download(source: str, dest: Path) -> None:
    if source.startswith("hf://"):
        _download_hf(source, dest)
    else:
        _download_url(source, dest)


def bundled_path(w: Weights) -> Path | None:
    """Where the package that ships the file keeps it (None when the card bundles nothing)."""
    return Path(str(resources.files(w.bundled_in) / w.file)) if w.bundled_in else None


def cached_path(w: Weights) -> Path:
    return cache_dir() / "weights" / w.file


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
    if cached_path(w).is_file():
        return "cached"
    return "will download" if w.sources else "must be supplied"


def _one_line(exc: BaseException, limit: int = 160) -> str:
    """``ExcType: first line of the message``, cut to ``limit`` characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fetch(source: str, dest: Path, expected: str | None) -> str | None:
    """Download source to dest and check its hash: None when it worked, otherwise why it did not."""
    try:
        download(source, dest)
    except UserError as exc:  # the Hub's failures, already one line
        return str(exc)
    except Exception as exc:  # urllib, OSError
        return _one_line(exc)
    got = sha256_of(dest)
    if expected and not got.startswith(expected):
        dest.unlink()
        return f"sha256 mismatch (got {got[:16]}..., expected {expected[:16]}...), file rejected"
    return None


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


_SIZE_MISMATCH = re.compile(r"size mismatch for (\S+): copying a param with shape torch\.Size\(\[([^\]]*)\]\) "
                            r"from checkpoint, the shape in current model is torch\.Size\(\[([^\]]*)\]\)")


def _keys_listed(message: str, label: str) -> list[str]:
    line = next((ln for ln in message.splitlines() if label in ln), "")
    return re.findall(r'"([^"]+)"', line)


def _first_keys(keys: list[str], n: int = 3) -> str:
    return ", ".join(keys[:n]) + (f" (+{len(keys) - n} more)" if len(keys) > n else "")


def load_error_summary(exc: BaseException) -> str:
    """One line from torch's multi-line ``load_state_dict`` error: the first mismatching key with both
    shapes, and the first few missing and unexpected keys (torch's own first line names only the class)."""
    message = str(exc)
    parts = []
    mismatches = _SIZE_MISMATCH.findall(message)
    if mismatches:
        key, ckpt, model = mismatches[0]
        more = f" ({len(mismatches)} keys differ in shape)" if len(mismatches) > 1 else ""
        parts.append(f"{key} has shape ({ckpt}) in the checkpoint but ({model}) in the model{more}")
    for label, what in (("Missing key(s)", "missing from the checkpoint"),
                        ("Unexpected key(s)", "not in the model")):
        keys = _keys_listed(message, label)
        if keys:
            parts.append(f"{len(keys)} key{'s' if len(keys) > 1 else ''} {what}: {_first_keys(keys)}")
    return "; ".join(parts) if parts else _one_line(exc)


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
    """The tensors of a checkpoint, read safely: the one unwrapper of containers and prefixes.

    The first container of :data:`STATE_DICT_KEYS` is opened (``{"params_ema": ...}``, a trainer's
    ``{"params": ..., "step": ...}``), entries that are not tensors (counters, configs) are dropped,
    and the ``module.`` prefix of DataParallel is stripped.
    """
    obj = load_checkpoint_file(path)
    if isinstance(obj, Mapping):
        key = next((k for k in STATE_DICT_KEYS if isinstance(obj.get(k), Mapping)), None)
        obj = obj[key] if key else obj
    if not isinstance(obj, Mapping):
        raise UserError(f"checkpoint {path} holds a {type(obj).__name__}, not a state dict of tensors")
    tensors = {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise UserError(f"checkpoint {path} holds no tensors")
    return tensors
