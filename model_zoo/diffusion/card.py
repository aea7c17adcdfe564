"""The card of a model whose weights are a diffusers model folder (or its hub repository), not one file.

The weights are either a local folder given as weights (``--weights
NAME=FOLDER``, or ``SRBENCH_WEIGHTS_<NAME>=FOLDER``), or the files of the hub
repository, downloaded one by one into the srbench cache
(``srbench.models.weights.hub_download``, honouring ``HF_ENDPOINT``/``HF_HUB_OFFLINE``).
Each card lists the subfolders a local folder must hold and the files the
download fetches (a file, or alternatives of which the first that exists is
taken: safetensors before the older .bin). Rows record the folder's digest
(sha256 over its files) as ``weights_sha256``.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from srbench.core.errors import UserError
from srbench.core.restorer import Restorer, resolve_device
from srbench.models.card import ModelCard
from srbench.models.weights import Weights, cache_dir, env_var_for, hub_download, sha256_of


def weight_file(sub: str, *names: str) -> tuple[str, ...]:
    """The alternatives for one part's weights in ``sub``: diffusers' names unless given."""
    names = names or ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
    return tuple(f"{sub}/{name}" for name in names)


def _hub_weights(repo: str, subfolders: tuple[str, ...]) -> Weights:
    """What a diffusers card says about its weights: a hub repository's folder, fetched file by file."""
    return Weights(file=f"diffusers folder ({', '.join(f'{s}/' for s in subfolders)}) of {repo}",
                   sources=(f"hf://{repo}",),
                   how_to_get=(f"downloaded file by file from the Hugging Face repository {repo} into "
                               f"the srbench cache (hf/); offline, give a folder made elsewhere with "
                               f"huggingface-cli download {repo} --local-dir FOLDER"))


@dataclasses.dataclass(frozen=True)
class DiffusersCard(ModelCard):
    """A card whose weights are a diffusers model folder: a local folder, or hub repository ``repo``."""

    repo: str = ""
    revision: str | None = None
    subfolders: tuple[str, ...] = ()  # what a local folder must hold
    files: tuple[str | tuple[str, ...], ...] = ()  # what the download fetches, in order; a tuple: alternatives

    def __post_init__(self):
        if self.weights is None:  # derived from repo and subfolders, so a card states them once
            object.__setattr__(self, "weights", _hub_weights(self.repo, self.subfolders))

    def locate_weights(self, explicit: str | os.PathLike | None = None) -> Path:
        """The model folder: the one given (or named by the environment variable), else the hub repository's
        files downloaded into the cache."""
        given = explicit or os.environ.get(env_var_for(self.name))
        if given:
            folder = Path(given).expanduser()
            missing = [sub for sub in self.subfolders if not (folder / sub).is_dir()]
            if missing:
                raise UserError(f"weights of {self.name!r} must be a diffusers model folder with "
                                f"{', '.join(f'{s}/' for s in self.subfolders)}; {folder} "
                                f"{'does not exist' if not folder.is_dir() else 'has no ' + ', '.join(missing)}")
            return folder
        return self._download()

    def cache_location(self) -> Path:
        """The Hugging Face cache folder of the repository, inside the srbench cache (hub_download's layout)."""
        return cache_dir() / "hf" / f"models--{self.repo.replace('/', '--')}"

    def _download(self) -> Path:
        try:
            fetched = [self._fetch(entry) for entry in self.files]
        except UserError as exc:
            raise UserError(f"{exc}. Download the repository yourself (huggingface-cli download {self.repo}) "
                            f"and give its folder with {{weights}}", {"weights": f"{self.name}=FOLDER"}) from None
        path, relative = fetched[0]
        return path.parents[len(Path(relative).parts) - 1]  # the cache's copy of the repository, holding them all

    def _fetch(self, entry: str | tuple[str, ...]) -> tuple[Path, str]:
        """(local path, path in the repository) of a file, or of the first of the alternatives that exists."""
        *earlier, last = (entry,) if isinstance(entry, str) else entry
        for relative in earlier:
            try:
                return hub_download(self.repo, relative, revision=self.revision), relative
            except UserError:
                pass
        return hub_download(self.repo, last, revision=self.revision), last

    def load(self, weights: str | os.PathLike | None = None, device=None, scale: int | None = None) -> Restorer:
        """The model in the folder, built through the card (``build(source=FOLDER, **arch)``), frozen, on ``device``."""
        folder = self.locate_weights(weights)
        restorer = dataclasses.replace(self, arch={**self.arch, "source": str(folder)}).build_restorer(scale)
        if restorer.decoder_scale != restorer.scale:
            raise UserError(f"the model in {folder} upscales x{restorer.decoder_scale} (its {restorer.decoder_kind}), "
                            f"but {self.name!r} is x{restorer.scale}")
        restorer.weights_sha256 = sha256_of(folder)
        restorer.requires_grad_(False)
        return restorer.eval().to(resolve_device(device))
