"""Figures. Fig. 7 style: adversarial output and input PSNR against alpha (Choi et al. 2019)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from srbench.errors import UserError


def save_figure(fig, output: str | Path) -> None:
    """Write atomically: a crash never leaves a broken image behind."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, suffix=output.suffix or ".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=130, bbox_inches="tight", format=(output.suffix.lstrip(".") or "png"))
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
