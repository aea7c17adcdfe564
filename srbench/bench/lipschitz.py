"""Local Lipschitz estimates from adversarial perturbations (Ohayon, Michaeli, Elad, ICML 2024).

For an input y and an attacked input y_adv = clamp(y + d, 0, 1) the local
Lipschitz estimate is

    K(y) = ||f(y_adv, Z) - f(y, Z)||_2 / ||y_adv - y||_2

with both norms over all pixels and channels of one image ([0, 1] range),
the *same* seed Z on both sides for a stochastic model, averaged over seeds.
Every K(y) is a lower bound of the (local) Lipschitz constant of f; the
strongest attack found gives the tightest one, so :func:`strongest_k` keeps
the largest K over several attacks and budgets. The paper's bound
Lip(f) >= m1 / sqrt(W_p(p_{X,Y}, p_{Xhat,Y})) - m2 relates it to the joint
perceptual index (:mod:`srbench.experiments.joint`).

Per model, K is reported as mean, median and max over images
(:func:`summarize`, :func:`k_report`); the per-image ``lipschitz_k`` column
of attacked leaderboard rows is computed by :func:`per_image_k`.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from srbench.attacks import Attack
from srbench.core.errors import UserError
from srbench.core.restorer import Restorer, Z, batch_size_of_z, chunked_restore

__all__ = ["per_image_k", "lipschitz_k", "strongest_k", "summarize", "k_report"]


def per_image_k(out_clean: torch.Tensor, out_adv: torch.Tensor, y: torch.Tensor, y_adv: torch.Tensor) -> list[float]:
    """K per image from outputs already computed.

    ``out_clean`` and ``out_adv`` hold n seeds per image, seed-major (n*B rows,
    same seeds on both sides); y and y_adv are the B clean and attacked
    inputs. K is averaged over the n seeds; NaN where y_adv == y.
    """
    b = y.shape[0]
    n = out_clean.shape[0] // b
    num = (out_adv.double() - out_clean.double()).flatten(1).norm(dim=1).view(n, b)
    den = (y_adv.double() - y.double()).flatten(1).norm(dim=1)
    k = num / den[None, :]
    k = torch.where(den[None, :] > 0, k, torch.full_like(k, math.nan))
    return k.mean(0).tolist()


def lipschitz_k(restorer: Restorer, y: torch.Tensor, y_adv: torch.Tensor, z: Z = None,
                z_chunk: int | None = None) -> list[float]:
    """K(y) = ||f(y_adv, z) - f(y, z)|| / ||y_adv - y|| per image (same z both sides, mean over seeds)."""
    n = 1 if z is None else batch_size_of_z(z) // y.shape[0]
    with torch.no_grad():
        clean = chunked_restore(restorer, y, z, n, z_chunk)
        adv = chunked_restore(restorer, y_adv, z, n, z_chunk)
    return per_image_k(clean, adv, y, y_adv)


def strongest_k(restorer: Restorer, y: torch.Tensor, attacks: Sequence[Attack], z: Z = None,
                target: torch.Tensor | None = None, z_chunk: int | None = None) -> dict[str, Any]:
    """Run every attack on y and keep, per image, the largest K found.

    ``attacks`` are configured attacks (``attack(restorer, y, target=...,
    z=...)``). An attack that takes a target gets ``target`` if set, otherwise
    the clean output (seed-averaged for stochastic models), which asks it to
    move the output away from f(y): what K measures.
    Returns ``{"k": [...], "attack": [...], "all": [[k per attack] per image]}``.
    """
    b = y.shape[0]
    n = 1 if z is None else batch_size_of_z(z) // b
    with torch.no_grad():
        clean = chunked_restore(restorer, y, z, n, z_chunk)
    if target is None:
        target = clean.view(n, b, *clean.shape[1:]).mean(0)
    per_attack = []
    for attack in attacks:
        y_adv, _ = attack(restorer, y, target=target if attack.takes_target else None, z=z)
        with torch.no_grad():
            adv = chunked_restore(restorer, y_adv, z, n, z_chunk)
        per_attack.append(per_image_k(clean, adv, y, y_adv))
    best, which = [], []
    for i in range(b):
        ks = [row[i] for row in per_attack]
        finite = [(k, j) for j, k in enumerate(ks) if not math.isnan(k)]
        if not finite:
            best.append(math.nan)
            which.append(None)
            continue
        k, j = max(finite)
        best.append(k)
        which.append(_attack_label(attacks[j]))
    return {"k": best, "attack": which, "all": [[row[i] for row in per_attack] for i in range(b)]}


def _attack_label(attack: Attack) -> str:
    value = attack.budget_value()
    return attack.name + ("" if value is None else f"@{value:g}")


def summarize(values: Iterable[float]) -> dict[str, float]:
    """Mean, median and max of finite K values (NaN when there are none)."""
    vals = torch.tensor([v for v in values if v is not None and math.isfinite(v)], dtype=torch.float64)
    if vals.numel() == 0:
        return {"k_mean": math.nan, "k_median": math.nan, "k_max": math.nan, "k_n": 0}
    return {"k_mean": vals.mean().item(), "k_median": float(np.median(vals.numpy())), "k_max": vals.max().item(),
            "k_n": int(vals.numel())}


def k_report(rows, by: Sequence[str] = ("model", "dataset", "scale")):
    """Per-model K report from leaderboard rows (a DataFrame or a list of row dicts).

    Per image, K is the largest ``lipschitz_k`` over every attack and budget
    in the rows (the strongest attack found); then mean, median and max over
    images for each group of ``by``. Returns a pandas DataFrame.
    """
    import pandas as pd

    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if "lipschitz_k" not in df or df["lipschitz_k"].notna().sum() == 0:
        raise UserError("no lipschitz_k values in these rows: run an attack (ifgsm, adam-l2) first")
    by = [c for c in by if c in df]
    df = df[df["lipschitz_k"].notna()]
    per_image = df.groupby(by + ["image"], dropna=False)["lipschitz_k"].max().reset_index()
    out = []
    for key, g in per_image.groupby(by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        out.append({**dict(zip(by, key)), **summarize(g["lipschitz_k"].tolist())})
    return pd.DataFrame(out)
