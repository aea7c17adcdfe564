"""The registry: lazy entries, entry points, did-you-mean errors, and the Python API."""
import pytest
import torch

import srbench
from srbench.core.errors import UserError
from srbench.core.registry import Registry
from srbench.core.restorer import Restorer


def test_lazy_entries_are_imported_on_first_use():
    reg = Registry("thing", "srbench.no-such-group")
    reg.register("json_dumps", "json:dumps")
    assert reg.names() == ["json_dumps"]
    import json

    assert reg.get("json_dumps") is json.dumps


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UserError) as exc:
        srbench.models.MODELS.get("esrgna")
    msg = str(exc.value)
    assert "'esrgan'" in msg and "Did you mean" in msg and "bicubic" in msg


def test_builtin_zoo_comes_from_entry_points():
    names = srbench.list_models()
    for expected in ("bicubic", "edsr", "edsr-l", "esrgan", "tiny-edsr", "srflow"):
        assert expected in names
    assert srbench.list_models("*esr*") == ["esrgan"]
    card = srbench.get_card("esrgan")
    assert card.scale == 4 and not card.stochastic and card.weights.expected_hash.startswith("ff704c30")


class Doubler(Restorer):
    """The 'add your own model' example of docs/adding-a-model.md: nearest x2 upsampling."""

    def restore(self, y, z=None):
        return torch.nn.functional.interpolate(y, scale_factor=2, mode="nearest")


def test_register_model_then_load_it():
    srbench.register_model("nearest-x2", build=Doubler, scale=2, license="MIT", overwrite=True)
    try:
        model = srbench.load_model("nearest-x2", device="cpu")
        y = torch.rand(1, 3, 5, 7)
        assert model.restore(y).shape == (1, 3, 10, 14)
        assert model.name == "nearest-x2" and model.scale == 2 and not model.stochastic
        with pytest.raises(ValueError):
            srbench.register_model("nearest-x2", build=Doubler, scale=2)
    finally:
        srbench.models.MODELS.unregister("nearest-x2")


def test_scale_is_checked_or_selected():
    assert srbench.load_model("bicubic", device="cpu", scale=3).scale == 3
    with pytest.raises(UserError, match="supports x4"):
        srbench.load_model("tiny-edsr", device="cpu", scale=2)
