"""Pluggable feature extractors for FID / precision / recall of image samples.

- ``inception``: torchvision's InceptionV3 (ImageNet weights, 2048-d pool
  features, inputs resized to 299 x 299 bilinearly and normalised as
  torchvision expects). The weights are fetched on first use through
  :func:`srbench.models.card.resolve_weights` (cached, sha256-prefix checked). Note:
  these are torchvision's weights, not the TF-FID Inception graph, so FIDs
  are comparable between srbench runs, not to numbers computed with the
  TensorFlow/pytorch-fid reference network.
- ``random``: a fixed, seeded random convolutional network (no download,
  works offline; for tests and quick comparisons only).
- ``pixels``: the images downsampled to 16 x 16, flattened.

``get_extractor(name)`` returns a callable mapping N x 3 x H x W in [0, 1]
to an N x D float tensor (computed in batches, no gradients).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from srbench.core.registry import Registry
from srbench.models.card import ModelCard, resolve_weights
from srbench.models.weights import Weights, read_state_dict

INCEPTION_CARD = ModelCard(
    name="inception-v3-features",
    build=lambda: None,
    scale=1,
    weights=Weights(file="inception_v3_google-0cc3c7bd.pth",
                    sources=("https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",),
                    how_to_get="torchvision's InceptionV3 ImageNet weights"),
    license="BSD-3-Clause (torchvision)",
    paper="Szegedy et al., Rethinking the Inception Architecture, CVPR 2016",
)


class Extractor:
    def __init__(self, net: nn.Module, prep: Callable[[torch.Tensor], torch.Tensor], name: str,
                 batch_size: int = 64, device: str | torch.device = "cpu"):
        self.net, self.prep, self.name, self.batch_size = net.eval().to(device), prep, name, batch_size
        self.device = torch.device(device)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        for i in range(0, images.shape[0], self.batch_size):
            x = images[i:i + self.batch_size].to(self.device, torch.float32)
            out.append(self.net(self.prep(x)).flatten(1).double().cpu())
        return torch.cat(out)


def _inception(device) -> Extractor:
    from torchvision.models import inception_v3

    path = resolve_weights(INCEPTION_CARD)
    net = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=True)
    net.load_state_dict(read_state_dict(path))
    net.fc = nn.Identity()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def prep(x):
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return (x - mean.to(x.device)) / std.to(x.device)

    return Extractor(net, prep, "inception", 32, device)


def _random(device, dim: int = 64, seed: int = 0) -> Extractor:
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
                        nn.Conv2d(64, dim, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
    for p in net.parameters():
        with torch.no_grad():
            p.copy_(torch.randn(p.shape, generator=g) / (p[0].numel() ** 0.5 if p.dim() > 1 else 10))
    return Extractor(net, lambda x: x * 2 - 1, "random", 256, device)


def _pixels(device) -> Extractor:
    return Extractor(nn.Identity(), lambda x: F.adaptive_avg_pool2d(x, 16), "pixels", 1024, device)


EXTRACTORS = Registry("feature extractor")
EXTRACTORS.register("inception", _inception)
EXTRACTORS.register("random", _random)
EXTRACTORS.register("pixels", _pixels)


def get_extractor(name: str = "inception", device: str | torch.device = "cpu") -> Extractor:
    """The extractor registered as ``name``, on ``device`` (an unknown name is a did-you-mean UserError)."""
    return EXTRACTORS.get(name)(device)
