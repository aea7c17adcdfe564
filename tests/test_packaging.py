"""A non-editable install, used from another directory, finds its suites, cards and bundled weights."""
import os
import subprocess
import sys

from conftest import REPO


def test_non_editable_install_from_elsewhere(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(REPO)], check=True, capture_output=True, timeout=600)
    code = (
        "import srbench, srbench.bench.suite as s, srbench.models.card as z\n"
        "assert srbench.__file__.startswith(%r), srbench.__file__\n"
        "assert {'bicubic','edsr','esrgan','tiny-edsr','srflow'} <= set(srbench.list_models())\n"
        "raw = s.read_suite_file('quickstart'); assert raw['name'] == 'quickstart'\n"
        "p = z.resolve_weights(srbench.get_card('tiny-edsr')); assert str(p).startswith(%r), p\n"
        "m = srbench.load_model('tiny-edsr', device='cpu'); print('ok', m.scale)\n"
    ) % (str(target), str(target))
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok 4"
