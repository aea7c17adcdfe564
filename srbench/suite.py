"""Benchmark suites: the YAML spec of a run, its validation, and its cells.

A suite names models, datasets, one scale, one attack with its options and
the budgets (alphas) to sweep. ``validate`` reports every problem at once;
``cells`` expands the suite into model x dataset x attack x budget cells.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from srbench.errors import UserError

SUITE_KEYS = {"name", "description", "models", "datasets", "scale", "attack", "alphas", "limit",
              "data_root", "device", "seed", "batch_size", "weights", "diversity_samples",
              "channels_last", "amp", "tf32", "compile"}  # the last four: speed options (srbench/speed.py)


@dataclasses.dataclass
class Suite:
    name: str = "run"
    models: list[str] = dataclasses.field(default_factory=lambda: ["bicubic"])
    datasets: list[str] = dataclasses.field(default_factory=lambda: ["demo"])
    scale: int = 4
    attack: dict[str, Any] = dataclasses.field(default_factory=lambda: {"name": "ifgsm"})
    alphas: list[float] = dataclasses.field(default_factory=lambda: [8.0])
    limit: int | None = None
    data_root: str | None = None
    device: str = "auto"
    seed: int = 0
    batch_size: int = 8
    weights: dict[str, str] = dataclasses.field(default_factory=dict)
    diversity_samples: int = 32
    channels_last: bool = False  # speed options, recorded in the manifest and every row (srbench/speed.py)
    amp: str | None = None
    tf32: bool = False
    compile: bool = False
    description: str = ""

    @property
    def attack_name(self) -> str:
        return self.attack.get("name", "ifgsm")

    @property
    def attack_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.attack.items() if k != "name"}

    def budgets(self) -> list[float | None]:
        from srbench.attacks import ATTACKS

        budget = getattr(ATTACKS.get(self.attack_name), "budget_name", None)
        return [None] if budget is None else [float(a) for a in self.alphas]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def suite_problems(raw: dict[str, Any]) -> list[str]:
    """Every problem of a raw suite mapping (empty list when it is valid)."""
    from srbench.attacks import ATTACKS
    from srbench.data import DATASETS
    from srbench.models import MODELS

    problems = []
    for key in sorted(set(raw) - SUITE_KEYS):
        problems.append(f"unknown key {key!r} (allowed: {', '.join(sorted(SUITE_KEYS))})")
    weights = raw.get("weights") or {}
    for model in _as_list(raw.get("models", [])):
        if _is_model_spec(model) or (isinstance(weights, dict) and _is_model_spec(weights.get(model))):
            from srbench.external import spec_problems

            problems.extend(spec_problems(model if _is_model_spec(model) else weights[model]))
        elif model not in MODELS:
            problems.append(MODELS.unknown_message(model))
    for ds in _as_list(raw.get("datasets", [])):
        if ds not in DATASETS:
            problems.append(DATASETS.unknown_message(ds))
    attack = raw.get("attack", {"name": "ifgsm"})
    attack = {"name": attack} if isinstance(attack, str) else attack
    if not isinstance(attack, dict) or attack.get("name", "ifgsm") not in ATTACKS:
        problems.append(ATTACKS.unknown_message(str(attack.get("name") if isinstance(attack, dict) else attack)))
    else:
        from srbench.attacks import make_attack

        options = {k: v for k, v in attack.items() if k != "name"}
        try:
            make_attack(attack.get("name", "ifgsm"), **options)
        except (UserError, TypeError) as exc:
            problems.append(str(exc))
    for alpha in _as_list(raw.get("alphas", [])):
        if not isinstance(alpha, (int, float)) or alpha < 0:
            problems.append(f"alpha must be a number >= 0 (units of 1/255), got {alpha!r}")
    scale = raw.get("scale", 4)
    if not isinstance(scale, int) or scale < 1:
        problems.append(f"scale must be a positive integer, got {scale!r}")
    for key in ("limit", "batch_size", "diversity_samples"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, int) or value < 1):
            problems.append(f"{key} must be a positive integer, got {value!r}")
    for key in ("channels_last", "tf32", "compile"):
        if not isinstance(raw.get(key, False), bool):
            problems.append(f"{key} must be true or false, got {raw.get(key)!r}")
    if raw.get("amp") not in (None, "none", "bf16"):
        problems.append(f"amp must be bf16 or none, got {raw.get('amp')!r}")
    if raw.get("device", "auto") not in ("auto", "cpu", "cuda") and not str(raw.get("device")).startswith("cuda:"):
        problems.append(f"device must be auto, cpu, cuda or cuda:N, got {raw.get('device')!r}")
    return problems


def _is_model_spec(name: str) -> bool:
    return isinstance(name, str) and (name.startswith("file:") or name.startswith("hf:"))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def build_suite(raw: dict[str, Any]) -> Suite:
    problems = suite_problems(raw)
    if problems:
        raise UserError("invalid suite: " + "; ".join(problems))
    from srbench.external import normalize_models

    raw = normalize_models(dict(raw))  # file:/hf: specs -> names after the file (srbench/external.py)
    for key in ("models", "datasets", "alphas"):
        if key in raw:
            raw[key] = _as_list(raw[key])
    if isinstance(raw.get("attack"), str):
        raw["attack"] = {"name": raw["attack"]}
    raw["alphas"] = [float(a) for a in raw.get("alphas", [8.0])]
    return Suite(**raw)


def suites_dir():
    """The packaged suites: ``benchmarks/`` ships as ``srbench.suites`` (see setup.py).

    An editable install imports srbench from the source tree, where the suites
    are the sibling folder ``benchmarks/``.
    """
    source_tree = Path(__file__).resolve().parents[1] / "benchmarks"
    if source_tree.is_dir():
        return source_tree
    return resources.files("srbench.suites")


def read_suite_file(spec: str) -> dict[str, Any]:
    """Read a suite by path, or by the name of a packaged suite (``quickstart``, ``fig7``...)."""
    path = Path(spec)
    if path.is_file():
        text, base = path.read_text(), path.parent  # relative paths inside are relative to the file
    else:
        packaged = suites_dir() / f"{spec.removesuffix('.yaml')}.yaml"  # may be a non-Path Traversable
        if not packaged.is_file():
            names = sorted(p.name.removesuffix(".yaml") for p in suites_dir().iterdir() if p.name.endswith(".yaml"))
            raise UserError(f"suite {spec!r} is neither a file nor a packaged suite ({', '.join(names)})")
        text, base = packaged.read_text(), None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"suite {spec} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(raw, dict):
        raise UserError(f"suite {spec} must be a YAML mapping of keys ({', '.join(sorted(SUITE_KEYS))})")
    return raw if base is None else anchor_paths(raw, base)


def _anchor(value: Any, base: Path) -> Any:
    """A relative local path (plain or ``file:``) re-rooted at base; anything else unchanged."""
    if not isinstance(value, str) or value.startswith("hf:") or "://" in value:
        return value
    prefix, rest = ("file:", value[len("file:"):]) if value.startswith("file:") else ("", value)
    p = Path(rest).expanduser()
    return value if p.is_absolute() else prefix + str(base / p)


def anchor_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Paths in a suite file (``file:`` models, ``weights`` files) are relative to the file, not the cwd.

    Why: a suite that ships next to its checkpoints must run from any working directory.
    """
    out = dict(raw)
    if "models" in raw:
        out["models"] = [m if not _is_model_spec(m) else _anchor(m, base) for m in _as_list(raw["models"])]
    if isinstance(raw.get("weights"), dict):
        out["weights"] = {k: _anchor(v, base) for k, v in raw["weights"].items()}
    return out


@dataclasses.dataclass(frozen=True)
class Cell:
    model: str
    dataset: str
    scale: int
    attack: str
    budget: float | None
    options: tuple[tuple[str, Any], ...]  # attack options besides the budget
    seed: int = 0
    limit: int | None = None
    numerics: tuple[tuple[str, Any], ...] = ()  # speed options that change results (bf16, tf32); () = float32

    @property
    def cell_id(self) -> str:
        """Readable and unique: attack options, seed, image limit and inexact numerics enter through a short hash.

        Exact speed options (channels-last, compile) are left out, so they can change between
        resumes; bf16/tf32 results are different cells, never mixed with float32 ones.
        """
        identity = {"options": dict(self.options), "seed": self.seed, "limit": self.limit}
        if self.numerics:
            identity["numerics"] = dict(self.numerics)
        opts = json.dumps(identity, sort_keys=True)
        digest = hashlib.sha256(opts.encode()).hexdigest()[:8]
        budget = "" if self.budget is None else f"_{self.budget:g}"
        safe_model = "".join(c if c.isalnum() or c in "-." else "_" for c in self.model)
        return f"{safe_model}__{self.dataset}__x{self.scale}__{self.attack}{budget}__{digest}"

    def make_attack(self):
        """The configured attack of this cell (budget and run seed filled in)."""
        from srbench.attacks import ATTACKS

        cls = ATTACKS.get(self.attack)
        opts = dict(self.options)
        if self.budget is not None:
            opts[cls.budget_name] = self.budget
        if "seed" in {f.name for f in dataclasses.fields(cls)}:
            opts.setdefault("seed", self.seed)
        return cls.from_options(**opts)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "dataset": self.dataset, "scale": self.scale, "attack": self.attack,
                "budget": self.budget, "options": dict(self.options), "seed": self.seed, "limit": self.limit,
                "numerics": dict(self.numerics), "cell_id": self.cell_id}


def cells(suite: Suite) -> list[Cell]:
    options = tuple(sorted(suite.attack_options.items()))
    numerics = tuple(item for item in (("amp", suite.amp), ("tf32", suite.tf32)) if item[1] not in (None, "none", False))
    return [Cell(m, d, suite.scale, suite.attack_name, b, options, suite.seed, suite.limit, numerics)
            for m in suite.models for d in suite.datasets for b in suite.budgets()]
