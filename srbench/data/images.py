"""Reading and writing images as float tensors in [0, 1] (C x H x W).

What :func:`read_image` accepts (docs/metrics.md, "Image files"):
- 8-bit gray (also 1-bit and gray + alpha) and 16-bit gray, scaled by 255 or 65535;
- 8-bit color: RGB, RGBA, palette, CMYK, YCbCr, converted to RGB.
Alpha is dropped, not composited, as BasicSR's cv2.imread does.
Refused with a one-line error: 16-bit color or gray + alpha (Pillow would keep
only the high byte of each value) and integer or float pixels of unknown range.
"""
from __future__ import annotations

import os
import re

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from srbench.core.errors import UserError
from srbench.core.pixels import to_uint8
from srbench.files import atomic_path

# File types srbench reads as images wherever it lists a folder (benchmark sets, GAN training data).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})

_GRAY_MODES = ("1", "L", "LA", "La")
_COLOR_MODES = ("RGB", "RGBA", "RGBX", "RGBa", "P", "PA", "CMYK", "YCbCr")
_GRAY16_RAW_MODES = ("I;16", "I;16B", "I;16L", "I;16N")  # how files store 16-bit unsigned gray


def _raw_mode(im: Image.Image) -> str:
    """How the file stores its pixels (e.g. 'RGB;16B'); PIL's mode hides 16-bit color, and load() forgets this."""
    args = im.tile[0][3] if im.tile else None
    raw = args[0] if isinstance(args, tuple) and args else args
    return raw if isinstance(raw, str) else im.mode


def _pixels(im: Image.Image, raw: str, path) -> tuple[np.ndarray, bool]:
    """(H x W or H x W x 3 float32 in [0, 1], was_grayscale) of a loaded image, or a UserError saying why not."""
    if raw in _GRAY16_RAW_MODES:
        return np.asarray(im, dtype=np.float32) / 65535.0, True
    if re.search(r";16[BLN]$", raw):
        raise UserError(f"image {path} has 16 bits per channel with color or alpha ({raw}), which Pillow reads as "
                        f"8 bits by dropping the low byte; convert it to 8 bits first "
                        f"(e.g. `magick IN.png -depth 8 OUT.png`), or to 16-bit gray without alpha")
    if im.mode in _GRAY_MODES:
        return np.asarray(im.convert("L"), dtype=np.float32) / 255.0, True
    if im.mode in _COLOR_MODES:
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0, False
    raise UserError(f"image {path} has Pillow mode {im.mode!r}, which srbench does not read (integer or float "
                    f"pixels have no known range); save it as an 8-bit or 16-bit PNG")


def read_image(path: str | os.PathLike) -> tuple[torch.Tensor, bool]:
    """Return (3 x H x W float32 in [0,1], was_grayscale). Gray images get 3 equal channels."""
    try:
        with Image.open(path) as im:
            raw = _raw_mode(im)
            im.load()
            arr, gray = _pixels(im, raw, path)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise UserError(f"cannot read image {path}: {exc.__class__.__name__}; check that it is a valid PNG/JPEG file") from exc
    t = torch.from_numpy(arr)
    t = t.unsqueeze(0).expand(3, -1, -1).contiguous() if gray else t.permute(2, 0, 1).contiguous()
    return t, gray


def write_image(img: torch.Tensor, path: str | os.PathLike) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a PNG."""
    arr = to_uint8(img)
    with atomic_path(path) as tmp:
        Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr).save(tmp, format="PNG")
