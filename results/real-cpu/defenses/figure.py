"""The defenses study's figure and table, from the finished cells of results/real-cpu/defenses/run.

    .venv/bin/python results/real-cpu/defenses/figure.py [--dataset set5]

For every dataset with finished cells (or only --dataset), writes defenses_<dataset>.png (one panel per model x alpha: the mean adversarial output PSNR of
each defense under I-FGSM and PGD, attacked adaptively and, where it differs, with adaptive=false;
a black line across a defense's bars marks its worst case, the per-image minimum over all its
attacks and gradient options as `srbench leaderboard` computes it; under each defense its clean
PSNR-Y; a cell not yet run is left empty) and defenses_<dataset>.md: a summary (one row per
model x defense, the table of the README) and every cell (clean PSNR-Y, images per cell and the
cell's wall time: the sum of its rows' elapsed_s, clean outputs included); and it puts the summary
into README.md under "## Results (<Dataset>)", adding that section for a dataset's first cells.
commit.sh runs it and commits the cells with it.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from srbench.models.defenses import attacked_function  # noqa: E402
from srbench.report.leaderboard import GROUP_KEYS, load_rows, worst_case  # noqa: E402

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


def worst(df, dataset: str):
    """(base, defense, alpha) -> (worst-case adv. output PSNR, images, wins): the leaderboard's worst-case rows,
    where a defended model's gradient options (adaptive=false, backward=surrogate) count as its attacks."""
    rows = worst_case(df[df["dataset"] == dataset], GROUP_KEYS)
    out = {}
    for row in rows.itertuples():
        base, _, defense = attacked_function(row.model)[0].partition("+")
        out[(base, defense, float(row.alpha))] = (row.worst_adv_output_psnr, row.n_images, row.wins)
    return out


def tick(stats: dict, base: str, defense: str) -> str:
    """The defense's name and its clean PSNR-Y (what the defense costs without an attack)."""
    clean = [v[1] for k, v in stats.items() if k[0] == base and k[1] == defense]
    name = (defense or "none").replace(":backward=surrogate", "\n(surrogate)")
    return name + (f"\nclean {clean[0]:.2f}" if clean else "")


def draw(stats: dict, worst_cases: dict, dataset: str, path: Path) -> None:
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
            for x, defense in enumerate(DEFENSES):
                if (base, defense, alpha) in worst_cases:  # across the defense's groups (jpeg75 and its surrogate)
                    last = max(i for i, d in enumerate(DEFENSES) if d.partition(":")[0] == defense)
                    ax.hlines(min(worst_cases[(base, defense, alpha)][0], CAP_DB), x - 0.45, last + 0.45, colors="k",
                              linewidth=1.5, label="worst case (per image, over the attacks)")
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


def cell(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def summary_table(stats: dict, worst_cases: dict) -> str:
    """One row per model x defense: clean PSNR-Y, then per alpha I-FGSM and PGD (adaptive, and with
    adaptive=false where the defense has it) and the worst case; an empty entry is a cell not yet run."""
    alphas = sorted({k[4] for k in stats})
    head = ["model", "defense", "clean PSNR-Y"]
    for alpha in alphas:
        head += [f"a{alpha:g} I-FGSM", f"a{alpha:g} PGD", f"a{alpha:g} I-FGSM, adaptive=false",
                 f"a{alpha:g} PGD, adaptive=false", f"a{alpha:g} worst case"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for base in BASES:
        for defense in DEFENSES:
            found = {k: v for k, v in stats.items() if k[0] == base and k[1] == defense}
            if not found:
                continue
            row = [base, defense or "none", cell(next(iter(found.values()))[1])]
            for alpha in alphas:
                row += [cell(found.get((base, defense, adaptive, attack, alpha), (None,))[0])
                        for adaptive, attack in ((True, "ifgsm"), (True, "pgd"), (False, "ifgsm"), (False, "pgd"))]
                # the worst case of jpeg75 covers its surrogate rows too: shown once, on the jpeg75 row
                shown_worst = defense != "jpeg75:backward=surrogate"
                row.append(cell(worst_cases.get((base, defense, alpha), (None,))[0]) if shown_worst else "")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def wins_table(worst_cases: dict) -> str:
    lines = ["| model | defense | alpha | worst case (dB) | images | images per attack where it was lowest |",
             "|---|---|---|---|---|---|"]
    for (base, defense, alpha), (value, n, wins) in sorted(worst_cases.items()):
        lines.append(f"| {base} | {defense or 'none'} | {alpha:g} | {value:.2f} | {n} | {wins} |")
    return "\n".join(lines) + "\n"


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


def markdown(stats: dict, worst_cases: dict, dataset: str) -> str:
    """defenses_<dataset>.md: the summary (the README's table), the worst cases and every cell."""
    return (f"# Defenses on {dataset} (written by figure.py)\n\n## Summary: mean adversarial output PSNR (dB)\n\n"
            "Empty: a cell not yet run. The worst case is over the finished cells of the defended model (every attack "
            "and gradient option; jpeg75's covers its surrogate rows).\n\n"
            + summary_table(stats, worst_cases) + "\n## Worst case: which attack was lowest, per image\n\n"
            + wins_table(worst_cases) + "\n## Every cell\n\n" + table(stats))


def update_readme(readme: Path, dataset: str, table: str) -> None:
    """Put ``table`` into the README's "## Results (<Dataset>)" section: replace the section's first table, or,
    for a dataset's first cells, add the section (figure, table) before "## What remains" (or at the end)."""
    text, table = readme.read_text(), table.rstrip("\n")
    heading = f"## Results ({dataset.capitalize()})"
    if heading not in text:
        section = (f"{heading}\n\n![adversarial output PSNR per defense](defenses_{dataset}.png)\n\n"
                   f"As the table above, on {dataset.capitalize()}; `figure.py` writes it into `defenses_{dataset}.md` "
                   "with the per-image winners of the worst case and every cell's wall time.\n\n"
                   f"{table}\n\n")
        at = text.index("## What remains") if "## What remains" in text else len(text)
        readme.write_text(text[:at] + section + text[at:])
        return
    begin = text.index(heading)
    end_of_section = text.find("\n## ", begin + len(heading))
    end_of_section = len(text) if end_of_section < 0 else end_of_section
    start = text.find("\n|", begin, end_of_section) + 1
    if start == 0:
        raise SystemExit(f"figure.py: {readme} has a {heading!r} section without a table; put one there or "
                         "delete the section to have it written anew")
    end = text.find("\n\n", start)
    end = len(text) if end < 0 else end
    readme.write_text(text[:start] + table + text[end:])


def write(rows, dataset: str) -> None:
    """One dataset's figure, its .md and its README table."""
    stats, worst_cases = summary(rows, dataset), worst(rows, dataset)
    draw(stats, worst_cases, dataset, HERE / f"defenses_{dataset}.png")
    (HERE / f"defenses_{dataset}.md").write_text(markdown(stats, worst_cases, dataset))
    update_readme(HERE / "README.md", dataset, summary_table(stats, worst_cases))
    print(f"wrote {HERE / f'defenses_{dataset}.png'} and .md")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="only this dataset (default: every dataset with finished cells)")
    args = parser.parse_args()
    rows = load_rows([HERE / "run"])
    present = sorted(rows["dataset"].unique())
    if args.dataset is not None and args.dataset not in present:
        raise SystemExit(f"figure.py: no finished cells for dataset {args.dataset!r} in {HERE / 'run'}; "
                         f"the run has {', '.join(present)}")
    for dataset in [args.dataset] if args.dataset else present:
        write(rows, dataset)


if __name__ == "__main__":
    main()
