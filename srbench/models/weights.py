"""Checkpoint files: where a model's weights come from, hashed downloads, and the one safe checkpoint reader."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import torch

from srbench.core.errors import UserError
from srbench.files import atomic_path

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
