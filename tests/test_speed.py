"""Speed options: validated, applied without changing the restorer interface, recorded in every row."""
import json

import pytest
import torch

from srbench.core.errors import UserError
from srbench.models import load_model
from srbench.bench.speed import SpeedOptions, SpeedRestorer, apply_speed
from srbench.bench.suite import suite_problems


@pytest.fixture(scope="module")
def model():
    return load_model("tiny-edsr", device="cpu")


def _out_and_grad(r, y):
    y = y.clone().requires_grad_(True)
    out = r.restore(y)
    (g,) = torch.autograd.grad(out.pow(2).mean(), y)
    return out.detach(), g


def test_validation():
    with pytest.raises(UserError, match="amp takes bf16"):
        SpeedOptions(amp="fp8")
    problems = " ".join(suite_problems({"amp": "fp8", "channels_last": "yes", "tf32": 1}))
    assert "amp must be bf16" in problems and "channels_last must be true or false" in problems
    assert "tf32 must be true or false" in problems
    assert suite_problems({"amp": "bf16", "channels_last": True, "tf32": False, "compile": False}) == []


def test_no_option_is_the_same_object(model):
    assert apply_speed(model, SpeedOptions()) is model
    assert apply_speed(model, SpeedOptions(tf32=True)) is model  # a backend flag only
    apply_speed(model, SpeedOptions(tf32=False))


def test_channels_last_is_exact_and_amp_is_close(model):
    y = torch.rand(2, 3, 12, 10, generator=torch.Generator().manual_seed(0))
    ref_out, ref_grad = _out_and_grad(model, y)
    fast = apply_speed(load_model("tiny-edsr", device="cpu"), SpeedOptions(channels_last=True))
    assert isinstance(fast, SpeedRestorer) and (fast.name, fast.scale, fast.stochastic) == ("tiny-edsr", 4, False)
    assert fast.weights_sha256 == model.weights_sha256 and fast.sample_z(y, 3) is None
    out, grad = _out_and_grad(fast, y)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-5)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-4, atol=1e-7)
    amp = apply_speed(load_model("tiny-edsr", device="cpu"), SpeedOptions(amp="bf16"))
    out, grad = _out_and_grad(amp, y)
    assert out.dtype == torch.float32 and grad.dtype == torch.float32
    assert (out - ref_out).abs().max() < 0.05  # bfloat16: close, not exact


def test_options_recorded_in_rows_and_manifest(cli, tmp_path):
    result = cli("run", "--models", "tiny-edsr", "--datasets", "demo", "--attack", "none", "--limit", "1",
                 "--channels-last", "--amp", "bf16", "--out", "run", "--quiet", cwd=tmp_path,
                 env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    row = json.loads(next((tmp_path / "run" / "cells").glob("*.json")).read_text())["rows"][0]
    expected = {"channels_last": True, "amp": "bf16", "tf32": False, "compile": False}
    assert row["speed_options"] == expected
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["speed_options"] == expected and manifest["suite"]["channels_last"] is True
    assert manifest["executor"] == "local" and manifest["shard"] is None


def test_inexact_numerics_get_their_own_cells_exact_options_do_not():
    """bf16/tf32 change results, so resuming with them must not mix rows with float32 cells."""
    from srbench.bench.suite import Suite, cells

    base = [c.cell_id for c in cells(Suite(models=["bicubic"], alphas=[1, 2]))]
    assert [c.cell_id for c in cells(Suite(models=["bicubic"], alphas=[1, 2], channels_last=True, compile=True))] == base
    for inexact in ({"amp": "bf16"}, {"tf32": True}):
        ids = [c.cell_id for c in cells(Suite(models=["bicubic"], alphas=[1, 2], **inexact))]
        assert not set(ids) & set(base)
    assert [c.cell_id for c in cells(Suite(models=["bicubic"], alphas=[1, 2], amp="none"))] == base
