"""Forward FLOPs per 64x64 image of the paper-scale networks (CelebA: U-Net base 24, critic 16;
ImageNet64: 32/32) and of the small run's (8/8), counted with torch.utils.flop_counter, and the
per-step training cost they imply (see README.md for the multipliers).
Usage: OMP_NUM_THREADS=1 python results/gan-small/flops.py"""
import json

import torch
from torch.utils.flop_counter import FlopCounterMode

from model_zoo.unet_gan.model import UNetGANRestorer
from srbench.experiments.gan.critic import ResNetCritic


def fwd_flops(module, *args):
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        module(*args)
    return fc.get_total_flops() / args[0].shape[0]


out = {}
for label, base, f in (("small (8/8)", 8, 8), ("CelebA (24/16)", 24, 16), ("ImageNet64 (32/32)", 32, 32)):
    G = UNetGANRestorer("sr4", base=base).eval()
    D = ResNetCritic(64, f).eval()
    y = torch.rand(2, 3, 16, 16)
    g, d = fwd_flops(G, y, G.sample_z(y, 1, torch.Generator().manual_seed(0))), fwd_flops(D, torch.rand(2, 3, 64, 64))
    # per image: D step = G fwd + D fwd on real and fake + their backward (2x) + R1 double backward (~4x D fwd)
    #            G step = G fwd+bwd (3x) + D fwd+bwd to the input (3x)
    plain = 4 * g + 13 * d
    # robustness term every 3rd step, 10 seeds: clean fwd (1) + 5 Adam steps fwd+bwd (15) + final
    # sensitivity with parameter gradients (2 fwd + 2 bwd ~ 6) = 22 G-forwards per seed
    robust = plain + 10 * 22 * g / 3
    out[label] = {"G_fwd_GFLOP": round(g / 1e9, 3), "D_fwd_GFLOP": round(d / 1e9, 3),
                  "step_TFLOP_batch64_erratic": round(64 * plain / 1e12, 3),
                  "step_TFLOP_batch64_robust_sto_avg": round(64 * robust / 1e12, 3)}
print(json.dumps(out, indent=1))
