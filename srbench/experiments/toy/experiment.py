"""The toy study of paper 1, end to end: data, hand-made and learned estimators, metrics, outputs.

``run_toy(ToyConfig(...), out_dir)`` trains the four learned estimators with
the shared GAN trainer (:mod:`srbench.experiments.training.trainer`), evaluates every estimator
(precision/recall with k = 5 on raw 2-D points, robustness sqrt(R~) of Eq. 7
with the seed-averaged Adam attack), computes the Appendix C W2 curve, and
writes the table (markdown + CSV), the figures and ``run.json``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import torch

from srbench.core.errors import UserError
from srbench.experiments.distribution import precision_recall, w2_1d
from srbench.experiments.toy.data import ToyData, sample_disk
from srbench.experiments.toy.estimators import sample_square, sine_estimator, zigzag_estimator, zigzag_w2
from srbench.experiments.toy.figures import plot_panels, plot_training, plot_w2
from srbench.experiments.toy.networks import MLP, ToyGenerator, consistency
from srbench.experiments.toy.table import summary_rows, write_histories, write_tables, write_w2
from srbench.experiments.training.robustness import AdamL2Attack
from srbench.experiments.training.trainer import GANConfig, GANTrainer
from srbench.files import atomic_write_text, writable_dir
from srbench.models.weights import sha256_of

__all__ = ["ToyConfig", "LEARNED", "ROBUST_SCALES", "run_toy", "quick_config", "full_config"]

# name -> (stochastic, uses the robustness term)
LEARNED = {
    "erratic-det": (False, False),
    "robust-det": (False, True),
    "erratic-stoch": (True, False),
    "robust-stoch": (True, True),
}

# robust_scale -> what lambda_r multiplies in the generator loss
ROBUST_SCALES = {"per-eps2": "R~/eps^2", "raw": "R~"}

# fixed offsets so that evaluation draws never depend on training draws
_PR_SEED, _ROB_SEED, _PANEL_SEED = 1_000_003, 2_000_003, 3_000_003


@dataclass
class ToyConfig:
    seed: int = 0
    steps: int = 20_000
    batch_size: int = 64
    # inputs per robustness term: the first ones of the generator batch; each is attacked with
    # n_seeds seeds for stochastic models (deterministic models use one seed, which is exact)
    robust_batch_det: int | None = None
    robust_batch_stoch: int | None = 4
    n_train: int = 100_000
    n_val: int = 10_000
    width: int = 512
    depth: int = 4
    lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.9)
    r1_gamma: float = 10.0
    lambda_r: float = 0.1
    # what lambda_r multiplies in the generator loss: "per-eps2" = R~ / eps^2 (the squared ratio of
    # output to input change, independent of the budget's size), "raw" = R~ as written in Eq. 7.
    # The raw term is ~1e-6 here and changes nothing; see docs/toy.md, "Scale of the robustness term".
    robust_scale: str = "per-eps2"
    eps: float = 1e-3
    attack_steps: int = 4
    attack_lr: float = 1e-4
    n_seeds: int = 50
    k: int = 5
    n_pr: int = 1000
    n_robust: int = 10_000  # validation inputs for the reported sqrt(R~), deterministic estimators
    n_robust_stoch: int = 2_000  # the same for stochastic ones (each input is attacked with n_seeds seeds)
    val_every: int = 1000
    ckpt_every: int = 2000
    hand_a: tuple[float, ...] = (1.0, 50.0)
    zigzag_f: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    zigzag_grid: int = 40
    estimators: tuple[str, ...] = tuple(LEARNED)
    quick: bool = False
    device: str = "cpu"

    def __post_init__(self):
        if self.robust_scale not in ROBUST_SCALES:
            raise UserError(f"unknown robust scale {self.robust_scale!r}; choose from {list(ROBUST_SCALES)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def attack(self) -> AdamL2Attack:
        return AdamL2Attack(eps=self.eps, steps=self.attack_steps, lr=self.attack_lr, n_seeds=self.n_seeds)

    def train_lambda(self) -> float:
        """The weight of the trainer's (raw) R~ term that realises lambda_r under robust_scale."""
        return self.lambda_r / self.eps ** 2 if self.robust_scale == "per-eps2" else self.lambda_r

    def gan_config(self, name: str) -> GANConfig:
        stochastic, robust = LEARNED[name]
        return GANConfig(
            steps=self.steps, batch_size=self.batch_size, lr_g=self.lr, lr_d=self.lr, betas=tuple(self.betas),
            r1_gamma=self.r1_gamma, lambda_r=self.train_lambda() if robust else 0.0, robust_every=1,
            robust_batch_size=(self.robust_batch_stoch if stochastic else self.robust_batch_det) if robust else None,
            seed=self.seed, val_every=self.val_every, ckpt_every=self.ckpt_every, log_every=100)


def full_config(seed: int = 0, **kw) -> ToyConfig:
    return ToyConfig(seed=seed, **kw)


def quick_config(seed: int = 0, **kw) -> ToyConfig:
    """CI smoke test: the same pipeline with few steps, narrower MLPs and fewer evaluation inputs.

    Asserts the output shapes and that training moved the validation metrics (precision, recall
    or ``w2_x2``, the exact 1-D W2 between the second coordinates of outputs and data)."""
    base = dict(seed=seed, steps=200, width=128, n_robust=1000, n_robust_stoch=500, val_every=100, ckpt_every=0,
                zigzag_f=(1, 4, 16), zigzag_grid=20, quick=True)
    base.update(kw)
    return ToyConfig(**base)


# -- evaluation -------------------------------------------------------------------------------
def _pr_batch(data: ToyData, cfg: ToyConfig, sample_z):
    """(real points, inputs, seeds) of the precision/recall evaluation: n_pr validation points,
    n_pr other validation inputs and one seed per input (None for deterministic estimators),
    the same draw for validation during training, the final table and the diagnostics."""
    n = cfg.n_pr
    if data.val.shape[0] < 2 * n + 100:
        raise UserError(f"n_val={data.val.shape[0]} too small for n_pr={n}; need at least {2 * n + 100}")
    y = data.val[n:2 * n, :1]
    g = torch.Generator(device=data.val.device).manual_seed(cfg.seed + _PR_SEED)
    return data.val[:n], y, None if sample_z is None else sample_z(y, 1, g)


def evaluate(fn, sample_z, data: ToyData, cfg: ToyConfig, robustness: bool = True) -> dict:
    """Precision/recall (real = n_pr validation points, fake = outputs on n_pr other validation inputs,
    one seed per input) and sqrt(R~) of the full output and of x2 alone on the first n_robust validation inputs."""
    real, y, z = _pr_batch(data, cfg, sample_z)
    with torch.no_grad():
        fake = fn(y, z)
    if fake.shape != (y.shape[0], 2):
        raise ValueError(f"a toy estimator must return (Y, g): {y.shape[0]} x 2 values, got {tuple(fake.shape)}")
    p, r = precision_recall(real, fake, k=cfg.k)
    out = {"precision": p, "recall": r, **slopes(fn, y, z)}
    if robustness:
        yv = data.val[: cfg.n_robust if sample_z is None else cfg.n_robust_stoch, :1]
        t0 = time.perf_counter()
        out.update(robustness_values(fn, yv, sample_z, cfg, chunk=256))
        out["robust_eval_s"] = time.perf_counter() - t0
    return out


def second_coordinate(fn):
    """The estimated coordinate x2 = g(Y, Z) of a consistent toy estimator (Y, g(Y, Z)), as an estimator."""
    return lambda y, z=None: fn(y, z)[:, 1:]


def robustness_values(fn, y: torch.Tensor, sample_z, cfg: ToyConfig, chunk: int = 1024) -> dict:
    """sqrt(R~) of the full 2-D output (``robustness``) and of the estimated coordinate x2 alone
    (``robustness_x2``), each with its own Adam attack on its own objective.

    Why both: the first coordinate is the input itself, so the attack's |d| (up to eps) enters the
    full output's difference directly and sets a floor of about eps under ``robustness``, whatever
    g does; ``robustness_x2`` asks how far an attacker can move g alone (0 for a g that ignores y).
    Both use the same seeds and random starts (one generator seed), so they differ only in the
    objective; the full value is computed first, exactly as before the x2 value existed.
    """
    def attack_generator():
        return torch.Generator(device=y.device).manual_seed(cfg.seed + _ROB_SEED)

    attack = cfg.attack()
    return {"robustness": attack.robustness(fn, y, sample_z, attack_generator(), chunk=chunk),
            "robustness_x2": attack.robustness(second_coordinate(fn), y, sample_z, attack_generator(), chunk=chunk)}


def slopes(fn, y: torch.Tensor, z) -> dict:
    """Mean |dg/dy| and |dg/dz| of the second output coordinate at the inputs y and seeds z.

    Why: precision and recall say what the outputs cover, not how; the slopes say whether an
    estimator spends its variation on the measurement (erratic) or on the seed (stochastic),
    and a slope of exactly 0 flags a constant estimator.
    """
    y = y.detach().clone().requires_grad_(True)
    zz = z.detach().clone().requires_grad_(True) if isinstance(z, torch.Tensor) else None
    with torch.enable_grad():
        g = fn(y, zz)[:, 1]
        grads = torch.autograd.grad(g.sum(), [y] if zz is None else [y, zz], allow_unused=True)
    mean_abs = [float("nan") if d is None else d.abs().mean().item() for d in grads]
    return {"slope_y": mean_abs[0], "slope_z": mean_abs[1] if zz is not None else float("nan")}


def dead_units(mlp: torch.nn.Module, x: torch.Tensor) -> float:
    """Fraction of the hidden ReLU units that are zero on every one of the inputs x.

    Why: a strong robustness term can drive whole layers to zero; such a network is constant and
    receives no gradient any more, a collapse that precision and recall alone cannot tell apart
    from a smooth estimator.
    """
    alive, total = 0, 0
    h = x
    with torch.no_grad():
        for layer in mlp.net:
            h = layer(h)
            if isinstance(layer, torch.nn.ReLU):
                alive += int((h > 0).any(dim=0).sum())
                total += h.shape[1]
    return 1.0 - alive / total


def panel_data(fn, sample_z, domain: str, seed: int, dev="cpu", n_support: int = 10_000, n_samples: int = 100):
    """Support over 10k inputs (a line for deterministic estimators, a cloud with one seed per
    input for stochastic ones) and 100 output samples on random inputs."""
    g = torch.Generator(device=dev).manual_seed(seed + _PANEL_SEED)
    lo = -1.0 if domain == "disk" else 0.0
    ys = torch.linspace(lo, 1.0, n_support, device=dev)[:, None]
    yi = lo + (1.0 - lo) * torch.rand(n_samples, 1, generator=g, device=dev)
    if domain == "disk":  # inputs distributed like Y = X1 of the disk
        yi = sample_disk(n_samples, g, dev)[:, :1]
    with torch.no_grad():
        sup = fn(ys, None if sample_z is None else sample_z(ys, 1, g))
        smp = fn(yi, None if sample_z is None else sample_z(yi, 1, g))
    return sup.cpu().numpy(), smp.cpu().numpy()


# -- learned estimators ---------------------------------------------------------------------------
def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train_learned(name: str, cfg: ToyConfig, ckpt_dir: str | None = None, resume: bool = True,
                  progress: bool = True, threads: int | None = None, require_finished: bool = False) -> dict:
    """Train one learned estimator and evaluate it. Deterministic given (cfg, device, threads).

    ``require_finished`` evaluates a finished checkpoint in ckpt_dir and refuses to train (a missing
    or unfinished checkpoint is an error): re-scoring must never retrain by accident.
    """
    if threads:
        torch.set_num_threads(threads)
    t_start = time.perf_counter()
    dev = cfg.device
    data = ToyData.make(cfg.seed, cfg.n_train, cfg.n_val, device=dev)
    stochastic, robust = LEARNED[name]
    torch.manual_seed(cfg.seed)  # the same initialisation for the erratic/robust pair
    G = ToyGenerator(stochastic, cfg.width, cfg.depth)
    D = MLP(2, 1, cfg.width, cfg.depth)
    sample_z = G.sample_z if stochastic else None
    real, y_pr, z_pr = _pr_batch(data, cfg, sample_z)

    def validate(trainer: GANTrainer, step: int) -> dict:
        with torch.no_grad():
            fake = trainer.estimator(y_pr, z_pr)
        p, r = precision_recall(real, fake, k=cfg.k)
        w = w2_1d(real[:, 1].cpu(), fake[:, 1].cpu())
        _log(f"[toy {name}] step {step}/{cfg.steps} precision {p:.3f} recall {r:.3f} W2(x2) {w:.4f} "
             f"({time.perf_counter() - t_start:.0f}s)")
        return {"precision": p, "recall": r, "w2_x2": w}

    gcfg = cfg.gan_config(name)
    ckpt = os.path.join(ckpt_dir, f"{name}.pt") if ckpt_dir else None
    trainer = GANTrainer(G, D, data.sampler(), gcfg, sample_z=sample_z, consistency=consistency,
                         robustness=cfg.attack().penalty, validate=validate, checkpoint=ckpt,
                         device=dev, progress=progress, description=f"toy {name}")
    resumed = False
    if resume:
        try:
            resumed = trainer.maybe_resume()
        except ValueError as exc:
            raise UserError(f"{exc}; start over without resuming ({{fresh}}) or use another {{ckpt_dir}}",
                            {"fresh": "", "ckpt_dir": ""}) from None
    if require_finished and trainer.step < cfg.steps:
        state = f"holds {trainer.step} of {cfg.steps} steps" if resumed else "is missing"
        raise UserError(f"checkpoint {ckpt} {state}; evaluating needs the finished checkpoint of {name}")
    if trainer.step == 0:
        trainer.run_validation()  # metrics of the untrained estimator (step 0)
    if not require_finished:  # a finished checkpoint is only read: train() would re-save it
        trainer.train()
    train_s = trainer.wall_s
    G.eval()
    res = evaluate(trainer.estimator, sample_z, data, cfg)
    res["dead_units"] = dead_units(G.mlp, torch.cat([y_pr, torch.zeros_like(y_pr) if z_pr is None else z_pr], dim=1))
    sup, smp = panel_data(trainer.estimator, sample_z, "disk", cfg.seed, dev)
    return {
        "name": name, "family": "learned", "stochastic": stochastic, "lambda_r": cfg.lambda_r if robust else 0.0,
        "robust_term": ROBUST_SCALES[cfg.robust_scale] if robust else "",
        "steps": trainer.step, **res, "train_s": train_s, "resumed": resumed,
        "history": trainer.history, "support": sup, "samples": smp,
    }


def config_from_dict(cfg_dict: dict) -> ToyConfig:
    """The ToyConfig of ``ToyConfig.to_dict()`` or of a run.json's "config" (lists back to tuples).

    run.json files written before ``robust_scale`` existed trained on raw R~: absent means "raw".
    """
    cfg_dict = dict(cfg_dict)
    for key in ("betas", "hand_a", "zigzag_f", "estimators"):
        if key in cfg_dict:
            cfg_dict[key] = tuple(cfg_dict[key])
    if cfg_dict.get("robust_scale") is None:
        cfg_dict["robust_scale"] = "raw"
    unknown = sorted(set(cfg_dict) - {f.name for f in dataclasses.fields(ToyConfig)})
    if unknown:
        raise UserError(f"toy config has unknown keys {unknown[:5]}; was it written by a newer srbench?")
    return ToyConfig(**cfg_dict)


def _train_worker(args) -> dict:
    name, cfg_dict, ckpt_dir, resume, threads = args
    return train_learned(name, config_from_dict(cfg_dict), ckpt_dir, resume, progress=False, threads=threads)


def checkpoint_record(ckpt_dir: str | None, names) -> dict:
    """File, size and sha256 of each learned estimator's checkpoint, for run.json.

    Why: checkpoints live in a git-ignored folder; the record says which files made a committed
    table, so a lost one is noticed and a restored one can be checked (results/toy/README.md).
    """
    out = {}
    for name in names:
        path = os.path.join(ckpt_dir, f"{name}.pt") if ckpt_dir else None
        if path and os.path.isfile(path):
            out[name] = {"file": path, "bytes": os.path.getsize(path), "sha256": sha256_of(path)}
    return out


# -- the whole study ---------------------------------------------------------------------------
def hand_made_results(cfg: ToyConfig, data: ToyData) -> list[dict]:
    rows = []
    for a in cfg.hand_a:
        est = sine_estimator(a)
        res = evaluate(est, None, data, cfg)
        sup, smp = panel_data(est, None, "disk", cfg.seed)
        rows.append({"name": est.name, "family": "hand-made", "stochastic": False, "lambda_r": None,
                     "steps": None, **res, "support": sup, "samples": smp})
    return rows


def zigzag_results(cfg: ToyConfig) -> tuple[list[dict], list[dict]]:
    """W2 curve over cfg.zigzag_f, plus precision/recall/robustness rows for the zigzag estimators."""
    w2 = [zigzag_w2(f, cfg.zigzag_grid) for f in cfg.zigzag_f]
    g = torch.Generator().manual_seed(cfg.seed + _PR_SEED)
    real = sample_square(cfg.n_pr, g)
    yv = sample_square(max(cfg.n_pr, cfg.n_robust), g)
    rows = []
    for f in cfg.zigzag_f:
        est = zigzag_estimator(f)
        with torch.no_grad():
            fake = est(yv[: cfg.n_pr, :1])
        p, r = precision_recall(real, fake, k=cfg.k)
        rob = robustness_values(est, yv[: cfg.n_robust, :1], None, cfg)
        sup, smp = panel_data(est, None, "square", cfg.seed)
        rows.append({"name": est.name, "family": "zigzag (App. C)", "stochastic": False, "lambda_r": None,
                     "steps": None, "precision": p, "recall": r, **rob,
                     "support": sup, "samples": smp})
    return w2, rows


def run_toy(cfg: ToyConfig, out_dir: str | os.PathLike, *, ckpt_dir: str | None = None, resume: bool = True,
            jobs: int = 1, threads: int | None = None, progress: bool = True, command: str | None = None) -> dict:
    """Run the study and write table.md/.csv, figures, histories and run.json into out_dir.

    With ``ckpt_dir``, each learned estimator continues from its checkpoint there when one exists
    (``resume=True``, the default, as ``srbench train`` does): re-running a finished or interrupted
    study never overwrites hours of training. ``resume=False`` (``--fresh``) starts over.
    """
    unknown = [e for e in cfg.estimators if e not in LEARNED]
    if unknown:
        raise UserError(f"unknown toy estimator(s) {unknown}; choose from {list(LEARNED)}")
    if cfg.steps < 1:
        raise UserError(f"{{steps}} must be >= 1, got {cfg.steps}", {"steps": ""})
    out = writable_dir(out_dir)
    if ckpt_dir:
        writable_dir(ckpt_dir, "checkpoint folder")
    t0 = time.perf_counter()
    data = ToyData.make(cfg.seed, cfg.n_train, cfg.n_val, device=cfg.device)

    if jobs > 1 and len(cfg.estimators) > 1:
        args = [(n, cfg.to_dict(), ckpt_dir, resume, threads or 1) for n in cfg.estimators]
        with ProcessPoolExecutor(max_workers=min(jobs, len(args)), mp_context=get_context("spawn")) as ex:
            learned = list(ex.map(_train_worker, args))
    else:
        learned = [train_learned(n, cfg, ckpt_dir, resume, progress, threads) for n in cfg.estimators]

    if cfg.quick:  # smoke assertions: shapes and that training moved the metrics
        for r in learned:
            if r["support"].shape != (10_000, 2) or r["samples"].shape != (100, 2):
                raise RuntimeError(f"quick check failed: {r['name']} produced panels of shapes "
                                   f"{tuple(r['support'].shape)} and {tuple(r['samples'].shape)}")
            vals = [h for h in r["history"] if h.get("val")]
            first, last = vals[0], vals[-1]
            if max(abs(first[k] - last[k]) for k in ("precision", "recall", "w2_x2")) < 1e-6:
                raise RuntimeError(f"quick check failed: training did not move the metrics of {r['name']}")

    hand = hand_made_results(cfg, data)
    w2, zig = zigzag_results(cfg)
    rows = hand + learned + zig
    wall = time.perf_counter() - t0

    write_tables(rows, out)
    write_w2(w2, out)
    write_histories(learned, out)
    plot_panels(hand + learned, out / "panels.png", individual_dir=out)
    plot_panels(zig, out / "zigzag_panels.png", domain="square")
    plot_w2(w2, out / "zigzag_w2.png")
    plot_training(learned, out / "training.png")
    meta = {
        "command": command, "seed": cfg.seed, "wall_s": wall, "jobs": jobs,
        "threads": threads or torch.get_num_threads(), "torch": torch.__version__, "device": cfg.device,
        "config": cfg.to_dict(),
        "train_s": {r["name"]: r["train_s"] for r in learned},
        "robust_eval_s": {r["name"]: r.get("robust_eval_s") for r in rows},
        "checkpoints": checkpoint_record(ckpt_dir, cfg.estimators),
    }
    atomic_write_text(out / "run.json", json.dumps(meta, indent=2))
    return {"rows": rows, "w2": w2, "wall_s": wall, "out": str(out), "meta": meta}


def table_rows(result: dict) -> list[dict]:
    return summary_rows(result["rows"])


def fmt_seconds(s: float) -> str:
    m, sec = divmod(int(round(s)), 60)
    return f"{m} min {sec} s" if m else f"{s:.1f} s"

