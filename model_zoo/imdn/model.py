"""IMDN as a srbench restorer: the official network takes and returns [0, 1] pixels."""
from srbench.core.restorer import DeterministicRestorer

from model_zoo.imdn.arch import IMDN


def imdn(scale: int = 4, channels: int = 64, blocks: int = 6) -> DeterministicRestorer:
    return DeterministicRestorer(IMDN(scale=scale, channels=channels, blocks=blocks), name="imdn", scale=scale)
