"""The docs keep up with the code: every CLI command is in docs/cli.md, every metric in docs/metrics.md."""
from conftest import REPO
import argparse

from srbench.cli import build_parser
from srbench.report.leaderboard import ALWAYS


def test_every_command_is_documented():
    text = (REPO / "docs" / "cli.md").read_text()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = [c for c in sub.choices if f"## srbench {c}\n" not in text]
    assert not missing, f"run `python docs/gen_cli.py` to document {missing}"


def test_every_leaderboard_metric_has_a_formula():
    text = (REPO / "docs" / "metrics.md").read_text()
    assert all(f"`{m}`" in text for m in ALWAYS)
