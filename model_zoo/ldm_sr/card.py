"""Model cards of latent-diffusion x4 SR: ``ldm-sr-x4`` and its fewer-step variants.

The weights are a diffusers model folder (unet/, vqvae/, scheduler/), not one
checkpoint file: either a local folder given as weights (``--weights
ldm-sr-x4=FOLDER``, or ``SRBENCH_WEIGHTS_LDM_SR_X4=FOLDER``), or the files of
the hub repository, downloaded one by one into the srbench cache
(``srbench.models.weights.hub_download``, honouring ``HF_ENDPOINT``/``HF_HUB_OFFLINE``).
Rows record the folder's digest (sha256 over its files) as ``weights_sha256``.

The number of sampling steps is part of the model (it changes the output
distribution), so each step count is its own registered name:
``ldm-sr-x4`` (100 steps, diffusers' default), ``ldm-sr-x4-t50`` and
``ldm-sr-x4-t20`` (benchmarks/diffusion.yaml). Rows carry the sampler in
``model_options`` (sampler, steps, eta, quantize).
"""
from __future__ import annotations

from model_zoo.diffusion.card import DiffusersCard, weight_file
from model_zoo.ldm_sr.model import SUBFOLDERS

REPO = "CompVis/ldm-super-resolution-4x-openimages"
_PAPER = ("Rombach, Blattmann, Lorenz, Esser, Ommer: High-Resolution Image Synthesis with Latent Diffusion Models, "
          "CVPR 2022")
_LICENSE = "Apache-2.0 (the hub repository's license tag)"
# what from_pretrained reads from each part: the configs, then the weights (safetensors, or .bin in older repositories)
FILES = ("unet/config.json", "vqvae/config.json", "scheduler/scheduler_config.json",
         weight_file("unet"), weight_file("vqvae"))


def _card(name: str, steps: int, note: str) -> DiffusersCard:
    return DiffusersCard(
        name=name,
        build="model_zoo.ldm_sr.model:ldm_sr",
        arch={"steps": steps, "eta": 0.0},
        scale=4,
        stochastic=True,
        repo=REPO,
        subfolders=SUBFOLDERS,
        files=FILES,
        license=_LICENSE,
        paper=_PAPER,
        source=f"https://huggingface.co/{REPO} (diffusers LDMSuperResolutionPipeline)",
        description=(f"Latent-diffusion x4 SR (LDM-BSR, OpenImages): UNet on [noisy latent, LR], DDIM {steps} steps, "
                     f"eta 0, VQ-f4 decoder; whole sampling chain differentiable, checkpointed per step{note}. "
                     f"Needs pip install 'srbench[diffusion]'"),
        training="diffusion",
    )


LDM_SR_X4 = _card("ldm-sr-x4", 100, "")
LDM_SR_X4_T50 = _card("ldm-sr-x4-t50", 50, " (50 of the default 100 steps)")
LDM_SR_X4_T20 = _card("ldm-sr-x4-t20", 20, " (20 of the default 100 steps)")
