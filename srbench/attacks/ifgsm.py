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
from typing import ClassVar

import torch

from srbench.attacks import LINF_ALPHA, Attack, check_steps_and_seeds, seed_averaged_grad
from srbench.core.errors import UserError, shown
from srbench.core.restorer import DEFAULT_N_SEEDS
from srbench.core.pixels import quantize as quantize_8bit


@dataclasses.dataclass
class IFGSM(Attack):
    name = "ifgsm"
    budget = LINF_ALPHA
    takes_target = True

    alpha: float = 8.0  # L_inf budget in units of 1/255
    steps: int = 50
    init: str = "zero"  # zero | uniform
    target: str = "hr"  # one of `targets` (the evaluator builds the target tensor)
    quantize: bool = False  # round the attacked input to 8 bits before evaluation
    n_eot: int = DEFAULT_N_SEEDS  # seeds per step for stochastic models (ignored for deterministic ones)
    z_chunk: int | None = None  # seeds per forward/backward batch
    seed: int = 0  # random start

    n_seeds = property(lambda self: self.n_eot)
    seed_chunk = property(lambda self: self.z_chunk)
    n_steps = property(lambda self: self.steps)
    targets: ClassVar[tuple[str, ...]] = ("hr", "clean")  # what the target option may name

    def validate(self) -> None:
        if not self.alpha >= 0:
            raise UserError(f"alpha must be >= 0 (in units of 1/255), got {self.alpha}")
        check_steps_and_seeds(self.steps, self.n_eot, self.z_chunk)
        if self.init not in ("zero", "uniform"):
            raise UserError(f"{{init}} must be 'zero' or 'uniform', got {shown(self.init)}", {"init": ""})
        if self.target not in self.targets:
            raise UserError(f"{{target}} must be {' or '.join(repr(t) for t in self.targets)}, got {shown(self.target)}",
                            {"target": ""})
        if self.target == "clean" and self.init == "zero" and self.alpha > 0:
            raise UserError("{target} needs {init}: the gradient at d = 0 is exactly zero",
                            {"target": "clean", "init": "uniform"})

    @property
    def eps(self) -> float:
        return self.alpha / 255.0

    def __call__(self, restorer, y, target=None, z=None, on_step=None):
        if target is None:
            raise ValueError(f"{self.name} takes a target tensor (srbench/bench/evaluate.py builds it)")
        eps, step = self.eps, self.eps / self.steps
        if self.init == "uniform":
            d = uniform_start(y, eps, torch.Generator(device="cpu").manual_seed(self.seed))
        else:
            d = torch.zeros_like(y)
        d, trace = sign_steps(restorer, y, d, target, z, eps, step, self.steps, self.z_chunk, on_step,
                              descend=self.targeted)
        record = {"eps": eps, "step_size": step, "loss_trace": torch.stack(trace, 1).tolist()}
        return self.attacked(y, d), record

    def attacked(self, y: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """The input the model is evaluated on: clamp(y + d, 0, 1), rounded to 8 bits with ``quantize``."""
        y_adv = (y + d).clamp(0, 1)
        return (quantize_8bit(y_adv) if self.quantize else y_adv).detach()


def uniform_start(y: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
    """A random start uniform in the L_inf ball of radius eps (drawn on the CPU: the same on any device)."""
    return (torch.rand(y.shape, generator=generator) * 2 - 1).to(y.device, y.dtype) * eps


def sign_steps(restorer, y: torch.Tensor, d: torch.Tensor, target: torch.Tensor, z, eps: float, step: float,
               steps: int, z_chunk: int | None = None, on_step=None, descend: bool = False
               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Choi et al.'s update, ``steps`` times: d <- clip(d + step * sign(grad), -eps, eps).

    grad is the gradient of the seed-averaged MSE between the output on clamp(y + d, 0, 1) and
    ``target``; ``descend`` steps against it (a targeted attack moves towards its target). The one
    step loop of ifgsm, pgd and ifgsm-targeted. Returns d and the per-step loss (before each step).
    """
    trace = []
    for t in range(steps):
        v = y + d
        grad, loss = seed_averaged_grad(restorer, v.clamp(0, 1), target, z, z_chunk)
        grad = grad * ((v >= 0) & (v <= 1))  # clamp's gradient
        d = (d - step * grad.sign() if descend else d + step * grad.sign()).clamp(-eps, eps)
        trace.append(loss)
        if on_step is not None:
            on_step(t + 1)
    return d, trace
