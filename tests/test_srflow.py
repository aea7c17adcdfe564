"""SRFlow: behaviour on a tiny random network, and equality with the official implementation.

The tiny tests check what must hold for any weights (invertibility, the
log-determinant against autograd's Jacobian, restorer semantics). The official
tests use the deterministic weights and test vectors of shared/srflow (made by
running the official code, see its README) and skip when that folder is absent.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
import torch

from model_zoo.srflow.arch import standard_logp, nll_bits
from model_zoo.srflow.model import SRFlowRestorer, pad_to_even, srflow
from model_zoo.srflow.random_weights import FLOWSTEP_LOGS, procedure_weights, random_srflow
from srbench.core.restorer import repeat_seeds, slice_z

SHARED = Path(__file__).resolve().parents[2] / "shared" / "srflow"
TINY = dict(nf=8, nb=2, gc=4, taps=(0, 1), K=2, hidden=8)


def tiny(scale: int = 4, dtype=torch.float32) -> SRFlowRestorer:
    """A tiny, well-conditioned random SRFlow (B-style offset, std 0.05)."""
    return random_srflow(scale, **TINY).to(dtype)


def lr(b=1, h=4, w=6, seed=1, dtype=torch.float32):
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---------------------------------------------------------------- tiny network: flow properties

@pytest.mark.parametrize("scale", [4, 8])
def test_decode_encode_round_trip(scale):
    r = tiny(scale)
    y = lr(2)
    z = r.sample_z(y, 1, torch.Generator().manual_seed(2))
    assert set(z) == ({"top", "split1"} if scale == 4 else {"top", "split1", "split2"})
    with torch.no_grad():
        x, ld_rev = r.decode(y, z)
        z2, ld_fwd = r.encode(x, y)
        x2, _ = r.decode(y, z2)
    for k in z:
        torch.testing.assert_close(z2[k], z[k], atol=1e-4, rtol=0)
    torch.testing.assert_close(x2, x, atol=1e-4, rtol=0)
    torch.testing.assert_close(ld_fwd, -ld_rev, atol=1e-3, rtol=1e-6)


def test_logdet_equals_jacobian_logdet():
    """encode's logdet = log|det dz/dx| + the split latents' N(0,1) log-likelihood."""
    r = tiny(4, torch.float64)
    y = lr(1, 2, 2, seed=3, dtype=torch.float64)
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    names = list(r.latent_shapes(y))

    def flat_z(xf):
        z, _ = r.encode(xf.view_as(x), y)
        return torch.cat([z[k].flatten() for k in names])

    jac = torch.autograd.functional.jacobian(flat_z, x.flatten(), vectorize=True)
    z, logdet = r.encode(x, y)
    split_prior = sum(standard_logp(z[k]) for k in names if k != "top")
    assert abs(logdet.item() - split_prior.item() - torch.linalg.slogdet(jac)[1].item()) < 1e-3
    torch.testing.assert_close(r.nll(x, y), nll_bits(z["top"], logdet, 64))


# ---------------------------------------------------------------- tiny network: restorer semantics

def test_same_z_same_output_and_different_z_differs():
    r = tiny()
    y = lr(2)
    z1 = r.sample_z(y, 1, torch.Generator().manual_seed(5))
    z2 = r.sample_z(y, 1, torch.Generator().manual_seed(6))
    assert all(torch.equal(a, b) for a, b in zip(z1.values(), r.sample_z(y, 1, torch.Generator().manual_seed(5)).values()))
    with torch.no_grad():
        a, b, c = r.restore(y, z1), r.restore(y, z1), r.restore(y, z2)
    assert a.shape == (2, 3, 16, 24) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3


def test_samples_vary_and_zero_latents_are_the_default():
    r = tiny()
    y = lr(1)
    n = 4
    z = r.sample_z(y, n, torch.Generator().manual_seed(7))
    with torch.no_grad():
        xs = r.restore(repeat_seeds(y, n), z)
        assert xs.std(0).mean() > 1e-3
        assert torch.equal(r.restore(y), r.restore(y, r.sample_z(y, 1, temperature=0.0)))


def test_sample_z_is_seed_major_and_scaled():
    r = tiny(8)
    y = lr(2)
    n = 3
    z = r.sample_z(y, n, torch.Generator().manual_seed(8), temperature=0.5)
    assert list(z) == ["top", "split2", "split1"]  # the official sampling order
    assert {k: tuple(v.shape) for k, v in z.items()} == {
        "top": (6, 192, 2, 3), "split2": (6, 12, 8, 12), "split1": (6, 6, 16, 24)}
    g = torch.Generator().manual_seed(8)
    assert torch.equal(z["top"], torch.randn(6, 192, 2, 3, generator=g) * 0.5)
    with torch.no_grad():
        full = r.restore(repeat_seeds(y, n), z)
        chunk = r.restore(repeat_seeds(y, 1), slice_z(z, 2, 4))  # draw 1 of both images
    torch.testing.assert_close(chunk, full[2:4], atol=1e-5, rtol=0)


def test_gradient_reaches_lr_input():
    r = tiny().requires_grad_(False)
    y = lr(1).requires_grad_(True)
    r.restore(y, r.sample_z(y, 1, torch.Generator().manual_seed(9))).mean().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_odd_lr_size_is_padded_by_reflection_and_cropped():
    r = tiny()
    y = lr(1, 3, 5)
    padded = pad_to_even(y)
    assert padded.shape[-2:] == (4, 6)
    assert torch.equal(padded[..., 3, :5], y[..., 1, :]) and torch.equal(padded[..., :3, 5], y[..., :, 3])
    z = r.sample_z(y, 2, torch.Generator().manual_seed(10))
    assert z["top"].shape == (2, 96, 2, 3) and z["split1"].shape == (2, 6, 8, 12)
    with torch.no_grad():
        out = r.restore(repeat_seeds(y, 2), z)
        assert out.shape == (2, 3, 12, 20)
        full, _ = r.decode(padded, slice_z(z, 0, 1))
    torch.testing.assert_close(out[:1], full[..., :12, :20].clamp(0, 1))
    with pytest.raises(ValueError, match="split1"):
        r.restore(y, {"top": z["top"][:1]})


# ---------------------------------------------------------------- cards and loading

def test_cards_and_missing_weights_message(tmp_path, monkeypatch):
    from model_zoo.srflow.card import SRFLOW_4X, SRFLOW_8X, SRFLOW_CELEBA_8X
    from srbench.core.errors import UserError
    from srbench.models.card import resolve_weights

    assert (SRFLOW_4X.name, SRFLOW_4X.scale, SRFLOW_8X.name, SRFLOW_8X.scale) == ("srflow", 4, "srflow-8x", 8)
    assert SRFLOW_CELEBA_8X.weights.file == "SRFlow_CelebA_8X.pth"
    assert all(c.stochastic and "CC BY-NC-SA" in c.license for c in (SRFLOW_4X, SRFLOW_8X, SRFLOW_CELEBA_8X))
    assert SRFLOW_4X.builder() is srflow and SRFLOW_8X.arch == {"scale": 8}
    monkeypatch.setenv("SRBENCH_CACHE", str(tmp_path))
    monkeypatch.delenv("SRBENCH_WEIGHTS_SRFLOW", raising=False)
    with pytest.raises(UserError) as info:
        resolve_weights(SRFLOW_4X)
    msg = str(info.value)
    for part in ("pretrained_models.zip", "SRFlow_DF2K_4X.pth", "weights srflow=PATH", "SRBENCH_WEIGHTS_SRFLOW"):
        assert part in msg


def test_load_model_reads_a_checkpoint(tmp_path):
    from srbench.models import load_model, register_model
    from srbench.models.card import ModelCard
    from srbench.models.weights import Weights

    src = tiny()
    path = tmp_path / "tiny_srflow.pth"
    torch.save({"module." + k: v for k, v in src.net.state_dict().items()}, path)  # DataParallel-style keys
    register_model(ModelCard(name="srflow-tiny-test", build=srflow, arch=dict(scale=4, **TINY), scale=4,
                             stochastic=True, weights=Weights(file="tiny_srflow.pth")), overwrite=True)
    r = load_model("srflow-tiny-test", weights=path, device="cpu")
    y = lr(1)
    z = r.sample_z(y, 1, torch.Generator().manual_seed(11))
    with torch.no_grad():
        assert torch.equal(r.restore(y, z), src.restore(y, z))


# ---------------------------------------------------------------- equality with the official implementation

class Official:
    """A full-size model, the procedure-A/B weights for it and the reference vectors."""

    def __init__(self, scale: int):
        self.scale = scale
        keys = json.loads((SHARED / f"keys_{scale}x.json").read_text())
        self.keys = keys
        self.entries = [(k, shape) for k, shape, _, _ in keys["entries"]]
        self.A = procedure_weights(self.entries)
        self.B = {k: v + 0.19 if FLOWSTEP_LOGS.fullmatch(k) else v for k, v in self.A.items()}
        self.model = srflow(scale).eval().requires_grad_(False)
        self.loaded = None
        self.fwd = torch.load(SHARED / f"forward_{scale}x.pt", weights_only=True)
        self.rev = torch.load(SHARED / f"reverse_{scale}x.pt", weights_only=True)
        self.splits = [int(k[len("split_eps_level"):]) for k in self.rev if k.startswith("split_eps_level")]

    def use(self, procedure: str) -> SRFlowRestorer:
        if self.loaded != procedure:
            self.model.load_weights(getattr(self, procedure))
            self.loaded = procedure
        return self.model

    def latents(self, vectors: dict, prefix: str = "", top: str = "top_z", split: str = "split_eps_level"):
        return {"top": vectors[prefix + top], **{f"split{l}": vectors[f"{prefix}{split}{l}"] for l in self.splits}}


@pytest.fixture(scope="module", params=[4, 8], ids=["4x", "8x"])
def official(request):
    if not SHARED.is_dir():
        pytest.skip(f"SRFlow reference vectors not found at {SHARED}")
    return Official(request.param)


QR_ENTRY = "invconv.weight"  # Q of a float64 QR: its last bits depend on the CPU's LAPACK kernels


def procedure_a_mismatches(weights: dict[str, torch.Tensor], checksums: list) -> list[str]:
    """Entries of procedure A that differ from the official checksum file (empty list: all match).

    Gaussian entries are compared bit-exactly (sha256 of their float32 bytes). QR entries are
    compared within a tolerance against the facts that do not depend on rounding: their exact
    float64 sum (within 1e-5) and orthogonality (|Q^T Q - I| <= 1e-5): two LAPACK builds may
    round Q differently in the last bits, which a sha256 would turn into a failure on some CPUs.
    """
    bad = []
    for key, sha, fsum, *_ in checksums:
        w = weights[key]
        if key.endswith(QR_ENTRY):
            q = w.double()
            gram_error = (q.T @ q - torch.eye(q.shape[0], dtype=torch.float64)).abs().max().item()
            if abs(math.fsum(q.flatten().tolist()) - fsum) > 1e-5 or gram_error > 1e-5:
                bad.append(key)
        elif hashlib.sha256(w.contiguous().numpy().tobytes()).hexdigest() != sha:
            bad.append(key)
    return bad


def test_official_layout_and_weights(official):
    """State-dict keys/shapes/order equal the official ones; procedure A is reproduced (QR within rounding)."""
    mine = [(k, list(v.shape)) for k, v in official.model.net.state_dict().items()]
    assert mine == official.entries
    assert len(list(official.model.net.buffers())) == 0
    assert official.keys["procedure_B_offset_keys"] == [k for k in official.A if FLOWSTEP_LOGS.fullmatch(k)]
    sums = json.loads((SHARED / f"weight_checksums_{official.scale}x.json").read_text())
    assert [e[0] for e in sums["entries"]] == [k for k, _ in official.entries]
    assert procedure_a_mismatches(official.A, sums["entries"]) == []
    res = official.model.net.load_state_dict(official.B, strict=True)
    assert not res.missing_keys and not res.unexpected_keys
    official.loaded = "B"


def test_weight_check_tolerates_qr_rounding_but_not_other_changes(official):
    """What another CPU's LAPACK may do to a QR entry passes; any change to a Gaussian entry, or a wrong Q, fails."""
    entries = json.loads((SHARED / f"weight_checksums_{official.scale}x.json").read_text())["entries"]
    qr_key = next(k for k, *_ in entries if k.endswith(QR_ENTRY))
    gauss_key = next(k for k, *_ in entries if not k.endswith(QR_ENTRY))
    index = [k for k, *_ in entries].index(qr_key)
    shape = official.A[qr_key].shape
    q64 = torch.linalg.qr(torch.randn(shape, generator=torch.Generator().manual_seed(1000 + index),
                                      dtype=torch.float64))[0]
    nudged = (q64 + 1e-12).float()  # float64 Q perturbed by 1e-12 before the cast, as another LAPACK may round
    ulp = official.A[qr_key].clone()
    ulp[0, 0] = torch.nextafter(ulp[0, 0], torch.tensor(2.0))  # one float32 ulp: a different sha256
    assert procedure_a_mismatches({**official.A, qr_key: nudged}, entries) == []
    assert procedure_a_mismatches({**official.A, qr_key: ulp}, entries) == []
    g = torch.Generator().manual_seed(1)
    other_q = torch.linalg.qr(torch.randn(official.A[qr_key].shape, generator=g, dtype=torch.float64))[0].float()
    assert procedure_a_mismatches({**official.A, qr_key: other_q}, entries) == [qr_key]
    bumped = official.A[gauss_key].clone()
    bumped.view(-1)[0] = torch.nextafter(bumped.view(-1)[0], torch.tensor(2.0))
    assert procedure_a_mismatches({**official.A, gauss_key: bumped}, entries) == [gauss_key]


def test_official_conditioning(official):
    r = official.use("A")
    rev = official.rev
    with torch.no_grad():
        conds = r.net.RRDB.conditions(rev["y"])
        names = {level: f"cond_fea_up{int(official.scale / 2 ** level)}" for level in conds}
        for level, cond in conds.items():
            torch.testing.assert_close(cond, rev[names[level]], atol=1e-4, rtol=0)
        torch.testing.assert_close(r.net.RRDB(rev["y"]), rev["rrdb_out"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("procedure", ["A", "B"])
def test_official_forward(official, procedure):
    r = official.use(procedure)
    fwd = official.fwd
    with torch.no_grad():
        z, logdet = r.encode(fwd["x"], fwd["y"])
    ref = official.latents(fwd, procedure + "_")
    assert set(z) == set(ref)
    for k in ref:
        torch.testing.assert_close(z[k], ref[k], atol=1e-4, rtol=0)
    assert abs(logdet.item() - fwd[f"{procedure}_logdet"].item()) < 0.05
    nll = nll_bits(z["top"], logdet, fwd["x"].shape[2] * fwd["x"].shape[3])
    assert abs(nll.item() - fwd[f"{procedure}_nll"].item()) < 1e-4
    assert abs(standard_logp(z["top"]).item() - fwd[f"{procedure}_logp_top_z"].item()) < 0.05


def test_official_reverse(official):
    r = official.use("B")
    rev = official.rev
    with torch.no_grad():
        sr, logdet = r.decode(rev["y"], official.latents(rev))
        torch.testing.assert_close(sr, rev["B_sr"], atol=1e-4, rtol=0)
        assert abs(logdet.item() - rev["B_logdet"].item()) < 0.05
        # restore() is the clamped SR; z=None is heat 0 (all latents zero).
        torch.testing.assert_close(r.restore(rev["y"], official.latents(rev)), rev["B_sr"].clamp(0, 1),
                                   atol=1e-4, rtol=0)
        sr0, logdet0 = r.decode(rev["y"], r.zero_z(rev["y"]))
        torch.testing.assert_close(sr0, rev["B_sr_heat0"], atol=1e-4, rtol=0)
        assert abs(logdet0.item() - rev["B_logdet_heat0"].item()) < 0.05
        torch.testing.assert_close(r.restore(rev["y"]), rev["B_sr_heat0"].clamp(0, 1), atol=1e-4, rtol=0)


def test_official_reverse_non_square(official):
    r = official.use("B")
    rev = official.rev
    z = official.latents(rev, "ns_")
    with torch.no_grad():
        sr, logdet = r.decode(rev["ns_y"], z)
    torch.testing.assert_close(sr, rev["B_ns_sr"], atol=1e-4, rtol=0)
    assert abs(logdet.item() - rev["B_ns_logdet"].item()) < 0.05
    assert {k: tuple(v.shape[1:]) for k, v in z.items()} == r.latent_shapes(rev["ns_y"])


def test_official_dequantisation_noise(official):
    """add_gt_noise=True draws x + (rand - 0.5)/32 and adds -ln(32) per pixel (official A_gtnoise_*)."""
    r = official.use("A")
    fwd = official.fwd
    with torch.no_grad():
        z, logdet = r.net.encode(fwd["x"], fwd["y"], add_gt_noise=True, generator=torch.Generator().manual_seed(12))
    torch.testing.assert_close(z["top"], fwd["A_gtnoise_top_z"], atol=1e-4, rtol=0)
    torch.testing.assert_close(z["split1"], fwd["A_gtnoise_split_eps_level1"], atol=1e-4, rtol=0)
    assert abs(logdet.item() - fwd["A_gtnoise_logdet"].item()) < 0.05
    assert math.isclose(nll_bits(z["top"], logdet, 64 * 64).item(), fwd["A_gtnoise_nll"].item(), abs_tol=1e-4)
