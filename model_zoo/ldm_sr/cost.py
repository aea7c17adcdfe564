"""What one attack step through the sampling chain costs: a tensor-memory counter, RSS probes, FLOPs.

Shared by tests/test_diffusion.py and benchmarks/diffusion_cost.py, so the
number a test asserts on is the number the benchmark reports.

- ``LiveTensorBytes``: a dispatch mode that adds up the bytes of every tensor
  storage the operations inside it allocate, minus those freed, and keeps the
  peak. It sees exactly what autograd keeps alive between the forward and the
  backward pass, with no allocator noise, on any device (also ``meta``).
- ``rss_peaks``: the process's resident-memory high-water mark above its level
  before one attack step (Linux: VmHWM, reset through /proc/self/clear_refs),
  what a user actually pays, allocator and Python objects included. Run it in a
  fresh process per configuration (``python -m model_zoo.ldm_sr.cost JSON``).
"""
from __future__ import annotations

import ctypes
import gc
import json
import sys
import time
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from srbench.attacks import seed_averaged_grad


def _storages(values) -> list[torch.UntypedStorage]:
    return [v.untyped_storage() for v in tree_flatten(values)[0] if isinstance(v, torch.Tensor)]


class LiveTensorBytes(TorchDispatchMode):
    """Peak bytes of the tensor storages allocated inside the ``with`` block (views and in-place results
    of existing tensors are not new storage and are not counted)."""

    def __init__(self):
        super().__init__()
        self.live = self.peak = 0
        self._tracked: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        inputs = {s._cdata for s in _storages((args, kwargs))}
        out = func(*args, **(kwargs or {}))
        for storage in _storages(out):
            key = storage._cdata
            if key in inputs or key in self._tracked or storage.nbytes() == 0:
                continue
            self._tracked.add(key)
            self.live += storage.nbytes()
            self.peak = max(self.peak, self.live)
            storage._ldm_cost_finalizer = _Release(self, key, storage.nbytes())  # runs when the storage dies
        return out


class _Release:
    """Takes a storage's bytes off the counter when the storage is freed (held by the storage itself)."""

    def __init__(self, counter: LiveTensorBytes, key: int, nbytes: int):
        self.counter, self.key, self.nbytes = counter, key, nbytes

    def __del__(self):
        self.counter.live -= self.nbytes
        self.counter._tracked.discard(self.key)


def attack_step(model, y: torch.Tensor, target: torch.Tensor, z: Any) -> torch.Tensor:
    """One seed-averaged I-FGSM gradient, exactly as the attacks take it (all seeds in one batch)."""
    return seed_averaged_grad(model, y, target, z)[0]


def tensor_peak(model, y: torch.Tensor, target: torch.Tensor, z: Any) -> int:
    """Peak bytes of the tensors one attack step allocates (weights, inputs and z not included)."""
    with LiveTensorBytes() as counter:
        attack_step(model, y, target, z)
    return counter.peak


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss_peaks(size: str, side: int, steps: list[int], checkpointing: bool, seeds: int = 1,
              repeats: int = 1) -> list[dict[str, float]]:
    """For each T in ``steps`` (ascending): RSS peak above the level before one attack step, and its time.

    A warm-up step first, then the C heap trimmed and VmHWM reset before each measured step, so
    each T is measured on its own. Linux only.
    """
    from model_zoo.ldm_sr.random_weights import SIZES, random_ldm_sr

    trim = getattr(ctypes.CDLL("libc.so.6"), "malloc_trim", None)
    out = []
    for t in steps:
        model = random_ldm_sr(SIZES[size], steps=t, checkpointing=checkpointing)
        g = torch.Generator().manual_seed(0)
        y = torch.rand(1, 3, side, side, generator=g)
        target = torch.rand(1, 3, side * model.scale, side * model.scale, generator=g)
        z = model.sample_z(y, seeds, g)
        attack_step(model, y, target, z)  # warm-up: lazy initialisation is not the step's cost
        peaks, times = [], []
        for _ in range(repeats):
            gc.collect()
            if trim is not None:
                trim(0)
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # VmHWM := VmRSS
            base = _status_bytes("VmRSS:")
            t0 = time.perf_counter()
            attack_step(model, y, target, z)
            times.append(time.perf_counter() - t0)
            peaks.append(_status_bytes("VmHWM:") - base)
        out.append({"steps": t, "rss_peak_bytes": max(peaks), "seconds": sorted(times)[len(times) // 2]})
    return out


def main() -> None:
    """``python -m model_zoo.ldm_sr.cost '{"size": "tiny", "side": 32, "steps": [2, 8], "checkpointing": true}'``
    prints ``rss_peaks(**spec)`` as JSON on its last line."""
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec.pop("threads", 1))
    print(json.dumps(rss_peaks(**spec)))


if __name__ == "__main__":
    main()
