"""An attack: random sign noise at the L_inf budget (a weak baseline every real attack should beat).

An attack is a dataclass of options (they become YAML keys / --options and
are recorded with every result) with ``__call__(restorer, y, target, z, on_step)``
returning the attacked input and a record. ``budget`` declares the option
that a suite's ``alphas`` sweep over, with its unit and norm (``LINF_ALPHA``:
``alpha``, in units of 1/255, L_inf). It takes no target (``takes_target``
stays False) and ignores the seeds z of stochastic models.
"""
from __future__ import annotations

import dataclasses

import torch

from srbench import UserError
from srbench.attacks import LINF_ALPHA, Attack


@dataclasses.dataclass
class RandomSignNoise(Attack):
    name = "example-noise"
    budget = LINF_ALPHA  # alpha, swept by the suite's alphas, in units of 1/255

    alpha: float = 8.0
    seed: int = 0  # the runner fills in the run's seed

    def validate(self) -> None:
        if not self.alpha >= 0:
            raise UserError(f"alpha must be >= 0 (in units of 1/255), got {self.alpha}")

    def __call__(self, restorer, y, target=None, z=None, on_step=None):
        g = torch.Generator(device="cpu").manual_seed(self.seed)
        sign = torch.randint(0, 2, y.shape, generator=g).to(y.device, y.dtype) * 2 - 1
        eps = self.alpha / 255.0
        if on_step is not None:
            on_step(1)
        return (y + eps * sign).clamp(0, 1), {"eps": eps, "steps": 1}
