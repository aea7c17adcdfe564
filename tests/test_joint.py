"""The joint perceptual index: jfid compares (x, y) pairs, plain FID only the images."""
import pytest
import torch

from srbench.data.bicubic import imresize
from srbench.data.demo import skimage_image
from srbench.core.errors import UserError
from srbench.experiments.joint import bring_to_size, get_extractor, joint_index, pair_features, tiles


@pytest.fixture(scope="module")
def images():
    """160 natural 32 x 32 crops with their x4 bicubic measurements."""
    xs = []
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        img = skimage_image(name)[:, :256, :320]
        xs.extend(tiles(img, 32)[:40])
    ys = [imresize(x.double(), 0.25).float().clamp(0, 1) for x in xs]
    return xs, ys


def _shuffle(seq):
    perm = torch.randperm(len(seq), generator=torch.Generator().manual_seed(0))
    return [seq[i] for i in perm]


@pytest.mark.parametrize("features", ["random-conv", "pixels"])
def test_jfid_is_zero_for_identical_sets_and_grows_under_a_shuffle_that_fid_ignores(images, features):
    xs, ys = images
    same = joint_index(xs, xs, ys, features=features, patch=None)
    assert abs(same["jfid"]) < 1e-6 and abs(same["fid"]) < 1e-6
    assert same["jprecision"] == 1.0 and same["jrecall"] == 1.0

    shuffled = joint_index(xs, _shuffle(xs), ys, features=features, patch=None)
    assert shuffled["fid"] == pytest.approx(same["fid"], abs=1e-6)  # the same set of images
    assert shuffled["jfid"] > 1e-2 + 100 * abs(shuffled["fid"])  # but paired with the wrong measurements

    # restorations that are not perfect: shuffling them leaves FID as it is and raises jfid
    blurred = [torch.nn.functional.avg_pool2d(x[None], 3, 1, 1, count_include_pad=False)[0] for x in xs]
    b = joint_index(xs, blurred, ys, features=features, patch=None)
    bs = joint_index(xs, _shuffle(blurred), ys, features=features, patch=None)
    assert bs["fid"] == pytest.approx(b["fid"], rel=1e-4)
    assert bs["jfid"] > 1.5 * b["jfid"]
    assert b["fid"] > 0 and b["jfid"] > 0


def test_pair_features_bring_y_to_the_image_size_and_cut_aligned_tiles(images):
    xs, ys = images
    x = torch.cat([xs[0], xs[1]], 2)  # 3 x 32 x 64
    y = imresize(x.double(), 0.25).float()
    assert bring_to_size(y, (32, 64)).shape == (3, 32, 64)
    fx, fj = pair_features([x], [y], "pixels", patch=16)
    assert fx.shape == (8, 48) and fj.shape == (8, 96)
    assert torch.equal(fj[:, :48], fx)


def test_bad_extractor_and_patch_are_user_errors(images):
    xs, ys = images
    with pytest.raises(UserError, match="random-conv"):
        get_extractor("inceptionn")
    with pytest.raises(UserError, match="patch"):
        pair_features(xs[:2], ys[:2], "pixels", patch=64)


def test_a_custom_extractor_is_pluggable(images):
    xs, ys = images
    calls = []

    def mean_colour(batch):
        calls.append(batch.shape)
        return batch.mean((2, 3))

    out = joint_index(xs[:20], xs[:20], ys[:20], features=mean_colour, patch=None)
    assert abs(out["jfid"]) < 1e-6 and calls and calls[0][1:] == (3, 32, 32)
