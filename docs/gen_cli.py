"""Regenerate docs/cli.md from the argparse definitions: `python docs/gen_cli.py`."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from srbench.cli import build_parser


def main() -> None:
    os.environ["COLUMNS"] = "100"
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    parts = ["# CLI reference\n",
             "Generated from the argparse definitions by `python docs/gen_cli.py`; "
             "`srbench COMMAND --help` prints the same. Errors you can fix print one line "
             "`srbench: error: ...` and exit with status 2; output folders are checked for writing before "
             "any long work starts, and every result file is written atomically (temporary file, then "
             "rename). Ctrl-C exits 130 and keeps finished cells.\n",
             "```\n" + parser.format_help() + "```\n"]
    for name, p in sub.choices.items():
        parts.append(f"## srbench {name}\n\n```\n{p.format_help()}```\n")
    Path(__file__).with_name("cli.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
