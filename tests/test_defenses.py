"""Defenses as model wrappers (issue 17, item 3): specs, self-ensemble, BPDA, EoT, and the masking they hide."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from srbench.attacks import seed_averaged_grad
from srbench.models.defenses import bpda, parse_defense
from srbench.core.errors import UserError
from srbench.models import get_card, load_model, parse_model_spec, training_of
from srbench.core.restorer import repeat_seeds
from srbench.bench.suite import build_suite, suite_problems
from srbench.models.weights import sha256_of

from conftest import SHARED
from model_zoo.ldm_sr.cost import tensor_peak

IMDN_WEIGHTS = SHARED / "weights" / "IMDN_x4.pth"


def image(h: int = 12, w: int = 16, seed: int = 0) -> torch.Tensor:
    """A smooth random LR image (a bicubic upsampling of noise), so filters change it but not wholesale."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, h // 2, w // 2, generator=g)
    return torch.nn.functional.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def grad_of(restorer, y: torch.Tensor, target: torch.Tensor, z=None, through=None) -> torch.Tensor:
    """The attacks' gradient (srbench.attacks.seed_averaged_grad) of the MSE to target at y,
    of ``restorer`` or, with ``through``, of ``restorer(through(y))``."""
    if through is not None:
        restorer = Composed(restorer, through)
    grad, _ = seed_averaged_grad(restorer, y, target, z)
    return grad


class Composed:
    def __init__(self, restorer, through):
        self.restorer, self.through = restorer, through

    def restore(self, y, z=None):
        return self.restorer.restore(self.through(y), z)


# ----------------------------------------------------------------------------- specs


def test_spec_grammar_chains_left_to_right_and_records_each_defense():
    model = load_model("bicubic+jpeg75+median:k=5:adaptive=false", device="cpu")
    assert model.name == "bicubic+jpeg75+median5:adaptive=false"
    assert [d["defense"] for d in model.model_options["defenses"]] == ["jpeg", "median"]
    assert model.model_options["defenses"] == [
        {"defense": "jpeg", "adaptive": True, "q": 75, "backward": "identity", "gradient": "bpda", "random": False},
        {"defense": "median", "adaptive": False, "k": 5, "gradient": "exact", "random": False}]
    assert model.inner.defense.q == 75 and model.scale == 4 and not model.stochastic
    assert load_model("bicubic+smooth4:sigma=2", device="cpu").stochastic
    assert parse_defense("jpeg:q=75").token() == parse_defense("jpeg75").token() == "jpeg75"
    spec = parse_model_spec("file:ckpt/4x+v2.pth+jpeg75")  # a + inside the file name stays in the path
    assert (spec.path, spec.defenses, spec.display_name()) == ("ckpt/4x+v2.pth", ("jpeg75",), "4x+v2+jpeg75")


@pytest.mark.parametrize("spec, words", [
    ("imdn+jpg75", "unknown defense 'jpg'. Did you mean 'jpeg'?"),
    ("imdn+jpeg101", "quality q must be in 1..100, got 101"),
    ("imdn+median4", "window k must be odd and >= 3, got 4"),
    ("imdn+smooth8:sigmaa=2", "defense smooth has no option 'sigmaa'; it takes adaptive, n, sigma"),
    ("imdn+jpeg75:adaptive=maybe", "option adaptive must be true or false, got 'maybe'"),
    ("imdn+self-ensemble8", "defense self-ensemble takes no number after its name"),
    ("imdn+bits:b", "options are :KEY=VALUE, got 'b'"),
    ("imdn+jpeg75:backward=exact", "backward must be identity or surrogate, got 'exact'"),
    ("imdn+jpeg75:backward=surrogate:adaptive=false", "backward=surrogate is how an adaptive attack differentiates"),
])
def test_bad_defenses_are_one_line_errors_in_the_suite_and_the_loader(spec, words):
    problems = suite_problems({"models": [spec]})
    assert len(problems) == 1 and words in problems[0], problems
    with pytest.raises(UserError, match=words.split("'")[0]):
        load_model(spec, device="cpu")


def test_options_without_a_defense_say_where_they_belong():
    assert suite_problems({"models": ["imdn:adaptive=false"]}) == [
        "model 'imdn:adaptive=false': options (:KEY=VALUE) belong to a defense, e.g. imdn+jpeg75:adaptive=false"]
    assert "Did you mean 'imdn'?" in suite_problems({"models": ["imdm:adaptive=false"]})[0]  # a typo stays one


def test_defended_model_has_its_base_card_training_and_weights():
    assert get_card("imdn+jpeg75").name == "imdn" and training_of("swiftsrgan+self-ensemble") == "GAN"
    suite = build_suite({"models": ["imdn", "imdn+jpeg75"], "weights": {"imdn": "w.pth"}})
    assert suite.weights == {"imdn": "w.pth", "imdn+jpeg75": "w.pth"}  # the base's checkpoint
    assert suite_problems({"models": ["imdn+jpeg75"], "weights": {"imdn": "w.pth"}}) == []
    with pytest.raises(UserError, match="self-ensemble needs a deterministic model"):
        load_model("bicubic+smooth4+self-ensemble", device="cpu")


# ----------------------------------------------------------------------------- self-ensemble


def test_self_ensemble_of_an_equivariant_model_is_the_model():
    y = torch.rand(2, 3, 10, 14, generator=torch.Generator().manual_seed(1))  # not square: rotations swap h, w
    plain, ensemble = load_model("bicubic", device="cpu"), load_model("bicubic+self-ensemble", device="cpu")
    assert torch.allclose(ensemble.restore(y), plain.restore(y), atol=1e-6)
    tiny, tiny_ensemble = load_model("tiny-edsr", device="cpu"), load_model("tiny-edsr+self-ensemble", device="cpu")
    with torch.no_grad():  # a learned model is not equivariant: the ensemble is a different function
        assert (tiny_ensemble.restore(y) - tiny.restore(y)).abs().max() > 1e-3


def test_self_ensemble_gradient_is_the_mean_of_its_orientations_and_holds_one_pass_at_a_time():
    """Each orientation is checkpointed: the same gradient as eight kept graphs, without keeping them."""
    y = torch.rand(1, 3, 10, 14, generator=torch.Generator().manual_seed(3)).requires_grad_()
    tiny, ensemble = load_model("tiny-edsr", device="cpu"), load_model("tiny-edsr+self-ensemble", device="cpu")
    target = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(4))
    expected = torch.zeros_like(y)
    for k in range(4):
        for flip in (False, True):
            t = torch.rot90(y.flip(-1) if flip else y, k, (-2, -1))
            out = torch.rot90(tiny.restore(t), -k, (-2, -1))
            out = out.flip(-1) if flip else out
            expected += torch.autograd.grad((out * target).sum() / 8, y)[0]  # a linear loss: grads add up
    got = torch.autograd.grad((ensemble.restore(y) * target).sum(), y)[0]
    assert expected.abs().max() > 0 and torch.allclose(got, expected, atol=1e-6)
    one_pass = tensor_peak(tiny, y.detach(), target, None)  # the tensor bytes of one attack step
    assert one_pass > 0 and tensor_peak(ensemble, y.detach(), target, None) < 1.5 * one_pass  # eight graphs: ~8x


# ----------------------------------------------------------------------------- BPDA


@pytest.mark.parametrize("defense", ["jpeg50", "bits4"])
def test_bpda_gradient_is_the_models_gradient_at_the_transformed_input(defense):
    y = image()
    base, defended = load_model("bicubic", device="cpu"), load_model(f"bicubic+{defense}", device="cpu")
    target = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(2))
    transformed = parse_defense(defense).transform(y)
    assert (transformed - y).abs().max() > 1e-3  # the defense changes the input
    g = grad_of(defended, y, target)
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    assert torch.allclose(g, grad_of(base, transformed, target), atol=1e-7)  # identity backward, forward through


def test_jpeg_surrogate_follows_pils_jpeg_and_gives_bpda_its_gradient():
    """backward=surrogate: PIL's JPEG forward, the gradient of a torch JPEG (srbench/models/differentiable_jpeg.py)."""
    import io

    import numpy as np
    from PIL import Image, JpegImagePlugin

    from srbench.core.metrics import psnr
    from srbench.data import load_dataset
    from srbench.models.differentiable_jpeg import jpeg_like, quantization_table

    for q in (10, 50, 75, 95, 100):  # the tables PIL writes, and 4:2:0 chroma, its default
        buf = io.BytesIO()
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(buf, "JPEG", quality=q)
        written = Image.open(buf)
        assert [list(written.quantization[k]) for k in (0, 1)] == [
            quantization_table(q, chroma=c).flatten().int().tolist() for c in (False, True)]
        assert JpegImagePlugin.get_sampling(written) == 2

    photos = load_dataset("demo", 4)  # bundled; odd sizes pad to whole blocks and chroma pairs
    for pair in photos:
        y = pair.lr[None]
        for q in (30, 75):
            pil = parse_defense(f"jpeg{q}").transform(y)
            steps = jpeg_like(y, q, rounding=torch.round)
            assert psnr(steps, pil) > 36 and psnr(steps, pil) > psnr(y, pil) + 6, (pair.name, q)
            assert psnr(jpeg_like(y, q), pil) > psnr(y, pil) + 6  # the soft rounding too
    gray = photos[0].lr[None, :1]
    assert psnr(jpeg_like(gray, 75, rounding=torch.round), parse_defense("jpeg75").transform(gray)) > 36

    y, target = image(24, 30), torch.rand(1, 3, 96, 120, generator=torch.Generator().manual_seed(2))
    base = load_model("bicubic", device="cpu")
    surrogate, identity = (load_model(f"bicubic+jpeg75{o}", device="cpu") for o in (":backward=surrogate", ""))
    assert torch.equal(surrogate.restore(y), base.restore(parse_defense("jpeg75").transform(y)))  # PIL forward
    g = grad_of(surrogate, y, target)
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    at_pil = grad_of(base, parse_defense("jpeg75").transform(y), target)  # the model's gradient at its real input
    y_var = y.clone().requires_grad_(True)
    (jpeg_like(y_var, 75) * at_pil).sum().backward()  # ... carried back through the surrogate's Jacobian
    assert torch.allclose(g, y_var.grad, atol=1e-9)
    assert not torch.allclose(g, grad_of(identity, y, target), atol=1e-4)  # not the identity's gradient
    assert surrogate.model_options["defenses"][0]["gradient"] == "bpda-surrogate"


def test_bpda_through_the_median_filter_and_its_own_sub_gradient():
    y, target = image(), torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(2))
    median, base = parse_defense("median3"), load_model("bicubic", device="cpu")
    g_bpda = grad_of(base, y, target, through=lambda x: bpda(median.transform, x))
    assert torch.isfinite(g_bpda).all() and g_bpda.abs().sum() > 0
    assert torch.equal(g_bpda, grad_of(base, median.transform(y), target))  # the gradient at the filtered input
    exact = grad_of(load_model("bicubic+median3", device="cpu"), y, target)
    assert not torch.allclose(exact, g_bpda)  # the median's sparse sub-gradient ...
    assert torch.allclose(exact.sum(), g_bpda.sum(), rtol=1e-4)  # ... sends each pixel's gradient to one input
    as_implemented = grad_of(load_model("bicubic+median3:adaptive=false", device="cpu"), y, target)
    assert torch.equal(as_implemented, exact)  # differentiable: adaptive changes nothing


def test_without_adaptation_jpeg_and_bits_give_a_zero_gradient():
    y, target = image(), torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(2))
    for defense in ("jpeg50", "bits4"):
        g = grad_of(load_model(f"bicubic+{defense}:adaptive=false", device="cpu"), y, target)
        assert g.abs().max() == 0


# ----------------------------------------------------------------------------- EoT


def eot_gradients(spec: str, n_eot: int, repeats: int) -> torch.Tensor:
    """``repeats`` gradient estimates, each the mean over ``n_eot`` fresh draws of the defense's noise."""
    model = load_model(spec, device="cpu")
    y, target = image(8, 8), torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    out = []
    for r in range(repeats):
        z = model.sample_z(y, n_eot, torch.Generator().manual_seed(100 + r))
        out.append(grad_of(model, y, target, z) / n_eot)
    return torch.stack(out)


def test_eot_over_more_draws_gives_a_lower_variance_gradient():
    var_1 = eot_gradients("bicubic+smooth5:sigma=16", 1, 12).var(0).mean()
    var_8 = eot_gradients("bicubic+smooth5:sigma=16", 8, 12).var(0).mean()
    assert var_8 < var_1 / 3, (var_1, var_8)  # about 1/8 for independent draws
    # without adaptation only the first draw carries the gradient: averaging 8 draws no longer helps
    var_8_masked = eot_gradients("bicubic+smooth5:sigma=16:adaptive=false", 8, 12).var(0).mean() * 64
    assert var_8_masked > var_8 * 3, (var_8_masked, var_8)


def test_smoothing_is_a_pure_function_of_its_z():
    model, y = load_model("bicubic+smooth4", device="cpu"), image()
    z = model.sample_z(y, 3, torch.Generator().manual_seed(0))
    out = model.restore(repeat_seeds(y, 3), z)
    assert torch.equal(out, model.restore(repeat_seeds(y, 3), z))
    assert (out[0] - out[1]).abs().max() > 0  # different draws, different outputs
    z_again = model.sample_z(y, 3, torch.Generator().manual_seed(0))
    assert torch.equal(z["noise"], z_again["noise"])


# ----------------------------------------------------------------------------- a real model


@pytest.mark.skipif(not IMDN_WEIGHTS.is_file(), reason="../shared/weights is absent")
def test_ignoring_the_defense_reports_higher_robustness_on_imdn(cli, sr_benchmarks, tmp_path):
    out = tmp_path / "run"
    proc = cli("run", "--models", "imdn+jpeg75,imdn+jpeg75:adaptive=false,imdn+jpeg75:backward=surrogate",
               "--datasets", "set5", "--limit", "1",
               "--alpha", "8", "--steps", "3", "--device", "cpu", "--data-root", str(sr_benchmarks),
               "--weights", f"imdn={IMDN_WEIGHTS}", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    rows = {}
    for f in (out / "cells").glob("*.json"):
        for row in json.loads(f.read_text())["rows"]:
            rows[row["model"]] = row
    adaptive, ignoring = rows["imdn+jpeg75"], rows["imdn+jpeg75:adaptive=false"]
    assert adaptive["weights_sha256"] == ignoring["weights_sha256"] == sha256_of(IMDN_WEIGHTS)  # the base's file
    assert adaptive["model_options"]["defenses"][0]["gradient"] == "bpda"
    assert adaptive["psnr_y"] == ignoring["psnr_y"]  # the same defended model, clean
    assert math.isfinite(adaptive["adv_output_psnr"]) and adaptive["adv_output_psnr"] < 40  # BPDA moves the input,
    assert adaptive["adv_input_psnr_bound"] <= adaptive["adv_input_psnr"] < 40  # within its budget
    # JPEG's gradient as implemented is zero: the attack never moves, and the defense looks perfect
    assert ignoring["adv_output_psnr"] == ignoring["adv_input_psnr"] == float("inf")
    # BPDA through the differentiable JPEG attacks harder than the identity (the study: 3.5-6 dB on Set5)
    surrogate = rows["imdn+jpeg75:backward=surrogate"]
    assert surrogate["psnr_y"] == adaptive["psnr_y"] and surrogate["adv_input_psnr_bound"] <= surrogate["adv_input_psnr"]
    assert surrogate["adv_output_psnr"] < adaptive["adv_output_psnr"] - 0.5


def test_the_worst_case_of_a_defense_takes_its_gradient_options_as_attacks(tmp_path):
    """adaptive=false and backward=surrogate change the attack's gradient, not the defended model's outputs:
    the leaderboard's worst case of imdn+jpeg75 is the per-image minimum over all three rows' attacks."""
    from srbench.bench.store import RunStore
    from srbench.report.leaderboard import WORST_CASE, leaderboard

    psnr = {"imdn+jpeg75": [30.0, 20.0], "imdn+jpeg75:backward=surrogate": [25.0, 22.0],
            "imdn+jpeg75:adaptive=false": [float("inf")] * 2, "imdn": [18.0, 17.0]}
    store = RunStore(tmp_path / "run")
    for model, values in psnr.items():
        rows = [{"model": model, "dataset": "set5", "scale": 4, "attack": "ifgsm", "alpha": 8.0, "budget": 8.0,
                 "attack_options": {"alpha": 8.0, "steps": 50}, "image": image, "adv_output_psnr": value,
                 "psnr_y": 27.8, "time": "2026-12-02T00:00:00Z"} for image, value in zip(("baby", "bird"), values)]
        store.write_cell(f"{model}__set5", {"model": model}, rows)
    table = leaderboard([tmp_path / "run"])
    worst = table[table["attack"] == WORST_CASE]
    assert worst["model"].tolist() == ["imdn+jpeg75"]  # the undefended model has one attack: no worst case
    (row,) = worst.to_dict("records")
    assert row["worst_adv_output_psnr"] == pytest.approx((25.0 + 20.0) / 2) and row["n_images"] == 2
    assert row["wins"] == "ifgsm: 1; ifgsm [jpeg75:adaptive=false]: 0; ifgsm [jpeg75:backward=surrogate]: 1"
    assert len(table[table["attack"] == "ifgsm"]) == 4  # each model keeps its own row
