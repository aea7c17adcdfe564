"""The estimator and critic of Ohayon et al. (2023)'s image GANs.

U-Net G(Y, Z) with base width s: DoubleConv blocks (Conv3x3, BatchNorm,
ReLU) x 2; MaxPool down; bilinear x2 up with skip concatenation; four down
blocks; the input of down block i is concatenated (on channels) with
Z_i ~ N(0, I) of ``z_channels`` channels at that block's spatial size (all
zeros for a deterministic model); the last Conv (1x1) has no activation.
Channels: s, 2s, 4s, 8s, 8s at the bottleneck (bilinear variant).

Critic: pre-activation ResNet in the style of Mescheder et al. (2018):
blocks x_s + 0.1 * conv(lrelu(conv(lrelu(x)))) with LeakyReLU 0.2 and a
learned 1x1 shortcut when the width changes, average pooling after each block
down to 2x2, then a linear layer on the flattened 2x2 map. It sees only
images (never Y).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Down(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = DoubleConv(cin, cout)

    def forward(self, x):
        return self.conv(F.max_pool2d(x, 2))


class Up(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = DoubleConv(cin, cout)

    def forward(self, x, skip):
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=True)
        return self.conv(torch.cat([skip, x], 1))


class UNet(nn.Module):
    """G(x_in, z): x_in is the network input at the output size; z = (Z1..Z4) or None (zeros)."""

    def __init__(self, in_ch: int = 3, out_ch: int = 3, base: int = 24, z_channels: int = 1):
        super().__init__()
        s, zc = base, z_channels
        self.base, self.z_channels = base, z_channels
        self.inc = DoubleConv(in_ch, s)
        self.down1 = Down(s + zc, 2 * s)
        self.down2 = Down(2 * s + zc, 4 * s)
        self.down3 = Down(4 * s + zc, 8 * s)
        self.down4 = Down(8 * s + zc, 8 * s)
        self.up1 = Up(16 * s, 4 * s)
        self.up2 = Up(8 * s, 2 * s)
        self.up3 = Up(4 * s, s)
        self.up4 = Up(2 * s, s)
        self.outc = nn.Conv2d(s, out_ch, 1)

    def z_shapes(self, h: int, w: int) -> list[tuple[int, int, int]]:
        """(C, H, W) of Z1..Z4 for an h x w network input."""
        shapes = []
        for i in range(4):
            shapes.append((self.z_channels, h // 2 ** i, w // 2 ** i))
        return shapes

    def _cat(self, x, z, i):
        zi = z[i] if z is not None else x.new_zeros(x.shape[0], self.z_channels, *x.shape[-2:])
        return torch.cat([x, zi.to(x.dtype)], 1)

    def forward(self, x, z=None):
        x1 = self.inc(x)
        x2 = self.down1(self._cat(x1, z, 0))
        x3 = self.down2(self._cat(x2, z, 1))
        x4 = self.down3(self._cat(x3, z, 2))
        x5 = self.down4(self._cat(x4, z, 3))
        u = self.up1(x5, x4)
        u = self.up2(u, x3)
        u = self.up3(u, x2)
        u = self.up4(u, x1)
        return self.outc(u)


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
