"""`srbench plot perception`: robustness against NIQE per model, marked by training, from real tiny runs.

Runs on the demo dataset (2 images, 3 I-FGSM steps) with bicubic ("-") and tiny-edsr ("pixel");
with ../shared/weights also the GAN-trained swiftsrgan. The plotted numbers must be the
leaderboard's means, and the drawn points must sit where those numbers say.
"""
import math

import matplotlib.colors
import matplotlib.pyplot as plt
import pytest
from PIL import Image

from conftest import SHARED, run_cli
from srbench.cli import main as srbench_main
from srbench.report.leaderboard import aggregate, by_training, load_rows
from srbench.report.plots import TRAINING_STYLE, perception, perception_figure, perception_points

RUN_FLAGS = ["--datasets", "demo", "--limit", "2", "--alpha", "2,8", "--steps", "3", "--quiet"]


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    """srbench run as a user types it, into a fresh folder; returns the folder."""
    root = tmp_path_factory.mktemp("perception")
    env = {"SRBENCH_CACHE": str(root / "cache"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}

    def make(name, *flags):
        out = root / name  # later flags override RUN_FLAGS
        res = run_cli("run", *RUN_FLAGS, *flags, "--out", str(out), env=env, timeout=300)
        assert res.returncode == 0, res.stderr
        return out
    return make


@pytest.fixture(scope="module")
def scored(make_run):
    return make_run("scored", "--models", "bicubic,tiny-edsr", "--niqe")


@pytest.fixture(scope="module")
def unscored(make_run):
    return make_run("unscored", "--models", "tiny-edsr", "--alpha", "8")  # the same attack settings: a newer cell


def test_plotted_numbers_are_the_leaderboard_means(scored, tmp_path):
    table = aggregate(load_rows([scored]))
    points, left_out = perception(table, tmp_path / "p.png", alphas=[2.0, 8.0])
    assert left_out == []
    assert sorted(zip(points["model"], points["alpha"])) == [("bicubic", 2.0), ("bicubic", 8.0),
                                                             ("tiny-edsr", 2.0), ("tiny-edsr", 8.0)]
    for _, p in points.iterrows():
        row = table[(table["model"] == p["model"]) & (table["alpha"] == p["alpha"])].iloc[0]
        for column in ("niqe", "psnr_y", "adv_output_psnr", "lipschitz_k", "n_images"):
            assert p[column] == row[column], (p["model"], p["alpha"], column)
    # NIQE and PSNR-Y describe the clean output: the same at every alpha, and finite
    for _, m in points.groupby("model"):
        assert m["niqe"].nunique() == 1 and m["psnr_y"].nunique() == 1 and math.isfinite(m["niqe"].iloc[0])
    # the attack hurts more at the larger budget
    for _, m in points.groupby("model"):
        assert m.set_index("alpha").loc[8.0, "adv_output_psnr"] < m.set_index("alpha").loc[2.0, "adv_output_psnr"]
    assert dict(zip(points["model"], points["training"])) == {"bicubic": "-", "tiny-edsr": "pixel"}


def test_default_alphas_and_dataset(scored):
    points, _ = perception_points(aggregate(load_rows([scored])))
    assert set(points["alpha"]) == {8.0}  # 4 and 8 where present: only 8 is in these runs
    assert set(points["dataset"]) == {"demo"}


def _drawn(ax):
    """{legend label: sorted (x, y) points} of each scatter of a panel."""
    return {c.get_label(): sorted(map(tuple, c.get_offsets().tolist())) for c in ax.collections}


def test_points_sit_where_the_numbers_say_with_the_marker_of_their_training(scored):
    points, _ = perception_points(aggregate(load_rows([scored])), alphas=[2.0, 8.0])
    fig = perception_figure(points, y="both")
    axes = fig.axes  # row-major: robustness at 2, 8, distortion; Lipschitz at 2, 8 (the 6th is hidden)
    label = {t: TRAINING_STYLE[t][2] for t in ("-", "pixel")}
    for ax, alpha in zip(axes[:2], (2.0, 8.0)):
        at = points[points["alpha"] == alpha].set_index("model")
        assert _drawn(ax) == {label["-"]: [(at.loc["bicubic", "niqe"], at.loc["bicubic", "adv_output_psnr"])],
                              label["pixel"]: [(at.loc["tiny-edsr", "niqe"], at.loc["tiny-edsr", "adv_output_psnr"])]}
        assert "lower = more natural" in ax.get_xlabel() and f"alpha = {alpha:g}" in ax.get_title()
    for ax, alpha in zip(axes[3:5], (2.0, 8.0)):
        at = points[points["alpha"] == alpha].set_index("model")
        assert ax.get_yscale() == "log"
        assert _drawn(ax)[label["pixel"]] == [(at.loc["tiny-edsr", "niqe"], at.loc["tiny-edsr", "lipschitz_k"])]
    clean = points.drop_duplicates("model").set_index("model")
    assert _drawn(axes[2]) == {label["-"]: [(clean.loc["bicubic", "niqe"], clean.loc["bicubic", "psnr_y"])],
                               label["pixel"]: [(clean.loc["tiny-edsr", "niqe"], clean.loc["tiny-edsr", "psnr_y"])]}
    for c in axes[2].collections:  # colour of the training kind, not of the model
        training = next(t for t, lab in label.items() if lab == c.get_label())
        assert tuple(c.get_facecolor()[0]) == matplotlib.colors.to_rgba(TRAINING_STYLE[training][1])
    assert sorted(t.get_text() for t in axes[2].get_legend().get_texts()) == sorted(label.values())
    assert {t.get_text() for t in axes[2].texts} == {"bicubic", "tiny-edsr"}  # each point named
    assert "demo" in fig._suptitle.get_text() and not axes[5].get_visible()
    plt.close(fig)


def test_cli_writes_a_real_png(scored, tmp_path):
    out = tmp_path / "fig.png"
    res = run_cli("plot", "perception", str(scored), "--output", str(out), "--alphas", "2,8", "--dataset", "demo")
    assert res.returncode == 0, res.stderr
    assert res.stderr == "" and "wrote" in res.stdout
    with Image.open(out) as img:
        assert img.format == "PNG" and img.width > 1000 and 300 < img.height < img.width
        assert sum(1 for count in img.convert("L").histogram() if count) > 20  # drawn, not blank
    assert out.stat().st_size > 20_000


def test_models_without_niqe_are_left_out_with_one_note(scored, unscored, tmp_path):
    # the newer unscored tiny-edsr cell replaces the scored one at alpha 8: its rows carry no NIQE
    table = aggregate(load_rows([scored, unscored]))
    points, left_out = perception_points(table, alphas=[8.0])
    assert left_out == ["tiny-edsr"] and list(points["model"]) == ["bicubic"]
    res = run_cli("plot", "perception", str(scored), str(unscored), "-o", str(tmp_path / "f.png"), "--alphas", "8")
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("\n") == 1 and "tiny-edsr" in res.stderr and "--niqe" in res.stderr


@pytest.mark.parametrize("flags, message", [
    (["--dataset", "set5"], "dataset 'set5' has no attacked cells in the runs; they hold demo"),
    (["--alphas", "2,3"], "alpha 3 is not in the runs on demo; they hold alphas 2, 8"),
    (["--alphas", "four"], "--alphas takes numbers separated by commas"),
])
def test_bad_arguments_are_one_line_errors(scored, tmp_path, capsys, flags, message):
    out = tmp_path / "f.png"
    assert srbench_main(["plot", "perception", str(scored), "-o", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("srbench: error: ") and message in err and err.count("\n") == 1 and not out.exists()


def test_no_niqe_anywhere_says_to_rerun_with_niqe(unscored, tmp_path, capsys):
    assert srbench_main(["plot", "perception", str(unscored), "-o", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model has NIQE scores on demo" in err and "--niqe" in err


def test_leaderboard_grouped_by_training_averages_the_models_means(scored, make_run):
    table = aggregate(load_rows([scored]))
    grouped = by_training(table)
    assert sorted(zip(grouped["training"], grouped["alpha"])) == [("-", 2.0), ("-", 8.0), ("pixel", 2.0), ("pixel", 8.0)]
    for _, g in grouped.iterrows():
        row = table[(table["training"] == g["training"]) & (table["alpha"] == g["alpha"])]
        assert g["n_models"] == 1 and g["models"] == row["model"].iloc[0]
        assert g["adv_output_psnr"] == row["adv_output_psnr"].iloc[0] and g["niqe"] == row["niqe"].iloc[0]
    res = run_cli("leaderboard", str(scored), "--group-by", "training", "--format", "csv")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].startswith("training,dataset,scale,attack,alpha,n_models,models,")
    assert len(res.stdout.strip().splitlines()) == 1 + 4


def test_two_models_of_one_kind_are_averaged(scored):
    table = aggregate(load_rows([scored]))
    as_one_kind = table.assign(training="pixel")  # bicubic and tiny-edsr counted as one kind
    grouped = by_training(as_one_kind).set_index("alpha")
    for alpha in (2.0, 8.0):
        at = table[table["alpha"] == alpha]
        assert grouped.loc[alpha, "n_models"] == 2 and grouped.loc[alpha, "models"] == "bicubic, tiny-edsr"
        assert grouped.loc[alpha, "adv_output_psnr"] == pytest.approx(at["adv_output_psnr"].mean(), abs=1e-12)


@pytest.fixture(scope="module")
def gan_run(make_run):
    weights = SHARED / "weights" / "swift_srgan_4x.pth"
    if not weights.is_file():
        pytest.skip("../shared/weights is absent")
    return make_run("gan", "--models", "swiftsrgan", "--weights", f"swiftsrgan={weights}", "--niqe")


def test_gan_trained_model_gets_the_gan_marker(scored, gan_run, tmp_path):
    points, _ = perception(aggregate(load_rows([scored, gan_run])), tmp_path / "g.png", alphas=[8.0])
    assert dict(zip(points["model"], points["training"]))["swiftsrgan"] == "GAN"
    fig = perception_figure(points)
    drawn = _drawn(fig.axes[0])
    gan = points[points["model"] == "swiftsrgan"].iloc[0]
    assert drawn[TRAINING_STYLE["GAN"][2]] == [(gan["niqe"], gan["adv_output_psnr"])]
    plt.close(fig)
    assert len(drawn) == 3 and (tmp_path / "g.png").stat().st_size > 20_000


def _label_boxes(ax):
    """{label text: its text's box on the canvas} (without the leader line a moved label gets)."""
    from matplotlib.text import Text

    renderer = ax.figure.canvas.get_renderer()
    boxes = {}
    for label in ax.texts:
        label.update_positions(renderer)
        boxes[label.get_text()] = Text.get_window_extent(label, renderer)
    return boxes


def test_labels_of_close_points_do_not_overlap():
    """Pixel-loss models score within 0.1 dB of each other: their names must still be readable."""
    import pandas as pd

    models = {"imdn": (6.29, 19.7), "rlfn": (6.25, 18.3), "ditn": (6.19, 18.3), "craft": (6.22, 18.6),
              "swiftsrgan": (6.89, 30.5), "bicubic": (7.72, 38.2)}
    points = pd.DataFrame([{"model": m, "training": "-" if m == "bicubic" else "pixel", "dataset": "set14",
                            "scale": 4, "attack": "ifgsm", "alpha": 4.0, "n_images": 14, "niqe": x,
                            "psnr_y": 28.6 - (x - 6.2) * 0.01, "adv_output_psnr": y, "lipschitz_k": 50.0}
                           for m, (x, y) in models.items()])
    fig = perception_figure(points, y="robustness")
    try:
        for ax in fig.axes:
            boxes = _label_boxes(ax)
            assert sorted(boxes) == sorted(models)  # every point named once
            assert {t.get_text(): tuple(t.xy) for t in ax.texts} == {
                m: (x, y if "alpha" in ax.get_title() else points.set_index("model").loc[m, "psnr_y"])
                for m, (x, y) in models.items()}  # ... at its own point
            names = sorted(boxes)
            overlapping = [(a, b) for i, a in enumerate(names) for b in names[:i] if boxes[a].overlaps(boxes[b])]
            assert overlapping == [], ax.get_title()
            frame = ax.get_window_extent()
            assert all(frame.y0 <= box.y0 and box.y1 <= frame.y1 for box in boxes.values()), ax.get_title()
    finally:
        plt.close(fig)
