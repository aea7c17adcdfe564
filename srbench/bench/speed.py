"""Speed options of a run: channels-last memory format, bf16 autocast, TF32 and torch.compile.

Each option wraps the restorer (or sets a backend flag) without touching the
model's code, and every result row records which were on. ``benchmarks/perf.py``
measures the speedup of each and the largest change it causes in
``adv_output_psnr``; docs/performance.md lists which are exact.

- ``channels_last``: weights and inputs in NHWC layout (faster convolutions on
  tensor-core GPUs and oneDNN CPUs). Exact up to float reassociation.
- ``amp="bf16"``: the restorer runs under ``torch.autocast`` in bfloat16; its
  output is cast back to float32. Meant for GPUs (on a CPU without AMX it is
  slower). Inexact: bfloat16 keeps 8 bits of mantissa.
- ``tf32``: TensorFloat-32 matmuls and convolutions on Ampere+ GPUs (a no-op on
  CPUs). Inexact in principle: TF32 keeps 10 bits of mantissa.
- ``compile``: ``torch.compile`` of the restore function (first call compiles).
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Mapping

import torch

from srbench.core.errors import UserError, shown
from srbench.core.restorer import Restorer, Z

AMP_CHOICES = ("bf16",)


@dataclasses.dataclass(frozen=True)
class SpeedOptions:
    channels_last: bool = False
    amp: str | None = None  # None | "bf16"
    tf32: bool = False
    compile: bool = False

    def __post_init__(self):
        if self.amp not in (None, *AMP_CHOICES):
            raise UserError(f"{{amp}} takes {', '.join(AMP_CHOICES)}, got {shown(self.amp)}", {"amp": ""})

    @classmethod
    def from_suite(cls, suite: Any) -> "SpeedOptions":
        amp = getattr(suite, "amp", None)
        return cls(channels_last=bool(getattr(suite, "channels_last", False)), amp=None if amp == "none" else amp,
                   tf32=bool(getattr(suite, "tf32", False)), compile=bool(getattr(suite, "compile", False)))

    def record(self) -> dict[str, Any]:
        """What goes into every result row and the manifest."""
        return dataclasses.asdict(self)


def set_tf32(enabled: bool) -> None:
    """Turn TF32 matmuls/convolutions on or off for CUDA (process-wide; no-op on CPU)."""
    precision = "tf32" if enabled else "ieee"
    try:
        torch.backends.cuda.matmul.fp32_precision = precision
        torch.backends.cudnn.conv.fp32_precision = precision
    except (AttributeError, RuntimeError):  # older torch
        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled


class SpeedRestorer(Restorer):
    """A restorer run with speed options; same interface, same z semantics."""

    def __init__(self, inner: Restorer, options: SpeedOptions):
        super().__init__()
        self.inner = inner
        self.options = options
        if options.channels_last:
            inner.to(memory_format=torch.channels_last)
        self._fn = torch.compile(inner.restore) if options.compile else inner.restore

    # the wrapped model's identity, read through (never copied)
    name = property(lambda self: self.inner.name)
    scale = property(lambda self: self.inner.scale)
    stochastic = property(lambda self: self.inner.stochastic)
    weights_sha256 = property(lambda self: self.inner.weights_sha256)
    model_options = property(lambda self: self.inner.model_options)

    def _autocast(self, device: torch.device):
        if self.options.amp == "bf16":
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def restore(self, y: torch.Tensor, z: Z = None) -> torch.Tensor:
        if self.options.channels_last and y.dim() == 4:
            y = y.contiguous(memory_format=torch.channels_last)
        with self._autocast(y.device):
            out = self._fn(y, z)
        return out.to(y.dtype)

    def sample_z(self, y: torch.Tensor, n: int = 1, generator: torch.Generator | None = None) -> Z:
        return self.inner.sample_z(y, n, generator)

    def load_weights(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        self.inner.load_weights(state_dict)


def apply_speed(restorer: Restorer, options: SpeedOptions) -> Restorer:
    """The restorer with ``options`` applied (the same object when none is on)."""
    set_tf32(options.tf32)
    if not (options.channels_last or options.amp or options.compile):
        return restorer
    return SpeedRestorer(restorer, options)
