"""The toy study's tables: summary (markdown + CSV), Appendix C W2 curve, training histories."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from srbench.files import atomic_write_text

COLUMNS = ["estimator", "family", "stochastic", "lambda_R", "robust_term", "steps", "precision", "recall", "robustness_sqrtR",
           "robustness_sqrtR_x2", "slope_y", "slope_z", "dead_units"]

X2_NOTE = ("robustness_sqrtR_x2: the same for the estimated coordinate x2 alone (its own attack maximises x2's "
           "change; the full value also holds the first coordinate's |d| <= eps, a floor of about eps)")
NOTE = ("precision/recall: k = 5, 1000 outputs (one seed per input) vs 1000 data points, raw 2-D; "
        "robustness_sqrtR: sqrt of Eq. 7's R~ (Adam L2 attack, 4 steps, lr 1e-4, eps 1e-3, "
        f"50 seeds for stochastic models), lower is more robust; {X2_NOTE}; robust_term: what lambda_R multiplies in "
        "the generator loss (R~/eps^2 or R~, docs/toy.md); slope_y, slope_z: mean |dg/dy|, |dg/dz| of the "
        "second coordinate on the same 1000 inputs (0: g ignores it); dead_units: fraction of the "
        "generator's hidden ReLU units that are zero on all of them (a wholly dead layer makes g constant).")


def summary_rows(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        out.append({
            "estimator": r["name"], "family": r["family"], "stochastic": bool(r["stochastic"]),
            "lambda_R": "" if r.get("lambda_r") is None else r["lambda_r"],
            "robust_term": r.get("robust_term", ""),
            "steps": "" if r.get("steps") is None else int(r["steps"]),
            "precision": round(float(r["precision"]), 4), "recall": round(float(r["recall"]), 4),
            "robustness_sqrtR": float(f"{r['robustness']:.4g}"), "robustness_sqrtR_x2": _sig(r.get("robustness_x2")),
            "slope_y": _sig(r.get("slope_y")), "slope_z": _sig(r.get("slope_z")),
            "dead_units": "" if r.get("dead_units") is None else round(float(r["dead_units"]), 3),
        })
    return out


def _sig(v) -> float | str:
    """4 significant digits; blank where a quantity does not apply (NaN or absent)."""
    return "" if v is None or v != v else float(f"{v:.4g}")


def markdown_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(row[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def summary_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(summary_rows(rows), columns=COLUMNS)


def write_tables(rows: list[dict], out: Path) -> pd.DataFrame:
    df = summary_frame(rows)
    atomic_write_text(out / "table.csv", df.to_csv(index=False))
    atomic_write_text(out / "table.md", NOTE + "\n\n" + markdown_table(df))
    return df


def write_w2(w2: list[dict], out: Path) -> pd.DataFrame:
    df = pd.DataFrame(w2)
    atomic_write_text(out / "zigzag_w2.csv", df.to_csv(index=False))
    return df


def write_histories(learned: list[dict], out: Path) -> None:
    for r in learned:
        atomic_write_text(out / f"history_{r['name']}.csv", pd.DataFrame(r["history"]).to_csv(index=False))
