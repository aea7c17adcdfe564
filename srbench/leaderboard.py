"""Leaderboards: per-image rows of one or more runs, averaged with pandas."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from srbench.errors import UserError
from srbench.metric_table import always_shown, metric_names
from srbench.metrics import LEGACY_GRAY_CONVENTION
from srbench.store import RunStore, is_run_dir

# budget: the value a cell sweeps (alpha for I-FGSM, eps for adam-l2); shown only where it is not alpha
GROUP_KEYS = ["model", "dataset", "scale", "attack", "alpha", "budget"]
METRIC_COLUMNS = metric_names()  # in the order of srbench.metric_table
ALWAYS = always_shown()
DEFAULT_RUNS_ROOT = Path("results/runs")


def find_runs(paths: Iterable[str | Path] = ()) -> list[Path]:
    """The run folders named, or every run folder under results/runs."""
    paths = [Path(p) for p in paths]
    if not paths:
        root = DEFAULT_RUNS_ROOT
        paths = sorted(p for p in root.iterdir() if is_run_dir(p)) if root.is_dir() else []
        if not paths:
            raise UserError(f"no runs under {root}; run `srbench run` first or name run folders")
        return paths
    for p in paths:
        if not is_run_dir(p):
            raise UserError(f"{p} is not a run folder (no cells/ or manifest.json inside)")
    return paths


def load_rows(runs: Iterable[str | Path]) -> pd.DataFrame:
    rows = [dict(r, run=str(run)) for run in runs for r in RunStore(run).rows()]
    if not rows:
        raise UserError("the runs hold no finished cells yet")
    df = pd.DataFrame(rows)
    for col in ALWAYS + GROUP_KEYS:
        if col not in df:
            df[col] = float("nan")
    return df


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """Mean over images, one row per model x dataset x scale x attack x budget (alpha for I-FGSM).

    Two columns appear only where they say something: ``training`` (pixel/GAN/flow, from the model
    card) when the rows carry it, and ``gray_convention`` when a grayscale image was scored or the
    runs used both conventions (rows older than the option were scored the MATLAB way).
    """
    df = df.assign(gray_convention=df["gray_convention"].fillna(LEGACY_GRAY_CONVENTION)
                   if "gray_convention" in df else LEGACY_GRAY_CONVENTION)
    keys = GROUP_KEYS + ["gray_convention"]
    # one row per image and cell; if two runs share a cell, keep the newest rows
    df = df.sort_values("time").drop_duplicates(keys + ["image"], keep="last")
    metrics = [c for c in METRIC_COLUMNS if c in df and (c in ALWAYS or df[c].notna().any())]
    described = {"training": ("training", "first")} if "training" in df and df["training"].notna().any() else {}
    table = (df.groupby(keys, dropna=False, sort=True)
               .agg(**described, n_images=("image", "size"), **{m: (m, "mean") for m in metrics})
               .reset_index())
    shown_keys = list(GROUP_KEYS)
    if described:
        shown_keys.insert(1, "training")
    gray_scored = "gray" in df and df["gray"].fillna(False).astype(bool).any()
    if gray_scored or df["gray_convention"].nunique() > 1:
        shown_keys.append("gray_convention")
    return table[shown_keys + ["n_images"] + metrics]


def by_training(table: pd.DataFrame) -> pd.DataFrame:
    """Means over the models' means, one row per training x dataset x scale x attack x budget.

    Why: the papers' claim is about kinds of models (pixel-loss vs GAN-trained), so each model
    counts once whatever its number of images.
    """
    if "training" not in table:
        raise UserError("the rows carry no training (runs made before it was recorded); re-run them to group by it")
    keys = ["training"] + GROUP_KEYS[1:] + (["gray_convention"] if "gray_convention" in table else [])
    metrics = [c for c in METRIC_COLUMNS if c in table]
    return (table.groupby(keys, dropna=False, sort=True)
                 .agg(n_models=("model", "size"), models=("model", ", ".join), **{m: (m, "mean") for m in metrics})
                 .reset_index())


def without_redundant_budget(table: pd.DataFrame) -> pd.DataFrame:
    """Drop the budget column for display when it only repeats alpha."""
    same = table["budget"].isna() | (table["budget"] == table["alpha"])
    return table.drop(columns="budget") if same.all() else table


def leaderboard(runs: Iterable[str | Path] = ()) -> pd.DataFrame:
    return aggregate(load_rows(find_runs(runs)))


def render(table: pd.DataFrame, fmt: str = "md") -> str:
    table = without_redundant_budget(table)
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        return table.to_json(orient="records", indent=1)
    if fmt == "latex":
        return table.to_latex(index=False, float_format="%.3f", na_rep="")
    if fmt == "md":
        blanks = table.astype(object).where(table.notna(), None)  # tabulate leaves None cells empty
        return blanks.to_markdown(index=False, floatfmt=".3f", missingval="")
    raise UserError(f"unknown format {fmt!r}; use md, csv, json or latex")
