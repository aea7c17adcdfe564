"""ldm-sr-x4 and sd-x4-upscaler through `srbench run`: a local model folder, the hub (a local server), and the
one-line errors.

The models are tiny random-weight ones of the real diffusers classes
(model_zoo/ldm_sr/random_weights.py, model_zoo/sd_upscaler/random_weights.py);
the data one 64x64 crop of a scikit-image photograph (LR 16x16), so each run
takes seconds.
"""
import http.server
import json
import sys
import threading

import pytest

pytest.importorskip("diffusers")

from conftest import run_cli  # noqa: E402
from model_zoo.ldm_sr.random_weights import TINY, write_folder  # noqa: E402
from srbench.data.demo import skimage_image  # noqa: E402
from srbench.data.images import write_image  # noqa: E402
from srbench.models.weights import sha256_of  # noqa: E402
from test_hub_datasets import HubHandler  # noqa: E402  (a Hugging Face Hub stand-in answering resolve URLs)

REPO_ID = "CompVis/ldm-super-resolution-4x-openimages"
MODEL_FILES = ("unet/config.json", "unet/diffusion_pytorch_model.safetensors", "vqvae/config.json",
               "vqvae/diffusion_pytorch_model.safetensors", "scheduler/scheduler_config.json")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("ldm") / "tiny-ldm-sr", TINY, seed=1)


@pytest.fixture(scope="module")
def one_image(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_image(skimage_image("chelsea")[:, 100:164, 150:214], root / "Set5" / "x4" / "HR" / "cat.png")
    return root


def rows_of(run_dir):
    cells = sorted((run_dir / "cells").glob("*.json"))
    return {c.name.split("__")[3]: json.loads(c.read_text())["rows"] for c in cells}  # by attack_budget


def test_run_with_a_local_model_folder_writes_the_sampler_and_seeds(tiny_model, one_image, tmp_path):
    result = run_cli("run", "--models", "ldm-sr-x4-t20", "--attack", "ifgsm", "--alpha", "4", "--steps", "2",
                     "--n-eot", "3", "--datasets", "set5", "--data-root", str(one_image),
                     "--weights", f"ldm-sr-x4-t20={tiny_model}", "--quiet", "--out", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = rows_of(tmp_path / "run")["ifgsm_4"]
    assert row["model"] == "ldm-sr-x4-t20" and row["image"] == "cat"
    assert row["model_options"] == {"sampler": "ddim", "steps": 20, "eta": 0.0, "quantize": True}
    assert row["n_seeds"] == 3 and row["seed"] == 0 and row["training"] == "diffusion"
    assert row["weights_sha256"] == sha256_of(tiny_model)
    assert row["linf"] <= 4 / 255 + 1e-6 and len(row["loss_trace"]) == 2
    assert 0 < row["diversity_std"] and row["adv_output_psnr"] > 0


@pytest.fixture
def serve_hub():
    """serve_hub(folder, names): a local Hugging Face Hub stand-in serving those files of the folder; its URL."""
    servers = []

    def serve(folder, names):
        HubHandler.files = {name: (folder / name).read_bytes() for name in names}
        servers.append(http.server.ThreadingHTTPServer(("127.0.0.1", 0), HubHandler))
        threading.Thread(target=servers[-1].serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{servers[-1].server_address[1]}"

    yield serve
    for httpd in servers:
        httpd.shutdown()


def test_default_weights_come_from_the_hub_repository_then_from_the_cache(serve_hub, tiny_model, one_image,
                                                                          tmp_path):
    env = {"HF_ENDPOINT": serve_hub(tiny_model, MODEL_FILES), "HF_HUB_OFFLINE": "0",
           "SRBENCH_CACHE": str(tmp_path / "cache")}
    args = ["run", "--models", "ldm-sr-x4-t20", "--attack", "none", "--datasets", "set5",
            "--data-root", str(one_image), "--quiet"]
    first = run_cli(*args, "--out", "hub", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    local = run_cli(*args, "--weights", f"ldm-sr-x4-t20={tiny_model}", "--out", "local", cwd=tmp_path)
    assert local.returncode == 0, local.stderr[-3000:]
    (from_hub,), (from_folder,) = rows_of(tmp_path / "hub")["none"], rows_of(tmp_path / "local")["none"]
    for key in ("psnr_y", "ssim_y", "psnr_rgb", "diversity_std"):  # the same model, whichever way it came
        assert from_hub[key] == from_folder[key], key
    snapshots = list((tmp_path / "cache" / "hf").glob(f"models--{REPO_ID.replace('/', '--')}/snapshots/*"))
    assert len(snapshots) == 1 and from_hub["weights_sha256"] == sha256_of(snapshots[0])
    # offline, the cached files serve
    again = run_cli(*args, "--out", "offline", cwd=tmp_path, env={**env, "HF_HUB_OFFLINE": "1"})
    assert again.returncode == 0, again.stderr[-3000:]


def test_weights_missing_offline_is_a_one_line_error_with_what_to_do(tmp_path):
    result = run_cli("run", "--models", "ldm-sr-x4", "--attack", "none", "--datasets", "demo", "--limit", "1",
                     "--quiet", cwd=tmp_path, env={"HF_HUB_OFFLINE": "1", "SRBENCH_CACHE": str(tmp_path / "c")})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("srbench: error: cannot download unet/config.json of " + REPO_ID)
    assert "--weights ldm-sr-x4=FOLDER" in line and "huggingface-cli download" in line


def test_a_folder_that_is_not_a_model_is_a_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("run", "--models", "ldm-sr-x4", "--attack", "none", "--datasets", "demo", "--limit", "1",
                     "--weights", f"ldm-sr-x4={tmp_path / 'empty'}", "--quiet", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"srbench: error: weights of 'ldm-sr-x4' must be a diffusers model folder "
                                     f"with unet/, vqvae/, scheduler/; {tmp_path / 'empty'} has no unet, vqvae, "
                                     f"scheduler")


def test_without_diffusers_the_cli_says_how_to_install_it(tiny_model, tmp_path):
    import subprocess

    code = ("import sys; sys.modules['diffusers'] = None\n"  # what Python does when the package is absent
            "from srbench.cli import main\n"
            f"sys.exit(main(['run', '--models', 'ldm-sr-x4', '--weights', 'ldm-sr-x4={tiny_model}', '--attack', "
            f"'none', '--datasets', 'demo', '--limit', '1', '--quiet']))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("srbench: error: diffusion models need the diffusers library, which is not "
                                     "installed: pip install 'srbench[diffusion]'")


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    pytest.importorskip("transformers")
    from model_zoo.sd_upscaler.random_weights import TINY as SD_TINY, write_folder as write_sd_folder

    return write_sd_folder(tmp_path_factory.mktemp("sd") / "tiny-sd-x4-upscaler", SD_TINY, seed=1)


def test_sd_upscaler_from_a_folder_and_from_the_hub_gives_the_same_rows_with_sampler_and_conditioning(
        tiny_sd, one_image, serve_hub, tmp_path):
    from srbench import get_card

    args = ["run", "--models", "sd-x4-upscaler-t20", "--attack", "ifgsm", "--alpha", "4", "--steps", "2",
            "--n-eot", "2", "--datasets", "set5", "--data-root", str(one_image), "--quiet"]
    one_thread = {"OMP_NUM_THREADS": "1"}  # tiny tensors: a second thread only spins on a busy machine (conftest)
    local = run_cli(*args, "--weights", f"sd-x4-upscaler-t20={tiny_sd}", "--out", "local", cwd=tmp_path,
                    env=one_thread)
    assert local.returncode == 0, local.stderr[-3000:]
    (row,) = rows_of(tmp_path / "local")["ifgsm_4"]
    assert row["model"] == "sd-x4-upscaler-t20" and row["training"] == "diffusion"
    assert row["model_options"] == {"sampler": "ddim", "steps": 20, "eta": 0.0, "noise_level": 20, "prompt": "",
                                    "guidance_scale": 9.0}
    assert row["n_seeds"] == 2 and row["seed"] == 0 and row["weights_sha256"] == sha256_of(tiny_sd)
    assert row["linf"] <= 4 / 255 + 1e-6 and len(row["loss_trace"]) == 2
    assert 0 < row["diversity_std"] and row["adv_output_psnr"] > 0

    # the card's hub files: each entry, or its first alternative the folder has (safetensors)
    entries = [(e,) if isinstance(e, str) else e for e in get_card("sd-x4-upscaler-t20").files]
    names = [next(name for name in entry if (tiny_sd / name).is_file()) for entry in entries]
    env = {"HF_ENDPOINT": serve_hub(tiny_sd, names), "HF_HUB_OFFLINE": "0", "SRBENCH_CACHE": str(tmp_path / "cache"),
           **one_thread}
    hub = run_cli(*args, "--out", "hub", cwd=tmp_path, env=env)
    assert hub.returncode == 0, hub.stderr[-3000:]
    (from_hub,) = rows_of(tmp_path / "hub")["ifgsm_4"]
    for key in ("psnr_y", "adv_output_psnr", "linf", "diversity_std", "loss_trace", "model_options"):
        assert from_hub[key] == row[key], key  # the same model, whichever way it came
    snapshots = list((tmp_path / "cache" / "hf").glob("models--stabilityai--stable-diffusion-x4-upscaler/snapshots/*"))
    assert len(snapshots) == 1 and from_hub["weights_sha256"] == sha256_of(snapshots[0])
    assert from_hub["weights_sha256"] == row["weights_sha256"]  # the folder holds exactly the card's files
