"""Training configs (YAML) for the U-Net GANs: load, validate, expand variants.

A config::

    name: gan-celeba-sr4
    degradation: sr4                 # inpaint | sr4 | sr8 | sr16
    model: {base: 24, z_channels: 1, critic_width: 16, critic_blocks: 1}
    data: {folder: PATH | hf: NAME, preprocess: celeba, size: 64, val_images: 1000}
    train: {steps: 1200000, batch_size: 64, lr_g: 1.0e-4, lr_d: 1.0e-4, betas: [0.5, 0.99],
            r1_gamma: 1.0, robust_every: 3, lr_milestones: [...], lr_decay: 0.6, seed: 0,
            val_every: 10000, ckpt_every: 5000, log_every: 100}
    robustness: {input_psnr: 34, steps: 5, lr: 1.0, n_seeds: 10, reduction: mean, batch_size: null}
    validation: {n_images: 64, n_samples: 8, attack_images: 16, n_seeds: 4}
    variants:                        # each becomes one run under OUT/<variant>/
      erratic-det:  {lambda_r: 0,   stochastic: false}
      erratic-sto:  {lambda_r: 0,   stochastic: true}
      robust-det:   {lambda_r: 500, stochastic: false}
      robust-sto:   {lambda_r: 500, stochastic: true}
    out: runs/gan-celeba-sr4
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from srbench.core.errors import UserError
from srbench.core.restorer import DEFAULT_N_SEEDS

TOP_KEYS = {"name", "description", "degradation", "model", "data", "train", "robustness", "validation",
            "variants", "out", "device"}
MODEL_KEYS = {"base", "z_channels", "critic_width", "critic_blocks"}
TRAIN_KEYS = {"steps", "batch_size", "lr_g", "lr_d", "betas", "r1_gamma", "lambda_r", "robust_every",
              "robust_batch_size", "lr_milestones", "lr_decay", "seed", "val_every", "ckpt_every", "log_every"}
ROBUST_KEYS = {"input_psnr", "eps", "steps", "lr", "n_seeds", "reduction"}
VAL_KEYS = {"n_images", "n_samples", "attack_images", "n_seeds", "input_psnr", "seed"}
VARIANT_KEYS = {"lambda_r", "stochastic"}

DEFAULT_VARIANTS = {
    "erratic-det": {"lambda_r": 0.0, "stochastic": False},
    "erratic-sto": {"lambda_r": 0.0, "stochastic": True},
    "robust-det": {"lambda_r": 500.0, "stochastic": False},
    "robust-sto": {"lambda_r": 500.0, "stochastic": True},
}

DEFAULTS: dict[str, Any] = {
    "degradation": "sr4",
    "model": {"base": 24, "z_channels": 1, "critic_width": 16, "critic_blocks": 1},
    "train": {"steps": 1_200_000, "batch_size": 64, "lr_g": 1e-4, "lr_d": 1e-4, "betas": [0.5, 0.99],
              "r1_gamma": 1.0, "robust_every": 3, "robust_batch_size": None,
              "lr_milestones": [400_000, 500_000, 600_000, 700_000, 750_000], "lr_decay": 0.6, "seed": 0,
              "val_every": 10_000, "ckpt_every": 5_000, "log_every": 100},
    "robustness": {"input_psnr": 34.0, "eps": None, "steps": 5, "lr": 1.0, "n_seeds": DEFAULT_N_SEEDS,
                   "reduction": "mean"},
    "validation": {"n_images": 64, "n_samples": 8, "attack_images": 16, "n_seeds": 4, "input_psnr": None,
                   "seed": 1234},
    "device": "auto",
}


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def config_problems(raw: dict) -> list[str]:
    problems = [f"unknown key {k!r} (allowed: {', '.join(sorted(TOP_KEYS))})" for k in sorted(set(raw) - TOP_KEYS)]
    for section, keys in (("model", MODEL_KEYS), ("train", TRAIN_KEYS), ("robustness", ROBUST_KEYS),
                          ("validation", VAL_KEYS)):
        sec = raw.get(section, {}) or {}
        if not isinstance(sec, dict):
            problems.append(f"{section} must be a mapping")
            continue
        problems += [f"unknown key {section}.{k} (allowed: {', '.join(sorted(keys))})" for k in sorted(set(sec) - keys)]
    for name, v in (raw.get("variants") or {}).items():
        if not isinstance(v, dict) or set(v) - VARIANT_KEYS:
            problems.append(f"variant {name!r} may set only {', '.join(sorted(VARIANT_KEYS))}")
    if "data" not in raw or not isinstance(raw["data"], dict) or not ({"folder", "hf"} & set(raw["data"])):
        problems.append("data needs `folder: PATH` or `hf: DATASET_NAME`")
    deg = raw.get("degradation", "sr4")
    if not (deg == "inpaint" or (isinstance(deg, str) and deg.startswith("sr") and deg[2:].isdigit())):
        problems.append(f"degradation must be inpaint or srN (sr4, sr8, sr16), got {deg!r}")
    return problems


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"training config not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(raw, dict):
        raise UserError(f"{path} must be a YAML mapping")
    problems = config_problems(raw)
    if problems:
        raise UserError(f"invalid training config {path}: " + "; ".join(problems))
    cfg = _merge(DEFAULTS, raw)
    cfg.setdefault("name", path.stem)
    cfg.setdefault("variants", DEFAULT_VARIANTS)
    cfg.setdefault("out", f"runs/{cfg['name']}")
    return cfg


def variant_config(cfg: dict, variant: str) -> dict:
    """The full config of one variant (variant keys folded into train/model)."""
    if variant not in cfg["variants"]:
        raise UserError(f"config {cfg['name']!r} has no variant {variant!r} ({', '.join(cfg['variants'])})")
    v = cfg["variants"][variant]
    out = copy.deepcopy(cfg)
    out["variant"] = variant
    out["train"]["lambda_r"] = float(v.get("lambda_r", 0.0))
    out["model"]["stochastic"] = bool(v.get("stochastic", True))
    out.pop("variants")
    return out
