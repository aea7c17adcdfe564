"""The Stable Diffusion x4 upscaler (stabilityai/stable-diffusion-x4-upscaler) as a stochastic restorer.

Built from diffusers' and transformers' own classes (UNet2DConditionModel,
AutoencoderKL, DDIM and DDPM schedulers, CLIPTextModel, CLIPTokenizer) on the
differentiable, per-step-checkpointed chain of model_zoo/diffusion: see
model.py. Needs ``pip install 'srbench[diffusion]'`` (diffusers and transformers).
"""
