"""The results store: one JSON file per finished cell, written atomically.

    RUN_DIR/manifest.json          what produced the run (config, versions, device, weights); the last 20
                                   earlier records under "history" (a re-run with nothing to do adds none)
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
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from srbench.core.errors import UserError
from srbench.files import write_json

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

    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    def write_manifest(self, manifest: dict) -> None:
        path = self.manifest_path
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
