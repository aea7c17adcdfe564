"""`srbench models`: a table that fits 80 columns with each model's weights status, and whole cards."""
from importlib.metadata import entry_points

import srbench
from srbench.models.weights import cache_dir


def table_rows(stdout: str) -> dict[str, list[str]]:
    """name -> cells, cut at the column spans of the dashes under the header."""
    import re

    lines = stdout.splitlines()
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    spans[-1] = (spans[-1][0], None)
    table = lines[2:lines.index("")] if "" in lines else lines[2:]  # the defenses follow after a blank line
    rows = [[ln[a:b].strip() for a, b in spans] for ln in table if ln.strip() and not ln.startswith("`")]
    return {row[0]: row for row in rows}


def test_table_fits_80_columns_one_line_per_model(cli):
    proc = cli("models", env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80
    assert proc.stdout.splitlines()[0].split() == ["name", "scale", "stoch", "training", "license", "weights"]
    rows = table_rows(proc.stdout)
    installed = sorted(ep.name for ep in entry_points(group="srbench.models"))  # what a fresh process sees
    assert sorted(rows) == installed  # (other tests register models in this process; the CLI runs in its own)
    assert rows["esrgan"][:5] == ["esrgan", "x4", "no", "GAN", "Apache-2.0"]
    assert rows["srflow"][:5] == ["srflow", "x4", "yes", "flow", "CC BY-NC-SA 4.0"]  # not the long text
    assert rows["imdn"][3] == "pixel" and rows["bicubic"][3] == "-"


def test_weights_status_comes_from_the_card_and_this_machine(cli, tmp_path):
    status = {name: row[5] for name, row in table_rows(cli("models").stdout).items()}
    assert status["bicubic"] == "none"
    assert status["tiny-edsr"] == "bundled"
    assert status["imdn"] == "will download"  # the card lists a source and the cache is empty
    assert status["srflow"] == "must be supplied"  # no source: the user supplies the file
    (cache_dir() / "weights").mkdir(parents=True, exist_ok=True)
    (cache_dir() / "weights" / "IMDN_x4.pth").write_bytes(b"x")
    weights = tmp_path / "SRFlow_DF2K_4X.pth"
    weights.write_bytes(b"x")
    status = {name: row[5] for name, row in
              table_rows(cli("models", env={"SRBENCH_WEIGHTS_SRFLOW": str(weights)}).stdout).items()}
    assert status["imdn"] == "cached" and status["srflow"] == "env var"


def test_a_name_prints_the_whole_card(cli):
    proc = cli("models", "esrgan")
    assert proc.returncode == 0, proc.stderr
    card = srbench.get_card("esrgan")
    for text in (card.license, card.paper, card.source, card.description, card.weights.file, card.weights.sha256,
                 *card.weights.sources, card.weights.how_to_get, "training", "GAN", "--weights esrgan=PATH",
                 "SRBENCH_WEIGHTS_ESRGAN", str(cache_dir() / "weights" / card.weights.file)):
        assert text in proc.stdout, text


def test_a_pattern_filters_the_table(cli):
    rows = table_rows(cli("models", "ditn*").stdout)
    assert sorted(rows) == ["ditn", "ditn-gan"] and rows["ditn-gan"][3] == "GAN"


def test_unknown_name_is_a_did_you_mean_error(cli):
    proc = cli("models", "imdm")
    assert proc.returncode == 2
    assert proc.stderr.startswith("srbench: error: unknown model 'imdm'. Did you mean 'imdn'?")
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""
    assert cli("models", "zz*").returncode == 2


def test_a_diffusers_card_shows_its_hub_cache_folder_and_file_alternatives(cli):
    proc = cli("models", "sd-x4-upscaler")
    assert proc.returncode == 0, proc.stderr
    folder = cache_dir() / "hf" / "models--stabilityai--stable-diffusion-x4-upscaler"
    assert f"cache path          {folder}\n" in proc.stdout
    assert "unet/diffusion_pytorch_model.safetensors or unet/diffusion_pytorch_model.bin" in proc.stdout
    assert "('" not in proc.stdout  # no Python tuples
    status = lambda: table_rows(cli("models", "sd-x4*").stdout)["sd-x4-upscaler"][5]  # noqa: E731
    assert status() == "will download"
    folder.mkdir(parents=True)  # what hub_download leaves behind
    assert status() == "cached"
