import json

import numpy as np
import pytest
import torch
from PIL import Image

from srbench.cli import main as cli
from srbench.core.errors import UserError
from srbench.experiments.gan.config import load_config

CONFIG = """
name: t
degradation: sr4
model: {{base: 4, critic_width: 4}}
data: {{folder: {folder}, preprocess: random_crop, size: 16, val_images: 2}}
train: {{steps: 4, batch_size: 2, robust_every: 2, ckpt_every: 2, log_every: 1, val_every: 0}}
robustness: {{n_seeds: 2}}
validation: {{n_images: 2, n_samples: 2, attack_images: 2, n_seeds: 2}}
variants: {{robust-sto: {{lambda_r: 500, stochastic: true}}, erratic-det: {{lambda_r: 0, stochastic: false}}}}
"""


@pytest.fixture()
def config(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    path = tmp_path / "cfg.yaml"
    path.write_text(CONFIG.format(folder=folder))
    return path


def _state(path):
    return torch.load(path, weights_only=True)


def test_resume_is_bit_identical(config, tmp_path):
    assert cli(["train", str(config), "--variant", "robust-sto", "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert cli(["train", str(config), "--variant", "robust-sto", "--out", str(tmp_path / "b"), "--quiet",
                "--until", "2"]) == 0
    assert _state(tmp_path / "b/robust-sto/ckpt.pt")["step"] == 2
    assert cli(["train", str(config), "--variant", "robust-sto", "--out", str(tmp_path / "b"), "--quiet"]) == 0
    a, b = _state(tmp_path / "a/robust-sto/ckpt.pt"), _state(tmp_path / "b/robust-sto/ckpt.pt")
    assert a["step"] == b["step"] == 4
    for key in ("G", "D"):
        for k in a[key]:
            assert torch.equal(a[key][k], b[key][k]), (key, k)
    assert torch.equal(a["rng"], b["rng"])
    assert a["arch"]["base"] == 4 and a["arch"]["stochastic"] is True
    summary = json.loads((tmp_path / "b/robust-sto/metrics.json").read_text())
    assert summary["resumed"] and summary["last_validation"]["consistency_psnr"] > 60
    # the checkpoint is a model: evaluate-gan with the offline extractor, and srbench's loader
    out = tmp_path / "table.md"
    assert cli(["evaluate-gan", str(tmp_path / "a"), "--config", str(config), "--features", "random",
                "--n-images", "4", "--samples", "2", "--seeds", "2", "--out", str(out)]) == 0
    rows = json.loads((tmp_path / "table.md.json").read_text())
    assert rows[0]["model"] == "robust-sto" and rows[0]["consistency_psnr"] > 60
    assert {"fid", "precision", "recall", "std", "robustness_psnr", "ai_psnr"} <= set(rows[0])
    assert abs(rows[0]["ai_psnr"] - 34) < 0.1
    from srbench.models import load_model

    r = load_model("unet-gan", weights=tmp_path / "a/robust-sto/ckpt.pt", scale=4)
    assert r.net.base == 4 and r.stochastic
    from srbench.experiments.gan import register_checkpoint

    card = register_checkpoint(tmp_path / "a/robust-sto/ckpt.pt", "my-gan")
    assert load_model("my-gan").net.base == 4 and card.stochastic


def test_config_errors(config, tmp_path):
    cfg = load_config(config)
    assert cfg["train"]["betas"] == [0.5, 0.99] and cfg["train"]["r1_gamma"] == 1.0  # paper defaults kept
    bad = tmp_path / "bad.yaml"
    bad.write_text(config.read_text().replace("robust_every", "robust_evry"))
    with pytest.raises(UserError, match="robust_evry"):
        load_config(bad)
    assert cli(["train", str(config), "--variant", "nope"]) == 2


def test_bad_image_folder_and_missing_checkpoint_are_one_line_errors(config, tmp_path, capsys):
    folder = tmp_path / "imgs"
    (tmp_path / "fake.pt").write_text("not a checkpoint")
    assert cli(["evaluate-gan", str(tmp_path / "fake.pt"), "--config", str(config), "--features", "random",
                "--n-images", "2"]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err
    torch.save({"weight": torch.zeros(2)}, tmp_path / "plain.pt")  # a checkpoint, but not a trainer's
    from srbench.experiments.gan import export_weights, register_checkpoint

    for call in (lambda: register_checkpoint(tmp_path / "plain.pt"),
                 lambda: export_weights(tmp_path / "plain.pt", tmp_path / "x.pt")):
        with pytest.raises(UserError, match="not a checkpoint written by srbench train"):
            call()
    (folder / "broken.png").write_bytes(b"not a png")
    assert cli(["train", str(config), "--variant", "erratic-det", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "cannot read image" in capsys.readouterr().err and not (tmp_path / "o" / "erratic-det" / "ckpt.pt").exists()
    # the checkpoint path is checked before the (here unreadable) data
    assert cli(["evaluate-gan", str(tmp_path / "missing.pt"), "--data", str(folder)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert cli(["evaluate-gan", str(folder / "0.png"), "--data", str(folder)]) == 2
    assert "broken.png" in capsys.readouterr().err


def test_paper_configs_load():
    from pathlib import Path

    for path in sorted(Path(__file__).parent.parent.glob("benchmarks/gan-*.yaml")):
        cfg = load_config(path)
        assert set(cfg["variants"]) >= {"erratic-det", "robust-sto"}


def test_celeba_preprocessing():
    from srbench.experiments.gan.data import celeba_preprocess

    img = torch.randint(0, 256, (3, 218, 178), dtype=torch.uint8)
    out = celeba_preprocess(img)
    assert out.shape == (3, 64, 64) and out.dtype == torch.uint8
