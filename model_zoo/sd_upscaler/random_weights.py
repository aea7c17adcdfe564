"""A tiny random-weight Stable Diffusion x4 upscaler of the real classes, for tests and docs.

``TINY`` has the classes, block types and conditioning of
``stabilityai/stable-diffusion-x4-upscaler`` in miniature: a UNet2DConditionModel
taking 4 latent + 3 LR channels, class-conditioned on the noise level (1000
class embeddings), down blocks without then with cross-attention (only
cross-attention, then self- and cross-attention, as the real one's
``only_cross_attention``), linear attention projections; an AutoencoderKL with
4 latent channels, f = 4 and scaling factor 0.08333; a 2-layer CLIPTextModel;
a CLIPTokenizer over a vocabulary written here (the lowercase letters, a few
merges, CLIP's special tokens, "!" as padding as in the real tokenizer); the
real schedulers' configs (DDIM with v-prediction, scaled-linear betas
0.0001-0.02, steps offset 1; the LR image's DDPM schedule; max_noise_level 350).
LR 16x16 runs a sampling step in milliseconds on a CPU.

    python -m model_zoo.sd_upscaler.random_weights FOLDER [--seed 0]

writes a model folder in the hub repository's layout (unet/, vae/, scheduler/,
low_res_scheduler/, text_encoder/, tokenizer/, model_index.json) that
``--weights sd-x4-upscaler=FOLDER`` and diffusers' own
``StableDiffusionUpscalePipeline.from_pretrained`` both load.
"""
from __future__ import annotations

import argparse
import string
from pathlib import Path
from typing import Any

import torch

from model_zoo.diffusion.loading import import_diffusers, import_optional, quiet
from srbench.files import atomic_write_text, write_json

BOS, EOS, PAD = "<|startoftext|>", "<|endoftext|>", "!"
MERGES = (("c", "a"), ("ca", "t</w>"), ("o", "f</w>"))  # "cat" and "of" become one token each
VOCAB = [PAD, *string.ascii_lowercase, *(c + "</w>" for c in string.ascii_lowercase),
         *("".join(m) for m in MERGES), BOS, EOS]
MAX_TOKENS = 16

TINY: dict[str, dict[str, Any]] = {
    "unet": {"sample_size": 16, "in_channels": 7, "out_channels": 4, "layers_per_block": 1,
             "block_out_channels": (8, 16, 16),
             "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
             "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
             "only_cross_attention": (True, True, False), "use_linear_projection": True,
             "cross_attention_dim": 16, "attention_head_dim": 4, "norm_num_groups": 8, "num_class_embeds": 1000},
    "vae": {"in_channels": 3, "out_channels": 3, "latent_channels": 4, "block_out_channels": (8, 8, 16),
            "layers_per_block": 1, "norm_num_groups": 8, "down_block_types": ("DownEncoderBlock2D",) * 3,
            "up_block_types": ("UpDecoderBlock2D",) * 3, "scaling_factor": 0.08333, "sample_size": 64},
    "text_encoder": {"vocab_size": len(VOCAB), "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "max_position_embeddings": MAX_TOKENS, "projection_dim": 16,
                     "hidden_act": "gelu", "bos_token_id": VOCAB.index(BOS), "eos_token_id": VOCAB.index(EOS),
                     "pad_token_id": VOCAB.index(PAD)},
    "scheduler": {"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
                  "beta_schedule": "scaled_linear", "clip_sample": False, "prediction_type": "v_prediction",
                  "set_alpha_to_one": False, "steps_offset": 1},
    "low_res_scheduler": {"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
                          "beta_schedule": "scaled_linear", "clip_sample": True, "prediction_type": "epsilon",
                          "variance_type": "fixed_small"},
    "pipeline": {"max_noise_level": 350},
}


# The real architecture, for counting its cost on the meta device (benchmarks/diffusion_cost.py): written from the
# original x4-upscaling config of Stability-AI/stablediffusion (UNet: 256 base channels, multipliers 1-2-2-4, 2
# residual blocks per level, 8 heads with linear projections and context width 1024 at downsampling 2, 4 and 8,
# only cross-attention at the first two of them, 1000 noise-level classes, input 4 latent + 3 LR channels; KL
# autoencoder: 128 channels, multipliers 1-2-4, 2 residual blocks, 4 latent channels, scale 0.08333; the
# OpenCLIP ViT-H text tower's first 23 layers, width 1024, whose penultimate output conditions the UNet). A real
# folder carries its own configs, which win.
REAL: dict[str, dict[str, Any]] = {
    "unet": {"sample_size": 128, "in_channels": 7, "out_channels": 4, "layers_per_block": 2,
             "block_out_channels": (256, 512, 512, 1024),
             "down_block_types": ("DownBlock2D",) + ("CrossAttnDownBlock2D",) * 3,
             "up_block_types": ("CrossAttnUpBlock2D",) * 3 + ("UpBlock2D",),
             "only_cross_attention": (True, True, True, False), "use_linear_projection": True,
             "cross_attention_dim": 1024, "attention_head_dim": 8, "norm_num_groups": 32, "num_class_embeds": 1000},
    "vae": {"in_channels": 3, "out_channels": 3, "latent_channels": 4, "block_out_channels": (128, 256, 512),
            "layers_per_block": 2, "norm_num_groups": 32, "down_block_types": ("DownEncoderBlock2D",) * 3,
            "up_block_types": ("UpDecoderBlock2D",) * 3, "scaling_factor": 0.08333, "sample_size": 256},
    "text_encoder": {"vocab_size": 49408, "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 23,
                     "num_attention_heads": 16, "max_position_embeddings": 77, "projection_dim": 512,
                     "hidden_act": "gelu"},
    "scheduler": TINY["scheduler"],
    "low_res_scheduler": TINY["low_res_scheduler"],
    "pipeline": TINY["pipeline"],
}
TEXT_TOKENS = 77  # the real tokenizer's length: the UNet attends to (1, 77, 1024) text states


def write_tokenizer(folder: Path) -> None:
    """The tokenizer in the hub repository's files (vocab.json, merges.txt and two configs; no tokenizer.json)."""
    special = {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": PAD}
    write_json(folder / "vocab.json", {token: i for i, token in enumerate(VOCAB)})
    atomic_write_text(folder / "merges.txt", "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES))
    write_json(folder / "special_tokens_map.json", special)
    write_json(folder / "tokenizer_config.json", {**special, "tokenizer_class": "CLIPTokenizer",
                                                  "model_max_length": MAX_TOKENS, "do_lower_case": True})


def random_parts(config: dict[str, dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """The five weight-bearing parts (unet, vae, text_encoder, the two schedulers), initialised under ``seed``."""
    diffusers = import_diffusers()
    transformers = import_optional("transformers", "the Stable Diffusion upscaler needs the transformers library")
    torch.manual_seed(seed)
    return {"unet": diffusers.UNet2DConditionModel(**config["unet"]).eval(),
            "vae": diffusers.AutoencoderKL(**config["vae"]).eval(),
            "text_encoder": transformers.CLIPTextModel(transformers.CLIPTextConfig(**config["text_encoder"])).eval(),
            "scheduler": diffusers.DDIMScheduler(**config["scheduler"]),
            "low_res_scheduler": diffusers.DDPMScheduler(**config["low_res_scheduler"])}


def write_folder(folder: str | Path, config: dict[str, dict[str, Any]] = TINY, seed: int = 0) -> Path:
    """Save a random-weight upscaler in the hub repository's layout: each part with its ``save_pretrained``, the
    tokenizer as the hub's files, and model_index.json from diffusers' own pipeline (``save_config``)."""
    diffusers = import_diffusers()
    transformers = import_optional("transformers", "the Stable Diffusion upscaler needs the transformers library")
    folder = Path(folder)
    write_tokenizer(folder / "tokenizer")
    parts = random_parts(config, seed)
    with quiet(diffusers, transformers):
        for sub, part in parts.items():
            part.save_pretrained(str(folder / sub))
        tokenizer = transformers.CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))
        pipeline = diffusers.StableDiffusionUpscalePipeline(tokenizer=tokenizer, **parts, **config["pipeline"])
        pipeline.save_config(str(folder))
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a tiny random-weight Stable Diffusion x4 upscaler folder "
                                                 "(for tests and docs).")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(write_folder(args.folder, TINY, args.seed))


if __name__ == "__main__":
    main()
