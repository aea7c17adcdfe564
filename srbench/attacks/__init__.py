"""Attacks: configured callables ``attack(restorer, y, target=None, z=None)``.

They return the attacked input and a record (budget, steps, loss trace) and
know nothing about datasets or storage. Registered in the ``srbench.attacks``
registry (entry points), like models.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

import torch

from srbench.errors import UserError
from srbench.registry import Registry
from srbench.restorer import Restorer, Z, batch_size_of_z, repeat_seeds, slice_z

ATTACKS = Registry("attack", "srbench.attacks")


@dataclasses.dataclass
class Attack:
    """Base of all attacks: a dataclass of options plus ``__call__``.

    ``budget_name`` names the option that cells sweep over (``alpha`` for
    I-FGSM); ``needs_target`` says whether the runner must supply a target.
    """

    name = "attack"
    budget_name: ClassVar[str | None] = None

    def __call__(self, restorer: Restorer, y: torch.Tensor, target: torch.Tensor | None = None,
                 z: Z = None, on_step: Callable[[int], None] | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        raise NotImplementedError  # pragma: no cover

    def options(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

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


def make_attack(name: str, **options: Any) -> Attack:
    cls = ATTACKS.get(name)
    return cls.from_options(**options)


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
