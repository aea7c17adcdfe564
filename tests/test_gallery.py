"""The site's gallery of saved attacks: pages, panels computed from the saved files, and a real Chromium."""
from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srbench.cli import main
from srbench.report.website import DIFF_GAIN, ZOOM, render_site
from test_site import run_browser

KINDS = ["lr", "lr_adv", "delta", "sr_clean", "sr_adv", "diff", "zoom"]


def srbench_run(out: Path, *args: str) -> Path:
    assert main(["run", "--datasets", "demo", "--out", str(out), "--quiet", *args]) == 0
    return out


@pytest.fixture(scope="module")
def attacked_run(tmp_path_factory):
    """bicubic and tiny-edsr at alpha 2 and 8, the first demo image kept (LR 64 x 64, output 256 x 256)."""
    return srbench_run(tmp_path_factory.mktemp("runs") / "attacked", "--models", "bicubic,tiny-edsr", "--limit", "2",
                       "--alpha", "2,8", "--steps", "3", "--save-images", "1")


@pytest.fixture(scope="module")
def site(attacked_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    render_site([attacked_run], out)
    return out


def gallery_rows(page: str) -> list[dict]:
    """Each table row of a gallery page: model, alpha, caption numbers and the src of each panel (None if empty)."""
    rows = []
    for head, cells in re.findall(r'<tr><th class="row">(.*?)</th>(.*?)</tr>', page):
        alpha = re.search(r"&alpha; = ([\d.]+)/255", head)
        rows.append({"model": re.search(r"<b>(.*?)</b>", head).group(1),
                     "alpha": float(alpha.group(1)) if alpha else None,
                     "numbers": [float(v) for v in re.findall(r"([\d.]+) dB", head)],
                     "src": [(re.search(r'src="([^"]+)"', td) or [None, None])[1]
                             for td in re.findall(r"<td>(.*?)</td>", cells)]})
    return rows


def saved_row(run: Path, model: str, alpha: float) -> dict:
    """The row of the kept image of one cell, from its cell file."""
    for path in (run / "cells").glob("*.json"):
        cell = json.loads(path.read_text())
        if cell["cell"]["model"] == model and cell["cell"].get("budget") == alpha:
            return next(r for r in cell["rows"] if "saved_images" in r)
    raise AssertionError(f"no cell {model} alpha {alpha}")


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.float64)


def panel(site: Path, row: dict, kind: str) -> Path:
    return site / "gallery" / html.unescape(row["src"][KINDS.index(kind)])


def test_one_row_per_model_and_alpha_with_every_panel(site, attacked_run):
    page = (site / "gallery/demo.html").read_text()
    rows = gallery_rows(page)
    assert [(r["model"], r["alpha"]) for r in rows] == [("bicubic", 2), ("bicubic", 8), ("tiny-edsr", 2), ("tiny-edsr", 8)]
    assert page.count("<section") == 1 and "<h2>astronaut</h2>" in page  # --save-images 1: the first image only
    for row in rows:
        saved = saved_row(attacked_run, row["model"], row["alpha"])
        # the caption holds this image's adversarial output PSNR and AI-PSNR
        assert row["numbers"] == [round(saved["adv_output_psnr"], 2), round(saved["adv_input_psnr"], 2)]
        assert [Path(s).name.rsplit("__", 1)[1] for s in row["src"]] == [f"{k}.png" for k in KINDS]
        sizes = {k: Image.open(panel(site, row, k)).size for k in KINDS}
        assert sizes == {**dict.fromkeys(KINDS, (128, 128)), "zoom": (152, 152)}  # LR 64 px x 2; 38 px x 4
    # offline and no broken links, on both pages
    index = (site / "index.html").read_text()
    assert 'href="gallery/demo.html"' in index and index.count("gallery/demo.html") == 2  # nav and the section
    for name, text in (("index.html", index), ("gallery/demo.html", page)):
        assert not re.search(r'(src|href)="(https?:)?//', text)
        targets = re.findall(r'(?:src|href)="([^"#]+)"', text)
        assert all(((site / name).parent / html.unescape(t)).is_file() for t in targets), targets
    # the site never copies the full-size files
    assert not list(site.rglob("*.npy")) and max(p.stat().st_size for p in site.rglob("*.png")) < 200_000


def test_identical_panels_are_one_file(site):
    rows = gallery_rows((site / "gallery/demo.html").read_text())
    src = {(r["model"], r["alpha"]): dict(zip(KINDS, r["src"])) for r in rows}
    assert len({s["lr"] for s in src.values()}) == 1  # the same LR in every row of the image
    for model in ("bicubic", "tiny-edsr"):  # a deterministic model's clean output is the same at every alpha
        assert src[(model, 2)]["sr_clean"] == src[(model, 8)]["sr_clean"]
        assert src[(model, 2)]["sr_adv"] != src[(model, 8)]["sr_adv"]
    files = [p for p in (site / "gallery/img").rglob("*.png")]
    assert len(files) == len({p.read_bytes() for p in files}) == len({s for r in src.values() for s in r.values() if s})


def test_perturbation_panel_is_delta_amplified(site, attacked_run):
    row = gallery_rows((site / "gallery/demo.html").read_text())[3]  # tiny-edsr, alpha 8
    delta = np.load(attacked_run / saved_row(attacked_run, "tiny-edsr", 8)["saved_images"]["delta"]).astype(np.float64)
    assert delta.shape == (3, 64, 64) and np.abs(delta).max() == pytest.approx(8 / 255, rel=1e-5)
    expected = np.round(255 * (0.5 + delta * 0.5 / np.abs(delta).max())).transpose(1, 2, 0)
    expected = expected.repeat(2, axis=0).repeat(2, axis=1)  # nearest neighbour, x2 to 128 px
    shown = pixels(panel(site, row, "delta"))
    assert np.array_equal(shown, expected)
    assert shown.min() == 0 and shown.max() == 255  # the largest |delta| fills the range


def test_difference_and_zoom_panels(site, attacked_run):
    page = (site / "gallery/demo.html").read_text()
    row = gallery_rows(page)[3]
    files = saved_row(attacked_run, "tiny-edsr", 8)["saved_images"]
    clean, attacked = (pixels(attacked_run / files[k]) / 255 for k in ("sr_clean", "sr_adv"))
    # |attacked - clean| x gain, clipped, then averaged over 2 x 2 blocks (256 -> 128 px)
    diff = np.round(np.clip(np.abs(attacked - clean) * DIFF_GAIN, 0, 1) * 255)
    blocks = diff.reshape(128, 2, 128, 2, 3).mean(axis=(1, 3))
    assert np.abs(pixels(panel(site, row, "diff")) - blocks).max() <= 1
    # the zoom: the 38 x 38 window of the attacked output with the largest summed |difference|, x4
    windows = re.findall(r'title="attacked output, zoom &times;4: output pixels x (\d+)\.\.(\d+), y (\d+)\.\.(\d+)"', page)
    x0, x1, y0, y1 = map(int, windows[3])
    side = x1 - x0 + 1
    assert side == y1 - y0 + 1 == 38
    crop = np.round(attacked[y0:y1 + 1, x0:x1 + 1] * 255)
    assert np.array_equal(pixels(panel(site, row, "zoom")), crop.repeat(ZOOM, axis=0).repeat(ZOOM, axis=1))
    sums = np.lib.stride_tricks.sliding_window_view(np.abs(attacked - clean).sum(axis=2), (side, side)).sum(axis=(2, 3))
    assert sums[y0, x0] == pytest.approx(sums.max(), rel=1e-9) and sums.max() > sums.min()


def test_no_saved_images_no_gallery_and_rerender_replaces_it(site, attacked_run, tmp_path):
    plain = srbench_run(tmp_path / "plain", "--models", "bicubic", "--limit", "1", "--attack", "none")
    out = tmp_path / "site"
    shutil.copytree(site, out)
    (out / "gallery/img/demo/stale.png").write_bytes(b"old")
    render_site([plain], out)
    assert not (out / "gallery").exists() and "gallery" not in (out / "index.html").read_text()
    # clean cells keep LR and the clean output; the attack's panels stay empty, not broken
    clean = srbench_run(tmp_path / "clean", "--models", "bicubic", "--limit", "1", "--attack", "none",
                        "--save-images", "1")
    render_site([clean], out)
    (row,) = gallery_rows((out / "gallery/demo.html").read_text())
    assert [k for k, src in zip(KINDS, row["src"]) if src] == ["lr", "sr_clean"] and row["alpha"] is None
    assert sorted(p.name.rsplit("__", 1)[1] for p in (out / "gallery/img").rglob("*")
                  if p.is_file()) == ["lr.png", "sr_clean.png"]  # nothing stale left


def test_missing_saved_file_is_shown_not_linked(attacked_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(attacked_run, run)
    files = saved_row(run, "bicubic", 2)["saved_images"]
    (run / files["sr_adv"]).unlink()
    render_site([run], tmp_path / "site")
    page = (tmp_path / "site/gallery/demo.html").read_text()
    row = gallery_rows(page)[0]
    assert [k for k, src in zip(KINDS, row["src"]) if not src] == ["sr_adv", "diff", "zoom"]
    assert page.count("file missing") == 3
    assert all((tmp_path / "site/gallery" / html.unescape(t)).is_file() for t in re.findall(r'src="([^"]+)"', page))


def test_gallery_in_headless_chromium(site, tmp_path):
    res = run_browser("--virtual-time-budget=5000", "--dump-dom", (site / "gallery/demo.html").as_uri(), tmp=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    body = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', re.search(r"<body([^>]*)>", res.stdout).group(1)))
    assert body["images-loaded"] == "28/28"  # 4 rows x 7 panels, every one decoded (naturalWidth > 0)
    assert body["rows"] == "4"
    shot = tmp_path / "gallery.png"
    res = run_browser("--hide-scrollbars", "--window-size=1280,900", "--virtual-time-budget=5000",
                      f"--screenshot={shot}", (site / "gallery/demo.html").as_uri(), tmp=tmp_path)
    assert res.returncode == 0 and Image.open(shot).size == (1280, 900)


def test_panel_geometry_and_edge_cases():
    from srbench.report.website import PANEL_WIDTH, _lr_display_size, amplified_perturbation, zoom_window

    # LR panels: enlarged by a whole factor while it fits PANEL_WIDTH (152), else shrunk to it
    assert [_lr_display_size(w, 10) for w in (64, 72, 76, 77, 152, 304)] == [
        (128, 20), (144, 20), (152, 20), (77, 10), (152, 10), (152, 5)]
    assert PANEL_WIDTH == 152
    # no perturbation at all is plain mid-gray (no division by zero)
    assert np.array_equal(amplified_perturbation(np.zeros((1, 4, 5), np.float32)), np.full((4, 5, 3), 0.5))
    # identical outputs zoom into the center; otherwise the window holding the change
    img = np.zeros((50, 60, 3))
    assert zoom_window(img, img, 10) == (20, 25)
    changed = img.copy()
    changed[3, 57] = 0.5
    top, left = zoom_window(img, changed, 10)
    assert top <= 3 < top + 10 and left <= 57 < left + 10 and left + 10 <= 60


def test_a_universal_perturbation_is_shown_above_the_images_it_was_evaluated_on(tmp_path):
    run = srbench_run(tmp_path / "universal", "--models", "tiny-edsr", "--limit", "3", "--attack", "universal",
                      "--alpha", "4", "--steps", "2", "--save-images", "1")
    (cell,) = [json.loads(p.read_text()) for p in (run / "cells").glob("*.json")]
    # --save-images 1 keeps the first image the cell is evaluated on (the first two are its training images)
    assert [r["image"] for r in cell["rows"] if "saved_images" in r] == ["coffee"]
    files = cell["rows"][0]["learned_perturbation"]["universal"]
    assert all(r["learned_perturbation"] == {"universal": files} for r in cell["rows"])
    patch = np.load(run / files["npy"]).astype(np.float64)
    assert patch.shape == (3, 32, 32) and (run / files["png"]).is_file()
    # the page holds the patch at the fixed scale 0.5 + delta / (2 eps), enlarged to 128 px (x4)
    render_site([run], tmp_path / "site")
    page = (tmp_path / "site/gallery/demo.html").read_text()
    section = page[page.index('<section id="learned-perturbations">'):page.index("<h2>coffee</h2>")]
    assert "fitted on astronaut, chelsea" in section
    (src,) = re.findall(r'src="([^"]+)"', section)
    expected = np.round(255 * np.clip(0.5 + patch / (2 * 4 / 255), 0, 1)).transpose(1, 2, 0)
    assert np.array_equal(pixels(tmp_path / "site/gallery" / html.unescape(src)),
                          expected.repeat(4, axis=0).repeat(4, axis=1))
    assert np.array_equal(pixels(run / files["png"]), expected)  # what the run kept looks the same
    # without --save-images the page still shows the patch
    bare = srbench_run(tmp_path / "bare", "--models", "tiny-edsr", "--limit", "3", "--attack", "universal",
                       "--alpha", "4", "--steps", "2")
    render_site([bare], tmp_path / "site2")
    page = (tmp_path / "site2/gallery/demo.html").read_text()
    assert "learned-perturbations" in page and "<h2>coffee</h2>" not in page
