"""Seed-averaged I-FGSM through the runner on a tiny SRFlow (issue 3, acceptance 4)."""
import math

import pytest
import torch

import srbench
from model_zoo.srflow.random_weights import random_srflow
from srbench.attacks import make_attack
from srbench.report.leaderboard import aggregate, load_rows
from srbench.bench.runner import run_suite
from srbench.bench.suite import build_suite


def tiny_srflow():
    """A tiny SRFlow with random, well-conditioned weights (procedure B of shared/srflow)."""
    return random_srflow(scale=4, nf=8, nb=2, gc=4, taps=(0, 1), K=2, hidden=8)


@pytest.fixture
def registered():
    srbench.register_model("srflow-tiny", build=tiny_srflow, scale=4, stochastic=True, overwrite=True)
    yield "srflow-tiny"
    srbench.models.MODELS.unregister("srflow-tiny")


def _suite(root):
    attack = {"name": "ifgsm", "steps": 3, "n_eot": 4, "z_chunk": 2}
    return build_suite({"name": "t", "models": ["srflow-tiny"], "datasets": ["set5"], "data_root": str(root),
                        "limit": 2, "alphas": [2, 8], "attack": attack, "diversity_samples": 4, "device": "cpu"})


def test_seed_averaged_run_has_stochastic_columns(registered, sr_benchmarks, tmp_path):
    """Two Set5 images, 4 seeds per step in chunks of 2 (chunking itself: the test below)."""
    run_suite(_suite(sr_benchmarks), tmp_path / "a", quiet=True)
    rows = load_rows([tmp_path / "a"])
    assert len(rows) == 4 and (rows["n_seeds"] == 4).all()
    for _, r in rows.iterrows():
        assert r["linf"] <= r["alpha"] / 255 + 1e-6
        assert r["adv_input_psnr"] >= 20 * math.log10(255 / r["alpha"]) - 0.01
        assert r["diversity_std"] > 0
        assert math.isfinite(r["adv_output_psnr_fresh"]) and math.isfinite(r["adv_output_psnr"])
    table = aggregate(rows)
    for col in ("adv_output_psnr", "adv_output_psnr_fresh", "diversity_std", "psnr_y"):
        assert table[col].notna().all(), col


def test_z_chunk_gives_the_same_attacked_input(registered):
    model = srbench.load_model("srflow-tiny", device="cpu")
    y = torch.rand(2, 3, 10, 12, generator=torch.Generator().manual_seed(3))
    target = torch.rand(2, 3, 40, 48, generator=torch.Generator().manual_seed(4))
    z = srbench.core.restorer.merge_z([model.sample_z(y[i:i + 1], 6, torch.Generator().manual_seed(i)) for i in range(2)], 6)
    full, _ = make_attack("ifgsm", alpha=8, steps=4)(model, y, target=target, z=z)
    for chunk in (1, 2, 4):
        chunked, _ = make_attack("ifgsm", alpha=8, steps=4, z_chunk=chunk)(model, y, target=target, z=z)
        assert (chunked - full).abs().max() <= 1e-6


def test_same_z_same_output_and_seed_reproducibility(registered):
    model = srbench.load_model("srflow-tiny", device="cpu")
    y = torch.rand(1, 3, 8, 8)
    z1 = model.sample_z(y, 3, torch.Generator().manual_seed(0))
    z2 = model.sample_z(y, 3, torch.Generator().manual_seed(0))
    out = model.restore(y.repeat(3, 1, 1, 1), z1)
    assert torch.equal(out, model.restore(y.repeat(3, 1, 1, 1), z2))
    assert (out[0] - out[1]).abs().max() > 1e-3
