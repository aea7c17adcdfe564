"""Local Lipschitz estimates K(y) = ||f(y+d*) - f(y)|| / ||d*||."""
import math

import pandas as pd
import pytest
import torch

from srbench.attacks import make_attack
from srbench.bench.lipschitz import k_report, lipschitz_k, per_image_k, strongest_k, summarize
from srbench.core.restorer import Restorer


class LinearSR(Restorer):
    """f(y) = A y (+ z for the stochastic variant): a fixed random linear x2 upsampler, no clamp."""

    def __init__(self, stochastic: bool = False):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.weight = torch.nn.Parameter(torch.randn(12, 3, 3, 3, generator=g) * 0.3, requires_grad=False)
        self.name, self.scale, self.stochastic = "linear", 2, stochastic

    def restore(self, y, z=None):
        out = torch.nn.functional.pixel_shuffle(torch.nn.functional.conv2d(y, self.weight, padding=1), 2)
        return out if z is None else out + z

    def sample_z(self, y, n=1, generator=None):
        if not self.stochastic:
            return None
        b, c, h, w = y.shape
        return torch.randn(n * b, c, 2 * h, 2 * w, generator=generator)

    def matrix(self, shape):
        """The explicit matrix of the linear map on inputs of ``shape`` (C, h, w)."""
        n = math.prod(shape)
        eye = torch.eye(n).view(n, *shape)
        return self.restore(eye).flatten(1).T  # out_dim x n


@pytest.fixture
def y():
    return torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(1)) * 0.5 + 0.25


def test_k_on_a_linear_model_is_its_norm_along_the_found_direction(y):
    f = LinearSR()
    attack = make_attack("ifgsm", alpha=2, steps=10, init="uniform", target="clean")
    res = strongest_k(f, y, [attack])
    y_adv, _ = attack(f, y, target=f.restore(y))
    a = f.matrix(y.shape[1:]).double()
    sigma_max = torch.linalg.matrix_norm(a, ord=2).item()
    for i in range(y.shape[0]):
        d = (y_adv[i] - y[i]).double().flatten()
        expected = ((a @ d).norm() / d.norm()).item()
        assert res["k"][i] == pytest.approx(expected, rel=0.01)
        assert res["k"][i] <= sigma_max * 1.0001
        assert res["attack"][i] == "ifgsm@2"


def test_k_along_the_top_singular_vector_is_the_operator_norm(y):
    f = LinearSR()
    a = f.matrix(y.shape[1:]).double()
    u, s, vh = torch.linalg.svd(a)
    d = (vh[0] * 1e-3).float().view(1, *y.shape[1:])
    k = lipschitz_k(f, y[:1], y[:1] + d)
    assert k[0] == pytest.approx(s[0].item(), rel=0.01)


def test_stochastic_k_uses_the_same_seed_on_both_sides(y):
    f_det, f_sto = LinearSR(), LinearSR(stochastic=True)
    z = f_sto.sample_z(y, 4, torch.Generator().manual_seed(3))
    y_adv = y + 0.01 * torch.randn(y.shape, generator=torch.Generator().manual_seed(4))
    k_sto = lipschitz_k(f_sto, y, y_adv, z)  # the additive noise cancels with the same seed
    k_det = lipschitz_k(f_det, y, y_adv)
    assert k_sto == pytest.approx(k_det, rel=1e-4)


def test_per_image_k_is_nan_without_a_perturbation(y):
    out = torch.rand(2, 3, 12, 12)
    assert all(math.isnan(k) for k in per_image_k(out, out, y, y))


def test_summary_and_report_take_the_strongest_attack_per_image():
    assert summarize([1.0, 2.0, 6.0, math.nan]) == {"k_mean": 3.0, "k_median": 2.0, "k_max": 6.0, "k_n": 3}
    rows = pd.DataFrame([
        {"model": "m", "dataset": "d", "scale": 4, "image": "a", "lipschitz_k": 1.0},
        {"model": "m", "dataset": "d", "scale": 4, "image": "a", "lipschitz_k": 3.0},
        {"model": "m", "dataset": "d", "scale": 4, "image": "b", "lipschitz_k": 5.0},
        {"model": "m", "dataset": "d", "scale": 4, "image": "b", "lipschitz_k": float("nan")},
    ])
    rep = k_report(rows)
    assert rep.to_dict("records") == [{"model": "m", "dataset": "d", "scale": 4, "k_mean": 4.0, "k_median": 4.0,
                                       "k_max": 5.0, "k_n": 2}]


def test_attacked_rows_carry_lipschitz_k():
    import srbench
    from srbench.data import SRPair, load_dataset
    from srbench.bench.evaluate import CellEvaluator
    from srbench.report.leaderboard import METRIC_COLUMNS

    assert "lipschitz_k" in METRIC_COLUMNS
    tiny = srbench.load_model("tiny-edsr", device="cpu")
    p = load_dataset("demo", 4)[0]
    pair = SRPair(p.name, p.hr[:, :64, :64], p.lr[:, :16, :16])
    rows = CellEvaluator(tiny, 4).evaluate([pair], make_attack("ifgsm", alpha=2, steps=3), torch.device("cpu"))
    assert rows[0]["lipschitz_k"] > 0
    # recompute from the row's own quantities: l2 is ||y_adv - y||
    assert rows[0]["l2"] > 0 and math.isfinite(rows[0]["lipschitz_k"])
