"""The offline demo set: natural photographs bundled with scikit-image.

Nothing is downloaded; HR is mod-cropped and LR made with MATLAB bicubic.
The tiny learned model of the quickstart is trained on *other* bundled images
(see ``model_zoo/tiny_edsr/train.py``), never on these.
"""
from __future__ import annotations

import numpy as np
import torch

from srbench.data import SRPair, make_pair

DEMO_IMAGES = ("astronaut", "chelsea", "coffee", "rocket")


def skimage_image(name: str) -> torch.Tensor:
    """A bundled scikit-image picture as 3 x H x W float in [0, 1] (gray -> 3 channels)."""
    import skimage.data

    arr = np.asarray(getattr(skimage.data, name)())
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, -1)
    t = torch.from_numpy(arr[..., :3].astype(np.float32) / 255.0)
    return t.permute(2, 0, 1).contiguous()


def demo(scale: int, root=None, size: int = 256) -> list[SRPair]:
    """Centre crops of ``size`` pixels keep the offline demo fast on a laptop CPU."""
    pairs = []
    for name in DEMO_IMAGES:
        img = skimage_image(name)
        h, w = img.shape[-2:]
        top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
        pairs.append(make_pair(name, img[:, top:top + size, left:left + size], scale))
    return pairs
