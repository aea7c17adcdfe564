"""--z-chunk bounds memory without changing the result: same gradient, same attacked inputs."""
import pytest
import torch

from model_zoo.srflow.random_weights import random_srflow
from srbench.attacks import seed_averaged_grad
from srbench.attacks.ifgsm import IFGSM
from srbench.core.restorer import chunked_restore, repeat_seeds


@pytest.fixture(scope="module")
def tiny_srflow():
    """Tiny, well-conditioned random SRFlow (procedure B of shared/srflow)."""
    return random_srflow(scale=4, nf=8, nb=2, gc=4, taps=(0, 1), K=2, hidden=8).requires_grad_(False)


def _inputs(r, n):
    g = torch.Generator().manual_seed(3)
    y = torch.rand(2, 3, 6, 8, generator=g)
    hr = torch.rand(2, 3, 24, 32, generator=g)
    return y, hr, r.sample_z(y, n, torch.Generator().manual_seed(7))


def test_chunked_restore_and_grad_match(tiny_srflow):
    n = 5
    y, hr, z = _inputs(tiny_srflow, n)
    with torch.no_grad():
        full = tiny_srflow.restore(repeat_seeds(y, n), z)
        for chunk in (1, 2, 3, 4):
            torch.testing.assert_close(chunked_restore(tiny_srflow, y, z, n, chunk), full, rtol=0, atol=1e-6)
    g_full, l_full = seed_averaged_grad(tiny_srflow, y, hr, z)
    assert torch.count_nonzero(g_full) > 0.9 * g_full.numel()
    for chunk in (1, 2, 3):
        g, loss = seed_averaged_grad(tiny_srflow, y, hr, z, z_chunk=chunk)
        torch.testing.assert_close(g, g_full, rtol=0, atol=1e-6 * g_full.abs().max().item())
        torch.testing.assert_close(loss, l_full, rtol=0, atol=1e-6)


@pytest.mark.parametrize("chunk", [1, 2, 4])
def test_z_chunk_gives_same_attacked_inputs(tiny_srflow, chunk):
    n = 4
    y, hr, z = _inputs(tiny_srflow, n)
    ref, rec_ref = IFGSM(alpha=8, steps=6, n_eot=n)(tiny_srflow, y, target=hr, z=z)
    adv, rec = IFGSM(alpha=8, steps=6, n_eot=n, z_chunk=chunk)(tiny_srflow, y, target=hr, z=z)
    assert (ref - y).abs().max() > 1 / 255  # the attack moved the input
    torch.testing.assert_close(adv, ref, rtol=0, atol=1e-6)
    torch.testing.assert_close(torch.tensor(rec["loss_trace"]), torch.tensor(rec_ref["loss_trace"]),
                               rtol=0, atol=1e-6)
