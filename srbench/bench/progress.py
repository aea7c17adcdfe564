"""Progress bars for a run: cells, images and attack steps (rich), or silence."""
from __future__ import annotations

import sys


class Progress:
    """Rich progress bars for cells, images and attack steps (silent when quiet)."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._bar = None

    def __enter__(self):
        if not self.quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), transient=False)
            self._bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def task(self, description: str, total: int):
        return self._bar.add_task(description, total=total) if self._bar else None

    def update(self, task, **kwargs):
        if self._bar is not None and task is not None:
            self._bar.update(task, **kwargs)

    def log(self, message: str):
        if self._bar is not None:
            self._bar.console.print(message)

    def warn(self, message: str):
        """Shown even when quiet: something the user should know (e.g. a broken file being recomputed)."""
        if self._bar is not None:
            self._bar.console.print(f"srbench: {message}", markup=False, highlight=False)
        else:
            print(f"srbench: {message}", file=sys.stderr)
