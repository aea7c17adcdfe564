"""The columns of Table 1 of Ohayon et al. (2023) for one restorer on a set of clean images.

For clean images x (N x 3 x H x W in [0, 1]) and y = D(x):

- ``fid``, ``precision``, ``recall``: one sample G(y, Z) per input against
  the clean images, in the features of a pluggable extractor
  (:mod:`srbench.experiments.gan.features`); precision/recall with k = 3 (Kynkäänniemi
  et al. 2019). Omitted when no extractor is given.
- ``std``: per-pixel standard deviation over ``n_samples`` samples per input
  (unbiased), averaged over pixels and inputs (0 for a deterministic model).
- ``robustness_psnr`` (Eq. 9): mean over inputs and seeds of
  PSNR(G(y, Z), G(y + d*, Z)), d* from the ``adam-l2`` attack (5 Adam steps,
  lr 1, L2 ball; the one Eq. 6 implementation, with the benchmark's options:
  clamped to [0, 1], small-sphere start, summed distance) at the radius giving
  ``input_psnr`` dB, same seeds on both sides (``n_seeds`` seeds, drawn here
  and passed to the attack; 1 for a deterministic model); higher is more robust.
- ``ai_psnr``: PSNR(y, y + d*), the adversarial input PSNR actually used.
- ``consistency_psnr``: PSNR(D(G(y, Z)), y) over the observed values.
- ``psnr``: PSNR to the clean image (one sample), for reference.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from srbench.attacks.adam_l2 import AdamL2
from srbench.core.degradations import Degradation, consistency_psnr
from srbench.core.metrics import batch_psnr
from srbench.core.restorer import DEFAULT_N_SEEDS, repeat_seeds
from srbench.experiments.distribution import fid, precision_recall


@torch.no_grad()
def _samples(restorer, y, n, g, chunk):
    outs = []
    for i in range(0, y.shape[0], chunk):
        yc = y[i:i + chunk]
        z = restorer.sample_z(yc, n, g)
        outs.append(restorer.restore(repeat_seeds(yc, n) if z is not None else yc, z)
                    .view(n if z is not None else 1, yc.shape[0], *x_shape(restorer, yc)))
    return torch.cat(outs, 1)  # n x N x C x H x W


def x_shape(restorer, y):
    return (y.shape[1], y.shape[2] * restorer.scale, y.shape[3] * restorer.scale)


def gan_metrics(restorer, x: torch.Tensor, degradation: Degradation, *, extractor: Callable | None = None,
                n_samples: int = 32, attack_images: int | None = None, n_seeds: int = DEFAULT_N_SEEDS,
                input_psnr: float = 34.0, seed: int = 0, batch_size: int = 16, pr_k: int = 3,
                real_features: torch.Tensor | None = None) -> dict[str, float]:
    dev = restorer.device
    x = x.to(dev)
    y = degradation.degrade(x)
    g = torch.Generator(device="cpu").manual_seed(seed)
    one = _samples(restorer, y, 1, g, batch_size)[0]
    res: dict[str, float] = {
        "n_images": int(x.shape[0]),
        "psnr": float(batch_psnr(one, x).mean()),
        "consistency_psnr": float(consistency_psnr(degradation, one, y).clamp(max=200).mean()),
    }
    if restorer.stochastic and n_samples > 1:
        stds = []
        for i in range(0, y.shape[0], batch_size):
            s = _samples(restorer, y[i:i + batch_size], n_samples, g, batch_size)
            stds.append(s.std(0, unbiased=True).flatten(1).mean(1))
        res["std"] = float(torch.cat(stds).mean())
    else:
        res["std"] = 0.0
    if extractor is not None:
        fr = extractor(x) if real_features is None else real_features
        ff = extractor(one)
        res["fid"] = fid(fr, ff)
        res["precision"], res["recall"] = precision_recall(fr, ff, k=pr_k)
    # Eq. 9 robustness with the adam-l2 attack at the radius of the target AI-PSNR
    m = x.shape[0] if attack_images is None else min(attack_images, x.shape[0])
    attack = AdamL2(target_input_psnr=input_psnr, seed=seed)
    rob, ai = [], []
    for i in range(0, m, batch_size):
        yc = y[i:min(m, i + batch_size)]
        n = n_seeds if restorer.stochastic else 1
        z = restorer.sample_z(yc, n, g)
        y_adv, _ = attack(restorer, yc, z=z)
        with torch.no_grad():
            a = restorer.restore(repeat_seeds(yc, n), z)
            b = restorer.restore(repeat_seeds(y_adv, n), z)
        rob.append(batch_psnr(a, b).clamp(max=200).view(n, -1).mean(0))
        ai.append(batch_psnr(yc, y_adv))
    res["robustness_psnr"] = float(torch.cat(rob).mean())
    res["ai_psnr"] = float(torch.cat(ai).mean())
    res["attack_eps"] = attack.radius(y[:1])
    return {k: (float(v) if isinstance(v, float) and math.isfinite(v) else v) for k, v in res.items()}
