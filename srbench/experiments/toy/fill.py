"""Add the x2 robustness column to a toy table written before it existed (``srbench toy --fill-x2 DIR``).

Why: a committed table is a result; a new column must not change any of its cells. Every row that
can be recomputed (the hand-made and zigzag rows always, a learned row only from its finished
checkpoint) is re-evaluated with the run's own config from run.json; its existing cells must come
out identical (otherwise nothing is written and the first difference is named), and only the new
column is filled. Learned rows without a checkpoint keep an empty cell.
"""
from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pandas as pd
import torch

from srbench import __version__
from srbench.core.errors import UserError
from srbench.experiments.toy.data import ToyData
from srbench.experiments.toy.experiment import config_from_dict, hand_made_results, train_learned, zigzag_results
from srbench.experiments.toy.table import X2_NOTE, markdown_table, summary_frame
from srbench.files import atomic_write_text

NEW_COLUMN = "robustness_sqrtR_x2"
AFTER = "robustness_sqrtR"  # the new column sits beside the full-output value


def fill_x2(folder: str | Path, ckpt_dir: str | None = None, command: str | None = None) -> pd.DataFrame:
    """Write ``NEW_COLUMN`` into folder/table.csv and table.md, leaving every other cell as it was;
    record what was filled in run.json. Returns the new table (all cells as written, strings)."""
    folder = Path(folder)
    table_path, run_path = folder / "table.csv", folder / "run.json"
    if not (table_path.is_file() and run_path.is_file()):
        raise UserError(f"{folder} is not a toy output folder (needs table.csv and run.json from srbench toy)")
    old = pd.read_csv(table_path, dtype=str, keep_default_na=False)
    if AFTER not in old.columns:
        raise UserError(f"{table_path} has no {AFTER} column; is it a table of srbench toy?")
    run = json.loads(run_path.read_text())
    fresh = _recompute(old, run["config"], ckpt_dir)
    new = _merge(old, fresh, table_path)
    atomic_write_text(table_path, new.to_csv(index=False))
    _rewrite_markdown(folder / "table.md", new)
    filled = [n for n in new["estimator"] if n in fresh.index]
    run.setdefault("added_columns", {})[NEW_COLUMN] = _provenance(command, ckpt_dir, filled,
                                                                  [n for n in new["estimator"] if n not in filled])
    atomic_write_text(run_path, json.dumps(run, indent=2))
    return new


def _recompute(old: pd.DataFrame, cfg_dict: dict, ckpt_dir: str | None) -> pd.DataFrame:
    """The rows that can be recomputed, as the table writer would write them (strings, by estimator)."""
    cfg = config_from_dict(cfg_dict)
    data = ToyData.make(cfg.seed, cfg.n_train, cfg.n_val, device=cfg.device)
    rows = hand_made_results(cfg, data) + zigzag_results(cfg)[1]
    for name in old.loc[old["family"] == "learned", "estimator"]:
        if ckpt_dir and (Path(ckpt_dir) / f"{name}.pt").is_file():
            rows.append(train_learned(name, cfg, ckpt_dir, resume=True, progress=False, require_finished=True))
    text = summary_frame(rows).to_csv(index=False)
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False).set_index("estimator")


def _merge(old: pd.DataFrame, fresh: pd.DataFrame, where: Path) -> pd.DataFrame:
    """old with NEW_COLUMN beside AFTER; refuses when a recomputed row differs in any existing cell."""
    values = list(old[NEW_COLUMN]) if NEW_COLUMN in old.columns else [""] * len(old)
    for i, row in old.iterrows():
        name = row["estimator"]
        if name not in fresh.index:
            continue
        for col in old.columns:
            if col in fresh.columns and col != "estimator" and (col != NEW_COLUMN or row[col] != ""):
                if fresh.at[name, col] != row[col]:
                    raise UserError(
                        f"{where}: recomputing {name} gives {col} = {fresh.at[name, col][:40]!r} where the table "
                        f"has {row[col][:40]!r}; nothing written (another torch/CPU, or not the checkpoint "
                        f"that made this table)")
        values[i] = fresh.at[name, NEW_COLUMN]
    new = old.drop(columns=[NEW_COLUMN], errors="ignore")
    new.insert(list(new.columns).index(AFTER) + 1, NEW_COLUMN, values)
    return new


def _rewrite_markdown(path: Path, table: pd.DataFrame) -> None:
    """Keep the note above the table (adding the new column's sentence) and rewrite the table."""
    text = path.read_text() if path.is_file() else ""
    note = text[: text.find("| estimator")] if "| estimator" in text else ""
    note = note.strip()
    if X2_NOTE not in note:
        note = f"{note.rstrip('.')}; {X2_NOTE}." if note else X2_NOTE + "."
    atomic_write_text(path, note + "\n\n" + markdown_table(table))


def _provenance(command: str | None, ckpt_dir: str | None, filled: list[str], blank: list[str]) -> dict:
    return {"command": command, "ckpt_dir": ckpt_dir, "filled": filled, "left_blank": blank,
            "srbench": __version__, "torch": torch.__version__,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
