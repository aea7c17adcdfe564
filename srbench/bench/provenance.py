"""What produced a result: versions, device and time, recorded in every row and manifest."""
from __future__ import annotations

import datetime as dt
import platform
from typing import Any

import torch

import srbench


def environment(device: torch.device) -> dict[str, Any]:
    """srbench, torch and Python versions and the device a run computes on."""
    return {
        "srbench_version": srbench.__version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
    }


def utc_now() -> str:
    """The current time in UTC, to the second, ISO 8601 (what rows, manifests and error records carry)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
