"""SRFlow (Lugmayr et al., ECCV 2020), written from scratch.

SRFlow models the conditional distribution p(x | y) of a high-resolution image x
given its low-resolution image y with a conditional normalizing flow: an RRDB
network turns y into conditioning features, and a multi-level Glow-style flow
maps x to latents z (``encode``) and back (``decode``). Super-resolution draws
z and decodes it.

The code follows the paper and a list of observed facts about the official
implementation (shared/srflow/README.md), not the official code. Module and
parameter names reproduce the official state-dict layout exactly, so the
official checkpoints (SRFlow_DF2K_4X.pth, SRFlow_DF2K_8X.pth,
SRFlow_CelebA_8X.pth) load with ``strict=True``. The quirks of the official
network that change its outputs are mirrored on purpose and marked "quirk".

Flow layout, for L = log2(scale) + 1 levels (4X: 3, 8X: 4). Level l works at
HR / 2^l and is conditioned on the RRDB feature of that resolution:

    squeeze -> n_noaffine FlowSteps without coupling -> K coupling FlowSteps
    -> (only for l < L - 1) Split2d, which hands half the channels out as eps

so the top latent has 3 * 4^L / 2^(number of splits) channels at LR / 2.
All log-determinants are per image (shape ``(B,)``).
"""
from __future__ import annotations

import math
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

LN_2PI = math.log(2 * math.pi)

# Trunk blocks whose outputs are stacked into the conditioning (official configs).
DEFAULT_TAPS = {4: (1, 8, 15, 22), 8: (1, 3, 5, 7)}


def sum_chw(t: torch.Tensor) -> torch.Tensor:
    """Per-image sum over (C, H, W), reduced one dim at a time.

    The official code sums dim 1, then 2, then 3; using the same order keeps
    log-determinants bitwise equal rather than merely close.
    """
    return t.sum(1, keepdim=True).sum(2, keepdim=True).sum(3, keepdim=True).reshape(t.shape[0])


def gaussian_logp(x: torch.Tensor, mean: torch.Tensor, logs: torch.Tensor) -> torch.Tensor:
    """Per-image log N(x; mean, exp(logs)^2)."""
    return sum_chw(-0.5 * (logs * 2.0 + (x - mean) ** 2 / torch.exp(logs * 2.0) + LN_2PI))


def standard_logp(z: torch.Tensor) -> torch.Tensor:
    """Per-image log N(z; 0, 1): the prior of the top latent."""
    return sum_chw(-0.5 * (z ** 2 + LN_2PI))


def nll_bits(top: torch.Tensor, logdet: torch.Tensor, hr_pixels: int) -> torch.Tensor:
    """Negative log-likelihood in bits per HR pixel (H*W, not 3*H*W, as the official code reports it).

    ``logdet`` is ``encode``'s, which already holds the split latents' log-likelihoods.
    """
    return -(logdet + standard_logp(top)) / (math.log(2.0) * hr_pixels)


# ----------------------------------------------------------------------------------------------
# Conditioning network: RRDB (ESRGAN's trunk, with SRFlow's own global residual)
# ----------------------------------------------------------------------------------------------

class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; the output is scaled by 0.2 and added back."""

    def __init__(self, nf: int, gc: int):
        super().__init__()
        for i in range(4):
            setattr(self, f"conv{i + 1}", nn.Conv2d(nf + i * gc, gc, 3, 1, 1))
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for i in range(1, 5):
            conv = getattr(self, f"conv{i}")
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))
        return self.conv5(torch.cat(feats, 1)) * 0.2 + x


class RRDBBlock(nn.Module):
    """Residual-in-residual dense block: three RDBs, scaled by 0.2, plus the input."""

    def __init__(self, nf: int, gc: int):
        super().__init__()
        self.RDB1 = ResidualDenseBlock(nf, gc)
        self.RDB2 = ResidualDenseBlock(nf, gc)
        self.RDB3 = ResidualDenseBlock(nf, gc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.RDB3(self.RDB2(self.RDB1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """The conditioning network.

    ``conditions`` returns, for each flow level, a feature map at that level's
    resolution with ``nf * (1 + len(taps))`` channels (320 officially).
    ``forward`` computes the network's own SR output, which the flow never
    uses (its layers only exist so checkpoints load).
    """

    def __init__(self, scale: int, nf: int, nb: int, gc: int, taps: tuple[int, ...]):
        super().__init__()
        self.n_up = int(math.log2(scale))
        self.taps = tuple(taps)
        if any(t >= nb for t in self.taps):
            raise ValueError(f"taps {taps} must index the {nb} trunk blocks")
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.RRDB_trunk = nn.Sequential(*[RRDBBlock(nf, gc) for _ in range(nb)])
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        for i in range(1, self.n_up + 1):
            setattr(self, f"upconv{i}", nn.Conv2d(nf, nf, 3, 1, 1))
        self.HRconv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)

    def _trunk(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """LR feature and the stacked tapped trunk outputs."""
        fea = self.conv_first(y)
        tapped = []
        for i, block in enumerate(self.RRDB_trunk):
            fea = block(fea)
            if i in self.taps:
                tapped.append(fea)
        # quirk: the global residual adds the trunk output T (not conv_first's output
        # as in ESRGAN): last_lr_fea = T + trunk_conv(T).
        return fea + self.trunk_conv(fea), torch.cat(tapped, 1)

    def _upsample(self, fea: torch.Tensor, i: int) -> torch.Tensor:
        # quirk: the stored features fea_up2/4/8 are taken after the LeakyReLU
        # (the official code applies it in place).
        return F.leaky_relu(getattr(self, f"upconv{i}")(F.interpolate(fea, scale_factor=2, mode="nearest")), 0.2)

    def conditions(self, y: torch.Tensor) -> dict[int, torch.Tensor]:
        """Conditioning of flow levels 1..L (level l has resolution LR * scale / 2^l)."""
        lr_fea, stack = self._trunk(y)
        # fea_up0 (LR/2): bilinear, which is a 2x2 mean up to rounding; kept for bitwise equality.
        half = F.interpolate(lr_fea, scale_factor=0.5, mode="bilinear", align_corners=False,
                             recompute_scale_factor=True)
        by_factor = {1: lr_fea}
        fea = lr_fea
        for i in range(1, self.n_up):  # the last upconv feeds only the unused SR output
            fea = self._upsample(fea, i)
            by_factor[2 ** i] = fea
        levels = {}
        for level in range(1, self.n_up + 2):
            feature = by_factor[2 ** (self.n_up - level)] if level <= self.n_up else half
            # The stacked trunk outputs are resized with 'nearest' (downsizing picks even pixels).
            levels[level] = torch.cat([feature, F.interpolate(stack, size=feature.shape[2:])], 1)
        return levels

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        fea, _ = self._trunk(y)
        for i in range(1, self.n_up + 1):
            fea = self._upsample(fea, i)
        return self.conv_last(F.leaky_relu(self.HRconv(fea), 0.2))


# ----------------------------------------------------------------------------------------------
# Flow layers
# ----------------------------------------------------------------------------------------------

class ActNorm(nn.Module):
    """Per-channel affine (x + bias) * exp(logs).

    The official ActNorm initialises itself from the first batch in training;
    that never happens for loaded weights or in eval mode, so it is left out.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.logs = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + self.bias) * torch.exp(self.logs)

    def reverse(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.exp(-self.logs) - self.bias

    def logdet(self, x: torch.Tensor) -> torch.Tensor:
        return self.logs.sum() * int(x.shape[2] * x.shape[3])


class ConvActNorm(nn.Module):
    """Bias-free convolution ('same' padding) followed by an ActNorm."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel) * 0.05)
        self.actnorm = ActNorm(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.actnorm(F.conv2d(x, self.weight, None, padding=self.weight.shape[-1] // 2))


class ZeroConv(nn.Module):
    """3x3 convolution with bias whose output is scaled by exp(3 * logs).

    Zero-initialised so that a fresh coupling or prior starts as the identity / N(0, 1).
    """

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(cout, cin, 3, 3))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.logs = nn.Parameter(torch.zeros(cout, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=1) * torch.exp(self.logs * 3)


def coupling_net(cin: int, cout: int, hidden: int) -> nn.Sequential:
    """conv3x3+ActNorm, ReLU, conv1x1+ActNorm, ReLU, ZeroConv (indices 0..4 as in the checkpoints)."""
    return nn.Sequential(ConvActNorm(cin, hidden, 3), nn.ReLU(), ConvActNorm(hidden, hidden, 1), nn.ReLU(),
                         ZeroConv(hidden, cout))


def _shift_scale(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Even channels are the shift, odd ones the (always positive) scale."""
    return h[:, 0::2], torch.sigmoid(h[:, 1::2] + 2.0) + 1e-4


class CondAffineCoupling(nn.Module):
    """SRFlow's conditional affine coupling, in two stages.

    1. an affine transform of all channels computed from the conditioning alone
       (fFeatures), then 2. a classic affine coupling of the second channel half
       computed from [first half, conditioning] (fAffine). Each stage adds the
       sum of log-scales to the log-determinant.
    """

    def __init__(self, channels: int, cond_channels: int, hidden: int):
        super().__init__()
        self.n_keep = channels // 2
        # Registration order fAffine, fFeatures matches the checkpoints' key order.
        self.fAffine = coupling_net(self.n_keep + cond_channels, 2 * (channels - self.n_keep), hidden)
        self.fFeatures = coupling_net(cond_channels, 2 * channels, hidden)

    def forward(self, z, cond, logdet):
        shift, scale = _shift_scale(self.fFeatures(cond))
        z = (z + shift) * scale
        logdet = logdet + sum_chw(torch.log(scale))
        z1, z2 = z[:, :self.n_keep], z[:, self.n_keep:]
        shift, scale = _shift_scale(self.fAffine(torch.cat([z1, cond], 1)))
        z2 = (z2 + shift) * scale
        logdet = logdet + sum_chw(torch.log(scale))
        return torch.cat([z1, z2], 1), logdet

    def reverse(self, z, cond, logdet):
        z1, z2 = z[:, :self.n_keep], z[:, self.n_keep:]
        shift, scale = _shift_scale(self.fAffine(torch.cat([z1, cond], 1)))
        z2 = z2 / scale - shift  # a true division, as in the official code
        logdet = logdet - sum_chw(torch.log(scale))
        z = torch.cat([z1, z2], 1)
        shift, scale = _shift_scale(self.fFeatures(cond))
        z = z / scale - shift
        logdet = logdet - sum_chw(torch.log(scale))
        return z, logdet


class InvConv1x1(nn.Module):
    """Glow's invertible 1x1 convolution with a full (not LU-factored) matrix."""

    def __init__(self, channels: int):
        super().__init__()
        # QR's Q is column-major; a contiguous parameter matters because slogdet of a
        # non-contiguous matrix rounds differently (~1e-7, i.e. ~1e-4 in the logdet).
        self.weight = nn.Parameter(torch.linalg.qr(torch.randn(channels, channels))[0].contiguous())

    def _logdet(self, z: torch.Tensor) -> torch.Tensor:
        return torch.slogdet(self.weight.contiguous())[1] * int(z.shape[2] * z.shape[3])

    def forward(self, z, logdet):
        c = self.weight.shape[0]
        return F.conv2d(z, self.weight.view(c, c, 1, 1)), logdet + self._logdet(z)

    def reverse(self, z, logdet):
        c = self.weight.shape[0]
        # The official inverse is taken in float64 and cast back.
        inv = torch.inverse(self.weight.double()).to(self.weight.dtype)
        return F.conv2d(z, inv.view(c, c, 1, 1)), logdet - self._logdet(z)


class FlowStep(nn.Module):
    """ActNorm -> invertible 1x1 conv -> conditional coupling (absent in the first steps of a level)."""

    def __init__(self, channels: int, cond_channels: int, hidden: int, coupling: bool):
        super().__init__()
        self.actnorm = ActNorm(channels)
        self.invconv = InvConv1x1(channels)
        self.affine = CondAffineCoupling(channels, cond_channels, hidden) if coupling else None

    def forward(self, z, cond, logdet):
        logdet = logdet + self.actnorm.logdet(z)
        z = self.actnorm(z)
        z, logdet = self.invconv(z, logdet)
        if self.affine is not None:
            z, logdet = self.affine(z, cond, logdet)
        return z, logdet

    def reverse(self, z, cond, logdet):
        if self.affine is not None:
            z, logdet = self.affine.reverse(z, cond, logdet)
        z, logdet = self.invconv.reverse(z, logdet)
        logdet = logdet - self.actnorm.logdet(z)
        return self.actnorm.reverse(z), logdet


class Squeeze(nn.Module):
    """Space-to-depth by 2: output channel 4c + 2dy + dx. A permutation, so no log-determinant."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, c, h, w = z.shape
        return z.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, c * 4, h // 2, w // 2)

    def reverse(self, z: torch.Tensor) -> torch.Tensor:
        b, c, h, w = z.shape
        return z.view(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c // 4, h * 2, w * 2)


class Split2d(nn.Module):
    """Hands out the second channel half as a latent, with a learned Gaussian prior on it.

    The prior's mean and log-scale come from the kept half only (quirk: not from
    the RRDB features). The handed-out latent is the standardised
    eps = (z2 - mean) / exp(logs), and the log-likelihood of z2 under the prior
    is added to the log-determinant (so ``encode``'s logdet includes it).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.n_keep = channels // 2
        self.conv = ZeroConv(self.n_keep, 2 * (channels - self.n_keep))

    def _prior(self, z1):
        h = self.conv(z1)
        return h[:, 0::2], h[:, 1::2]

    def forward(self, z, logdet):
        z1, z2 = z[:, :self.n_keep], z[:, self.n_keep:]
        mean, logs = self._prior(z1)
        eps = (z2 - mean) / torch.exp(logs)
        return z1, eps, logdet + gaussian_logp(z2, mean, logs)

    def reverse(self, z1, eps, logdet):
        mean, logs = self._prior(z1)
        z2 = mean + torch.exp(logs) * eps
        return torch.cat([z1, z2], 1), logdet - gaussian_logp(z2, mean, logs)


class FlowUpsamplerNet(nn.Module):
    """The flow: a flat list of layers (indices as in the checkpoints) with a level for each."""

    def __init__(self, L: int, K: int, n_noaffine: int, hidden: int, cond_channels: int):
        super().__init__()
        layers, self.level_of = [], []
        channels, self.latent_channels = 3, {}
        for level in range(1, L + 1):
            layers.append(Squeeze())
            channels *= 4
            for k in range(n_noaffine + K):
                layers.append(FlowStep(channels, cond_channels, hidden, coupling=k >= n_noaffine))
            self.level_of += [level] * (1 + n_noaffine + K)
            # quirk: only levels below L - 1 split (the official 'correct_splits' default).
            if level < L - 1:
                layers.append(Split2d(channels))
                self.level_of.append(level)
                self.latent_channels[f"split{level}"] = (channels - channels // 2, level)
                channels //= 2
        self.latent_channels["top"] = (channels, L)
        self.layers = nn.ModuleList(layers)
        # quirk: an unused conv that the official network creates; kept so checkpoints load.
        self.f = nn.Sequential(nn.Conv2d(cond_channels, 96, 3, 1, 1))

    def encode(self, x, conds, logdet):
        z, eps = x, {}
        for layer, level in zip(self.layers, self.level_of):
            if isinstance(layer, Squeeze):
                z = layer(z)
            elif isinstance(layer, Split2d):
                z, eps[f"split{level}"], logdet = layer(z, logdet)
            else:
                z, logdet = layer(z, conds[level], logdet)
        return {"top": z, **eps}, logdet

    def decode(self, z: Mapping[str, torch.Tensor], conds, logdet):
        x = z["top"]
        for layer, level in zip(reversed(self.layers), reversed(self.level_of)):
            if isinstance(layer, Squeeze):
                x = layer.reverse(x)
            elif isinstance(layer, Split2d):
                x, logdet = layer.reverse(x, z[f"split{level}"], logdet)
            else:
                x, logdet = layer.reverse(x, conds[level], logdet)
        return x, logdet


class SRFlowNet(nn.Module):
    """RRDB conditioning network + flow; parameter names equal the official checkpoints'.

    Defaults are the official configs (SRFlow_DF2K_4X / 8X / CelebA_8X); the
    widths can be shrunk for tests. ``taps``: trunk blocks whose outputs join
    the conditioning (default: the official choice for the scale).
    """

    def __init__(self, scale: int = 4, nf: int = 64, nb: int = 23, gc: int = 32,
                 taps: tuple[int, ...] | None = None, K: int = 16, n_noaffine: int = 2, hidden: int = 64):
        super().__init__()
        if scale not in (2, 4, 8, 16):
            raise ValueError(f"SRFlow scale must be a power of two, got {scale}")
        self.scale = scale
        self.L = int(math.log2(scale)) + 1
        if taps is None and scale not in DEFAULT_TAPS:
            raise ValueError(f"no official conditioning taps for scale {scale}; pass taps=")
        taps = tuple(DEFAULT_TAPS[scale] if taps is None else taps)
        self.RRDB = RRDBNet(scale, nf, nb, gc, taps)
        self.flowUpsamplerNet = FlowUpsamplerNet(self.L, K, n_noaffine, hidden, nf * (1 + len(taps)))

    def latent_shapes(self, h: int, w: int) -> dict[str, tuple[int, int, int]]:
        """(C, H, W) of every latent for an LR image of size h x w (both even)."""
        if h % 2 or w % 2:
            raise ValueError(f"SRFlow needs an even LR size, got {h}x{w} (pad it first)")
        hr_h, hr_w = h * self.scale, w * self.scale
        return {name: (c, hr_h >> level, hr_w >> level)
                for name, (c, level) in self.flowUpsamplerNet.latent_channels.items()}

    def encode(self, x: torch.Tensor, y: torch.Tensor, add_gt_noise: bool = False, quant: int = 32,
               generator: torch.Generator | None = None):
        """HR x (given LR y) -> (latents dict, logdet incl. the split priors).

        add_gt_noise: dequantise x with uniform noise of one 1/quant step, as in
        training; this adds -ln(quant) per pixel to the logdet.
        """
        logdet = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        if add_gt_noise:
            device = generator.device if generator is not None else x.device
            noise = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=device).to(x.device)
            x = x + (noise - 0.5) / quant
            logdet = logdet + float(-math.log(quant) * x.shape[2] * x.shape[3])
        return self.flowUpsamplerNet.encode(x, self.RRDB.conditions(y), logdet)

    def decode(self, y: torch.Tensor, z: Mapping[str, torch.Tensor]):
        """LR y and latents -> (HR x, unclamped; logdet of the reverse pass)."""
        conds = self.RRDB.conditions(y)
        logdet = torch.zeros(y.shape[0], dtype=y.dtype, device=y.device)
        return self.flowUpsamplerNet.decode(z, conds, logdet)

    def nll(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of x given y in bits per HR pixel (no dequantisation noise)."""
        z, logdet = self.encode(x, y)
        return nll_bits(z["top"], logdet, x.shape[2] * x.shape[3])

    def forward(self, y: torch.Tensor, z: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.decode(y, z)[0]
