"""What the diffusion upscalers (ldm_sr, sd_upscaler) share: one differentiable, per-step-checkpointed
DDIM chain (chain.py), one way to load diffusers/transformers parts (loading.py) and one card type for
weights that are a diffusers model folder or hub repository (card.py). Needs ``pip install 'srbench[diffusion]'``.
"""
