"""Committed result tables are what `srbench leaderboard` makes of the committed cells, byte for byte
(issue 14: a reader can regenerate every number from the cells in the repository)."""
from __future__ import annotations

import pytest

from conftest import REPO, srbench

TABLES = [("results/real-cpu/run", "md", "results/real-cpu/leaderboard.md"),
          ("results/real-cpu/run", "csv", "results/real-cpu/leaderboard.csv")]


@pytest.mark.parametrize("run, fmt, table", TABLES)
def test_a_committed_leaderboard_regenerates_byte_identically(capsys, run, fmt, table):
    if not (REPO / run / "cells").is_dir() or not (REPO / table).is_file():
        pytest.skip(f"{run} is not in this checkout")
    code, out, err = srbench(capsys, "leaderboard", REPO / run, "--format", fmt)
    assert code == 0, err
    assert out == (REPO / table).read_text(), f"regenerate {table} with: srbench leaderboard {run} --format {fmt}"


def _defenses_figure_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("defenses_figure", REPO / "results/real-cpu/defenses/figure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dataset", ["set5", "set14"])
def test_the_defenses_tables_are_what_figure_py_makes_of_the_committed_cells(dataset):
    """defenses_<dataset>.md regenerates byte for byte, and the README's table is its summary, verbatim."""
    here = REPO / "results/real-cpu/defenses"
    table = here / f"defenses_{dataset}.md"
    if not (here / "run" / "cells").is_dir() or not table.is_file():
        pytest.skip(f"{table} is not in this checkout")
    figure = _defenses_figure_module()
    rows = figure.load_rows([here / "run"])
    stats, worst_cases = figure.summary(rows, dataset), figure.worst(rows, dataset)
    text = figure.markdown(stats, worst_cases, dataset)
    assert text == table.read_text(), f"regenerate {table} with: .venv/bin/python {here / 'figure.py'}"
    summary = figure.summary_table(stats, worst_cases)
    assert summary.rstrip("\n") + "\n\n" in (here / "README.md").read_text(), \
        f"figure.py puts it into {here / 'README.md'}"


def test_figure_py_adds_a_dataset_s_results_section_once_then_replaces_its_table(tmp_path):
    """A dataset's first cells get their README section (before "What remains"); later cells replace only its
    table, and the other datasets' tables stay as they were."""
    figure = _defenses_figure_module()
    readme = tmp_path / "README.md"
    set5 = "| model | a2 |\n|---|---|\n| imdn | 26.58 |\n"
    readme.write_text(f"# Study\n\n## Results (Set5)\n\nProse.\n\n{set5}\nMore prose.\n\n## What remains\n\n1. Set14.\n")
    first, later = "| model | a2 |\n|---|---|\n| imdn | 25.00 |\n", "| model | a2 |\n|---|---|\n| imdn | 24.00 |\n"

    figure.update_readme(readme, "set14", first)
    text = readme.read_text()
    assert text.count("## Results (Set14)") == 1 and "](defenses_set14.png)" in text
    assert text.index("## Results (Set5)") < text.index("## Results (Set14)") < text.index(first) \
        < text.index("## What remains")
    assert set5 in text and text.endswith("## What remains\n\n1. Set14.\n")

    figure.update_readme(readme, "set14", later)
    again = readme.read_text()
    assert later in again and first not in again and again.count("## Results (Set14)") == 1
    assert again == text.replace(first, later)

    figure.update_readme(readme, "set5", later)  # the Set5 section's table only
    assert readme.read_text() == again.replace(set5, later, 1)
