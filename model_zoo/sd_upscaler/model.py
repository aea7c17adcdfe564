"""The Stable Diffusion x4 upscaler as a stochastic Restorer whose whole sampling chain is differentiable.

diffusers' ``StableDiffusionUpscalePipeline`` taken apart, on the chain both
diffusion upscalers share (model_zoo/diffusion/chain.py):

    c       = sqrt(a_s) (2 pad(y) - 1) + sqrt(1 - a_s) z["lr_noise"]          s = noise_level (low_res_scheduler)
    x_T     = z["latent"]
    x_{t-1} = DDIM.step(UNet([x_t, c], t, text, class = s), t, x_t, eta, z["noise"][:, i])    (v-prediction)
    output  = (VAE.decode(x_0 / 0.08333) + 1) / 2, clamped to [0, 1]

- **The noised LR input is part of z.** The pipeline noises the LR image at
  ``noise_level`` (default 20 of a maximum 350) with fresh Gaussian noise
  before sampling and tells the UNet the level as its class label. That noise
  is random like the initial latent, so z holds it: ``"lr_noise"`` (B, 3, h', w'),
  drawn first as the pipeline draws it, then ``"latent"`` (B, 4, h', w'), then
  (eta > 0) the T per-step noises. With one seed per image, eta 0 and an LR
  size the UNet takes unpadded, ``sample_z`` under a generator draws exactly
  what the pipeline draws from the same generator.
- **The prompt is a constant.** The text embedding of the prompt (empty for
  benchmarking) is computed once at load, without gradient, by the CLIP text
  encoder, which is then dropped: it is not in the attack graph.
- **Classifier-free guidance.** The pipeline's default guidance scale is 9 with
  an empty negative prompt: eps = eps(uncond) + 9 (eps(text) - eps(uncond)),
  two UNet passes per step. With the empty prompt both passes see the same
  embedding, so the two predictions are equal and the guided one is eps(uncond):
  guidance is a no-op, and the second pass is skipped (whenever the prompt's
  embedding equals the empty prompt's). A non-empty prompt with a scale above
  1 runs both passes, as the pipeline does. tests/test_sd_upscaler.py checks
  both against the pipeline's own output.
"""
from __future__ import annotations

import json
import numbers
from pathlib import Path
from typing import Any, Mapping

import torch

from model_zoo.diffusion.chain import LR_CHANNELS, DiffusionSR, check_sampler
from model_zoo.diffusion.loading import import_diffusers, import_optional, load_part
from srbench.core.errors import UserError

# the layout of stabilityai/stable-diffusion-x4-upscaler, as StableDiffusionUpscalePipeline.save_pretrained writes it
SUBFOLDERS = ("unet", "vae", "scheduler", "low_res_scheduler", "text_encoder", "tokenizer")
MAX_NOISE_LEVEL = 350  # the pipeline's default; the folder's model_index.json says its own


class StableDiffusionUpscaler(DiffusionSR):
    """UNet (text- and noise-level-conditioned) + VAE decoder + DDIM as ``restore(y, z)``."""

    SUBFOLDERS = SUBFOLDERS
    decoder_kind = "VAE decoder"

    def __init__(self, unet, vae, scheduler, low_res_scheduler, text_embeds: torch.Tensor,
                 empty_embeds: torch.Tensor, steps: int = 75, eta: float = 0.0, noise_level: int = 20,
                 prompt: str = "", guidance_scale: float = 9.0, max_noise_level: int = MAX_NOISE_LEVEL,
                 checkpointing: bool = True, name: str = "sd-x4-upscaler"):
        check_conditioning(noise_level, prompt, guidance_scale, max_noise_level)
        super().__init__(unet, vae, scheduler, steps=steps, eta=eta, checkpointing=checkpointing, name=name)
        self.low_res_scheduler = low_res_scheduler
        self.noise_level, self.prompt, self.guidance_scale = int(noise_level), prompt, float(guidance_scale)
        # guidance changes the prediction only when the two branches differ (never with the empty prompt)
        self.guided = self.guidance_scale > 1 and not torch.equal(text_embeds, empty_embeds)
        self.register_buffer("text_embeds", text_embeds, persistent=False)
        self.register_buffer("empty_embeds", empty_embeds if self.guided else None, persistent=False)

    @property
    def vae(self):
        return self.autoencoder

    @property
    def model_options(self) -> dict[str, Any]:
        return {**super().model_options, "noise_level": self.noise_level, "prompt": self.prompt,
                "guidance_scale": self.guidance_scale}

    def z_shapes(self, y: torch.Tensor) -> dict[str, tuple[int, ...]]:
        """The LR image's noise first (the pipeline draws it before the latent), then the latent and step noises."""
        _, h, w = self.latent_shape(y)
        return {"lr_noise": (LR_CHANNELS, h, w), **super().z_shapes(y)}

    def condition(self, lr: torch.Tensor, z: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The LR image noised to ``noise_level`` with z's noise (differentiable in the image)."""
        levels = torch.full((lr.shape[0],), self.noise_level, dtype=torch.long, device=lr.device)
        return self.low_res_scheduler.add_noise(lr, z["lr_noise"], levels)

    def predict(self, model_in: torch.Tensor, t: int) -> torch.Tensor:
        b = model_in.shape[0]
        labels = torch.full((b,), self.noise_level, dtype=torch.long, device=model_in.device)
        if not self.guided:
            return self.unet(model_in, t, encoder_hidden_states=self.text_embeds.expand(b, -1, -1),
                             class_labels=labels).sample
        texts = torch.cat([self.empty_embeds.expand(b, -1, -1), self.text_embeds.expand(b, -1, -1)])
        both = self.unet(torch.cat([model_in, model_in]), t, encoder_hidden_states=texts,
                         class_labels=torch.cat([labels, labels])).sample
        uncond, text = both.chunk(2)
        return uncond + self.guidance_scale * (text - uncond)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents / self.vae.config.scaling_factor).sample


def check_conditioning(noise_level: Any, prompt: Any, guidance_scale: Any, max_noise_level: int) -> None:
    """One-line errors for conditioning options out of range."""
    if isinstance(noise_level, bool) or not isinstance(noise_level, int) or not 0 <= noise_level <= max_noise_level:
        raise UserError(f"noise_level must be an integer from 0 to {max_noise_level} (the model's max_noise_level), "
                        f"got {noise_level!r:.40}")
    if not isinstance(prompt, str):
        raise UserError(f"prompt must be a string (empty for benchmarking), got {type(prompt).__name__}")
    if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, numbers.Real) or not guidance_scale >= 0:
        raise UserError(f"guidance_scale must be a number >= 0 (above 1: classifier-free guidance), "
                        f"got {guidance_scale!r:.40}")


def encode_prompt(text_encoder, tokenizer, prompt: str) -> torch.Tensor:
    """The text encoder's last hidden states (1, tokens, width) for ``prompt``, tokenized as the pipeline does
    (padded and cut to the tokenizer's length); a constant of the model, computed without gradient."""
    tokens = tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                       return_tensors="pt")
    mask = tokens.attention_mask if getattr(text_encoder.config, "use_attention_mask", False) else None
    with torch.no_grad():
        return text_encoder(tokens.input_ids, attention_mask=mask)[0].float()


def max_noise_level_of(source: str | Path) -> int:
    """The pipeline's max_noise_level from the folder's model_index.json (the pipeline's default otherwise)."""
    index = Path(source).expanduser() / "model_index.json"
    try:
        return int(json.loads(index.read_text()).get("max_noise_level", MAX_NOISE_LEVEL))
    except (OSError, ValueError, TypeError, AttributeError):
        return MAX_NOISE_LEVEL


def load_modules(source: str | Path) -> dict[str, Any]:
    """The six parts, each through its own class's ``from_pretrained`` (a local folder or a hub repo id)."""
    transformers = import_optional("transformers", "the Stable Diffusion upscaler needs the transformers library "
                                                   "(for its CLIP text encoder)")
    diffusers = import_diffusers()
    classes = {"unet": diffusers.UNet2DConditionModel, "vae": diffusers.AutoencoderKL,
               "scheduler": diffusers.DDIMScheduler, "low_res_scheduler": diffusers.DDPMScheduler,
               "text_encoder": transformers.CLIPTextModel, "tokenizer": transformers.CLIPTokenizer}
    return {sub: load_part(cls, source, sub, SUBFOLDERS, diffusers, transformers) for sub, cls in classes.items()}


def sd_upscaler(source: str | Path, steps: int = 75, eta: float = 0.0, noise_level: int = 20, prompt: str = "",
                guidance_scale: float = 9.0, checkpointing: bool = True,
                name: str = "sd-x4-upscaler") -> StableDiffusionUpscaler:
    """Builder: the pretrained upscaler in ``source`` (folder or hub repo id) with the given sampler and conditioning.

    The defaults are the pipeline's (75 steps, eta 0, noise level 20, guidance 9) with the empty prompt.
    """
    check_sampler(steps, eta)
    max_level = max_noise_level_of(source)
    check_conditioning(noise_level, prompt, guidance_scale, max_level)
    parts = load_modules(source)
    text_encoder, tokenizer = parts.pop("text_encoder"), parts.pop("tokenizer")
    text_embeds, empty_embeds = (encode_prompt(text_encoder, tokenizer, p) for p in (prompt, ""))
    model = StableDiffusionUpscaler(**parts, text_embeds=text_embeds, empty_embeds=empty_embeds, steps=steps,
                                    eta=eta, noise_level=noise_level, prompt=prompt, guidance_scale=guidance_scale,
                                    max_noise_level=max_level, checkpointing=checkpointing, name=name)
    return model.eval().requires_grad_(False)
