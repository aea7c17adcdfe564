"""Files written whole or not at all: atomic writes, folders that take files, JSON.

Every file srbench writes (cells, images, figures, tables, downloads, checkpoints) goes through
:func:`atomic_path`, so a crash or a failed download never leaves a half-written file under its final name.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from srbench.core.errors import UserError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    Every file srbench writes (cells, images, figures, tables, downloads, checkpoints) goes
    through this, so a crash or a failed download never leaves a half-written file under the
    final name. The temporary name is hidden (leading dot; readers skip such names, in case a
    killed process leaves one) and keeps the suffix, for writers that pick a format from it.
    """
    path = Path(path)
    make_folder(path.parent, "folder")
    tmp = None
    try:  # from creation on, an interrupt (Ctrl-C) removes the temporary file
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".part{path.suffix}")
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror or exc}; choose a folder you can write") from None
        os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, _new_file_mode())  # mkstemp makes 0600; results are readable like any other output
        os.replace(tmp, path)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _new_file_mode() -> int:
    """The mode open() gives a new file: 0666 less the umask.

    The umask can only be read by setting it; 0o077 holds for that instant, so a file another
    thread creates meanwhile is private rather than too open.
    """
    umask = os.umask(0o077)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def make_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """mkdir -p with a one-line error that names the culprit (e.g. a file where a folder should be)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a folder" if blocker else (exc.strerror or str(exc))
        raise UserError(f"cannot write {what} {path}: {reason}; choose a folder you can write") from None
    return path


def writable_dir(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Create the output folder ``path`` and prove it takes files, before any long computation.

    Why: a run that trains or attacks for an hour and then fails to write its results loses
    them; checking first turns that into a one-line error at start-up.
    """
    path = make_folder(path, what)
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".srbench-write-check.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"cannot write {what} {path}: {exc.strerror or exc}; choose a folder you can write") from None
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(_jsonable(obj), indent=1, sort_keys=True))
