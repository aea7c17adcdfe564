"""Benchmark sets download from the Hugging Face hub into the cache (real hub client, local server).

A local HTTP server on 127.0.0.1 answers the hub's `resolve` URLs for a
dataset repo shaped like `eugenesiow/Set5` (`data/Set5_HR.tar.gz`); the
hub client is pointed at it with HF_ENDPOINT.
"""
import hashlib
import http.server
import io
import json
import tarfile
import threading

import pytest

from conftest import run_cli
from srbench.data.benchmarks import read_folder
from srbench.data.demo import skimage_image
from srbench.data.images import write_image


class HubHandler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def log_message(self, *args):
        pass

    def _send(self, body: bool):
        # /datasets/eugenesiow/Set5/resolve/main/data/Set5_HR.tar.gz
        parts = self.path.split("?")[0].split("/resolve/")
        key = parts[1].split("/", 1)[1] if len(parts) == 2 else None
        data = self.files.get(key)
        if data is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
        self.send_header("X-Repo-Commit", "0" * 40)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self):
        self._send(body=False)

    def do_GET(self):
        self._send(body=True)


@pytest.fixture
def hub(tmp_path):
    src = tmp_path / "src" / "Set5_HR"
    for i, name in enumerate(["baby", "bird"]):
        write_image(skimage_image("chelsea")[:, i * 50:i * 50 + 50, :61], src / f"{name}.png")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src, arcname="Set5_HR")
    HubHandler.files = {"data/Set5_HR.tar.gz": buf.getvalue()}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HubHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_set5_downloads_once_and_is_mod_cropped(hub, tmp_path):
    env = {"HF_ENDPOINT": hub, "HF_HUB_OFFLINE": "0", "SRBENCH_CACHE": str(tmp_path / "cache")}
    env.pop("SRBENCH_DATA", None)
    args = ["run", "--models", "bicubic", "--attack", "none", "--datasets", "set5", "--scale", "4", "--quiet"]
    first = run_cli(*args, "--out", "a", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    hr_dir = tmp_path / "cache" / "datasets" / "Set5" / "HR"
    assert sorted(p.name for p in hr_dir.iterdir()) == ["baby.png", "bird.png"]
    rows = json.loads(next((tmp_path / "a" / "cells").glob("*.json")).read_text())["rows"]
    assert [r["image"] for r in rows] == ["baby", "bird"]
    pairs = read_folder(tmp_path / "cache" / "datasets", "Set5", 4)
    assert [tuple(p.hr.shape) for p in pairs] == [(3, 48, 60)] * 2  # 50 x 61 mod-cropped to x4
    assert [tuple(p.lr.shape) for p in pairs] == [(3, 12, 15)] * 2
    # served again from the cache, with the server gone
    HubHandler.files = {}
    again = run_cli(*args, "--out", "b", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr


def test_offline_hub_gives_one_line_error(tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "SRBENCH_CACHE": str(tmp_path / "cache")}
    result = run_cli("run", "--models", "bicubic", "--attack", "none", "--datasets", "bsd100", "--quiet",
                     cwd=tmp_path, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "could not download BSD100" in result.stderr and "--data-root" in result.stderr
