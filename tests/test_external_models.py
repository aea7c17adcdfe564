"""Any checkpoint through spandrel: file:/hf: specs, detection, safety, and the full pipeline."""
from __future__ import annotations

import argparse
import json
import math

import pytest
import torch

spandrel = pytest.importorskip("spandrel")

import srbench  # noqa: E402
import srbench.report.leaderboard  # noqa: E402
from srbench.core.errors import UserError  # noqa: E402
from srbench.models import parse_model_spec  # noqa: E402
from srbench.bench.suite import build_suite, normalize_models, suite_problems  # noqa: E402
from srbench.models.weights import sha256_of  # noqa: E402


def _compact(scale=4, channels=3, feat=8):
    from spandrel.architectures.Compact import Compact

    return Compact(num_in_ch=channels, num_out_ch=channels, num_feat=feat, num_conv=2, upscale=scale)


def _esrgan(scale=4):
    from spandrel.architectures.ESRGAN import ESRGAN

    return ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=scale)


def _span(scale=2):
    from spandrel.architectures.SPAN import SPAN

    return SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=scale)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """Tiny checkpoints of three architectures spandrel detects, as .pth and .safetensors."""
    from safetensors.torch import save_file

    d = tmp_path_factory.mktemp("ckpts")
    torch.manual_seed(0)
    torch.save(_compact().state_dict(), d / "4x-compact.pth")
    save_file(_esrgan().state_dict(), str(d / "4x-esrgan.safetensors"))
    torch.save({"params_ema": _span().state_dict()}, d / "2x-span.pth")  # BasicSR-style container
    return d


@pytest.mark.parametrize("file, arch, scale", [("4x-compact.pth", "RealESRGAN Compact", 4),
                                               ("4x-esrgan.safetensors", "ESRGAN", 4),
                                               ("2x-span.pth", "SPAN", 2)])
def test_detects_architecture_and_scale(ckpts, file, arch, scale):
    spec = f"file:{ckpts / file}"
    card = srbench.get_card(spec)
    assert (card.name, card.scale, card.stochastic) == (file.split(".")[0], scale, False)
    model = srbench.load_model(spec, device="cpu", scale=scale)
    assert (model.name, model.scale, model.arch, model.stochastic) == (file.split(".")[0], scale, arch, False)
    assert model.weights_sha256 == sha256_of(ckpts / file)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    y = torch.rand(2, 3, 7, 9, requires_grad=True)  # odd sizes: padding is undone
    out = model.restore(y)
    assert out.shape == (2, 3, 7 * scale, 9 * scale) and 0 <= out.min() and out.max() <= 1
    (grad,) = torch.autograd.grad(out.square().sum(), y)  # differentiable, unlike spandrel's __call__
    assert grad.abs().sum() > 0
    assert torch.equal(model.restore(y.detach()), model.restore(y.detach()))


def test_restore_matches_spandrel(ckpts):
    model = srbench.load_model(f"file:{ckpts / '4x-esrgan.safetensors'}", device="cpu")
    desc = spandrel.ModelLoader().load_from_file(ckpts / "4x-esrgan.safetensors")
    y = torch.rand(1, 3, 5, 6)
    torch.testing.assert_close(model.restore(y), desc(y), atol=1e-5, rtol=0)


def test_compact_with_zero_residual_is_nearest_upsampling(tmp_path):
    net = _compact(scale=4)
    last = net.body[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    torch.save(net.state_dict(), tmp_path / "nearest.pth")
    model = srbench.load_model(f"file:{tmp_path / 'nearest.pth'}", device="cpu")
    y = torch.rand(1, 3, 6, 5)
    torch.testing.assert_close(model.restore(y), torch.nn.functional.interpolate(y, scale_factor=4, mode="nearest"))


def test_naming_rule_and_normalised_suite(ckpts):
    assert parse_model_spec("file:ckpt/4x-model.pth").display_name() == "4x-model"
    assert parse_model_spec("hf:org/repo/sub/4x-Model.v2.safetensors@v1").display_name() == "4x-Model.v2"
    assert parse_model_spec("bicubic").display_name() == "bicubic" and not parse_model_spec("bicubic").is_checkpoint
    raw = normalize_models({"name": "file:a/4x-compact.pth_ifgsm",
                            "models": [f"file:{ckpts / '4x-compact.pth'}", "bicubic",
                                       f"file:{ckpts / '4x-esrgan.safetensors'}"]})
    assert raw["models"] == ["4x-compact", "bicubic", "4x-esrgan"]
    assert raw["model_specs"]["4x-compact"] == f"file:{(ckpts / '4x-compact.pth').resolve()}"
    assert "weights" not in raw  # weights holds checkpoint files of registered models only
    assert "/" not in raw["name"] and ":" not in raw["name"]
    # a normalised suite (as recorded in a manifest) validates and builds again
    assert suite_problems(raw) == [] and build_suite(raw).models == raw["models"]
    # a file named like a registered model keeps its spec as the name
    spec = f"file:{ckpts / 'tiny-edsr.pth'}"
    assert normalize_models({"models": [spec]})["models"] == [spec]


def test_full_pipeline_cli(ckpts, tmp_path, cli):
    """run -> cells named after the files -> leaderboard, for .pth and .safetensors at x4 and SPAN at x2."""
    common = ["--datasets", "demo", "--limit", "1", "--alpha", "2", "--steps", "2", "--quiet"]
    res = cli("run", "--models", f"file:{ckpts / '4x-compact.pth'},file:{ckpts / '4x-esrgan.safetensors'}",
              *common, "--out", "x4", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = cli("run", "--models", f"file:{ckpts / '2x-span.pth'}", "--scale", "2", *common, "--out", "x2", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    table = srbench.report.leaderboard.leaderboard([tmp_path / "x4", tmp_path / "x2"])
    assert sorted(table["model"]) == ["2x-span", "4x-compact", "4x-esrgan"]
    assert table.set_index("model")["scale"].to_dict() == {"2x-span": 2, "4x-compact": 4, "4x-esrgan": 4}
    assert (table["alpha"] == 2).all() and table["adv_output_psnr"].notna().all()
    assert (table["adv_input_psnr"] >= 20 * math.log10(255 / 2) - 0.01).all()
    manifest = json.loads((tmp_path / "x4/manifest.json").read_text())
    assert manifest["suite"]["models"] == ["4x-compact", "4x-esrgan"]
    assert manifest["suite"]["model_specs"]["4x-esrgan"] == f"file:{(ckpts / '4x-esrgan.safetensors').resolve()}"
    assert manifest["suite"]["weights"] == {}
    row = json.loads(next((tmp_path / "x4/cells").glob("4x-esrgan__*.json")).read_text())["rows"][0]
    assert row["model"] == "4x-esrgan" and row["weights_sha256"] == sha256_of(ckpts / "4x-esrgan.safetensors")


def test_wrong_scale_names_the_right_one(ckpts):
    from srbench.bench.suite import build_suite

    suite = build_suite({"models": [f"file:{ckpts / '2x-span.pth'}"], "scale": 4})
    with pytest.raises(UserError, match=r"'2x-span' supports x2, not x4; use scale 2 or another model"):
        srbench.load_model(suite.model_spec(suite.models[0]), device="cpu", scale=suite.scale)


def test_unsafe_pickle_is_refused(tmp_path):
    path = tmp_path / "4x-pickled.pth"
    torch.save({"args": argparse.Namespace(lr=1), "params": _compact().state_dict()}, path)
    with pytest.raises(UserError, match="refusing to load 4x-pickled.pth.*weights_only=True"):
        srbench.load_model(f"file:{path}", device="cpu")


def test_broken_checkpoint_files_are_told_apart(tmp_path):
    """Missing, a folder, garbage, empty and truncated files: each one line that says which."""
    from srbench.models.weights import load_checkpoint_file

    good = tmp_path / "4x-good.pth"
    torch.save(_compact().state_dict(), good)
    assert set(load_checkpoint_file(good)) == set(_compact().state_dict())
    (tmp_path / "garbage.pt").write_text("not a checkpoint")
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "cut.pth").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases = {"missing.pt": "No such file", ".": "Is a directory", "garbage.pt": "not a PyTorch or safetensors",
             "empty.pt": "not a PyTorch or safetensors", "cut.pth": "or a truncated one"}
    for name, message in cases.items():
        with pytest.raises(UserError, match=message):
            load_checkpoint_file(tmp_path / name)


@pytest.mark.parametrize("make, message", [
    (lambda: {"foo.weight": torch.zeros(3, 3)}, "does not recognise this architecture"),
    (lambda: _compact(scale=1).state_dict(), "not super-resolution"),
    (lambda: _compact(scale=2, channels=1).state_dict(), "1 input and 1 output channels"),
])
def test_unusable_models_get_clear_messages(tmp_path, make, message):
    torch.save(make(), tmp_path / "m.pth")
    with pytest.raises(UserError, match=message):
        srbench.load_model(f"file:{tmp_path / 'm.pth'}", device="cpu")


def test_spec_problems_in_validation(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"x")
    problems = suite_problems({"models": [f"file:{tmp_path / 'missing.pth'}", f"file:{tmp_path / 'model.onnx'}",
                                          "hf:only-org"]})
    assert len(problems) == 3
    assert "no such file" in problems[0] and "unsupported file type .onnx" in problems[1]
    assert "hf:ORG/REPO/FILE" in problems[2]


def test_hf_spec_offline_is_one_line():
    # conftest sets HF_HUB_OFFLINE=1
    with pytest.raises(UserError) as info:
        srbench.load_model("hf:nobody/nothing/4x-model.pth", device="cpu")
    assert "\n" not in str(info.value) and "file:PATH" in str(info.value)


def test_hf_spec_downloads_into_the_srbench_cache(ckpts, monkeypatch):
    import huggingface_hub

    from srbench.models.weights import cache_dir

    calls = []

    def fake_download(repo_id, filename, revision=None, cache_dir=None, **_):
        calls.append((repo_id, filename, revision, cache_dir))
        return str(ckpts / "4x-compact.pth")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    model = srbench.load_model("hf:org/repo/weights/4x-compact.pth@v1", device="cpu")
    assert model.name == "4x-compact" and model.scale == 4
    assert calls == [("org/repo", "weights/4x-compact.pth", "v1", str(cache_dir() / "hf"))]


def test_paths_in_a_suite_file_are_relative_to_the_file(ckpts, tmp_path, cli):
    """A suite that sits next to its checkpoint runs from any working directory."""
    from srbench.bench.suite import anchor_paths, read_suite_file

    suite = ckpts / "local.yaml"
    suite.write_text("name: local\nmodels: [file:4x-compact.pth, bicubic]\ndatasets: [demo]\nlimit: 1\n"
                     "attack: {name: ifgsm, steps: 2}\nalphas: [2]\n")
    raw = read_suite_file(str(suite))
    assert raw["models"] == [f"file:{ckpts / '4x-compact.pth'}", "bicubic"]
    anchored = anchor_paths({"models": "file:/abs/m.pth,hf:o/r/m.pth",
                             "weights": {"a": "w.pth", "b": "/abs/w.pth", "c": "https://host/w.pth"},
                             "model_specs": {"d": "hf:o/r/w.pth", "e": "file:sub/w.pth"}}, tmp_path)
    assert anchored["models"] == ["file:/abs/m.pth", "hf:o/r/m.pth"]
    assert anchored["weights"] == {"a": str(tmp_path / "w.pth"), "b": "/abs/w.pth", "c": "https://host/w.pth"}
    assert anchored["model_specs"] == {"d": "hf:o/r/w.pth", "e": f"file:{tmp_path / 'sub/w.pth'}"}
    res = cli("run", str(suite), "--out", "out", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert manifest["suite"]["model_specs"]["4x-compact"] == f"file:{(ckpts / '4x-compact.pth').resolve()}"


def test_weights_hold_checkpoints_of_registered_models_only(ckpts):
    """A suite's weights means one thing: a checkpoint file of a registered model. A checkpoint that is a whole
    model goes in models (or model_specs, to choose its name)."""
    spec = f"file:{ckpts / '4x-compact.pth'}"
    problems = suite_problems({"models": ["mine"], "weights": {"mine": spec}})
    assert any("is a model spec" in p and "model_specs" in p for p in problems), problems
    suite = build_suite({"models": ["mine", "bicubic"], "model_specs": {"mine": spec}, "datasets": ["demo"]})
    assert suite.models == ["mine", "bicubic"] and suite.weights == {}
    assert suite.model_spec("mine") == f"file:{(ckpts / '4x-compact.pth').resolve()}"
    assert suite.model_spec("bicubic") == "bicubic"
    model = srbench.load_model(suite.model_spec("mine"), device="cpu")
    assert model.weights_sha256 == sha256_of(ckpts / "4x-compact.pth") and model.arch == "RealESRGAN Compact"
    with pytest.raises(UserError, match="is a checkpoint itself"):
        srbench.load_model(spec, weights=ckpts / "4x-compact.pth")
    assert "not a model of this run" in " ".join(suite_problems({"models": ["bicubic"], "model_specs": {"x": spec}}))
