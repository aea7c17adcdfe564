"""The GAN trainer shared by the toy study and the image GANs of paper 1.

Everything problem-specific is a parameter:

- ``generator(y, z) -> raw`` and ``critic(x) -> logits`` (``nn.Module``\\ s);
- ``data(batch_size, rng) -> (x, y)``: a batch of clean signals and their
  degraded inputs, drawn with the trainer's ``torch.Generator`` ``rng``;
- ``sample_z(y, n, rng) -> z``: seeds for n draws per input, seed-major (see
  :mod:`srbench.core.restorer`), or ``None`` for a deterministic estimator (the
  generator then receives ``z=None``);
- ``consistency(raw, y) -> x_hat``: the consistency projection (identity by
  default); the critic and the robustness term see ``consistency(generator(y,
  z), y)``;
- ``robustness(fn, y, sample_z, rng) -> per-sample R~`` with gradients to fn's
  parameters, e.g. :meth:`srbench.experiments.training.robustness.AdamL2Attack.penalty`;
  its mean times ``lambda_r`` is added on every ``robust_every``-th generator
  step;
- ``validate(trainer, step) -> dict`` called every ``val_every`` steps and at
  the end; the dicts land in ``trainer.history``.

Losses (one step = one critic update then one generator update, 1:1):

    L_D = E softplus(-D(x)) + E softplus(D(x_hat)) + (r1_gamma / 2) E ||grad_x D(x)||^2   (R1 on real data)
    L_G = E softplus(-D(x_hat)) + lambda_r * mean R~(y)   (non-saturating)

Adam for both networks, optional step decay (MultiStepLR) for both. All
randomness goes through ``trainer.rng``; a checkpoint holds the models,
optimizers, schedulers, RNG states (trainer, torch global, CUDA), the step and
the history, so ``GANTrainer(...).load(path)`` followed by ``train()``
continues bit-identically to an uninterrupted run (same device and thread
count).
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from srbench.files import atomic_path
from srbench.models.weights import load_checkpoint_file

__all__ = ["GANConfig", "GANTrainer"]


@dataclass
class GANConfig:
    steps: int
    batch_size: int
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.9)
    r1_gamma: float = 10.0
    lambda_r: float = 0.0
    robust_every: int = 1
    robust_batch_size: int | None = None  # inputs per robustness term (first ones of the G batch); None = all
    lr_milestones: tuple[int, ...] = ()
    lr_decay: float = 1.0
    seed: int = 0
    val_every: int = 0  # 0: only at the end
    ckpt_every: int = 0  # 0: only at the end (when a checkpoint path is set)
    log_every: int = 50

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _identity(raw: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return raw


class GANTrainer:
    def __init__(self, generator: nn.Module, critic: nn.Module, data: Callable, config: GANConfig, *,
                 sample_z: Callable | None = None, consistency: Callable | None = None,
                 robustness: Callable | None = None, validate: Callable | None = None,
                 checkpoint: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                 progress: bool = True, description: str = "GAN"):
        if config.lambda_r and robustness is None:
            raise ValueError("lambda_r > 0 needs a robustness callable (e.g. AdamL2Attack(...).penalty)")
        self.config = config
        self.device = torch.device(device)
        self.G = generator.to(self.device)
        self.D = critic.to(self.device)
        self.data = data
        self.sample_z = sample_z
        self.consistency = consistency or _identity
        self.robustness = robustness
        self.validate = validate
        self.checkpoint = os.fspath(checkpoint) if checkpoint else None
        self.progress = progress
        self.description = description
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(config.seed)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr_g, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr_d, betas=config.betas)
        ms = list(config.lr_milestones)
        self.sched_g = torch.optim.lr_scheduler.MultiStepLR(self.opt_g, ms, gamma=config.lr_decay)
        self.sched_d = torch.optim.lr_scheduler.MultiStepLR(self.opt_d, ms, gamma=config.lr_decay)
        self.step = 0
        self.history: list[dict] = []  # losses every log_every steps and validation dicts
        self.wall_s = 0.0

    # -- the estimator as the rest of the world sees it --------------------------------------
    def estimator(self, y: torch.Tensor, z: Any = None) -> torch.Tensor:
        """x_hat = consistency(G(y, z), y)."""
        return self.consistency(self.G(y, z), y)

    def _z(self, y: torch.Tensor) -> Any:
        return None if self.sample_z is None else self.sample_z(y, 1, self.rng)

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.data(self.config.batch_size, self.rng)
        return x.to(self.device), y.to(self.device)

    # -- one step --------------------------------------------------------------------------
    def train_step(self) -> dict:
        c = self.config
        # critic
        x, y = self._batch()
        with torch.no_grad():
            fake = self.estimator(y, self._z(y))
        self.D.requires_grad_(True)
        x = x.detach().requires_grad_(c.r1_gamma > 0)
        d_real, d_fake = self.D(x), self.D(fake)
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        r1 = torch.zeros((), device=self.device)
        if c.r1_gamma > 0:
            (grad,) = torch.autograd.grad(d_real.sum(), x, create_graph=True)
            r1 = grad.flatten(1).pow(2).sum(1).mean()
            loss_d = loss_d + 0.5 * c.r1_gamma * r1
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # generator
        self.D.requires_grad_(False)
        x, y = self._batch()
        fake = self.estimator(y, self._z(y))
        loss_adv = F.softplus(-self.D(fake)).mean()
        loss_g = loss_adv
        rob = None
        if c.lambda_r > 0 and (self.step + 1) % c.robust_every == 0:
            yr = y if c.robust_batch_size is None else y[: c.robust_batch_size]
            rob = self.robustness(self.estimator, yr, self.sample_z, self.rng).mean()
            loss_g = loss_g + c.lambda_r * rob
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)

        self.sched_g.step()
        self.sched_d.step()
        self.step += 1
        out = {"step": self.step, "loss_d": loss_d.item(), "r1": r1.item(), "loss_g_adv": loss_adv.item()}
        if rob is not None:
            out["robust_term"] = rob.item()
        return out

    # -- the loop ------------------------------------------------------------------------------
    def train(self, until: int | None = None) -> list[dict]:
        """Train up to step ``until`` (default: config.steps); returns the history."""
        c = self.config
        until = c.steps if until is None else min(until, c.steps)
        self.G.train()
        self.D.train()
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), TextColumn("{task.fields[info]}")]
        t0 = time.perf_counter()
        with Progress(*columns, disable=not self.progress, transient=False) as bar:
            task = bar.add_task(self.description, total=c.steps, completed=self.step, info="")
            while self.step < until:
                row = self.train_step()
                if c.log_every and (self.step % c.log_every == 0 or self.step == c.steps):
                    self.history.append(row)
                    bar.update(task, info=f"D {row['loss_d']:.3f} G {row['loss_g_adv']:.3f}")
                if self.validate is not None and (
                        (c.val_every and self.step % c.val_every == 0) or self.step == c.steps):
                    self.run_validation()
                if self.checkpoint and c.ckpt_every and self.step % c.ckpt_every == 0:
                    self.wall_s += time.perf_counter() - t0
                    t0 = time.perf_counter()
                    self.save(self.checkpoint)
                bar.update(task, completed=self.step)
        self.wall_s += time.perf_counter() - t0
        if self.checkpoint:
            self.save(self.checkpoint)
        return self.history

    def run_validation(self) -> dict:
        was = self.G.training, self.D.training
        self.G.eval()
        self.D.eval()
        try:
            res = dict(self.validate(self, self.step) or {})
        finally:
            self.G.train(was[0])
            self.D.train(was[1])
        res = {"step": self.step, "val": True, **res}
        self.history.append(res)
        return res

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = {
            "step": self.step,
            "config": self.config.to_dict(),
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
            "rng": self.rng.get_state(), "torch_rng": torch.get_rng_state(),
            "history": self.history, "wall_s": self.wall_s,
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        self.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.step = int(state["step"])
        self.history = list(state["history"])
        self.wall_s = float(state.get("wall_s", 0.0))

    def save(self, path: str | os.PathLike) -> None:
        """Atomic write (temporary file + rename) of the full training state."""
        with atomic_path(path) as tmp:
            torch.save(self.state_dict(), tmp)

    def load(self, path: str | os.PathLike) -> "GANTrainer":
        state = load_checkpoint_file(path, map_location=self.device)
        saved = dict(state["config"])
        saved["betas"] = tuple(saved["betas"])
        saved["lr_milestones"] = tuple(saved["lr_milestones"])
        mine = self.config.to_dict()
        ignore = {"steps", "val_every", "ckpt_every", "log_every"}  # bookkeeping, not the optimisation
        if not mine["lambda_r"] and not saved.get("lambda_r"):
            ignore |= {"robust_every", "robust_batch_size"}  # unused without the robustness term
        diff = {k for k in mine if k not in ignore and mine[k] != saved.get(k)}
        if diff:
            raise ValueError(f"checkpoint {path} was made with a different config ({', '.join(sorted(diff))})")
        self.load_state_dict(state)
        return self

    def maybe_resume(self) -> bool:
        """Load ``self.checkpoint`` when it exists; True if something was loaded."""
        if self.checkpoint and os.path.exists(self.checkpoint):
            self.load(self.checkpoint)
            return True
        return False
