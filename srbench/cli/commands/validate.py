"""`srbench validate SUITE.yaml`: check a benchmark file and report every problem at once."""
from __future__ import annotations

import sys

from srbench.bench.suite import build_suite, cells, read_suite_file, suite_problems
from srbench.core.errors import UserError
from srbench.experiments.gan.config import DEFAULT_VARIANTS, config_problems


def add_parser(sub):
    p = sub.add_parser("validate", help="check suite files (unknown keys, names, ranges) without running them",
                       description="Check benchmark suites (and `srbench train` configs, recognised by their "
                                   "`train:` section) and list every problem, one per line. Exit 0 when all are "
                                   "valid, 2 otherwise. `srbench run` and `srbench train` do the same checks "
                                   "before they start.")
    p.add_argument("suites", nargs="+", metavar="SUITE", help="suite YAML file or packaged suite name")
    return p


def main(args):
    failed = 0
    for spec in args.suites:
        try:
            raw = read_suite_file(spec)
        except UserError as exc:  # missing file, bad YAML, not a mapping
            print(f"{spec}: {exc}", file=sys.stderr)
            failed += 1
            continue
        training = "train" in raw and "models" not in raw
        if training:
            problems = config_problems(raw)
        else:
            problems = suite_problems(raw)
        if problems:
            failed += 1
            print(f"{spec}: {len(problems)} problem{'s' if len(problems) > 1 else ''}", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            continue
        if training:
            print(f"{spec}: ok - training config for `srbench train` (variants: "
                  f"{', '.join(raw.get('variants') or DEFAULT_VARIANTS)})")
            continue
        suite = build_suite(raw)
        n_budgets = len(suite.budgets())
        print(f"{spec}: ok - suite {suite.name!r}: {len(suite.models)} model(s) x {len(suite.datasets)} dataset(s) "
              f"x {n_budgets} budget(s) = {len(cells(suite))} cells, "
              f"attack {', '.join(name for name, _ in suite.attack_specs())}, x{suite.scale}")
    return 2 if failed else 0
