"""The Adam L2 attack of Ohayon et al. (2023), Eq. 6: same-seed sensitivity in an L2 ball.

Maximises the seed-averaged same-seed sensitivity

    E_Z || G(y, Z) - G(y + d, Z) ||^2     over ||d||_2 <= eps (per image, images in [0, 1])

with ``steps`` Adam steps (lr ``lr``, betas (0.9, 0.999), a fresh optimizer
per call), d projected onto the L2 ball after every step. For a stochastic
model the expectation is over the seeds z the caller passes (the runner
passes ``n_seeds`` draws per image) or, when z is None, ``n_eot`` seeds drawn
from ``seed``; seeds are batched ``z_chunk`` at a time (same result). A
deterministic model uses its single output. The objective needs no HR target
(``target`` is ignored). Its gradient at d = 0 is exactly zero, so d starts
at a small random point inside the ball (radius ``init_radius * eps``, random
direction).

The model sees clamp(y + d, 0, 1) and the attacked input returned is that
clamped image; clamping moves every pixel towards y, so the perturbation
never leaves the ball.

The budget is ``eps`` (L2 radius), or a target adversarial-input PSNR:
with ``target_input_psnr`` set, eps = sqrt(n * 10^(-PSNR/10)) for n input
values per image (0.553 for a 16x16x3 input at 34 dB), and the ``eps`` option
is ignored.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from srbench.attacks import Attack
from srbench.errors import UserError
from srbench.restorer import batch_size_of_z, repeat_seeds, slice_z
from srbench.train.robustness import l2_project


def eps_for_input_psnr(n_values: int, psnr_db: float) -> float:
    """L2 radius whose full use gives PSNR(y, y + d) = psnr_db for n input values in [0, 1]."""
    return math.sqrt(n_values * 10.0 ** (-psnr_db / 10.0))


@dataclasses.dataclass
class AdamL2(Attack):
    name = "adam-l2"
    budget_name = "eps"

    eps: float = 0.5  # L2 radius per image, pixel range [0, 1]
    steps: int = 5
    lr: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.999
    n_eot: int = 10  # seeds when the caller passes none (stochastic models)
    z_chunk: int | None = None
    target_input_psnr: float | None = None  # dB; when set, eps is derived per image
    init_radius: float = 0.01  # random start radius, as a fraction of eps
    seed: int = 0

    def validate(self) -> None:
        if not self.eps >= 0:
            raise UserError(f"eps must be >= 0 (L2 radius, images in [0, 1]), got {self.eps}")
        if self.steps < 1:
            raise UserError(f"--steps must be >= 1, got {self.steps}")
        if not self.lr > 0:
            raise UserError(f"lr must be > 0, got {self.lr}")
        if self.n_eot < 1 or (self.z_chunk is not None and self.z_chunk < 1):
            raise UserError("--n-eot and --z-chunk must be >= 1")
        if self.target_input_psnr is not None and not self.target_input_psnr > 0:
            raise UserError(f"--target-input-psnr must be > 0 dB, got {self.target_input_psnr}")
        if not 0 < self.init_radius <= 1:
            raise UserError(f"init_radius must be in (0, 1], got {self.init_radius}")

    def radius(self, y: torch.Tensor) -> float:
        if self.target_input_psnr is not None:
            return eps_for_input_psnr(y[0].numel(), self.target_input_psnr)
        return float(self.eps)

    def __call__(self, restorer, y, target=None, z=None, on_step=None):
        y = y.detach()
        b = y.shape[0]
        eps = self.radius(y)
        g = torch.Generator(device="cpu").manual_seed(self.seed)
        if z is None and restorer.stochastic:
            z = restorer.sample_z(y, self.n_eot, g)
        n = 1 if z is None else batch_size_of_z(z) // b
        chunk = n if not self.z_chunk or self.z_chunk >= n else self.z_chunk
        if eps == 0:
            return y.clone(), {"eps": 0.0, "steps": 0, "loss_trace": [[] for _ in range(b)]}
        direction = torch.randn(y.shape, generator=g).to(y.device, y.dtype)
        d = direction / direction.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, *([1] * (y.dim() - 1)))
        d = (d * self.init_radius * eps).requires_grad_(True)
        opt = torch.optim.Adam([d], lr=self.lr, betas=(self.beta1, self.beta2))  # fresh state per call
        with torch.no_grad():
            clean = [restorer.restore(repeat_seeds(y, k1 - k0), slice_z(z, k0 * b, k1 * b))
                     for k0, k1 in _chunks(n, chunk)]
        trace = []
        for t in range(self.steps):
            grad = torch.zeros_like(y)
            per_image = torch.zeros(b, dtype=torch.float64, device=y.device)
            with torch.enable_grad():
                for (k0, k1), c in zip(_chunks(n, chunk), clean):
                    dd = d.detach().requires_grad_(True)
                    v = repeat_seeds((y + dd).clamp(0, 1), k1 - k0)
                    out = restorer.restore(v, slice_z(z, k0 * b, k1 * b))
                    per_row = (out - c).pow(2).flatten(1).sum(1)  # squared L2 per seed and image
                    (gc,) = torch.autograd.grad(per_row.sum(), dd)
                    grad += gc
                    per_image += per_row.detach().double().view(k1 - k0, b).sum(0)
            trace.append(per_image / n)
            d.grad = -grad / n  # Adam minimises; we ascend
            opt.step()
            with torch.no_grad():
                d.copy_(l2_project(d, eps))
            if on_step is not None:
                on_step(t + 1)
        y_adv = (y + d.detach()).clamp(0, 1)
        record = {"eps": eps, "steps": self.steps, "n_seeds": n,
                  "loss_trace": torch.stack(trace, 1).tolist()}
        return y_adv.detach(), record


def _chunks(n: int, chunk: int):
    return [(k0, min(n, k0 + chunk)) for k0 in range(0, n, chunk)]
