"""Run a suite: expand it into cells, skip finished ones, hand the rest to an executor.

Data flows one way: suite -> cells -> per-image rows -> results store. Each
finished cell is written atomically by the store, so an interrupted run is
resumed by running the same command again. The executors (local, Ray) and
sharding live in :mod:`srbench.executors`; both executors evaluate cells
with :func:`srbench.executors.execute_unit`.
"""
from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path
from typing import Any, Iterable

import torch

import srbench
from srbench.models import resolve_device
from srbench.store import RunStore, writable_dir
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


def pending_cells(suite: Suite, store: RunStore, shard: tuple[int, int] | None = None) -> list[Cell]:
    from srbench.executors import shard_cells

    return [c for c in shard_cells(cells(suite), shard) if not store.is_done(c.cell_id)]


def run_suite(suite: Suite, out_dir: str | Path, quiet: bool = False, only: Iterable[Cell] | None = None,
              executor: str | Any = "local", shard: tuple[int, int] | str | None = None,
              **executor_options: Any) -> Path:
    """Evaluate every unfinished cell of ``suite`` (of shard ``i/n``) into ``out_dir``; return the run folder.

    ``executor`` is ``"local"`` (this process), ``"ray"`` (Ray tasks; ``address=``, ``images_per_task=``,
    ``cpus_per_task=``, ``gpus_per_task=``, ``max_retries=`` go to :class:`srbench.executors.RayExecutor`)
    or an executor object with the same ``run`` method.
    """
    from srbench.executors import make_executor, parse_shard
    from srbench.speed import SpeedOptions

    shard = parse_shard(shard) if isinstance(shard, str) else shard
    runner = make_executor(executor, **executor_options) if isinstance(executor, str) else executor
    store = RunStore(writable_dir(out_dir, "run folder"))
    device = resolve_device(suite.device)
    env = environment(device)
    todo = list(only) if only is not None else pending_cells(suite, store, shard)
    all_ids = [c.cell_id for c in cells(suite)]
    run_info = {"executor": getattr(runner, "name", type(runner).__name__),
                "shard": None if shard is None else f"{shard[0]}/{shard[1]}",
                "speed_options": SpeedOptions.from_suite(suite).record()}
    store.write_manifest({"suite": suite.to_dict(), "environment": env, **run_info, "started": _now(),
                          "cells": all_ids})
    with Progress(quiet) as progress:
        if not todo:
            what = "" if shard is None else f" of shard {shard[0]}/{shard[1]}"
            progress.log(f"all {len(all_ids)} cells{what} of {out_dir} are finished; nothing to do")
            weights = {}
        else:
            weights = runner.run(suite, todo, store, progress, env)
    store.write_manifest({"suite": suite.to_dict(), "environment": env, **run_info, "finished": _now(),
                          "cells": all_ids, "weights_sha256": weights})
    return Path(out_dir)
