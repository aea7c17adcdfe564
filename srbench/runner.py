"""Run a suite: expand it into cells, skip finished ones, evaluate the rest.

Data flows one way: suite -> cells -> per-image rows -> results store. Each
finished cell is written atomically by the store, so an interrupted run is
resumed by running the same command again.
"""
from __future__ import annotations

import datetime as dt
import platform
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Iterable

import torch

import srbench
from srbench.data import load_dataset
from srbench.evaluate import CellEvaluator, batches
from srbench.models import load_model, resolve_device
from srbench.store import RunStore
from srbench.suite import Cell, Suite, cells


def environment(device: torch.device) -> dict[str, Any]:
    return {
        "srbench_version": srbench.__version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
    }


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Progress:
    """Rich progress bars for cells, images and attack steps (silent when quiet)."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._bar = None

    def __enter__(self):
        if not self.quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), transient=False)
            self._bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def task(self, description: str, total: int):
        return self._bar.add_task(description, total=total) if self._bar else None

    def update(self, task, **kwargs):
        if self._bar is not None and task is not None:
            self._bar.update(task, **kwargs)

    def log(self, message: str):
        if self._bar is not None:
            self._bar.console.print(message)


def pending_cells(suite: Suite, store: RunStore) -> list[Cell]:
    return [c for c in cells(suite) if not store.is_done(c.cell_id)]


def run_suite(suite: Suite, out_dir: str | Path, quiet: bool = False, only: Iterable[Cell] | None = None) -> Path:
    """Evaluate every unfinished cell of ``suite`` into ``out_dir``; return the run folder."""
    store = RunStore(out_dir)
    device = resolve_device(suite.device)
    env = environment(device)
    todo = list(only) if only is not None else pending_cells(suite, store)
    weights: dict[str, str | None] = {}
    store.write_manifest({"suite": suite.to_dict(), "environment": env, "started": _now(),
                          "cells": [c.cell_id for c in cells(suite)]})
    with Progress(quiet) as progress:
        cell_task = progress.task("cells", len(todo))
        if not todo:
            progress.log(f"all {len(cells(suite))} cells of {out_dir} are finished; nothing to do")
        by_model: dict[str, list[Cell]] = {}
        for c in todo:
            by_model.setdefault(c.model, []).append(c)
        for model_name, model_cells in by_model.items():
            restorer = load_model(model_name, weights=suite.weights.get(model_name), device=device, scale=suite.scale)
            weights[model_name] = restorer.weights_sha256
            for dataset in dict.fromkeys(c.dataset for c in model_cells):
                pairs = load_dataset(dataset, suite.scale, root=suite.data_root, limit=suite.limit)
                ds_cells = [c for c in model_cells if c.dataset == dataset]
                evaluator = None
                for c in ds_cells:
                    attack = c.make_attack()
                    if evaluator is None:
                        evaluator = CellEvaluator(restorer, suite.scale, seed=c.seed,
                                                  n_seeds=getattr(attack, "n_eot", 10),
                                                  z_chunk=getattr(attack, "z_chunk", None),
                                                  diversity_samples=suite.diversity_samples)
                    rows = _run_cell(c, attack, evaluator, pairs, device, suite, progress, env,
                                     weights[model_name])
                    store.write_cell(c.cell_id, c.as_dict(), rows)
                    progress.update(cell_task, advance=1)
            del restorer
    store.write_manifest({"suite": suite.to_dict(), "environment": env, "finished": _now(),
                          "cells": [c.cell_id for c in cells(suite)], "weights_sha256": weights})
    return Path(out_dir)


def _run_cell(c: Cell, attack, evaluator: CellEvaluator, pairs, device, suite: Suite, progress: Progress,
              env: dict, weights_sha256: str | None) -> list[dict]:
    label = f"{c.model} / {c.dataset} x{c.scale} / {c.attack}" + ("" if c.budget is None else f" {c.budget:g}")
    image_task = progress.task(f"  images: {label}", len(pairs))
    steps = getattr(attack, "steps", 0) if c.budget is not None else 0
    step_task = progress.task("  attack steps", steps) if steps else None
    rows = []
    for group in batches(pairs, suite.batch_size):
        t0 = time.perf_counter()
        progress.update(step_task, completed=0)
        on_step = (lambda t: progress.update(step_task, completed=t)) if step_task is not None else None
        with torch.no_grad() if c.budget is None else nullcontext():
            group_rows = evaluator.evaluate(group, attack, device, on_step=on_step)
        elapsed = (time.perf_counter() - t0) / len(group)
        for row in group_rows:
            row.update({
                "model": c.model, "weights_sha256": weights_sha256, "dataset": c.dataset, "scale": c.scale,
                "attack": c.attack, "alpha": c.budget if attack.budget_name == "alpha" else None,
                "budget": c.budget, "attack_options": attack.options(), "seed": c.seed,
                "time": _now(), "elapsed_s": elapsed, **env,
            })
        rows.extend(group_rows)
        progress.update(image_task, advance=len(group))
    progress.update(image_task, visible=False)
    if step_task is not None:
        progress.update(step_task, visible=False)
    return rows
