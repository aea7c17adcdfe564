"""Training data for the image GANs: image folders or Hugging Face datasets, with preprocessing.

``preprocess``:
- ``celeba``: bilinear resize to 102 x 102, centre crop 64 (the paper's CelebA
  preprocessing; ``resize``/``size`` change the numbers);
- ``center``: centre crop ``size`` (e.g. ImageNet64 images, already 64 x 64);
- ``random_crop``: a fresh random ``size`` x ``size`` crop per draw (natural
  photos such as BSD100/DIV2K HR), drawn with the trainer's generator.

Images are decoded once and kept in memory as uint8. ``sampler(degradation)``
returns the trainer's ``data(batch_size, rng) -> (x, y)`` callable.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from srbench.core.errors import UserError
from srbench.data.images import IMAGE_SUFFIXES



def _to_uint8_tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1)


def celeba_preprocess(img: torch.Tensor, resize: int = 102, size: int = 64) -> torch.Tensor:
    """uint8 3 x H x W -> bilinear resize to resize x resize, centre crop size (uint8)."""
    x = F.interpolate(img[None].float(), size=(resize, resize), mode="bilinear", align_corners=False,
                      antialias=True)[0]
    top = (resize - size) // 2
    return x[:, top:top + size, top:top + size].round().clamp(0, 255).to(torch.uint8)


def center_crop(img: torch.Tensor, size: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    if h < size or w < size:
        raise UserError(f"image of {h}x{w} is smaller than the crop size {size}")
    top, left = (h - size) // 2, (w - size) // 2
    return img[:, top:top + size, left:left + size]


class ImageData:
    """Decoded training images with a preprocessing rule and a random batch sampler."""

    def __init__(self, images: list[torch.Tensor], preprocess: str = "random_crop", size: int = 64,
                 resize: int = 102, name: str = "images"):
        if not images:
            raise UserError(f"no training images in {name}")
        if preprocess not in ("celeba", "center", "random_crop"):
            raise UserError(f"preprocess must be celeba, center or random_crop, got {preprocess!r}")
        self.name, self.preprocess, self.size = name, preprocess, size
        if preprocess == "celeba":
            self.fixed = torch.stack([celeba_preprocess(im, resize, size) for im in images])
        elif preprocess == "center":
            self.fixed = torch.stack([center_crop(im, size) for im in images])
        else:
            small = [im for im in images if min(im.shape[-2:]) < size]
            if small:
                raise UserError(f"{len(small)} images of {name} are smaller than the crop size {size}")
            self.fixed = None
            self.images = images

    def __len__(self) -> int:
        return len(self.fixed) if self.fixed is not None else len(self.images)

    def split(self, n_val: int) -> tuple["ImageData", "ImageData"]:
        """(train, validation): the last n_val images are held out."""
        if n_val >= len(self):
            raise UserError(f"{self.name}: {len(self)} images, cannot hold out {n_val} for validation")
        items = list(self.fixed) if self.fixed is not None else self.images
        out = []
        for part in (items[:len(items) - n_val], items[len(items) - n_val:]):
            d = ImageData.__new__(ImageData)
            d.name, d.preprocess, d.size = self.name, self.preprocess, self.size
            if self.fixed is not None:
                d.fixed = torch.stack(part)
            else:
                d.fixed, d.images = None, part
            out.append(d)
        return out[0], out[1]

    def draw(self, batch_size: int, rng: torch.Generator) -> torch.Tensor:
        """A float batch in [0, 1] (B x 3 x size x size) drawn with rng (on rng's device)."""
        dev = rng.device
        idx = torch.randint(len(self), (batch_size,), generator=rng, device=dev).tolist()
        if self.fixed is not None:
            x = self.fixed[idx]
        else:
            crops = []
            for i in idx:
                im = self.images[i]
                h, w = im.shape[-2:]
                top = int(torch.randint(h - self.size + 1, (1,), generator=rng, device=dev))
                left = int(torch.randint(w - self.size + 1, (1,), generator=rng, device=dev))
                crops.append(im[:, top:top + self.size, left:left + self.size])
            x = torch.stack(crops)
        return x.to(dev).float() / 255.0

    def fixed_set(self, n: int, seed: int = 0) -> torch.Tensor:
        """n deterministic images (crops drawn from ``seed``) for validation/evaluation, CPU float."""
        g = torch.Generator().manual_seed(seed)
        if self.fixed is not None and n >= len(self):
            return self.fixed.float() / 255.0
        return self.draw(n, g)

    def sampler(self, degradation):
        def data(batch_size: int, rng: torch.Generator):
            x = self.draw(batch_size, rng)
            return x, degradation.degrade(x)
        return data


def load_folder(root: str | Path, limit: int | None = None) -> list[torch.Tensor]:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"training image folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if limit:
        files = files[:limit]
    return [_read_uint8(f) for f in files]


def _read_uint8(path: Path) -> torch.Tensor:
    try:
        with Image.open(path) as im:
            return _to_uint8_tensor(im)
    except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
        raise UserError(f"cannot read image {path}: {exc.__class__.__name__}; fix or remove it "
                        f"from the image folder") from None


def load_hf(name: str, split: str = "train", image_key: str = "image", limit: int | None = None,
            **kwargs: Any) -> list[torch.Tensor]:
    """Images of a Hugging Face dataset (needs the ``datasets`` package)."""
    try:
        import datasets  # noqa: F401
    except ImportError:
        raise UserError("hf: training data needs the `datasets` package (pip install datasets)") from None
    from datasets import load_dataset

    ds = load_dataset(name, split=split, **kwargs)
    if limit:
        ds = ds.select(range(min(limit, len(ds))))
    return [_to_uint8_tensor(row[image_key]) for row in ds]


def load_data(spec: dict[str, Any]) -> ImageData:
    """From a config's ``data`` mapping: {folder | hf, preprocess, size, resize, limit, split, image_key}."""
    spec = dict(spec)
    limit = spec.get("limit")
    if "folder" in spec:
        images, name = load_folder(spec["folder"], limit), str(spec["folder"])
    elif "hf" in spec:
        images, name = load_hf(spec["hf"], spec.get("split", "train"), spec.get("image_key", "image"), limit), spec["hf"]
    else:
        raise UserError("data needs `folder: PATH` or `hf: DATASET_NAME`")
    return ImageData(images, spec.get("preprocess", "random_crop"), int(spec.get("size", 64)),
                     int(spec.get("resize", 102)), name=name)
