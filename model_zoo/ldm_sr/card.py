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

import dataclasses
import os
from pathlib import Path

from model_zoo.ldm_sr.model import SUBFOLDERS
from srbench.core.errors import UserError
from srbench.core.restorer import Restorer, resolve_device
from srbench.models.card import ModelCard
from srbench.models.weights import Weights, env_var_for, hub_download, sha256_of

REPO = "CompVis/ldm-super-resolution-4x-openimages"
_PAPER = ("Rombach, Blattmann, Lorenz, Esser, Ommer: High-Resolution Image Synthesis with Latent Diffusion Models, "
          "CVPR 2022")
_LICENSE = "Apache-2.0 (the hub repository's license tag)"
# what from_pretrained reads from each part; the weights as safetensors, or as .bin in older repositories
_CONFIGS = ("unet/config.json", "vqvae/config.json", "scheduler/scheduler_config.json")
_WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


@dataclasses.dataclass(frozen=True)
class DiffusersCard(ModelCard):
    """A card whose weights are a diffusers model folder: a local folder, or hub repository ``repo``."""

    repo: str = ""
    revision: str | None = None

    def locate_weights(self, explicit: str | os.PathLike | None = None) -> Path:
        """The model folder: the one given (or named by the environment variable), else the hub repository's
        files downloaded into the cache."""
        given = explicit or os.environ.get(env_var_for(self.name))
        if given:
            folder = Path(given).expanduser()
            missing = [sub for sub in SUBFOLDERS if not (folder / sub).is_dir()]
            if missing:
                raise UserError(f"weights of {self.name!r} must be a diffusers model folder with "
                                f"{', '.join(f'{s}/' for s in SUBFOLDERS)}; {folder} "
                                f"{'does not exist' if not folder.is_dir() else 'has no ' + ', '.join(missing)}")
            return folder
        return self._download()

    def _download(self) -> Path:
        try:
            snapshot = [hub_download(self.repo, path, revision=self.revision) for path in _CONFIGS][0].parent.parent
            for sub in ("unet", "vqvae"):
                self._download_weights(sub)
        except UserError as exc:
            raise UserError(f"{exc}. Download the repository yourself (huggingface-cli download {self.repo}) "
                            f"and give its folder with {{weights}}", {"weights": f"{self.name}=FOLDER"}) from None
        return snapshot  # the cache's copy of the repository, holding every file fetched above

    def _download_weights(self, sub: str) -> None:
        safetensors, legacy = (f"{sub}/{name}" for name in _WEIGHT_FILES)
        try:
            hub_download(self.repo, safetensors, revision=self.revision)
        except UserError:
            hub_download(self.repo, legacy, revision=self.revision)

    def load(self, weights: str | os.PathLike | None = None, device=None, scale: int | None = None) -> Restorer:
        """The model in the folder, built through the card (``build(source=FOLDER, **arch)``), frozen, on ``device``."""
        folder = self.locate_weights(weights)
        restorer = dataclasses.replace(self, arch={**self.arch, "source": str(folder)}).build_restorer(scale)
        if restorer.decoder_scale != restorer.scale:
            raise UserError(f"the model in {folder} upscales x{restorer.decoder_scale} (its VQ decoder), "
                            f"but {self.name!r} is x{restorer.scale}")
        restorer.weights_sha256 = sha256_of(folder)
        restorer.requires_grad_(False)
        return restorer.eval().to(resolve_device(device))


def _card(name: str, steps: int, note: str) -> DiffusersCard:
    return DiffusersCard(
        name=name,
        build="model_zoo.ldm_sr.model:ldm_sr",
        arch={"steps": steps, "eta": 0.0},
        scale=4,
        stochastic=True,
        weights=Weights(file=f"diffusers folder ({', '.join(f'{s}/' for s in SUBFOLDERS)}) of {REPO}",
                        sources=(f"hf://{REPO}",),
                        how_to_get=(f"downloaded file by file from the Hugging Face repository {REPO} into "
                                    f"the srbench cache (hf/); offline, give a folder made elsewhere with "
                                    f"huggingface-cli download {REPO} --local-dir FOLDER")),
        repo=REPO,
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
