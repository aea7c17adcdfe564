"""RLFN as a srbench restorer: the official network works on [0, 255] pixels, srbench on [0, 1]."""
import torch

from srbench.core.errors import UserError
from srbench.core.restorer import DeterministicRestorer, Z

from model_zoo.rlfn.arch import MIN_SIZE, RLFN


class RLFNRestorer(DeterministicRestorer):
    """Scales the input by 255 and the output back, as the authors' test script does."""

    def restore(self, y: torch.Tensor, z: Z = None) -> torch.Tensor:
        if min(y.shape[-2:]) < MIN_SIZE:
            raise UserError(f"model {self.name!r} needs LR images of at least {MIN_SIZE}x{MIN_SIZE} pixels "
                            f"(its spatial attention pools 7x7 after a stride-2 conv), got "
                            f"{tuple(y.shape[-2:])}")
        return (self.net(y * 255.0) / 255.0).clamp(0, 1)


def rlfn(scale: int = 4, channels: int = 52, blocks: int = 6) -> RLFNRestorer:
    return RLFNRestorer(RLFN(scale=scale, channels=channels, blocks=blocks), name="rlfn", scale=scale)
