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
    assert text == table.read_text(), f"regenerate {table} with: .venv/bin/python {here / 'figure.py'} --dataset {dataset}"
    summary = figure.summary_table(stats, worst_cases)
    assert summary in text and summary.rstrip("\n") + "\n\n" in (here / "README.md").read_text(), \
        f"figure.py puts it into {here / 'README.md'}"
