"""RLFN, written from the paper's block description and the official checkpoint's key names and shapes.

Kong, Li, Zhang, et al.: "Residual Local Feature Network for Efficient
Super-Resolution", CVPRW 2022 (winner of the NTIRE 2022 efficient SR
challenge, runtime track). The official network works on pixel values in
[0, 255]. Layout (x4, 52 features, 6 blocks, as in ``rlfn_x4.pth``):

- ``conv_1``: 3x3 conv, 3 -> 52;
- six residual local feature blocks ``block_1..block_6``: three 3x3 convs
  (``c1_r``, ``c2_r``, ``c3_r``) each followed by LeakyReLU(0.05), a residual
  connection around the three, then a 1x1 conv ``c5`` and enhanced spatial
  attention ``esa``;
- ``conv_2``: 3x3 conv, plus the shallow features ``conv_1`` (global skip);
- ``upsampler``: 3x3 conv to 3 * 4^2 channels and a pixel shuffle.

Enhanced spatial attention (16 channels): a 1x1 reduction, a strided 3x3 conv
(stride 2, no padding) and a 7x7 max pool with stride 3 give a coarse map; a
3x3 conv on it, bilinear upsampling back to the input size, plus a 1x1 conv
of the reduced features, a 1x1 expansion and a sigmoid make the mask that
multiplies the input. The pooling needs at least 15x15 input pixels.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

NEG_SLOPE = 0.05
MIN_SIZE = 15  # smallest LR side the attention's strided conv + 7x7 pooling accepts


def conv(in_ch: int, out_ch: int, k: int, **kw) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, k, padding=kw.pop("padding", k // 2), **kw)


class ESA(nn.Module):
    """Enhanced spatial attention: a mask from a coarse, large-receptive-field view of the features."""

    def __init__(self, channels: int, reduced: int = 16):
        super().__init__()
        self.conv1 = conv(channels, reduced, 1)
        self.conv_f = conv(reduced, reduced, 1)
        self.conv2 = conv(reduced, reduced, 3, stride=2, padding=0)
        self.conv3 = conv(reduced, reduced, 3)
        self.conv4 = conv(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = self.conv1(x)
        coarse = F.max_pool2d(self.conv2(reduced), kernel_size=7, stride=3)
        coarse = F.interpolate(self.conv3(coarse), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return x * torch.sigmoid(self.conv4(coarse + self.conv_f(reduced)))


class RLFB(nn.Module):
    """Residual local feature block: three conv+LeakyReLU with a local residual, 1x1 fusion, ESA."""

    def __init__(self, channels: int):
        super().__init__()
        self.c1_r = conv(channels, channels, 3)
        self.c2_r = conv(channels, channels, 3)
        self.c3_r = conv(channels, channels, 3)
        self.c5 = conv(channels, channels, 1)
        self.esa = ESA(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for step in (self.c1_r, self.c2_r, self.c3_r):
            out = F.leaky_relu(step(out), NEG_SLOPE)
        return self.esa(self.c5(out + x))


class RLFN(nn.Module):
    def __init__(self, scale: int = 4, channels: int = 52, blocks: int = 6, in_ch: int = 3, out_ch: int = 3):
        super().__init__()
        self.conv_1 = conv(in_ch, channels, 3)
        for i in range(1, blocks + 1):  # official names block_1..block_6
            self.add_module(f"block_{i}", RLFB(channels))
        self.blocks = blocks
        self.conv_2 = conv(channels, channels, 3)
        self.upsampler = nn.Sequential(conv(channels, out_ch * scale**2, 3), nn.PixelShuffle(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: pixel values in [0, 255]."""
        shallow = self.conv_1(x)
        h = shallow
        for i in range(1, self.blocks + 1):
            h = getattr(self, f"block_{i}")(h)
        return self.upsampler(self.conv_2(h) + shallow)
