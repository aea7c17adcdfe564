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
from srbench.core.errors import UserError
from srbench.models.card import resolve_weights
from srbench.models.weights import Weights, cache_dir, sha256_of


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
    assert "with weights edsr-test=PATH" in str(exc.value)  # the option; the CLI writes --weights
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


# ----------------------------------------------------------------------------- mirrors: several sources of one file


def with_sources(name: str, file: str, sources: tuple[str, ...], sha256: str | None = None) -> srbench.ModelCard:
    card = srbench.get_card(name)
    return dataclasses.replace(card, name=f"{name}-test", weights=Weights(file=file, sha256=sha256, sources=sources))


def test_next_source_is_tried_when_the_first_fails(server, tmp_path):
    root, url = server
    digest = official_checkpoint("tiny-edsr", root / "mirror.pth")
    card = with_sources("tiny-edsr", "tiny.pth", (f"{url}/missing.pth", f"{url}/mirror.pth"), sha256=digest)
    assert resolve_weights(card) == cache_dir() / "weights" / "tiny.pth"
    assert sha256_of(cache_dir() / "weights" / "tiny.pth") == digest


def test_when_every_source_fails_the_message_names_each_with_its_reason(server, tmp_path):
    root, url = server
    digest = official_checkpoint("tiny-edsr", tmp_path / "good.pth")
    data = bytearray((tmp_path / "good.pth").read_bytes())
    data[100] ^= 0x01
    (root / "corrupt.pth").write_bytes(bytes(data))
    card = with_sources("tiny-edsr", "tiny.pth", (f"{url}/missing.pth", f"{url}/corrupt.pth"), sha256=digest)
    with pytest.raises(UserError) as exc:
        resolve_weights(card)
    msg = str(exc.value)
    assert "\n" not in msg
    assert f"[1] {url}/missing.pth: HTTPError: HTTP Error 404" in msg
    assert f"[2] {url}/corrupt.pth: sha256 mismatch (got {sha256_of(root / 'corrupt.pth')[:16]}" in msg
    assert f"expected {digest[:16]}" in msg
    assert not (cache_dir() / "weights" / "tiny.pth").exists()


def test_esrgan_falls_back_to_its_hub_mirror(server):
    """The official URL failing (here: a local 404 in its place), the Hugging Face mirror is tried next;
    offline (HF_HUB_OFFLINE=1 in every test) it fails too, and the message names both."""
    _, url = server
    card = srbench.get_card("esrgan")
    hub = [s for s in card.weights.sources if s.startswith("hf://")]
    assert hub == ["hf://licyk/sd-upscaler-models/invokeai/ESRGAN_SRx4_DF2KOST_official-ff704c30.pth"]
    local = dataclasses.replace(card, weights=dataclasses.replace(card.weights, sources=(f"{url}/nothing.pth", *hub)))
    with pytest.raises(UserError) as exc:
        resolve_weights(local)
    msg = str(exc.value)
    assert f"[1] {url}/nothing.pth: HTTPError: HTTP Error 404" in msg and f"[2] {hub[0]}: " in msg


def test_full_sha256_is_checked_not_only_the_prefix_in_the_name(server, tmp_path):
    """ESRGAN's file name carries the 8-digit prefix ff704c30; the card's full digest decides. A file
    whose hash shares the name's prefix but not the rest must be refused."""
    root, url = server
    assert srbench.get_card("esrgan").weights.expected_hash == (
        "ff704c30ff560305e48ed1f4db895e525ab6bc81a46fafe80c0094a271c806d9")
    digest = official_checkpoint("tiny-edsr", tmp_path / "x.pth")
    file = f"x-{digest[:8]}.pth"
    (tmp_path / "x.pth").rename(root / file)
    prefix_only = digest[:8] + ("0" if digest[8] != "0" else "1") + digest[9:]  # same first 8 digits
    assert resolve_weights(with_sources("tiny-edsr", file, (f"{url}/{file}",)))  # name prefix alone: accepted
    (cache_dir() / "weights" / file).unlink()
    with pytest.raises(UserError, match="sha256 mismatch"):
        resolve_weights(with_sources("tiny-edsr", file, (f"{url}/{file}",), sha256=prefix_only))


def test_wrong_shapes_name_the_first_mismatching_key_and_both_shapes(tmp_path):
    """A checkpoint of the right architecture but another width: one line with the key and both shapes."""
    card = srbench.get_card("tiny-edsr")
    wider = card.builder()(**dict(card.arch, num_feat=48)).net
    path = tmp_path / "wider.pth"
    torch.save({"params": wider.state_dict()}, path)
    with pytest.raises(UserError) as exc:
        srbench.load_model("tiny-edsr", weights=path, device="cpu")
    msg = str(exc.value)
    assert "\n" not in msg
    assert "conv_first.weight has shape (48, 3, 3, 3) in the checkpoint but (32, 3, 3, 3) in the model" in msg


def test_missing_and_unexpected_keys_are_listed_briefly(tmp_path):
    card = srbench.get_card("tiny-edsr")
    state = card.builder()(**card.arch).net.state_dict()
    state = {("renamed." + k if k.startswith("body.") else k): v for k, v in state.items()}
    path = tmp_path / "renamed.pth"
    torch.save(state, path)
    with pytest.raises(UserError) as exc:
        srbench.load_model("tiny-edsr", weights=path, device="cpu")
    msg = str(exc.value)
    n = sum(k.startswith("renamed.") for k in state)
    assert "\n" not in msg
    assert f"{n} keys missing from the checkpoint: body.0.conv1.weight, body.0.conv1.bias, body.0.conv2.weight " \
           f"(+{n - 3} more)" in msg
    assert f"{n} keys not in the model: renamed.body.0.conv1.weight" in msg


def test_spandrel_detected_file_with_inconsistent_shapes_names_the_key(tmp_path, cli):
    """Issue 13: a Real-ESRGAN Compact (SRVGGNetCompact) file whose layers disagree stopped at
    'Error(s) in loading state_dict for SRVGGNetCompact:' with no detail."""
    from spandrel.architectures.Compact import Compact

    state = Compact(num_in_ch=3, num_out_ch=3, num_feat=16, num_conv=2, upscale=4).state_dict()
    state["body.2.weight"] = torch.zeros(16, 8, 3, 3)  # the second conv now expects 8 input channels
    path = tmp_path / "compact.pth"
    torch.save(state, path)
    proc = cli("run", "--models", f"file:{path}", "--datasets", "demo", "--limit", "1", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "body.2.weight has shape (16, 8, 3, 3) in the checkpoint but (16, 16, 3, 3) in the model" in lines[0]
