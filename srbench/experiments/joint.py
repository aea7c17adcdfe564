"""The joint perceptual index (``jfid``) and plain FID / precision / recall for restorations.

Ohayon, Michaeli, Elad (ICML 2024) measure perceptual quality with a
divergence between the *joint* distributions p_{X,Y} and p_{Xhat,Y}; a
restorer can have perfect marginal quality (p_Xhat = p_X) and still pair
its outputs with the wrong measurements. Here both are estimated from
samples, in the feature space of a pluggable extractor:

- a pair (x, y) becomes the feature vector [phi(x), phi(up(y))], where up(y)
  is the measurement brought to the image size by MATLAB bicubic
  interpolation (:func:`bring_to_size`) and phi maps B x 3 x H x W images in
  [0, 1] to B x D features;
- ``jfid`` is the Fréchet distance between the Gaussian fits of the joint
  features of {(x_i, y_i)} and {(xhat_i, y_i)}; ``fid`` the plain one of
  {phi(x_i)} against {phi(xhat_i)}; ``jprecision``/``jrecall`` and
  ``precision``/``recall`` (k = 3, Kynkäänniemi et al. 2019) likewise
  (:mod:`srbench.experiments.distribution` does the statistics).

Benchmark sets are small (Set5: 5 images), so by default every image is cut
into non-overlapping ``patch`` x ``patch`` tiles (the same tiles of x, xhat
and up(y)) and each tile is one sample, as in patch-FID for SR. The numbers
depend on the extractor: compare models only under the same extractor and
patch size.

Extractors: any callable ``features(images: Tensor[B,3,H,W]) -> Tensor[B,D]``,
or a name from :data:`EXTRACTORS`: ``random-conv`` (default; a fixed,
seeded random-weight conv net on the image and its high-pass residual, with
std pooling at three scales: offline, no download, sensitive to blur, noise
and texture; :class:`RandomConvFeatures`) and ``pixels`` (4 x 4
average-pooled pixels).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from srbench.core.errors import UserError
from srbench.core.registry import Registry
from srbench.data.bicubic import imresize
from srbench.experiments.distribution import fid as _fid
from srbench.experiments.distribution import precision_recall

Features = Callable[[torch.Tensor], torch.Tensor]

__all__ = ["EXTRACTORS", "get_extractor", "RandomConvFeatures", "pixel_features", "bring_to_size", "tiles",
           "pair_features", "joint_index"]


class RandomConvFeatures(nn.Module):
    """A fixed random-weight conv net (seeded, He-scaled weights, zero biases).

    Input: the image (normalised) and its 3 x 3 high-pass residual (x8), 6
    channels; three conv3x3 + ReLU stages (16, 32, ``width`` channels) with
    2 x 2 average pooling between them. Features: the std over positions of
    every stage (texture energy at three scales) and the mean of the last
    stage: 16 + 32 + 2 * width dims (96 by default). The high-pass branch
    makes it sensitive to blur, noise and GAN texture, which mean-pooled
    random features alone barely see.
    """

    def __init__(self, width: int = 24, seed: int = 0, highpass_gain: float = 8.0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        chans = [6, 16, 32, width]
        self.highpass_gain = highpass_gain
        self.convs = nn.ModuleList()
        for cin, cout in zip(chans[:-1], chans[1:]):
            conv = nn.Conv2d(cin, cout, 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * (2.0 / (cin * 9)) ** 0.5)
                conv.bias.zero_()
            self.convs.append(conv)
        self.requires_grad_(False)
        self.eval()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        local_mean = nn.functional.avg_pool2d(nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)
        h = torch.cat([(x - 0.45) / 0.25, (x - local_mean) * self.highpass_gain], 1)
        feats = []
        for i, conv in enumerate(self.convs):
            h = torch.relu(conv(h))
            feats.append(h.flatten(2).std(2))
            if i < len(self.convs) - 1:
                h = nn.functional.avg_pool2d(h, 2)
        return torch.cat([h.flatten(2).mean(2)] + feats, 1)


def pixel_features(images: torch.Tensor) -> torch.Tensor:
    """4 x 4 average-pooled RGB: 48 dims."""
    return nn.functional.adaptive_avg_pool2d(images.float(), 4).flatten(1)


# name -> factory of a features callable
EXTRACTORS = Registry("joint feature extractor")
EXTRACTORS.register("random-conv", RandomConvFeatures)
EXTRACTORS.register("pixels", lambda: pixel_features)


def get_extractor(spec: str | Features | None = None) -> Features:
    """A feature extractor by name (``random-conv``, ``pixels``) or the callable itself."""
    if spec is None:
        spec = "random-conv"
    if callable(spec):
        return spec
    return EXTRACTORS.get(spec)()


def bring_to_size(y: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The measurement y (..., 3, h, w) resized to ``size`` by MATLAB bicubic (identity if already that size)."""
    if tuple(y.shape[-2:]) == tuple(size):
        return y
    return imresize(y.double(), size=tuple(size)).float().clamp(0, 1)


def tiles(img: torch.Tensor, patch: int | None) -> torch.Tensor:
    """Non-overlapping patch x patch tiles (N x 3 x p x p) of a 3 x H x W image; the whole image if patch is None."""
    if not patch:
        return img[None]
    c, h, w = img.shape
    if h < patch or w < patch:
        raise UserError(f"image of {h}x{w} pixels is smaller than the feature patch {patch}; lower {{patch}}",
                        {"patch": ""})
    t = img[:, : h - h % patch, : w - w % patch].unfold(1, patch, patch).unfold(2, patch, patch)
    return t.permute(1, 2, 0, 3, 4).reshape(-1, c, patch, patch)


def _features_of(features: Features, batch: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    return torch.cat([features(batch[i:i + chunk]).detach().double().cpu() for i in range(0, batch.shape[0], chunk)])


def pair_features(xs: Sequence[torch.Tensor], ys: Sequence[torch.Tensor], features: str | Features | None = None,
                  patch: int | None = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """Features of image tiles and of the joint (image, measurement) tiles.

    xs: images 3 x H x W; ys: their measurements 3 x h x w (any size; brought
    to H x W). Returns (phi(x) as N x D, [phi(x), phi(up(y))] as N x 2D), one
    row per tile.
    """
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} images but {len(ys)} measurements")
    phi = get_extractor(features)
    fx, fy = [], []
    for x, y in zip(xs, ys):
        x = x.detach().float().cpu()
        y_up = bring_to_size(y.detach().float().cpu(), tuple(x.shape[-2:]))
        fx.append(_features_of(phi, tiles(x, patch)))
        fy.append(_features_of(phi, tiles(y_up, patch)))
    fx, fy = torch.cat(fx), torch.cat(fy)
    return fx, torch.cat([fx, fy], 1)


def joint_index(xs: Sequence[torch.Tensor], xhats: Sequence[torch.Tensor], ys: Sequence[torch.Tensor],
                features: str | Features | None = None, patch: int | None = 48, k: int = 3) -> dict[str, float]:
    """jfid / fid and (joint) precision / recall of restorations xhats against ground truths xs.

    xs[i] and xhats[i] are restorations of the measurement ys[i]. The real
    joint sample is {(x_i, y_i)}, the fake one {(xhat_i, y_i)}.
    """
    phi = get_extractor(features)  # build once (random-conv) and share between the two sets
    real, real_joint = pair_features(xs, ys, phi, patch)
    fake, fake_joint = pair_features(xhats, ys, phi, patch)
    out = {"jfid": _fid(real_joint, fake_joint), "fid": _fid(real, fake), "n_samples": int(real.shape[0])}
    if real.shape[0] > k:
        out["jprecision"], out["jrecall"] = precision_recall(real_joint, fake_joint, k=k)
        out["precision"], out["recall"] = precision_recall(real, fake, k=k)
    return out
