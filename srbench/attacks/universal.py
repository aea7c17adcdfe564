"""A universal perturbation (Choi et al.'s universal attack): one patch for every image.

One perturbation P of ``patch`` x ``patch`` LR pixels (C channels), tiled over an image from its
top-left corner and cut at its right and bottom edges, is learned on the first ``train_images``
images of the dataset (:meth:`Universal.split`) with I-FGSM's sign steps: each of ``steps`` steps
sums, over the training images, the gradient of the seed-averaged MSE of the output on
clamp(y + tile(P), 0, 1) to the target (HR or the clean output) with respect to P (the tiles'
gradients add up), then P <- clip(P + (alpha/T) * sign(sum), -eps, eps), P starting at 0 (or
uniform in the ball with ``init="uniform"``, needed for ``target="clean"``). It is then added,
unchanged, to every other image. The executor fits it once per cell and saves it with the run
(RUN_DIR/images/<cell>/universal__delta.npy and .png; srbench/bench/saved_images.py).
"""
from __future__ import annotations

import dataclasses
import math

import torch

from srbench.attacks import seed_averaged_grad
from srbench.attacks.ifgsm import IFGSM, uniform_start
from srbench.core.errors import UserError


def tile(patch: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """C x p x p patch repeated over an image from its top-left corner, cut to C x height x width."""
    p = patch.shape[-1]
    return patch.repeat(1, math.ceil(height / p), math.ceil(width / p))[:, :height, :width]


def fold(grad: torch.Tensor, p: int) -> torch.Tensor:
    """The gradient w.r.t. the patch of C x h x w gradients w.r.t. its tiling: the sum over the tiles."""
    c, h, w = grad.shape
    padded = grad.new_zeros(c, math.ceil(h / p) * p, math.ceil(w / p) * p)
    padded[:, :h, :w] = grad
    return padded.view(c, padded.shape[1] // p, p, padded.shape[2] // p, p).sum((1, 3))


@dataclasses.dataclass
class Universal(IFGSM):
    name = "universal"
    fits_on_split = True

    patch: int = 32  # side of the perturbation in LR pixels
    train_images: int = 2  # fitted on the first k images of the dataset, evaluated on the others

    def __post_init__(self):
        self.perturbation: torch.Tensor | None = None  # C x patch x patch, set by fit()
        self.trained_on: list[str] = []

    def validate(self) -> None:
        super().validate()
        if self.patch < 1:
            raise UserError(f"{{patch}} must be >= 1 (LR pixels), got {self.patch}", {"patch": ""})
        if self.train_images < 1:
            raise UserError(f"{{train_images}} must be >= 1, got {self.train_images}", {"train_images": ""})

    def split(self, names):
        if len(names) <= self.train_images:
            raise UserError(f"attack universal fits on the first {{train_images}} = {self.train_images} images and "
                            f"is evaluated on the others, but the dataset has {len(names)}; lower train_images "
                            f"(or raise limit)", {"train_images": ""})
        return list(names[:self.train_images]), list(names[self.train_images:])

    def fit(self, restorer, names, ys, targets, zs, on_step=None):
        eps, step = self.eps, self.eps / self.steps
        shape = (ys[0].shape[1], self.patch, self.patch)
        if self.init == "uniform":
            p = uniform_start(torch.empty(shape, device=ys[0].device, dtype=ys[0].dtype), eps,
                              torch.Generator(device="cpu").manual_seed(self.seed))
        else:
            p = ys[0].new_zeros(shape)
        trace = []
        for t in range(self.steps):
            total, loss = torch.zeros_like(p), 0.0
            for y, target, z in zip(ys, targets, zs):
                v = y + tile(p, *y.shape[-2:])
                grad, image_loss = seed_averaged_grad(restorer, v.clamp(0, 1), target, z, self.z_chunk)
                total += fold((grad * ((v >= 0) & (v <= 1)))[0], self.patch)
                loss += image_loss.item() / len(ys)
            p = (p + step * total.sign()).clamp(-eps, eps)
            trace.append(loss)
            if on_step is not None:
                on_step(t + 1)
        self.perturbation, self.trained_on, self.fit_trace = p.detach(), list(names), trace
        return {"universal": self.perturbation}

    def __call__(self, restorer, y, target=None, z=None, on_step=None):
        if self.perturbation is None:
            raise ValueError("universal: fit() it on its training images first (the executor does)")
        d = tile(self.perturbation.to(y.device, y.dtype), *y.shape[-2:]).expand_as(y)
        record = {"eps": self.eps, "step_size": self.eps / self.steps,
                  "per_image": [{"universal_train_images": self.trained_on,
                                 "universal_fit_loss": self.fit_trace[-1]}] * y.shape[0]}
        return self.attacked(y, d), record
