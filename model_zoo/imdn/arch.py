"""IMDN, written from the paper's block description and the official checkpoint's key names and shapes.

Hui, Gao, Yang, Wang: "Lightweight Image Super-Resolution with Information
Multi-distillation Network", ACM MM 2019. The network works on pixel values
in [0, 1]. Layout (x4, 64 features, 6 blocks, as in ``IMDN_x4.pth``):

- ``fea_conv``: 3x3 conv, 3 -> 64;
- six information multi-distillation blocks ``IMDB1..IMDB6``: three 3x3
  convs, each followed by LeakyReLU(0.05) and a channel split that keeps a
  quarter (16 channels) as distilled features and refines the rest (48); a
  fourth 3x3 conv makes the last 16 channels; the four distilled parts are
  concatenated, reweighted by contrast-aware channel attention (per-channel
  standard deviation + mean -> 1x1 squeeze to 4 -> ReLU -> 1x1 -> sigmoid),
  fused by a 1x1 conv ``c5`` and added to the block input;
- ``c``: the six block outputs concatenated, 1x1 conv 384 -> 64, LeakyReLU(0.05);
- ``LR_conv``: 3x3 conv, plus the shallow features ``fea_conv`` (global skip);
- ``upsampler``: 3x3 conv to 3 * 4^2 channels and a pixel shuffle.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

NEG_SLOPE = 0.05


def conv(in_ch: int, out_ch: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, k, padding=k // 2)


class ContrastChannelAttention(nn.Module):
    """Channel weights from each channel's contrast: its standard deviation plus its mean."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.conv_du = nn.Sequential(conv(channels, channels // reduction, 1), nn.ReLU(inplace=True),
                                     conv(channels // reduction, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = (x - mean).pow(2).mean(dim=(2, 3), keepdim=True).sqrt()
        return x * self.conv_du(std + mean)


class IMDB(nn.Module):
    """Information multi-distillation block: distil a quarter of the channels at each of four steps."""

    def __init__(self, channels: int = 64, distilled: int = 16):
        super().__init__()
        rest = channels - distilled
        self.distilled = distilled
        self.c1 = conv(channels, channels, 3)
        self.c2 = conv(rest, channels, 3)
        self.c3 = conv(rest, channels, 3)
        self.c4 = conv(rest, distilled, 3)
        self.cca = ContrastChannelAttention(4 * distilled)
        self.c5 = conv(4 * distilled, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = []
        rest = x
        for step in (self.c1, self.c2, self.c3):
            out = F.leaky_relu(step(rest), NEG_SLOPE)
            kept, rest = out.split([self.distilled, out.shape[1] - self.distilled], dim=1)
            parts.append(kept)
        parts.append(self.c4(rest))
        return self.c5(self.cca(torch.cat(parts, dim=1))) + x


class IMDN(nn.Module):
    def __init__(self, scale: int = 4, channels: int = 64, blocks: int = 6, in_ch: int = 3, out_ch: int = 3):
        super().__init__()
        self.fea_conv = conv(in_ch, channels, 3)
        for i in range(1, blocks + 1):  # official names IMDB1..IMDB6
            self.add_module(f"IMDB{i}", IMDB(channels))
        self.blocks = blocks
        self.c = nn.Sequential(conv(channels * blocks, channels, 1), nn.LeakyReLU(NEG_SLOPE))
        self.LR_conv = conv(channels, channels, 3)
        self.upsampler = nn.Sequential(conv(channels, out_ch * scale**2, 3), nn.PixelShuffle(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shallow = self.fea_conv(x)
        outs = []
        h = shallow
        for i in range(1, self.blocks + 1):
            h = getattr(self, f"IMDB{i}")(h)
            outs.append(h)
        fused = self.LR_conv(self.c(torch.cat(outs, dim=1))) + shallow
        return self.upsampler(fused)
