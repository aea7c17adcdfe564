"""Latent-diffusion x4 super-resolution (Rombach et al., CVPR 2022) as a stochastic restorer.

Built from diffusers' own classes (UNet2DModel, VQModel, DDIMScheduler), with
a sampler loop written here so that the whole chain is differentiable and each
step can be checkpointed: see model.py. Needs ``pip install 'srbench[diffusion]'``.
"""
