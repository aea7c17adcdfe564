"""The estimator of Ohayon et al. (2023)'s image GANs (its critic is training code: srbench/experiments/gan/critic.py).

U-Net G(Y, Z) with base width s: DoubleConv blocks (Conv3x3, BatchNorm,
ReLU) x 2; MaxPool down; bilinear x2 up with skip concatenation; four down
blocks; the input of down block i is concatenated (on channels) with
Z_i ~ N(0, I) of ``z_channels`` channels at that block's spatial size (all
zeros for a deterministic model); the last Conv (1x1) has no activation.
Channels: s, 2s, 4s, 8s, 8s at the bottleneck (bilinear variant).
"""
from __future__ import annotations

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
