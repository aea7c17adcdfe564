"""Local rehearsal only (benchmarks/gpu_session/dry_run.sh): make this venv look like the device's image.

Python imports this module at start-up when its folder is on PYTHONPATH. It blocks the import of every
module of a distribution installed here that the device image lacks (the names, one a line, in the
file $DEVSIM_PACKAGES) unless the carried wheels bring it (it is in $DEVSIM_SITE, run.sh's --target
folder), so a dependency missing on the device fails here first. Python's version, torch's and the
other packages' versions are still this machine's.
"""
import importlib.abc
import importlib.metadata as md
import os
import re
import sys
from pathlib import Path


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_levels(dist) -> set[str]:
    text = dist.read_text("top_level.txt")
    if text:
        return set(text.split())
    names = set()
    for f in dist.files or ():
        first = f.parts[0]
        if first.endswith((".dist-info", ".egg-info", ".pth")) or first in ("..", "bin", "__pycache__"):
            continue
        names.add(first.removesuffix(".py"))
    return names


class _Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, blocked: set[str], site: Path):
        self.blocked, self.site = blocked, site

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in self.blocked and not ((self.site / top).is_dir() or (self.site / f"{top}.py").is_file()):
            raise ModuleNotFoundError(f"No module named {name!r} (devsim: not on the device image)", name=name)
        return None


# distributions here whose modules the device has under another distribution's name
SAME_MODULES = {"opencv-python": "opencv-python-headless", "tb-nightly": "tensorboard"}


def _requirements(dist) -> set[str]:
    """The distributions ``dist`` needs (its Requires-Dist lines without an extra)."""
    out = set()
    for req in dist.requires or ():
        m = re.match(r"[A-Za-z0-9._-]+", req)
        if m and "extra ==" not in req:
            out.add(_norm(m.group()))
    return out


def _install() -> None:
    device = {_norm(n) for n in Path(os.environ["DEVSIM_PACKAGES"]).read_text().split()}
    dists = {_norm(d.metadata["Name"] or ""): d for d in md.distributions()}
    # kept: the device's distributions (under this venv's versions) and what those versions need here
    # (e.g. huggingface-hub 2 needs httpx2; the device's 1.x brings its own needs)
    keep = {n for n in dists if n in device or SAME_MODULES.get(n) in device}
    todo = list(keep)
    while todo:
        dist = dists.get(todo.pop())
        for req in _requirements(dist) if dist else ():
            if req in dists and req not in keep:
                keep.add(req)
                todo.append(req)
    blocked, provided = set(), set()
    for name, dist in dists.items():
        (provided if name in keep else blocked).update(_top_levels(dist))
    blocked -= provided | {"srbench", "model_zoo", "benchmarks", "tests"}  # e.g. google (protobuf) stays
    sys.meta_path.insert(0, _Blocker(blocked, Path(os.environ.get("DEVSIM_SITE", "/nonexistent"))))


if os.environ.get("DEVSIM_PACKAGES"):
    _install()
