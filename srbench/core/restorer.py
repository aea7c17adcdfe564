"""The Restorer interface every model implements, and the batching helpers.

A restorer is a pure, differentiable function ``restore(y, z)``: the same z
gives the same output. That is what makes same-seed robustness (Eq. 6/9 of
Ohayon et al. 2023) and reproducible runs possible.

Seeds of a stochastic model are batched *seed-major*: for a batch y of B
images and n draws, ``sample_z(y, n, g)`` returns z whose leading dimension is
n*B, matching ``repeat_seeds(y, n)`` (row k*B + b is draw k of image b). A z is
a tensor, or a list/tuple/dict of tensors with that leading dimension, so
``slice_z`` can cut any seed chunk without knowing the model.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from srbench.core.errors import UserError, shown

Z = Any  # None | Tensor | Sequence[Tensor] | Mapping[str, Tensor]

# Seeds per image for a stochastic model when nothing says otherwise: the attacks' expectation over
# seeds (EoT), the same-seed robustness of Eq. 9 and the GAN tables (paper 1) all use 10.
DEFAULT_N_SEEDS = 10


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``auto`` (or None): the GPU when one is visible, else the CPU; a CUDA device that is not there is a UserError."""
    if device is None or device in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UserError(f"unknown {{device}} {shown(device)}; use auto, cpu, cuda or cuda:N", {"device": ""}) from None
    if dev.type not in ("cpu", "cuda"):
        raise UserError(f"unknown {{device}} {shown(device)}; use auto, cpu, cuda or cuda:N", {"device": ""})
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError("{device} was asked for, but no CUDA GPU is visible; use the CPU (cpu) instead",
                        {"device": str(device)})
    return dev


class Restorer(nn.Module):
    """Base class: wraps a network ``self.net`` that maps LR [0,1] to HR.

    A restorer built by its card (:meth:`srbench.models.card.ModelCard.load`) carries the card's ``name`` and the
    ``weights_sha256`` of the checkpoint it loaded (None: no weights); its builder sets ``scale`` and
    ``stochastic``, which the card checks.
    """

    name: str = "restorer"
    scale: int = 1
    stochastic: bool = False
    weights_sha256: str | None = None

    @property
    def model_options(self) -> dict[str, Any]:
        """Options besides the weights that change the outputs (a diffusion sampler's steps and eta):
        recorded in every result row, so a number is never read without them. Empty for most models."""
        return {}

    def restore(self, y: torch.Tensor, z: Z = None) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, y: torch.Tensor, z: Z = None) -> torch.Tensor:
        return self.restore(y, z)

    def sample_z(self, y: torch.Tensor, n: int = 1, generator: torch.Generator | None = None) -> Z:
        """Seeds for n draws per input (seed-major); None for deterministic models."""
        return None

    def load_weights(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Load an official checkpoint's state dict (already unwrapped) strictly."""
        self.net.load_state_dict(state_dict, strict=True)

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")


class DeterministicRestorer(Restorer):
    """A feed-forward SR network; output clamped to [0, 1]."""

    def __init__(self, net: nn.Module, name: str, scale: int):
        super().__init__()
        self.net = net
        self.name = name
        self.scale = scale
        self.stochastic = False

    def restore(self, y: torch.Tensor, z: Z = None) -> torch.Tensor:
        return self.net(y).clamp(0, 1)


def checkpointed(fn, *args):
    """fn(*args) without keeping its activations: they are recomputed in the backward pass. For passes
    that are deterministic given their inputs (a diffusion step, a deterministic model), so no RNG
    state needs saving."""
    return checkpoint(fn, *args, use_reentrant=False, preserve_rng_state=False)


def repeat_seeds(y: torch.Tensor, n: int) -> torch.Tensor:
    """Batch y once per seed, seed-major (B*n rows), to pair with ``sample_z(y, n)``."""
    return y.repeat(n, *([1] * (y.dim() - 1))) if n > 1 else y


def slice_z(z: Z, start: int, stop: int) -> Z:
    """Rows [start, stop) of every tensor in z (z's structure is kept)."""
    if z is None:
        return None
    if isinstance(z, torch.Tensor):
        return z[start:stop]
    if isinstance(z, Mapping):
        return {k: slice_z(v, start, stop) for k, v in z.items()}
    if isinstance(z, Sequence):
        return type(z)(slice_z(v, start, stop) for v in z)
    raise TypeError(f"cannot slice z of type {type(z).__name__}")


def z_to(z: Z, device: torch.device | str) -> Z:
    if z is None:
        return None
    if isinstance(z, torch.Tensor):
        return z.to(device)
    if isinstance(z, Mapping):
        return {k: z_to(v, device) for k, v in z.items()}
    return type(z)(z_to(v, device) for v in z)


def batch_size_of_z(z: Z) -> int:
    if isinstance(z, torch.Tensor):
        return z.shape[0]
    if isinstance(z, Mapping):
        return batch_size_of_z(next(iter(z.values())))
    return batch_size_of_z(z[0])


def chunked_restore(restorer: Restorer, y: torch.Tensor, z: Z, n: int, chunk: int | None) -> torch.Tensor:
    """restore(repeat_seeds(y, n), z) computed in seed chunks of ``chunk`` seeds (no grad)."""
    b = y.shape[0]
    if z is None or not chunk or chunk >= n:
        return restorer.restore(repeat_seeds(y, n), z)
    outs = []
    for k0 in range(0, n, chunk):
        k1 = min(n, k0 + chunk)
        outs.append(restorer.restore(repeat_seeds(y, k1 - k0), slice_z(z, k0 * b, k1 * b)))
    return torch.cat(outs, 0)


def merge_z(zs: Sequence[Z], n: int) -> Z:
    """Join per-image z's (each n rows) into one seed-major z for the batch (n*B rows)."""
    first = zs[0]
    if first is None:
        return None
    if isinstance(first, torch.Tensor):
        stacked = torch.stack(list(zs), 1)  # n x B x ...
        return stacked.reshape(n * len(zs), *stacked.shape[2:])
    if isinstance(first, Mapping):
        return {k: merge_z([z[k] for z in zs], n) for k in first}
    return type(first)(merge_z([z[i] for z in zs], n) for i in range(len(first)))
