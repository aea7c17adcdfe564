"""Weights: official BasicSR layouts load strictly through the real download path; bad hashes are refused.

A local HTTP server on 127.0.0.1 serves checkpoints that the tests build with
the official key names and shapes (the real architectures, random weights).
"""
import dataclasses
import functools
import http.server
import threading
from pathlib import Path

import pytest
import torch

import srbench
from srbench.errors import UserError
from srbench.zoo import Weights, cache_dir, resolve_weights, sha256_of


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def official_checkpoint(name: str, path: Path, key: str = "params") -> str:
    """Save a BasicSR-layout checkpoint ({'params': state_dict}) for card `name`; return its sha256."""
    card = srbench.get_card(name)
    net = card.builder()(**card.arch).net
    torch.save({key: net.state_dict()}, path)
    return sha256_of(path)


def with_source(name: str, file: str, url: str) -> srbench.ModelCard:
    card = srbench.get_card(name)
    return dataclasses.replace(card, name=f"{name}-test", weights=Weights(file=file, sources=(url,)))


@pytest.mark.parametrize("model", ["edsr", "esrgan"])
def test_download_verify_and_strict_load(server, tmp_path, model):
    root, url = server
    tmp = tmp_path / "ckpt.pth"
    digest = official_checkpoint(model, tmp)
    file = f"{model.upper()}_test_official-{digest[:8]}.pth"  # BasicSR naming: hash prefix in the name
    tmp.rename(root / file)
    card = with_source(model, file, f"{url}/{file}")
    srbench.register_model(card, overwrite=True)
    try:
        restorer = srbench.load_model(card.name, device="cpu")
        assert restorer.weights_sha256 == digest
        assert (cache_dir() / "weights" / file).is_file()
        (root / file).unlink()  # second load comes from the verified cache, no server needed
        assert srbench.load_model(card.name, device="cpu").weights_sha256 == digest
        out = restorer.restore(torch.rand(1, 3, 8, 8))
        assert out.shape == (1, 3, 32, 32)
    finally:
        srbench.models.MODELS.unregister(card.name)


def test_corrupted_download_is_rejected(server, tmp_path):
    root, url = server
    tmp = tmp_path / "ckpt.pth"
    digest = official_checkpoint("edsr", tmp)
    file = f"EDSR_test-{digest[:8]}.pth"
    data = bytearray(tmp.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    (root / file).write_bytes(bytes(data))
    card = with_source("edsr", file, f"{url}/{file}")
    with pytest.raises(UserError, match="sha256 mismatch") as exc:
        resolve_weights(card)
    assert "--weights edsr-test=PATH" in str(exc.value)
    assert not (cache_dir() / "weights" / file).exists()


def test_corrupted_cache_is_fetched_again(server, tmp_path):
    root, url = server
    digest = official_checkpoint("edsr", tmp_path / "c.pth")
    file = f"EDSR_test-{digest[:8]}.pth"
    (tmp_path / "c.pth").rename(root / file)
    cached = cache_dir() / "weights" / file
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"truncated")
    assert resolve_weights(with_source("edsr", file, f"{url}/{file}")) == cached
    assert sha256_of(cached) == digest


def test_missing_file_on_server_gives_clear_message(server):
    _, url = server
    card = with_source("esrgan", "ESRGAN_SRx4_DF2KOST_official-ff704c30.pth", f"{url}/nothing.pth")
    with pytest.raises(UserError) as exc:
        resolve_weights(card)
    msg = str(exc.value)
    assert "ESRGAN_SRx4_DF2KOST_official-ff704c30.pth" in msg and "404" in msg and "SRBENCH_WEIGHTS_ESRGAN_TEST" in msg


def test_explicit_path_loads_official_layout_strictly(tmp_path):
    path = tmp_path / "EDSR_Mx4_f64b16_DIV2K_official-0c287733.pth"
    digest = official_checkpoint("edsr", path, key="params_ema")
    model = srbench.load_model("edsr", weights=path, device="cpu")
    assert model.weights_sha256 == digest
    # DataParallel prefixes are stripped
    sd = torch.load(path, weights_only=True)["params_ema"]
    torch.save({f"module.{k}": v for k, v in sd.items()}, path)
    srbench.load_model("edsr", weights=path, device="cpu")


def test_wrong_architecture_is_refused(tmp_path):
    path = tmp_path / "x.pth"
    official_checkpoint("tiny-edsr", path)
    with pytest.raises(UserError, match="do not fit model 'edsr'"):
        srbench.load_model("edsr", weights=path, device="cpu")


def test_env_var_supplies_weights(tmp_path, monkeypatch):
    path = tmp_path / "w.pth"
    digest = official_checkpoint("edsr", path)
    monkeypatch.setenv("SRBENCH_WEIGHTS_EDSR", str(path))
    assert srbench.load_model("edsr", device="cpu").weights_sha256 == digest
