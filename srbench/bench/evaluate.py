"""Evaluate one cell: attack a model on a list of images and measure each one.

Deterministic and stochastic models share one path: a deterministic model is
a stochastic one with a single, empty seed. The evaluator owns the seeds: for
a stochastic model it draws the attack's ``n_seeds`` per image and passes
them to the attack, and the same-seed metrics (Eq. 9 of Ohayon et al. 2023)
use the same ones; "fresh" metrics use seeds the attack never saw; diversity
is the per-pixel standard deviation over ``diversity_samples`` samples of the
clean input. Seeds are drawn per image from (run seed, image name), so
results do not depend on batching. What an attack needs (its budget, a
target, how many seeds, a fit on some images) it declares (srbench/attacks/__init__.py);
the evaluator builds the target tensors (HR, clean outputs, or a targeted attack's target:
srbench/attacks/targets.py) and fits attacks that learn on a split (:meth:`CellEvaluator.fit`).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from srbench.attacks import LINF_ALPHA, Attack
from srbench.attacks.targets import OTHER_IMAGE, REGION, partner, region_target, resized
from srbench.bench.lipschitz import per_image_k
from srbench.core.metric_table import metric_names
from srbench.core.metrics import (DEFAULT_GRAY_CONVENTION, batch_psnr, check_gray_convention, fidelity,
                             linf_lower_bound_psnr, perturbation_norms)
from srbench.core.niqe import niqe
from srbench.core.restorer import DEFAULT_N_SEEDS, Restorer, Z, chunked_restore, merge_z, repeat_seeds, z_to
from srbench.data import SRPair

FIDELITY_KEYS = tuple(metric_names("fidelity"))  # psnr_y, ssim_y, psnr_rgb, ssim_rgb


def image_generator(seed: int, name: str, stream: str) -> torch.Generator:
    digest = hashlib.sha256(f"{seed}/{name}/{stream}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))


def draw_z(restorer: Restorer, pairs: list[SRPair], y: torch.Tensor, n: int, seed: int, stream: str) -> Z:
    if not restorer.stochastic:
        return None
    zs = [restorer.sample_z(y[i:i + 1], n, image_generator(seed, p.name, stream)) for i, p in enumerate(pairs)]
    return z_to(merge_z(zs, n), y.device)


def batches(pairs: list[SRPair], batch_size: int) -> list[list[SRPair]]:
    """Group images of equal LR size, in dataset order, at most batch_size per group."""
    groups: dict[tuple, list[SRPair]] = {}
    for p in pairs:
        groups.setdefault(tuple(p.lr.shape), []).append(p)
    out = []
    for group in groups.values():
        out.extend(group[i:i + batch_size] for i in range(0, len(group), batch_size))
    return out


def _mean_over_seeds(values: torch.Tensor, n: int, b: int) -> list[float]:
    return values.view(n, b).mean(0).tolist()


@dataclass
class CleanResult:
    """What the clean input gives, computed once per model x image and reused by every budget."""

    outputs: torch.Tensor  # n*B x C x H x W (seed-major)
    z: Z
    fidelity: list[dict[str, float]]
    extra: list[dict[str, float]] = field(default_factory=list)


class CellEvaluator:
    """Holds a model and caches its clean results while a dataset's cells are evaluated."""

    def __init__(self, restorer: Restorer, scale: int, seed: int = 0, n_seeds: int = DEFAULT_N_SEEDS,
                 z_chunk: int | None = None, diversity_samples: int = 32, gray_convention: str = DEFAULT_GRAY_CONVENTION,
                 score_niqe: bool = False, dataset: list[SRPair] | None = None):
        self.restorer = restorer
        self.dataset = dataset  # every image of the dataset, in order: where target other-image finds its partner
        self.score_niqe = score_niqe
        self.scale = scale
        self.gray_convention = check_gray_convention(gray_convention)
        self.seed = seed
        self.n = n_seeds if restorer.stochastic else 1
        self.z_chunk = z_chunk
        self.diversity_samples = diversity_samples
        self._clean: dict[tuple, CleanResult] = {}

    def _restore(self, y: torch.Tensor, z: Z, n: int) -> torch.Tensor:
        with torch.no_grad():
            return chunked_restore(self.restorer, y, z, n, self.z_chunk)

    def _fidelity(self, sr: torch.Tensor, pair: SRPair) -> dict[str, float]:
        return fidelity(sr, pair.hr, self.scale, pair.gray, self.gray_convention)

    def clean(self, group: list[SRPair], y: torch.Tensor) -> CleanResult:
        key = tuple(p.name for p in group)
        if key in self._clean:
            return self._clean[key]
        n, b = self.n, len(group)
        z = draw_z(self.restorer, group, y, n, self.seed, "attack")
        out = self._restore(y, z, n)
        fid = []
        for i, p in enumerate(group):
            per_seed = [self._fidelity(out[k * b + i], p) for k in range(n)]
            fid.append({key_: sum(f[key_] for f in per_seed) / n for key_ in FIDELITY_KEYS})
        extra = [{} for _ in group]
        if self.score_niqe:
            for i in range(b):  # mean over the seeds, like the fidelity scores
                extra[i]["niqe"] = sum(niqe(out[k * b + i], self.scale) for k in range(n)) / n
        if self.restorer.stochastic:
            m = self.diversity_samples
            zd = draw_z(self.restorer, group, y, m, self.seed, "diversity")
            samples = self._restore(y, zd, m).view(m, b, *out.shape[1:])
            std = samples.std(0, unbiased=True).flatten(1).mean(1)
            for i in range(b):
                extra[i]["diversity_std"] = std[i].item()
        result = CleanResult(out, z, fid, extra)
        self._clean[key] = result
        return result

    def evaluate(self, group: list[SRPair], attack: Attack, device: torch.device,
                 on_step: Callable[[int], None] | None = None,
                 on_images: Callable[[SRPair, dict[str, torch.Tensor]], dict[str, Any]] | None = None
                 ) -> list[dict[str, Any]]:
        """Rows (one per image) for one batch of equal-size images.

        ``on_images(pair, tensors)``, when given, receives each image's LR, attacked LR, perturbation
        and the clean and attacked outputs (first seed) and returns what to add to its row (where they
        were saved); it returns None for images it does not keep.
        """
        y = torch.stack([p.lr for p in group]).to(device)
        hr = torch.stack([p.hr for p in group]).to(device)
        n, b = self.n, len(group)
        clean = self.clean(group, y)
        rows = [{"image": p.name, "gray": p.gray, "gray_convention": self.gray_convention, "n_seeds": n,
                 **clean.fidelity[i], **clean.extra[i]}
                for i, p in enumerate(group)]
        if attack.budget is None:
            self._hand_over(on_images, group, rows, y, None, clean.outputs, None)
            return rows
        target = self._target(attack, group, hr, clean, device)
        y_adv, record = attack(self.restorer, y, target=target, z=clean.z, on_step=on_step)
        out_adv = self._restore(y_adv, clean.z, n)
        same_seed = _mean_over_seeds(batch_psnr(clean.outputs, out_adv), n, b)
        lip_k = per_image_k(clean.outputs, out_adv, y, y_adv)  # same seeds both sides, mean over seeds
        in_psnr = batch_psnr(y, y_adv).tolist()
        budget = attack.budget_value()
        for i, p in enumerate(group):
            adv_fid = [self._fidelity(out_adv[k * b + i], p) for k in range(n)]
            rows[i].update({
                "adv_output_psnr": same_seed[i],
                "adv_input_psnr": in_psnr[i],
                "adv_psnr_hr": sum(f["psnr_rgb"] for f in adv_fid) / n,
                "adv_psnr_y": sum(f["psnr_y"] for f in adv_fid) / n,
                "adv_input_psnr_bound": linf_lower_bound_psnr(budget) if attack.budget == LINF_ALPHA else math.nan,
                **perturbation_norms(y[i], y_adv[i]),
                "lipschitz_k": lip_k[i],
                "eps": record.get("eps"),
                "loss_trace": record["loss_trace"][i] if "loss_trace" in record else None,
                **(record["per_image"][i] if "per_image" in record else {}),  # what the attack says of each image
            })
        if attack.targeted:
            to_target = _mean_over_seeds(batch_psnr(out_adv, repeat_seeds(target, n)), n, b)
            clean_to_target = _mean_over_seeds(batch_psnr(clean.outputs, repeat_seeds(target, n)), n, b)
            for i in range(b):
                rows[i].update(target_psnr=to_target[i], clean_target_psnr=clean_to_target[i])
        if self.restorer.stochastic:
            z_fresh = draw_z(self.restorer, group, y, n, self.seed, "fresh")
            fresh = _mean_over_seeds(batch_psnr(self._restore(y, z_fresh, n), self._restore(y_adv, z_fresh, n)), n, b)
            for i in range(b):
                rows[i]["adv_output_psnr_fresh"] = fresh[i]
        self._hand_over(on_images, group, rows, y, y_adv, clean.outputs, out_adv)
        return rows

    def _target(self, attack: Attack, group: list[SRPair], hr: torch.Tensor, clean: CleanResult,
                device: torch.device) -> torch.Tensor | None:
        """What an attack that takes a target gets: the HR images, the clean outputs (mean over seeds), or a
        targeted attack's target built from clean outputs (srbench/attacks/targets.py)."""
        if not attack.takes_target:
            return None
        if attack.target == "hr":
            return hr
        outputs = self._mean_output(clean, len(group))
        if attack.target == REGION:
            return region_target(outputs)
        if attack.target == OTHER_IMAGE:
            return torch.stack([self._partner_output(p, outputs.shape[-2:], device) for p in group])
        return outputs

    def _mean_output(self, clean: CleanResult, b: int) -> torch.Tensor:
        return clean.outputs.view(self.n, b, *clean.outputs.shape[1:]).mean(0)

    def _partner_output(self, pair: SRPair, size, device: torch.device) -> torch.Tensor:
        """The clean output (mean over seeds) of the image after ``pair`` in the dataset, resized to ``size``."""
        if self.dataset is None:
            raise ValueError("target other-image needs the evaluator's dataset (CellEvaluator(dataset=...))")
        names = [p.name for p in self.dataset]
        other = self.dataset[names.index(partner(names, pair.name))]
        clean = self.clean([other], other.lr[None].to(device))
        return resized(self._mean_output(clean, 1)[0], tuple(size))

    def fit(self, attack: Attack, pairs: list[SRPair], device: torch.device,
            on_step: Callable[[int], None] | None = None) -> dict[str, torch.Tensor]:
        """Fit an attack that learns on a split on ``pairs`` (one at a time: sizes differ), with the targets and
        seeds it would get when evaluated on them; returns what it asks to keep (e.g. a universal perturbation)."""
        ys, targets, zs = [], [], []
        for p in pairs:
            y = p.lr[None].to(device)
            clean = self.clean([p], y)
            ys.append(y)
            targets.append(self._target(attack, [p], p.hr[None].to(device), clean, device))
            zs.append(clean.z)
        return attack.fit(self.restorer, [p.name for p in pairs], ys, targets, zs, on_step)

    @staticmethod
    def _hand_over(on_images, group: list[SRPair], rows: list[dict], y: torch.Tensor, y_adv: torch.Tensor | None,
                   out: torch.Tensor, out_adv: torch.Tensor | None) -> None:
        """Give each image's tensors (first seed: the leading B outputs) to ``on_images``; record what it returns."""
        if on_images is None:
            return
        for i, pair in enumerate(group):
            tensors = {"lr": y[i], "sr_clean": out[i]}
            if y_adv is not None:
                tensors.update(lr_adv=y_adv[i], delta=y_adv[i] - y[i], sr_adv=out_adv[i])
            saved = on_images(pair, tensors)
            if saved:
                rows[i]["saved_images"] = saved
