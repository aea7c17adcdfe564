"""Leaderboards: per-image rows of one or more runs, averaged with pandas.

Rows of one attack run with options that differ (PGD with 1 and 3 restarts) stay apart: the
``attack_variant`` column names the options that differ. Where a model x dataset x budget was
attacked by two or more attacks (or variants), a ``worst-case`` row gives, per image, the lowest
adversarial output PSNR over them, averaged (``worst_adv_output_psnr``), and how many images each
attack won (``wins``): a single weak attack cannot flatter a model (RobustBench/AutoAttack style).
A defense's gradient options (``imdn+jpeg75:adaptive=false``, ``:backward=surrogate``) change how the
attack differentiates it, not the model's outputs: the worst case of ``imdn+jpeg75`` takes those rows
as attack variants too (``ifgsm [jpeg75:backward=surrogate]``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import pandas as pd

from srbench.bench.store import RunStore, is_run_dir
from srbench.core.errors import UserError
from srbench.core.metric_table import always_shown, metric_names
from srbench.core.metrics import LEGACY_GRAY_CONVENTION
from srbench.models.defenses import attacked_function

# budget: the value a cell sweeps (alpha for I-FGSM, eps for adam-l2); shown only where it is not alpha
GROUP_KEYS = ["model", "dataset", "scale", "attack", "attack_variant", "alpha", "budget"]
WORST_CASE = "worst-case"  # the attack column of the worst case over the attacks of one budget
NOT_A_VARIANT = {"alpha", "eps", "seed"}  # options that never set runs of an attack apart: the budget, the run seed
METRIC_COLUMNS = metric_names()  # in the order of srbench.core.metric_table
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
    df["attack_variant"] = attack_variants(df)
    for col in ALWAYS + GROUP_KEYS:
        if col not in df:
            df[col] = float("nan")
    return df


def attack_variants(df: pd.DataFrame) -> list[str | None]:
    """Per row, ``k=v`` of the options in which runs of its attack differ; None where the attack has one variant."""
    options = df["attack_options"].tolist() if "attack_options" in df else [None] * len(df)
    kept = [{k: v for k, v in o.items() if k not in NOT_A_VARIANT} if isinstance(o, dict) else {} for o in options]
    attacks = df["attack"].astype(str).tolist() if "attack" in df else [""] * len(df)
    by_attack: dict[str, list[dict]] = {}
    for attack, opts in zip(attacks, kept):
        by_attack.setdefault(attack, []).append(opts)
    differing = {attack: sorted(k for k in set().union(*opts)
                                if len({json.dumps(o.get(k), sort_keys=True, default=str) for o in opts}) > 1)
                 for attack, opts in by_attack.items()}
    return [", ".join(f"{k}={opts.get(k)}" for k in differing[attack]) or None for attack, opts in zip(attacks, kept)]


def worst_case(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per model x dataset x scale x budget (x ``keys`` but the attack) attacked by two or more attacks.

    Per image the lowest ``adv_output_psnr`` over those attacks, then the mean over images; ``wins``
    counts, per attack, the images where it was lowest (a tie goes to the attack first by name). The rows
    of a defended model's gradient options count as attacks of the model without them
    (:func:`srbench.models.defenses.attacked_function`).
    """
    attacked = df[df["budget"].notna() & df["adv_output_psnr"].notna()] if "adv_output_psnr" in df else df.iloc[:0]
    functions = [attacked_function(str(m)) for m in attacked["model"]]
    labels = (attacked["attack"].astype(str)
              + attacked["attack_variant"].map(lambda v: f" ({v})" if isinstance(v, str) else "")
              + [f" [{gradient}]" if gradient else "" for _, gradient in functions])
    attacked = attacked.assign(model=[name for name, _ in functions], attack_label=labels)
    attacked = attacked.sort_values("attack_label", kind="stable")
    where = [k for k in keys if k not in ("attack", "attack_variant")]
    rows = []
    for key, sub in attacked.groupby(where, dropna=False, sort=True):
        names = sorted(sub["attack_label"].unique())
        if len(names) < 2:
            continue
        lowest = sub.loc[sub.groupby("image")["adv_output_psnr"].idxmin()]
        wins = lowest["attack_label"].value_counts()
        rows.append({**dict(zip(where, key)), "attack": WORST_CASE,
                     **({"training": sub["training"].iloc[0]} if "training" in sub else {}),
                     "n_images": len(lowest), "worst_adv_output_psnr": lowest["adv_output_psnr"].mean(),
                     "wins": "; ".join(f"{name}: {int(wins.get(name, 0))}" for name in names)})
    return pd.DataFrame(rows)


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """Mean over images, one row per model x dataset x scale x attack x budget (alpha for I-FGSM).

    Two columns appear only where they say something: ``training`` (pixel/GAN/flow, from the model
    card) when the rows carry it, and ``gray_convention`` when a grayscale image was scored or the
    runs used both conventions (rows older than the option were scored the MATLAB way).
    """
    df = df.assign(gray_convention=df["gray_convention"].fillna(LEGACY_GRAY_CONVENTION)
                   if "gray_convention" in df else LEGACY_GRAY_CONVENTION)
    if "attack_variant" not in df:  # rows not read by load_rows
        df = df.assign(attack_variant=attack_variants(df))
    keys = GROUP_KEYS + ["gray_convention"]
    # one row per image and cell; if two runs share a cell, keep the newest rows
    df = df.sort_values("time").drop_duplicates(keys + ["image"], keep="last")
    metrics = [c for c in METRIC_COLUMNS if c in df and (c in ALWAYS or df[c].notna().any())]
    described = {"training": ("training", "first")} if "training" in df and df["training"].notna().any() else {}
    table = (df.groupby(keys, dropna=False, sort=True)
               .agg(**described, n_images=("image", "size"), **{m: (m, "mean") for m in metrics})
               .reset_index())
    shown_keys = [k for k in GROUP_KEYS if k != "attack_variant" or df[k].notna().any()]
    if described:
        shown_keys.insert(1, "training")
    gray_scored = "gray" in df and df["gray"].fillna(False).astype(bool).any()
    if gray_scored or df["gray_convention"].nunique() > 1:
        shown_keys.append("gray_convention")
    worst = worst_case(df, keys)
    if worst.empty:
        return table[shown_keys + ["n_images"] + metrics]
    table = pd.concat([table, worst], ignore_index=True)
    return table[shown_keys + ["n_images"] + metrics + ["worst_adv_output_psnr", "wins"]]


def by_training(table: pd.DataFrame) -> pd.DataFrame:
    """Means over the models' means, one row per training x dataset x scale x attack x budget.

    Why: the papers' claim is about kinds of models (pixel-loss vs GAN-trained), so each model
    counts once whatever its number of images.
    """
    if "training" not in table:
        raise UserError("the rows carry no training (runs made before it was recorded); re-run them to group by it")
    keys = ["training"] + [k for k in GROUP_KEYS[1:] + ["gray_convention"] if k in table]
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
        return _infinities_named(table).to_json(orient="records", indent=1)
    if fmt == "latex":
        return table.to_latex(index=False, float_format="%.3f", na_rep="")
    if fmt == "md":
        blanks = table.astype(object).where(table.notna(), None)  # tabulate leaves None cells empty
        return blanks.to_markdown(index=False, floatfmt=".3f", missingval="")
    raise UserError(f"unknown format {fmt!r}; use md, csv, json or latex")


def _infinities_named(table: pd.DataFrame) -> pd.DataFrame:
    """JSON has no infinity and pandas would write null, the same as "not measured"; write "inf"/"-inf"."""
    out = table.astype(object)
    for column in table.select_dtypes("number"):
        values = table[column]
        out.loc[values == float("inf"), column] = "inf"
        out.loc[values == float("-inf"), column] = "-inf"
    return out
