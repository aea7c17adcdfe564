"""L_inf PGD with random restarts (Madry et al. 2018) for super-resolution.

Each of R restarts starts at d uniform in the L_inf ball of radius eps = alpha/255
(``init="zero"``: at 0) and runs T steps of I-FGSM's update (the same code,
srbench/attacks/ifgsm.py: d <- clip(d + step * sign(grad), -eps, eps) on the
seed-averaged MSE of the output on clamp(y + d, 0, 1) to the target), with
step = step_factor * eps / T: 2.5 eps / T by default, Madry et al.'s choice, so
a run can cross the ball and come back; step_factor 1 is I-FGSM's alpha/T. Per
image it keeps the restart whose final loss (same seeds) is highest. The random
starts are drawn one after the other from one generator seeded with ``seed``,
so restart r is the same whatever R: more restarts never lower the loss reached.
With 1 restart, ``init="zero"`` and ``step_factor=1`` it is I-FGSM exactly.
"""
from __future__ import annotations

import dataclasses

import torch

from srbench.attacks import seed_averaged_loss
from srbench.attacks.ifgsm import IFGSM, sign_steps, uniform_start
from srbench.core.errors import UserError

MADRY_STEP_FACTOR = 2.5  # step = 2.5 eps / T (Madry et al. 2018)


@dataclasses.dataclass
class PGD(IFGSM):
    name = "pgd"

    init: str = "uniform"  # uniform (in the ball) | zero
    restarts: int = 3
    step_factor: float = MADRY_STEP_FACTOR  # step = step_factor * alpha / steps (1: I-FGSM's step)

    n_steps = property(lambda self: self.steps * self.restarts)

    def validate(self) -> None:
        super().validate()
        if self.restarts < 1:
            raise UserError(f"{{restarts}} must be >= 1, got {self.restarts}", {"restarts": ""})
        if not self.step_factor > 0:
            raise UserError(f"{{step_factor}} must be > 0 (step = step_factor * alpha / steps), got {self.step_factor}",
                            {"step_factor": ""})

    def __call__(self, restorer, y, target=None, z=None, on_step=None):
        if target is None:
            raise ValueError("pgd takes a target tensor (srbench/bench/evaluate.py builds it)")
        eps = self.eps
        step = self.step_factor * eps / self.steps
        generator = torch.Generator(device="cpu").manual_seed(self.seed)
        best_d, best_loss, best_restart, traces = None, None, None, []
        for r in range(self.restarts):
            d0 = uniform_start(y, eps, generator) if self.init == "uniform" else torch.zeros_like(y)
            progress = None if on_step is None else (lambda t, r=r: on_step(r * self.steps + t))
            d, trace = sign_steps(restorer, y, d0, target, z, eps, step, self.steps, self.z_chunk, progress)
            loss = seed_averaged_loss(restorer, self.attacked(y, d), target, z, self.z_chunk)
            traces.append(torch.stack(trace, 1))
            if best_d is None:
                best_d, best_loss, best_restart = d, loss, torch.zeros_like(loss, dtype=torch.long)
            else:
                better = loss > best_loss  # ties keep the earlier restart
                best_d = torch.where(better.view(-1, *[1] * (y.dim() - 1)), d, best_d)
                best_loss = torch.where(better, loss, best_loss)
                best_restart = torch.where(better, torch.full_like(best_restart, r), best_restart)
        chosen = torch.stack(traces)[best_restart, torch.arange(y.shape[0])]  # each image's winning trace
        record = {"eps": eps, "step_size": step, "loss_trace": chosen.tolist(),
                  "per_image": [{"best_restart": int(r), "attack_loss": float(v)}
                                for r, v in zip(best_restart.tolist(), best_loss.tolist())]}
        return self.attacked(y, best_d), record
