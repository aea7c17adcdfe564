"""The six real public x4 checkpoints of ../shared/weights through their built-in cards.

Each card downloads its file through the real download path (a local HTTP
server on 127.0.0.1 serves the shared copies at the upstream paths of the
cards' pinned URLs), checks the full sha256, caches it and loads it strictly;
a corrupted copy is refused. IMDN and RLFN (srbench's own architecture code)
reproduce the numbers the authors' code gives (README of ../shared/weights).
"""
import dataclasses
import re
import shutil
from urllib.parse import urlparse

import pytest
import torch
from conftest import SHARED, SR_BENCHMARKS
from test_zoo_download import server  # noqa: F401  (the local HTTP server fixture)

import srbench
from srbench.data import load_dataset
from srbench.core.errors import UserError
from srbench.core.metrics import fidelity
from srbench.models.card import resolve_weights
from srbench.models.weights import cache_dir, raw_github, read_state_dict, sha256_of

WEIGHTS = SHARED / "weights"
FILES = {  # card -> file name in ../shared/weights (two are renamed there; the cards use the upstream names)
    "ditn": "DITN_Real_x4.pth",
    "ditn-gan": "DITN_Real_GAN_x4.pth",
    "swiftsrgan": "swift_srgan_4x.pth",
    "craft": "craft_x4_ntire2024_team34.pth",
    "imdn": "IMDN_x4.pth",
    "rlfn": "rlfn_x4.pth",
}


@pytest.fixture
def shared_weights():
    if not (WEIGHTS / "README.md").is_file():
        pytest.skip("../shared/weights is absent")
    return WEIGHTS


def readme_table() -> dict[str, dict[str, str]]:
    """The README's table: file -> sha256, training text, repository, commit, path, license."""
    rows = {}
    for line in (WEIGHTS / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or not cells[0].endswith(".pth"):
            continue
        repo, commit, path = re.match(r"(\S+) @ ([0-9a-f]+) : (\S+)", cells[5]).groups()
        rows[cells[0]] = dict(sha256=cells[2], training=cells[4], repo=repo, commit=commit, path=path,
                              license=cells[6])
    return rows


def test_cards_pin_the_files_the_readme_describes(shared_weights):
    table = readme_table()
    assert sorted(table) == sorted(FILES.values())
    for name, file in FILES.items():
        card, facts = srbench.get_card(name), table[file]
        assert card.weights.sha256 == facts["sha256"] == sha256_of(shared_weights / file), name
        assert card.weights.sources[0] == raw_github(facts["repo"], facts["commit"], facts["path"]), name
        assert card.weights.file == facts["path"].rsplit("/", 1)[1], name  # cached under the upstream name
        assert card.training == ("GAN" if "GAN" in facts["training"].split("(")[0] else "pixel"), name
        assert card.short_license.split("-")[0] in facts["license"], name
        assert card.scale == 4 and not card.stochastic


def serve_like_upstream(root, url: str, card, file) -> srbench.ModelCard:
    """Put the shared copy at its upstream URL's path on the local server; the card, re-pointed there."""
    path = urlparse(card.weights.sources[0]).path
    (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file, root / path.lstrip("/"))
    weights = dataclasses.replace(card.weights, sources=(url + path,))
    return dataclasses.replace(card, name=f"{card.name}-local", weights=weights)


def loaded_net(restorer) -> torch.nn.Module:
    return restorer.model.net if hasattr(restorer, "model") else restorer.net  # spandrel cards wrap the net


@pytest.mark.parametrize("name", list(FILES))
def test_card_downloads_verifies_caches_and_loads_every_tensor(server, shared_weights, name):  # noqa: F811
    root, url = server
    card = serve_like_upstream(root, url, srbench.get_card(name), shared_weights / FILES[name])
    srbench.register_model(card, overwrite=True)
    try:
        restorer = srbench.load_model(card.name, device="cpu")
        cached = cache_dir() / "weights" / card.weights.file
        assert restorer.weights_sha256 == card.weights.sha256 == sha256_of(cached)
        state = read_state_dict(cached)
        if name not in ("imdn", "rlfn"):
            import spandrel

            state = spandrel.canonicalize_state_dict(state)
        net_state = loaded_net(restorer).state_dict()
        assert set(net_state) == set(state)  # strict: every key of the file, nothing else
        assert all(torch.equal(net_state[k], v) for k, v in state.items())
        shutil.rmtree(root)  # the second load comes from the verified cache
        assert srbench.load_model(card.name, device="cpu").weights_sha256 == card.weights.sha256
        y = torch.rand(1, 3, 16, 16)
        out = restorer.restore(y)
        assert out.shape == (1, 3, 64, 64) and 0 <= out.min() and out.max() <= 1
    finally:
        srbench.models.MODELS.unregister(card.name)


@pytest.mark.parametrize("name", list(FILES))
def test_corrupted_copy_is_refused(server, shared_weights, tmp_path, name):  # noqa: F811
    root, url = server
    card = serve_like_upstream(root, url, srbench.get_card(name), shared_weights / FILES[name])
    served = root / urlparse(card.weights.sources[0]).path.lstrip("/")
    data = bytearray(served.read_bytes())
    data[len(data) // 3] ^= 0x10  # one flipped bit
    served.write_bytes(bytes(data))
    with pytest.raises(UserError) as exc:
        resolve_weights(card)
    msg = str(exc.value)
    assert "\n" not in msg
    assert f"[1] {card.weights.sources[0]}: sha256 mismatch (got {sha256_of(served)[:16]}..., " \
           f"expected {card.weights.sha256[:16]}...)" in msg
    assert not (cache_dir() / "weights" / card.weights.file).exists()


@pytest.mark.parametrize("name", ["swiftsrgan", "craft"])
def test_a_card_pinned_at_an_abbreviated_commit_falls_back_to_its_full_commit_source(server, shared_weights,  # noqa: F811
                                                                                     name):
    """The README pins these two at 7-digit commits; their second source is a full commit (issue 14)."""
    root, url = server
    card = srbench.get_card(name)
    first, second = (urlparse(s).path for s in card.weights.sources)
    assert re.fullmatch(r"/[^/]+/[^/]+/[0-9a-f]{40}/.+", second)
    (root / second.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shared_weights / FILES[name], root / second.lstrip("/"))  # only the second one is served
    local = dataclasses.replace(card, name=f"{name}-local", weights=dataclasses.replace(
        card.weights, sources=(url + first, url + second)))
    assert sha256_of(resolve_weights(local)) == card.weights.sha256


def test_a_card_refuses_a_file_of_another_architecture(shared_weights):
    with pytest.raises(UserError, match="hold a x4 Swift-SRGAN network, but the card expects a x4 DITN"):
        srbench.load_model("ditn", weights=shared_weights / FILES["swiftsrgan"], device="cpu")
    with pytest.raises(UserError, match=r"do not fit model 'imdn': .*keys missing from the checkpoint: fea_conv"):
        srbench.load_model("imdn", weights=shared_weights / FILES["rlfn"], device="cpu")


# Published numbers (README of ../shared/weights): the authors' code scored with basicsr
# (Y channel, crop 4, grayscale read as 3 channels), and four files through spandrel (Set5 Y-PSNR only).
PUBLISHED = {
    ("imdn", "set5"): (32.211, 0.8948), ("imdn", "set14"): (28.587, 0.7811), ("imdn", "bsd100"): (27.561, 0.7353),
    ("rlfn", "set5"): (32.240, 0.8953), ("rlfn", "set14"): (28.624, 0.7815), ("rlfn", "bsd100"): (27.607, 0.7364),
    ("ditn", "set5"): (32.10, None), ("ditn-gan", "set5"): (25.84, None),
    ("craft", "set5"): (32.39, None), ("swiftsrgan", "set5"): (30.01, None),
}
SLOW = {("imdn", "bsd100"), ("rlfn", "bsd100"), ("craft", "set5")}  # 10-20 s of CPU each


def mean_fidelity(name: str, dataset: str) -> tuple[float, float]:
    restorer = srbench.load_model(name, weights=WEIGHTS / FILES[name], device="cpu")
    scores = []
    with torch.no_grad():
        for pair in load_dataset(dataset, 4, root=str(SR_BENCHMARKS)):
            f = fidelity(restorer.restore(pair.lr[None])[0], pair.hr, 4, gray=pair.gray, gray_convention="basicsr")
            scores.append((f["psnr_y"], f["ssim_y"]))
    return sum(s[0] for s in scores) / len(scores), sum(s[1] for s in scores) / len(scores)


@pytest.mark.parametrize("name,dataset", [pytest.param(*k, marks=[pytest.mark.slow] if k in SLOW else [])
                                          for k in PUBLISHED])
def test_reproduces_the_published_numbers(shared_weights, sr_benchmarks, name, dataset):
    psnr, ssim = mean_fidelity(name, dataset)
    published_psnr, published_ssim = PUBLISHED[name, dataset]
    assert psnr == pytest.approx(published_psnr, abs=0.01)
    if published_ssim is not None:
        assert ssim == pytest.approx(published_ssim, abs=0.001)


def test_run_rows_carry_training_and_match_direct_scoring(shared_weights, sr_benchmarks, tmp_path):
    """Through `srbench run`'s pipeline: the rows say how the model was trained (the leaderboard can
    group by it), and their scores are those of the model scored directly."""
    from srbench.bench.runner import run_suite
    from srbench.bench.store import RunStore
    from srbench.bench.suite import build_suite

    suite = build_suite({"name": "real", "models": ["imdn"], "datasets": ["set5"], "attack": "none",
                         "weights": {"imdn": str(WEIGHTS / FILES["imdn"])}, "data_root": str(sr_benchmarks),
                         "gray_convention": "basicsr", "limit": 2, "device": "cpu"})
    run_suite(suite, tmp_path / "run", quiet=True)
    rows = sorted(RunStore(tmp_path / "run").rows(), key=lambda r: r["image"])
    restorer = srbench.load_model("imdn", weights=WEIGHTS / FILES["imdn"], device="cpu")
    pairs = load_dataset("set5", 4, root=str(sr_benchmarks), limit=2)
    assert [r["image"] for r in rows] == sorted(p.name for p in pairs)
    for row, pair in zip(rows, sorted(pairs, key=lambda p: p.name)):
        assert row["training"] == "pixel" and row["weights_sha256"] == srbench.get_card("imdn").weights.sha256
        with torch.no_grad():
            direct = fidelity(restorer.restore(pair.lr[None])[0], pair.hr, 4, gray=pair.gray)
        assert row["psnr_y"] == pytest.approx(direct["psnr_y"], abs=1e-6)
