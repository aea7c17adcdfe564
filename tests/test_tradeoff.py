"""The tradeoff experiment end to end on a tiny config, the noisy datasets, and `srbench plot tradeoff`."""
import pandas as pd
import pytest

from srbench.data import load_dataset
from srbench.data.noisy import with_noise
from srbench.core.metrics import psnr
from srbench.cli import main


def test_noisy_datasets_add_seeded_gaussian_noise_to_the_measurement_only():
    clean, noisy = load_dataset("demo", 4, limit=2), load_dataset("demo-noisy", 4, limit=2)
    for c, n in zip(clean, noisy):
        assert (c.hr == n.hr).all() and c.lr.shape == n.lr.shape
        assert 27.5 < psnr(c.lr, n.lr) < 29.5  # sigma 10/255 -> about 28.1 dB before clipping
        assert ((n.lr * 255).round() == n.lr * 255).all()  # stored as 8 bits
    again = with_noise(clean, 10.0)
    assert all((a.lr == b.lr).all() for a, b in zip(again, noisy))
    assert all((a.lr == c.lr).all() for a, c in zip(with_noise(clean, 0.0), clean))


@pytest.fixture(scope="module")
def tradeoff_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tradeoff")
    rc = main(["tradeoff", "--models", "bicubic,tiny-edsr", "--datasets", "demo,demo-noisy", "--limit", "1", "--alphas", "2",
               "--ifgsm-steps", "1", "--adam-steps", "1", "--patch", "32", "--out", str(out), "--quiet"])
    assert rc == 0
    return out


def test_tradeoff_writes_one_row_per_model_and_degradation(tradeoff_dir):
    s = pd.read_csv(tradeoff_dir / "summary.csv")
    assert sorted(zip(s["model"], s["dataset"])) == [("bicubic", "demo"), ("bicubic", "demo-noisy"),
                                                     ("tiny-edsr", "demo"), ("tiny-edsr", "demo-noisy")]
    assert (s["k_max"] >= s["k_mean"]).all() and (s["k_mean"] > 0).all()
    assert (s["jfid"] > 0).all() and s["robustness"].notna().all()
    assert set(s["noise_sigma"]) == {0.0, 10.0}
    for name in ("README.md", "lipschitz.csv", "perceptual.csv", "leaderboard.md", "tradeoff.png"):
        assert (tradeoff_dir / name).is_file(), name
    assert "lipschitz_k" in (tradeoff_dir / "leaderboard.md").read_text()
    assert "srbench tradeoff --models bicubic,tiny-edsr" in (tradeoff_dir / "README.md").read_text()


def test_plot_tradeoff_cli(tradeoff_dir, tmp_path, cli):
    res = cli("plot", "tradeoff", str(tradeoff_dir), "-o", str(tmp_path / "t.png"), "--y", "logk")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "t.png").stat().st_size > 1000
    bad = cli("plot", "tradeoff", str(tmp_path / "nowhere"), "-o", str(tmp_path / "u.png"))
    assert bad.returncode == 2 and "summary.csv" in bad.stderr and bad.stderr.count("\n") == 1
