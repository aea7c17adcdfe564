"""Acceptance: bicubic through `srbench run` reproduces the published SR baseline table."""
import io

import pandas as pd
import pytest

# ../shared/data/sr-benchmarks/README.md, "Verified reference numbers (bicubic baseline)"
PUBLISHED = {
    2: {"set5": (33.66, 0.9299), "set14": (30.24, 0.8688), "bsd100": (29.56, 0.8431)},
    3: {"set5": (30.39, 0.8682), "set14": (27.55, 0.7742), "bsd100": (27.21, 0.7385)},
    4: {"set5": (28.42, 0.8104), "set14": (26.00, 0.7027), "bsd100": (25.96, 0.6675)},
}


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_reproduces_published_numbers(scale, sr_benchmarks, cli, tmp_path):
    # the published bicubic rows score Set14's gray `bridge` on raw gray values: the MATLAB convention
    run = cli("run", "--models", "bicubic", "--attack", "none", "--datasets", "set5,set14,bsd100",
              "--scale", str(scale), "--data-root", str(sr_benchmarks), "--gray-convention", "matlab",
              "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    board = cli("leaderboard", "--format", "csv", cwd=tmp_path)
    assert board.returncode == 0, board.stderr
    table = pd.read_csv(io.StringIO(board.stdout)).set_index("dataset")
    for dataset, (psnr_y, ssim_y) in PUBLISHED[scale].items():
        row = table.loc[dataset]
        assert row["n_images"] == {"set5": 5, "set14": 14, "bsd100": 100}[dataset]
        assert abs(row["psnr_y"] - psnr_y) <= 0.02, (dataset, row["psnr_y"])
        assert abs(row["ssim_y"] - ssim_y) <= 0.002, (dataset, row["ssim_y"])
