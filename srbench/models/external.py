"""Checkpoints whose architecture spandrel detects: ``file:``/``hf:`` models and spandrel-detected cards.

The architecture and its hyper-parameters are detected from the state dict
by `spandrel <https://github.com/chaiNNer-org/spandrel>`_ (ESRGAN/RRDBNet,
Real-ESRGAN Compact, SPAN, SwinIR, HAT, RCAN, ... - ``spandrel.MAIN_REGISTRY``
lists them). Checkpoints are read by the one safe reader
(:func:`srbench.models.weights.read_state_dict`); the network is wrapped as a
deterministic :class:`~srbench.core.restorer.Restorer` with the detected scale.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
from torch.nn import functional as F

from srbench.core.errors import UserError
from srbench.core.restorer import DeterministicRestorer, Restorer, Z
from srbench.models.card import ModelCard
from srbench.models.spec import ModelSpec
from srbench.models.weights import Weights, load_error_summary, read_state_dict


def describe(state_dict: Mapping[str, torch.Tensor], label: str):
    """spandrel's ModelDescriptor for the state dict, or a UserError saying why it cannot be used."""
    import spandrel

    try:
        desc = spandrel.ModelLoader().load_from_state_dict(spandrel.canonicalize_state_dict(dict(state_dict)))
    except spandrel.UnsupportedModelError:
        raise UserError(f"{label}: spandrel {spandrel.__version__} does not recognise this architecture "
                        f"(it knows {len(spandrel.MAIN_REGISTRY.architectures())} SR/restoration architectures, "
                        f"e.g. ESRGAN, Compact, SPAN, SwinIR, HAT, RCAN); register the model with "
                        f"srbench.register_model instead (docs/adding-a-model.md)") from None
    except Exception as exc:
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
        super().__init__(descriptor.model.float(), name=name, scale=int(descriptor.scale))
        self.arch = descriptor.architecture.name
        self._size_requirements = descriptor.size_requirements
        self._call_fn = getattr(descriptor, "_call_fn", None) or (lambda model, image: model(image))

    def restore(self, y: torch.Tensor, z: Z = None) -> torch.Tensor:
        h, w = y.shape[-2:]
        out = self._call_fn(self.net, _pad(y, self._size_requirements))
        return out[..., : h * self.scale, : w * self.scale].clamp(0, 1)


class DetectedRestorer(Restorer):
    """A model whose network spandrel builds from the checkpoint (DITN, CRAFT, SwiftSRGAN, any ``file:``/``hf:``).

    The layout is read from the weights, so the network exists only after
    ``load_weights``; ``architecture`` names the architecture it must be
    (spandrel's id, e.g. ``"DITN"``) and ``scale`` its scale, so a wrong file
    is refused instead of benchmarked under the card's name. Loading is strict (all keys).
    """

    def __init__(self, architecture: str, scale: int):
        super().__init__()
        self.architecture, self.scale = architecture, scale
        self.model: SpandrelRestorer | None = None

    def load_weights(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        desc = describe(state_dict, f"weights of model {self.name!r}")
        if str(desc.architecture.id) != self.architecture or desc.scale != self.scale:
            raise UserError(f"weights of model {self.name!r} hold a x{desc.scale} {desc.architecture.name} "
                            f"network, but the card expects a x{self.scale} {self.architecture}; "
                            f"check the file given for it")
        self.model = SpandrelRestorer(desc, self.name)

    @property
    def arch(self) -> str:
        """The architecture's display name (``RealESRGAN Compact``), once the weights are loaded."""
        return self.model.arch if self.model is not None else self.architecture

    def restore(self, y: torch.Tensor, z: Z = None) -> torch.Tensor:
        if self.model is None:
            raise UserError(f"model {self.name!r} has no weights loaded; build it with srbench.load_model")
        return self.model.restore(y)


def detected(architecture: str, scale: int) -> DetectedRestorer:
    """Builder for cards of spandrel-detected architectures: ``build="srbench.models.external:detected"``."""
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


def checkpoint_card(spec: ModelSpec, path: Path) -> ModelCard:
    """The card of a ``file:``/``hf:`` checkpoint (read once here to detect its architecture and scale).

    Its weights are the file itself, so ``card.load(weights=path)`` builds the model.
    """
    desc = describe(read_state_dict(path), f"model {spec.text!r}")
    return ModelCard(name=spec.display_name(), build=detected, scale=int(desc.scale),
                     arch={"architecture": str(desc.architecture.id), "scale": int(desc.scale)},
                     weights=Weights(file=path.name, how_to_get=f"the checkpoint {spec.canonical()}"),
                     source=spec.canonical(),
                     description=f"{desc.architecture.name} ({', '.join(desc.tags)}) loaded by spandrel")
