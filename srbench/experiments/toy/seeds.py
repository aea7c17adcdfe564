"""The learned toy estimators pooled over seeds (``srbench toy --summarize``).

One GAN run is one draw: whether an estimator meets a threshold is a statement about the
distribution over seeds, shown here next to the per-seed numbers.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from srbench.core.errors import UserError
from srbench.experiments.toy.table import markdown_table

LATE_VALIDATIONS = 5  # validations averaged for the late-training columns (every 1000 steps: 16k-20k)
CONSTANT_SLOPE = 1e-3  # below this mean |dg/dy| (and |dg/dz|), an estimator counts as constant


def across_seeds(folders: list[str | Path]) -> pd.DataFrame:
    """Learned estimators over several runs (one seed each): mean, sd and range of precision and
    recall, mean sqrt(R~) of the full output and of x2 alone, and in how many seeds both precision and
    recall exceed 0.9, at the end
    of training and as the mean of the last LATE_VALIDATIONS validations (``*_last5``); the mean
    slopes and in how many seeds the estimator is constant (both slopes below CONSTANT_SLOPE).
    """
    frames = []
    for folder in map(Path, folders):
        table, run = folder / "table.csv", folder / "run.json"
        if not (table.is_file() and run.is_file()):
            raise UserError(f"{folder} is not a toy output folder (needs table.csv and run.json from srbench toy)")
        df = pd.read_csv(table)
        for col in ("robustness_sqrtR_x2", "slope_y", "slope_z", "dead_units"):  # absent in older tables
            if col not in df:
                df[col] = float("nan")
        df = df[df["family"] == "learned"].assign(seed=json.loads(run.read_text())["seed"], folder=str(folder))
        late = [_late_validation(folder / f"history_{name}.csv") for name in df["estimator"]]
        df["precision_last5"] = [p for p, _ in late]
        df["recall_last5"] = [r for _, r in late]
        frames.append(df)
    rows = pd.concat(frames, ignore_index=True)
    dup = rows[rows.duplicated(["estimator", "seed"], keep=False)]
    if not dup.empty:
        first = dup.iloc[0]
        raise UserError(f"{first['estimator']} seed {first['seed']} appears in more than one folder "
                        f"({', '.join(sorted(set(dup['folder'])))}); give each seed once")
    out = []
    for name, g in rows.groupby("estimator", sort=False):
        out.append({
            "estimator": name, "seeds": ",".join(str(s) for s in sorted(g["seed"])), "n": len(g),
            "precision_mean": g["precision"].mean(), "precision_sd": g["precision"].std(ddof=1),
            "recall_mean": g["recall"].mean(), "recall_sd": g["recall"].std(ddof=1),
            "recall_min": g["recall"].min(), "recall_max": g["recall"].max(),
            "sqrtR_mean": g["robustness_sqrtR"].mean(),
            # blank unless every seed has the value: a mean over the seeds that happen to have it would
            # silently describe a different set of runs than the other columns
            "sqrtR_x2_mean": g["robustness_sqrtR_x2"].mean(skipna=False),
            "p_and_r_above_0.9": f"{int(((g['precision'] > 0.9) & (g['recall'] > 0.9)).sum())}/{len(g)}",
            "precision_last5_mean": g["precision_last5"].mean(), "recall_last5_mean": g["recall_last5"].mean(),
            "last5_above_0.9": f"{int(((g['precision_last5'] > 0.9) & (g['recall_last5'] > 0.9)).sum())}/{len(g)}",
            "slope_y_mean": g["slope_y"].mean(), "slope_z_mean": g["slope_z"].mean(),
            "constant": f"{int(_constant(g).sum())}/{int(g['slope_y'].notna().sum())}",
        })
    return pd.DataFrame(out)


def _constant(g: pd.DataFrame) -> pd.Series:
    """Runs whose g is (numerically) constant: collapsed, whatever precision and recall say."""
    flat_z = g["slope_z"].isna() | (g["slope_z"] < CONSTANT_SLOPE)
    return (g["slope_y"] < CONSTANT_SLOPE) & flat_z


def _late_validation(history: Path, n: int = LATE_VALIDATIONS) -> tuple[float, float]:
    """Mean precision and recall of the last n validations of a run (NaN without its history).

    Why: GAN training oscillates; the last snapshot alone is one draw from that oscillation
    (the toy's erratic-stoch recall swings between ~0.84 and ~0.99 from one 1000-step
    validation to the next), so the table reports the late-training mean beside it.
    """
    if not history.is_file():
        return float("nan"), float("nan")
    h = pd.read_csv(history)
    val = h[h["val"].astype(str) == "True"].tail(n)
    return float(val["precision"].mean()), float(val["recall"].mean())


def across_seeds_markdown(df: pd.DataFrame) -> str:
    shown = df.copy()
    for c in shown.columns:
        if c.endswith(("_mean", "_sd", "_min", "_max")):
            shown[c] = shown[c].map(lambda v, c=c: "" if pd.isna(v) else (f"{v:.3f}" if c.startswith(("precision", "recall"))
                                                                      else f"{v:.4g}"))
    return markdown_table(shown)
