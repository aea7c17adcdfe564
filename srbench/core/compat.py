"""The one place that imports basicsr.

basicsr 1.4.2 imports ``torchvision.transforms.functional_tensor``, which
torchvision removed; alias it to ``torchvision.transforms.functional`` before
basicsr is imported. Import basicsr architectures through this module only.
"""
from __future__ import annotations

import sys


def _alias_functional_tensor() -> None:
    if "torchvision.transforms.functional_tensor" not in sys.modules:
        import torchvision.transforms.functional as functional

        sys.modules["torchvision.transforms.functional_tensor"] = functional


def basicsr_arch(name: str):
    """Return an architecture class from ``basicsr.archs`` (e.g. "RRDBNet", "EDSR")."""
    _alias_functional_tensor()
    from basicsr.archs import edsr_arch, rrdbnet_arch

    for module in (rrdbnet_arch, edsr_arch):
        if hasattr(module, name):
            return getattr(module, name)
    raise KeyError(f"basicsr architecture {name!r} is not wired into srbench.core.compat")


def basicsr_matlab_imresize():
    """basicsr's MATLAB-compatible imresize (used as an independent cross-check)."""
    _alias_functional_tensor()
    from basicsr.utils.matlab_functions import imresize

    return imresize


def basicsr_niqe():
    """basicsr's ``calculate_niqe`` (parameters ship in the package: works offline)."""
    _alias_functional_tensor()
    from basicsr.metrics.niqe import calculate_niqe

    return calculate_niqe


def basicsr_psnr_ssim():
    """basicsr's ``calculate_psnr`` and ``calculate_ssim`` (the scoring of BasicSR-evaluated papers)."""
    _alias_functional_tensor()
    from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_ssim

    return calculate_psnr, calculate_ssim
