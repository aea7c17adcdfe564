"""The U-Net GAN estimator as a Restorer: LR (or masked) input in, consistent [0, 1] image out.

``restore(y, z)`` takes the observation of the degradation (for SR x s the
B x 3 x h x w box-averaged LR image; for inpainting the masked 3 x H x W
image), builds the network input (nearest-neighbour upsampling for SR), runs
the U-Net and applies the degradation's consistency projection
(:mod:`srbench.core.degradations`), so D(restore(y, z)) = y. ``sample_z(y, n, g)``
returns seed-major (Z1, Z2, Z3, Z4) with n*B rows, or None for the
deterministic variant (which runs with Z = 0).
"""
from __future__ import annotations

from typing import Mapping

import torch

from model_zoo.unet_gan.arch import UNet
from srbench.core.degradations import get_degradation
from srbench.core.restorer import Restorer


class UNetGANRestorer(Restorer):
    """``degradation``: inpaint | sr4 | sr8 | sr16 (or ``scale``: 1 = inpaint, s > 1 = SR x s)."""

    def __init__(self, degradation: str = "sr4", base: int = 24, z_channels: int = 1,
                 stochastic: bool = True, in_ch: int = 3, scale: int | None = None):
        super().__init__()
        if scale is not None:
            degradation = "inpaint" if scale == 1 else f"sr{scale}"
        self.degradation = get_degradation(degradation)
        self.net = UNet(in_ch, in_ch, base, z_channels)
        self.scale = self.degradation.scale
        self.stochastic = stochastic
        self.name = "unet-gan" if stochastic else "unet-gan-det"
        # recorded in every state dict, so a checkpoint says what it is
        self.register_buffer("meta_stochastic", torch.tensor(int(stochastic)))
        self.register_buffer("meta_scale", torch.tensor(0 if degradation == "inpaint" else self.scale))

    def forward(self, y: torch.Tensor, z=None) -> torch.Tensor:
        return self.restore(y, z)

    def raw(self, y: torch.Tensor, z=None) -> torch.Tensor:
        return self.net(self.degradation.network_input(y), z if self.stochastic else None)

    def restore(self, y: torch.Tensor, z=None) -> torch.Tensor:
        return self.degradation.project(self.raw(y, z), y)

    def sample_z(self, y: torch.Tensor, n: int = 1, generator: torch.Generator | None = None):
        if not self.stochastic:
            return None
        h, w = y.shape[-2] * self.scale, y.shape[-1] * self.scale
        rows = n * y.shape[0]
        dev = generator.device if generator is not None else torch.device("cpu")
        zs = tuple(torch.randn((rows, *shape), generator=generator, device=dev)
                   for shape in self.net.z_shapes(h, w))
        return tuple(z.to(y.device, y.dtype) for z in zs)

    def load_weights(self, state: Mapping[str, torch.Tensor]) -> None:
        """Load this restorer's state dict or the U-Net's (a trainer checkpoint's ``params``, as
        :func:`srbench.models.weights.read_state_dict` unwraps it).

        The U-Net is rebuilt to the checkpoint's base width and noise channels (read from
        the weight shapes); a checkpoint that records a different degradation or
        stochasticity than this model's is refused (that is a different model).
        """
        meta_s, meta_scale = state.get("meta_stochastic"), state.get("meta_scale")
        if meta_s is not None and bool(meta_s) != self.stochastic:
            kind = "stochastic" if bool(meta_s) else "deterministic"
            raise RuntimeError(f"the checkpoint holds a {kind} U-Net GAN; load it as "
                               f"{'unet-gan' if bool(meta_s) else 'unet-gan-det'}")
        if meta_scale is not None and int(meta_scale) != int(self.meta_scale):
            want = "inpainting (--scale 1)" if int(meta_scale) == 0 else f"SR x{int(meta_scale)} (--scale {int(meta_scale)})"
            raise RuntimeError(f"the checkpoint was trained for {want}, not for this model's {self.degradation.name}")
        if any(k.startswith("net.") for k in state):
            state = {k[len("net."):]: v for k, v in state.items() if k.startswith("net.")}
        w_in, w_down = state.get("inc.0.weight"), state.get("down1.conv.0.weight")
        if w_in is not None and w_down is not None:
            base, zc = int(w_in.shape[0]), int(w_down.shape[1] - w_in.shape[0])
            if (base, zc) != (self.net.base, self.net.z_channels):
                self.net = UNet(int(w_in.shape[1]), self.net.outc.out_channels, base, zc).to(w_in.device)
        self.net.load_state_dict(state, strict=True)

    def arch(self) -> dict:
        return {"degradation": self.degradation.name, "base": self.net.base,
                "z_channels": self.net.z_channels, "stochastic": self.stochastic}


def unet_gan(**arch) -> UNetGANRestorer:
    return UNetGANRestorer(**arch)
