"""`srbench train`: the U-Net GANs of Ohayon et al. (2023) on :class:`srbench.experiments.training.GANTrainer`.

One variant = one run folder ``OUT/<variant>/`` holding ``ckpt.pt`` (full
resumable state: models, optimizers, schedulers, RNG, step, history; plus
``params``, the estimator's weights, and ``arch``, so the file loads directly
as a model: ``srbench run --models unet-gan --weights unet-gan=OUT/robust-sto/ckpt.pt``),
``config.yaml`` (the resolved config), ``history.jsonl`` (losses and
validation metrics) and ``metrics.json`` (last validation).

The estimator is the registered ``unet-gan`` model itself, built by its card's builder
(network input, U-Net and consistency projection), so the critic and the
robustness term see consistent outputs. The robustness term is
:meth:`srbench.experiments.training.robustness.AdamL2Attack.penalty` (same-seed sensitivity,
5 Adam steps, lr 1, L2 ball whose radius gives the target AI-PSNR).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from srbench.attacks.adam_l2 import eps_for_input_psnr
from srbench.core.degradations import get_degradation
from srbench.core.restorer import resolve_device
from srbench.experiments.gan.config import variant_config
from srbench.experiments.gan.critic import ResNetCritic
from srbench.experiments.gan.data import ImageData, load_data
from srbench.experiments.gan.metrics import gan_metrics
from srbench.experiments.training import AdamL2Attack, GANConfig, GANTrainer
from srbench.files import atomic_write_text, writable_dir
from srbench.models import get_card


class ImageGANTrainer(GANTrainer):
    """GANTrainer whose checkpoints also load as a model (``params`` + ``arch``)."""

    arch: dict = {}

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["params"] = state["G"]  # same tensors: torch.save stores them once
        state["arch"] = dict(self.arch)
        return state


def robust_eps(vcfg: dict, size: int) -> float:
    r = vcfg["robustness"]
    if r.get("eps") is not None:
        return float(r["eps"])
    deg = get_degradation(vcfg["degradation"])
    h, w = deg.lr_shape((size, size))
    return eps_for_input_psnr(3 * h * w, float(r["input_psnr"]))


def build(vcfg: dict, out_dir: str | Path, device: str = "cpu", progress: bool = True,
          train_data: ImageData | None = None, val_data: ImageData | None = None) -> ImageGANTrainer:
    """The trainer of one variant config (see :func:`srbench.experiments.gan.config.variant_config`)."""
    out_dir = Path(out_dir)
    deg = get_degradation(vcfg["degradation"])
    m, t, r, v = vcfg["model"], vcfg["train"], vcfg["robustness"], vcfg["validation"]
    if train_data is None:
        data = load_data(vcfg["data"])
        n_val = int(vcfg["data"].get("val_images", 0) or 0)
        train_data, val_data = data.split(n_val) if n_val else (data, None)
    size = int(vcfg["data"].get("size", 64))
    torch.manual_seed(int(t.get("seed", 0)))  # initial weights
    G = get_card("unet-gan").builder()(degradation=vcfg["degradation"], base=int(m["base"]),
                                       z_channels=int(m["z_channels"]), stochastic=bool(m["stochastic"]))
    D = ResNetCritic(size, int(m["critic_width"]), blocks_per_level=int(m.get("critic_blocks", 1)))
    gc = GANConfig(
        steps=int(t["steps"]), batch_size=int(t["batch_size"]), lr_g=float(t["lr_g"]), lr_d=float(t["lr_d"]),
        betas=tuple(float(b) for b in t["betas"]), r1_gamma=float(t["r1_gamma"]), lambda_r=float(t["lambda_r"]),
        robust_every=int(t["robust_every"]), robust_batch_size=t.get("robust_batch_size"),
        lr_milestones=tuple(int(s) for s in t["lr_milestones"]), lr_decay=float(t["lr_decay"]),
        seed=int(t["seed"]), val_every=int(t["val_every"]), ckpt_every=int(t["ckpt_every"]),
        log_every=int(t["log_every"]))
    eps = robust_eps(vcfg, size)
    attack = AdamL2Attack(eps=eps, steps=int(r["steps"]), lr=float(r["lr"]), n_seeds=int(r["n_seeds"]),
                          reduction=r["reduction"], random_start=True)
    validate = None
    if val_data is not None and len(val_data):
        x_val = val_data.fixed_set(int(v["n_images"]), seed=int(v["seed"]))
        vpsnr = float(v["input_psnr"] if v.get("input_psnr") is not None else r["input_psnr"] or 34.0)

        def validate_heldout(trainer, step):
            return gan_metrics(trainer.G, x_val, deg, n_samples=int(v["n_samples"]),
                               attack_images=int(v["attack_images"]), n_seeds=int(v["n_seeds"]),
                               input_psnr=vpsnr, seed=int(v["seed"]))
        validate = validate_heldout
    trainer = ImageGANTrainer(
        G, D, train_data.sampler(deg), gc,
        sample_z=G.sample_z if G.stochastic else None,
        robustness=attack.penalty if gc.lambda_r > 0 else None,
        validate=validate, checkpoint=out_dir / "ckpt.pt", device=device, progress=progress,
        description=f"{vcfg['name']}/{vcfg.get('variant', '')}")
    trainer.arch = {**G.arch(), "critic_width": int(m["critic_width"]), "size": size, "robust_eps": eps}
    return trainer


def _json_default(o: Any):
    if isinstance(o, torch.Tensor):
        return o.tolist()
    return str(o)


def train_variant(cfg: dict, variant: str, *, out: str | Path | None = None, device: str = "auto",
                  steps: int | None = None, until: int | None = None, resume: bool = True,
                  progress: bool = True) -> dict:
    """Train (or resume) one variant; returns the summary written to metrics.json."""
    vcfg = variant_config(cfg, variant)
    if steps is not None:
        vcfg["train"]["steps"] = int(steps)
    out_dir = writable_dir(Path(out or cfg["out"]) / variant)
    dev = resolve_device(device if device != "auto" else cfg.get("device", "auto"))
    trainer = build(vcfg, out_dir, device=str(dev), progress=progress)
    resumed = trainer.maybe_resume() if resume else False
    atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(vcfg, sort_keys=False))
    t0 = time.perf_counter()
    start = trainer.step
    trainer.train(until=until)
    wall = time.perf_counter() - t0
    atomic_write_text(out_dir / "history.jsonl",
                      "".join(json.dumps(row, default=_json_default) + "\n" for row in trainer.history))
    vals = [h for h in trainer.history if h.get("val")]
    summary = {"name": cfg["name"], "variant": variant, "step": trainer.step, "resumed": resumed,
               "steps_this_call": trainer.step - start, "wall_s_this_call": wall,
               "s_per_step": wall / max(1, trainer.step - start), "wall_s_total": trainer.wall_s,
               "device": str(dev), "threads": torch.get_num_threads(), "arch": trainer.arch,
               "params_G": sum(p.numel() for p in trainer.G.parameters()),
               "params_D": sum(p.numel() for p in trainer.D.parameters()),
               "last_validation": vals[-1] if vals else None}
    atomic_write_text(out_dir / "metrics.json", json.dumps(summary, indent=1, default=_json_default))
    return summary
