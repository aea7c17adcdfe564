"""The ``srbench`` command: thin parsing around the Python API.

Each subcommand is a module ``srbench/cli/commands/<name>.py`` with ``add_parser``
(declares its arguments) and ``main(args)`` (calls the API, prints). Errors
the user can fix (:class:`srbench.core.errors.UserError`, and OS errors about a
named path: unwritable output, missing folder) become one line on stderr and
exit code 2; Ctrl-C exits 130 without a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import shlex
import sys

import srbench.cli.commands
from srbench import __version__
from srbench.core.errors import UserError


def command_names() -> list[str]:
    """Every module of srbench.cli.commands is a subcommand (one file per command)."""
    return sorted(m.name for m in pkgutil.iter_modules(srbench.cli.commands.__path__) if not m.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srbench", description="Adversarial robustness benchmark for image restoration.")
    parser.add_argument("--version", action="version", version=f"srbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_names():
        module = importlib.import_module(f"srbench.cli.commands.{name}")
        p = module.add_parser(sub)
        p.set_defaults(_main=module.main, _interrupted=getattr(module, "INTERRUPTED", None), _flags=flags_of(p))
    return parser


def flags_of(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Option name -> the long flag that sets it (``n_eot`` -> ``--n-eot``), for this command's errors."""
    return {action.dest: long[0] for action in parser._actions
            if (long := [s for s in action.option_strings if s.startswith("--")])}


def error_text(exc: UserError, flags: dict[str, str]) -> str:
    """The error with the options it names written as this command's flags (library messages speak of options)."""
    return exc.render(lambda name, example: " ".join(filter(None, (flags.get(name, name), example))))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args._command_line = "srbench " + shlex.join(argv)  # what a result's README quotes to remake it
    if not getattr(args, "_main", None):
        parser.print_help()
        return 1
    try:
        code = args._main(args) or 0
        sys.stdout.flush()  # a closed pipe shows up here, inside the handlers below, not at exit
        return code
    except UserError as exc:
        print(f"srbench: error: {error_text(exc, getattr(args, '_flags', {}))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader of our output went away (`srbench models | head`): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141
    except OSError as exc:
        if exc.filename is None:
            raise
        # a path the user gave (or its folder) cannot be read or written: say which, no traceback
        print(f"srbench: error: {exc.filename}: {exc.strerror or exc}; check the path and its permissions",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = getattr(args, "_interrupted", None)
        print(f"srbench: interrupted{'; ' + hint if hint else ''}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
