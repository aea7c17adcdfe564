"""The defenses study's figure and table, from the finished cells of results/real-cpu/defenses/run.

    .venv/bin/python results/real-cpu/defenses/figure.py [--dataset set5]

Writes defenses_<dataset>.png (one panel per model x alpha: the mean adversarial output PSNR of
each defense, attacked adaptively and, where it differs, with adaptive=false, and under each
defense its clean PSNR-Y; a cell not yet run is left empty) and defenses_<dataset>.md (the same numbers, clean PSNR-Y, images per cell and the
cell's wall time: the sum of its rows' elapsed_s, clean outputs included).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from srbench.report.leaderboard import load_rows  # noqa: E402

HERE = Path(__file__).resolve().parent
BASES = ("imdn", "swiftsrgan")
DEFENSES = ("", "jpeg75", "jpeg75:backward=surrogate", "bits5", "median3", "self-ensemble", "smooth4")  # "": none
ATTACKS = ("ifgsm", "pgd")
CAP_DB = 60.0  # an attack that never moved gives an infinite PSNR: drawn at the cap, labelled "inf"


def model_name(base: str, defense: str, adaptive: bool) -> str:
    name = base + (f"+{defense}" if defense else "")
    return name if adaptive else name + ":adaptive=false"


def summary(df, dataset: str):
    """(base, defense, adaptive, attack, alpha) -> (mean adv. output PSNR, mean clean PSNR-Y, images, seconds)."""
    out = {}
    sub = df[df["dataset"] == dataset]
    for (model, attack, alpha), g in sub.groupby(["model", "attack", "alpha"]):
        adaptive = not model.endswith(":adaptive=false")
        base, _, defense = model.removesuffix(":adaptive=false").partition("+")
        out[(base, defense, adaptive, attack, float(alpha))] = (
            g["adv_output_psnr"].mean(), g["psnr_y"].mean(), len(g), g["elapsed_s"].sum())
    return out


def tick(stats: dict, base: str, defense: str) -> str:
    """The defense's name and its clean PSNR-Y (what the defense costs without an attack)."""
    clean = [v[1] for k, v in stats.items() if k[0] == base and k[1] == defense]
    name = (defense or "none").replace(":backward=surrogate", "\n(surrogate)")
    return name + (f"\nclean {clean[0]:.2f}" if clean else "")


def draw(stats: dict, dataset: str, path: Path) -> None:
    alphas = sorted({k[4] for k in stats})
    fig, axes = plt.subplots(len(BASES), len(alphas), figsize=(5.5 * len(alphas), 3.6 * len(BASES)),
                             squeeze=False, sharey=True)
    bars = [(attack, adaptive) for attack in ATTACKS for adaptive in (True, False)]
    width = 0.8 / len(bars)
    colors = {("ifgsm", True): "#1f77b4", ("ifgsm", False): "#aec7e8", ("pgd", True): "#d62728",
              ("pgd", False): "#ff9896"}
    for i, base in enumerate(BASES):
        for j, alpha in enumerate(alphas):
            ax = axes[i][j]
            for b, (attack, adaptive) in enumerate(bars):
                for x, defense in enumerate(DEFENSES):
                    key = (base, defense, adaptive, attack, alpha)
                    if key not in stats:
                        continue
                    value = stats[key][0]
                    shown = min(value, CAP_DB) if not math.isnan(value) else 0.0
                    label = f"{attack}{'' if adaptive else ', adaptive=false'}"
                    ax.bar(x - 0.4 + (b + 0.5) * width, shown, width, color=colors[(attack, adaptive)],
                           hatch="" if adaptive else "//", edgecolor="k", linewidth=0.3, label=label)
                    if value > CAP_DB:
                        ax.text(x - 0.4 + (b + 0.5) * width, CAP_DB, "inf", ha="center", va="bottom", fontsize=7)
            ax.set_xticks(range(len(DEFENSES)), [tick(stats, base, d) for d in DEFENSES], fontsize=7)
            ax.set_title(f"{base}, alpha {alpha:g}/255 ({dataset})", fontsize=9)
            ax.set_ylim(0, CAP_DB + 5)
            ax.grid(axis="y", alpha=0.3)
            if j == 0:
                ax.set_ylabel("adv. output PSNR (dB), higher = more robust", fontsize=8)
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(handles.values(), handles.keys(), loc="upper center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(stats: dict) -> str:
    lines = ["| model | defense | attack | alpha | adaptive | adv. output PSNR (dB) | clean PSNR-Y (dB) | images "
             "| cell wall time (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(stats, key=lambda k: (k[0], DEFENSES.index(k[1]) if k[1] in DEFENSES else 99, k[3], k[4],
                                             not k[2])):
        base, defense, adaptive, attack, alpha = key
        adv, clean, n, seconds = stats[key]
        lines.append(f"| {base} | {defense or 'none'} | {attack} | {alpha:g} | {'yes' if adaptive else 'no'} | "
                     f"{adv:.2f} | {clean:.2f} | {n} | {seconds:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="set5")
    args = parser.parse_args()
    stats = summary(load_rows([HERE / "run"]), args.dataset)
    draw(stats, args.dataset, HERE / f"defenses_{args.dataset}.png")
    (HERE / f"defenses_{args.dataset}.md").write_text(table(stats))
    print(f"wrote {HERE / f'defenses_{args.dataset}.png'} and .md ({len(stats)} cells)")


if __name__ == "__main__":
    main()
