"""Posterior exploration with a deterministic restorer (Ohayon, Michaeli, Elad, ICML 2024).

A deterministic restorer with high perceptual quality must be erratic: tiny
input changes move its output far. That instability can imitate posterior
sampling. Farthest-point exploration: starting from s_0 = f(y), each new
sample s_k = f(clamp(y + d_k, 0, 1)) maximises its *minimum* squared L2
distance to the samples already found,

    d_k = argmax_{||d||_2 <= eps}  min_{j < k} || f(clamp(y + d, 0, 1)) - s_j ||^2 ,

with eps set by an input-PSNR budget, eps = sqrt(n 10^(-PSNR/10)) for n
input values (so every explored input has PSNR(y, y + d) >= the budget;
clamping only moves pixels back towards y). The maximisation is ``steps``
Adam steps on d from ``restarts`` random starts on the sphere of radius eps,
projected on the ball after every step; the best iterate is kept (the Adam
loop of Eq. 6's attack, :func:`srbench.attacks.adam_l2.adam_ascent`, with
another objective).

The baseline is random perturbations of the same L2 norm (random directions
on the sphere of radius eps): their outputs, together with f(y), give the
pairwise distances that "random" sampling of the same budget produces.

A stochastic model is sampled through its seeds instead (``sample_z``), which
is what exploration imitates. Reported per run: per-pixel std over the
samples (mean over pixels, unbiased, as ``diversity_std``), consistency
PSNR(D(s_k), y) for a degradation D (MATLAB bicubic by default), input PSNRs,
and pairwise output distances (RMSE and PSNR) of the explored and the random
sets.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from srbench.attacks.adam_l2 import adam_ascent, eps_for_input_psnr, random_directions
from srbench.core.degradations import consistency_psnr
from srbench.core.errors import UserError
from srbench.core.metrics import batch_psnr, psnr_of_mse
from srbench.core.restorer import Restorer
from srbench.data.bicubic import imresize
from srbench.core.pixels import to_uint8
from srbench.data.images import write_image
from srbench.files import atomic_path, atomic_write_text

__all__ = ["explore", "ExploreResult", "pairwise_rmse", "consistency", "contact_sheet", "write_exploration"]


def pairwise_rmse(samples: torch.Tensor) -> torch.Tensor:
    """n x n matrix of per-pixel RMSE between samples (n x C x H x W)."""
    flat = samples.detach().double().flatten(1)
    return torch.cdist(flat, flat) / math.sqrt(flat.shape[1])


def _offdiag(m: torch.Tensor) -> torch.Tensor:
    n = m.shape[0]
    return m[~torch.eye(n, dtype=torch.bool)]


def consistency(x_hat: torch.Tensor, y: torch.Tensor, degradation: str = "bicubic") -> list[float]:
    """PSNR(D(x_hat), y) per sample in dB; D = MATLAB bicubic down by the size ratio, or a
    :mod:`srbench.core.degradations` name (``sr4``, ``inpaint``...)."""
    if degradation == "bicubic":
        down = imresize(x_hat.double(), size=tuple(y.shape[-2:]))
        return batch_psnr(down.clamp(0, 1), y.double().expand_as(down)).tolist()

    return consistency_psnr(degradation, x_hat, y.expand(x_hat.shape[0], *y.shape[1:])).tolist()


def _stats(samples: torch.Tensor) -> dict[str, float]:
    d = _offdiag(pairwise_rmse(samples))
    return {"pairwise_rmse_mean": d.mean().item(), "pairwise_rmse_min": d.min().item(),
            "pairwise_psnr_mean": psnr_of_mse(d.pow(2).mean().item()),
            "pixel_std": samples.double().std(0, unbiased=True).mean().item()}


@dataclass
class ExploreResult:
    model: str
    mode: str  # "perturbation" (deterministic) | "seeds" (stochastic)
    samples: torch.Tensor  # n x C x H x W, samples[0] = f(y) (or the first seed)
    inputs: torch.Tensor  # n x C x h x w, the (perturbed) inputs
    input_psnr: list[float]
    consistency_psnr: list[float]
    min_input_psnr: float | None
    eps: float | None
    objective: list[float] = field(default_factory=list)  # min squared distance reached per new sample
    stats: dict[str, float] = field(default_factory=dict)
    random_stats: dict[str, float] | None = None
    random_input_psnr: list[float] | None = None

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("samples", "inputs", "stats", "random_stats")}
        out.update({"n": int(self.samples.shape[0]), "stats": self.stats, "random_baseline": self.random_stats})
        if self.random_stats:
            out["farther_than_random"] = self.stats["pairwise_rmse_min"] > self.random_stats["pairwise_rmse_mean"]
        return out


def _farthest_objective(restorer: Restorer, y: torch.Tensor, found: torch.Tensor):
    """d -> (min_j ||f(clamp(y + d, 0, 1)) - s_j||^2 per row of d, its gradient): the next sample's objective."""
    def value_and_grad(d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            d = d.detach().requires_grad_(True)
            out = restorer.restore((y + d).clamp(0, 1))
            value = (out[:, None] - found[None]).pow(2).flatten(2).sum(2).min(1).values  # restarts
            (grad,) = torch.autograd.grad(value.sum(), d)
        return value.detach(), grad

    return value_and_grad


def explore(restorer: Restorer, y: torch.Tensor, n: int = 8, min_input_psnr: float = 30.0, steps: int = 30,
            lr: float | None = None, restarts: int = 1, seed: int = 0, degradation: str = "bicubic",
            random_baseline: bool = True) -> ExploreResult:
    """n samples for the measurement y (1 x C x h x w or C x h x w in [0, 1]); see the module doc."""
    if y.dim() == 3:
        y = y[None]
    if y.shape[0] != 1:
        raise ValueError("explore takes one image")
    if n < 2:
        raise UserError(f"{{n}} must be >= 2, got {n}", {"n": ""})
    if steps < 1 or restarts < 1:
        raise UserError("{steps} and {restarts} must be >= 1", {"steps": "", "restarts": ""})
    y = y.detach()
    g = torch.Generator().manual_seed(seed)
    if restorer.stochastic:
        with torch.no_grad():
            z = restorer.sample_z(y, n, g)
            samples = restorer.restore(y.repeat(n, 1, 1, 1), z)
        inputs = y.repeat(n, 1, 1, 1)
        return ExploreResult(restorer.name, "seeds", samples.cpu(), inputs.cpu(), [math.inf] * n,
                             consistency(samples, y, degradation), None, None, stats=_stats(samples))
    if not min_input_psnr > 0:
        raise UserError(f"{{min_input_psnr}} must be > 0 dB, got {min_input_psnr}", {"min_input_psnr": ""})
    eps = eps_for_input_psnr(y.numel(), min_input_psnr)
    lr = lr if lr is not None else 0.5 * eps / math.sqrt(y.numel())  # per-coordinate step ~ typical |d_i| / 2
    with torch.no_grad():
        found = [restorer.restore(y)]
    inputs, objective = [y], []
    for _ in range(n - 1):
        start = (random_directions((restarts, *y.shape[1:]), g) * eps).to(y.device, y.dtype)
        best = adam_ascent(_farthest_objective(restorer, y, torch.cat(found)), start, eps, steps=steps, lr=lr,
                           keep_best=True)
        best_val, best_d = best.best_values, best.best_d
        j = int(best_val.argmax())
        y_k = (y + best_d[j:j + 1]).clamp(0, 1)
        with torch.no_grad():
            found.append(restorer.restore(y_k))
        inputs.append(y_k)
        objective.append(best_val[j].item())
    samples, inputs = torch.cat(found).detach(), torch.cat(inputs).detach()
    in_psnr = [math.inf] + batch_psnr(y.expand_as(inputs[1:]), inputs[1:]).tolist()
    result = ExploreResult(restorer.name, "perturbation", samples.cpu(), inputs.cpu(), in_psnr,
                           consistency(samples, y, degradation), min_input_psnr, eps, objective,
                           stats=_stats(samples))
    if random_baseline:
        y_r = (y + (random_directions((n - 1, *y.shape[1:]), g) * eps).to(y.device, y.dtype)).clamp(0, 1)
        with torch.no_grad():
            rand = torch.cat([found[0], restorer.restore(y_r)])
        result.random_stats = _stats(rand)
        result.random_input_psnr = batch_psnr(y.expand_as(y_r), y_r).tolist()
    return result


def _label(img, text: str):
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    w = max(40, 6 * len(text) + 6)
    draw.rectangle([0, 0, w, 12], fill=(0, 0, 0))
    draw.text((3, 0), text, fill=(255, 255, 255))
    return img


def contact_sheet(result: ExploreResult, y: torch.Tensor, path: str | Path, cols: int = 5) -> Path:
    """One PNG: the measurement (bicubic-upsampled), every sample (labelled with its input PSNR) and the
    per-pixel std map (scaled so its maximum is white)."""
    from PIL import Image

    samples = result.samples
    h, w = samples.shape[-2:]
    y = y[None] if y.dim() == 3 else y
    y_up = imresize(y.double().cpu(), size=(h, w)).float().clamp(0, 1)[0]
    std = samples.double().std(0, unbiased=True).mean(0, keepdim=True)
    std_img = (std / std.max().clamp_min(1e-12)).expand(3, -1, -1).float()
    tiles = [(y_up, "input y (bicubic)")]
    for k in range(samples.shape[0]):
        if result.mode == "seeds":
            tiles.append((samples[k], f"z #{k}"))
        elif k == 0:
            tiles.append((samples[k], "f(y)"))
        else:
            tiles.append((samples[k], f"#{k} in {result.input_psnr[k]:.1f}dB"))
    tiles.append((std_img, f"std (max {std.max().item():.3f})"))
    cols = min(cols, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    pad = 2
    sheet = Image.new("RGB", (cols * (w + pad) + pad, rows * (h + pad) + pad), (255, 255, 255))
    for i, (img, text) in enumerate(tiles):
        tile = _label(Image.fromarray(to_uint8(img)), text)
        sheet.paste(tile, (pad + (i % cols) * (w + pad), pad + (i // cols) * (h + pad)))
    path = Path(path)
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
    return path


def write_exploration(result: ExploreResult, y: torch.Tensor, out_dir: str | Path,
                      extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Samples as sample_KK.png, perturbed inputs as input_KK.png, contact_sheet.png and summary.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for k in range(result.samples.shape[0]):
        write_image(result.samples[k], out_dir / f"sample_{k:02d}.png")
        if result.mode == "perturbation":
            write_image(result.inputs[k], out_dir / f"input_{k:02d}.png")
    contact_sheet(result, y, out_dir / "contact_sheet.png")
    summary = {**(extra or {}), **result.summary()}
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=1, default=_json_default) + "\n")
    return summary


def _json_default(o):
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    raise TypeError(type(o).__name__)
