"""--save-images keeps the exact attack and the outputs beside each cell; --niqe scores the clean outputs."""
import json

import numpy as np
import pytest
import torch

import srbench
from srbench.cli import main
from srbench.data import load_dataset
from srbench.core.pixels import to_uint8
from srbench.data.images import read_image
from srbench.core.niqe import niqe


def run(tmp_path, *extra):
    out = tmp_path / "run"
    assert main(["run", "--models", "bicubic", "--datasets", "demo", "--limit", "2", "--alpha", "2,4",
                 "--steps", "3", "--out", str(out), "--quiet", *extra]) == 0
    return out


def cells(out):
    return [json.loads(p.read_text()) for p in sorted((out / "cells").glob("*.json"))]


def test_first_image_of_every_cell_is_kept_exactly(tmp_path):
    out = run(tmp_path, "--save-images", "--niqe")
    pairs = load_dataset("demo", 4, limit=2)
    model = srbench.load_model("bicubic", device="cpu")
    manifest = json.loads((out / "manifest.json").read_text())
    for cell in cells(out):
        first, second = cell["rows"]
        assert "saved_images" not in second  # --save-images alone keeps the first image
        saved = {k: out / v for k, v in first["saved_images"].items()}
        assert sorted(saved) == ["delta", "lr", "lr_adv", "sr_adv", "sr_clean"]
        assert sorted(manifest["saved_images"][cell["cell"]["cell_id"]]) == sorted(p.name for p in saved.values())
        lr = pairs[0].lr
        delta = torch.from_numpy(np.load(saved["delta"]))
        alpha = cell["cell"]["budget"]
        assert delta.abs().max().item() == pytest.approx(first["linf"], abs=1e-7)
        assert delta.abs().max().item() <= alpha / 255 + 1e-6  # the budget holds in the saved perturbation
        assert torch.equal(read_image(saved["lr"])[0], lr)
        assert np.array_equal(to_uint8(read_image(saved["lr_adv"])[0]), to_uint8(lr + delta))
        with torch.no_grad():
            clean = model.restore(lr[None])[0]
            attacked = model.restore((lr + delta)[None])[0]
        assert np.array_equal(to_uint8(read_image(saved["sr_clean"])[0]), to_uint8(clean))
        assert np.array_equal(to_uint8(read_image(saved["sr_adv"])[0]), to_uint8(attacked))
        assert first["niqe"] == pytest.approx(niqe(clean, 4), abs=1e-9)


def test_named_images_are_kept_and_unknown_names_refused(tmp_path, capsys):
    out = run(tmp_path, "--save-images", "chelsea")
    for cell in cells(out):
        assert [r["image"] for r in cell["rows"] if "saved_images" in r] == ["chelsea"]
        assert all("niqe" not in r for r in cell["rows"])  # NIQE only when asked for
    assert main(["run", "--models", "bicubic", "--datasets", "demo", "--limit", "2", "--alpha", "2",
                 "--save-images", "chelsee", "--out", str(tmp_path / "bad"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "save_images: no image 'chelsee'" in err[0]
    assert not (tmp_path / "bad").exists()
    assert main(["run", "--models", "bicubic", "--datasets", "demo", "--save-images", "-1",
                 "--out", str(tmp_path / "bad"), "--quiet"]) == 2
    assert "--save-images takes a number of images or image names" in capsys.readouterr().err


def test_suite_names_outside_a_narrowed_run_are_noted_not_refused(tmp_path, capsys):
    """A suite's save_images names images across its datasets; --limit/--datasets may leave some out."""
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: narrowed\nmodels: [bicubic]\ndatasets: [demo]\nalphas: [2]\n"
                     "attack: {name: ifgsm, steps: 2}\nsave_images: [chelsea, rocket]\n")
    out = tmp_path / "run"
    assert main(["run", str(suite), "--limit", "2", "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["note: save_images: rocket not among the images of this run (demo); nothing kept for it"]
    (cell,) = cells(out)
    assert [r["image"] for r in cell["rows"] if "saved_images" in r] == ["chelsea"]
    # not narrowed by the command line, an unknown name is still a typo
    suite.write_text(suite.read_text().replace("rocket", "rockett"))
    assert main(["run", str(suite), "--out", str(tmp_path / "bad"), "--quiet"]) == 2
    assert "save_images: no image 'rockett'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
