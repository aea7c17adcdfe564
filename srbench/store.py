"""The results store: one JSON file per finished cell, written atomically.

    RUN_DIR/manifest.json          what produced the run (config, versions, device, weights)
    RUN_DIR/cells/<cell_id>.json   {"cell": {...}, "rows": [per-image records]}

A cell file appears only when the cell is complete (temp file + rename), so
an interrupted run leaves finished cells intact and a re-run skips them. A
cell file counts as finished only if it parses, has that structure and holds
one row per image of the cell (:func:`cell_problem`); anything else (a file
truncated by a full disk, edited by hand, copied half-way) is recomputed by
the run and refused, naming the file, by the readers (leaderboard, plots).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from srbench.errors import UserError


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


RERUN_HINT = "re-run the `srbench run` command that made it (it recomputes broken cells)"
NO_FILE = "no file yet"  # RunStore.cell_status of a cell that was never written


def _shorten(names: list[str], at_most: int = 3) -> str:
    more = f", ... ({len(names) - at_most} more)" if len(names) > at_most else ""
    return ", ".join(names[:at_most]) + more


def parse_json_text(text: str) -> tuple[Any, str | None]:
    """(the parsed JSON, None), or (None, why the text is not JSON)."""
    if not text.strip():
        return None, "empty file"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"truncated or corrupted JSON ({exc.msg} at line {exc.lineno})"


def rows_problem(data: Any, expected_images: list[str] | None = None, key: str = "cell") -> str | None:
    """Why ``data`` is not a finished result (None if it is one).

    A finished cell is ``{"cell": {...}, "rows": [{"image": ...}, ...]}`` with at least one row and,
    when ``expected_images`` is given, exactly one row per expected image. ``key`` names the entry
    beside "rows" (the Ray executor's chunk files hold "unit").
    """
    if not isinstance(data, dict) or key not in data or "rows" not in data:
        found = (f"a JSON {type(data).__name__}" if not isinstance(data, dict)
                 else f"keys {_shorten(sorted(data))}" if data else "an empty object")
        return f"not a result file (it needs the keys '{key}' and 'rows'; found {found})"
    rows = data["rows"]
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("image"), str) for r in rows):
        return "rows that are not per-image records (mappings with an 'image' name)"
    if not rows:
        return "no rows"
    if expected_images is None:
        return None
    have, want = Counter(r["image"] for r in rows), Counter(expected_images)
    missing, extra = sorted((want - have).elements()), sorted((have - want).elements())
    if missing:
        return f"rows for {len(missing)} of {len(expected_images)} images missing ({_shorten(missing)})"
    if extra:
        return f"rows for images not in the dataset, or repeated ({_shorten(extra)})"
    return None


def check_result_file(path: Path, expected_images: list[str] | None = None, key: str = "cell"
                      ) -> tuple[dict | None, str | None]:
    """(the file's contents, None) for a sound result file; (None, why it is broken) otherwise."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        data, problem = parse_json_text(fh.read())
    problem = problem or rows_problem(data, expected_images, key)
    return (None, problem) if problem else (data, None)


def read_result_file(path: Path, key: str = "cell") -> dict:
    """A sound cell file (chunk file: ``key="unit"``), or a one-line UserError that names it and says what to do."""
    data, problem = check_result_file(path, key=key)
    if problem:
        raise UserError(f"broken result file {path}: {problem}; {RERUN_HINT}")
    return data


class RunStore:
    def __init__(self, run_dir: str | os.PathLike):
        self.dir = Path(run_dir)
        self.cells_dir = self.dir / "cells"

    def cell_path(self, cell_id: str) -> Path:
        return self.cells_dir / f"{cell_id}.json"

    def cell_status(self, cell_id: str, expected_images: list[str] | None = None) -> str | None:
        """None when the cell is finished, NO_FILE when it has no file, otherwise why its file is broken."""
        path = self.cell_path(cell_id)
        return check_result_file(path, expected_images)[1] if path.is_file() else NO_FILE

    def is_done(self, cell_id: str, expected_images: list[str] | None = None) -> bool:
        return self.cell_status(cell_id, expected_images) is None

    def write_cell(self, cell_id: str, cell: dict, rows: list[dict]) -> None:
        write_json(self.cell_path(cell_id), {"cell": cell, "rows": rows})

    def write_manifest(self, manifest: dict) -> None:
        path = self.dir / "manifest.json"
        history = []
        if path.is_file():
            with open(path, encoding="utf-8", errors="replace") as fh:
                old, _ = parse_json_text(fh.read())
            if isinstance(old, dict):  # an unreadable old manifest loses its history, not the run
                history = old.get("history", []) + [{k: v for k, v in old.items() if k != "history"}]
        write_json(path, {**manifest, "history": history[-20:]})

    def rows(self) -> Iterable[dict]:
        """Every row of every cell file; a broken cell file is a one-line error naming it (never skipped)."""
        if not self.cells_dir.is_dir():
            return
        for path in sorted(self.cells_dir.glob("*.json")):
            if path.name.startswith("."):  # a temporary file a killed writer left behind, not a cell
                continue
            yield from read_result_file(path)["rows"]


def is_run_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / "cells").is_dir() or (Path(path) / "manifest.json").is_file()
