"""Latent-diffusion SR (model_zoo/ldm_sr) as a restorer: seeds, the differentiable chain, its memory, attacks.

Tiny random-weight models of the real diffusers classes (UNet2DModel,
VQModel, DDIMScheduler; model_zoo/ldm_sr/random_weights.py), on CPU.
"""
import json
import subprocess
import sys

import pytest
import torch

pytest.importorskip("diffusers")

from model_zoo.ldm_sr.cost import tensor_peak  # noqa: E402
from model_zoo.ldm_sr.model import ldm_sr  # noqa: E402
from model_zoo.ldm_sr.random_weights import TINY, random_ldm_sr, write_folder  # noqa: E402
from srbench.attacks import make_attack  # noqa: E402
from srbench.core.errors import UserError  # noqa: E402
from srbench.core.restorer import chunked_restore, repeat_seeds, slice_z  # noqa: E402


def images(b=2, side=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, side, side, generator=g), torch.rand(b, 3, 4 * side, 4 * side, generator=g)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("ldm") / "tiny-ldm-sr", TINY, seed=3)


def test_sample_z_holds_the_initial_latent_and_the_step_noises_only_when_eta_is_positive():
    y = torch.rand(2, 3, 13, 15)  # odd sizes: latents at the LR size padded to the UNet's multiple (2)
    ddim = random_ldm_sr(steps=3, eta=0.0)
    z = ddim.sample_z(y, 4, torch.Generator().manual_seed(1))
    assert {k: tuple(v.shape) for k, v in z.items()} == {"latent": (8, 3, 14, 16)}
    noisy = random_ldm_sr(steps=3, eta=1.0)
    z1 = noisy.sample_z(y, 4, torch.Generator().manual_seed(1))
    z2 = noisy.sample_z(y, 4, torch.Generator().manual_seed(1))
    assert {k: tuple(v.shape) for k, v in z1.items()} == {"latent": (8, 3, 14, 16), "noise": (8, 3, 3, 14, 16)}
    assert all(torch.equal(z1[k], z2[k]) for k in z1)  # a seed is a z
    assert torch.equal(z1["latent"], z["latent"])  # the latent is drawn first, the noises after it
    out = noisy.restore(repeat_seeds(y, 4), z1)
    assert out.shape == (8, 3, 52, 60) and 0 <= out.min() and out.max() <= 1


@pytest.mark.parametrize("eta", [0.0, 0.7])
def test_same_z_same_output_and_every_part_of_z_matters(eta):
    model = random_ldm_sr(steps=4, eta=eta)
    y, _ = images()
    z = model.sample_z(y, 1, torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model.restore(y, z)
        assert torch.equal(model.restore(y, z), out)
        other = model.sample_z(y, 1, torch.Generator().manual_seed(1))
        for key in z:  # change one part of z at a time
            changed = model.restore(y, {**z, key: other[key]})
            assert (changed - out).abs().mean() > 1e-3, key


def test_seeds_batched_and_chunked_give_the_per_image_outputs():
    model = random_ldm_sr(steps=3, eta=0.5)
    y, _ = images(b=2)
    n = 3
    z = model.sample_z(y, n, torch.Generator().manual_seed(5))
    with torch.no_grad():
        batched = model.restore(repeat_seeds(y, n), z)
        chunked = chunked_restore(model, y, z, n, chunk=2)
        for k in range(n):
            for b in range(2):
                row = k * 2 + b  # seed-major
                alone = model.restore(y[b:b + 1], slice_z(z, row, row + 1))
                assert (batched[row] - alone[0]).abs().max() < 1e-5
    assert (batched - chunked).abs().max() < 1e-5


def gradients_with_and_without_checkpointing(model) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient of an MSE loss w.r.t. the LR input (2 seeds), through the chain checkpointed and plain."""
    y, hr = images(b=1)
    z = model.sample_z(y, 2, torch.Generator().manual_seed(2))
    grads = []
    for checkpointing in (True, False):
        model.checkpointing = checkpointing
        x = repeat_seeds(y, 2).requires_grad_(True)
        (model.restore(x, z) - hr).square().mean().backward()
        grads.append(x.grad)
    return grads[0], grads[1]


def test_gradient_with_checkpointing_equals_the_gradient_without():
    checkpointed, plain = gradients_with_and_without_checkpointing(random_ldm_sr(steps=4, eta=0.5))
    assert checkpointed.abs().max() > 0  # the gradient reaches the LR input through every step and the quantizer
    assert (checkpointed - plain).abs().max() <= 1e-5


def test_tensor_memory_of_an_attack_step_is_flat_in_T_with_checkpointing_and_linear_without():
    """Peak bytes of the tensors one attack step allocates (model_zoo/ldm_sr/cost.LiveTensorBytes)."""
    y, hr = images(b=1)
    latent_bytes = 3 * 16 * 16 * 4
    peaks = {}
    for checkpointing in (True, False):
        for t in (2, 4, 8):
            model = random_ldm_sr(steps=t, checkpointing=checkpointing)
            z = model.sample_z(y, 1, torch.Generator().manual_seed(0))
            peaks[checkpointing, t] = tensor_peak(model, y, hr, z)
    with_ckpt = (peaks[True, 8] - peaks[True, 2]) / 6
    without = [(peaks[False, 4] - peaks[False, 2]) / 2, (peaks[False, 8] - peaks[False, 4]) / 4]
    assert with_ckpt <= 4 * latent_bytes  # a few small latents per step, not a step's activations
    assert min(without) > 50 * max(with_ckpt, latent_bytes)  # each step keeps its UNet activations ...
    assert abs(without[1] - without[0]) <= 0.05 * without[0]  # ... the same amount per step: linear in T
    assert peaks[True, 2] < peaks[False, 2]  # the decoder is checkpointed too


@pytest.mark.slow  # two fresh processes (~25 s on a busy machine); the tensor counter above is the CI check
@pytest.mark.skipif(sys.platform != "linux", reason="VmHWM and /proc/self/clear_refs are Linux's")
def test_process_memory_of_an_attack_step_grows_far_slower_in_T_with_checkpointing():
    """The resident-memory peak of a fresh process (what a user pays, allocator and Python included)."""
    slopes = {}
    for checkpointing in (True, False):
        spec = {"size": "tiny", "side": 32, "steps": [2, 10], "checkpointing": checkpointing}
        out = subprocess.run([sys.executable, "-m", "model_zoo.ldm_sr.cost", json.dumps(spec)],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        rows = json.loads(out.stdout.strip().splitlines()[-1])
        slopes[checkpointing] = (rows[1]["rss_peak_bytes"] - rows[0]["rss_peak_bytes"]) / 8
    assert slopes[False] > 2e6  # ~5 MB per step at this size without checkpointing
    assert slopes[True] < 0.3 * slopes[False]


def test_ifgsm_through_the_chain_respects_its_budget_and_its_loss_rises():
    # The exact chain gradient: decoding the continuous latent (quantize=False). With the VQ quantizer the
    # output of a random-weight model jumps between codes by more than it follows its input, so a rising
    # loss is checked here, and the budget with the pipeline's quantized decoder below.
    y, hr = images(b=2)
    attack = make_attack("ifgsm", alpha=8, steps=3, n_eot=2)
    model = random_ldm_sr(steps=3, eta=0.5, quantize=False)
    z = model.sample_z(y, 2, torch.Generator().manual_seed(0))
    y_adv, record = attack(model, y, target=hr, z=z)
    trace = torch.tensor(record["loss_trace"])  # images x steps
    assert trace.shape == (2, 3) and bool((trace[:, 1:] > trace[:, :-1]).all())
    assert (y_adv - y).abs().max() <= 8 / 255 + 1e-6

    quantized = random_ldm_sr(steps=3, eta=0.5)
    y_adv, record = attack(quantized, y, target=hr, z=z)
    assert (y_adv - y).abs().max() <= 8 / 255 + 1e-6 and 0 <= y_adv.min() and y_adv.max() <= 1
    assert (y_adv - y).abs().max() > 7 / 255  # the straight-through gradient is not zero: the input moved


def test_a_saved_folder_loads_through_diffusers_and_gives_the_same_outputs(tiny_folder):
    assert sorted(p.name for p in tiny_folder.iterdir()) == ["model_index.json", "scheduler", "unet", "vqvae"]
    loaded = ldm_sr(tiny_folder, steps=3, eta=0.5)
    built = random_ldm_sr(TINY, seed=3, steps=3, eta=0.5)
    y, _ = images(b=1)
    z = loaded.sample_z(y, 1, torch.Generator().manual_seed(0))
    saved, original = loaded.state_dict(), built.state_dict()
    assert saved.keys() == original.keys() and all(torch.equal(saved[k], original[k]) for k in saved)
    with torch.no_grad():  # same weights, but the loaded tensors' storage is aligned differently, which changes the
        # CPU kernels' summation order on some machines (AMD EPYC: 1.2e-6; 0 once the tensors are cloned); a wrong
        # weight moves the outputs by ~0.1
        assert (loaded.restore(y, z) - built.restore(y, z)).abs().max() < 1e-5
    assert loaded.scale == 4 and loaded.stochastic and not any(p.requires_grad for p in loaded.parameters())
    assert loaded.model_options == {"sampler": "ddim", "steps": 3, "eta": 0.5, "quantize": True}


def test_missing_files_are_one_line_errors(tiny_folder, tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "unet").symlink_to(tiny_folder / "unet")
    with pytest.raises(UserError, match=r"cannot load the vqvae of diffusion model .*broken.*must hold unet/, vqvae/"
                       ) as err:
        ldm_sr(broken)
    assert "\n" not in str(err.value)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import: set it where it is read
    with pytest.raises(UserError, match="cannot load the unet of diffusion model 'CompVis/ldm.*not a local folder"
                       ) as err:
        ldm_sr("CompVis/ldm-super-resolution-4x-openimages")
    assert "\n" not in str(err.value) and len(str(err.value)) < 600


@pytest.mark.parametrize("steps, eta", [(0, 0.0), (1001, 0.0), (2.5, 0.0), (10, -0.1), (10, 1.5), (10, "x")])
def test_sampler_options_out_of_range_are_one_line_errors(steps, eta):
    with pytest.raises(UserError, match="steps|eta"):
        random_ldm_sr(steps=steps, eta=eta)


def test_cards_load_a_folder_through_the_one_model_path(tiny_folder, tmp_path):
    from srbench import load_model
    from srbench.models.weights import sha256_of

    model = load_model("ldm-sr-x4-t20", weights=str(tiny_folder), device="cpu")
    assert (model.name, model.scale, model.stochastic, model.steps, model.eta) == ("ldm-sr-x4-t20", 4, True, 20, 0.0)
    assert model.weights_sha256 == sha256_of(tiny_folder) and len(model.weights_sha256) == 64
    from srbench.bench.speed import SpeedOptions, apply_speed

    fast = apply_speed(model, SpeedOptions(channels_last=True))  # a wrapper reads the sampler through
    assert fast is not model and fast.model_options == {"sampler": "ddim", "steps": 20, "eta": 0.0, "quantize": True}
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "unet").symlink_to(tiny_folder / "unet")
    with pytest.raises(UserError, match=r"weights of 'ldm-sr-x4' must be a diffusers model folder .* has no "
                                        r"vqvae, scheduler$"):
        load_model("ldm-sr-x4", weights=str(partial))
    write_folder(tmp_path / "x2", {**TINY, "vqvae": {**TINY["vqvae"], "block_out_channels": (8, 16),
                                                      "down_block_types": ("DownEncoderBlock2D",) * 2,
                                                      "up_block_types": ("UpDecoderBlock2D",) * 2}})
    with pytest.raises(UserError, match=r"upscales x2 \(its VQ decoder\), but 'ldm-sr-x4' is x4"):
        load_model("ldm-sr-x4", weights=str(tmp_path / "x2"))


def test_adam_l2_through_the_chain_stays_in_its_ball_and_raises_the_same_seed_sensitivity():
    y, _ = images(b=2)
    attack = make_attack("adam-l2", eps=0.5, steps=3, n_eot=2)
    for quantize in (False, True):
        model = random_ldm_sr(steps=3, eta=0.5, quantize=quantize)
        z = model.sample_z(y, 2, torch.Generator().manual_seed(0))
        y_adv, record = attack(model, y, z=z)
        assert ((y_adv - y).flatten(1).norm(dim=1) <= 0.5 + 1e-5).all() and 0 <= y_adv.min() and y_adv.max() <= 1
        trace = torch.tensor(record["loss_trace"])  # images x steps: Eq. 6's objective at each iterate
        assert bool((trace[:, -1] > 100 * trace[:, 0]).all()), trace  # from near 0 at the small random start
