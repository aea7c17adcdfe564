import math

import pytest
import torch

from srbench.experiments.toy.data import ToyData
from srbench.experiments.toy.networks import MLP, ToyGenerator, consistency
from srbench.attacks.adam_l2 import l2_project, random_in_ball, sensitivity
from srbench.experiments.training import AdamL2Attack, GANConfig, GANTrainer


@pytest.fixture(scope="module")
def data():
    return ToyData.make(0, n_train=2000, n_val=500)


def _trainer(data, stochastic=True, lambda_r=0.1, steps=8, ckpt=None, seed=0, **kw):
    torch.manual_seed(seed)
    G, D = ToyGenerator(stochastic, width=16, depth=2), MLP(2, 1, width=16, depth=2)
    cfg = GANConfig(steps=steps, batch_size=16, lambda_r=lambda_r, robust_batch_size=4, seed=seed,
                    lr_milestones=(3, 6), lr_decay=0.5, log_every=1, val_every=2, ckpt_every=0, **kw)
    attack = AdamL2Attack(eps=1e-2, steps=2, lr=1e-3, n_seeds=5)
    val = lambda tr, step: {"gmean": tr.G(data.val[:50, :1], None).mean().item()}  # noqa: E731
    return GANTrainer(G, D, data.sampler(), cfg, sample_z=G.sample_z if stochastic else None,
                      consistency=consistency, robustness=attack.penalty, validate=val, checkpoint=ckpt,
                      progress=False)


def _same_state(a: GANTrainer, b: GANTrainer):
    for m, n in ((a.G, b.G), (a.D, b.D)):
        for (k, p), (_, q) in zip(m.state_dict().items(), n.state_dict().items()):
            assert torch.equal(p, q), k
    for oa, ob in ((a.opt_g, b.opt_g), (a.opt_d, b.opt_d)):
        sa, sb = oa.state_dict(), ob.state_dict()
        assert sa["param_groups"] == sb["param_groups"]
        for k in sa["state"]:
            for key, v in sa["state"][k].items():
                assert torch.equal(v, sb["state"][k][key]), (k, key)
    assert torch.equal(a.rng.get_state(), b.rng.get_state())


@pytest.mark.parametrize("stochastic", [True, False])
def test_resume_is_bit_identical(tmp_path, data, stochastic):
    full = _trainer(data, stochastic)
    full.train()
    part = _trainer(data, stochastic, ckpt=tmp_path / "c.pt")
    part.train(until=5)  # interrupted mid-run; the checkpoint holds step 5
    torch.manual_seed(1234)  # a different global RNG state must not matter
    resumed = _trainer(data, stochastic, ckpt=tmp_path / "c.pt", seed=0)
    assert resumed.maybe_resume() and resumed.step == 5
    resumed.train()
    assert resumed.step == full.step == 8
    _same_state(full, resumed)
    strip = lambda h: [{k: v for k, v in r.items()} for r in h]  # noqa: E731
    assert strip(resumed.history) == strip(full.history)
    assert resumed.opt_g.param_groups[0]["lr"] == pytest.approx(1e-4 * 0.25)  # two decays


def test_checkpoint_config_mismatch(tmp_path, data):
    a = _trainer(data, ckpt=tmp_path / "c.pt", steps=2)
    a.train()
    b = _trainer(data, ckpt=tmp_path / "c.pt", lambda_r=0.5)
    with pytest.raises(ValueError, match="lambda_r"):
        b.maybe_resume()


def test_training_changes_parameters_and_logs(data):
    tr = _trainer(data, steps=4)
    before = [p.clone() for p in tr.G.parameters()]
    hist = tr.train()
    assert any(not torch.equal(p, q) for p, q in zip(before, tr.G.parameters()))
    rows = [h for h in hist if not h.get("val")]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all("robust_term" in r and math.isfinite(r["robust_term"]) for r in rows)
    assert [h["step"] for h in hist if h.get("val")] == [2, 4]


def test_lambda_without_robustness_rejected(data):
    G, D = ToyGenerator(False, 8, 1), MLP(2, 1, 8, 1)
    with pytest.raises(ValueError):
        GANTrainer(G, D, data.sampler(), GANConfig(steps=1, batch_size=4, lambda_r=1.0), progress=False)


# -- the robustness term -------------------------------------------------------------------
def test_projection_and_random_start_stay_in_ball():
    g = torch.Generator().manual_seed(0)
    d = torch.randn(7, 3, 4, 4, generator=g)
    p = l2_project(d, 0.5)
    assert torch.all(p.flatten(1).norm(dim=1) <= 0.5 + 1e-6)
    small = 1e-3 * d
    assert torch.equal(l2_project(small, 0.5), small)
    r = random_in_ball(d, 0.2, g)
    assert r.shape == d.shape and torch.all(r.flatten(1).norm(dim=1) <= 0.2 + 1e-6)


def test_attack_on_images_per_sample_ball():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Tanh(), torch.nn.Conv2d(8, 3, 3, padding=1))
    fn = lambda y, z: net(y) if z is None else net(y + 0.1 * z)  # noqa: E731
    sample_z = lambda y, n, g: torch.randn(n * y.shape[0], *y.shape[1:], generator=g)  # noqa: E731
    y = torch.rand(3, 3, 8, 8)
    att = AdamL2Attack(eps=0.5, steps=5, lr=0.1, n_seeds=4)
    g = torch.Generator().manual_seed(0)
    from srbench.experiments.training.robustness import draw_seeds
    z, n = draw_seeds(sample_z, y, 4, g)
    assert n == 4 and z.shape == (12, 3, 8, 8)
    d = att.perturb(fn, y, z, n, g)
    assert d.shape == y.shape and torch.all(d.flatten(1).norm(dim=1) <= 0.5 + 1e-5)
    # the attack increases the objective over its random start
    g0 = torch.Generator().manual_seed(0)
    z0, _ = draw_seeds(sample_z, y, 4, g0)
    start = random_in_ball(y, 0.5, g0)
    assert torch.all(sensitivity(fn, y, d, z, n) >= sensitivity(fn, y, start, z0, n) - 1e-7)
    pen = att.penalty(fn, y, sample_z, g)
    assert pen.shape == (3,) and pen.requires_grad
    pen.mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_deterministic_uses_one_seed_and_matches_formula():
    fn = lambda y, z: torch.cat([y, torch.sin(50 * y)], 1)  # noqa: E731
    y = torch.linspace(-0.9, 0.9, 11)[:, None]
    d = torch.full_like(y, 1e-3)
    ref = (1e-3) ** 2 + (torch.sin(50 * (y + 1e-3)) - torch.sin(50 * y)).pow(2).squeeze(1)
    assert torch.allclose(sensitivity(fn, y, d), ref, atol=1e-9)
    att = AdamL2Attack(eps=1e-3, steps=4, lr=1e-4, n_seeds=50)
    r = att.estimate(fn, y, None, torch.Generator().manual_seed(0))
    assert r.shape == (11,)
    # the maximum over |d| <= eps is at most eps^2 (1 + 50^2)
    assert torch.all(r <= (1e-3) ** 2 * (1 + 2500) * 1.01)


def test_same_seed_sensitivity_is_zero_for_shift_invariant_noise():
    # fn(y, z) = y + z: the same seed on both sides cancels z exactly
    fn = lambda y, z: y + z  # noqa: E731
    y = torch.zeros(4, 1)
    z = torch.randn(20, 1)
    d = torch.full_like(y, 0.3)
    assert torch.allclose(sensitivity(fn, y, d, z, 5), torch.full((4,), 0.09))


def test_the_training_attack_differentiates_the_seed_mean_as_the_committed_toy_runs_did():
    """The robustness term's inner attack takes the gradient of mean_seeds sum_inputs ||.||^2 in one graph:
    the order of operations the committed toy runs were trained with. Summing the seeds' gradients and
    dividing afterwards (the benchmark attack's order) is the same gradient rounded differently, and a
    GAN amplifies that: seed 0's robust-stoch left the committed run after 1000 steps."""
    torch.manual_seed(1)  # a case where the two orders end 4 Adam steps at different d (seed 0 does not)
    G = ToyGenerator(True, 64, 3)
    fn = lambda y, z: consistency(G(y, z), y)  # noqa: E731
    y = torch.rand(4, 1)
    att = AdamL2Attack(eps=1e-3, steps=4, lr=1e-4, n_seeds=50)
    from srbench.experiments.training.robustness import draw_seeds
    z, n = draw_seeds(G.sample_z, y, 50, torch.Generator().manual_seed(1))
    start = random_in_ball(y, 1e-3, torch.Generator().manual_seed(2))
    d = start.clone().requires_grad_(True)  # the reference: Adam on the loss with the seed mean inside
    opt = torch.optim.Adam([d], lr=1e-4)
    for _ in range(4):
        (grad,) = torch.autograd.grad(sensitivity(fn, y, d, z, n).sum(), d)
        d.grad = -grad
        opt.step()
        with torch.no_grad():
            d.copy_(l2_project(d, 1e-3))
    got = att.perturb(fn, y, z, n, torch.Generator().manual_seed(2))
    assert torch.equal(got, d.detach())  # the same process and machine: bit for bit
