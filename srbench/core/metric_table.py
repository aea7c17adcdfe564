"""The one table of what a result row measures: every metric and descriptive column, with its metadata.

The evaluator (which fidelity scores a row holds), the leaderboard (which
columns it averages and which it always shows) and the reports (headers,
tooltips, which direction is better) read this table instead of keeping
lists of their own (pyiqa's flat metric table is the model). Order matters:
it is the order of the leaderboard's columns.

Formulas: docs/metrics.md.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str  # the key in result rows and leaderboards
    header: str  # short label for tables and figures
    family: str  # count | fidelity | robustness | attack | attacked fidelity | diversity | perceptual | perturbation | label
    higher_is_better: bool | None  # None: neither direction is better (a description, a count, a size)
    unit: str  # "dB", "" (unitless), "[0,1] pixel" (images in [0, 1])
    description: str
    always_shown: bool = False  # the leaderboard shows it even when no row has a value

    @property
    def is_metric(self) -> bool:
        """A per-image number the leaderboard averages (not a count or a label)."""
        return self.family not in ("count", "label")


COLUMNS: tuple[Column, ...] = (
    Column("n_images", "images", "count", None, "", "images averaged"),
    Column("psnr_y", "PSNR-Y", "fidelity", True, "dB",
           "clean output vs HR, Y channel (BT.601), border of `scale` px shaved, 8-bit output", always_shown=True),
    Column("ssim_y", "SSIM-Y", "fidelity", True, "", "clean output vs HR, same convention as PSNR-Y",
           always_shown=True),
    Column("psnr_rgb", "PSNR-RGB", "fidelity", True, "dB", "clean output vs HR on RGB in [0, 1]", always_shown=True),
    Column("ssim_rgb", "SSIM-RGB", "fidelity", True, "", "clean output vs HR on RGB"),
    Column("adv_output_psnr", "adv. output PSNR", "robustness", True, "dB",
           "robustness (Eq. 9): PSNR between outputs on the clean and attacked input, same seeds", always_shown=True),
    Column("adv_output_psnr_fresh", "adv. output PSNR (fresh seeds)", "robustness", True, "dB",
           "as above, with seeds the attack never saw"),
    Column("worst_adv_output_psnr", "worst adv. output PSNR", "robustness", True, "dB",
           "per image the lowest adv. output PSNR over the attacks run at this budget, then the mean"),
    Column("wins", "wins", "label", None, "", "how many images each attack gave the lowest adv. output PSNR"),
    Column("adv_input_psnr", "AI-PSNR", "attack", True, "dB",
           "PSNR between the clean and attacked input (the attack's strength)", always_shown=True),
    Column("target_psnr", "attacked PSNR vs target", "attack", False, "dB",
           "targeted attacks: attacked output vs the attack's target (lower is more robust)"),
    Column("clean_target_psnr", "clean PSNR vs target", "attack", None, "dB",
           "targeted attacks: clean output vs the attack's target, for reference"),
    Column("adv_psnr_hr", "attacked PSNR vs HR", "attacked fidelity", True, "dB", "attacked output vs HR on RGB",
           always_shown=True),
    Column("adv_psnr_y", "attacked PSNR-Y vs HR", "attacked fidelity", True, "dB",
           "attacked output vs HR, Y channel convention"),
    Column("diversity_std", "diversity", "diversity", None, "[0,1] pixel",
           "per-pixel std over samples of the clean input (stochastic models)"),
    Column("niqe", "NIQE", "perceptual", False, "",
           "no-reference naturalness of the clean output (Mittal et al.; basicsr's implementation, "
           "Y channel, border of `scale` px shaved)"),
    Column("linf", "L-inf", "perturbation", None, "[0,1] pixel", "L-inf norm of the perturbation"),
    Column("l2", "L2", "perturbation", None, "[0,1] pixel", "L2 norm of the perturbation"),
    Column("lipschitz_k", "Lipschitz K", "robustness", False, "",
           "empirical local Lipschitz constant ||f(y+d)-f(y)|| / ||d||"),
    Column("training", "training", "label", None, "",
           "how the model was trained (pixel loss, GAN, flow), from its card"),
    Column("attack_variant", "attack options", "label", None, "",
           "the options that set apart runs of the same attack (e.g. PGD restarts)"),
    Column("gray_convention", "gray conv.", "label", None, "",
           "how grayscale ground truth was scored: basicsr (Y of 3 equal channels) or matlab (raw gray)"),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}


def metric_names(family: str | None = None) -> list[str]:
    """The per-image metrics (of one family), in table order."""
    return [c.name for c in COLUMNS if c.is_metric and (family is None or c.family == family)]


def always_shown() -> list[str]:
    """The metrics a leaderboard shows even when no row has a value."""
    return [c.name for c in COLUMNS if c.always_shown]
