"""The offline quickstart end to end: run -> leaderboard -> figure, and what each row records."""
import io
import json
import math

import pandas as pd
import pytest

import srbench
from srbench.report.leaderboard import leaderboard


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    from conftest import run_cli

    cwd = tmp_path_factory.mktemp("qs")
    result = run_cli("run", "--quiet", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return cwd


def test_quickstart_leaderboard_and_fig7(quickstart, cli):
    board = cli("leaderboard", "--format", "csv", cwd=quickstart)
    assert board.returncode == 0, board.stderr
    table = pd.read_csv(io.StringIO(board.stdout))
    for col in ["model", "dataset", "scale", "attack", "alpha", "n_images", "psnr_y", "ssim_y", "psnr_rgb",
                "adv_output_psnr", "adv_input_psnr", "adv_psnr_hr"]:
        assert col in table.columns
    assert set(table["model"]) == {"bicubic", "tiny-edsr"}
    assert sorted(table["alpha"].unique()) == [1, 4, 16]
    assert (table["n_images"] == 4).all()
    # the trained model beats bicubic on clean images
    clean = table.groupby("model")["psnr_y"].first()
    assert clean["tiny-edsr"] > clean["bicubic"] + 0.3
    for _, rows in table.groupby("model"):
        rows = rows.sort_values("alpha")
        assert rows["adv_output_psnr"].is_monotonic_decreasing
        assert (rows["adv_input_psnr"] >= 20 * (255 / rows["alpha"]).map(math.log10) - 0.01).all()
    md = cli("leaderboard", "--format", "md", cwd=quickstart)
    assert "| model" in md.stdout
    fig = cli("plot", "fig7", "--output", "fig.png", cwd=quickstart)
    assert fig.returncode == 0, fig.stderr
    assert (quickstart / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rows_carry_provenance(quickstart):
    cell = next((quickstart / "results/runs/quickstart/cells").glob("tiny-edsr*.json"))
    row = json.loads(cell.read_text())["rows"][0]
    for key in ("model", "weights_sha256", "dataset", "image", "scale", "attack", "alpha", "attack_options",
                "seed", "srbench_version", "torch_version", "device", "time"):
        assert row.get(key) is not None, key
    assert row["attack_options"]["steps"] == 50 and row["weights_sha256"] == srbench.models.weights.sha256_of(
        srbench.models.card.resolve_weights(srbench.get_card("tiny-edsr")))
    manifest = json.loads((quickstart / "results/runs/quickstart/manifest.json").read_text())
    assert manifest["suite"]["name"] == "quickstart" and manifest["weights_sha256"]["tiny-edsr"]


def test_leaderboard_is_mean_over_images(quickstart):
    table = leaderboard([quickstart / "results/runs/quickstart"])
    rows = [json.loads(p.read_text())["rows"] for p in (quickstart / "results/runs/quickstart/cells").glob("bicubic*_4__*.json")]
    expected = sum(r["adv_output_psnr"] for r in rows[0]) / len(rows[0])
    got = table[(table.model == "bicubic") & (table.alpha == 4)]["adv_output_psnr"].item()
    assert got == pytest.approx(expected)


def test_same_seed_same_rows(tmp_path, cli):
    args = ["run", "--models", "tiny-edsr", "--datasets", "demo", "--alpha", "4", "--steps", "5", "--limit", "1",
            "--init", "uniform", "--target", "clean", "--quiet"]
    for out in ("a", "b"):
        assert cli(*args, "--out", out, cwd=tmp_path).returncode == 0
    rows = [json.loads(next((tmp_path / out / "cells").glob("*.json")).read_text())["rows"][0] for out in "ab"]
    for key in ("adv_output_psnr", "adv_input_psnr", "l2", "loss_trace"):
        assert rows[0][key] == rows[1][key]


def test_figures_keep_the_papers_dataset_order_and_one_colour_per_model():
    from srbench.report.plots import dataset_order, model_styles
    assert dataset_order(["bsd100", "demo", "set5", "set14", "set5", "div2k"]) == [
        "set5", "set14", "bsd100", "demo", "div2k"]
    styles = model_styles(["rlfn", "imdn", "craft", "imdn"])
    assert [styles[m]["color"] for m in ("craft", "imdn", "rlfn")] == ["C0", "C1", "C2"]
    many = model_styles([f"m{i:02d}" for i in range(12)])
    assert many["m10"] != many["m00"] and many["m10"]["color"] == many["m00"]["color"]  # a dash tells them apart
