"""`srbench validate`: every problem of a suite at once; `srbench run` refuses invalid suites before starting."""
from __future__ import annotations

import textwrap

BAD = textwrap.dedent("""\
    name: bad
    models: [esrgna, bicubic, "file:missing/4x-model.pth"]
    datasets: [set5, demos]
    scale: 0
    attack: {name: ifgsm, stepz: 3}
    alphas: [1, -2]
    limit: 0
    device: tpu
    colour: red
    """)


def test_good_suites(tmp_path, cli):
    import torch
    from spandrel.architectures.Compact import Compact

    torch.save(Compact(num_in_ch=3, num_out_ch=3, num_feat=4, num_conv=1, upscale=4).state_dict(),
               tmp_path / "4x-mine.pth")
    (tmp_path / "mine.yaml").write_text(textwrap.dedent("""\
        name: mine
        models: [bicubic, "file:4x-mine.pth"]
        datasets: [demo]
        scale: 4
        attack: {name: ifgsm, steps: 10}
        alphas: [1, 2, 4]
        """))
    res = cli("validate", "mine.yaml", "quickstart", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith("mine.yaml: ok") and "2 model(s) x 1 dataset(s) x 3 budget(s) = 6 cells" in lines[0]
    assert lines[1].startswith("quickstart: ok")


def test_bad_suite_lists_every_problem(tmp_path, cli):
    (tmp_path / "bad.yaml").write_text(BAD)
    res = cli("validate", "bad.yaml", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines[0] == "bad.yaml: 9 problems"
    problems = [line[4:] for line in lines[1:]]
    assert len(problems) == 9 and all(line.startswith("  - ") for line in lines[1:])
    expected = ["unknown key 'colour'", "unknown model 'esrgna'. Did you mean 'esrgan'",
                "no such file missing/4x-model.pth", "unknown dataset 'demos'. Did you mean 'demo'",
                "has no option stepz", "alpha must be a finite number >= 0, got -2",
                "scale must be a positive integer, got 0", "limit must be a positive integer, got 0",
                "device must be auto, cpu, cuda or cuda:N, got 'tpu'"]
    for snippet in expected:
        assert sum(snippet in p for p in problems) == 1, (snippet, problems)


def test_unreadable_suites(tmp_path, cli):
    (tmp_path / "broken.yaml").write_text("models: [bicubic\n")
    (tmp_path / "list.yaml").write_text("- bicubic\n")
    res = cli("validate", "broken.yaml", "list.yaml", "nonexistent", "quickstart", cwd=tmp_path)
    assert res.returncode == 2
    err = res.stderr
    assert "broken.yaml: suite broken.yaml is not valid YAML" in err
    assert "list.yaml: suite list.yaml must be a YAML mapping" in err
    assert "nonexistent: suite 'nonexistent' is neither a file nor a packaged suite" in err
    assert "quickstart: ok" in res.stdout  # the others are still checked


def test_run_validates_before_starting(tmp_path, cli):
    (tmp_path / "bad.yaml").write_text(BAD)
    res = cli("run", "bad.yaml", "--quiet", "--out", "out", cwd=tmp_path)
    assert res.returncode == 2 and "invalid suite" in res.stderr
    for snippet in ("colour", "esrgna", "demos", "stepz", "tpu"):
        assert snippet in res.stderr
    assert not (tmp_path / "out").exists()


def test_every_shipped_benchmark_file_validates(cli):
    """Suites and `srbench train` configs share benchmarks/; validate tells them apart and checks both."""
    from conftest import REPO

    files = sorted(str(p) for p in (REPO / "benchmarks").glob("*.yaml"))
    result = cli("validate", *files)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok - ") == len(files)
    assert "training config" in result.stdout and "suite 'fig7'" in result.stdout
