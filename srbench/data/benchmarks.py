"""Set5, Set14 and BSD100: from a local folder, or from the Hugging Face hub.

Folder layout (that of ``../shared/data/sr-benchmarks``, also what the hub
download is unpacked into)::

    ROOT/{Set5,Set14,BSD100}/x{s}/HR/NAME.png   (LR/NAME.png optional)

A folder ``ROOT/NAME/HR`` without the ``x{s}`` level is accepted too. HR is
mod-cropped to the scale; a missing LR is made with MATLAB bicubic.
Without ``root``, the sets come from ``$SRBENCH_DATA`` or the cache
(``~/.cache/srbench/datasets``), downloading the HR archives of the hub
dataset repos ``eugenesiow/{Set5,Set14,BSD100}`` on first use.
"""
from __future__ import annotations

import os
import shutil
import tarfile
from functools import partial
from pathlib import Path

from srbench.core.errors import UserError
from srbench.data import SRPair, make_pair
from srbench.data.images import IMAGE_SUFFIXES, read_image
from srbench.models.weights import cache_dir, hub_download

HUB_REPOS = {"Set5": "eugenesiow/Set5", "Set14": "eugenesiow/Set14", "BSD100": "eugenesiow/BSD100"}


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _hr_lr_dirs(root: Path, set_name: str, scale: int) -> tuple[Path, Path | None]:
    for base in (root / set_name / f"x{scale}", root / set_name):
        if (base / "HR").is_dir():
            lr = base / "LR"
            return base / "HR", lr if lr.is_dir() else None
    raise UserError(f"no {set_name} images under {root}: expected {root / set_name / f'x{scale}' / 'HR'} "
                    f"(or {root / set_name / 'HR'}); check {{data_root}}", {"data_root": ""})


def read_folder(root: str | os.PathLike, set_name: str, scale: int) -> list[SRPair]:
    hr_dir, lr_dir = _hr_lr_dirs(Path(root), set_name, scale)
    pairs = []
    for hr_path in _images_in(hr_dir):
        hr, gray = read_image(hr_path)
        lr = None
        if lr_dir is not None and (lr_dir / hr_path.name).is_file():
            lr, _ = read_image(lr_dir / hr_path.name)
        pairs.append(make_pair(hr_path.stem, hr, scale, lr=lr, gray=gray))
    return pairs


def _download_from_hub(set_name: str, dest: Path) -> None:
    """Fetch ``data/<Set>_HR.tar.gz`` from the hub repo and unpack its images into dest/<Set>/HR."""
    try:
        archive = hub_download(HUB_REPOS[set_name], f"data/{set_name}_HR.tar.gz", repo_type="dataset")
    except UserError as exc:  # offline, hub down, repo moved: say what to do instead
        raise UserError(f"could not download {set_name}: {exc}; pass {{data_root}} with "
                        f"{set_name}/x<scale>/HR/*.png inside", {"data_root": "DIR"}) from None
    tmp = dest / f".{set_name}.unpack"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
    hr_dir = tmp / set_name / "HR"
    hr_dir.mkdir(parents=True)
    for path in sorted(tmp.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and hr_dir not in path.parents:
            path.rename(hr_dir / path.name)
    final = dest / set_name
    shutil.rmtree(final, ignore_errors=True)
    (tmp / set_name).rename(final)  # atomic publish of the unpacked set
    shutil.rmtree(tmp, ignore_errors=True)


def default_root() -> Path:
    return Path(os.environ.get("SRBENCH_DATA", cache_dir() / "datasets"))


def benchmark_set(set_name: str, scale: int, root: str | os.PathLike | None = None) -> list[SRPair]:
    if root is None:
        root = default_root()
        if not (Path(root) / set_name).is_dir():
            Path(root).mkdir(parents=True, exist_ok=True)
            _download_from_hub(set_name, Path(root))
    elif not Path(root).is_dir():
        raise UserError(f"{{data_root}} is not a directory", {"data_root": str(root)})
    return read_folder(root, set_name, scale)


set5 = partial(benchmark_set, "Set5")
set14 = partial(benchmark_set, "Set14")
bsd100 = partial(benchmark_set, "BSD100")
