"""I-FGSM: budget invariants, determinism, and degradation that grows with alpha."""
import math

import pytest
import torch

import srbench
from srbench.attacks import make_attack
from srbench.core.errors import UserError
from srbench.bench.evaluate import CellEvaluator
from srbench.data import load_dataset


@pytest.fixture(scope="module")
def tiny():
    return srbench.load_model("tiny-edsr", device="cpu")


@pytest.fixture(scope="module")
def demo_pairs():
    return load_dataset("demo", 4)[:2]


def _crop(pairs, size=24):
    from srbench.data import SRPair

    return [SRPair(p.name, p.hr[:, : size * 4, : size * 4], p.lr[:, :size, :size]) for p in pairs]


@pytest.mark.parametrize("alpha", [1, 8, 32])
@pytest.mark.parametrize("init", ["zero", "uniform"])
def test_budget_is_respected(tiny, demo_pairs, alpha, init):
    pairs = _crop(demo_pairs)
    y = torch.stack([p.lr for p in pairs])
    hr = torch.stack([p.hr for p in pairs])
    attack = make_attack("ifgsm", alpha=alpha, steps=5, init=init)
    y_adv, record = attack(tiny, y, target=hr)
    assert (y_adv - y).abs().max() <= alpha / 255 + 1e-6
    assert y_adv.min() >= 0 and y_adv.max() <= 1
    in_psnr = srbench.core.metrics.batch_psnr(y, y_adv)
    assert (in_psnr >= 20 * math.log10(255 / alpha) - 0.01).all()
    assert len(record["loss_trace"]) == 2 and len(record["loss_trace"][0]) == 5


def test_attack_raises_the_loss_and_is_deterministic(tiny, demo_pairs):
    pairs = _crop(demo_pairs)
    y = torch.stack([p.lr for p in pairs])
    hr = torch.stack([p.hr for p in pairs])
    attack = make_attack("ifgsm", alpha=8, steps=10)
    a, rec = attack(tiny, y, target=hr)
    b, _ = attack(tiny, y, target=hr)
    assert torch.equal(a, b)
    trace = torch.tensor(rec["loss_trace"])
    assert (trace[:, -1] > trace[:, 0]).all()


def test_quantize_puts_inputs_on_the_8bit_grid(tiny, demo_pairs):
    pairs = _crop(demo_pairs)
    y = torch.stack([p.lr for p in pairs])
    y_adv, _ = make_attack("ifgsm", alpha=4, steps=3, quantize=True)(tiny, y, target=torch.stack([p.hr for p in pairs]))
    assert torch.allclose(y_adv * 255, (y_adv * 255).round(), atol=1e-4)
    assert (y_adv - y).abs().max() <= 4 / 255 + 1e-6


def test_clean_target_needs_random_start():
    with pytest.raises(UserError, match="init uniform"):
        make_attack("ifgsm", alpha=8, target="clean")
    with pytest.raises(UserError, match="alpha must be >= 0"):
        make_attack("ifgsm", alpha=-1)
    with pytest.raises(UserError, match="no option"):
        make_attack("ifgsm", alhpa=2)


def test_degradation_grows_with_alpha(tiny, demo_pairs):
    """Acceptance 3 on the project's own small model: output PSNR falls as alpha grows."""
    evaluator = CellEvaluator(tiny, scale=4)
    group = _crop(demo_pairs, 32)
    means = []
    for alpha in (1, 4, 16):
        rows = evaluator.evaluate(group, make_attack("ifgsm", alpha=alpha, steps=10), torch.device("cpu"))
        for r in rows:
            assert r["adv_input_psnr"] >= 20 * math.log10(255 / alpha) - 0.01
            assert r["linf"] <= alpha / 255 + 1e-6
            assert r["adv_psnr_hr"] < r["psnr_rgb"]  # the attack makes the output worse than clean
        means.append(sum(r["adv_output_psnr"] for r in rows) / len(rows))
    assert means[0] > means[1] > means[2]
