"""--shard i/n: a deterministic split of the cells; the shards' leaderboard equals the unsharded one."""
import json

import pandas as pd
import pytest

from srbench.core.errors import UserError
from srbench.bench.executors import parse_shard, shard_cells
from srbench.report.leaderboard import leaderboard
from srbench.bench.runner import run_suite
from srbench.bench.suite import Suite, cells

ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def test_parse_shard():
    assert parse_shard("0/2") == (0, 2) and parse_shard("3/4") == (3, 4) and parse_shard(None) is None
    for bad in ("2/2", "-1/2", "1", "a/b", "1/0", "0/2/3"):
        with pytest.raises(UserError, match="^shard takes I/N"):
            parse_shard(bad)


def test_shards_partition_the_cells():
    suite = Suite(models=["bicubic", "tiny-edsr"], datasets=["demo"], alphas=[1, 2, 4, 8, 16])
    everything = cells(suite)
    for n in (1, 2, 3, 7, 20):
        parts = [shard_cells(everything, (i, n)) for i in range(n)]
        ids = [c.cell_id for part in parts for c in part]
        assert sorted(ids) == sorted(c.cell_id for c in everything) and len(set(ids)) == len(ids)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1  # balanced
        assert parts == [shard_cells(cells(suite), (i, n)) for i in range(n)]  # deterministic


def test_bad_shard_is_one_line_error(cli, tmp_path):
    result = cli("run", "--models", "bicubic", "--attack", "none", "--shard", "2/2", "--quiet", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("srbench: error:")]
    assert len(lines) == 1 and "--shard takes I/N" in lines[0]


def test_sharded_leaderboard_equals_unsharded(cli, tmp_path):
    suite = Suite(name="t", models=["bicubic", "tiny-edsr"], datasets=["demo"], alphas=[1.0, 4.0, 16.0],
                  attack={"name": "ifgsm", "steps": 3}, limit=2, device="cpu")
    run_suite(suite, tmp_path / "all", quiet=True)
    for i in range(2):
        run_suite(suite, tmp_path / f"s{i}", quiet=True, shard=(i, 2))
        run_suite(suite, tmp_path / "shared", quiet=True, shard=f"{i}/2")  # a SLURM array on a shared disk
    ids = [{p.stem for p in (tmp_path / f"s{i}" / "cells").glob("*.json")} for i in range(2)]
    assert len(ids[0]) == len(ids[1]) == 3 and not ids[0] & ids[1]
    whole = leaderboard([tmp_path / "all"])
    pd.testing.assert_frame_equal(whole, leaderboard([tmp_path / "s0", tmp_path / "s1"]), check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(whole, leaderboard([tmp_path / "shared"]), check_exact=False, rtol=1e-9)
    manifest = json.loads((tmp_path / "s1" / "manifest.json").read_text())
    assert manifest["shard"] == "1/2"
    # the CLI flag runs the same cells
    args = ["run", "--models", "bicubic,tiny-edsr", "--datasets", "demo", "--alpha", "1,4,16", "--steps", "3",
            "--limit", "2", "--attack", "ifgsm", "--shard", "1/2", "--out", "cli", "--quiet"]
    result = cli(*args, cwd=tmp_path, env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    assert {p.stem for p in (tmp_path / "cli" / "cells").glob("*.json")} == ids[1]
