"""Targeted I-FGSM (Choi et al.'s targeted variant): move the output towards a chosen target.

The same update as I-FGSM (srbench/attacks/ifgsm.py, same step code) taken *against* the
gradient of the seed-averaged MSE to the target: d <- clip(d - (alpha/T) * sign(grad), -eps, eps),
d starting at 0. The target is an option (srbench/attacks/targets.py): ``other-image`` (the clean
output of the next image of the dataset, resized) or ``region`` (the clean output with its central
square flipped). Rows report ``target_psnr``, the PSNR of the attacked output to the target, and
``clean_target_psnr``, the clean output's, for reference.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from srbench.attacks.ifgsm import IFGSM
from srbench.attacks.targets import OTHER_IMAGE, TARGETED_TARGETS


@dataclasses.dataclass
class TargetedIFGSM(IFGSM):
    name = "ifgsm-targeted"
    targeted = True

    target: str = OTHER_IMAGE  # other-image | region (srbench/attacks/targets.py)

    targets: ClassVar[tuple[str, ...]] = TARGETED_TARGETS
