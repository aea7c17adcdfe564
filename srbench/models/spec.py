"""Model specs: the one parser of what names a model (like timm's ``parse_model_name``).

A spec is one of

- a registered name (``bicubic``, ``edsr``): its card builds it;
- ``file:PATH``: a local checkpoint, architecture detected by spandrel;
- ``hf:ORG/REPO/PATH/IN/REPO[@REVISION]``: a file of a Hugging Face Hub
  repo, downloaded into the srbench cache, then like ``file:``.

Naming rule: a checkpoint model is named after its file, without directory
and extension (``file:ckpt/4x-model.pth`` and ``hf:org/repo/4x-model.safetensors``
are both ``4x-model``); a suite keeps the spec itself as the name when that
name is taken (srbench/suite.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from srbench.errors import UserError, shown
from srbench.zoo import hub_download

CHECKPOINT_SOURCES = ("file", "hf")
EXTENSIONS = (".pth", ".pt", ".ckpt", ".bin", ".safetensors")


@dataclass(frozen=True)
class ModelSpec:
    text: str  # as written
    source: str  # "registry" | "file" | "hf"
    path: str = ""  # file: the local path; hf: the file's path inside the repo
    repo_id: str = ""  # hf: ORG/REPO
    revision: str | None = None  # hf: branch, tag or commit

    @property
    def is_checkpoint(self) -> bool:
        """A ``file:``/``hf:`` checkpoint rather than a registered name."""
        return self.source != "registry"

    def display_name(self) -> str:
        """The model's name in results: a registered name as is; a checkpoint's file name without extension."""
        if not self.is_checkpoint:
            return self.text
        name = Path(self.path.rstrip("/")).name
        for ext in EXTENSIONS:
            if name.lower().endswith(ext):
                return name[: -len(ext)] or name
        return name

    def canonical(self) -> str:
        """What a manifest records: ``file:`` with an absolute path; anything else as written."""
        if self.source == "file":
            return "file:" + str(Path(self.path).expanduser().resolve())
        return self.text

    def problems(self) -> list[str]:
        """What is wrong with the spec that shows without loading anything (``srbench validate``)."""
        if self.source == "file":
            path = Path(self.path).expanduser()
            if not path.is_file():
                return [f"model {shown(self.text)}: no such file {path}"]
            suffix = path.suffix
        elif self.source == "hf":
            if not self.repo_id or not self.path:
                return [f"model spec {shown(self.text)} must look like hf:ORG/REPO/FILE (e.g. hf:org/repo/4x-model.pth)"]
            suffix = Path(self.path).suffix
        else:
            return []
        if suffix.lower() not in EXTENSIONS:
            return [f"model {shown(self.text)}: unsupported file type {suffix or '(none)'}; use {', '.join(EXTENSIONS)}"]
        return []

    def local_path(self) -> Path:
        """The checkpoint on this machine (``hf:`` files are downloaded into the srbench cache first)."""
        if not self.is_checkpoint:
            raise ValueError(f"{self.text!r} is a registered model name, not a checkpoint")
        problems = self.problems()
        if problems:
            raise UserError(problems[0])
        if self.source == "file":
            return Path(self.path).expanduser().resolve()
        try:
            return hub_download(self.repo_id, self.path, revision=self.revision)
        except UserError as exc:
            raise UserError(f"{exc}; check the name and your connection, or download the file yourself "
                            f"and use file:PATH") from None


def parse_model_spec(text: str) -> ModelSpec:
    """Split a model spec into its parts; a malformed ``hf:`` spec parses, and :meth:`ModelSpec.problems` says why."""
    source, sep, body = text.partition(":")
    if not sep or source not in CHECKPOINT_SOURCES:
        return ModelSpec(text, "registry")
    if source == "file":
        return ModelSpec(text, "file", path=body)
    revision = None
    if "@" in body:
        body, revision = body.rsplit("@", 1)
    parts = [p for p in body.split("/") if p]
    if len(parts) < 3:
        return ModelSpec(text, "hf", revision=revision)
    return ModelSpec(text, "hf", path="/".join(parts[2:]), repo_id="/".join(parts[:2]), revision=revision)


def is_checkpoint_spec(value: object) -> bool:
    """True for ``file:...`` and ``hf:...`` strings (checkpoint models), False for anything else."""
    return isinstance(value, str) and parse_model_spec(value).is_checkpoint
