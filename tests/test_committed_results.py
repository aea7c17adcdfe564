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
