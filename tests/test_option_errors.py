"""Library errors speak of options; the CLI writes the running command's flags for them."""
import argparse

import pytest
import torch

from srbench.cli import build_parser, error_text, flags_of, main
from srbench.core.errors import UserError
from srbench.core.restorer import resolve_device


def _flags(command: str) -> dict[str, str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return flags_of(sub.choices[command])


def test_options_render_as_names_in_the_library_and_as_flags_in_the_cli():
    exc = UserError("{n_eot} must be >= 1; supply the file with {weights}", {"n_eot": "", "weights": "edsr=PATH"})
    assert str(exc) == "n_eot must be >= 1; supply the file with weights edsr=PATH"
    assert error_text(exc, _flags("run")) == "--n-eot must be >= 1; supply the file with --weights edsr=PATH"
    # an option the running command has no flag for keeps its name
    assert error_text(UserError("lower {patch}", {"patch": ""}), _flags("run")) == "lower patch"
    assert error_text(UserError("lower {patch}", {"patch": ""}), _flags("tradeoff")) == "lower --patch"
    # other braces in a message are left alone
    assert str(UserError("weights: {edsr: PATH} for {steps}", {"steps": ""})) == "weights: {edsr: PATH} for steps"


def test_an_error_of_several_parts_renders_each_part():
    exc = UserError("2 inputs are missing:", parts=[UserError("use {data_root}", {"data_root": "DIR"}),
                                                    UserError("plain")])
    assert str(exc) == "2 inputs are missing:\n  - use data_root DIR\n  - plain"
    assert error_text(exc, _flags("run")) == "2 inputs are missing:\n  - use --data-root DIR\n  - plain"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_a_missing_gpu_is_named_as_the_option_or_the_flag(tmp_path, capsys):
    with pytest.raises(UserError, match=r"^device cuda was asked for, but no CUDA GPU is visible"):
        resolve_device("cuda")
    code = main(["run", "--models", "bicubic", "--datasets", "demo", "--attack", "none", "--limit", "1",
                 "--device", "cuda", "--quiet", "--out", str(tmp_path / "run")])
    assert code == 2 and "srbench: error: --device cuda was asked for" in capsys.readouterr().err
    with pytest.raises(UserError, match="unknown device 'tpu'"):
        resolve_device("tpu")
