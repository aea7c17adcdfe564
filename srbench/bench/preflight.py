"""Preflight: find every file a run needs before it computes anything.

Why: weights and datasets used to be resolved when a model's first cell started,
so a long run could spend hours on its first models and then stop for a file it
could have reported at start-up. :func:`preflight` resolves every model's weights
(explicit path, environment variable, cache, download; ``file:``/``hf:``
checkpoints through :mod:`srbench.models.spec`) and loads every dataset once, reports every
missing input at once (one line each, saying how to supply it), and returns a
:class:`Plan`: the weights each model will load and the images of each dataset,
which also tell how many rows a finished cell holds.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from srbench.bench.suite import Suite
from srbench.core.errors import UserError
from srbench.data import load_dataset
from srbench.models import get_card, parse_model_spec
from srbench.models.weights import sha256_of


@dataclass(frozen=True)
class ModelWeights:
    path: Path | None  # None: the model takes no weights
    sha256: str | None

    def describe(self) -> str:
        return "no weights" if self.path is None else f"{self.path} (sha256 {self.sha256})"


@dataclass(frozen=True)
class Plan:
    """What a run will use: model -> weights, dataset -> its image names (after ``limit``)."""

    weights: dict[str, ModelWeights]
    images: dict[str, list[str]]

    def record(self) -> dict:
        """The plan as the manifest stores it."""
        return {"weights": {m: {"path": None if w.path is None else str(w.path), "sha256": w.sha256}
                            for m, w in self.weights.items()},
                "datasets": {d: len(names) for d, names in self.images.items()}}


def model_weights(suite: Suite, model: str) -> ModelWeights:
    """The checkpoint ``model`` will load in this suite (downloaded into the cache if needed), or no weights."""
    spec = parse_model_spec(suite.model_spec(model))
    given = suite.weights.get(model)
    if spec.is_checkpoint:
        path = spec.local_path()
    else:
        card = get_card(model)
        if card.weights is None:
            if given is not None:
                raise UserError(f"model {model!r} takes no weights, but weights were given ({given}); "
                                f"drop them from {{weights}}", {"weights": ""})
            return ModelWeights(None, None)
        path = card.locate_weights(given)
    return ModelWeights(path, sha256_of(path))


def dataset_images(suite: Suite, dataset: str) -> list[str]:
    """The names of the images a cell of ``dataset`` evaluates (read once, so a bad file shows up now)."""
    return [pair.name for pair in load_dataset(dataset, suite.scale, root=suite.data_root, limit=suite.limit)]


def saved_image_problems(suite: Suite, images: dict[str, list[str]]) -> list[str]:
    """Image names given to ``save_images`` must exist in one of the run's datasets (a typo would save nothing)."""
    if not isinstance(suite.save_images, list):
        return []
    known = {name for names in images.values() for name in names}
    return [f"save_images: no image {name!r} in the datasets of this run "
            f"({', '.join(f'{d}: {len(n)} images' for d, n in images.items())}); use names without extension"
            for name in suite.save_images if name not in known]


def saved_images_within(suite: Suite) -> tuple[Suite, list[str]]:
    """The suite with its ``save_images`` names cut to the images of its datasets, and the names cut.

    Why: a suite file names images across its datasets (Set5's ``bird``, Set14's ``comic``); run with
    ``--datasets bsd100`` or ``--limit 2`` it should run and keep what it can, not stop as for a typo.
    The caller uses this only when the command line narrowed the suite's images; otherwise an unknown
    name stays an error (:func:`saved_image_problems`). A dataset that does not load is left to preflight.
    """
    if not isinstance(suite.save_images, list):
        return suite, []
    known: set[str] = set()
    for dataset in suite.datasets:
        try:
            known.update(dataset_images(suite, dataset))
        except UserError:
            return suite, []
    kept = [name for name in suite.save_images if name in known]
    cut = [name for name in suite.save_images if name not in known]
    return dataclasses.replace(suite, save_images=kept or 0), cut


def preflight(suite: Suite) -> Plan:
    """Resolve every model's weights and load every dataset; one UserError listing every problem."""
    problems: list[UserError] = []
    weights: dict[str, ModelWeights] = {}
    images: dict[str, list[str]] = {}
    for model in suite.models:
        try:
            weights[model] = model_weights(suite, model)
        except UserError as exc:
            problems.append(exc)
    for dataset in suite.datasets:
        try:
            images[dataset] = dataset_images(suite, dataset)
        except UserError as exc:
            problems.append(exc)
    problems.extend(UserError(p) for p in saved_image_problems(suite, images))
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise UserError(f"{len(problems)} inputs of the run are missing or broken (nothing was computed):",
                        parts=problems)
    return Plan(weights, images)
