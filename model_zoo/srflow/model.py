"""SRFlow as a stochastic Restorer: ``restore(y, z)`` is a pure function of (y, z).

The latent z is a dict holding every latent the reverse flow consumes, each with
leading dimension B (the batch of y):

    {"top": (B, C_top, h'/2, w'/2), "split1": ..., ("split2": ...)}

where h' x w' is the LR size padded to even (see ``pad_to_even``). 4X:
top 96 channels, split1 6 channels at 2h' x 2w'. 8X: top 192, split1 6 at
4h' x 4w', split2 12 at 2h' x 2w'. Because no latent is drawn inside the
network, one z always gives the same SR image, which same-seed robustness
evaluation needs. ``z=None`` means all-zero latents (temperature 0, the mode).
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F

from srbench.core.restorer import Restorer
from model_zoo.srflow.arch import SRFlowNet


def pad_to_even(y: torch.Tensor) -> torch.Tensor:
    """Pad bottom/right by one pixel where a side is odd, reflecting without repeating the edge.

    The top flow level runs at LR/2, so the LR size must be even; the official
    test.py pads like this (numpy 'reflect'). A side of length 1 is repeated,
    which is what numpy's 'reflect' does there too.
    """
    h, w = y.shape[-2:]
    if h % 2:
        y = F.pad(y, (0, 0, 0, 1), mode="reflect" if h > 1 else "replicate")
    if w % 2:
        y = F.pad(y, (0, 1, 0, 0), mode="reflect" if w > 1 else "replicate")
    return y


class SRFlowRestorer(Restorer):
    """Wraps :class:`SRFlowNet`; handles padding, cropping, clamping and latent sampling."""

    def __init__(self, net: SRFlowNet, name: str = "srflow"):
        super().__init__()
        self.net = net
        self.name = name
        self.scale = net.scale
        self.stochastic = True

    def latent_shapes(self, y: torch.Tensor) -> dict[str, tuple[int, int, int]]:
        """(C, H, W) of each latent for LR batch y (padded to even): top first, then splits deepest first."""
        h, w = y.shape[-2:]
        shapes = self.net.latent_shapes(h + h % 2, w + w % 2)
        return dict(sorted(shapes.items(), key=lambda kv: (0, 0) if kv[0] == "top" else (1, -int(kv[0][5:]))))

    def _check_z(self, y: torch.Tensor, z: Mapping[str, torch.Tensor]) -> None:
        shapes = self.latent_shapes(y)
        if not isinstance(z, Mapping) or set(z) != set(shapes):
            got = sorted(z) if isinstance(z, Mapping) else type(z).__name__
            raise ValueError(f"SRFlow z must be a dict with keys {sorted(shapes)}, got {got}")
        for name, shape in shapes.items():
            if tuple(z[name].shape) != (y.shape[0], *shape):
                raise ValueError(f"z[{name!r}] has shape {tuple(z[name].shape)}, expected {(y.shape[0], *shape)} "
                                 f"for LR size {tuple(y.shape[-2:])}")

    def zero_z(self, y: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: y.new_zeros((y.shape[0], *s)) for k, s in self.latent_shapes(y).items()}

    def sample_z(self, y: torch.Tensor, n: int = 1, generator: torch.Generator | None = None,
                 temperature: float = 0.9) -> dict[str, torch.Tensor]:
        """n draws per image, seed-major (row k*B + b is draw k of image b): randn * temperature.

        Drawn in the official sampling order (top latent first, then the split
        latents deepest first) on the generator's device, then moved to y's.
        0.9 is the 'heat' of the official configs.
        """
        device = generator.device if generator is not None else torch.device("cpu")
        rows = n * y.shape[0]
        return {k: (torch.randn((rows, *s), generator=generator, device=device) * temperature).to(y.device, y.dtype)
                for k, s in self.latent_shapes(y).items()}

    def restore(self, y: torch.Tensor, z: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        h, w = y.shape[-2:]
        yp = pad_to_even(y)
        if z is None:
            z = self.zero_z(yp)
        self._check_z(yp, z)
        x, _ = self.net.decode(yp, z)
        return x[..., :h * self.scale, :w * self.scale].clamp(0, 1)

    # The flow's own directions, for tests and likelihood work (even LR sizes only, no clamping).
    def encode(self, x_hr: torch.Tensor, y: torch.Tensor):
        """HR -> (z dict, logdet including the split priors); no dequantisation noise."""
        return self.net.encode(x_hr, y)

    def decode(self, y: torch.Tensor, z: Mapping[str, torch.Tensor]):
        """(LR, z) -> (raw HR, logdet of the reverse pass)."""
        return self.net.decode(y, z)

    def nll(self, x_hr: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Bits per HR pixel of x_hr given y."""
        return self.net.nll(x_hr, y)


def srflow(scale: int = 4, **widths) -> SRFlowRestorer:
    """Builder used by the model cards. ``widths``: nf, nb, gc, taps, K, n_noaffine, hidden (for tiny tests)."""
    return SRFlowRestorer(SRFlowNet(scale=scale, **widths), name="srflow" if scale == 4 else f"srflow-{scale}x")
