"""Figures. Fig. 7 style: adversarial output and input PSNR against alpha (Choi et al. 2019)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from srbench.errors import UserError
from srbench.store import atomic_path


def save_figure(fig, output: str | Path) -> None:
    """Write atomically: a crash never leaves a broken image behind."""
    output = Path(output)
    with atomic_path(output) as tmp:
        fig.savefig(tmp, dpi=130, bbox_inches="tight", format=(output.suffix.lstrip(".") or "png"))


def fig7(table: pd.DataFrame, output: str | Path) -> Path:
    """Two rows of panels (output PSNR, input PSNR), one column per dataset, one line per model."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    attacked = table[table["alpha"].notna() & table["adv_output_psnr"].notna()]
    if attacked.empty:
        raise UserError("no attacked cells to plot (fig7 needs runs with an attack and alphas)")
    datasets = sorted(attacked["dataset"].unique())
    fig, axes = plt.subplots(2, len(datasets), figsize=(4.2 * len(datasets), 6.4), squeeze=False)
    for j, ds in enumerate(datasets):
        sub = attacked[attacked["dataset"] == ds]
        for model, m in sub.groupby("model"):
            m = m.sort_values("alpha")
            axes[0, j].plot(m["alpha"], m["adv_output_psnr"], marker="o", label=model)
            axes[1, j].plot(m["alpha"], m["adv_input_psnr"], marker="o", label=model)
        axes[0, j].set_title(f"{ds} (x{int(sub['scale'].iloc[0])})")
        for i, ylabel in enumerate(["adversarial output PSNR (dB)", "adversarial input PSNR (dB)"]):
            ax = axes[i, j]
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(sub["alpha"].unique()))
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.set_xlabel("alpha (1/255)")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        axes[0, j].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, output)
    plt.close(fig)
    return Path(output)


def tradeoff(summary: pd.DataFrame, output: str | Path, y: str = "both") -> Path:
    """Perception-robustness tradeoff: robustness (Eq. 9, dB) and/or log10 K against jfid.

    ``summary`` has one row per model x dataset (``srbench.tradeoff`` writes it
    as summary.csv) with columns model, dataset, jfid, robustness, k_mean.
    One point per model and degradation: colour = model, marker = dataset.
    """
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = {"both": ["robustness", "logk"], "robustness": ["robustness"], "logk": ["logk"]}.get(y)
    if panels is None:
        raise UserError(f"unknown y axis {y!r}; use robustness, logk or both")
    need = {"model", "dataset", "jfid"} | ({"robustness"} if "robustness" in panels else set()) | (
        {"k_mean"} if "logk" in panels else set())
    missing = sorted(need - set(summary.columns))
    if missing or summary.empty:
        raise UserError(f"the tradeoff table lacks {', '.join(missing) or 'rows'} (make it with python -m srbench.tradeoff)")
    models = list(dict.fromkeys(summary["model"]))
    datasets = list(dict.fromkeys(summary["dataset"]))
    colors = {m: f"C{i % 10}" for i, m in enumerate(models)}
    markers = {d: "osD^v<>p*"[i % 9] for i, d in enumerate(datasets)}
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for _, r in summary.iterrows():
            yv = r["robustness"] if panel == "robustness" else (math.log10(r["k_mean"]) if r["k_mean"] > 0 else math.nan)
            ax.scatter(r["jfid"], yv, color=colors[r["model"]], marker=markers[r["dataset"]], s=60,
                       label=f"{r['model']} / {r['dataset']}")
            ax.annotate(r["model"], (r["jfid"], yv), textcoords="offset points", xytext=(4, 4), fontsize=7)
        if (summary["jfid"] > 0).all():
            ax.set_xscale("log")
        ax.set_xlabel("joint perceptual index jfid (lower = better)")
        ax.set_ylabel("robustness: adv. output PSNR (dB, higher = robust)" if panel == "robustness"
                      else "log10 K (local Lipschitz, mean over images)")
        ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    axes[0, -1].legend(handles, labels, fontsize=7, loc="best")
    fig.suptitle("perception-robustness tradeoff (one point per model and degradation)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, output)
    plt.close(fig)
    return Path(output)
