"""Builders for BasicSR's EDSR and RRDBNet (ESRGAN), wrapped as deterministic restorers."""
from srbench.compat import basicsr_arch
from srbench.restorer import DeterministicRestorer


def edsr(**arch) -> DeterministicRestorer:
    return DeterministicRestorer(basicsr_arch("EDSR")(**arch), name="edsr", scale=arch["upscale"])


def rrdbnet(**arch) -> DeterministicRestorer:
    return DeterministicRestorer(basicsr_arch("RRDBNet")(**arch), name="esrgan", scale=arch["scale"])
