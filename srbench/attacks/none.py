"""The clean evaluation: no perturbation."""
from __future__ import annotations

import dataclasses

from srbench.attacks import Attack


@dataclasses.dataclass
class NoAttack(Attack):
    name = "none"

    def __call__(self, restorer, y, target=None, z=None, on_step=None):
        return y, {"steps": 0}
