"""Run a suite: expand it into cells, skip finished ones, hand the rest to an executor.

Data flows one way: suite -> cells -> per-image rows -> results store. Each
finished cell is written atomically by the store, so an interrupted run is
resumed by running the same command again; a cell file that is broken (does
not parse, or lacks rows of some images) is recomputed. Before any compute the
preflight (:mod:`srbench.bench.preflight`) finds every model's weights and every
dataset; only then is the manifest written. The executors (local, Ray) and
sharding live in :mod:`srbench.bench.executors`; both executors evaluate cells
with :func:`srbench.bench.executors.execute_unit`.
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from srbench.bench.executors import make_executor, parse_shard, shard_cells
from srbench.bench.preflight import Plan, preflight
from srbench.bench.progress import Progress
from srbench.bench.provenance import environment, utc_now
from srbench.bench.saved_images import saved_images
from srbench.bench.speed import SpeedOptions
from srbench.bench.store import NO_FILE, RunStore
from srbench.bench.suite import Cell, Suite, cells
from srbench.core.restorer import resolve_device
from srbench.files import writable_dir


def cell_statuses(suite: Suite, store: RunStore, shard: tuple[int, int] | None = None,
                  plan: Plan | None = None) -> list[tuple[Cell, str | None]]:
    """Each cell of the shard and why it must be computed: None (finished), NO_FILE, or what is wrong with its file.

    With a plan, a finished cell must hold one row per image of its dataset; without one, only its structure is checked.
    """
    return [(c, store.cell_status(c.cell_id, None if plan is None else c.evaluated_images(plan.images[c.dataset])))
            for c in shard_cells(cells(suite), shard)]


def pending_cells(suite: Suite, store: RunStore, shard: tuple[int, int] | None = None,
                  plan: Plan | None = None) -> list[Cell]:
    return [c for c, status in cell_statuses(suite, store, shard, plan) if status is not None]


@contextmanager
def removed_if_failed_empty(out_dir: Path) -> Iterator[None]:
    """If the run fails before writing any result, remove the folders it created (no folder holding only a manifest)."""
    created = [p for p in (out_dir, *out_dir.parents) if not p.exists()]  # deepest first
    try:
        yield
    except BaseException:
        if created and out_dir.is_dir() and not any(
                p.is_file() and p.name != "manifest.json" for p in out_dir.rglob("*")):
            shutil.rmtree(out_dir, ignore_errors=True)
            for folder in created[1:]:
                try:
                    folder.rmdir()
                except OSError:  # not empty: someone else's files
                    break
        raise


def run_suite(suite: Suite, out_dir: str | Path, quiet: bool = False, only: Iterable[Cell] | None = None,
              executor: str | Any = "local", shard: tuple[int, int] | str | None = None,
              **executor_options: Any) -> Path:
    """Evaluate every unfinished cell of ``suite`` (of shard ``i/n``) into ``out_dir``; return the run folder.

    ``executor`` is ``"local"`` (this process), ``"ray"`` (Ray tasks; ``address=``, ``images_per_task=``,
    ``cpus_per_task=``, ``gpus_per_task=``, ``memory_per_task=`` (GiB), ``max_retries=`` go to :class:`srbench.bench.executors.RayExecutor`)
    or an executor object with the same ``run`` method. The preflight runs first: a missing input stops
    the run before any cell is computed or the manifest is written.
    """
    shard = parse_shard(shard) if isinstance(shard, str) else shard
    runner = make_executor(executor, **executor_options) if isinstance(executor, str) else executor
    with removed_if_failed_empty(Path(out_dir)):
        store = RunStore(writable_dir(out_dir, "run folder"))
        device = resolve_device(suite.device)
        plan = preflight(suite)
        env = environment(device)
        statuses = cell_statuses(suite, store, shard, plan) if only is None else []
        todo = list(only) if only is not None else [c for c, status in statuses if status is not None]
        all_ids = [c.cell_id for c in cells(suite)]
        run_info = {"executor": getattr(runner, "name", type(runner).__name__),
                    "shard": None if shard is None else f"{shard[0]}/{shard[1]}",
                    "speed_options": SpeedOptions.from_suite(suite).record(), "inputs": plan.record()}
        # a resume with nothing to do keeps the manifest of the run that did the work (no history entries for it)
        record = bool(todo) or not store.manifest_path.is_file()
        if record:
            store.write_manifest({"suite": suite.to_dict(), "environment": env, **run_info, "started": utc_now(),
                                  "cells": all_ids})
        with Progress(quiet) as progress:
            for c, status in statuses:
                if status not in (None, NO_FILE):
                    progress.warn(f"cell {c.cell_id}: {status}; recomputing it")
            if not todo:
                what = "" if shard is None else f" of shard {shard[0]}/{shard[1]}"
                progress.log(f"all {len(all_ids)} cells{what} of {out_dir} are finished; nothing to do")
                weights = {}
            else:
                weights = runner.run(suite, todo, store, progress, env)
        if record:
            store.write_manifest({"suite": suite.to_dict(), "environment": env, **run_info, "finished": utc_now(),
                                  "cells": all_ids, "weights_sha256": weights, "saved_images": saved_images(store.dir)})
    return Path(out_dir)


def dry_run_report(suite: Suite, out_dir: str | Path, shard: tuple[int, int] | None = None) -> str:
    """What ``run_suite`` would do, computing and writing nothing: the weights, datasets and cells (finished or not)."""
    plan = preflight(suite)
    statuses = cell_statuses(suite, RunStore(out_dir), shard, plan)
    pending = sum(status is not None for _, status in statuses)
    what = "" if shard is None else f" of shard {shard[0]}/{shard[1]}"
    lines = [f"dry run: nothing computed or written; run folder {out_dir}", "weights:"]
    lines += [f"  {model}: {w.describe()}" for model, w in plan.weights.items()]
    lines += ["datasets:"] + [f"  {d}: {len(names)} images" for d, names in plan.images.items()]
    lines.append(f"cells{what}: {len(statuses)} ({len(statuses) - pending} finished, {pending} pending)")
    for c, status in statuses:
        state = "finished" if status is None else "pending" if status == NO_FILE else f"pending, to recompute: {status}"
        kept = len(list((Path(out_dir) / "parts" / c.cell_id).glob("[!.]*.json"))) if status is not None else 0
        lines.append(f"  {c.cell_id}  [{state}{f'; {kept} finished part(s) kept' if kept else ''}]")
    return "\n".join(lines)
