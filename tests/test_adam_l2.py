import math

import pytest
import torch

from srbench.attacks import ATTACKS, L2_EPS, make_attack
from srbench.attacks.adam_l2 import AdamL2, eps_for_input_psnr
from srbench.core.restorer import Restorer, repeat_seeds


class Linear(Restorer):
    """x4 nearest upsampling times a gain: gradients always push d outward."""

    def __init__(self, gain=3.0):
        super().__init__()
        self.gain, self.scale = gain, 4

    def restore(self, y, z=None):
        return (self.gain * y).repeat_interleave(4, -1).repeat_interleave(4, -2)


class Noisy(Restorer):
    """A stochastic restorer: out = nn-up(y)^2 * (1 + z)."""

    stochastic = True

    def __init__(self):
        super().__init__()
        self.scale = 2

    def restore(self, y, z=None):
        up = y.repeat_interleave(2, -1).repeat_interleave(2, -2)
        return up.pow(2) * (1 + (0 if z is None else z))

    def sample_z(self, y, n=1, generator=None):
        return torch.randn((n * y.shape[0], *y.shape[1:]), generator=generator).repeat_interleave(
            2, -1).repeat_interleave(2, -2)


def test_budget_from_input_psnr_matches_design():
    assert abs(eps_for_input_psnr(16 * 16 * 3, 34) - 0.553) < 1e-3
    atk = AdamL2(target_input_psnr=34.0)
    y = torch.full((2, 3, 16, 16), 0.5)
    y_adv, rec = atk(Linear(), y)
    assert abs(rec["eps"] - 0.5529) < 1e-3
    ai_psnr = 10 * torch.log10(1 / (y_adv - y).pow(2).flatten(1).mean(1))
    assert torch.allclose(ai_psnr, torch.full((2,), 34.0), atol=0.01)


def test_never_leaves_ball_and_reaches_it():
    y = torch.rand(3, 3, 8, 8) * 0.5 + 0.25
    for eps in (0.01, 0.1, 0.5):
        y_adv, rec = AdamL2(eps=eps)(Linear(), y)
        norms = (y_adv - y).flatten(1).norm(dim=1)
        assert (norms <= eps * (1 + 1e-5)).all()
        assert (norms >= eps * (1 - 1e-4)).all()  # the objective grows outward: on the sphere
        assert len(rec["loss_trace"]) == 3 and len(rec["loss_trace"][0]) == 5


def test_clamped_inputs_stay_inside_ball_and_range():
    y = torch.rand(2, 3, 8, 8)  # values near 0 and 1: clamping binds
    y_adv, _ = AdamL2(eps=2.0)(Linear(), y)
    assert y_adv.min() >= 0 and y_adv.max() <= 1
    assert ((y_adv - y).flatten(1).norm(dim=1) <= 2.0 * (1 + 1e-5)).all()


def test_stochastic_seed_average_and_chunking_agree():
    y = torch.rand(2, 3, 4, 4) * 0.5 + 0.25
    r = Noisy()
    z = r.sample_z(y, 6, torch.Generator().manual_seed(1))
    a, ra = AdamL2(eps=0.2)(r, y, z=z)
    b, rb = AdamL2(eps=0.2, z_chunk=4)(r, y, z=z)
    assert torch.allclose(a, b, atol=1e-6)
    assert rb["n_seeds"] == 6
    # the caller owns the seeds: a stochastic model without z is an error, not a silent draw
    with pytest.raises(ValueError, match="needs its seeds z"):
        AdamL2(eps=0.2, n_eot=3)(r, y)
    c, _ = AdamL2(eps=0.2)(r, y, z=z)
    assert torch.equal(a, c)  # deterministic given the seeds and the attack's seed
    # the same-seed sensitivity grows from the tiny random start to the sphere
    assert all(tr[-1] > 10 * tr[0] for tr in ra["loss_trace"])
    zr = z
    sens = lambda ya: (r.restore(repeat_seeds(ya, 6), zr) - r.restore(repeat_seeds(y, 6), zr)).pow(2).sum() / 6
    assert sens(a) > 10 * ra["loss_trace"][0][0]


def test_registered_and_validates():
    assert ATTACKS.get("adam-l2") is AdamL2
    atk = make_attack("adam-l2", eps=1.0, steps=2)
    assert atk.budget == L2_EPS and atk.budget_value() == 1.0 and atk.budget_unit() == "L2 [0,1]"
    assert atk.n_seeds == 10 and atk.n_steps == 2 and not atk.takes_target
    assert make_attack("adam-l2", target_input_psnr=34.0).budget_unit() is None  # eps is then a placeholder
    from srbench.core.errors import UserError

    with pytest.raises(UserError):
        make_attack("adam-l2", eps=-1)
    with pytest.raises(UserError):
        make_attack("adam-l2", target_input_psnr=-3)
    assert math.isclose(AdamL2(eps=0)(Linear(), torch.rand(1, 3, 4, 4))[1]["eps"], 0.0)
