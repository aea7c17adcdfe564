"""Deterministic random SRFlow weights, for tests, benchmarks and equality checks.

This is the weight procedure of ../shared/srflow/README.md: entry i of the
state dict gets its own generator seeded 1000 + i; invertible-conv matrices
are random orthogonal (Q of a QR, made contiguous), everything else Gaussian
with standard deviation ``std``. ``offset`` is added to the FlowStep ActNorm
log-scales only (procedure B uses 0.19): each step then expands a little,
which balances the coupling's average contraction, so the reverse pass stays
finite. Random weights without it give NaN samples.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

import torch

from model_zoo.srflow.model import SRFlowRestorer, srflow

FLOWSTEP_LOGS = re.compile(r"flowUpsamplerNet\.layers\.\d+\.actnorm\.logs")
B_OFFSET = 0.19


def procedure_weights(entries: Iterable[tuple[str, Sequence[int]]], std: float = 0.02,
                      offset: float = 0.0) -> dict[str, torch.Tensor]:
    """State dict for (key, shape) entries in state-dict order (procedure A; B with offset 0.19)."""
    out = {}
    for i, (key, shape) in enumerate(entries):
        g = torch.Generator().manual_seed(1000 + i)
        if key.endswith("invconv.weight"):
            w = torch.linalg.qr(torch.randn(shape, generator=g, dtype=torch.float64))[0].float().contiguous()
        else:
            w = torch.randn(shape, generator=g, dtype=torch.float32) * std
        if offset and FLOWSTEP_LOGS.fullmatch(key):
            w = w + offset
        out[key] = w
    return out


def random_srflow(scale: int = 4, std: float = 0.05, **arch) -> SRFlowRestorer:
    """An SRFlow of any size (``arch``: nf, nb, gc, taps, K, hidden...) with well-conditioned random weights."""
    model = srflow(scale, **arch)
    entries = [(k, list(v.shape)) for k, v in model.net.state_dict().items()]
    model.load_weights(procedure_weights(entries, std=std, offset=B_OFFSET))
    return model.eval()
