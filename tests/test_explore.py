"""Farthest-point exploration on the small trained SR model (tiny-edsr)."""
import json
import math

import pytest
import torch

import srbench
from srbench.data import load_dataset
from srbench.data.images import write_image
from srbench.experiments.explore import explore, pairwise_rmse, write_exploration
from srbench.core.restorer import Restorer


@pytest.fixture(scope="module")
def tiny():
    return srbench.load_model("tiny-edsr", device="cpu")


@pytest.fixture(scope="module")
def y():
    return load_dataset("demo", 4)[0].lr[:, 16:40, 16:40]


@pytest.fixture(scope="module")
def result(tiny, y):
    return explore(tiny, y, n=5, min_input_psnr=30, steps=15, seed=0)


def test_every_sample_respects_the_input_psnr_budget(result, y):
    assert result.mode == "perturbation" and result.samples.shape == (5, 3, 96, 96)
    assert result.input_psnr[0] == math.inf
    assert all(p >= 30 - 1e-3 for p in result.input_psnr[1:])
    d = (result.inputs[1:] - y[None]).flatten(1).norm(dim=1)
    assert (d <= result.eps * (1 + 1e-5)).all()
    assert result.inputs.min() >= 0 and result.inputs.max() <= 1


def test_samples_are_farther_apart_than_random_perturbations_of_the_same_budget(result):
    s, r = result.stats, result.random_stats
    assert all(p >= 30 - 1e-3 for p in result.random_input_psnr)
    # the closest explored pair is farther apart than the *average* random pair
    assert s["pairwise_rmse_min"] > r["pairwise_rmse_mean"]
    assert s["pixel_std"] > r["pixel_std"]
    assert torch.allclose(pairwise_rmse(result.samples), pairwise_rmse(result.samples).T)


def test_contact_sheet_samples_and_summary_are_written(result, y, tmp_path):
    summary = write_exploration(result, y, tmp_path)
    assert (tmp_path / "contact_sheet.png").stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.glob("sample_*.png")) == [f"sample_{k:02d}.png" for k in range(5)]
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["farther_than_random"] is True == summary["farther_than_random"]
    assert len(on_disk["consistency_psnr"]) == 5 and on_disk["stats"]["pixel_std"] > 0


class NoisyUp(Restorer):
    name, scale, stochastic = "noisy-up", 2, True

    def restore(self, y, z=None):
        out = torch.nn.functional.interpolate(y, scale_factor=2, mode="nearest")
        return out if z is None else (out + 0.05 * z).clamp(0, 1)

    def sample_z(self, y, n=1, generator=None):
        b, c, h, w = y.shape
        return torch.randn(n * b, c, 2 * h, 2 * w, generator=generator)


def test_a_stochastic_model_samples_its_seeds(y):
    r = explore(NoisyUp(), y, n=4, seed=1)
    assert r.mode == "seeds" and r.random_stats is None and r.samples.shape[0] == 4
    assert all(p == math.inf for p in r.input_psnr)
    assert r.stats["pixel_std"] > 0.03


def test_cli_explore(tmp_path, y, cli):
    img = tmp_path / "lr.png"
    write_image(y, img)
    out = tmp_path / "out"
    res = cli("explore", "--model", "tiny-edsr", "--image", str(img), "--n", "3", "--min-input-psnr", "35",
              "--steps", "5", "--device", "cpu", "--output", str(out))
    assert res.returncode == 0, res.stderr
    assert "contact sheet" in res.stdout and (out / "contact_sheet.png").is_file()
    bad = cli("explore", "--model", "tiny-edsr", "--image", str(tmp_path / "nope.png"), "--device", "cpu")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "does not exist" in bad.stderr
