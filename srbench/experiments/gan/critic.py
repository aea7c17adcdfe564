"""The critic of Ohayon et al. (2023)'s image GANs: part of training, not of the restorer, so it lives here.

Pre-activation ResNet in the style of Mescheder et al. (2018): blocks
x_s + 0.1 * conv(lrelu(conv(lrelu(x)))) with LeakyReLU 0.2 and a learned 1x1
shortcut when the width changes, average pooling after each block down to 2x2,
then a linear layer on the flattened 2x2 map. It sees only images (never Y).
"""
from __future__ import annotations

import math

import torch.nn.functional as F
from torch import nn


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        hidden = min(cin, cout)
        self.conv_0 = nn.Conv2d(cin, hidden, 3, padding=1)
        self.conv_1 = nn.Conv2d(hidden, cout, 3, padding=1)
        self.shortcut = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else None

    def forward(self, x):
        xs = x if self.shortcut is None else self.shortcut(x)
        dx = self.conv_0(F.leaky_relu(x, 0.2))
        dx = self.conv_1(F.leaky_relu(dx, 0.2))
        return xs + 0.1 * dx


class ResNetCritic(nn.Module):
    """Pre-activation ResNet critic for size x size images (size a power of two >= 4), width f."""

    def __init__(self, size: int = 64, f: int = 16, in_ch: int = 3, max_mult: int = 16, blocks_per_level: int = 1):
        super().__init__()
        n_down = int(round(math.log2(size / 2)))
        if 2 * 2 ** n_down != size:
            raise ValueError(f"critic size must be a power of two >= 4, got {size}")
        self.conv_img = nn.Conv2d(in_ch, f, 3, padding=1)
        blocks, c = [], f
        for i in range(n_down):
            cout = f * min(2 ** (i + 1), max_mult)
            blocks += [ResnetBlock(c, c) for _ in range(blocks_per_level - 1)]
            blocks += [ResnetBlock(c, cout), nn.AvgPool2d(2)]
            c = cout
        blocks += [ResnetBlock(c, c) for _ in range(blocks_per_level)]
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c * 4, 1)

    def forward(self, x):
        h = self.blocks(self.conv_img(x))
        return self.fc(F.leaky_relu(h, 0.2).flatten(1)).squeeze(1)
