"""Wrong suite inputs (issue 13, section 3): one line naming the key, exit code 2, nothing written.

Most cases go through the real CLI entry point in this process (`srbench.cli.main`, the function
the `srbench` command runs), which is fast; the YAML bomb also runs as a subprocess, as a user
would meet it.
"""
from __future__ import annotations

import dataclasses
import time
import typing

import pytest

from srbench.cli import main as srbench
from srbench.bench.suite import SUITE_KEYS, read_suite_file, suite_problems

RUN = ["run", "--models", "bicubic", "--datasets", "demo", "--attack", "none", "--limit", "1", "--quiet"]

BOMB = "".join(f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n" for p, k in zip("abcdefgh", "bcdefghi"))
BOMB = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + BOMB  # 9**9 = 387M values once expanded


def one_line_error(capsys, argv: list[str], *needles: str) -> str:
    """Run `srbench ARGV`; assert exit code 2 and a single error line holding every needle."""
    assert srbench(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", ["../escaped", "a/b", "/tmp/abs", "..", "a\\b"])
def test_run_names_stay_under_results_runs(in_tmp, capsys, name):
    one_line_error(capsys, [*RUN, "--name", name], "name", "plain folder name", "--out")
    (in_tmp / "suite.yaml").write_text(f"name: {name!r}\nmodels: [bicubic]\ndatasets: [demo]\n".replace("'", '"'))
    assert srbench(["validate", "suite.yaml"]) == 2
    assert "plain folder name" in capsys.readouterr().err
    one_line_error(capsys, ["run", "suite.yaml", "--quiet"], "plain folder name")
    assert [p.name for p in in_tmp.iterdir()] == ["suite.yaml"]  # no folder was made


def test_out_still_chooses_any_folder(in_tmp, capsys):
    assert srbench([*RUN, "--name", "plain", "--out", str(in_tmp / "elsewhere" / "run")]) == 0
    assert len(list((in_tmp / "elsewhere" / "run" / "cells").glob("*.json"))) == 1


@pytest.mark.parametrize("alpha, needle", [("inf", "got inf"), ("nan", "got nan"), ("-inf", "got -inf"),
                                           ("1e9", "at most 255; got 1e+09"), ("256", "at most 255; got 256")])
def test_linf_budgets_must_be_finite_and_at_most_255(in_tmp, capsys, alpha, needle):
    argv = ["run", "--models", "bicubic", "--datasets", "demo", "--attack", "ifgsm", f"--alpha={alpha}", "--quiet"]
    one_line_error(capsys, argv, "alphas", needle)
    assert list(in_tmp.iterdir()) == []


def test_budget_limits_follow_the_attack():
    assert suite_problems({"alphas": [255]}) == []
    # adam-l2 budgets are L2 radii on [0, 1] images, not 1/255 units: no 255 ceiling, but finite
    assert suite_problems({"attack": "adam-l2", "alphas": [300.0]}) == []
    assert "finite" in " ".join(suite_problems({"attack": "adam-l2", "alphas": [float("inf")]}))


@pytest.mark.parametrize("flags, needle", [
    (["--alpha", ""], "alphas is empty"), (["--alpha", ","], "alphas is empty"),
    (["--models", ""], "models is empty"), (["--datasets", ""], "datasets is empty")])
def test_empty_lists_on_the_command_line(in_tmp, capsys, flags, needle):
    argv = ["run", "--models", "bicubic", "--datasets", "demo", "--quiet", *flags]
    one_line_error(capsys, argv, needle)
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize("text, needle", [
    ("models: []\ndatasets: [demo]\n", "models is empty"),
    ("models: [bicubic]\ndatasets: []\n", "datasets is empty"),
    ("models: [bicubic]\nalphas: []\n", "alphas is empty"),
    ("", "is empty (or only comments)"),
    ("# a suite to fill in later\n\n", "is empty (or only comments)")])
def test_empty_suites_are_errors(in_tmp, capsys, text, needle):
    (in_tmp / "s.yaml").write_text(text)
    one_line_error(capsys, ["run", "s.yaml", "--quiet", "--out", "out"], needle)
    assert srbench(["validate", "s.yaml"]) == 2 and needle in capsys.readouterr().err
    assert not (in_tmp / "out").exists()


@pytest.mark.parametrize("line, needle", [
    ("seed: [0]", "seed must be an integer >= 0, got [0]"),
    ("models: [[bicubic]]", "models must be a list of names, got ['bicubic'] in it"),
    ("attack: {steps: two}", "attack option steps must be an integer, got 'two'"),
    ("attack: {name: ifgsm, init: [zero]}", "attack option init must be a string, got ['zero']"),
    ("attack: {name: adam-l2, target_input_psnr: fast}", "attack option target_input_psnr must be a finite number or null"),
    ("scale: true", "scale must be a positive integer, got True"),
    ("batch_size: 2.5", "batch_size must be a positive integer, got 2.5"),
    ("weights: [a.pth]", "weights must be a mapping"),
    ("alphas: '1,2'", "alphas must be a list of numbers"),
    ("gray_convention: matlb", "gray_convention must be basicsr or matlab")])
def test_suite_types_are_checked_per_key(in_tmp, capsys, line, needle):
    (in_tmp / "s.yaml").write_text(f"name: typed\ndatasets: [demo]\n{line}\n")
    assert srbench(["validate", "s.yaml"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and needle in err, err
    one_line_error(capsys, ["run", "s.yaml", "--quiet"], needle)


def test_every_key_and_attack_option_rejects_a_wrong_type():
    """Whatever key gets a value of the wrong shape, validation names it and does not crash."""
    from srbench.attacks import ATTACKS

    wrong = {"nested": [["x"]]}
    for key in sorted(SUITE_KEYS):
        problems = suite_problems({key: wrong})
        assert any(p.startswith(key) or f"{key} " in p for p in problems), (key, problems)
    for attack in ATTACKS.names():
        cls = ATTACKS.get(attack)
        for field in dataclasses.fields(cls):
            if typing.get_type_hints(cls)[field.name] in (typing.Any, object):
                continue
            problems = suite_problems({"attack": {"name": attack, field.name: wrong}})
            assert any(f"option {field.name} " in p for p in problems), (attack, field.name, problems)


def test_echoed_values_are_truncated(in_tmp, capsys):
    huge = "x" * 100_000
    err = one_line_error(capsys, [*RUN, "--name", "a/" + huge], "plain folder name")
    assert len(err) < 400
    (in_tmp / "s.yaml").write_text(f"models: [{huge}]\nseed: [{', '.join(['1'] * 5000)}]\n")
    err = one_line_error(capsys, ["run", "s.yaml", "--quiet"], "unknown model", "seed must be")
    assert len(err) < 3000  # one short echo per problem, plus the list of available models


@pytest.mark.parametrize("where", ["alphas", "models"])
def test_yaml_alias_bomb_fails_fast(in_tmp, capsys, cli, where):
    (in_tmp / "bomb.yaml").write_text(BOMB + f"{where}: [*i, *i, *i, *i, *i, *i, *i, *i, *i]\n")
    t0 = time.perf_counter()
    with pytest.raises(Exception, match="aliases expand to more than"):
        read_suite_file("bomb.yaml")
    assert time.perf_counter() - t0 < 1.0
    one_line_error(capsys, ["run", "bomb.yaml", "--quiet"], "bomb.yaml", "aliases expand to more than")
    for command in (["validate", "bomb.yaml"], ["run", "bomb.yaml", "--quiet"]):
        res = cli(*command, cwd=in_tmp, timeout=60)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert len(res.stdout) + len(res.stderr) < 500 and "aliases expand to more than" in res.stderr


def test_self_referencing_alias_is_refused(in_tmp, capsys):
    (in_tmp / "loop.yaml").write_text("models: &m [bicubic, *m]\n")
    assert srbench(["validate", "loop.yaml"]) == 2
    assert "refers to the list or mapping that contains it" in capsys.readouterr().err
    one_line_error(capsys, ["run", "loop.yaml", "--quiet"], "refers to the list or mapping that contains it")


def test_weights_for_a_model_not_in_the_run(in_tmp, capsys):
    argv = ["run", "--models", "bicubic,tiny-edsr", "--datasets", "demo", "--quiet", "--weights", "tiny-edsrr=x.pth"]
    one_line_error(capsys, argv, "weights for 'tiny-edsrr'", "not a model of this run", "Did you mean 'tiny-edsr'?")
    one_line_error(capsys, [*RUN, "--weights", "edsr=x.pth"], "weights for 'edsr'", "Models of this run: bicubic")
    (in_tmp / "s.yaml").write_text("models: [bicubic, tiny-edsr]\ndatasets: [demo]\nweights: {tiny_edsr: x.pth}\n")
    one_line_error(capsys, ["run", "s.yaml", "--quiet"], "weights for 'tiny_edsr'", "Did you mean 'tiny-edsr'?")
    assert not (in_tmp / "results").exists()


def test_many_problems_stay_one_screen():
    names = [f"model{i}" for i in range(5000)]
    problems = suite_problems({"models": names, "datasets": ["demo", "x" * 5000]})
    assert len(problems) == 21 and problems[-1] == "... and 4981 more problems"
    assert all(len(p) <= 500 for p in problems)
