"""The toy study's tables: summary (markdown + CSV), Appendix C W2 curve, training histories."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from srbench.store import atomic_write_text

LATE_VALIDATIONS = 5  # validations averaged for the late-training columns of across_seeds (every 1000 steps: 16k-20k)

COLUMNS = ["estimator", "family", "stochastic", "lambda_R", "robust_term", "steps", "precision", "recall", "robustness_sqrtR",
           "slope_y", "slope_z", "dead_units"]


def summary_rows(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        out.append({
            "estimator": r["name"], "family": r["family"], "stochastic": bool(r["stochastic"]),
            "lambda_R": "" if r.get("lambda_r") is None else r["lambda_r"],
            "robust_term": r.get("robust_term", ""),
            "steps": "" if r.get("steps") is None else int(r["steps"]),
            "precision": round(float(r["precision"]), 4), "recall": round(float(r["recall"]), 4),
            "robustness_sqrtR": float(f"{r['robustness']:.4g}"),
            "slope_y": _sig(r.get("slope_y")), "slope_z": _sig(r.get("slope_z")),
            "dead_units": "" if r.get("dead_units") is None else round(float(r["dead_units"]), 3),
        })
    return out


def _sig(v) -> float | str:
    """4 significant digits; blank where a quantity does not apply (NaN or absent)."""
    return "" if v is None or v != v else float(f"{v:.4g}")


def _markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(row[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def write_tables(rows: list[dict], out: Path) -> pd.DataFrame:
    df = pd.DataFrame(summary_rows(rows), columns=COLUMNS)
    atomic_write_text(out / "table.csv", df.to_csv(index=False))
    note = ("precision/recall: k = 5, 1000 outputs (one seed per input) vs 1000 data points, raw 2-D; "
            "robustness_sqrtR: sqrt of Eq. 7's R~ (Adam L2 attack, 4 steps, lr 1e-4, eps 1e-3, "
            "50 seeds for stochastic models), lower is more robust; robust_term: what lambda_R multiplies in "
            "the generator loss (R~/eps^2 or R~, docs/toy.md); slope_y, slope_z: mean |dg/dy|, |dg/dz| of the "
            "second coordinate on the same 1000 inputs (0: g ignores it); dead_units: fraction of the "
            "generator's hidden ReLU units that are zero on all of them (a wholly dead layer makes g constant).\n\n")
    atomic_write_text(out / "table.md", note + _markdown(df))
    return df


def write_w2(w2: list[dict], out: Path) -> pd.DataFrame:
    df = pd.DataFrame(w2)
    atomic_write_text(out / "zigzag_w2.csv", df.to_csv(index=False))
    return df


def write_histories(learned: list[dict], out: Path) -> None:
    for r in learned:
        atomic_write_text(out / f"history_{r['name']}.csv", pd.DataFrame(r["history"]).to_csv(index=False))


def across_seeds(folders: list[str | Path]) -> pd.DataFrame:
    """Learned estimators over several runs (one seed each): mean, sd and range of precision and
    recall, mean sqrt(R~), and in how many seeds both precision and recall exceed 0.9, at the end
    of training and as the mean of the last LATE_VALIDATIONS validations (``*_last5``); the mean
    slopes and in how many seeds the estimator is constant (both slopes below CONSTANT_SLOPE).

    Why: one GAN run is one draw; whether an estimator meets a threshold is a statement about
    the distribution over seeds, which this table shows next to the per-seed numbers.
    """
    import json

    from srbench.errors import UserError

    frames = []
    for folder in map(Path, folders):
        table, run = folder / "table.csv", folder / "run.json"
        if not (table.is_file() and run.is_file()):
            raise UserError(f"{folder} is not a toy output folder (needs table.csv and run.json from srbench toy)")
        df = pd.read_csv(table)
        for col in ("slope_y", "slope_z", "dead_units"):  # absent in tables written before these columns
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
            "p_and_r_above_0.9": f"{int(((g['precision'] > 0.9) & (g['recall'] > 0.9)).sum())}/{len(g)}",
            "precision_last5_mean": g["precision_last5"].mean(), "recall_last5_mean": g["recall_last5"].mean(),
            "last5_above_0.9": f"{int(((g['precision_last5'] > 0.9) & (g['recall_last5'] > 0.9)).sum())}/{len(g)}",
            "slope_y_mean": g["slope_y"].mean(), "slope_z_mean": g["slope_z"].mean(),
            "constant": f"{int(_constant(g).sum())}/{int(g['slope_y'].notna().sum())}",
        })
    return pd.DataFrame(out)


CONSTANT_SLOPE = 1e-3  # below this mean |dg/dy| (and |dg/dz|), an estimator counts as constant


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
    return _markdown(shown)
