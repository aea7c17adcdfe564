"""Loading the parts of a diffusers model folder (or hub repository) with one-line errors.

diffusers and transformers are optional (the ``diffusion`` extra), so they are
imported here on first use, and a missing one is a UserError that says how to
install it. Each part is read with its class's own ``from_pretrained`` (the
path the hub repository was written for); their logging chatter is hidden,
their errors become one line naming the part and what the folder must hold.
"""
from __future__ import annotations

import contextlib
import importlib
import warnings
from pathlib import Path
from typing import Any, Sequence

from srbench.core.errors import UserError
from srbench.models.weights import _one_line

INSTALL_HINT = "pip install 'srbench[diffusion]'"


def import_optional(module: str, why: str) -> Any:
    """The module, or a one-line UserError: ``why`` (who needs which library), and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{why}, which is not installed: {INSTALL_HINT}") from None


def import_diffusers():
    return import_optional("diffusers", "diffusion models need the diffusers library")


@contextlib.contextmanager
def quiet(*libraries: Any):
    """Hide the libraries' loading chatter (advice to install accelerate, progress bars, deprecation warnings):
    errors still raise, and srbench says what to do about them."""
    states = [(lib.utils.logging, lib.utils.logging.get_verbosity(), lib.utils.logging.is_progress_bar_enabled())
              for lib in libraries]
    for logging, _, _ in states:
        logging.set_verbosity_error()
        logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        for logging, level, bars in states:
            logging.set_verbosity(level)
            if bars:
                logging.enable_progress_bar()


def load_part(cls: Any, source: str | Path, sub: str, subfolders: Sequence[str], *libraries: Any) -> Any:
    """``cls.from_pretrained(source, subfolder=sub)``; any failure is one line saying what ``source`` must hold."""
    source = str(source)
    try:
        with quiet(*libraries):
            return cls.from_pretrained(source, subfolder=sub)
    except Exception as exc:  # OSError/EnvironmentError, huggingface_hub's offline and 404 errors, bad configs
        raise UserError(f"cannot load the {sub} of diffusion model {source!r}: {_one_line(exc, 200)}; "
                        f"{_where_to_look(source, subfolders)}") from None


def _where_to_look(source: str, subfolders: Sequence[str]) -> str:
    folders = ", ".join(f"{s}/" for s in subfolders)
    if Path(source).expanduser().is_dir():
        return f"the folder must hold {folders} as written by save_pretrained"
    return (f"{source!r} is not a local folder, and the Hugging Face Hub did not deliver it (offline, "
            f"or no such repository); give a folder with {folders} or a reachable hub repository")
