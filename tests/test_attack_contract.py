"""The attack contract: an attack declares its budget, whether it takes a target and how many seeds it
averages over; the evaluator reads that, draws the seeds and passes them in."""
import dataclasses

import torch

from model_zoo.unet_gan.model import UNetGANRestorer
from srbench.attacks import ATTACKS, L2_EPS, LINF_ALPHA, Attack
from srbench.attacks.ifgsm import IFGSM
from srbench.data import load_dataset
from srbench.bench.evaluate import CellEvaluator, draw_z
from srbench.models import load_model
from srbench.core.restorer import DEFAULT_N_SEEDS, batch_size_of_z
from srbench.bench.runner import run_suite
from srbench.bench.store import RunStore
from srbench.bench.suite import build_suite

CPU = torch.device("cpu")


@dataclasses.dataclass
class RecordingNoise(Attack):
    """Random sign noise at the L_inf budget that keeps what the evaluator handed it."""

    name = "recording-noise"
    budget = LINF_ALPHA

    alpha: float = 4.0
    seeds: int = 3
    calls: list = dataclasses.field(default_factory=list)

    n_seeds = property(lambda self: self.seeds)

    def __call__(self, restorer, y, target=None, z=None, on_step=None):
        self.calls.append({"target": target, "z": z})
        sign = torch.randint(0, 2, y.shape, generator=torch.Generator().manual_seed(0)).to(y) * 2 - 1
        return (y + self.alpha / 255 * sign).clamp(0, 1), {"eps": self.alpha / 255}


@dataclasses.dataclass
class RecordingIFGSM(IFGSM):
    calls: list = dataclasses.field(default_factory=list)

    def __call__(self, restorer, y, target=None, z=None, on_step=None):
        self.calls.append({"target": target, "z": z})
        return super().__call__(restorer, y, target, z, on_step)


def test_the_evaluator_draws_the_attacks_seeds_and_passes_them_in():
    torch.manual_seed(0)
    model = UNetGANRestorer("sr4", base=4, stochastic=True).eval().requires_grad_(False)
    pairs = load_dataset("demo", 4, limit=2)
    pairs = [dataclasses.replace(p, lr=p.lr[:, :16, :16], hr=p.hr[:, :64, :64]) for p in pairs]
    attack = RecordingNoise(seeds=3)
    evaluator = CellEvaluator(model, 4, seed=7, n_seeds=attack.n_seeds)
    rows = evaluator.evaluate(pairs, attack, CPU)
    (call,) = attack.calls
    y = torch.stack([p.lr for p in pairs])
    assert call["target"] is None  # the attack takes none
    assert batch_size_of_z(call["z"]) == 3 * len(pairs)
    expected = draw_z(model, pairs, y, 3, 7, "attack")  # the evaluator's own seeds, per image and run seed
    assert all(torch.equal(a, b) for a, b in zip(call["z"], expected))
    assert [r["n_seeds"] for r in rows] == [3, 3]


def test_a_target_is_built_only_for_attacks_that_take_one():
    model = load_model("bicubic", device="cpu")
    pairs = load_dataset("demo", 4, limit=1)
    y, hr = pairs[0].lr[None], pairs[0].hr[None]
    for target, expected in (("hr", hr), ("clean", model.restore(y))):
        attack = RecordingIFGSM(alpha=2.0, steps=1, target=target, init="uniform")
        CellEvaluator(model, 4).evaluate(pairs, attack, CPU)
        assert attack.calls[0]["z"] is None and torch.equal(attack.calls[0]["target"], expected)
    assert IFGSM.takes_target and not ATTACKS.get("adam-l2").takes_target and not ATTACKS.get("none").takes_target
    assert ATTACKS.get("none")().n_seeds == DEFAULT_N_SEEDS == IFGSM().n_eot


def test_rows_carry_the_budget_with_its_unit(tmp_path):
    """alpha and budget as before; the unit and norm say what the number means (None: no budget, or a placeholder)."""
    common = {"models": ["bicubic"], "datasets": ["demo"], "limit": 1, "device": "cpu"}
    runs = {"ifgsm": ({"name": "ifgsm", "steps": 1}, [2]),
            "adam-eps": ({"name": "adam-l2", "steps": 1}, [0.5]),
            "adam-psnr": ({"name": "adam-l2", "steps": 1, "target_input_psnr": 40.0}, [0.0]),
            "none": ({"name": "none"}, [8])}
    got = {}
    for key, (attack, alphas) in runs.items():
        run_suite(build_suite({**common, "attack": attack, "alphas": alphas}), tmp_path / key, quiet=True)
        (row,) = RunStore(tmp_path / key).rows()
        got[key] = (row["alpha"], row["budget"], row["budget_unit"], row["budget_norm"])
    assert got == {"ifgsm": (2.0, 2.0, "1/255", "linf"), "adam-eps": (None, 0.5, "L2 [0,1]", "l2"),
                   "adam-psnr": (None, 0.0, None, "l2"), "none": (None, None, None, None)}
    assert IFGSM.budget == LINF_ALPHA and ATTACKS.get("adam-l2").budget == L2_EPS
