"""A static leaderboard site: ``srbench leaderboard --format html --out site/``.

One self-contained folder, usable offline (open ``index.html`` from disk, or
serve it anywhere): no CDN, no external fonts or scripts.

    site/index.html                 one sortable table per dataset x attack, each with its Fig. 7 plot
    site/figures/<dataset>__<attack>.png
    site/runs/<run>/manifest.json   copies of the run manifests each row links to
    site/leaderboard.csv            the same numbers, for scripts
    site/gallery/<dataset>.html     the images a run kept (``srbench run --save-images``), one row per model x alpha
    site/gallery/img/<dataset>/...  their panels, small PNGs rendered for the page (never the full-size files)

Tables sort by clicking a column header (a few lines of inline JavaScript;
without JavaScript the page still shows every table and figure).

docs/leaderboard-site.png was made with::

    srbench run && srbench run --models bicubic,tiny-edsr --attack none --out results/runs/clean
    srbench leaderboard results/runs/quickstart results/runs/clean --format html --out site
    chromium --headless --no-sandbox --hide-scrollbars --window-size=1280,900 --screenshot=docs/leaderboard-site.png site/index.html

The gallery shows, per image a run kept, one row per model x alpha: LR, attacked LR, the perturbation
amplified, clean and attacked outputs, their difference amplified, and a zoom of the attacked output
(the page states each gain and where the zoom is). docs/gallery.png was made with (real x4 models on
Set5 bird, 10-step I-FGSM to keep it quick on a CPU)::

    srbench run --models bicubic,imdn,swiftsrgan --datasets set5 --data-root ../shared/data/sr-benchmarks \
        --limit 2 --alpha 2,8 --steps 10 --save-images bird --weights imdn=../shared/weights/IMDN_x4.pth \
        --weights swiftsrgan=../shared/weights/swift_srgan_4x.pth --out /tmp/galleryrun
    srbench leaderboard /tmp/galleryrun --format html --out /tmp/gallerysite
    chromium --headless --no-sandbox --hide-scrollbars --window-size=1280,1330 --screenshot=docs/gallery.png \
        /tmp/gallerysite/gallery/set5.html
"""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import math
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Iterable

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

import srbench
from srbench.core.errors import UserError
from srbench.core.metric_table import BY_NAME, COLUMNS
from srbench.data.images import read_image
from srbench.files import atomic_path, atomic_write_text, writable_dir
from srbench.report.leaderboard import GROUP_KEYS, aggregate, find_runs, load_rows
from srbench.report.plots import budget_label, dataset_order, fig7

BETTER = {True: " (higher is better)", False: " (lower is better)"}

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def _slug(text: str) -> str:
    return _SLUG.sub("_", str(text)).strip("_") or "x"


def _fmt(value) -> tuple[str, str]:
    """(text shown, value sorted on)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "", ""
    if isinstance(value, float):
        if math.isinf(value):  # e.g. an attack that never moved the input (PSNR of identical images)
            return ("inf" if value > 0 else "-inf"), ("Infinity" if value > 0 else "-Infinity")  # JS parseFloat
        if value == int(value) and abs(value) < 1e6:
            return f"{value:g}", repr(value)
        return f"{value:.3f}", repr(value)
    return str(value), str(value)


def _runs_per_group(df: pd.DataFrame) -> dict[tuple, list[str]]:
    """Which run folders the rows of each leaderboard row come from (after the newest-wins dedup)."""
    df = df.sort_values("time").drop_duplicates(GROUP_KEYS + ["image"], keep="last") if "time" in df else df
    keyed = df[GROUP_KEYS + ["run"]].astype(object).where(df[GROUP_KEYS + ["run"]].notna(), None)
    out: dict[tuple, list[str]] = {}
    for rec in keyed.itertuples(index=False):
        key = tuple(rec[:-1])
        if rec[-1] not in out.setdefault(key, []):
            out[key].append(rec[-1])
    return out


def _key(row: pd.Series) -> tuple:
    """A leaderboard row's group (a key the table does not show, e.g. attack_variant, counts as empty)."""
    return tuple(None if k not in row or pd.isna(row[k]) else row[k] for k in GROUP_KEYS)


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#1b1f24}
h1{margin-bottom:4px} .meta{color:#57606a;font-size:14px}
section{margin:32px 0;border-top:1px solid #d0d7de;padding-top:8px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{padding:4px 8px;border-bottom:1px solid #eaeef2;text-align:right;white-space:nowrap}
th{background:#f6f8fa;cursor:pointer;user-select:none;white-space:normal;vertical-align:bottom;max-width:96px}
.scroll{overflow-x:auto}
th:first-child,td:first-child{text-align:left}
th.asc::after{content:" \\25B2"} th.desc::after{content:" \\25BC"}
tr:hover td{background:#f3f8ff}
img.fig{max-width:min(100%,560px);border:1px solid #eaeef2;margin-top:8px}
nav a{margin-right:12px} dl{font-size:13px} dt{font-weight:600} dd{margin:0 0 6px 16px;color:#57606a}
"""

JS = """
function sortTable(th){
  const table=th.closest('table'), idx=[...th.parentNode.children].indexOf(th);
  const asc=!th.classList.contains('asc');
  table.querySelectorAll('th').forEach(h=>h.classList.remove('asc','desc'));
  th.classList.add(asc?'asc':'desc');
  const body=table.tBodies[0], rows=[...body.rows];
  const val=r=>r.cells[idx].dataset.v;
  rows.sort((a,b)=>{
    const x=val(a), y=val(b);
    if(x===''&&y==='') return 0; if(x==='') return 1; if(y==='') return -1;
    const nx=parseFloat(x), ny=parseFloat(y);
    const c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);
    return asc?c:-c;
  });
  rows.forEach(r=>body.appendChild(r));
}
document.querySelectorAll('th').forEach(th=>th.addEventListener('click',()=>sortTable(th)));
"""

# how many images decoded and how many rows the page has, read by the headless-browser tests
LOADED_JS = """
window.addEventListener('load',()=>{
  const imgs=[...document.images], ok=imgs.filter(i=>i.complete&&i.naturalWidth>0).length;
  document.body.dataset.imagesLoaded=ok+'/'+imgs.length;
  document.body.dataset.rows=document.querySelectorAll('tbody tr').length;
});
"""


def _budget_columns(sub: pd.DataFrame) -> list[str]:
    """alpha, and the budget beside it where the budget is not alpha (an L2 attack's eps)."""
    return ["alpha"] + (["budget"] if (sub["budget"].notna() & (sub["budget"] != sub["alpha"])).any() else [])


def _header(column: str, budget_text: str) -> tuple[str, str]:
    """(header, tooltip) of a table column: the metric table's, or the budget with its attack's unit."""
    if column == "budget":
        return budget_text, "the budget the attack sweeps, in the unit the attack declares"
    info = BY_NAME.get(column)
    return (info.header, info.description) if info else (column, column)


def _table_html(sub: pd.DataFrame, metrics: list[str], run_links: dict[tuple, list[str]], budget_text: str) -> str:
    variant = ["attack_variant"] if "attack_variant" in sub and sub["attack_variant"].notna().any() else []
    cols = ["model", *variant, "scale", *_budget_columns(sub), "n_images", *metrics]
    head = "".join(f'<th title="{html.escape(tip)}">{html.escape(label).replace("-", "&#8209;")}</th>'
                   for label, tip in (_header(c, budget_text) for c in cols)) + "<th>run</th>"
    body = []
    for _, row in sub.iterrows():
        cells = []
        for c in cols:
            text, sort = _fmt(row[c].item() if hasattr(row[c], "item") else row[c])
            cells.append(f'<td data-v="{html.escape(sort)}">{html.escape(text)}</td>')
        links = run_links.get(_key(row), [])
        link_html = " ".join(f'<a href="{html.escape(href)}">{html.escape(label)}</a>' for label, href in links)
        cells.append(f'<td data-v="{html.escape(" ".join(label for label, _ in links))}">{link_html}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table class="board"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


# ---- the gallery: what the attacks did to the images a run kept (srbench run --save-images) ----

PANEL_WIDTH = 152  # display width of a panel in px: a label column and 7 panels fit a 1280 px window
DIFF_GAIN = 10  # |attacked - clean output| is shown times this, clipped at 1, the same for every row
ZOOM = 4  # the zoom panel enlarges ZOOM_CROP x ZOOM_CROP output pixels this many times (nearest neighbour)
ZOOM_CROP = PANEL_WIDTH // ZOOM
BOX_COLOR = (255, 212, 0)  # marks the zoomed window on the attacked output
PANELS = [("lr", "LR"), ("lr_adv", "attacked LR"), ("delta", "perturbation (amplified)"),
          ("sr_clean", "clean output"), ("sr_adv", "attacked output"),
          ("diff", f"|attacked &minus; clean| &times;{DIFF_GAIN}"), ("zoom", f"attacked output, zoom &times;{ZOOM}")]

GALLERY_CSS = """
body{max-width:none;margin:24px 16px}
table.gallery td,table.gallery th{padding:2px 3px;vertical-align:top;text-align:center;white-space:normal}
table.gallery th{cursor:default;max-width:156px;font-weight:600}
table.gallery th.row{text-align:left;width:128px;min-width:128px;font-weight:normal}
table.gallery img{display:block;image-rendering:pixelated}
.num{color:#57606a;font-size:12px} .missing{color:#cf222e;font-size:12px}
"""


def amplified_perturbation(delta: np.ndarray) -> np.ndarray:
    """H x W x 3 in [0, 1]: 0.5 + delta * 0.5 / max|delta|, so the pattern fills the range at any alpha (gray: 0)."""
    delta = np.asarray(delta, dtype=np.float64)
    delta = np.repeat(delta, 3, axis=0) if delta.shape[0] == 1 else delta
    peak = np.abs(delta).max()
    return (0.5 + delta * (0.5 / peak) if peak > 0 else np.full_like(delta, 0.5)).transpose(1, 2, 0)


def amplified_difference(clean: np.ndarray, attacked: np.ndarray) -> np.ndarray:
    """|attacked - clean| per channel times DIFF_GAIN, clipped at 1 (one fixed gain, so rows compare)."""
    return np.clip(np.abs(attacked - clean) * DIFF_GAIN, 0.0, 1.0)


def zoom_window(clean: np.ndarray, attacked: np.ndarray, side: int) -> tuple[int, int]:
    """(top, left) of the side x side window where the outputs differ most (sum of |difference|).

    Why a window and not the single largest pixel: one outlier pixel says little; the zoom should
    show where the attack changed the picture. Identical outputs zoom into the center.
    """
    diff = np.abs(attacked - clean).sum(axis=2)
    sums = np.pad(diff.cumsum(0).cumsum(1), ((1, 0), (1, 0)))  # integral image
    windows = sums[side:, side:] - sums[:-side, side:] - sums[side:, :-side] + sums[:-side, :-side]
    if windows.max() <= 0:
        return (diff.shape[0] - side) // 2, (diff.shape[1] - side) // 2
    top, left = np.unravel_index(np.argmax(windows), windows.shape)
    return int(top), int(left)


def _lr_display_size(width: int, height: int) -> tuple[int, int]:
    """The panel size of an LR image: enlarged by a whole factor (nearest neighbour) up to PANEL_WIDTH, or shrunk to it."""
    factor = PANEL_WIDTH // width if width <= PANEL_WIDTH else PANEL_WIDTH / width
    return max(1, round(width * factor)), max(1, round(height * factor))


def _panel(pixels: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """An H x W x 3 [0, 1] array rounded to 8 bits and resized for the page.

    Enlarged by nearest neighbour, so the pixels a model sees stay visible; shrunk by area
    averaging (box filter), so a shrunk output does not alias.
    """
    img = Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8))
    if img.size == size:
        return img
    return img.resize(size, Image.NEAREST if size[0] >= img.size[0] else Image.BOX)


def _saved_file(run: str, rel: str | None) -> Path | None:
    """A file a row says it saved, if it is there and inside its run folder."""
    if not rel:
        return None
    root = Path(run).resolve()
    path = (root / rel).resolve()
    return path if path.is_file() and path.is_relative_to(root) else None


def _load_saved(row: pd.Series) -> dict[str, np.ndarray | None]:
    """kind -> the saved array (images H x W x 3 float64, delta C x h x w), None where the file is missing."""
    files = {kind: _saved_file(row["run"], row["saved_images"].get(kind))
             for kind in ("lr", "lr_adv", "delta", "sr_clean", "sr_adv")}
    arrays = {kind: None if path is None else read_image(path)[0].permute(1, 2, 0).numpy().astype(np.float64)
              for kind, path in files.items() if kind != "delta"}
    arrays["delta"] = None
    if files["delta"] is not None:
        try:
            arrays["delta"] = np.load(files["delta"], allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read perturbation {files['delta']}: {exc.__class__.__name__}; "
                            f"re-run the `srbench run` command that saved it") from None
    return arrays


def _panel_size(saved: dict[str, np.ndarray | None], scale: int) -> tuple[int, int] | None:
    """One display size for every panel of a row: the LR's (outputs are `scale` times larger)."""
    for kind, factor in (("lr", 1), ("lr_adv", 1), ("sr_clean", scale), ("sr_adv", scale)):
        if saved[kind] is not None:
            height, width = saved[kind].shape[:2]
            return _lr_display_size(width // factor, height // factor)
    return None


def _write_panel(img: Image.Image, folder: Path, name: str, written: dict[str, str]) -> str:
    """Write ``img`` as folder/name unless an identical panel is already written; return the file's name.

    Why: the LR is the same in every row of an image, and a deterministic model's clean output in every
    row of that model: one file each keeps a site with a gallery a quarter smaller.
    """
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    if digest not in written:
        with atomic_path(folder / name) as tmp:
            tmp.write_bytes(data)
        written[digest] = name
    return written[digest]


def _render_panels(row: pd.Series, folder: Path, stem: str, written: dict[str, str]
                   ) -> tuple[dict[str, Image.Image | None], dict[str, str], tuple | None]:
    """Write the panels of one saved image of one cell as folder/<stem>__<kind>.png (or reuse an identical one).

    Returns kind -> panel (None where an input is missing), kind -> its file's name, and the zoomed window
    (top, left, side) of the output.
    """
    saved = _load_saved(row)
    size = _panel_size(saved, int(row["scale"]))
    lr, lr_adv, delta, clean, attacked = (saved[k] for k in ("lr", "lr_adv", "delta", "sr_clean", "sr_adv"))
    panels: dict[str, Image.Image | None] = dict.fromkeys(kind for kind, _ in PANELS)
    window = None
    if size is None:
        return panels, {}, window
    shown = {"lr": lr, "lr_adv": lr_adv, "delta": None if delta is None else amplified_perturbation(delta),
             "sr_clean": clean, "sr_adv": attacked}
    for kind, pixels in shown.items():
        panels[kind] = None if pixels is None else _panel(pixels, size)
    if clean is not None and attacked is not None:
        side = min(ZOOM_CROP, *clean.shape[:2])
        top, left = zoom_window(clean, attacked, side)
        panels["diff"] = _panel(amplified_difference(clean, attacked), size)
        panels["zoom"] = _panel(attacked[top:top + side, left:left + side], (side * ZOOM, side * ZOOM))
        window = (top, left, side)
        f = size[0] / attacked.shape[1]  # mark the zoomed window on the attacked output
        ImageDraw.Draw(panels["sr_adv"]).rectangle(
            [round(left * f), round(top * f), round((left + side) * f) - 1, round((top + side) * f) - 1], outline=BOX_COLOR)
    names = {kind: _write_panel(img, folder, f"{stem}__{kind}.png", written)
             for kind, img in panels.items() if img is not None}
    return panels, names, window


def gallery_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that kept images (newest per cell and image, as the tables count them), in gallery order."""
    if "saved_images" not in df:
        return df.iloc[:0]
    df = df[df["saved_images"].map(lambda v: isinstance(v, dict) and bool(v))]
    df = df.sort_values("time").drop_duplicates(GROUP_KEYS + ["image"], keep="last") if "time" in df else df
    return df.sort_values(["dataset", "image", "model", "scale", "attack", "alpha", "budget"], na_position="first")


def _row_label(row: pd.Series) -> str:
    """Model, scale and attack strength, then this image's numbers (the caption of the row)."""
    attack = html.escape(str(row["attack"]))
    if row["attack"] == "none" or (pd.isna(row["alpha"]) and pd.isna(row["budget"])):
        strength = "no attack"
    elif pd.notna(row["alpha"]):
        strength = f"{attack}, &alpha; = {row['alpha']:g}/255"
    else:
        strength = f"{attack}, &epsilon; = {row['budget']:g}"
    numbers = "".join(f"<br><span class=num>{label} {row[col]:.2f} dB</span>"
                      for col, label in (("adv_output_psnr", "adv. output PSNR"), ("adv_input_psnr", "AI-PSNR"))
                      if pd.notna(row.get(col)))
    return f'<th class="row"><b>{html.escape(str(row["model"]))}</b> &times;{int(row["scale"])}<br>{strength}{numbers}</th>'


def _panel_cell(kind: str, label: str, img: Image.Image | None, src: str, row: pd.Series, window: tuple | None) -> str:
    """One panel of a row; a file the row names but the run folder lacks is said, never linked."""
    if img is None:
        expected = kind in row["saved_images"] or (kind in ("diff", "zoom") and "sr_adv" in row["saved_images"])
        return f'<td>{"<span class=missing>file missing</span>" if expected else ""}</td>'
    title = label
    if kind == "zoom":
        top, left, side = window
        title += f": output pixels x {left}..{left + side - 1}, y {top}..{top + side - 1}"
    return (f'<td><img src="{html.escape(src)}" width="{img.size[0]}" height="{img.size[1]}" '
            f'alt="{label}, {html.escape(str(row["model"]))}" title="{title}"></td>')


def _gallery_section(image: str, rows: pd.DataFrame, img_dir: Path, href_dir: str) -> str:
    """One image of a dataset: a table with one row per model x attack x alpha."""
    body, used, written = [], set(), {}
    for _, row in rows.iterrows():
        stem = _slug(PurePosixPath(next(iter(row["saved_images"].values()))).parent.name)  # the cell id
        while stem in used:
            stem += "_"
        used.add(stem)
        panels, names, window = _render_panels(row, img_dir, stem, written)
        cells = "".join(_panel_cell(kind, label, panels[kind], f"{href_dir}/{names.get(kind)}", row, window)
                        for kind, label in PANELS)
        body.append(f"<tr>{_row_label(row)}{cells}</tr>")
    head = "<th class=row>model, attack</th>" + "".join(f"<th>{label}</th>" for _, label in PANELS)
    return (f'<section id="{_slug(image)}"><h2>{html.escape(image)}</h2><div class="scroll"><table class="gallery">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div></section>")


GALLERY_NOTE = f"""<p class="meta">Each row: one model at one attack strength, on the image a run kept with
<code>srbench run --save-images</code> (the first seed). LR panels are enlarged by a whole factor with nearest
neighbour (or shrunk to {PANEL_WIDTH} px); outputs are shrunk to the same width by area averaging. The perturbation
&delta; (attacked minus clean LR, exact float) is shown as 0.5 + &delta; &times; 0.5 / max|&delta;| in each row:
mid-gray is no change, and the largest |&delta;| (alpha for I-FGSM) is black or white. The difference of
the outputs is |attacked &minus; clean| per channel &times; {DIFF_GAIN}, clipped, the same gain in every row.
The zoom enlarges {ZOOM}&times; (nearest neighbour) the {ZOOM_CROP}&times;{ZOOM_CROP} output pixels of the
attacked output where it differs most from the clean one (sum of |difference|; the yellow box).
The numbers are this image's: adversarial output PSNR (clean vs attacked output) and AI-PSNR (clean vs attacked
input).</p>"""


def learned_rows(df: pd.DataFrame) -> pd.DataFrame:
    """One row per cell whose attack learned a perturbation it kept (e.g. universal), newest per cell."""
    if "learned_perturbation" not in df:
        return df.iloc[:0]
    df = df[df["learned_perturbation"].map(lambda v: isinstance(v, dict) and bool(v))]
    df = df.sort_values("time").drop_duplicates(GROUP_KEYS, keep="last") if "time" in df else df
    return df.sort_values(["dataset", "model", "scale", "attack", "alpha", "budget"], na_position="first")


def learned_panel(delta: np.ndarray, eps: float) -> np.ndarray:
    """H x W x 3 in [0, 1]: 0.5 + delta / (2 eps), as the saved PNG (mid-gray 0, black/white -eps/+eps), so
    patches of different models at one budget compare directly."""
    delta = np.asarray(delta, dtype=np.float64)
    delta = np.repeat(delta, 3, axis=0) if delta.shape[0] == 1 else delta
    return np.clip(0.5 + delta / (2 * eps), 0, 1).transpose(1, 2, 0) if eps > 0 else np.full(delta.shape[::-1], 0.5)


def _learned_section(rows: pd.DataFrame, img_dir: Path, href_dir: str) -> str:
    """The perturbations attacks learned for this dataset (one row per cell and learned tensor)."""
    body = []
    for _, row in rows.iterrows():
        for name, files in sorted(row["learned_perturbation"].items()):
            path = _saved_file(row["run"], files.get("npy"))
            cell = PurePosixPath(files.get("npy", "")).parent.name
            label = _row_label(row).replace("</th>", f"<br><span class=num>{html.escape(name)}, fitted on "
                                            f"{html.escape(', '.join(row.get('universal_train_images') or []))}"
                                            f"</span></th>")
            if path is None:
                body.append(f"<tr>{label}<td><span class=missing>file missing</span></td></tr>")
                continue
            try:
                delta = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise UserError(f"cannot read perturbation {path}: {exc.__class__.__name__}; "
                                f"re-run the `srbench run` command that saved it") from None
            side = delta.shape[-1]
            img = _panel(learned_panel(delta, float(row["eps"])), _lr_display_size(side, delta.shape[-2]))
            stem = f"{_slug(cell)}__{_slug(name)}"
            with atomic_path(img_dir / f"{stem}.png") as tmp:
                img.save(tmp, format="PNG")
            body.append(f'<tr>{label}<td><img src="{html.escape(f"{href_dir}/{stem}.png")}" width="{img.size[0]}" '
                        f'height="{img.size[1]}" alt="{html.escape(name)} perturbation, {html.escape(str(row["model"]))}"'
                        f' title="{delta.shape[-2]} x {side} LR pixels, tiled over every test image"></td></tr>')
    return ('<section id="learned-perturbations"><h2>Learned perturbations</h2><p class="meta">One perturbation per '
            "cell, fitted on the images named and added, tiled from the top-left corner, to every other image. "
            "Shown as 0.5 + &delta; / (2 &epsilon;): mid-gray is no change, black and white are &minus;&epsilon; and "
            "+&epsilon; (the same scale in every row).</p><div class=\"scroll\"><table class=\"gallery\"><tbody>"
            f"{''.join(body)}</tbody></table></div></section>")


def render_gallery(df: pd.DataFrame, out: Path, title: str) -> dict[str, str]:
    """Write gallery/<dataset>.html for every dataset with saved images or learned perturbations;
    dataset -> link from index.html."""
    rows, learned = gallery_rows(df), learned_rows(df)
    datasets = dataset_order([str(d) for d in rows["dataset"].unique()] + [str(d) for d in learned["dataset"].unique()])
    pages = {d: f"gallery/{_slug(d)}.html" for d in datasets}
    nav = ('<a href="../index.html">leaderboard</a>' +
           "".join(f'<a href="{html.escape(Path(h).name)}">gallery: {html.escape(d)}</a>' for d, h in pages.items()))
    for dataset in datasets:
        img_dir = out / "gallery" / "img" / _slug(dataset)
        sub, fitted = rows[rows["dataset"].astype(str) == dataset], learned[learned["dataset"].astype(str) == dataset]
        sections = [_learned_section(fitted, img_dir / "learned", f"img/{_slug(dataset)}/learned")] if len(fitted) else []
        sections += [_gallery_section(str(image), per_image, img_dir / _slug(image), f"img/{_slug(dataset)}/{_slug(image)}")
                     for image, per_image in sub.groupby("image", sort=True)]
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(f"{title}: gallery, {dataset}")}</title><style>{CSS}{GALLERY_CSS}</style></head>
<body>
<h1>Gallery &middot; {html.escape(str(dataset))}</h1>
<nav>{nav}</nav>
{GALLERY_NOTE}
{"".join(sections)}
<script>{LOADED_JS}</script>
</body></html>
"""
        atomic_write_text(out / pages[dataset], page)
    return pages


def _gallery_link(href: str | None, dataset) -> str:
    """The line under a dataset's table that leads to its gallery (nothing when the runs kept no images)."""
    if href is None:
        return ""
    return (f'<p><a href="{html.escape(href)}">Gallery of {html.escape(str(dataset))}</a>: the saved inputs, '
            f"perturbations and outputs, one row per model &times; alpha.</p>")


def render_site(runs: Iterable[str | Path] = (), out_dir: str | Path = "site", title: str = "srbench leaderboard") -> Path:
    """Write the static site for the given run folders (default: every run under results/runs)."""
    run_dirs = find_runs(runs)
    df = load_rows(run_dirs)
    table = aggregate(df)
    out = writable_dir(out_dir, "site folder")
    for sub in ("figures", "runs", "gallery"):
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)  # a re-render never keeps stale figures, manifests or gallery panels
    (out / "figures").mkdir()

    # copies of the manifests, so each row links to what produced it even when the site is moved
    run_href: dict[str, tuple[str, str]] = {}
    used: set[str] = set()
    for run in run_dirs:
        label = _slug(Path(run).resolve().name)
        while label in used:
            label += "_"
        used.add(label)
        manifest = Path(run) / "manifest.json"
        if manifest.is_file():
            (out / "runs" / label).mkdir(parents=True)
            shutil.copyfile(manifest, out / "runs" / label / "manifest.json")
            run_href[str(run)] = (label, f"runs/{label}/manifest.json")
        else:
            run_href[str(run)] = (label, "")
    run_links = {k: [run_href[r] for r in rs if r in run_href] for k, rs in _runs_per_group(df).items()}
    run_links = {k: [(lab, href) for lab, href in v if href] for k, v in run_links.items()}

    galleries = render_gallery(df, out, title)
    metrics = [c for c in table.columns if c not in GROUP_KEYS + ["n_images"]]
    sections, nav = [], []
    groups, order = dict(iter(table.groupby(["dataset", "attack"]))), dataset_order(table["dataset"])
    for dataset, attack in sorted(groups, key=lambda key: (order.index(key[0]), key[1])):  # Set5 first
        sub = groups[(dataset, attack)].sort_values(["scale", "alpha", "budget", "model"], na_position="first")
        shown = [m for m in metrics if sub[m].notna().any()]
        anchor = _slug(f"{dataset}__{attack}")
        nav.append(f'<a href="#{anchor}">{html.escape(f"{dataset} / {attack}")}</a>')
        fig_html = ""
        budget_text = budget_label(attack, df[(df["dataset"] == dataset) & (df["attack"] == attack)])
        budgeted = sub["alpha"].notna() | sub["budget"].notna()
        if (budgeted & sub["adv_output_psnr"].notna()).any():
            fig_path = out / "figures" / f"{anchor}.png"
            fig7(sub, fig_path, budget_text)
            x_text = "alpha (1/255)" if sub["alpha"].notna().any() else budget_text
            fig_html = (f'<img class="fig" src="figures/{fig_path.name}" '
                        f'alt="adversarial output and input PSNR against {html.escape(x_text)}, '
                        f'{html.escape(dataset)}, {html.escape(attack)}">')
        sections.append(
            f'<section id="{anchor}"><h2>{html.escape(str(dataset))} &middot; {html.escape(str(attack))}</h2>'
            f"{_table_html(sub, shown, run_links, budget_text)}{fig_html}{_gallery_link(galleries.get(str(dataset)), dataset)}</section>")
    if not sections:
        raise UserError("the runs hold no finished cells yet")
    nav += [f'<a href="{html.escape(href)}">gallery: {html.escape(d)}</a>' for d, href in galleries.items()]

    legend = "".join(f"<dt>{html.escape(c.header)}</dt><dd>{html.escape(c.description)}"
                     f"{'' if c.higher_is_better is None else BETTER[c.higher_is_better]}</dd>"
                     for c in COLUMNS if c.name in table.columns)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="meta">{len(table)} rows from {len(run_dirs)} run(s), mean over images per model &times; dataset &times; scale
&times; attack &times; budget (alpha in units of 1/255; another budget in the unit its attack declares). Generated {now} by srbench {html.escape(srbench.__version__)}.
Click a column header to sort; each row links to the manifest of the run that produced it.
Numbers also in <a href="leaderboard.csv">leaderboard.csv</a>.</p>
<nav>{"".join(nav)}</nav>
{"".join(sections)}
<section><h2>Columns</h2><dl>{legend}</dl></section>
<script>{JS}{LOADED_JS}</script>
</body></html>
"""
    atomic_write_text(out / "leaderboard.csv", table.to_csv(index=False))
    atomic_write_text(out / "index.html", page)
    return out / "index.html"
