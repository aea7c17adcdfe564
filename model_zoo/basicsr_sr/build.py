"""Builders for BasicSR's EDSR and RRDBNet (ESRGAN), wrapped as deterministic restorers."""
from srbench.core.compat import basicsr_arch
from srbench.core.restorer import DeterministicRestorer


def edsr(**arch) -> DeterministicRestorer:
    return DeterministicRestorer(basicsr_arch("EDSR")(**arch), name="edsr", scale=arch["upscale"])


def rrdbnet(**arch) -> DeterministicRestorer:
    return DeterministicRestorer(basicsr_arch("RRDBNet")(**arch), name="esrgan", scale=arch["scale"])
