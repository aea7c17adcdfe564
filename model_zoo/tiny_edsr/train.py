"""Train the tiny EDSR shipped for the offline quickstart.

    python -m model_zoo.tiny_edsr.train [--steps 3000] [--out model_zoo/tiny_edsr/tiny_edsr_x4.pth]

Data: bundled scikit-image pictures that are not demo images (the demo set is
astronaut, chelsea, coffee, rocket). LR = MATLAB bicubic x1/4 of the HR,
8-bit, like the benchmark sets. 64x64 HR crops with flips and 90-degree
rotations, L1 loss, Adam (lr 1e-3, halved at 2/3 of the steps), seed 0.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from srbench.data import bicubic_lr, mod_crop
from srbench.data.demo import DEMO_IMAGES, skimage_image
from srbench.models import get_card
from srbench.files import atomic_path
from srbench.models.weights import sha256_of

TRAIN_IMAGES = ("immunohistochemistry", "hubble_deep_field", "retina", "camera", "coins", "moon",
                "brick", "grass", "gravel")
SCALE, CROP, BATCH = 4, 64, 16


def training_pairs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    shared = set(TRAIN_IMAGES) & set(DEMO_IMAGES)
    if shared:  # the demo set is the test set: training on it would flatter the model
        raise ValueError(f"training images {sorted(shared)} are also demo (test) images")
    pairs = []
    for name in TRAIN_IMAGES:
        hr = mod_crop(skimage_image(name), SCALE)
        pairs.append((hr, bicubic_lr(hr, SCALE)))
    return pairs


def sample_batch(pairs, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    lrs, hrs = [], []
    c = CROP // SCALE
    for _ in range(BATCH):
        hr, lr = pairs[int(torch.randint(len(pairs), (1,), generator=g))]
        i = int(torch.randint(lr.shape[1] - c + 1, (1,), generator=g))
        j = int(torch.randint(lr.shape[2] - c + 1, (1,), generator=g))
        x, y = hr[:, i * SCALE:(i + c) * SCALE, j * SCALE:(j + c) * SCALE], lr[:, i:i + c, j:j + c]
        k = int(torch.randint(4, (1,), generator=g))
        x, y = torch.rot90(x, k, (1, 2)), torch.rot90(y, k, (1, 2))
        if torch.rand(1, generator=g) < 0.5:
            x, y = x.flip(2), y.flip(2)
        hrs.append(x)
        lrs.append(y)
    return torch.stack(lrs), torch.stack(hrs)


def train(steps: int, out: Path) -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    card = get_card("tiny-edsr")
    net = card.builder()(**card.arch).net
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [2 * steps // 3], 0.5)
    pairs = training_pairs()
    t0 = time.time()
    for step in range(1, steps + 1):
        y, x = sample_batch(pairs, g)
        loss = (net(y) - x).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0:
            print(f"step {step} L1 {loss.item():.4f} ({time.time() - t0:.0f} s)", flush=True)
    with atomic_path(out) as tmp:
        torch.save({"params": net.state_dict()}, tmp)
    print(f"wrote {out} sha256 {sha256_of(out)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("tiny_edsr_x4.pth"))
    args = parser.parse_args()
    train(args.steps, args.out)


if __name__ == "__main__":
    main()
