import itertools
import math

import numpy as np
import pytest
import torch

from srbench.experiments.distribution import (fid, frechet_distance, gaussian_stats, knn_radii, precision_recall, w2_1d,
                                  w2_discrete)


@pytest.mark.parametrize("seed,dim,shift", [(0, 2, 0.5), (1, 2, 0.0), (2, 8, 1.0), (3, 2, 3.0)])
def test_precision_recall_matches_piq(seed, dim, shift):
    piq = pytest.importorskip("piq")
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(400, dim, generator=g, dtype=torch.float64)
    fake = 0.7 * torch.randn(300, dim, generator=g, dtype=torch.float64) + shift
    p_ref, r_ref = piq.PR(nearest_k=5)(real, fake)  # piq: real features first
    p, r = precision_recall(real, fake, k=5)
    assert p == pytest.approx(float(p_ref), abs=1e-6)  # piq returns float32; one sample is 1/300
    assert r == pytest.approx(float(r_ref), abs=1e-6)


def test_precision_recall_limits_and_chunking():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(200, 2, generator=g)
    assert precision_recall(a, a, k=3) == (1.0, 1.0)
    assert precision_recall(a, a + 100.0, k=3) == (0.0, 0.0)
    b = torch.randn(150, 2, generator=g) * 0.3
    assert precision_recall(a, b, k=4, chunk=7) == precision_recall(a.numpy(), b.numpy(), k=4)
    # a collapsed fake set: all fakes land in the real support (precision 1) and cover little (low recall)
    p, r = precision_recall(a, torch.zeros(100, 2) + 1e-3 * torch.randn(100, 2, generator=g), k=5)
    assert p == 1.0 and r < 0.1


def test_knn_radii_excludes_self():
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
    assert knn_radii(x, 1).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert knn_radii(x, 2).tolist() == [3.0, 2.0, 3.0, 5.0]


def test_frechet_distance_against_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    for d in (1, 3, 16):
        a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
        s1, s2 = a @ a.T + 1e-3 * np.eye(d), b @ b.T
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        covmean = linalg.sqrtm(s1 @ s2).real
        ref = float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-8, abs=1e-8)


def test_fid_simple_cases():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 4))
    assert abs(fid(x, x)) < 1e-9
    # 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance([0.0], [[4.0]], [1.0], [[1.0]]) == pytest.approx(1.0 + 1.0)
    mu, cov = gaussian_stats(x)
    assert mu.shape == (4,) and cov.shape == (4, 4)
    # a rank-deficient covariance is fine (no complex parts, no NaN)
    y = np.concatenate([x[:, :2], x[:, :2]], axis=1)
    assert math.isfinite(fid(x, y))


def test_w2_1d_exact():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=50), rng.normal(size=50) + 0.3
    ref = math.sqrt(np.mean((np.sort(a) - np.sort(b)) ** 2))
    assert w2_1d(a, b) == pytest.approx(ref, rel=1e-12)
    assert w2_1d(a, a + 2.5) == pytest.approx(2.5)
    # unequal sizes: replicate both to a common size, then equal-size sorted matching is exact
    c, d = rng.normal(size=2), rng.normal(size=3)
    ref = math.sqrt(np.mean((np.sort(np.repeat(c, 3)) - np.sort(np.repeat(d, 2))) ** 2))
    assert w2_1d(c, d) == pytest.approx(ref, rel=1e-12)


def test_w2_discrete_brute_force_and_1d():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    best = min(np.mean(((a - b[list(p)]) ** 2).sum(1)) for p in itertools.permutations(range(6)))
    assert w2_discrete(a, b) == pytest.approx(math.sqrt(best), rel=1e-12)
    x, y = rng.normal(size=40), rng.normal(size=40)
    assert w2_discrete(x, y) == pytest.approx(w2_1d(x, y), rel=1e-10)
    with pytest.raises(ValueError):
        w2_discrete(a, b[:5])
