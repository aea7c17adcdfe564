"""Benchmark suites: the YAML spec of a run, its validation, and its cells.

A suite names models, datasets, one scale, one attack with its options (``attack``)
or several that share one budget (``attacks``: the leaderboard then reports the
worst case per image over them), and the budgets (alphas) to sweep. ``validate``
reports every problem at once; ``cells`` expands the suite into model x dataset
x attack x budget cells.

Models: ``models`` lists registered names and ``file:``/``hf:`` checkpoints
(srbench/models/spec.py). A checkpoint becomes a model named after its file;
the suite records name -> spec in ``model_specs`` (what the manifest keeps,
and what a suite may also write itself to choose the name). ``weights`` means
one thing: a checkpoint file for a *registered* model (``--weights NAME=PATH``).
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import math
import typing
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import yaml

from srbench.attacks import ATTACKS
from srbench.core.errors import UserError, shown
from srbench.core.metrics import DEFAULT_GRAY_CONVENTION, GRAY_CONVENTIONS, LEGACY_GRAY_CONVENTION
from srbench.core.registry import did_you_mean
from srbench.data import DATASETS
from srbench.models import MODELS, is_checkpoint_spec, parse_model_spec, weights_through_defenses

SUITE_KEYS = {"name", "description", "models", "datasets", "scale", "attack", "attacks", "alphas", "limit",
              "data_root", "device", "seed", "batch_size", "weights", "diversity_samples",
              "channels_last", "amp", "tf32", "compile",  # speed options (srbench/bench/speed.py)
              "gray_convention", "niqe", "save_images", "model_specs"}


@dataclasses.dataclass
class Suite:
    name: str = "run"
    models: list[str] = dataclasses.field(default_factory=lambda: ["bicubic"])
    datasets: list[str] = dataclasses.field(default_factory=lambda: ["demo"])
    scale: int = 4
    attack: dict[str, Any] = dataclasses.field(default_factory=lambda: {"name": "ifgsm"})
    alphas: list[float] = dataclasses.field(default_factory=lambda: [8.0])
    attacks: list[dict[str, Any]] | None = None  # several attacks sharing the budgets; `attack` is then unused
    limit: int | None = None
    data_root: str | None = None
    device: str = "auto"
    seed: int = 0
    batch_size: int = 8
    weights: dict[str, str] = dataclasses.field(default_factory=dict)  # registered model -> its checkpoint file
    model_specs: dict[str, str] = dataclasses.field(default_factory=dict)  # checkpoint model's name -> file:/hf: spec
    diversity_samples: int = 32
    channels_last: bool = False  # speed options, recorded in the manifest and every row (srbench/bench/speed.py)
    amp: str | None = None
    tf32: bool = False
    compile: bool = False
    gray_convention: str = DEFAULT_GRAY_CONVENTION  # how grayscale ground truth is scored (srbench/core/metrics.py)
    niqe: bool = False  # NIQE of each clean output (srbench/core/niqe.py): about a second per image on a CPU
    save_images: int | list[str] = 0  # keep attacked inputs and outputs of the first N (or these) images per cell
    description: str = ""

    @property
    def attack_name(self) -> str:
        return self.attack_specs()[0][0]

    def attack_specs(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, options) of each attack of the suite: the ``attacks`` list, or the one ``attack``."""
        return [(a.get("name", "ifgsm"), {k: v for k, v in a.items() if k != "name"})
                for a in (self.attacks if self.attacks else [self.attack])]

    def model_spec(self, model: str) -> str:
        """What :func:`srbench.models.load_model` takes for a model of this suite (its spec, or its name)."""
        return self.model_specs.get(model, model)

    def budgets(self) -> list[float | None]:
        """The budget of each cell: the ``alphas`` as numbers in the attack's unit; [None] for an attack without one."""
        return [None] if ATTACKS.get(self.attack_name).budget is None else [float(a) for a in self.alphas]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def suite_problems(raw: dict[str, Any]) -> list[str]:
    """Every problem of a raw suite mapping (empty list when it is valid); each message names its key.

    Types are checked per key first; checks that read a value (registries, ranges, other keys)
    run only on values of the right type, so a wrong type is one clear message, never a crash.
    """
    unknown = sorted(shown(k) for k in set(raw) - SUITE_KEYS)
    problems = [f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown[:5])}"
                f"{' ...' if len(unknown) > 5 else ''} (allowed: {', '.join(sorted(SUITE_KEYS))})"] if unknown else []
    for key, check in _VALUE_CHECKS.items():
        if key in raw:
            problems.extend(check(key, raw[key]))
    problems.extend(_model_problems(raw))
    problems.extend(_dataset_problems(raw))
    if "attacks" in raw:
        attack_cls, attack_problems = _attack_list_problems(raw)
    else:
        attack_cls, attack_problems = _attack_problems(raw.get("attack", {"name": "ifgsm"}))
    problems.extend(attack_problems)
    if "alphas" in raw:
        problems.extend(_alpha_problems(raw["alphas"], attack_cls))
    problems.extend(_weights_problems(raw))
    problems.extend(_model_specs_problems(raw))
    return _at_most(problems)


MAX_PROBLEMS, MAX_PROBLEM_CHARS = 20, 500


def _at_most(problems: list[str]) -> list[str]:
    """The first MAX_PROBLEMS problems, each cut to MAX_PROBLEM_CHARS: a list of 10,000 bad names is one screen."""
    shown_problems = [p if len(p) <= MAX_PROBLEM_CHARS else p[:MAX_PROBLEM_CHARS - 3] + "..."
                      for p in problems[:MAX_PROBLEMS]]
    more = len(problems) - MAX_PROBLEMS
    return shown_problems + ([f"... and {more} more problem{'s' if more > 1 else ''}"] if more > 0 else [])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # YAML true is a bool, not 1


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


def _check(test: Callable[[Any], bool], expected: str) -> Callable[[str, Any], list[str]]:
    """A per-key check: ``[]`` when ``test(value)`` holds, else "KEY must be EXPECTED, got VALUE"."""
    return lambda key, value: [] if test(value) else [f"{key} must be {expected}, got {shown(value)}"]


def _run_name_problems(key: str, name: Any) -> list[str]:
    """The run name becomes the folder results/runs/<name>: one plain path component, nothing that climbs out."""
    if not isinstance(name, str) or not name.strip():
        return [f"{key} must be a non-empty string (the run's folder name), got {shown(name)}"]
    if name in (".", "..") or any(c in name for c in "/\\\0"):
        return [f"{key} {shown(name)} must be a plain folder name without '/', '\\' or '..' (runs are written "
                f"to results/runs/<name>); to write elsewhere, give the run folder itself (srbench run --out DIR)"]
    return []


_VALUE_CHECKS: dict[str, Callable[[str, Any], list[str]]] = {
    "name": _run_name_problems,
    "description": _check(lambda v: v is None or isinstance(v, str), "text"),
    "scale": _check(lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "limit": _check(lambda v: v is None or (_is_int(v) and v >= 1), "a positive integer"),
    "batch_size": _check(lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "diversity_samples": _check(lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "seed": _check(lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "data_root": _check(lambda v: v is None or (isinstance(v, str) and v != ""), "a folder path"),
    "device": _check(lambda v: isinstance(v, str) and (v in ("auto", "cpu", "cuda") or v.startswith("cuda:")),
                     "auto, cpu, cuda or cuda:N"),
    "channels_last": _check(lambda v: isinstance(v, bool), "true or false"),
    "tf32": _check(lambda v: isinstance(v, bool), "true or false"),
    "compile": _check(lambda v: isinstance(v, bool), "true or false"),
    "amp": _check(lambda v: v in (None, "none", "bf16"), "bf16 or none"),
    "niqe": _check(lambda v: isinstance(v, bool), "true or false"),
    "save_images": _check(lambda v: (_is_int(v) and v >= 0) or (isinstance(v, list) and bool(v) and all(
        isinstance(n, str) and n for n in v)), "a number of images (0: none) or a list of image names"),
    "gray_convention": _check(lambda v: isinstance(v, str) and v in GRAY_CONVENTIONS,
                              " or ".join(GRAY_CONVENTIONS) + " (how grayscale ground truth is scored)"),
}


def _names(key: str, value: Any) -> tuple[list[str], list[str]]:
    """(names, problems) of a list-of-names key (``models``, ``datasets``); a comma-separated string counts too."""
    if value is None or isinstance(value, str):
        items = _as_list(value)
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        return [], [f"{key} must be a list of names, got {shown(value)}"]
    if not items:
        return [], [f"{key} is empty: name at least one"]
    bad = [item for item in items if not isinstance(item, str) or not item.strip()]
    if bad:
        return [], [f"{key} must be a list of names, got {shown(bad[0])} in it"]
    twice = _repeated(items)
    if twice:
        return [], [f"{key} lists {shown(twice[0])} more than once"]
    return items, []


def _repeated(items: list) -> list:
    """Values listed more than once (each would make the same cells twice), in order."""
    return [item for item, n in collections.Counter(items).items() if n > 1]


def _dataset_problems(raw: dict[str, Any]) -> list[str]:
    if "datasets" not in raw:
        return []
    names, problems = _names("datasets", raw["datasets"])
    return problems + [DATASETS.unknown_message(n) for n in names if n not in DATASETS]


def _model_problems(raw: dict[str, Any]) -> list[str]:
    """Models are registered names, ``file:``/``hf:`` checkpoints, or names given a checkpoint in ``model_specs``."""
    if "models" not in raw:
        return []
    models, problems = _names("models", raw["models"])
    specs = raw.get("model_specs") if isinstance(raw.get("model_specs"), dict) else {}
    for model in models:
        spec = parse_model_spec(specs.get(model, model))
        problems.extend(spec.problems())  # checkpoints and defenses (imdn+jpeg75); none for a registered name
        if not spec.is_checkpoint and spec.base_text not in MODELS:
            name, colon, _ = spec.base_text.partition(":")
            problems.append(f"model {spec.base_text!r}: options (:KEY=VALUE) belong to a defense, e.g. "
                            f"{name}+jpeg75:adaptive=false" if colon and name in MODELS
                            else MODELS.unknown_message(name))
    return problems


def _registered_models(raw: dict[str, Any]) -> list[str] | None:
    """The models of a raw suite that are registered names (None when ``models`` itself is malformed)."""
    models, problems = _names("models", raw.get("models", Suite().models))
    if problems:
        return None  # reported by the models check
    specs = raw.get("model_specs") if isinstance(raw.get("model_specs"), dict) else {}
    return [name for m in models if not is_checkpoint_spec(m) and m not in specs  # imdn+jpeg75: and imdn
            for name in dict.fromkeys([m, parse_model_spec(m).base_text])]


def _weights_problems(raw: dict[str, Any]) -> list[str]:
    """``weights`` maps a registered model of this run to a checkpoint file; any other entry would be unused."""
    weights = raw.get("weights")
    if weights is None:
        return []
    if not isinstance(weights, dict):
        return [f"weights must be a mapping of model name to checkpoint path, got {shown(weights)}"]
    models = _registered_models(raw)
    if models is None:
        return []
    problems = []
    for name, path in weights.items():
        if not isinstance(path, str) or not path:
            problems.append(f"weights for {shown(name)} must be a checkpoint path, got {shown(path)}")
        elif is_checkpoint_spec(path):
            problems.append(f"weights for {shown(name)}: {shown(path)} is a model spec, and weights holds checkpoint "
                            f"files of registered models; list the spec in models (it is named after its file) "
                            f"or give it a name in model_specs")
        elif not isinstance(name, str) or name not in models:
            hint = did_you_mean(name, models) if isinstance(name, str) else ""
            problems.append(f"weights for {shown(name)}: not a model of this run.{hint} "
                            f"Models of this run: {', '.join(models) or '(none by name)'}")
    return problems


def _model_specs_problems(raw: dict[str, Any]) -> list[str]:
    """``model_specs`` names ``file:``/``hf:`` checkpoints that are models of this run."""
    specs = raw.get("model_specs")
    if specs is None:
        return []
    if not isinstance(specs, dict):
        return [f"model_specs must be a mapping of model name to a file: or hf: spec, got {shown(specs)}"]
    models, problems = _names("models", raw.get("models", Suite().models))
    if problems:
        return []
    for name, spec in specs.items():
        if not is_checkpoint_spec(spec):
            problems.append(f"model_specs for {shown(name)} must be a file: or hf: spec, got {shown(spec)}")
        elif not isinstance(name, str) or name not in models:
            problems.append(f"model_specs for {shown(name)}: not a model of this run; list it in models")
    return problems


def _attack_problems(attack: Any) -> tuple[type | None, list[str]]:
    """(attack class or None, problems) of the ``attack`` key: a name, or a mapping of name and options."""
    attack = {"name": attack} if isinstance(attack, str) else attack
    if not isinstance(attack, dict):
        return None, [f"attack must be an attack name or a mapping with name: and options, got {shown(attack)}"]
    name = attack.get("name", "ifgsm")
    if not isinstance(name, str):
        return None, [f"attack name must be a string, got {shown(name)}"]
    if name not in ATTACKS:
        return None, [ATTACKS.unknown_message(name)]
    cls = ATTACKS.get(name)
    options = {k: v for k, v in attack.items() if k != "name"}
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    problems = [f"attack option {key} must be {_type_words(hints[key])}, got {shown(value)}"
                for key, value in options.items() if key in fields and not _has_type(value, hints[key])]
    typed = {k: v for k, v in options.items() if k not in fields or _has_type(v, hints[k])}
    try:
        cls.from_options(**typed)  # unknown options and ranges, in the attack's own words
    except (UserError, TypeError) as exc:
        message = str(exc)
        problems.append(f"attack: {message if len(message) <= 300 else message[:297] + '...'}")
    return cls, problems


def _attack_list_problems(raw: dict[str, Any]) -> tuple[type | None, list[str]]:
    """(class of the first attack or None, problems) of ``attacks``: attacks that share one budget, each once."""
    attacks = raw["attacks"]
    if "attack" in raw:
        return None, ["attack and attacks both name the attacks; give attacks alone (a list) or attack alone"]
    if not isinstance(attacks, list) or not attacks:
        return None, [f"attacks must be a non-empty list of attack names or mappings with name: and options, "
                      f"got {shown(attacks)}"]
    classes, problems = [], []
    for entry in attacks:
        cls, entry_problems = _attack_problems(entry)
        problems.extend(f"attacks: {p.removeprefix('attack: ')}" for p in entry_problems)
        classes.append(cls)
    known = [cls for cls in classes if cls is not None]
    budgets = {cls.budget for cls in known}
    if len(budgets) > 1 or None in budgets:
        problems.append("attacks must share one budget (the worst case is taken per budget): "
                        + ", ".join(f"{cls.name} ({'no budget' if cls.budget is None else cls.budget.option})"
                                    for cls in known))
    canonical = [json.dumps({"name": e} if isinstance(e, str) else e, sort_keys=True, default=str) for e in attacks]
    twice = _repeated(canonical)
    if twice:
        problems.append(f"attacks lists {shown(twice[0])} more than once")
    return (known[0] if known and len(budgets) == 1 else None), problems


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string",
               type(None): "null"}


def _has_type(value: Any, hint: Any) -> bool:
    """Whether a YAML value fits an attack option's annotation (int, float, str, bool, or a union of them)."""
    if typing.get_args(hint):
        return any(_has_type(value, h) for h in typing.get_args(hint))
    tests = {bool: lambda v: isinstance(v, bool), int: _is_int, float: _is_number,
             str: lambda v: isinstance(v, str), type(None): lambda v: v is None}
    return tests.get(hint, lambda v: True)(value)  # other annotations: left to the attack's validate()


def _type_words(hint: Any) -> str:
    return " or ".join(_TYPE_WORDS.get(h, getattr(h, "__name__", str(h))) for h in (typing.get_args(hint) or (hint,)))


def _alpha_problems(alphas: Any, attack_cls: type | None) -> list[str]:
    """The budgets: a non-empty list of finite numbers >= 0, at most the attack's budget maximum (255 for alpha)."""
    values = [alphas] if _is_number(alphas) else alphas if isinstance(alphas, (list, tuple)) else None
    if values is None:
        return [f"alphas must be a list of numbers (budgets), got {shown(alphas)}"]
    if not values:
        return ["alphas is empty: give at least one budget"]
    bad = [a for a in values if not _is_number(a) or a < 0]
    if bad:
        return [f"alphas: each alpha must be a finite number >= 0, got {shown(bad[0])}"
                + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")]
    budget = attack_cls.budget if attack_cls is not None else None  # an unknown attack is reported apart
    if budget is not None and budget.max_value is not None and max(values) > budget.max_value:
        return [f"alphas are the {budget.option} budgets of attack {attack_cls.name}, in units of {budget.unit} "
                f"({budget.norm}), at most {budget.max_value:g}; got {max(values):g}"]
    twice = _repeated([float(a) for a in values])
    return [f"alphas lists {twice[0]:g} more than once"] if twice else []


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
    raw = normalize_models(dict(raw))  # file:/hf: specs -> names after the file, specs kept in model_specs
    for key in ("models", "datasets", "alphas"):
        if key in raw:
            raw[key] = _as_list(raw[key])
    raw["weights"] = weights_through_defenses(raw.get("models", []), raw.get("weights") or {})
    if isinstance(raw.get("attack"), str):
        raw["attack"] = {"name": raw["attack"]}
    if raw.get("attacks"):
        raw["attacks"] = [{"name": a} if isinstance(a, str) else dict(a) for a in raw["attacks"]]
    raw["alphas"] = [float(a) for a in raw.get("alphas", [8.0])]
    return Suite(**raw)


def normalize_models(raw: dict[str, Any], taken: set[str] | None = None) -> dict[str, Any]:
    """Replace ``file:``/``hf:`` entries of a raw suite by their names, recording the specs in ``model_specs``.

    ``models: [file:ckpt/4x-model.pth]`` becomes ``models: [4x-model]`` with
    ``model_specs: {4x-model: file:/abs/ckpt/4x-model.pth}``. A name already taken (a registered
    model, another model of the suite) keeps the spec itself as the name.
    """
    models = _as_list(raw.get("models", []))
    specs = {name: parse_model_spec(spec).canonical() for name, spec in (raw.get("model_specs") or {}).items()}
    if not any(is_checkpoint_spec(m) for m in models):
        return {**raw, "model_specs": specs} if specs else raw
    taken = set(taken if taken is not None else MODELS.names())
    taken |= {m for m in models if not is_checkpoint_spec(m)}
    out: list[str] = []
    renamed: dict[str, str] = {}
    for m in models:
        if not is_checkpoint_spec(m):
            out.append(m)
            continue
        spec = parse_model_spec(m)
        name = spec.display_name()
        if name in taken or name in out:
            name = m
        taken.add(name)
        specs[name] = spec.canonical()
        out.append(name)
        renamed[m] = name
    result = {**raw, "models": out, "model_specs": specs}
    if isinstance(raw.get("name"), str):  # a run named after its --models must not hold paths
        run_name = raw["name"]
        for spec_text, name in renamed.items():
            run_name = run_name.replace(spec_text, name)
        result["name"] = run_name.replace("/", "_").replace(":", "_")
    return result


def suites_dir():
    """The packaged suites: ``benchmarks/`` ships as ``srbench.suites`` (see setup.py).

    An editable install imports srbench from the source tree, where the suites
    are the sibling folder ``benchmarks/``.
    """
    source_tree = Path(__file__).resolve().parents[2] / "benchmarks"
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
        raw = yaml.load(text, Loader=_SuiteLoader)
    except AliasBomb as exc:
        raise UserError(f"suite {spec}: {exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"suite {spec} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise UserError(f"suite {spec} is nested too deeply to be a suite") from None
    if raw is None:
        raise UserError(f"suite {spec} is empty (or only comments); a suite names at least its models and "
                        f"datasets, e.g. models: [bicubic] and datasets: [set5]")
    if not isinstance(raw, dict):
        raise UserError(f"suite {spec} must be a YAML mapping of keys ({', '.join(sorted(SUITE_KEYS))})")
    return raw if base is None else anchor_paths(raw, base)


MAX_YAML_VALUES = 10_000  # after aliases are expanded; a real suite holds fewer than a hundred


class AliasBomb(yaml.YAMLError):
    """A document whose aliases expand to more than MAX_YAML_VALUES values (or refer to themselves)."""


class _SuiteLoader(yaml.SafeLoader):
    """SafeLoader that measures a document before building it, with every alias expanded.

    Why: aliases share one node, so a "billion laughs" document is small to parse but
    expands to gigabytes as soon as anything walks it (validation, JSON, an error message).
    """

    def compose_document(self):
        node = super().compose_document()
        _expanded_size(node, {}, set())
        return node


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """Number of values under ``node`` with aliases expanded; AliasBomb beyond MAX_YAML_VALUES."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise AliasBomb("an alias refers to the list or mapping that contains it; write the values out")
    open_nodes.add(key)
    children = node.value if isinstance(node, yaml.SequenceNode) else \
        [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else []
    total = 1 + sum(_expanded_size(child, sizes, open_nodes) for child in children)
    open_nodes.discard(key)
    if total > MAX_YAML_VALUES:
        raise AliasBomb(f"its YAML aliases expand to more than {MAX_YAML_VALUES} values; "
                        f"a suite needs far fewer: write the values out")
    sizes[key] = total
    return total


def _anchor(value: Any, base: Path) -> Any:
    """A relative local path (plain or ``file:``) re-rooted at base; anything else unchanged."""
    if not isinstance(value, str) or "://" in value:
        return value
    spec = parse_model_spec(value)
    if spec.source == "hf":
        return value
    prefix, rest = ("file:", spec.path) if spec.source == "file" else ("", value)
    p = Path(rest).expanduser()
    return value if p.is_absolute() else prefix + str(base / p)


def anchor_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Paths in a suite file (``file:`` models, ``weights`` files) are relative to the file, not the cwd.

    Why: a suite that ships next to its checkpoints must run from any working directory.
    """
    out = dict(raw)
    if "models" in raw:
        out["models"] = [_anchor(m, base) if is_checkpoint_spec(m) else m for m in _as_list(raw["models"])]
    for key in ("weights", "model_specs"):
        if isinstance(raw.get(key), dict):
            out[key] = {k: _anchor(v, base) for k, v in raw[key].items()}
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
    gray_convention: str = DEFAULT_GRAY_CONVENTION

    @property
    def cell_id(self) -> str:
        """Readable and unique: attack options, seed, image limit, inexact numerics and the grayscale
        convention enter through a short hash.

        Exact speed options (channels-last, compile) are left out, so they can change between
        resumes; bf16/tf32 results are different cells, never mixed with float32 ones. Cells made
        before the grayscale convention was recorded were scored the MATLAB way: that convention
        is left out of the hash, so their files keep their names and stay valid; BasicSR-scored
        cells get other names and are never mixed with them on resume.
        """
        identity = {"options": dict(self.options), "seed": self.seed, "limit": self.limit}
        if self.numerics:
            identity["numerics"] = dict(self.numerics)
        if self.gray_convention != LEGACY_GRAY_CONVENTION:
            identity["gray_convention"] = self.gray_convention
        opts = json.dumps(identity, sort_keys=True)
        digest = hashlib.sha256(opts.encode()).hexdigest()[:8]
        budget = "" if self.budget is None else f"_{self.budget:g}"
        safe_model = "".join(c if c.isalnum() or c in "-." else "_" for c in self.model)
        return f"{safe_model}__{self.dataset}__x{self.scale}__{self.attack}{budget}__{digest}"

    def make_attack(self):
        """The configured attack of this cell (budget and run seed filled in)."""
        cls = ATTACKS.get(self.attack)
        opts = dict(self.options)
        if self.budget is not None:
            opts[cls.budget.option] = self.budget
        if "seed" in {f.name for f in dataclasses.fields(cls)}:
            opts.setdefault("seed", self.seed)
        return cls.from_options(**opts)

    def evaluated_images(self, names: list[str]) -> list[str]:
        """The images of a dataset this cell has rows for: all but those an attack fitted on a split learns from."""
        if self.budget is None:
            return list(names)
        return self.make_attack().split(list(names))[1]

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "dataset": self.dataset, "scale": self.scale, "attack": self.attack,
                "budget": self.budget, "options": dict(self.options), "seed": self.seed, "limit": self.limit,
                "numerics": dict(self.numerics), "gray_convention": self.gray_convention, "cell_id": self.cell_id}


def cells(suite: Suite) -> list[Cell]:
    """model x dataset x attack x budget, in that order (one attack: the order and ids of before ``attacks``)."""
    numerics = tuple(item for item in (("amp", suite.amp), ("tf32", suite.tf32)) if item[1] not in (None, "none", False))
    return [Cell(m, d, suite.scale, name, b, tuple(sorted(options.items())), suite.seed, suite.limit, numerics,
                 suite.gray_convention)
            for m in suite.models for d in suite.datasets for name, options in suite.attack_specs()
            for b in suite.budgets()]
