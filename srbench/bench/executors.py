"""Executors: where the cells of a run are evaluated.

Both executors call the same function, :func:`execute_unit`, on *work units*:
one cell over a contiguous run of its dataset's image batches. What differs is
where and how the units run:

- :class:`LocalExecutor` runs, in this process, one unit per cell x batch of
  images, cell by cell (the model is loaded once per model, clean outputs are
  computed once per image and reused by every budget); it keeps each finished
  batch under ``RUN_DIR/parts/`` and writes each cell as soon as it is
  finished, so a stopped run resumes mid-cell.
- :class:`RayExecutor` makes one Ray task per cell x image chunk (a chunk is
  ``images_per_task`` images, rounded up to whole batches), so one slow model
  is spread over the cluster instead of serializing the run (a cell whose
  attack learns on a split, e.g. universal, is one task: it is fitted once,
  not once per chunk). Each task asks
  for ``cpus_per_task`` CPUs, ``gpus_per_task`` GPUs and, if given,
  ``memory_per_task`` GiB (Ray then runs no more tasks on a node than its
  memory holds, instead of killing one when they outgrow it). Results come back to
  the driver, which writes each chunk atomically under ``RUN_DIR/parts/`` and
  joins a cell's chunks into its cell file once all are there: a driver that
  crashes loses at most the chunks in flight, and running the command again
  resumes (a chunk file that is broken, or lacks rows of its images, is
  deleted and recomputed). A task that fails (an exception, a dead worker) is recorded under
  ``RUN_DIR/errors/`` and retried up to ``max_retries`` times; a unit that
  still fails is reported at the end and its cell stays pending.

Sharding (``--shard i/n``) is a deterministic split of the cells that needs
neither Ray nor a shared scheduler: shard i takes cells i, i+n, i+2n, ... of
the suite's cell list; the leaderboard merges the shards' run folders (or the
one folder they share).
"""
from __future__ import annotations

import dataclasses
import shutil
import time
import traceback
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch

from srbench.attacks import LINF_ALPHA
from srbench.bench.evaluate import CellEvaluator, batches
from srbench.bench.progress import Progress
from srbench.bench.provenance import environment, utc_now
from srbench.bench.saved_images import ImageSaver, save_perturbation
from srbench.bench.speed import SpeedOptions, apply_speed
from srbench.bench.store import RunStore, check_result_file, read_result_file
from srbench.bench.suite import Cell, Suite
from srbench.core.errors import UserError, shown
from srbench.core.registry import Registry
from srbench.core.restorer import resolve_device
from srbench.data import load_dataset
from srbench.files import write_json
from srbench.models import MODELS, get_card, load_model, register_model, training_of

GIB = 2 ** 30

# ----------------------------------------------------------------------------- sharding


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` -> (i, n) with 0 <= i < n; a one-line UserError otherwise."""
    if text is None:
        return None
    i, sep, n = str(text).partition("/")
    try:
        i_, n_ = int(i), int(n)
    except ValueError:
        i_ = n_ = -1
    if not sep or n_ < 1 or not 0 <= i_ < n_:
        raise UserError(f"{{shard}} takes I/N with 0 <= I < N (e.g. 0/4 for the first of four shards), got {shown(text)}",
                        {"shard": ""})
    return i_, n_


def shard_cells(all_cells: Sequence[Cell], shard: tuple[int, int] | None) -> list[Cell]:
    """Cells i, i+n, i+2n, ... of the suite's cell list (all of them without a shard)."""
    if shard is None:
        return list(all_cells)
    i, n = shard
    return [c for k, c in enumerate(all_cells) if k % n == i]


# ----------------------------------------------------------------------------- work units


@dataclasses.dataclass(frozen=True)
class WorkUnit:
    """Chunk ``chunk`` of ``n_chunks`` of one cell: batches [start, stop) of its dataset (None: all)."""

    cell: Cell
    start: int = 0
    stop: int | None = None
    chunk: int = 0
    n_chunks: int = 1
    images: tuple[str, ...] = ()  # names of the images in the batches: what a sound chunk file holds

    @property
    def unit_id(self) -> str:
        return f"{self.cell.cell_id}__chunk{self.chunk}of{self.n_chunks}"


class Worker:
    """Per-process state reused across units: the last model loaded and its evaluators."""

    def __init__(self):
        self.key: tuple | None = None
        self.restorer = None
        self.evaluators: dict[tuple, CellEvaluator] = {}
        self.datasets: dict[tuple, list] = {}

    def model(self, suite: Suite, name: str, device: torch.device, speed: SpeedOptions):
        key = (suite.model_spec(name), suite.weights.get(name), str(device), suite.scale, speed)
        if key != self.key:
            self.restorer = self.evaluators = None
            restorer = load_model(suite.model_spec(name), weights=suite.weights.get(name), device=device,
                                  scale=suite.scale)
            self.restorer, self.key, self.evaluators = apply_speed(restorer, speed), key, {}
        return self.restorer

    def pairs(self, suite: Suite, dataset: str) -> list:
        key = (dataset, suite.scale, suite.data_root, suite.limit)
        if key not in self.datasets:
            self.datasets = {key: load_dataset(dataset, suite.scale, root=suite.data_root, limit=suite.limit)}
        return self.datasets[key]

    def evaluator(self, suite: Suite, dataset: str, cell: Cell, attack) -> CellEvaluator:
        key = (dataset, cell.seed, attack.n_seeds, attack.seed_chunk, cell.gray_convention, suite.niqe)
        if key not in self.evaluators:
            self.evaluators = {key: CellEvaluator(self.restorer, suite.scale, seed=cell.seed,
                                                  n_seeds=attack.n_seeds, z_chunk=attack.seed_chunk,
                                                  diversity_samples=suite.diversity_samples,
                                                  gray_convention=cell.gray_convention,
                                                  score_niqe=suite.niqe, dataset=self.pairs(suite, dataset))}
        return self.evaluators[key]


def execute_unit(suite: Suite, unit: WorkUnit, worker: Worker | None = None, progress: Any = None,
                 env: dict | None = None, run_dir: str | Path | None = None) -> list[dict]:
    """Evaluate ``unit``: the rows of its cell's images in its batches.

    ``run_dir``: where the suite's ``save_images`` are written (srbench/bench/saved_images.py); None keeps none.
    """

    worker = worker or Worker()
    progress = progress or Progress(quiet=True)  # silent: Ray workers report through the driver
    device = resolve_device(suite.device)
    env = env or environment(device)
    speed = SpeedOptions.from_suite(suite)
    c = unit.cell
    restorer = worker.model(suite, c.model, device, speed)
    pairs = worker.pairs(suite, c.dataset)
    groups = batches(pairs, suite.batch_size)[unit.start:unit.stop]
    attack = c.make_attack()
    evaluator = worker.evaluator(suite, c.dataset, c, attack)
    learned, evaluated = {}, [p.name for p in pairs]
    if attack.fits_on_split and c.budget is not None:
        groups, learned = fit_on_split(c, attack, evaluator, pairs, groups, device, progress, run_dir)
        evaluated = attack.split(evaluated)[1]  # --save-images N keeps the first N images it is evaluated on
    saver = (ImageSaver(run_dir, c.cell_id, suite.save_images, evaluated)
             if run_dir is not None and suite.save_images else None)
    part = f", part {unit.chunk + 1}/{unit.n_chunks}" if unit.n_chunks > 1 else ""
    rows = run_cell(c, attack, evaluator, groups, device, progress, env,
                    restorer.weights_sha256, speed, on_images=saver, part=part)
    for row in rows:
        row.update(learned)
    return rows


def fit_on_split(c: Cell, attack, evaluator: CellEvaluator, pairs: list, groups: list[list], device: torch.device,
                 progress: Any, run_dir: str | Path | None) -> tuple[list[list], dict]:
    """Fit an attack that learns on a split (e.g. universal) on its training images and keep what it learned
    with the run. Returns the batches of the images it is evaluated on (the others) and what each of the cell's
    rows records about the kept files (``learned_perturbation``: name -> {"npy", "png"}, paths in the run)."""
    train, test = attack.split([p.name for p in pairs])
    task = progress.task(f"  fitting {c.attack} on {len(train)} image(s)", attack.n_steps)
    learned = evaluator.fit(attack, [p for p in pairs if p.name in set(train)], device,
                            on_step=lambda t: progress.update(task, completed=t))
    progress.update(task, visible=False)
    kept_files = {}
    if run_dir is not None:
        kept_files = {name: save_perturbation(run_dir, c.cell_id, name, tensor, attack.eps)
                      for name, tensor in learned.items()}
    keep = set(test)
    test_groups = [kept for kept in ([p for p in g if p.name in keep] for g in groups) if kept]
    return test_groups, ({"learned_perturbation": kept_files} if kept_files else {})


def run_cell(c: Cell, attack, evaluator: CellEvaluator, groups: list[list], device: torch.device, progress: Any,
             env: dict, weights_sha256: str | None, speed: SpeedOptions | None = None,
             on_images: Callable | None = None, part: str = "") -> list[dict]:
    """Per-image rows of one cell over the given batches of images (``part``: which of the cell's parts, shown)."""
    label = f"{c.model} / {c.dataset} x{c.scale} / {c.attack}" + ("" if c.budget is None else f" {c.budget:g}") + part
    image_task = progress.task(f"  images: {label}", sum(len(g) for g in groups))
    steps = attack.n_steps if c.budget is not None else 0
    step_task = progress.task("  attack steps", steps) if steps else None
    speed_record = (speed or SpeedOptions()).record()
    rows = []
    for group in groups:
        t0 = time.perf_counter()
        progress.update(step_task, completed=0)
        on_step = (lambda t: progress.update(step_task, completed=t)) if step_task is not None else None
        with torch.no_grad() if c.budget is None else nullcontext():
            group_rows = evaluator.evaluate(group, attack, device, on_step=on_step, on_images=on_images)
        elapsed = (time.perf_counter() - t0) / len(group)
        for row in group_rows:
            row.update({
                "model": c.model, "weights_sha256": weights_sha256, "dataset": c.dataset, "scale": c.scale,
                "model_options": evaluator.restorer.model_options,  # e.g. a diffusion sampler's steps and eta
                "training": training_of(c.model),  # pixel / GAN / flow: the leaderboard can group by it
                "attack": c.attack, "alpha": c.budget if attack.budget == LINF_ALPHA else None,
                "budget": c.budget, "budget_unit": attack.budget_unit(),
                "budget_norm": None if attack.budget is None else attack.budget.norm,
                "attack_options": attack.options(), "seed": c.seed,
                "speed_options": speed_record, "time": utc_now(), "elapsed_s": elapsed, **env,
            })
        rows.extend(group_rows)
        progress.update(image_task, advance=len(group))
    progress.update(image_task, visible=False)
    if step_task is not None:
        progress.update(step_task, visible=False)
    return rows


def work_units(suite: Suite, todo: list[Cell], images_per_task: int) -> list[WorkUnit]:
    """The cells of ``todo`` split into units of whole batches holding at least ``images_per_task`` images
    (the last may hold fewer), cell by cell in suite order; a cell whose attack learns on a split
    (universal) is one unit, so it is fitted once."""
    units, names_by_dataset = [], {}
    for c in _by_model_then_dataset(todo):
        if c.dataset not in names_by_dataset:
            pairs = load_dataset(c.dataset, suite.scale, root=suite.data_root, limit=suite.limit)
            names_by_dataset[c.dataset] = [[p.name for p in g] for g in batches(pairs, suite.batch_size)]
        groups = names_by_dataset[c.dataset]
        fits_once = c.budget is not None and c.make_attack().fits_on_split
        spans = [(0, len(groups))] if fits_once else _spans([len(g) for g in groups], images_per_task)
        evaluated = set(c.evaluated_images([name for g in groups for name in g]))  # a fitted attack's test images
        units.extend(WorkUnit(c, a, b, i, len(spans), tuple(n for g in groups[a:b] for n in g if n in evaluated))
                     for i, (a, b) in enumerate(spans))
    return units


def _spans(batch_sizes: list[int], images_per_task: int) -> list[tuple[int, int]]:
    """Consecutive [start, stop) runs of batches, each holding at least ``images_per_task`` images but the last."""
    spans, start, count = [], 0, 0
    for k, size in enumerate(batch_sizes):
        count += size
        if count >= images_per_task or k == len(batch_sizes) - 1:
            spans.append((start, k + 1))
            start, count = k + 1, 0
    return spans


# ----------------------------------------------------------------------------- local executor


class LocalExecutor:
    """Everything in this process, one model at a time, cell by cell; each batch of images is kept under
    ``RUN_DIR/parts/`` as it finishes and each cell file written as soon as the cell is done, so a stopped
    run resumes mid-cell."""

    name = "local"

    def run(self, suite: Suite, todo: list[Cell], store: RunStore, progress: Any, env: dict) -> dict[str, str | None]:
        weights: dict[str, str | None] = {}
        cell_task = progress.task("cells", len(todo))
        worker, parts = Worker(), PartStore(store)
        by_cell: dict[str, list[WorkUnit]] = {}
        for u in work_units(suite, todo, images_per_task=1):  # one batch per unit
            by_cell.setdefault(u.cell.cell_id, []).append(u)
        for cell_id, units in by_cell.items():
            c, rows = units[0].cell, []
            for u in units:
                problem = parts.drop_if_broken(u)
                if problem:
                    progress.warn(f"chunk {parts.path(u)}: {problem}; recomputing it")
                if parts.has(u):
                    rows.extend(parts.read(u))
                    continue
                unit_rows = execute_unit(suite, u, worker, progress, env, run_dir=store.dir)
                if len(units) > 1:
                    parts.write(u, unit_rows)
                rows.extend(unit_rows)
            store.write_cell(cell_id, c.as_dict(), rows)
            parts.clear(cell_id)
            progress.update(cell_task, advance=1)
            weights[c.model] = rows[0].get("weights_sha256") if rows else None
        return weights


def _by_model_then_dataset(todo: Iterable[Cell]) -> list[Cell]:
    """The cells grouped by model, then dataset, each group in suite order: a worker loads each model once."""
    by_model: dict[str, dict[str, list[Cell]]] = {}
    for c in todo:
        by_model.setdefault(c.model, {}).setdefault(c.dataset, []).append(c)
    return [c for per_dataset in by_model.values() for same in per_dataset.values() for c in same]


# ----------------------------------------------------------------------------- Ray executor


def largest_node_memory_gib(ray) -> float:
    """The most memory (GiB) one live Ray node offers to tasks: the cap on a task's ``memory_per_task``."""
    return max((n["Resources"].get("memory", 0) for n in ray.nodes() if n.get("Alive")), default=0) / GIB


def tasks_at_once(nodes: list[dict], cpus_per_task: float, memory_per_task_gib: float | None) -> tuple[int, int]:
    """(tasks Ray can run at once, tasks the CPUs alone would allow) over the live nodes: a memory
    reservation can leave CPUs idle, e.g. when Ray started while other work held memory."""
    by_memory = by_cpus = 0
    for n in nodes:
        if not n.get("Alive"):
            continue
        res = n["Resources"]
        cpus = int(res.get("CPU", 0) // cpus_per_task) if cpus_per_task > 0 else 0
        fit = cpus
        if memory_per_task_gib:
            fit = min(cpus, int(res.get("memory", 0) // (memory_per_task_gib * GIB)))
        by_cpus += cpus
        by_memory += fit
    return by_memory, by_cpus


_RAY_WORKER: Worker | None = None


def _ray_task(suite_dict: dict, unit: WorkUnit, cards: dict, env_extra: dict, run_dir: str) -> list[dict]:
    """Body of one Ray task: runs in a worker process, which keeps its last model between tasks."""
    global _RAY_WORKER
    for name, card in cards.items():  # models registered by the driver's code, not by entry points
        if name not in MODELS:
            register_model(card)
    suite = Suite(**suite_dict)
    if _RAY_WORKER is None:
        _RAY_WORKER = Worker()
    env = {**environment(resolve_device(suite.device)), **env_extra}
    return execute_unit(suite, unit, _RAY_WORKER, env=env, run_dir=run_dir)  # saved images: a folder the workers share


def _driver_cards(suite: Suite) -> dict:
    """Cards of suite models whose builder is a Python object (registered at run time, not by entry points)."""
    cards = {}
    for name in suite.models:
        if name in MODELS:
            card = get_card(name)
            if not isinstance(card.build, str):
                cards[name] = card
    return cards


class RayExecutor:
    """Cell x image-chunk Ray tasks; the driver writes results and retries failures."""

    name = "ray"

    def __init__(self, address: str | None = None, images_per_task: int | None = None, cpus_per_task: float = 1,
                 gpus_per_task: float | None = None, memory_per_task: float | None = None, max_retries: int = 2,
                 init_kwargs: dict | None = None):
        self.address = address
        self.images_per_task = images_per_task
        self.cpus_per_task = cpus_per_task
        self.gpus_per_task = gpus_per_task
        self.memory_per_task = memory_per_task  # GiB that Ray reserves per task: big models then run fewer at once
        self.max_retries = max_retries
        self.init_kwargs = init_kwargs or {}

    @staticmethod
    def import_ray():
        try:
            import ray
        except ImportError:
            raise UserError("{executor} needs Ray: pip install 'srbench[ray]'", {"executor": "ray"}) from None
        return ray

    def units(self, suite: Suite, todo: list[Cell]) -> list[WorkUnit]:
        return work_units(suite, todo, self.images_per_task or suite.batch_size)

    def run(self, suite: Suite, todo: list[Cell], store: RunStore, progress: Any, env: dict) -> dict[str, str | None]:
        ray = self.import_ray()
        started_here = False
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, **self.init_kwargs}
            ray.init(address=self.address, **kwargs)
            started_here = True
        try:
            return self._run(ray, suite, todo, store, progress, env)
        finally:
            if started_here:
                ray.shutdown()

    def _resources(self, ray, suite: Suite) -> dict[str, float]:
        gpus = self.gpus_per_task
        if gpus is None:
            gpus = 1 if suite.device != "cpu" and ray.cluster_resources().get("GPU", 0) > 0 else 0
        resources = {"num_cpus": self.cpus_per_task, "num_gpus": gpus}
        if self.memory_per_task is not None:
            largest = largest_node_memory_gib(ray)
            if self.memory_per_task > largest:
                raise UserError(f"--memory-per-task {self.memory_per_task:g} GiB: no Ray node has that much "
                                f"(the largest offers {largest:.1f} GiB to tasks); ask for less")
            resources["memory"] = int(self.memory_per_task * GIB)
        return resources

    def _warn_if_memory_idles_cpus(self, ray, progress) -> None:
        if self.memory_per_task is None:
            return
        at_once, cpus_allow = tasks_at_once(ray.nodes(), self.cpus_per_task, self.memory_per_task)
        if at_once < cpus_allow:
            progress.warn(f"--memory-per-task {self.memory_per_task:g} GiB: Ray offers "
                          f"{largest_node_memory_gib(ray):.1f} GiB to tasks, so {at_once} task(s) run at once where "
                          f"the CPUs allow {cpus_allow}; start Ray with more memory free (it sizes its "
                          f"tasks' memory from what is free when it starts) or ask for less")

    def _run(self, ray, suite, todo, store, progress, env) -> dict[str, str | None]:
        parts = PartStore(store)
        units = self.units(suite, todo)
        for u in units:
            problem = parts.drop_if_broken(u)
            if problem:
                progress.warn(f"chunk {parts.path(u)}: {problem}; recomputing it")
        pending = [u for u in units if not parts.has(u)]
        task_fn = ray.remote(_ray_task).options(max_retries=0, retry_exceptions=False, **self._resources(ray, suite))
        if len(pending) > 1:
            self._warn_if_memory_idles_cpus(ray, progress)
        suite_dict = suite.to_dict()
        cards = _driver_cards(suite)
        env_extra = {"executor": "ray"}
        cells_by_id = {c.cell_id: c for c in todo}
        cell_task = progress.task("cells", len(todo))
        unit_task = progress.task("tasks (cell x image chunk)", len(units))
        progress.update(unit_task, advance=len(units) - len(pending))
        for cell_id in {u.cell.cell_id for u in units}:  # cells whose chunks all survived a driver crash
            self._maybe_finish(cells_by_id[cell_id], units, parts, store, progress, cell_task)
        attempts: dict[str, int] = {}
        failed: dict[str, str] = {}
        weights: dict[str, str | None] = {}
        in_flight = {task_fn.remote(suite_dict, u, cards, env_extra, str(store.dir)): u for u in pending}
        while in_flight:
            done, _ = ray.wait(list(in_flight), num_returns=1)
            ref = done[0]
            unit = in_flight.pop(ref)
            try:
                rows = ray.get(ref)
            except Exception as exc:  # a RayTaskError, a dead worker, an unschedulable task...
                attempts[unit.unit_id] = attempts.get(unit.unit_id, 0) + 1
                n = attempts[unit.unit_id]
                message = _one_line(exc)
                parts.record_error(unit, n, exc)
                if n <= self.max_retries:
                    progress.log(f"[yellow]task {unit.unit_id} failed (attempt {n}): {message}; retrying")
                    in_flight[task_fn.remote(suite_dict, unit, cards, env_extra, str(store.dir))] = unit
                else:
                    progress.log(f"[red]task {unit.unit_id} failed {n} times: {message}")
                    failed[unit.unit_id] = message
                    progress.update(unit_task, advance=1)
                continue
            parts.write(unit, rows)
            if rows:
                weights[unit.cell.model] = rows[0].get("weights_sha256")
            progress.update(unit_task, advance=1)
            self._maybe_finish(unit.cell, units, parts, store, progress, cell_task)
        if failed:
            first = next(iter(failed.items()))
            oom = any("OutOfMemoryError" in m for m in failed.values())
            hint = "; tasks were killed for memory: --memory-per-task GB makes fewer run at once" if oom else ""
            raise UserError(f"{len(failed)} Ray task(s) failed after {self.max_retries} retries "
                            f"(first: {first[0]}: {first[1]}); errors are in {parts.errors_dir}; "
                            f"run the same command again to retry them{hint}")
        return weights

    @staticmethod
    def _maybe_finish(cell: Cell, units, parts: "PartStore", store: RunStore, progress, cell_task) -> None:
        mine = [u for u in units if u.cell.cell_id == cell.cell_id]
        if not all(parts.has(u) for u in mine):
            return
        rows = [row for u in sorted(mine, key=lambda u: u.chunk) for row in parts.read(u)]
        store.write_cell(cell.cell_id, cell.as_dict(), rows)
        parts.clear(cell.cell_id)
        progress.update(cell_task, advance=1)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    cause = getattr(exc, "cause", None)
    if cause is not None:
        return f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"
    return f"{type(exc).__name__}: {text[0] if text else ''}"


class PartStore:
    """Finished chunks of unfinished cells (RUN_DIR/parts/<cell_id>/<chunk>.json) and task errors."""

    def __init__(self, store: RunStore):
        self.dir = store.dir / "parts"
        self.errors_dir = store.dir / "errors"

    def path(self, unit: WorkUnit) -> Path:
        return self.dir / unit.cell.cell_id / f"{unit.chunk}of{unit.n_chunks}.json"

    def has(self, unit: WorkUnit) -> bool:
        """A chunk file exists (broken ones are dropped by :meth:`drop_if_broken` before the run starts)."""
        return self.path(unit).is_file()

    def drop_if_broken(self, unit: WorkUnit) -> str | None:
        """Delete the unit's chunk file if it does not parse or lacks rows of its images; return what was wrong.

        Why delete: a chunk is an intermediate result that is recomputed anyway, and a broken one left in
        place would be joined into its cell.
        """
        path = self.path(unit)
        if not path.is_file():
            return None
        _, problem = check_result_file(path, list(unit.images) or None, key="unit")
        if problem:
            path.unlink()
        return problem

    def write(self, unit: WorkUnit, rows: list[dict]) -> None:
        write_json(self.path(unit), {"unit": unit.unit_id, "start": unit.start, "stop": unit.stop, "rows": rows})

    def read(self, unit: WorkUnit) -> list[dict]:
        return read_result_file(self.path(unit), key="unit")["rows"]

    def clear(self, cell_id: str) -> None:
        shutil.rmtree(self.dir / cell_id, ignore_errors=True)
        try:
            self.dir.rmdir()
        except OSError:
            pass

    def record_error(self, unit: WorkUnit, attempt: int, exc: BaseException) -> Path:
        path = self.errors_dir / f"{unit.unit_id}__attempt{attempt}.json"
        write_json(path, {"unit": unit.unit_id, "cell": unit.cell.cell_id, "attempt": attempt,
                          "time": utc_now(), "error_type": type(exc).__name__, "error": _one_line(exc),
                          "traceback": "".join(traceback.format_exception(exc))[-20000:]})
        return path


EXECUTORS = Registry("executor")
EXECUTORS.register("local", LocalExecutor)
EXECUTORS.register("ray", RayExecutor)


def make_executor(name: str = "local", **options: Any):
    """The executor registered as ``name``, built with ``options`` (the local one takes none)."""
    return EXECUTORS.get(name)(**options)
