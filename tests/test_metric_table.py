"""The one metric table: the evaluator, the leaderboard and the site read it, so they agree by construction."""
import html
import re

import pytest
import torch

from srbench.attacks import make_attack
from srbench.bench.evaluate import CellEvaluator
from srbench.bench.runner import run_suite
from srbench.bench.suite import build_suite
from srbench.core.metric_table import BY_NAME, COLUMNS, always_shown, metric_names
from srbench.core.metrics import fidelity
from srbench.data import load_dataset
from srbench.models import load_model
from srbench.report.leaderboard import leaderboard, load_rows
from srbench.report.plots import budget_axis, budget_label
from srbench.report.website import render_site


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


@pytest.fixture(scope="module")
def l2_and_linf_runs(tmp_path_factory):
    """bicubic on one demo image: adam-l2 (an L2 budget, eps 0.5 and 1) and I-FGSM (alpha 2), one step each."""
    root = tmp_path_factory.mktemp("budgets")
    for name, attack, budgets in (("l2", {"name": "adam-l2", "steps": 1}, [0.5, 1.0]),
                                  ("linf", {"name": "ifgsm", "steps": 1}, [2])):
        run_suite(build_suite({"name": name, "models": ["bicubic"], "datasets": ["demo"], "limit": 1,
                               "attack": attack, "alphas": budgets, "device": "cpu"}), root / name, quiet=True)
    return [root / "l2", root / "linf"]


def test_the_site_reads_the_table_and_plots_any_budget(l2_and_linf_runs, tmp_path):
    """Headers, tooltips and the legend are the metric table's; the adam-l2 section shows its budget as
    eps with its unit and gets a figure against it, like the alpha section."""
    index = render_site(l2_and_linf_runs, tmp_path / "site")
    page = index.read_text()
    legend = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page))
    for name in ("psnr_y", "adv_output_psnr", "adv_input_psnr", "lipschitz_k"):
        column = BY_NAME[name]
        better = " (higher is better)" if column.higher_is_better else " (lower is better)"
        assert legend[html.escape(column.header)] == html.escape(column.description) + better
        assert f'<th title="{html.escape(column.description)}">' in page
    l2_section = page[page.index('<section id="demo__adam-l2">'):page.index('<section id="demo__ifgsm">')]
    assert "eps (L2 [0,1])</th>" in l2_section
    assert 'src="figures/demo__adam-l2.png"' in l2_section and "against eps (L2 [0,1])" in l2_section
    assert 'src="figures/demo__ifgsm.png"' in page and "against alpha (1/255)" in page
    assert (tmp_path / "site" / "figures" / "demo__adam-l2.png").stat().st_size > 1000


def test_budget_axis_is_alpha_where_there_is_one_else_the_attacks_budget(l2_and_linf_runs):
    table = leaderboard(l2_and_linf_runs)
    attacked = table[table["attack"] != "none"]
    assert budget_axis(attacked) == ("alpha", "alpha (1/255)")
    l2 = attacked[attacked["attack"] == "adam-l2"]
    assert budget_axis(l2) == ("budget", "eps (L2 [0,1])")
    assert sorted(l2["budget"]) == [0.5, 1.0] and l2["alpha"].isna().all()
    assert budget_label("no-such-attack") == "budget"


def test_a_budget_the_attack_ignores_is_labelled_a_placeholder(l2_and_linf_runs, tmp_path):
    """adam-l2 with a target input PSNR sets its own radius: its cells' eps is a placeholder, and says so."""
    run_suite(build_suite({"name": "psnr", "models": ["bicubic"], "datasets": ["demo"], "limit": 1, "device": "cpu",
                           "attack": {"name": "adam-l2", "steps": 1, "target_input_psnr": 40}, "alphas": [0.5]}),
              tmp_path / "psnr", quiet=True)
    assert budget_label("adam-l2", load_rows([tmp_path / "psnr"])) == "eps: a placeholder (the attack sets its own radius)"
    assert budget_label("adam-l2", load_rows(l2_and_linf_runs[:1])) == "eps (L2 [0,1])"
