"""Figures of the toy study: Fig. 2 style panels, the Appendix C W2 curve, training curves."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from srbench.report.plots import pyplot, save_figure


def _panel(ax, r: dict, domain: str) -> None:
    if domain == "disk":
        t = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(t), np.sin(t), color="0.6", lw=0.8)
        ax.set_xlim(-1.1, 1.1)
        ax.set_ylim(-1.1, 1.1)
    else:
        ax.plot([0, 1, 1, 0, 0], [0, 0, 1, 1, 0], color="0.6", lw=0.8)
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
    sup, smp = r["support"], r["samples"]
    if r["stochastic"]:
        ax.scatter(sup[:, 0], sup[:, 1], s=0.3, color="tab:blue", alpha=0.4, lw=0)
    else:
        ax.plot(sup[:, 0], sup[:, 1], color="tab:blue", lw=0.5)
    ax.scatter(smp[:, 0], smp[:, 1], s=8, color="tab:red", zorder=3)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{r['name']}\nP={r['precision']:.2f}  R={r['recall']:.2f}  sqrtR~={r['robustness']:.3g}", fontsize=8)


def plot_panels(rows: list[dict], path: Path, domain: str = "disk", individual_dir: Path | None = None) -> None:
    plt = pyplot()
    n = len(rows)
    cols = min(3, n)
    nrows = (n + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 3.5 * nrows), squeeze=False, layout="constrained")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, r in zip(axes.ravel(), rows):
        _panel(ax, r, domain)
    save_figure(fig, path)
    plt.close(fig)
    if individual_dir is not None:
        for r in rows:
            f, ax = plt.subplots(figsize=(3.4, 3.6))
            _panel(ax, r, domain)
            f.tight_layout()
            save_figure(f, Path(individual_dir) / f"panel_{r['name']}.png")
            plt.close(f)


def plot_w2(w2: list[dict], path: Path) -> None:
    plt = pyplot()
    f = np.array([r["f"] for r in w2], float)
    w = np.array([r["w2"] for r in w2])
    err = np.array([r["err"] for r in w2])
    lower = np.array([r["lower"] for r in w2])
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    ax.errorbar(f, w, yerr=[w - lower, err], fmt="o-", capsize=3,
                label="exact discrete OT (bars: quantisation bound)")
    ax.plot(f, [r["upper"] for r in w2], "k--", lw=0.8, label="analytic bound 1/(2f sqrt6)")
    ax.set_xscale("log", base=2)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("f (Lipschitz constant 2f)")
    ax.set_ylabel("W2(output, U[0,1]^2)")
    ax.set_title("Appendix C zigzag", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_training(learned: list[dict], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for r in learned:
        vals = [h for h in r["history"] if h.get("val")]
        s = [h["step"] for h in vals]
        axes[0].plot(s, [h["precision"] for h in vals], label=r["name"])
        axes[1].plot(s, [h["recall"] for h in vals], label=r["name"])
    for ax, t in zip(axes, ["precision", "recall"]):
        ax.set_xlabel("step")
        ax.set_title(t, fontsize=9)
        ax.set_ylim(-0.02, 1.02)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
