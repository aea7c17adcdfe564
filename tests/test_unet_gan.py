import pytest
import torch

from model_zoo.unet_gan.arch import UNet
from model_zoo.unet_gan.model import UNetGANRestorer
from srbench.core.degradations import consistency_psnr
from srbench.experiments.gan.critic import ResNetCritic
from srbench.models.weights import read_state_dict


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_noise_reaches_output_stochastic_only():
    y = torch.rand(2, 3, 4, 4)
    g = lambda s: torch.Generator().manual_seed(s)
    sto = UNetGANRestorer("sr4", base=4).eval()
    z1, z2 = sto.sample_z(y, 1, g(1)), sto.sample_z(y, 1, g(2))
    assert [tuple(z.shape) for z in z1] == [(2, 1, 16, 16), (2, 1, 8, 8), (2, 1, 4, 4), (2, 1, 2, 2)]
    with torch.no_grad():
        a, b, a2 = sto.restore(y, z1), sto.restore(y, z2), sto.restore(y, z1)
    assert a.shape == (2, 3, 16, 16)
    assert (a - b).abs().max() > 1e-4  # different Z, different outputs
    assert torch.equal(a, a2)  # same Z, same output
    # every Z_i reaches the network output
    with torch.no_grad():
        raw = sto.raw(y, z1)
        for i in range(4):
            zi = list(z1)
            zi[i] = z2[i]
            assert (sto.raw(y, tuple(zi)) - raw).abs().max() > 1e-6
    det = UNetGANRestorer("sr4", base=4, stochastic=False).eval()
    assert det.sample_z(y, 3, g(1)) is None
    with torch.no_grad():
        assert torch.equal(det.restore(y, z1), det.restore(y, z2))  # z is ignored: Z = 0


def test_seed_major_sampling():
    r = UNetGANRestorer("sr4", base=4)
    y = torch.rand(3, 3, 4, 4)
    z = r.sample_z(y, 5, torch.Generator().manual_seed(0))
    assert all(t.shape[0] == 15 for t in z)


@pytest.mark.parametrize("deg,shape", [("sr4", (2, 3, 4, 4)), ("sr8", (2, 3, 2, 2)), ("sr16", (1, 3, 1, 1)),
                                       ("inpaint", (2, 3, 16, 16))])
def test_outputs_are_consistent_and_in_range(deg, shape):
    r = UNetGANRestorer(deg, base=4).eval()
    x = torch.rand(shape[0], 3, 16, 16)
    y = r.degradation.degrade(x)
    assert y.shape == shape
    with torch.no_grad():
        out = r.restore(y, r.sample_z(y, 1, torch.Generator().manual_seed(0)))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert consistency_psnr(deg, out, y).min() > 60


def test_critic_shapes_and_width():
    for size in (16, 64):
        d = ResNetCritic(size, f=4)
        assert d(torch.rand(3, 3, size, size)).shape == (3,)
    net = UNet(base=6)
    assert net.inc[0].out_channels == 6 and net.down4.conv[0].out_channels == 48


def test_load_weights_adapts_width_and_checks_kind(tmp_path):
    src = UNetGANRestorer("sr4", base=6, stochastic=False)
    dst = UNetGANRestorer("sr4", base=4, stochastic=False)
    torch.save({"G": src.state_dict(), "params": src.state_dict(), "step": 3}, tmp_path / "ckpt.pt")  # a trainer's
    dst.load_weights(read_state_dict(tmp_path / "ckpt.pt"))
    y = torch.rand(1, 3, 4, 4)
    with torch.no_grad():
        assert torch.equal(src.eval().restore(y), dst.eval().restore(y))
    with pytest.raises(RuntimeError, match="deterministic"):
        UNetGANRestorer("sr4", base=6).load_weights(src.state_dict())
    with pytest.raises(RuntimeError, match="x4"):
        UNetGANRestorer("sr8", base=6, stochastic=False).load_weights(src.state_dict())
