"""Cell ids never change: every cell file under results/ keeps its name, recomputed from its own record and
from the suite that made it (resume finds finished cells by name, so a changed id would recompute them)."""
import json
from pathlib import Path

import pytest

from srbench.core.metrics import LEGACY_GRAY_CONVENTION
from srbench.bench.suite import Cell, build_suite, cells, read_suite_file

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"


def _cell_files() -> list[Path]:
    return sorted(RESULTS.glob("**/cells/*.json"))


def _cell(record: dict) -> Cell:
    """The Cell a cell file's record describes (records older than a field were made with its default)."""
    return Cell(record["model"], record["dataset"], record["scale"], record["attack"], record["budget"],
                tuple(sorted(record["options"].items())), record["seed"], record["limit"],
                tuple(record.get("numerics", {}).items()), record.get("gray_convention", LEGACY_GRAY_CONVENTION))


def test_every_cell_file_is_named_by_its_cell_id():
    files = _cell_files()
    assert len(files) >= 32  # the committed tradeoff cells at least
    for path in files:
        record = json.loads(path.read_text())["cell"]
        assert _cell(record).cell_id == record["cell_id"] == path.stem, path


def test_the_tradeoff_suites_make_the_committed_cells():
    """results/tradeoff/README.md's command, as suites: the same cell names as the committed files (made
    before the grayscale convention was a suite key, so scored the MATLAB way)."""
    from srbench.experiments.tradeoff import attack_suites

    weights = {"unet-gan-det": str(RESULTS / "gan-small/weights/erratic-det.pt"),
               "unet-gan": str(RESULTS / "gan-small/weights/erratic-sto.pt")}
    suites = attack_suites(["bicubic", "tiny-edsr", "unet-gan-det", "unet-gan"], ["set5", "set5-noisy"], 4,
                           [1.0, 2.0, 4.0], 10, 40.0, 5, 4, None, None, "cpu", weights)
    for key, raw in suites.items():
        committed = {p.stem for p in (RESULTS / "tradeoff/runs" / key / "cells").glob("*.json")}
        made = cells(build_suite({**raw, "gray_convention": LEGACY_GRAY_CONVENTION}))
        assert committed and committed == {c.cell_id for c in made}, key


def test_the_real_cpu_track_finds_its_finished_cells():
    """results/real-cpu/run.sh's flags on benchmarks/real-cpu.yaml name the cells its run folder holds."""
    run = RESULTS / "real-cpu/run/cells"
    if not run.is_dir() or not (REPO / "benchmarks/real-cpu.yaml").is_file():
        pytest.skip("the real-cpu track is not in this checkout")
    expected = set()
    for dataset, limit in (("set5", None), ("set14", None), ("bsd100", 10)):
        raw = {**read_suite_file(str(REPO / "benchmarks/real-cpu.yaml")), "datasets": [dataset], "limit": limit,
               "device": "cpu", "weights": {"imdn": "IMDN_x4.pth"}}
        expected |= {c.cell_id for c in cells(build_suite(raw))}
    on_disk = {p.stem for p in run.glob("*.json")}
    assert on_disk and on_disk <= expected, sorted(on_disk - expected)[:3]
