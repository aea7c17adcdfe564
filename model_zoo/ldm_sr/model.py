"""Latent-diffusion SR as a stochastic Restorer whose whole sampling chain is differentiable.

The model is diffusers' ``LDMSuperResolutionPipeline`` taken apart: a UNet
(``UNet2DModel``) whose input is the noisy latent concatenated with the LR
image in [-1, 1], both at LR resolution; a DDIM scheduler (``DDIMScheduler``);
and a VQ autoencoder (``VQModel``, f = 4) whose decoder turns the final latent
into the x4 image. The sampler loop, z, padding and per-step checkpointing are
the chain both diffusion upscalers share (model_zoo/diffusion/chain.py):

    x_T = z["latent"]
    x_{t-1} = DDIM.step(UNet([x_t, 2y - 1], t), t, x_t, eta, z["noise"][:, i])   for the T steps
    output  = (VQ.decode(x_0) + 1) / 2, clamped to [0, 1]

z is ``{"latent": (B, 3, h', w')}``, plus ``"noise": (B, T, 3, h', w')`` when
eta > 0 (the per-step noises).

The VQ decoder quantizes the final latent (nearest codebook entry), as the
pipeline and the original LDM code do (``quantize=True``, the default). That
makes the output piecewise constant in the latent: its true gradient is zero
almost everywhere. The attacks follow the straight-through gradient diffusers
implements (``z + (z_q - z).detach()``: the identity through the quantizer,
i.e. BPDA) while every output, clean or attacked, is the real quantized one.
``quantize=False`` decodes the continuous latent instead (a different model,
exactly differentiable), for studying what the quantizer does to an attack.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from model_zoo.diffusion.chain import DiffusionSR, check_sampler
from model_zoo.diffusion.loading import import_diffusers, load_part

SUBFOLDERS = ("unet", "vqvae", "scheduler")  # the layout of CompVis/ldm-super-resolution-4x-openimages


class LatentDiffusionSR(DiffusionSR):
    """UNet + VQ decoder + DDIM as ``restore(y, z)``; ``steps`` and ``eta`` fix the sampler."""

    SUBFOLDERS = SUBFOLDERS
    decoder_kind = "VQ decoder"

    def __init__(self, unet, vqvae, scheduler, steps: int = 100, eta: float = 0.0, checkpointing: bool = True,
                 quantize: bool = True, name: str = "ldm-sr-x4"):
        super().__init__(unet, vqvae, scheduler, steps=steps, eta=eta, checkpointing=checkpointing, name=name)
        self.quantize = bool(quantize)

    @property
    def vqvae(self):
        return self.autoencoder

    @property
    def model_options(self) -> dict[str, Any]:
        return {**super().model_options, "quantize": self.quantize}

    def predict(self, model_in, t):
        """The UNet predicts the noise of [x_t, LR] (no other input)."""
        return self.unet(model_in, t).sample

    def decode(self, latents):
        return self.vqvae.decode(latents, force_not_quantize=not self.quantize).sample


def load_modules(source: str | Path) -> tuple[Any, Any, Any]:
    """(UNet2DModel, VQModel, DDIMScheduler) from a local folder or a hub repo id, through diffusers.

    The folder holds unet/, vqvae/ and scheduler/ as saved by ``save_pretrained``
    (the layout of the hub repository); the scheduler config is read into DDIM
    whatever scheduler class it names.
    """
    diffusers = import_diffusers()
    classes = {"unet": diffusers.UNet2DModel, "vqvae": diffusers.VQModel, "scheduler": diffusers.DDIMScheduler}
    return tuple(load_part(cls, source, sub, SUBFOLDERS, diffusers) for sub, cls in classes.items())


def ldm_sr(source: str | Path, steps: int = 100, eta: float = 0.0, checkpointing: bool = True,
           quantize: bool = True, name: str = "ldm-sr-x4") -> LatentDiffusionSR:
    """Builder: the pretrained model in ``source`` (folder or hub repo id) with the given sampler."""
    check_sampler(steps, eta)
    unet, vqvae, scheduler = load_modules(source)
    model = LatentDiffusionSR(unet, vqvae, scheduler, steps=steps, eta=eta, checkpointing=checkpointing,
                              quantize=quantize, name=name)
    return model.eval().requires_grad_(False)
