"""I-FGSM for super-resolution, as in Choi et al. (ICCV 2019)'s public code.

d starts at 0 (or uniform in [-eps, eps] with ``init="uniform"``); each of T
steps does d <- clip(d + (alpha/T) * sign(grad), -eps, eps) with eps = alpha
(alpha in units of 1/255); the model sees clamp(y + d, 0, 1); the loss is
the MSE of the model's output to a target (the HR image in that code; the
clean output with ``target="clean"``, which needs a random start because the
gradient at d = 0 is exactly zero). For stochastic models the loss is
averaged over the ``n_eot`` seeds per image the evaluator passes in as z
(expectation over transformation), batched ``z_chunk`` at a time.
"""
from __future__ import annotations

import dataclasses

import torch

from srbench.attacks import LINF_ALPHA, Attack, check_steps_and_seeds, seed_averaged_grad
from srbench.data.images import quantize as quantize_8bit
from srbench.errors import UserError, shown
from srbench.restorer import DEFAULT_N_SEEDS


@dataclasses.dataclass
class IFGSM(Attack):
    name = "ifgsm"
    budget = LINF_ALPHA
    takes_target = True

    alpha: float = 8.0  # L_inf budget in units of 1/255
    steps: int = 50
    init: str = "zero"  # zero | uniform
    target: str = "hr"  # hr | clean (the evaluator builds the target tensor)
    quantize: bool = False  # round the attacked input to 8 bits before evaluation
    n_eot: int = DEFAULT_N_SEEDS  # seeds per step for stochastic models (ignored for deterministic ones)
    z_chunk: int | None = None  # seeds per forward/backward batch
    seed: int = 0  # random start

    n_seeds = property(lambda self: self.n_eot)
    seed_chunk = property(lambda self: self.z_chunk)
    n_steps = property(lambda self: self.steps)

    def validate(self) -> None:
        if not self.alpha >= 0:
            raise UserError(f"alpha must be >= 0 (in units of 1/255), got {self.alpha}")
        check_steps_and_seeds(self.steps, self.n_eot, self.z_chunk)
        if self.init not in ("zero", "uniform"):
            raise UserError(f"{{init}} must be 'zero' or 'uniform', got {shown(self.init)}", {"init": ""})
        if self.target not in ("hr", "clean"):
            raise UserError(f"{{target}} must be 'hr' or 'clean', got {shown(self.target)}", {"target": ""})
        if self.target == "clean" and self.init == "zero" and self.alpha > 0:
            raise UserError("{target} needs {init}: the gradient at d = 0 is exactly zero",
                            {"target": "clean", "init": "uniform"})

    @property
    def eps(self) -> float:
        return self.alpha / 255.0

    def __call__(self, restorer, y, target=None, z=None, on_step=None):
        if target is None:
            raise ValueError("ifgsm takes a target tensor (the HR image or the clean output)")
        eps, step = self.eps, self.eps / self.steps
        if self.init == "uniform":
            g = torch.Generator(device="cpu").manual_seed(self.seed)
            d = (torch.rand(y.shape, generator=g) * 2 - 1).to(y.device, y.dtype) * eps
        else:
            d = torch.zeros_like(y)
        trace = []
        for t in range(self.steps):
            v = y + d
            grad, loss = seed_averaged_grad(restorer, v.clamp(0, 1), target, z, self.z_chunk)
            grad = grad * ((v >= 0) & (v <= 1))  # clamp's gradient
            d = (d + step * grad.sign()).clamp(-eps, eps)
            trace.append(loss)
            if on_step is not None:
                on_step(t + 1)
        y_adv = (y + d).clamp(0, 1)
        if self.quantize:
            y_adv = quantize_8bit(y_adv)
        record = {"eps": eps, "step_size": step, "loss_trace": torch.stack(trace, 1).tolist()}
        return y_adv.detach(), record
