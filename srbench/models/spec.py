"""Model specs: the one parser of what names a model (like timm's ``parse_model_name``).

A spec is one of

- a registered name (``bicubic``, ``edsr``): its card builds it;
- ``file:PATH``: a local checkpoint, architecture detected by spandrel;
- ``hf:ORG/REPO/PATH/IN/REPO[@REVISION]``: a file of a Hugging Face Hub
  repo, downloaded into the srbench cache, then like ``file:``;
- any of these followed by defenses, ``+DEFENSE[:KEY=VALUE]...`` (``imdn+jpeg75``,
  srbench/models/defenses.py): the model behind the defenses, its weights those of the model.

Naming rule: a checkpoint model is named after its file, without directory
and extension (``file:ckpt/4x-model.pth`` and ``hf:org/repo/4x-model.safetensors``
are both ``4x-model``); a suite keeps the spec itself as the name when that
name is taken (srbench/bench/suite.py).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from srbench.core.errors import UserError, shown
from srbench.models.defenses import defense_problems, split_defenses
from srbench.models.weights import hub_download

CHECKPOINT_SOURCES = ("file", "hf")
EXTENSIONS = (".pth", ".pt", ".ckpt", ".bin", ".safetensors")


@dataclass(frozen=True)
class ModelSpec:
    text: str  # as written
    source: str  # "registry" | "file" | "hf"
    path: str = ""  # file: the local path; hf: the file's path inside the repo
    repo_id: str = ""  # hf: ORG/REPO
    revision: str | None = None  # hf: branch, tag or commit
    defenses: tuple[str, ...] = ()  # defense tokens after the model, as written (imdn+jpeg75: ("jpeg75",))

    @property
    def is_checkpoint(self) -> bool:
        """A ``file:``/``hf:`` checkpoint rather than a registered name."""
        return self.source != "registry"

    @property
    def base_text(self) -> str:
        """The spec of the model behind the defenses (the whole text when there are none)."""
        suffix = "".join("+" + d for d in self.defenses)
        return self.text[: len(self.text) - len(suffix)]

    def _with_defenses(self, text: str) -> str:
        return text + "".join("+" + d for d in self.defenses)

    def display_name(self) -> str:
        """The model's name in results: a registered name as is; a checkpoint's file name without extension."""
        if not self.is_checkpoint:
            return self.text
        name = Path(self.path.rstrip("/")).name
        for ext in EXTENSIONS:
            if name.lower().endswith(ext):
                return self._with_defenses(name[: -len(ext)] or name)
        return self._with_defenses(name)

    def canonical(self) -> str:
        """What a manifest records: ``file:`` with an absolute path; anything else as written."""
        if self.source == "file":
            return self._with_defenses("file:" + str(Path(self.path).expanduser().resolve()))
        return self.text

    def problems(self) -> list[str]:
        """What is wrong with the spec that shows without loading anything (``srbench validate``)."""
        return defense_problems(self.defenses) + self._base_problems()

    def _base_problems(self) -> list[str]:
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
    base, defenses = split_defenses(text, base_is_name=checkpoint_source(text) is None)
    return dataclasses.replace(_parse_base(base), text=text, defenses=defenses)


def checkpoint_source(text: str) -> str | None:
    """"file" or "hf" for a checkpoint spec, None for a registered name: the one test of the prefixes."""
    source, sep, _ = text.partition(":")
    return source if sep and source in CHECKPOINT_SOURCES else None


def _parse_base(text: str) -> ModelSpec:
    """A spec without defenses."""
    source = checkpoint_source(text)
    if source is None:
        return ModelSpec(text, "registry")
    body = text.partition(":")[2]
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


def weights_through_defenses(models: list[str], weights: dict[str, str]) -> dict[str, str]:
    """``weights`` plus, for each defended model without an entry of its own, its base model's file:
    ``imdn+jpeg75`` loads the checkpoint given for ``imdn``."""
    inherited = {}
    for model in models:
        base = parse_model_spec(model).base_text
        if model not in weights and base != model and base in weights:
            inherited[model] = weights[base]
    return {**weights, **inherited}
