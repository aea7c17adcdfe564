"""The static leaderboard site: files, offline use, and a real headless Chromium rendering it.

The browser tests need Debian's ``chromium`` (``apt-get install -y chromium``) and skip without it.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from srbench.report.leaderboard import leaderboard
from srbench.report.website import render_site


def chromium() -> str | None:
    for name in (os.environ.get("SRBENCH_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def run_browser(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    exe = chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two small runs: an attacked sweep of two models, and a clean-only run."""
    from srbench.bench.runner import run_suite
    from srbench.bench.suite import build_suite

    root = tmp_path_factory.mktemp("runs")
    run_suite(build_suite({"name": "sweep", "models": ["bicubic", "tiny-edsr"], "datasets": ["demo"], "limit": 1,
                           "attack": {"name": "ifgsm", "steps": 2}, "alphas": [1, 4], "device": "cpu"}),
              root / "sweep", quiet=True)
    run_suite(build_suite({"name": "clean", "models": ["bicubic"], "datasets": ["demo"], "limit": 1,
                           "attack": "none", "device": "cpu"}), root / "clean", quiet=True)
    return [root / "sweep", root / "clean"]


@pytest.fixture(scope="module")
def site(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    index = render_site(runs, out)
    assert index == out / "index.html"
    return out


def test_site_files_and_links(site, runs):
    page = (site / "index.html").read_text()
    table = leaderboard(runs)
    # self-contained: nothing fetched from the network
    assert not re.search(r'(src|href)="(https?:)?//', page)
    # every local link and image exists
    targets = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert targets and all((site / html.unescape(t)).is_file() for t in targets), targets
    # one section per dataset x attack, one figure where there are alphas
    assert re.findall(r'<section id="([^"]+)">', page) == ["demo__ifgsm", "demo__none"]
    assert [p.name for p in (site / "figures").iterdir()] == ["demo__ifgsm.png"]
    assert page.count("<thead>") == 2 and page.count("<tr>") - 2 == len(table)  # 2 header rows + one per row
    # each row links to the manifest of the run that produced it
    links = re.findall(r'<a href="(runs/[^"]+/manifest.json)">', page)
    assert sorted(set(links)) == ["runs/clean/manifest.json", "runs/sweep/manifest.json"]
    assert json.loads((site / "runs/sweep/manifest.json").read_text())["suite"]["name"] == "sweep"
    csv = pd.read_csv(site / "leaderboard.csv")
    assert len(csv) == len(table) and set(csv["model"]) == {"bicubic", "tiny-edsr"}


def test_cli_html(runs, tmp_path, cli):
    res = cli("leaderboard", *map(str, runs), "--format", "html", "--out", str(tmp_path / "site"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "site/index.html").is_file() and (tmp_path / "site/figures/demo__ifgsm.png").is_file()
    res = cli("leaderboard", str(runs[1]), "--format", "csv", "--out", str(tmp_path / "board.csv"))
    assert res.returncode == 0 and len(pd.read_csv(tmp_path / "board.csv")) == 1


SORT_PROBE = """<script>
window.addEventListener('load', () => {
  const table = document.querySelector('table.board');
  const th = [...table.querySelectorAll('th')].find(h => h.textContent.startsWith('adv. output PSNR'));
  th.click(); th.click();  // descending
  document.body.dataset.sorted = [...table.tBodies[0].rows].map(r => r.cells[0].textContent + '@' +
                                                                  r.cells[2].textContent).join(',');
});
</script></body>"""


def test_page_in_headless_chromium(site, runs, tmp_path):
    table = leaderboard(runs)
    # a copy of the page with a probe that sorts the first table by clicking its header
    probe = site / "probe.html"
    probe.write_text((site / "index.html").read_text().replace("</body>", SORT_PROBE))
    try:
        res = run_browser("--virtual-time-budget=5000", "--dump-dom", probe.as_uri(), tmp=tmp_path)
    finally:
        probe.unlink()
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body))
    assert attrs["images-loaded"] == "1/1", attrs  # the Fig. 7 image decoded (naturalWidth > 0)
    assert int(attrs["rows"]) == len(table)
    for model in ("bicubic", "tiny-edsr"):
        assert f'<td data-v="{model}">{model}</td>' in dom
    attacked = table[table["attack"] == "ifgsm"].sort_values("adv_output_psnr", ascending=False)
    expected = ",".join(f"{m}@{a:g}" for m, a in zip(attacked["model"], attacked["alpha"]))
    assert attrs["sorted"] == expected


def test_screenshot(site, tmp_path):
    shot = tmp_path / "site.png"
    res = run_browser("--hide-scrollbars", "--window-size=1280,900", "--virtual-time-budget=5000",
                      f"--screenshot={shot}", (site / "index.html").as_uri(), tmp=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_infinite_scores_render_as_inf_in_the_site_and_json(tmp_path):
    """An attack that never moves the input (a defense attacked without adapting) has infinite PSNRs."""
    from srbench.bench.store import RunStore

    rows = [{"model": "imdn+jpeg75:adaptive=false", "dataset": "set5", "scale": 4, "attack": "ifgsm", "alpha": 8.0,
             "budget": 8.0, "attack_options": {"alpha": 8.0}, "image": image, "psnr_y": 27.8,
             "adv_output_psnr": float("inf"), "adv_input_psnr": float("inf"), "time": "2026-12-02T00:00:00Z"}
            for image in ("baby", "bird")]
    RunStore(tmp_path / "run").write_cell("c", {"model": rows[0]["model"]}, rows)
    page = render_site([tmp_path / "run"], tmp_path / "site").read_text()
    assert page.count('data-v="Infinity">inf<') == 2  # adversarial output and input PSNR, sortable as numbers
    from srbench.report.leaderboard import render
    (record,) = json.loads(render(leaderboard([tmp_path / "run"]), "json"))  # JSON has no infinity: not null
    assert record["adv_output_psnr"] == record["adv_input_psnr"] == "inf" and record["psnr_y"] == 27.8
