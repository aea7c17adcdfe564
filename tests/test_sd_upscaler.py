"""The Stable Diffusion x4 upscaler (model_zoo/sd_upscaler) as a restorer: diffusers' own pipeline output for the
same noises, seeds, the differentiable chain, attacks through it, loading and the one-line errors.

A tiny random-weight model of the real classes (model_zoo/sd_upscaler/random_weights.py), on CPU. The runs
through `srbench run`, from a folder and from the hub, are in tests/test_diffusion_cli.py.
"""
import sys

import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from model_zoo.diffusion.loading import quiet  # noqa: E402
from model_zoo.sd_upscaler.model import sd_upscaler  # noqa: E402
from model_zoo.sd_upscaler.random_weights import TINY, write_folder  # noqa: E402
from srbench import load_model  # noqa: E402
from srbench.attacks import make_attack  # noqa: E402
from srbench.core.errors import UserError  # noqa: E402
from srbench.core.restorer import chunked_restore, repeat_seeds  # noqa: E402
from srbench.models.weights import sha256_of  # noqa: E402
from test_diffusion import gradients_with_and_without_checkpointing, images  # noqa: E402


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("sd") / "tiny-sd-x4-upscaler", TINY, seed=2)


@pytest.fixture(scope="module")
def pipeline(tiny_folder):
    """diffusers' StableDiffusionUpscalePipeline on the same folder: the reference the chain must reproduce."""
    import diffusers
    import transformers

    with quiet(diffusers, transformers):
        pipe = diffusers.StableDiffusionUpscalePipeline.from_pretrained(str(tiny_folder))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_with_the_empty_prompt_one_unet_pass_gives_the_pipelines_guided_output_for_the_same_seed(
        tiny_folder, pipeline):
    """The pipeline's default call (guidance 9, empty prompt and negative prompt: two UNet passes per step) against
    the chain's one pass; sample_z under a seed draws what the pipeline draws under it (LR noise, then latent)."""
    model = sd_upscaler(tiny_folder, steps=3)
    assert not model.guided and model.model_options == {
        "sampler": "ddim", "steps": 3, "eta": 0.0, "noise_level": 20, "prompt": "", "guidance_scale": 9.0}
    y, _ = images(b=2)
    with torch.no_grad():
        ours = model.restore(y, model.sample_z(y, 1, torch.Generator().manual_seed(4)))
        theirs = pipeline(prompt=["", ""], image=y, num_inference_steps=3, generator=torch.Generator().manual_seed(4),
                          output_type="pt").images
    assert ours.shape == theirs.shape == (2, 3, 64, 64) and ours.std() > 0.05
    assert (ours - theirs).abs().max() < 1e-5


@pytest.mark.parametrize("prompt, eta, noise_level", [("", 0.7, 100), ("a cat", 0.0, 20), ("a cat of a cat", 0.5, 0)])
def test_noise_levels_step_noises_and_a_real_prompt_give_the_pipelines_output(tiny_folder, pipeline, prompt, eta,
                                                                               noise_level):
    """z given part by part: the LR noise and the step noises as the pipeline draws them from its generator, the
    latent passed to it. A non-empty prompt runs both guidance passes, as the pipeline does."""
    steps = 3
    model = sd_upscaler(tiny_folder, steps=steps, eta=eta, noise_level=noise_level, prompt=prompt)
    assert model.guided == (prompt != "")
    y, _ = images(b=1)
    g = torch.Generator().manual_seed(7)
    z = {"lr_noise": torch.randn(1, 3, 16, 16, generator=g)}
    if eta > 0:
        z["noise"] = torch.stack([torch.randn(1, 4, 16, 16, generator=g) for _ in range(steps)], 1)
    z["latent"] = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        ours = model.restore(y, z)
        theirs = pipeline(prompt=prompt, image=y, num_inference_steps=steps, eta=eta, noise_level=noise_level,
                          latents=z["latent"], generator=torch.Generator().manual_seed(7), output_type="pt").images
    assert (ours - theirs).abs().max() < 1e-5


def test_sample_z_holds_the_lr_noise_the_latent_and_the_step_noises(tiny_folder):
    y = torch.rand(2, 3, 13, 15)  # odd sizes: z at the LR size padded to the UNet's multiple (4)
    model = sd_upscaler(tiny_folder, steps=2, eta=0.5)
    z = model.sample_z(y, 3, torch.Generator().manual_seed(1))
    assert list(z) == ["lr_noise", "latent", "noise"]
    assert {k: tuple(v.shape) for k, v in z.items()} == {"lr_noise": (6, 3, 16, 16), "latent": (6, 4, 16, 16),
                                                         "noise": (6, 2, 4, 16, 16)}
    again = model.sample_z(y, 3, torch.Generator().manual_seed(1))
    assert all(torch.equal(z[k], again[k]) for k in z)  # a seed is a z
    with torch.no_grad():
        out = model.restore(repeat_seeds(y, 3), z)
        assert out.shape == (6, 3, 52, 60) and 0 <= out.min() and out.max() <= 1
        assert torch.equal(model.restore(repeat_seeds(y, 3), z), out)  # same z, same output
        other = model.sample_z(y, 3, torch.Generator().manual_seed(2))
        for key in z:  # every part of z matters
            assert (model.restore(repeat_seeds(y, 3), {**z, key: other[key]}) - out).abs().mean() > 1e-3, key
        chunked = chunked_restore(model, y, z, 3, chunk=2)  # seeds batched and chunked as for SRFlow
    assert (chunked - out).abs().max() < 1e-5


def test_gradient_with_checkpointing_equals_the_gradient_without(tiny_folder):
    checkpointed, plain = gradients_with_and_without_checkpointing(sd_upscaler(tiny_folder, steps=3, eta=0.5))
    assert checkpointed.abs().max() > 0  # through the LR noising, every step and the VAE decoder
    assert (checkpointed - plain).abs().max() <= 1e-5


def test_seed_averaged_attacks_through_the_chain_stay_in_budget_and_raise_their_loss(tiny_folder):
    model = sd_upscaler(tiny_folder, steps=2, eta=0.5)
    y, hr = images(b=2)
    z = model.sample_z(y, 2, torch.Generator().manual_seed(0))
    y_adv, record = make_attack("ifgsm", alpha=8, steps=3, n_eot=2)(model, y, target=hr, z=z)
    trace = torch.tensor(record["loss_trace"])  # images x steps
    assert trace.shape == (2, 3) and bool((trace[:, 1:] > trace[:, :-1]).all()), trace
    assert (y_adv - y).abs().max() <= 8 / 255 + 1e-6 and 0 <= y_adv.min() and y_adv.max() <= 1
    y_adv, record = make_attack("adam-l2", eps=0.5, steps=3, n_eot=2)(model, y, z=z)
    assert ((y_adv - y).flatten(1).norm(dim=1) <= 0.5 + 1e-5).all() and 0 <= y_adv.min() and y_adv.max() <= 1
    trace = torch.tensor(record["loss_trace"])  # Eq. 6's same-seed objective, from near 0 at the small random start
    assert bool((trace[:, -1] > 10 * trace[:, 0]).all()), trace


def test_the_cards_load_a_folder_through_the_one_model_path(tiny_folder, tmp_path):
    model = load_model("sd-x4-upscaler-t20", weights=str(tiny_folder), device="cpu")
    assert (model.name, model.scale, model.stochastic, model.steps) == ("sd-x4-upscaler-t20", 4, True, 20)
    assert model.model_options == {"sampler": "ddim", "steps": 20, "eta": 0.0, "noise_level": 20, "prompt": "",
                                   "guidance_scale": 9.0}
    assert model.weights_sha256 == sha256_of(tiny_folder) and not any(p.requires_grad for p in model.parameters())
    assert not hasattr(model, "text_encoder") and model.text_embeds.shape == (1, 16, 16)  # a constant, not a module
    assert load_model("sd-x4-upscaler", weights=str(tiny_folder)).steps == 75  # the pipeline's default
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "unet").symlink_to(tiny_folder / "unet")
    with pytest.raises(UserError, match=r"^weights of 'sd-x4-upscaler' must be a diffusers model folder with unet/, "
                                        r"vae/, scheduler/, low_res_scheduler/, text_encoder/, tokenizer/; .* has no "
                                        r"vae, scheduler, low_res_scheduler, text_encoder, tokenizer$"):
        load_model("sd-x4-upscaler", weights=str(partial))


def test_missing_parts_and_a_missing_transformers_are_one_line_errors(tiny_folder, tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    broken.mkdir()
    for sub in ("unet", "vae", "scheduler", "low_res_scheduler", "tokenizer"):  # no text_encoder/
        (broken / sub).symlink_to(tiny_folder / sub)
    with pytest.raises(UserError, match=r"^cannot load the text_encoder of diffusion model .*broken.*: .*; the folder "
                                        r"must hold unet/, vae/, .* as written by save_pretrained$") as err:
        sd_upscaler(broken)
    assert "\n" not in str(err.value)
    monkeypatch.setitem(sys.modules, "transformers", None)  # what Python does when the package is absent
    with pytest.raises(UserError) as err:
        sd_upscaler(tiny_folder)
    assert str(err.value) == ("the Stable Diffusion upscaler needs the transformers library (for its CLIP text "
                              "encoder), which is not installed: pip install 'srbench[diffusion]'")


@pytest.mark.parametrize("options, message", [
    ({"noise_level": 351}, r"noise_level must be an integer from 0 to 350"), ({"noise_level": 2.5}, "noise_level"),
    ({"noise_level": -1}, "noise_level"), ({"guidance_scale": "x"}, "guidance_scale"), ({"prompt": 3}, "prompt"),
    ({"steps": 0}, "steps"), ({"eta": 2}, "eta")])
def test_options_out_of_range_are_one_line_errors(tiny_folder, options, message):
    with pytest.raises(UserError, match=message) as err:
        sd_upscaler(tiny_folder, **options)
    assert "\n" not in str(err.value)
