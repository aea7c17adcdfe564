"""A static leaderboard site: ``srbench leaderboard --format html --out site/``.

One self-contained folder, usable offline (open ``index.html`` from disk, or
serve it anywhere): no CDN, no external fonts or scripts.

    site/index.html                 one sortable table per dataset x attack, each with its Fig. 7 plot
    site/figures/<dataset>__<attack>.png
    site/runs/<run>/manifest.json   copies of the run manifests each row links to
    site/leaderboard.csv            the same numbers, for scripts

Tables sort by clicking a column header (a few lines of inline JavaScript;
without JavaScript the page still shows every table and figure).

docs/leaderboard-site.png was made with::

    srbench run && srbench run --models bicubic,tiny-edsr --attack none --out results/runs/clean
    srbench leaderboard results/runs/quickstart results/runs/clean --format html --out site
    chromium --headless --no-sandbox --hide-scrollbars --window-size=1280,900 --screenshot=docs/leaderboard-site.png site/index.html
"""
from __future__ import annotations

import datetime as dt
import html
import re
import shutil
from pathlib import Path
from typing import Iterable

import pandas as pd

from srbench.errors import UserError
from srbench.leaderboard import GROUP_KEYS, aggregate, find_runs, load_rows
from srbench.store import atomic_write_text, writable_dir

# name -> (header, higher is better?, description); columns not listed are shown under their own name
METRIC_INFO: dict[str, tuple[str, bool | None, str]] = {
    "n_images": ("images", None, "images averaged"),
    "psnr_y": ("PSNR-Y", True, "clean output vs HR, Y channel (BT.601), border of `scale` px shaved, 8-bit output"),
    "ssim_y": ("SSIM-Y", True, "clean output vs HR, same convention as PSNR-Y"),
    "psnr_rgb": ("PSNR-RGB", True, "clean output vs HR on RGB in [0, 1]"),
    "ssim_rgb": ("SSIM-RGB", True, "clean output vs HR on RGB"),
    "adv_output_psnr": ("adv. output PSNR", True,
                        "robustness (Eq. 9): PSNR between outputs on the clean and attacked input, same seeds"),
    "adv_output_psnr_fresh": ("adv. output PSNR (fresh seeds)", True, "as above, with seeds the attack never saw"),
    "adv_input_psnr": ("AI-PSNR", True, "PSNR between the clean and attacked input (the attack's strength)"),
    "adv_psnr_hr": ("attacked PSNR vs HR", True, "attacked output vs HR on RGB"),
    "adv_psnr_y": ("attacked PSNR-Y vs HR", True, "attacked output vs HR, Y channel convention"),
    "niqe": ("NIQE", False, "no-reference naturalness of the clean output (Mittal et al.; basicsr's implementation, "
                            "Y channel, border of `scale` px shaved)"),
    "training": ("training", None, "how the model was trained (pixel loss, GAN, flow), from its card"),
    "gray_convention": ("gray conv.", None, "how grayscale ground truth was scored: basicsr (Y of 3 equal channels) "
                                            "or matlab (raw gray)"),
    "diversity_std": ("diversity", None, "per-pixel std over samples of the clean input (stochastic models)"),
    "linf": ("L-inf", None, "L-inf norm of the perturbation"),
    "l2": ("L2", None, "L2 norm of the perturbation"),
    "lipschitz_k": ("Lipschitz K", False, "empirical local Lipschitz constant ||f(y+d)-f(y)|| / ||d||"),
}

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def _slug(text: str) -> str:
    return _SLUG.sub("_", str(text)).strip("_") or "x"


def _fmt(value) -> tuple[str, str]:
    """(text shown, value sorted on)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "", ""
    if isinstance(value, float):
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
    return tuple(None if pd.isna(row[k]) else row[k] for k in GROUP_KEYS)


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
window.addEventListener('load',()=>{
  const imgs=[...document.images], ok=imgs.filter(i=>i.complete&&i.naturalWidth>0).length;
  document.body.dataset.imagesLoaded=ok+'/'+imgs.length;
  document.body.dataset.rows=document.querySelectorAll('tbody tr').length;
});
"""


def _table_html(sub: pd.DataFrame, metrics: list[str], run_links: dict[tuple, list[str]]) -> str:
    cols = ["model", "scale", "alpha", "n_images", *metrics]
    head = "".join(
        f'<th title="{html.escape(METRIC_INFO.get(c, (c, None, c))[2])}">'
        f"{html.escape(METRIC_INFO.get(c, (c, None, ''))[0]).replace('-', '&#8209;')}</th>" for c in cols) + "<th>run</th>"
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


def render_site(runs: Iterable[str | Path] = (), out_dir: str | Path = "site", title: str = "srbench leaderboard") -> Path:
    """Write the static site for the given run folders (default: every run under results/runs)."""
    import srbench
    from srbench.plots import fig7

    run_dirs = find_runs(runs)
    df = load_rows(run_dirs)
    table = aggregate(df)
    out = writable_dir(out_dir, "site folder")
    for sub in ("figures", "runs"):
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)  # a re-render never keeps stale figures or manifests
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

    metrics = [c for c in table.columns if c not in GROUP_KEYS + ["n_images"]]
    sections, nav = [], []
    for (dataset, attack), sub in table.groupby(["dataset", "attack"], sort=True):
        sub = sub.sort_values(["scale", "alpha", "model"], na_position="first")
        shown = [m for m in metrics if sub[m].notna().any()]
        anchor = _slug(f"{dataset}__{attack}")
        nav.append(f'<a href="#{anchor}">{html.escape(f"{dataset} / {attack}")}</a>')
        fig_html = ""
        if sub["alpha"].notna().any() and sub["adv_output_psnr"].notna().any():
            fig_path = out / "figures" / f"{anchor}.png"
            fig7(sub, fig_path)
            fig_html = (f'<img class="fig" src="figures/{fig_path.name}" '
                        f'alt="adversarial output and input PSNR against alpha, {html.escape(dataset)}, '
                        f'{html.escape(attack)}">')
        sections.append(
            f'<section id="{anchor}"><h2>{html.escape(str(dataset))} &middot; {html.escape(str(attack))}</h2>'
            f"{_table_html(sub, shown, run_links)}{fig_html}</section>")
    if not sections:
        raise UserError("the runs hold no finished cells yet")

    legend = "".join(f"<dt>{html.escape(label)}</dt><dd>{html.escape(desc)}"
                     f"{'' if better is None else (' (higher is better)' if better else ' (lower is better)')}</dd>"
                     for key, (label, better, desc) in METRIC_INFO.items() if key in table.columns)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="meta">{len(table)} rows from {len(run_dirs)} run(s), mean over images per model &times; dataset &times; scale
&times; attack &times; alpha (alpha in units of 1/255). Generated {now} by srbench {html.escape(srbench.__version__)}.
Click a column header to sort; each row links to the manifest of the run that produced it.
Numbers also in <a href="leaderboard.csv">leaderboard.csv</a>.</p>
<nav>{"".join(nav)}</nav>
{"".join(sections)}
<section><h2>Columns</h2><dl>{legend}</dl></section>
<script>{JS}</script>
</body></html>
"""
    atomic_write_text(out / "leaderboard.csv", table.to_csv(index=False))
    atomic_write_text(out / "index.html", page)
    return out / "index.html"
