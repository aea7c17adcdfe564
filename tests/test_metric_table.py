"""The one metric table: the evaluator, the leaderboard and the site read it, so they agree by construction."""
import torch

from srbench.attacks import make_attack
from srbench.data import load_dataset
from srbench.bench.evaluate import CellEvaluator
from srbench.core.metric_table import BY_NAME, COLUMNS, always_shown, metric_names
from srbench.core.metrics import fidelity
from srbench.models import load_model


def test_fidelity_scores_are_the_fidelity_family():
    hr = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(0))
    assert list(fidelity(hr, hr, 4)) == metric_names("fidelity") == ["psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"]


def test_every_number_of_an_attacked_row_is_in_the_table():
    """A real row (bicubic, one demo image, 2 I-FGSM steps): each per-image number it holds is a metric of the
    table, and the always-shown ones are all there."""
    pair = load_dataset("demo", 4, limit=1)
    evaluator = CellEvaluator(load_model("bicubic", device="cpu"), 4)
    (row,) = evaluator.evaluate(pair, make_attack("ifgsm", alpha=2.0, steps=2), torch.device("cpu"))
    bookkeeping = {"n_seeds", "eps", "gray", "adv_input_psnr_bound"}
    numbers = {k for k, v in row.items() if isinstance(v, float) and not isinstance(v, bool)} - bookkeeping
    assert numbers <= set(metric_names()), numbers - set(metric_names())
    assert set(always_shown()) <= numbers
    assert row["adv_output_psnr"] < float("inf") and row["adv_input_psnr"] > 0


def test_names_are_unique_and_directions_are_stated():
    assert len(BY_NAME) == len(COLUMNS)
    assert BY_NAME["lipschitz_k"].higher_is_better is False and BY_NAME["niqe"].higher_is_better is False
    assert all(BY_NAME[m].higher_is_better for m in metric_names("fidelity") + ["adv_output_psnr"])
    assert {c.unit for c in COLUMNS if c.name.startswith(("psnr", "adv_"))} == {"dB"}


def test_the_site_describes_every_column_as_the_table_does():
    """site.METRIC_INFO will be read from the table (issue 15, phase 2); until then they must not drift apart."""
    from srbench.report.website import METRIC_INFO

    assert set(METRIC_INFO) == set(BY_NAME)
    for name, (header, better, description) in METRIC_INFO.items():
        column = BY_NAME[name]
        assert (column.header, column.higher_is_better, column.description) == (header, better, description), name
