"""Attacks: configured callables ``attack(restorer, y, target=None, z=None)``.

They return the attacked input and a record (budget, steps, loss trace) and
know nothing about datasets or storage. Registered in the ``srbench.attacks``
registry (entry points), like models.

The contract between an attack and the evaluator is explicit: the attack
class declares its :class:`Budget` (the option cells sweep, its unit and
norm) and whether it takes a target; an attack instance says how many seeds
per image it averages over (:attr:`Attack.n_seeds`) and how many it batches
(:attr:`Attack.seed_chunk`). The evaluator owns the seeds: it draws them
(srbench/bench/evaluate.py) and passes them in as ``z``.

Two more declarations serve the attacks of issue 17: ``targeted`` (the attack
moves the output *towards* its target, so rows report the PSNR to it) and
``fits_on_split`` (the attack learns one perturbation on some images of a
dataset, :meth:`Attack.split`, before it is evaluated on the others: the
executor calls the evaluator's ``fit`` once per cell).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

import torch

from srbench.core.errors import UserError
from srbench.core.registry import Registry
from srbench.core.restorer import DEFAULT_N_SEEDS, Restorer, Z, batch_size_of_z, chunked_restore, repeat_seeds, slice_z

ATTACKS = Registry("attack", "srbench.attacks")


@dataclasses.dataclass(frozen=True)
class Budget:
    """What the cells of an attack sweep: one option of the attack, in a unit, measured by a norm.

    Cell ids, rows (``budget``; ``alpha`` when the unit is 1/255) and the suite key ``alphas``
    carry the bare number; the unit says what it means.
    """

    option: str  # the attack option a cell's budget sets ("alpha", "eps")
    unit: str  # "1/255" (alpha 8 means an L_inf radius of 8/255) or "L2 [0,1]" (an L2 radius, images in [0, 1])
    norm: str  # "linf" | "l2"
    max_value: float | None = None  # the largest meaningful value (255 for alpha: the whole pixel range)


LINF_ALPHA = Budget("alpha", "1/255", "linf", max_value=255.0)
L2_EPS = Budget("eps", "L2 [0,1]", "l2")


@dataclasses.dataclass
class Attack:
    """Base of all attacks: a dataclass of options plus ``__call__``.

    Class-level declarations the evaluator reads:

    - ``budget``: the :class:`Budget` cells sweep (None: the attack has no budget, e.g. ``none``);
    - ``takes_target``: True when ``__call__`` needs ``target``; such an attack has an option
      ``target`` saying which: ``"hr"`` (the ground truth), ``"clean"`` (the clean output), or for a
      targeted attack ``"other-image"`` / ``"region"`` (srbench/attacks/targets.py);
    - ``targeted``: True when the attack minimises the distance to its target (rows then report
      ``target_psnr``) instead of maximising it;
    - ``fits_on_split``: True when the attack is fitted on the images :meth:`split` sets aside
      (:meth:`fit`) and evaluated on the rest.

    Per configured attack: :attr:`n_seeds` (seeds per image for a stochastic model; the evaluator
    draws them and passes them in as ``z``), :attr:`seed_chunk` (seeds per forward/backward batch)
    and :attr:`n_steps` (for progress).
    """

    name = "attack"
    budget: ClassVar[Budget | None] = None
    takes_target: ClassVar[bool] = False
    targeted: ClassVar[bool] = False
    fits_on_split: ClassVar[bool] = False

    def __call__(self, restorer: Restorer, y: torch.Tensor, target: torch.Tensor | None = None,
                 z: Z = None, on_step: Callable[[int], None] | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        raise NotImplementedError  # pragma: no cover

    @property
    def n_seeds(self) -> int:
        """Seeds per image for a stochastic model: the attack's expectation and the same-seed metrics use them."""
        return DEFAULT_N_SEEDS

    @property
    def seed_chunk(self) -> int | None:
        """Seeds per forward/backward batch (None: all at once); bounds memory, never changes a result."""
        return None

    @property
    def n_steps(self) -> int:
        """Optimisation steps per call (what progress bars count)."""
        return 0

    def budget_value(self) -> float | None:
        """The value of this attack's budget option (None without a budget)."""
        return None if self.budget is None else getattr(self, self.budget.option)

    def budget_unit(self) -> str | None:
        """The unit of :meth:`budget_value`; None when there is no budget or the value is a placeholder."""
        return None if self.budget is None else self.budget.unit

    def options(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def split(self, names: list[str]) -> tuple[list[str], list[str]]:
        """(images to fit on, images to evaluate on) of a dataset's images, in dataset order: ([], all) by default."""
        return [], list(names)

    def fit(self, restorer: Restorer, names: list[str], ys: list[torch.Tensor], targets: list[torch.Tensor | None],
            zs: list[Z], on_step: Callable[[int], None] | None = None) -> dict[str, torch.Tensor]:
        """Learn from the training images (one 1 x C x h x w tensor each, their targets and seeds).

        Returns the tensors to keep with the run (name -> tensor), e.g. a universal perturbation.
        Only attacks with ``fits_on_split`` are fitted.
        """
        raise NotImplementedError  # pragma: no cover

    @classmethod
    def from_options(cls, **options: Any) -> "Attack":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise UserError(f"attack {cls.name!r} has no option {', '.join(unknown)}; it takes {', '.join(sorted(names)) or 'none'}")
        attack = cls(**options)
        attack.validate()
        return attack

    def validate(self) -> None:
        """Raise UserError for options out of range."""


def check_steps_and_seeds(steps: int, n_eot: int, z_chunk: int | None) -> None:
    """The option checks of every iterative, seed-averaging attack (UserError naming the option)."""
    if steps < 1:
        raise UserError(f"{{steps}} must be >= 1, got {steps}", {"steps": ""})
    if n_eot < 1 or (z_chunk is not None and z_chunk < 1):
        raise UserError("{n_eot} and {z_chunk} must be >= 1", {"n_eot": "", "z_chunk": ""})


def make_attack(name: str, **options: Any) -> Attack:
    cls = ATTACKS.get(name)
    return cls.from_options(**options)


def seed_averaged_loss(restorer: Restorer, x: torch.Tensor, target: torch.Tensor, z: Z,
                       z_chunk: int | None = None) -> torch.Tensor:
    """Per-image MSE of the outputs on x to ``target``, mean over the seeds in z (no gradient).

    The same per-image loss :func:`seed_averaged_grad` reports, for attacks that compare
    perturbations (PGD keeps the restart with the highest).
    """
    b = x.shape[0]
    n = 1 if z is None else batch_size_of_z(z) // b
    with torch.no_grad():
        out = chunked_restore(restorer, x, z, n, z_chunk)
    return (out.view(n, b, *out.shape[1:]) - target).pow(2).flatten(2).mean(2).mean(0)


def seed_averaged_grad(restorer: Restorer, x: torch.Tensor, target: torch.Tensor, z: Z,
                       z_chunk: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the seed-averaged MSE to ``target`` w.r.t. the model input x (B, C, h, w).

    z holds n seeds per image (seed-major, n*B rows; None for a deterministic
    model). Seeds are batched, ``z_chunk`` at a time to bound memory. The
    gradient is taken w.r.t. each repeated input row and summed over seeds in
    one fixed reduction, so chunking does not change the result. Returns the
    gradient (up to the positive factor 1/n) and the per-image mean loss.
    """
    b = x.shape[0]
    n = 1 if z is None else batch_size_of_z(z) // b
    chunk = n if not z_chunk or z_chunk >= n else z_chunk
    grads, losses = [], []
    for k0 in range(0, n, chunk):
        k1 = min(n, k0 + chunk)
        xr = repeat_seeds(x, k1 - k0).detach().requires_grad_(True)
        out = restorer.restore(xr, slice_z(z, k0 * b, k1 * b))
        # the target broadcasts over the seeds (no per-step copy); everything stays on the device
        per_row = (out.view(k1 - k0, b, *out.shape[1:]) - target).pow(2).flatten(2).mean(2).view(-1)
        (g,) = torch.autograd.grad(per_row.sum(), xr)
        grads.append(g)
        losses.append(per_row.detach())
    grad = grads[0] if len(grads) == 1 else torch.cat(grads)
    loss = losses[0] if len(losses) == 1 else torch.cat(losses)
    grad = grad.view(n, *x.shape).sum(0) if n > 1 else grad
    return grad, loss.view(n, b).mean(0)
