"""The docs keep up with the code: every CLI command is in docs/cli.md, every metric in docs/metrics.md."""
import argparse
import importlib
import re

from conftest import REPO

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


DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "examples" / "srbench-plugin-example" / "README.md"]
ENTRY_POINT_GROUPS = {"srbench.models", "srbench.attacks", "srbench.datasets", "srbench.suites"}


def _resolves(dotted: str) -> bool:
    """An importable module, or an attribute of one (``srbench.models.weights.raw_github``)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_the_paths_and_names_the_docs_give_exist():
    """After the layout moved modules, every srbench/... path and srbench.x.y name in the docs must still be real."""
    missing = []
    for doc in (d for d in DOCS if d.is_file()):
        text = doc.read_text()
        missing += [f"{doc.name}: {p}" for p in set(re.findall(r"(?<![\w./~-])srbench/(?:\w+/)*\w+(?:\.py|/)", text))
                    if not (REPO / p).exists()]
        missing += [f"{doc.name}: {n}" for n in set(re.findall(r"(?<![\w./-])srbench(?:\.[a-z_][\w]*)+", text))
                    if n not in ENTRY_POINT_GROUPS and not _resolves(n)]
    assert not missing
