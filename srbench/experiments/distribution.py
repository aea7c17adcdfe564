"""Distances between distributions given as samples (feature arrays).

- :func:`precision_recall`: improved precision and recall (Kynkäänniemi et
  al. 2019) with k-NN radii. Works on any N x D feature array (raw 2-D points
  for the toy study; Inception or other features for images: pass the
  features, or use ``features=`` to map samples to features first).
- :func:`fid` / :func:`frechet_distance`: the Fréchet distance between the
  Gaussians fitted to two feature sets. The matrix square root term is
  computed in float64 through symmetric eigendecompositions,
  tr sqrt(S1 S2) = sum_i sqrt(lambda_i(S1^1/2 S2 S1^1/2)), which is exact for
  PSD covariances, has no complex round-off and needs no scipy.
- :func:`w2_1d`: the *exact* W2 distance between two empirical measures on
  the line (uniform weights, any sizes) through their quantile functions.
- :func:`w2_discrete`: the *exact* W2 distance between two equal-size
  uniform point clouds in any dimension: the optimal plan is a permutation
  (Birkhoff), found with an exact assignment solver
  (``scipy.optimize.linear_sum_assignment``; scipy ships with scikit-image).
  This is exact discrete optimal transport, not an entropic approximation;
  how close it is to the W2 of the underlying continuous measures depends on
  how the point clouds were made (see :func:`srbench.experiments.toy.estimators.zigzag_w2`).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

__all__ = ["precision_recall", "knn_radii", "frechet_distance", "fid", "gaussian_stats", "w2_1d", "w2_discrete"]


def _as_f64(a) -> torch.Tensor:
    t = a.detach() if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    t = t.to("cpu", torch.float64)
    if t.dim() == 1:
        t = t[:, None]
    if t.dim() != 2:
        t = t.flatten(1)
    return t


def knn_radii(feats, k: int, chunk: int = 1024) -> torch.Tensor:
    """Distance of every row to its k-th nearest other row (the row itself excluded)."""
    x = _as_f64(feats)
    if x.shape[0] <= k:
        raise ValueError(f"need more than k={k} samples, got {x.shape[0]}")
    out = []
    for i in range(0, x.shape[0], chunk):
        d = torch.cdist(x[i:i + chunk], x)
        # the k+1 smallest include the point itself (distance 0)
        out.append(torch.topk(d, k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(out)


def _covered(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int) -> torch.Tensor:
    """For each point: is it inside (<=) the ball of at least one centre."""
    res = []
    for i in range(0, points.shape[0], chunk):
        d = torch.cdist(points[i:i + chunk], centres)
        res.append((d <= radii[None, :]).any(dim=1))
    return torch.cat(res)


def precision_recall(real, fake, k: int = 5, features: Callable | None = None,
                     chunk: int = 1024) -> tuple[float, float]:
    """Improved precision and recall of ``fake`` against ``real`` (Kynkäänniemi et al. 2019).

    precision = fraction of fake samples inside the k-NN ball of at least one real sample;
    recall    = fraction of real samples inside the k-NN ball of at least one fake sample.
    Arguments are (real, fake): real first. Balls are closed (distance <= radius).
    """
    if features is not None:
        real, fake = features(real), features(fake)
    r, f = _as_f64(real), _as_f64(fake)
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"feature dims differ: real {r.shape[1]} vs fake {f.shape[1]}")
    rr, fr = knn_radii(r, k, chunk), knn_radii(f, k, chunk)
    precision = _covered(f, r, rr, chunk).double().mean().item()
    recall = _covered(r, f, fr, chunk).double().mean().item()
    return precision, recall


def gaussian_stats(feats) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of an N x D feature array, float64."""
    x = _as_f64(feats).numpy()
    return x.mean(0), np.atleast_2d(np.cov(x, rowvar=False))


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^1/2) for PSD S1, S2 (float64, eigh-based)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    w = np.linalg.eigvalsh((m + m.T) / 2)
    tr_sqrt = float(np.sqrt(np.clip(w, 0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt)


def fid(real, fake, features: Callable | None = None) -> float:
    """Fréchet distance between Gaussian fits of two feature sets (FID with Inception features)."""
    if features is not None:
        real, fake = features(real), features(fake)
    return frechet_distance(*gaussian_stats(real), *gaussian_stats(fake))


def w2_1d(a, b) -> float:
    """Exact W2 between the empirical measures of two 1-D samples (uniform weights, any sizes).

    W2^2 = int_0^1 |F_a^-1(t) - F_b^-1(t)|^2 dt with the step quantile functions.
    """
    a = np.sort(np.asarray(a, np.float64).ravel())
    b = np.sort(np.asarray(b, np.float64).ravel())
    ta = np.arange(1, a.size + 1) / a.size
    tb = np.arange(1, b.size + 1) / b.size
    t = np.union1d(ta, tb)
    lo = np.concatenate([[0.0], t[:-1]])
    mid = (lo + t) / 2
    qa = a[np.minimum(np.searchsorted(ta, mid), a.size - 1)]
    qb = b[np.minimum(np.searchsorted(tb, mid), b.size - 1)]
    return float(np.sqrt(np.sum((t - lo) * (qa - qb) ** 2)))


def w2_discrete(a, b) -> float:
    """Exact W2 between two equal-size uniform point clouds (N x D), by optimal assignment."""
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError as exc:  # pragma: no cover - scipy comes with scikit-image
        raise ImportError("w2_discrete needs scipy (pip install scipy)") from exc
    a, b = _as_f64(a).numpy(), _as_f64(b).numpy()
    if a.shape != b.shape:
        raise ValueError(f"w2_discrete needs equal-size clouds, got {a.shape} and {b.shape}")
    cost = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].mean()))
