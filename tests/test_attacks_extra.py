"""The attacks of issue 17 (pgd, ifgsm-targeted, universal) and the worst case over several attacks.

Real models (bicubic, tiny-edsr, a tiny stochastic U-Net), the demo images cropped small, few steps.
"""
import dataclasses

import numpy as np
import pytest
import torch

from model_zoo.unet_gan.model import UNetGANRestorer
from srbench.attacks import ATTACKS, L2_EPS, LINF_ALPHA, Attack, make_attack, seed_averaged_loss
from srbench.attacks.universal import tile
from srbench.data import load_dataset
from srbench.core.errors import UserError
from srbench.bench.evaluate import CellEvaluator, draw_z
from srbench.report.leaderboard import WORST_CASE, leaderboard, render
from srbench.models import load_model
from srbench.bench.runner import pending_cells, run_suite
from srbench.report.website import render_site
from srbench.bench.store import RunStore
from srbench.bench.suite import build_suite

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny-edsr", device="cpu")


def small_pairs(limit=3, side=16):
    """The first demo images, LR cut to side x side (HR to match): a few milliseconds per attack step."""
    return [dataclasses.replace(p, lr=p.lr[:, :side, :side], hr=p.hr[:, :4 * side, :4 * side])
            for p in load_dataset("demo", 4, limit=limit)]


def inputs(pairs):
    return torch.stack([p.lr for p in pairs]), torch.stack([p.hr for p in pairs])


@pytest.mark.parametrize("init", ["zero", "uniform"])
def test_pgd_with_one_restart_and_the_ifgsm_step_is_ifgsm_exactly(tiny, init):
    y, hr = inputs(small_pairs(2))
    ifgsm_adv, ifgsm_record = make_attack("ifgsm", alpha=8.0, steps=4, init=init)(tiny, y, hr)
    pgd_adv, pgd_record = make_attack("pgd", alpha=8.0, steps=4, init=init, restarts=1, step_factor=1.0)(tiny, y, hr)
    assert torch.equal(pgd_adv, ifgsm_adv)
    assert pgd_record["loss_trace"] == ifgsm_record["loss_trace"] and pgd_record["step_size"] == ifgsm_record["step_size"]
    madry = make_attack("pgd", alpha=8.0, steps=4, init=init, restarts=1)(tiny, y, hr)[1]
    assert madry["step_size"] == pytest.approx(2.5 * 8 / 255 / 4)


def test_more_restarts_never_lower_the_loss_reached(tiny):
    """Restart r is the same whatever R (one generator), so the best of 3 is at least restart 0's, per image."""
    y, hr = inputs(small_pairs(3))
    one = make_attack("pgd", alpha=4.0, steps=3, restarts=1)(tiny, y, hr)[1]["per_image"]
    three = make_attack("pgd", alpha=4.0, steps=3, restarts=3)(tiny, y, hr)[1]["per_image"]
    assert all(b["attack_loss"] >= a["attack_loss"] for a, b in zip(one, three))
    assert any(b["best_restart"] > 0 for b in three)  # the extra restarts did win somewhere


def test_more_restarts_never_lower_the_loss_of_a_stochastic_model():
    """Same seeds (the evaluator's z) for every restart: the reported loss is the seed-averaged one, and it only grows."""
    torch.manual_seed(0)
    model = UNetGANRestorer("sr4", base=4, stochastic=True).eval().requires_grad_(False)
    pairs = small_pairs(2)
    y, hr = inputs(pairs)
    z = draw_z(model, pairs, y, 3, 0, "attack")
    losses = []
    for restarts in (1, 2):
        y_adv, record = make_attack("pgd", alpha=4.0, steps=2, restarts=restarts, n_eot=3)(model, y, hr, z)
        reached = seed_averaged_loss(model, y_adv, hr, z)
        assert reached.tolist() == pytest.approx([r["attack_loss"] for r in record["per_image"]], rel=1e-5)
        losses.append(reached)
    assert (losses[1] >= losses[0] - 1e-7).all()


# small options for each attack with a budget; a new attack with a budget must be added here
SMALL = {"ifgsm": {"steps": 3}, "pgd": {"steps": 2, "restarts": 2}, "ifgsm-targeted": {"steps": 3},
         "universal": {"steps": 3, "patch": 8, "train_images": 1}, "adam-l2": {"steps": 3}}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_attack_respects_its_budget(tiny, name):
    budgeted = {n for n in ATTACKS.names() if getattr(ATTACKS.get(n), "budget", None) is not None}
    assert budgeted <= set(SMALL) | {n for n in budgeted if not ATTACKS.get(n).__module__.startswith("srbench.")}
    cls = ATTACKS.get(name)
    budget = 8.0 if cls.budget == LINF_ALPHA else 0.3
    attack = make_attack(name, **{cls.budget.option: budget}, **SMALL[name])
    pairs = small_pairs(3)
    evaluator = CellEvaluator(tiny, 4, dataset=pairs)
    test = pairs
    if attack.fits_on_split:
        train, test_names = attack.split([p.name for p in pairs])
        evaluator.fit(attack, [p for p in pairs if p.name in train], CPU)
        test = [p for p in pairs if p.name in test_names]
    y = torch.stack([p.lr for p in test])
    target = evaluator._target(attack, test, torch.stack([p.hr for p in test]), evaluator.clean(test, y), CPU)
    y_adv, _ = attack(tiny, y, target)
    assert y_adv.min() >= 0 and y_adv.max() <= 1
    d = (y_adv - y).flatten(1)
    if cls.budget == LINF_ALPHA:
        assert d.abs().max() <= budget / 255 + 1e-6
        assert d.abs().max() > budget / 255 / 2  # it did move
    else:
        assert cls.budget == L2_EPS and (d.norm(dim=1) <= budget + 1e-5).all()


@pytest.mark.parametrize("target", ["other-image", "region"])
def test_a_targeted_attack_moves_the_output_towards_its_target(tiny, target):
    pairs = small_pairs(2)
    rows = CellEvaluator(tiny, 4, dataset=pairs).evaluate(
        pairs, make_attack("ifgsm-targeted", alpha=8.0, steps=5, target=target), CPU)
    for row in rows:
        assert row["target_psnr"] > row["clean_target_psnr"] + 0.05, row
        assert row["linf"] <= 8 / 255 + 1e-6


def test_the_targets_are_what_the_docs_say():
    """other-image: the next image's clean output (cyclically), resized; region: the central square flipped."""
    model = load_model("bicubic", device="cpu")
    pairs = small_pairs(2)
    evaluator = CellEvaluator(model, 4, dataset=pairs)
    y, hr = inputs(pairs)
    clean = evaluator.clean(pairs, y)
    other = evaluator._target(make_attack("ifgsm-targeted", target="other-image"), pairs, hr, clean, CPU)
    assert torch.allclose(other[0], clean.outputs[1], atol=1e-6) and torch.allclose(other[1], clean.outputs[0], atol=1e-6)
    region = evaluator._target(make_attack("ifgsm-targeted", target="region"), pairs, hr, clean, CPU)
    changed = (region != clean.outputs).any(1)  # 64 x 64 outputs: the square is rows/cols 16..47
    assert changed[:, :16].sum() == 0 and changed[:, 48:].sum() == 0 and changed[:, :, :16].sum() == 0
    assert torch.equal(region[..., 16:48, 16:48], clean.outputs[..., 16:48, 16:48].flip(-2))
    with pytest.raises(UserError, match="at least 2 images"):
        CellEvaluator(model, 4, dataset=pairs[:1]).evaluate(
            pairs[:1], make_attack("ifgsm-targeted", steps=1), CPU)


def test_a_universal_perturbation_is_one_tensor_for_every_test_image_and_within_budget(tmp_path):
    suite = build_suite({"name": "u", "models": ["tiny-edsr"], "datasets": ["demo"], "limit": 3, "device": "cpu",
                         "attack": {"name": "universal", "steps": 3, "patch": 8, "train_images": 1},
                         "alphas": [4.0], "save_images": 3})
    run = run_suite(suite, tmp_path / "run", quiet=True)
    rows = list(RunStore(run).rows())
    assert sorted(r["image"] for r in rows) == ["chelsea", "coffee"]  # evaluated on the images it did not learn from
    assert all(r["universal_train_images"] == ["astronaut"] for r in rows)
    assert all(r["attack_options"]["train_images"] == 1 and r["alpha"] == 4.0 for r in rows)
    folder = run / "images" / rows[0]["saved_images"]["delta"].split("/")[1]
    patch = torch.from_numpy(np.load(folder / "universal__delta.npy"))
    assert patch.shape == (3, 8, 8) and (folder / "universal__delta.png").is_file()
    assert 0 < patch.abs().max() <= 4 / 255 + 1e-6
    for row in rows:  # the perturbation each test image got is the tiled patch (where the clamp left it alone)
        lr = torch.from_numpy(np.load(run / row["saved_images"]["delta"]))
        y = load_dataset("demo", 4, limit=3)[["astronaut", "chelsea", "coffee"].index(row["image"])].lr
        free = ((y + tile(patch, *y.shape[-2:])) > 0) & ((y + tile(patch, *y.shape[-2:])) < 1)
        assert torch.allclose(lr[free], tile(patch, *y.shape[-2:])[free], atol=1e-6)
    assert pending_cells(suite, RunStore(run)) == []  # a finished cell holds rows of its test images only


@dataclasses.dataclass
class _Pattern(Attack):
    """A fixed sign pattern at the full L_inf budget: two of these make a known, cheap ensemble."""

    budget = LINF_ALPHA
    alpha: float = 4.0

    def __call__(self, restorer, y, target=None, z=None, on_step=None):
        return (y + self.alpha / 255 * self.pattern(y)).clamp(0, 1), {"eps": self.alpha / 255}


@dataclasses.dataclass
class Checker(_Pattern):
    name = "test-checker"

    def pattern(self, y):
        i, j = torch.meshgrid(torch.arange(y.shape[-2]), torch.arange(y.shape[-1]), indexing="ij")
        return (((i + j) % 2) * 2 - 1).to(y)


@dataclasses.dataclass
class Stripes(_Pattern):
    name = "test-stripes"
    width: int = 3

    def pattern(self, y):
        return (((torch.arange(y.shape[-1]) // self.width) % 2) * 2 - 1).to(y).expand_as(y)


def test_the_worst_case_is_the_per_image_minimum_over_the_attacks(tmp_path):
    for cls in (Checker, Stripes):
        ATTACKS.register(cls.name, cls, overwrite=True)
    suite = build_suite({"name": "w", "models": ["bicubic", "tiny-edsr"], "datasets": ["demo"], "limit": 4,
                         "device": "cpu", "alphas": [2.0, 8.0],
                         "attacks": ["test-checker", "test-stripes", {"name": "test-stripes", "width": 1}]})
    run = run_suite(suite, tmp_path / "run", quiet=True)
    rows = list(RunStore(run).rows())
    assert len(rows) == 2 * 3 * 2 * 4
    table = leaderboard([run])
    worst = table[table["attack"] == WORST_CASE]
    assert len(worst) == 4  # model x alpha
    label = {"test-checker": "test-checker", 3: "test-stripes (width=3)", 1: "test-stripes (width=1)"}
    for _, w in worst.iterrows():
        mine = [r for r in rows if r["model"] == w["model"] and r["alpha"] == w["alpha"]]
        per_image = {}
        for r in mine:
            name = label[r["attack_options"].get("width", r["attack"])]
            per_image.setdefault(r["image"], []).append((r["adv_output_psnr"], name))
        lowest = {image: min(v) for image, v in per_image.items()}
        assert w["worst_adv_output_psnr"] == pytest.approx(np.mean([v for v, _ in lowest.values()]), abs=1e-9)
        assert w["n_images"] == 4
        wins = {name: sum(n == name for _, n in lowest.values()) for name in label.values()}
        assert w["wins"] == "; ".join(f"{name}: {wins[name]}" for name in sorted(wins))
        assert w["worst_adv_output_psnr"] <= table[(table["model"] == w["model"]) & (table["alpha"] == w["alpha"])
                                                   & (table["attack"] != WORST_CASE)]["adv_output_psnr"].min() + 1e-9
    variants = set(table[table["attack"] == "test-stripes"]["attack_variant"])
    assert variants == {"width=1", "width=3"}  # one attack, two options: two rows, never merged
    assert "worst_adv_output_psnr" in render(table, "md") and "wins" in render(table, "csv").splitlines()[0]
    page = render_site([run], tmp_path / "site").read_text()
    assert "worst adv. output PSNR" in page and "test-checker: " in page and "width=1" in page


def test_attacks_in_a_suite_share_one_budget_and_keep_attack_working():
    with pytest.raises(UserError, match="share one budget"):
        build_suite({"attacks": ["ifgsm", "adam-l2"]})
    with pytest.raises(UserError, match="attack and attacks"):
        build_suite({"attack": "ifgsm", "attacks": ["pgd"]})
    with pytest.raises(UserError, match="more than once"):
        build_suite({"attacks": ["pgd", {"name": "pgd"}]})
    with pytest.raises(UserError, match="restarts"):
        build_suite({"attacks": ["ifgsm", {"name": "pgd", "restarts": 0}]})
    one = build_suite({"attack": {"name": "ifgsm", "steps": 10}, "alphas": [2, 8]})
    listed = build_suite({"attacks": [{"name": "ifgsm", "steps": 10}, {"name": "pgd", "restarts": 3}], "alphas": [2, 8]})
    from srbench.bench.suite import cells
    assert [c.cell_id for c in cells(listed)][:2] == [c.cell_id for c in cells(one)]
    assert [c.attack for c in cells(listed)] == ["ifgsm", "ifgsm", "pgd", "pgd"]


def test_attack_flags_set_each_listed_attack_and_attack_replaces_the_list(tmp_path):
    from srbench.cli import build_parser
    from srbench.cli.commands.run import suite_from_args

    path = tmp_path / "s.yaml"
    path.write_text("models: [bicubic]\ndatasets: [demo]\nattacks: [ifgsm, {name: pgd, restarts: 2}]\n")
    listed = suite_from_args(build_parser().parse_args(["run", str(path), "--steps", "7"]))
    assert listed.attack_specs() == [("ifgsm", {"steps": 7}), ("pgd", {"restarts": 2, "steps": 7})]
    one = suite_from_args(build_parser().parse_args(["run", str(path), "--attack", "pgd", "--restarts", "4"]))
    assert one.attacks is None and one.attack_specs() == [("pgd", {"restarts": 4})]
