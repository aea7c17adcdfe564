"""Reading and writing images as float tensors in [0, 1] (C x H x W)."""
from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from srbench.errors import UserError
from srbench.store import atomic_path


def read_image(path: str | os.PathLike) -> tuple[torch.Tensor, bool]:
    """Return (3 x H x W float32 in [0,1], was_grayscale). Gray images get 3 equal channels."""
    try:
        with Image.open(path) as im:
            im.load()
            gray = im.mode in ("L", "I", "I;16", "1", "LA")
            arr = np.asarray(im.convert("L" if gray else "RGB"), dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise UserError(f"cannot read image {path}: {exc.__class__.__name__}; check that it is a valid PNG/JPEG file") from exc
    t = torch.from_numpy(arr)
    t = t.unsqueeze(0).expand(3, -1, -1).contiguous() if gray else t.permute(2, 0, 1).contiguous()
    return t, gray


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """C x H x W in [0,1] -> H x W x C uint8, rounded (the SR-literature quantisation)."""
    return (img.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy())


def write_image(img: torch.Tensor, path: str | os.PathLike) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a PNG."""
    arr = to_uint8(img)
    with atomic_path(path) as tmp:
        Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr).save(tmp, format="PNG")


def quantize(img: torch.Tensor) -> torch.Tensor:
    """Round to the nearest 8-bit level (keeps the tensor float)."""
    return torch.round(img.clamp(0, 1) * 255) / 255
