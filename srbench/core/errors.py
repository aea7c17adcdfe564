"""The error type the CLI turns into a one-line message and a non-zero exit.

Library code speaks of *options* (as suites and the Python API spell them:
``steps``, ``data_root``, ``weights``); the command line calls the same
things *flags* (``--steps``, ``--data-root``, ``--weights``). A message
names an option with a ``{name}`` placeholder declared in ``options``
(name -> example value, or ""); ``str(error)`` writes the option name, and
the CLI writes the flag of the running command instead (``srbench/cli/__init__.py``).
"""
from __future__ import annotations

import reprlib
from typing import Callable, Mapping, Sequence

OptionText = Callable[[str, str], str]


def option_name(name: str, example: str) -> str:
    """How library messages name an option: ``steps``, ``weights edsr=PATH``."""
    return f"{name} {example}" if example else name


class UserError(Exception):
    """Bad input or environment the user can fix; the message says what to do.

    ``options`` maps each ``{name}`` placeholder of the message to an example value ("" for none);
    ``parts`` makes one error of several (a header line, then one line per part).
    """

    def __init__(self, message: str, options: Mapping[str, str] | None = None,
                 parts: Sequence["UserError"] = ()):
        self.message = message
        self.options = dict(options or {})
        self.parts = list(parts)
        super().__init__(self.render())

    def render(self, option_text: OptionText = option_name) -> str:
        """The message with each declared option written by ``option_text(name, example)``."""
        text = self.message
        for name, example in self.options.items():
            text = text.replace("{" + name + "}", option_text(name, example))
        return "\n".join([text] + [f"  - {part.render(option_text)}" for part in self.parts])

    def __str__(self) -> str:
        return self.render()


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages.

    Why: a value from a file or a flag can be huge (a YAML alias bomb expands to
    gigabytes); an error names it, it never echoes it whole.
    """
    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother = 3, limit, limit
    text = short.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
