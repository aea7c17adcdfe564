"""Any SR checkpoint a user already has: ``file:PATH`` and ``hf:ORG/REPO/FILE[@REVISION]`` model specs.

The architecture and its hyper-parameters are detected from the state dict
by `spandrel <https://github.com/chaiNNer-org/spandrel>`_ (ESRGAN/RRDBNet,
Real-ESRGAN Compact, SPAN, SwinIR, HAT, RCAN, ... - ``spandrel.MAIN_REGISTRY``
lists them). Checkpoints are read safely: ``.safetensors`` with safetensors,
``.pth``/``.pt``/``.ckpt`` with ``torch.load(weights_only=True)``; a file that
needs arbitrary unpickling is refused. The model is wrapped as a deterministic
:class:`~srbench.restorer.Restorer` with the detected scale.

Naming rule: in suites and results the model is named after the file, without
directory and extension: ``file:ckpt/4x-model.pth`` and
``hf:org/repo/4x-model.safetensors`` are both ``4x-model``. If that name is
taken by a registered model or by another model of the same suite, the spec
itself is kept as the name. The resolved spec is recorded in the suite's
``weights`` mapping (name -> spec), so the run manifest says which file was used.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import torch
from torch.nn import functional as F

from srbench.errors import UserError
from srbench.restorer import DeterministicRestorer, Restorer, Z

PREFIXES = ("file:", "hf:")
EXTENSIONS = (".pth", ".pt", ".ckpt", ".bin", ".safetensors")


def is_spec(name: Any) -> bool:
    """True for ``file:...`` and ``hf:...`` model specs."""
    return isinstance(name, str) and name.startswith(PREFIXES)


def display_name(spec: str) -> str:
    """The model's name in results: the file name without directory and extension."""
    body = spec.split(":", 1)[1]
    if spec.startswith("hf:") and "@" in body:
        body = body.rsplit("@", 1)[0]
    name = Path(body.rstrip("/")).name
    for ext in EXTENSIONS:
        if name.lower().endswith(ext):
            return name[: -len(ext)] or name
    return name


def _parse_hf(spec: str) -> tuple[str, str, str | None]:
    """``hf:ORG/REPO/PATH/IN/REPO[@REVISION]`` -> (repo_id, filename, revision)."""
    body = spec[len("hf:"):]
    revision = None
    if "@" in body:
        body, revision = body.rsplit("@", 1)
    parts = [p for p in body.split("/") if p]
    if len(parts) < 3:
        raise UserError(f"model spec {spec!r} must look like hf:ORG/REPO/FILE (e.g. hf:org/repo/4x-model.pth)")
    return "/".join(parts[:2]), "/".join(parts[2:]), revision


def spec_problems(spec: str) -> list[str]:
    """Problems visible without loading anything (used by ``srbench validate``)."""
    if spec.startswith("file:"):
        path = Path(spec[len("file:"):]).expanduser()
        if not path.is_file():
            return [f"model {spec!r}: no such file {path}"]
        if path.suffix.lower() not in EXTENSIONS:
            return [f"model {spec!r}: unsupported file type {path.suffix or '(none)'}; "
                    f"use {', '.join(EXTENSIONS)}"]
        return []
    try:
        _, filename, _ = _parse_hf(spec)
    except UserError as exc:
        return [str(exc)]
    if Path(filename).suffix.lower() not in EXTENSIONS:
        return [f"model {spec!r}: unsupported file type {Path(filename).suffix or '(none)'}; "
                f"use {', '.join(EXTENSIONS)}"]
    return []


def resolve_path(spec: str) -> Path:
    """A local checkpoint for the spec (downloading ``hf:`` files into the srbench cache)."""
    problems = spec_problems(spec)
    if problems:
        raise UserError(problems[0])
    if spec.startswith("file:"):
        return Path(spec[len("file:"):]).expanduser().resolve()
    from srbench.zoo import cache_dir

    repo_id, filename, revision = _parse_hf(spec)
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id=repo_id, filename=filename, revision=revision,
                                    cache_dir=str(cache_dir() / "hf")))
    except Exception as exc:  # offline, missing repo or file, auth: huggingface_hub has many error types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UserError(f"cannot download {spec!r} from the Hugging Face Hub ({exc.__class__.__name__}"
                        f"{': ' + first if first else ''}); check the name and your connection, or download "
                        f"the file yourself and use file:PATH") from None


def canonical_spec(spec: str) -> str:
    """``file:`` specs with an absolute path (what the manifest records); ``hf:`` specs unchanged."""
    if spec.startswith("file:"):
        return "file:" + str(Path(spec[len("file:"):]).expanduser().resolve())
    return spec


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict of tensors, read without arbitrary unpickling, containers unwrapped."""
    import spandrel

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in EXTENSIONS:
        raise UserError(f"cannot load {path.name}: unsupported file type {ext or '(none)'}; "
                        f"use {', '.join(EXTENSIONS)}")
    from srbench.zoo import load_checkpoint_file

    obj = load_checkpoint_file(path)
    if isinstance(obj, Mapping):
        for key in ("params_ema", "params", "state_dict", "model", "net_g", "generator"):
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping):
        raise UserError(f"checkpoint {path.name} holds a {type(obj).__name__}, not a state dict")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise UserError(f"checkpoint {path.name} holds no tensors")
    return spandrel.canonicalize_state_dict(tensors)


def describe(state_dict: Mapping[str, torch.Tensor], label: str):
    """spandrel's ModelDescriptor for the state dict, or a UserError saying why it cannot be used."""
    import spandrel

    try:
        desc = spandrel.ModelLoader().load_from_state_dict(dict(state_dict))
    except spandrel.UnsupportedModelError:
        raise UserError(f"{label}: spandrel {spandrel.__version__} does not recognise this architecture "
                        f"(it knows {len(spandrel.MAIN_REGISTRY.architectures())} SR/restoration architectures, "
                        f"e.g. ESRGAN, Compact, SPAN, SwinIR, HAT, RCAN); register the model with "
                        f"srbench.register_model instead (docs/adding-a-model.md)") from None
    except Exception as exc:
        from srbench.zoo import load_error_summary

        raise UserError(f"{label}: spandrel recognised the file but could not build the model from it: "
                        f"{load_error_summary(exc)}") from None
    arch = desc.architecture.name
    if not isinstance(desc, spandrel.ImageModelDescriptor) or desc.purpose != "SR":
        raise UserError(f"{label} is a {arch} model for {desc.purpose} at x{desc.scale}, not super-resolution; "
                        f"srbench benchmarks SR models (spandrel purpose 'SR', scale >= 2)")
    if desc.input_channels != 3 or desc.output_channels != 3:
        raise UserError(f"{label} is a {arch} model with {desc.input_channels} input and {desc.output_channels} "
                        f"output channels; srbench benchmarks RGB models (3 -> 3)")
    return desc


class SpandrelRestorer(DeterministicRestorer):
    """A spandrel model as a pure, differentiable ``restore(y)``.

    Unlike spandrel's own ``__call__`` (which runs under ``inference_mode``),
    gradients flow to the input, so attacks work. Inputs are padded to the
    architecture's size requirements and the output is cropped back.
    """

    def __init__(self, descriptor, name: str):
        super().__init__(descriptor.model, name=name, scale=int(descriptor.scale))
        self.arch = descriptor.architecture.name
        self.arch_id = str(descriptor.architecture.id)
        self.tags = list(descriptor.tags)
        self._size_requirements = descriptor.size_requirements
        self._call_fn = getattr(descriptor, "_call_fn", None) or (lambda model, image: model(image))

    def restore(self, y: torch.Tensor, z: Z = None) -> torch.Tensor:
        h, w = y.shape[-2:]
        out = self._call_fn(self.net, _pad(y, self._size_requirements))
        return out[..., : h * self.scale, : w * self.scale].clamp(0, 1)


class DetectedRestorer(Restorer):
    """A model card whose network spandrel builds from the checkpoint (DITN, CRAFT, SwiftSRGAN, ...).

    The layout is read from the weights, so the network exists only after
    ``load_weights``; the card's ``arch`` names the architecture it must be
    (spandrel's id, e.g. ``"DITN"``) and its scale, so a wrong file is refused
    instead of benchmarked under the card's name. Loading is strict (all keys).
    """

    def __init__(self, architecture: str, scale: int):
        super().__init__()
        self.architecture, self.scale = architecture, scale
        self.model: SpandrelRestorer | None = None

    def load_weights(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        import spandrel

        desc = describe(spandrel.canonicalize_state_dict(dict(state_dict)), f"weights of model {self.name!r}")
        if str(desc.architecture.id) != self.architecture or desc.scale != self.scale:
            raise UserError(f"weights of model {self.name!r} hold a x{desc.scale} {desc.architecture.name} "
                            f"network, but the card expects a x{self.scale} {self.architecture}; "
                            f"check the file given for it")
        self.model = SpandrelRestorer(desc, self.name)

    def restore(self, y: torch.Tensor, z: Z = None) -> torch.Tensor:
        if self.model is None:
            raise UserError(f"model {self.name!r} has no weights loaded; build it with srbench.load_model")
        return self.model.restore(y)


def detected(architecture: str, scale: int) -> DetectedRestorer:
    """Builder for cards of spandrel-detected architectures: ``build="srbench.external:detected"``."""
    return DetectedRestorer(architecture, scale)


def _pad(x: torch.Tensor, req) -> torch.Tensor:
    """spandrel's padding rule (reflect, then replicate beyond size - 1), differentiable."""
    h, w = x.shape[-2:]
    pad_w, pad_h = req.get_padding(w, h)
    if not (pad_w or pad_h):
        return x
    rw, rh = min(pad_w, w - 1), min(pad_h, h - 1)
    x = F.pad(x, (0, rw, 0, rh), mode="reflect")
    if pad_w - rw or pad_h - rh:
        x = F.pad(x, (0, pad_w - rw, 0, pad_h - rh), mode="replicate")
    return x


def load_external(spec: str, name: str | None = None, device: str | torch.device | None = None,
                  scale: int | None = None) -> SpandrelRestorer:
    """Load a ``file:``/``hf:`` checkpoint through spandrel as an eval-mode, frozen restorer."""
    from srbench.restorer import resolve_device
    from srbench.zoo import sha256_of

    name = name or display_name(spec)
    path = resolve_path(spec)
    desc = describe(read_checkpoint(path), f"model {spec!r}")
    if scale is not None and scale != desc.scale:
        raise UserError(f"model {spec!r} is a x{desc.scale} {desc.architecture.name} model, but the run asks for "
                        f"x{scale}; use --scale {desc.scale}")
    restorer = SpandrelRestorer(desc, name)
    restorer.weights_sha256 = sha256_of(path)
    restorer.spec = canonical_spec(spec)
    restorer.requires_grad_(False)
    return restorer.float().eval().to(resolve_device(device))


def external_card(spec: str):
    """A :class:`~srbench.zoo.ModelCard` describing the checkpoint (loads it to detect the architecture)."""
    from srbench.zoo import ModelCard

    path = resolve_path(spec)
    desc = describe(read_checkpoint(path), f"model {spec!r}")
    return ModelCard(name=display_name(spec), build=lambda **_: load_external(spec), scale=int(desc.scale),
                     source=canonical_spec(spec),
                     description=f"{desc.architecture.name} ({', '.join(desc.tags)}) loaded by spandrel")


def normalize_models(raw: dict[str, Any], taken: set[str] | None = None) -> dict[str, Any]:
    """Replace ``file:``/``hf:`` entries of a raw suite by their display names, recording the specs in weights.

    ``models: [file:ckpt/4x-model.pth]`` becomes ``models: [4x-model]`` with
    ``weights: {4x-model: file:/abs/ckpt/4x-model.pth}`` (see the naming rule above).
    """
    from srbench.models import MODELS
    from srbench.suite import _as_list

    models = _as_list(raw.get("models", []))
    if not any(is_spec(m) for m in models):
        return raw
    taken = set(taken if taken is not None else MODELS.names())
    taken |= {m for m in models if not is_spec(m)}
    weights = dict(raw.get("weights") or {})
    out: list[str] = []
    renamed: dict[str, str] = {}
    for m in models:
        if not is_spec(m):
            out.append(m)
            continue
        name = display_name(m)
        if name in taken or name in out:
            name = m
        taken.add(name)
        weights[name] = canonical_spec(m)
        out.append(name)
        renamed[m] = name
    result = {**raw, "models": out, "weights": weights}
    if isinstance(raw.get("name"), str):  # a run named after its --models must not hold paths
        run_name = raw["name"]
        for spec, name in renamed.items():
            run_name = run_name.replace(spec, name)
        result["name"] = run_name.replace("/", "_").replace(":", "_")
    return result
