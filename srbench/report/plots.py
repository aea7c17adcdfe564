"""Figures. Fig. 7 style: adversarial output and input PSNR against alpha (Choi et al. 2019)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from srbench.attacks import ATTACKS, make_attack
from srbench.core.errors import UserError, shown
from srbench.core.registry import did_you_mean
from srbench.files import atomic_path


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend, imported when a figure is drawn (it is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, output: str | Path) -> None:
    """Write atomically: a crash never leaves a broken image behind."""
    output = Path(output)
    with atomic_path(output) as tmp:
        fig.savefig(tmp, dpi=130, bbox_inches="tight", format=(output.suffix.lstrip(".") or "png"))


def budget_label(attack: str, rows: pd.DataFrame | None = None) -> str:
    """What an attack's budget means, for axes and headers: "eps (L2 [0,1])" for adam-l2.

    Read from the attack's declared :class:`~srbench.attacks.Budget`; an attack that is not
    installed here, or has no budget, is labelled plainly "budget". Given the result rows, a
    budget the attack ignored (adam-l2 with a target input PSNR sets its own radius per image)
    is labelled a placeholder.
    """
    try:
        budget = ATTACKS.get(attack).budget
    except UserError:
        return "budget"
    if budget is None:
        return "budget"
    if rows is not None and _placeholder_budget(attack, rows):
        return f"{budget.option}: a placeholder (the attack sets its own radius)"
    return f"{budget.option} ({budget.unit})"


def _placeholder_budget(attack: str, rows: pd.DataFrame) -> bool:
    """True when every configuration of the attack in ``rows`` says its budget value is a placeholder.

    Asked of the attack rebuilt from each row's options, so rows written before rows carried
    ``budget_unit`` are judged the same way.
    """
    options = {json.dumps(o, sort_keys=True) for o in rows.get("attack_options", []) if isinstance(o, dict)}
    try:
        return bool(options) and all(make_attack(attack, **json.loads(o)).budget_unit() is None for o in options)
    except (UserError, TypeError):  # options of another srbench version: no verdict
        return False


def budget_axis(table: pd.DataFrame) -> tuple[str, str]:
    """The column robustness figures put on the x axis, and its label.

    alpha (in 1/255) where the rows have it, as in Choi et al.'s figures; otherwise the budget
    each attack sweeps (e.g. adam-l2's L2 radius eps), labelled with the unit its attack declares.
    """
    if table["alpha"].notna().any():
        return "alpha", "alpha (1/255)"
    return "budget", " / ".join(sorted({budget_label(a) for a in table["attack"].unique()}))


# The papers' order of the SR test sets; other datasets follow by name.
PAPER_DATASETS = ("set5", "set14", "bsd100")


def dataset_order(names) -> list[str]:
    """Datasets in the papers' order (Set5, Set14, BSD100), then the others by name."""
    rank = {name: i for i, name in enumerate(PAPER_DATASETS)}
    return sorted(set(names), key=lambda n: (rank.get(n, len(rank)), n))


def model_styles(models) -> dict[str, dict]:
    """One colour (and, past ten models, dash) per model, so a model looks the same in every panel."""
    return {m: {"color": f"C{i % 10}", "linestyle": ("-", "--", ":")[i // 10 % 3]}
            for i, m in enumerate(sorted(set(models)))}


def fig7(table: pd.DataFrame, output: str | Path, budget_text: str | None = None) -> Path:
    """Two rows of panels (output PSNR, input PSNR), one column per dataset, one line per model.

    The x axis is alpha, or for runs without one (L2 attacks) the budget in its unit (:func:`budget_axis`);
    ``budget_text`` replaces that budget's label (the site passes the one it read from the rows).
    """
    from matplotlib import ticker

    attacked = table[(table["alpha"].notna() | table["budget"].notna()) & table["adv_output_psnr"].notna()]
    if attacked.empty:
        raise UserError("no attacked cells to plot (fig7 needs runs with an attack and a budget)")
    x, xlabel = budget_axis(attacked)
    xlabel = budget_text if budget_text and x == "budget" else xlabel
    attacked = attacked[attacked[x].notna()]
    plt = pyplot()
    datasets = dataset_order(attacked["dataset"])
    styles = model_styles(attacked["model"])
    fig, axes = plt.subplots(2, len(datasets), figsize=(4.2 * len(datasets), 6.4), squeeze=False)
    for j, ds in enumerate(datasets):
        sub = attacked[attacked["dataset"] == ds]
        for model, m in sub.groupby("model"):
            m = m.sort_values(x)
            axes[0, j].plot(m[x], m["adv_output_psnr"], marker="o", label=model, **styles[model])
            axes[1, j].plot(m[x], m["adv_input_psnr"], marker="o", label=model, **styles[model])
        axes[0, j].set_title(f"{ds} (x{int(sub['scale'].iloc[0])})")
        for i, ylabel in enumerate(["adversarial output PSNR (dB)", "adversarial input PSNR (dB)"]):
            ax = axes[i, j]
            if (sub[x] > 0).all():
                ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(sub[x].unique()))
            ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_locator(ticker.NullLocator())
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        axes[0, j].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, output)
    plt.close(fig)
    return Path(output)


def tradeoff(summary: pd.DataFrame, output: str | Path, y: str = "both") -> Path:
    """Perception-robustness tradeoff: robustness (Eq. 9, dB) and/or log10 K against jfid.

    ``summary`` has one row per model x dataset (``srbench.experiments.tradeoff`` writes it
    as summary.csv) with columns model, dataset, jfid, robustness, k_mean.
    One point per model and degradation: colour = model, marker = dataset.
    """
    plt = pyplot()
    panels = {"both": ["robustness", "logk"], "robustness": ["robustness"], "logk": ["logk"]}.get(y)
    if panels is None:
        raise UserError(f"unknown y axis {y!r}; use robustness, logk or both")
    need = {"model", "dataset", "jfid"} | ({"robustness"} if "robustness" in panels else set()) | (
        {"k_mean"} if "logk" in panels else set())
    missing = sorted(need - set(summary.columns))
    if missing or summary.empty:
        raise UserError(f"the tradeoff table lacks {', '.join(missing) or 'rows'} (make it with srbench tradeoff)")
    models = list(dict.fromkeys(summary["model"]))
    datasets = list(dict.fromkeys(summary["dataset"]))
    colors = {m: f"C{i % 10}" for i, m in enumerate(models)}
    markers = {d: "osD^v<>p*"[i % 9] for i, d in enumerate(datasets)}
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 4.2), squeeze=False)
    drawn = []  # (axes, x, y): labelled once the layout is final
    for ax, panel in zip(axes[0], panels):
        ys = []
        for _, r in summary.iterrows():
            yv = r["robustness"] if panel == "robustness" else (math.log10(r["k_mean"]) if r["k_mean"] > 0 else math.nan)
            ax.scatter(r["jfid"], yv, color=colors[r["model"]], marker=markers[r["dataset"]], s=60,
                       label=f"{r['model']} / {r['dataset']}")
            ys.append(yv)
        drawn.append((ax, list(summary["jfid"]), ys))
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
    for ax, xs, ys in drawn:
        label_points(ax, xs, ys, list(summary["model"]))
    save_figure(fig, output)
    plt.close(fig)
    return Path(output)


# How each kind of training (the model card's `training`) is drawn: marker, colour, legend label.
# The papers' claim separates pixel-loss models from perception-oriented (GAN) deterministic ones.
TRAINING_STYLE = {
    "pixel": ("o", "C0", "pixel loss"),
    "GAN": ("^", "C3", "GAN (perception-oriented)"),
    "flow": ("s", "C2", "flow (stochastic)"),
    "-": ("X", "0.35", "no training (bicubic)"),
}
UNKNOWN_TRAINING_STYLE = ("D", "C7", "training unknown")
PERCEPTION_ALPHAS = (4.0, 8.0)  # the default panels, where the runs hold them
PERCEPTION_COLUMNS = ["model", "training", "dataset", "scale", "attack", "alpha", "n_images",
                      "niqe", "psnr_y", "adv_output_psnr", "lipschitz_k"]


def training_style(training: str) -> tuple[str, str, str]:
    """Marker, colour and legend label of a training kind (one look for every kind not in the table)."""
    return TRAINING_STYLE.get(training, UNKNOWN_TRAINING_STYLE)


def perception_points(table: pd.DataFrame, dataset: str | None = None,
                      alphas: list[float] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The leaderboard rows the perception figure draws, and the models left out for lack of NIQE.

    One row per model x alpha of one dataset (default: the first in the papers' order, Set5 first), values unchanged
    from ``leaderboard.aggregate`` (means over images). ``alphas`` defaults to 4 and 8 where the
    runs hold them, else every alpha they hold.
    """
    attacked = table[table["alpha"].notna() & table["adv_output_psnr"].notna()]
    if attacked.empty:
        raise UserError("no attacked cells to plot (the perception figure needs runs with an attack and alphas)")
    datasets = dataset_order(attacked["dataset"])
    dataset = datasets[0] if dataset is None else dataset
    if dataset not in datasets:
        raise UserError(f"dataset {shown(dataset)} has no attacked cells in the runs; they hold "
                        f"{', '.join(datasets)}.{did_you_mean(str(dataset), datasets)}")
    sub = attacked[attacked["dataset"] == dataset]
    present = sorted(sub["alpha"].unique())
    if alphas is None:
        alphas = [a for a in PERCEPTION_ALPHAS if a in present] or present
    missing = [a for a in alphas if a not in present]
    if missing:
        raise UserError(f"alpha {missing[0]:g} is not in the runs on {dataset}; they hold alphas "
                        f"{', '.join(f'{a:g}' for a in present)}")
    sub = sub[sub["alpha"].isin(alphas)]
    niqe = sub["niqe"] if "niqe" in sub else pd.Series(float("nan"), index=sub.index)
    scored = set(sub.loc[niqe.notna(), "model"])
    left_out = sorted(set(sub["model"]) - scored)
    if not scored:
        raise UserError(f"no model has NIQE scores on {dataset}; re-run the runs with NIQE scoring on "
                        "(srbench run --niqe, or niqe: true in the suite)")
    points = sub[sub["model"].isin(scored)].reindex(columns=PERCEPTION_COLUMNS)
    points["training"] = points["training"].fillna("unknown")
    repeated = points[points.duplicated(["model", "alpha"], keep=False)]
    if not repeated.empty:
        r = repeated.iloc[0]
        raise UserError(f"{r['model']} has more than one cell at alpha {r['alpha']:g} on {dataset} (different "
                        "attacks, scales or gray conventions); plot runs that hold one setting per model")
    return points.sort_values(["alpha", "model"]).reset_index(drop=True), left_out


def perception_figure(points: pd.DataFrame, y: str = "robustness"):
    """Robustness against NIQE, one panel per alpha, plus NIQE against clean PSNR-Y (perception-distortion).

    ``y``: "robustness" (adversarial output PSNR, Eq. 9), "logk" (local Lipschitz estimate, log
    scale) or "both" (two rows). Marker and colour follow the model's training; each point is
    labelled with the model. Returns the matplotlib figure.
    """
    from matplotlib import ticker

    plt = pyplot()
    rows = {"both": ["robustness", "logk"], "robustness": ["robustness"], "logk": ["logk"]}.get(y)
    if rows is None:
        raise UserError(f"unknown y axis {y!r}; use robustness, logk or both")
    if "logk" in rows and points["lipschitz_k"].isna().all():
        raise UserError("the rows hold no lipschitz_k (runs made before it was recorded); draw the robustness "
                        "panels instead (y robustness) or re-run")
    alphas = sorted(points["alpha"].unique())
    fig, axes = plt.subplots(len(rows), len(alphas) + 1, figsize=(4.2 * (len(alphas) + 1), 3.9 * len(rows)),
                             squeeze=False)
    niqe_label = "NIQE of the clean output (lower = more natural)"
    panels = []  # (axes, points, x column, y column): labelled once the layout is final
    for i, row in enumerate(rows):
        column, ylabel = (("adv_output_psnr", "adversarial output PSNR (dB, higher = robust)") if row == "robustness"
                          else ("lipschitz_k", "local Lipschitz estimate K (log)"))
        for j, alpha in enumerate(alphas):
            ax = axes[i, j]
            panels.append((ax, points[points["alpha"] == alpha], "niqe", column))
            _scatter_by_training(*panels[-1])
            ax.set_title(f"alpha = {alpha:g}/255")
            ax.set_xlabel(niqe_label)
            ax.set_ylabel(ylabel)
            if row == "logk" and (points[column] > 0).any():
                ax.set_yscale("log")
                ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
                ax.yaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False,
                                                                            minor_thresholds=(1, 0.5)))
    clean = points.drop_duplicates("model")  # NIQE and PSNR-Y describe the clean output: one point per model
    panels.append((axes[0, -1], clean, "niqe", "psnr_y"))
    _scatter_by_training(*panels[-1])
    axes[0, -1].set_title("perception-distortion (clean)")
    axes[0, -1].set_xlabel(niqe_label)
    axes[0, -1].set_ylabel("clean PSNR-Y (dB)")
    axes[0, -1].legend(fontsize=7, loc="best")
    for ax in axes[1:, -1]:
        ax.set_visible(False)
    first = points.iloc[0]
    fig.suptitle(f"{first['dataset']} (x{int(first['scale'])}, {first['attack']}): robustness against perceptual "
                 "quality, one point per model", fontsize=10)
    fig.tight_layout()
    for ax, frame, x, y in panels:
        label_points(ax, list(frame[x]), list(frame[y]), list(frame["model"]))
    return fig


def _scatter_by_training(ax, points: pd.DataFrame, x: str, y: str) -> None:
    """One scatter per training kind (so the legend names each once); :func:`label_points` names the points."""
    for training, group in points.groupby("training", sort=True):
        marker, color, label = training_style(training)
        ax.scatter(group[x], group[y], marker=marker, color=color, s=55, label=label)
    ax.margins(0.15)  # room for the labels of the outermost points
    ax.grid(alpha=0.3)


def label_points(ax, xs, ys, names, fontsize: float = 7, marker_radius_pt: float = 4.0) -> list:
    """Name each point of ``ax`` so that no two labels overlap each other or another point's marker.

    Why: models with close scores (pixel-loss SR models sit within 0.1 dB) drew their names on top of each
    other. Call it once the axes are final (scales, limits, layout): it measures the drawn text. A label starts
    above right of its point (above left in the right quarter, so it stays inside); if that spot is taken (by a
    label, a marker or the legend) or outside the axes, it moves up or down by its own height, the nearest free
    spot first, and gets a thin line to its point.
    Returns the annotations.
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    pt = fig.dpi / 72.0  # pixels per point
    pixels = [tuple(ax.transData.transform((float(x), float(y)))) for x, y in zip(xs, ys)]
    shown_points = [(i, p) for i, p in enumerate(pixels) if all(math.isfinite(v) for v in p)]  # not nan/inf
    if not shown_points:
        return []
    px_all = [p[0] for _, p in shown_points]
    right = min(px_all) + 0.75 * (max(px_all) - min(px_all)) if len(px_all) > 1 else math.inf
    r = marker_radius_pt * pt
    markers = {i: (px - r, py - r, px + r, py + r) for i, (px, py) in shown_points}
    legend = ax.get_legend()
    taken: list[tuple] = [] if legend is None else [_box(legend.get_window_extent(renderer))]
    inside = _box(ax.get_window_extent(renderer))
    labels = []
    for i, (px, py) in shown_points:
        left = px > right
        style = {"textcoords": "offset points", "fontsize": fontsize, "ha": "right" if left else "left",
                 "va": "bottom"}
        dx = -4 if left else 4
        probe = ax.annotate(names[i], (xs[i], ys[i]), xytext=(dx, 3), **style)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        height = extent.height / pt
        obstacles = taken + [m for j, m in markers.items() if j != i]

        def free(k: int) -> bool:
            box = _box(extent, (_label_dy(k, height) - 3) * pt)
            return inside[1] <= box[1] and box[3] <= inside[3] and not any(_overlap(box, o) for o in obstacles)

        chosen = next((k for k in (0, 1, -1, 2, -2, 3, -3, 4, -4) if free(k)), 0)
        dy = _label_dy(chosen, height)
        lead = {"arrowprops": {"arrowstyle": "-", "lw": 0.5, "color": "0.5", "shrinkA": 0, "shrinkB": 3,
                               "relpos": (1.0, 0.5) if left else (0.0, 0.5)}} if chosen else {}
        labels.append(ax.annotate(names[i], (xs[i], ys[i]), xytext=(dx, dy), **style, **lead))
        taken.append(_box(extent, (dy - 3) * pt))
    return labels


def _label_dy(k: int, height: float) -> float:
    """Vertical offset (points) of a label's bottom: slot 0 just above its point, k > 0 higher, k < 0 below."""
    if k >= 0:
        return 3 + k * (height + 1)
    return -3 - height - (-k - 1) * (height + 1)


def _box(extent, dy_pixels: float = 0.0) -> tuple:
    """(x0, y0, x1, y1) of a matplotlib extent, moved up by ``dy_pixels``."""
    return extent.x0, extent.y0 + dy_pixels, extent.x1, extent.y1 + dy_pixels


def _overlap(a: tuple, b: tuple) -> bool:
    """Whether two (x0, y0, x1, y1) boxes intersect."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def perception(table: pd.DataFrame, output: str | Path, dataset: str | None = None,
               alphas: list[float] | None = None, y: str = "robustness") -> tuple[pd.DataFrame, list[str]]:
    """Draw the papers' claim on real models into ``output``; return the plotted rows and the models left out.

    ``table`` is a leaderboard (``leaderboard.aggregate``); see :func:`perception_points`.
    """
    points, left_out = perception_points(table, dataset, alphas)
    fig = perception_figure(points, y)
    save_figure(fig, output)
    pyplot().close(fig)
    return points, left_out
