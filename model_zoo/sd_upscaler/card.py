"""Model cards of the Stable Diffusion x4 upscaler: ``sd-x4-upscaler`` and its cheaper 20-step variant.

The weights are the diffusers folder of ``stabilityai/stable-diffusion-x4-upscaler``
(unet/, vae/, scheduler/, low_res_scheduler/, text_encoder/, tokenizer/,
model_index.json): a local folder given as weights (``--weights
sd-x4-upscaler=FOLDER``, or ``SRBENCH_WEIGHTS_SD_X4_UPSCALER=FOLDER``), or the
hub repository's files downloaded one by one into the srbench cache
(model_zoo/diffusion/card.py). The conditioning is the pipeline's default call
with the empty prompt (noise level 20, guidance 9, a no-op with that prompt:
model.py); the number of sampling steps is part of the model, so each step
count is its own registered name: ``sd-x4-upscaler`` (75 steps, the pipeline's
default) and ``sd-x4-upscaler-t20``. Rows carry ``model_options`` (sampler,
steps, eta, noise_level, prompt, guidance_scale).
"""
from __future__ import annotations

from model_zoo.diffusion.card import DiffusersCard, weight_file
from model_zoo.sd_upscaler.model import SUBFOLDERS

REPO = "stabilityai/stable-diffusion-x4-upscaler"
_PAPER = ("Rombach, Blattmann, Lorenz, Esser, Ommer: High-Resolution Image Synthesis with Latent Diffusion Models, "
          "CVPR 2022 (the Stable Diffusion 2 x4 upscaler, Stability AI 2022; v-prediction: Salimans & Ho, ICLR 2022)")
_LICENSE = "openrail++ (the hub repository's license tag: CreativeML Open RAIL++-M)"
# what from_pretrained reads: the pipeline index (max_noise_level), configs, the tokenizer's files, then the weights
FILES = ("model_index.json", "unet/config.json", "vae/config.json", "scheduler/scheduler_config.json",
         "low_res_scheduler/scheduler_config.json", "text_encoder/config.json",
         *(f"tokenizer/{name}" for name in ("vocab.json", "merges.txt", "tokenizer_config.json",
                                            "special_tokens_map.json")),
         weight_file("unet"), weight_file("vae"), weight_file("text_encoder", "model.safetensors", "pytorch_model.bin"))


def _card(name: str, steps: int, note: str) -> DiffusersCard:
    return DiffusersCard(
        name=name,
        build="model_zoo.sd_upscaler.model:sd_upscaler",
        arch={"steps": steps, "eta": 0.0, "noise_level": 20, "prompt": "", "guidance_scale": 9.0},
        scale=4,
        stochastic=True,
        repo=REPO,
        subfolders=SUBFOLDERS,
        files=FILES,
        license=_LICENSE,
        paper=_PAPER,
        source=f"https://huggingface.co/{REPO} (diffusers StableDiffusionUpscalePipeline)",
        description=(f"Stable Diffusion x4 upscaler: UNet on [noisy latent, LR noised to level 20], empty prompt, "
                     f"DDIM {steps} steps (v-prediction), eta 0, VAE decoder; whole sampling chain differentiable, "
                     f"checkpointed per step{note}. Needs pip install 'srbench[diffusion]'"),
        training="diffusion",
    )


SD_X4_UPSCALER = _card("sd-x4-upscaler", 75, "")
SD_X4_UPSCALER_T20 = _card("sd-x4-upscaler-t20", 20, " (20 of the default 75 steps)")
