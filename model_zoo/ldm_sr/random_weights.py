"""Random-weight LDM-SR models of the real classes: tiny ones for tests and docs, the real size for cost.

``REAL`` is the architecture of ``CompVis/ldm-super-resolution-4x-openimages``
written from the original LDM super-resolution config (Rombach et al. 2022,
``bsr_sr``): UNet with 160 base channels, multipliers 1-2-2-4, 2 residual
blocks per level, self-attention (32 channels per head) only at the lowest
level (downsampling 8) and in the middle block, input 3 latent + 3 LR
channels; VQ autoencoder f = 4 (128 channels, multipliers 1-2-4, 2 residual
blocks, 8192 codes of dimension 3); linear-in-sqrt betas 0.0015-0.0155 over
1000 steps. It is used where no hub is reachable (FLOP counts, device
timings); a real folder carries its own configs, which win.

``TINY`` has the same classes, block types and channel layout in miniature
(LR 16x16 runs a sampling step in milliseconds on a CPU).

    python -m model_zoo.ldm_sr.random_weights FOLDER [--size tiny|real] [--seed 0]

writes a model folder (unet/, vqvae/, scheduler/, model_index.json) that
``--weights ldm-sr-x4=FOLDER`` loads, as the hub repository would be.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from model_zoo.diffusion.loading import import_diffusers
from model_zoo.ldm_sr.model import SUBFOLDERS, LatentDiffusionSR
from srbench.files import write_json

SCHEDULER = {"num_train_timesteps": 1000, "beta_start": 0.0015, "beta_end": 0.0155,
             "beta_schedule": "scaled_linear", "clip_sample": False, "set_alpha_to_one": True}

REAL: dict[str, dict[str, Any]] = {
    "unet": {"sample_size": 64, "in_channels": 6, "out_channels": 3, "layers_per_block": 2,
             "block_out_channels": (160, 320, 320, 640),
             "down_block_types": ("DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
             "up_block_types": ("AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"),
             "attention_head_dim": 32, "norm_num_groups": 32},
    "vqvae": {"in_channels": 3, "out_channels": 3, "latent_channels": 3, "num_vq_embeddings": 8192,
              "block_out_channels": (128, 256, 512), "layers_per_block": 2, "norm_num_groups": 32,
              "down_block_types": ("DownEncoderBlock2D",) * 3, "up_block_types": ("UpDecoderBlock2D",) * 3,
              "sample_size": 256},
    "scheduler": SCHEDULER,
}

TINY: dict[str, dict[str, Any]] = {
    "unet": {"sample_size": 16, "in_channels": 6, "out_channels": 3, "layers_per_block": 1,
             "block_out_channels": (16, 32), "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
             "up_block_types": ("AttnUpBlock2D", "UpBlock2D"), "attention_head_dim": 8, "norm_num_groups": 8},
    "vqvae": {"in_channels": 3, "out_channels": 3, "latent_channels": 3, "num_vq_embeddings": 1024,
              "block_out_channels": (8, 8, 16), "layers_per_block": 1, "norm_num_groups": 8,
              "down_block_types": ("DownEncoderBlock2D",) * 3, "up_block_types": ("UpDecoderBlock2D",) * 3,
              "sample_size": 64},
    "scheduler": SCHEDULER,
}

SIZES = {"tiny": TINY, "real": REAL}


def random_modules(config: dict[str, dict[str, Any]], seed: int = 0) -> tuple[Any, Any, Any]:
    """(UNet2DModel, VQModel, DDIMScheduler) with diffusers' default initialisation under ``seed``,
    except the VQ codebook: standard normal, like the latents it quantizes."""
    diffusers = import_diffusers()
    torch.manual_seed(seed)
    unet = diffusers.UNet2DModel(**config["unet"])
    vqvae = diffusers.VQModel(**config["vqvae"])
    with torch.no_grad():  # codes where latents are (the default init packs them into +-1/n: one output for all)
        vqvae.quantize.embedding.weight.normal_()
    return unet.eval(), vqvae.eval(), diffusers.DDIMScheduler(**config["scheduler"])


def random_ldm_sr(config: dict[str, dict[str, Any]] = TINY, seed: int = 0, **sampler: Any) -> LatentDiffusionSR:
    """A frozen random-weight restorer (``sampler``: steps, eta, checkpointing, name)."""
    model = LatentDiffusionSR(*random_modules(config, seed), **sampler)
    return model.eval().requires_grad_(False)


def write_folder(folder: str | Path, config: dict[str, dict[str, Any]] = TINY, seed: int = 0) -> Path:
    """Save a random-weight model in the hub repository's layout: each part with ``save_pretrained``, and the
    pipeline's model_index.json (written here: diffusers' pipeline class itself needs transformers)."""
    diffusers = import_diffusers()
    folder = Path(folder)
    parts = dict(zip(SUBFOLDERS, random_modules(config, seed)))
    for sub, part in parts.items():
        part.save_pretrained(str(folder / sub))
    index = {"_class_name": "LDMSuperResolutionPipeline", "_diffusers_version": diffusers.__version__,
             **{sub: ["diffusers", type(part).__name__] for sub, part in parts.items()}}
    write_json(folder / "model_index.json", index)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a random-weight LDM-SR x4 model folder (for tests and docs).")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(write_folder(args.folder, SIZES[args.size], args.seed))


if __name__ == "__main__":
    main()
