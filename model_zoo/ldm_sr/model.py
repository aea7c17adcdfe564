"""Latent-diffusion SR as a stochastic Restorer whose whole sampling chain is differentiable.

The model is diffusers' ``LDMSuperResolutionPipeline`` taken apart: a UNet
(``UNet2DModel``) whose input is the noisy latent concatenated with the LR
image in [-1, 1], both at LR resolution; a DDIM scheduler (``DDIMScheduler``);
and a VQ autoencoder (``VQModel``, f = 4) whose decoder turns the final latent
into the x4 image. The pipeline's own ``__call__`` runs under ``no_grad`` and
draws its noise inside, so the sampler loop is written here:

    x_T = z["latent"]
    x_{t-1} = DDIM.step(UNet([x_t, 2y - 1], t), t, x_t, eta, z["noise"][:, i])   for the T steps
    output  = (VQ.decode(x_0) + 1) / 2, clamped to [0, 1]

z is a dict with leading dimension B (seed-major for n draws):
``{"latent": (B, C, h', w')}``, plus ``"noise": (B, T, C, h', w')`` when
eta > 0 (the per-step noises). Nothing is drawn inside ``restore``, so one z
always gives the same output, which same-seed robustness (Eq. 6/9) needs.
``z=None`` means zeros (the chain started at the prior's mean, no per-step
noise): deterministic, but not a typical sample. h' x w' is the LR size padded
to a multiple of the UNet's total downsampling (reflect, see ``pad_to_multiple``);
the output is cropped back to (4h, 4w).

The VQ decoder quantizes the final latent (nearest codebook entry), as the
pipeline and the original LDM code do (``quantize=True``, the default). That
makes the output piecewise constant in the latent: its true gradient is zero
almost everywhere. The attacks follow the straight-through gradient diffusers
implements (``z + (z_q - z).detach()``: the identity through the quantizer,
i.e. BPDA) while every output, clean or attacked, is the real quantized one.
``quantize=False`` decodes the continuous latent instead (a different model,
exactly differentiable), for studying what the quantizer does to an attack.

Memory: backpropagating through T steps keeps T UNet activations. With
``checkpointing`` (the default) each step runs under ``torch.utils.checkpoint``:
only its inputs (T small latents) are kept and it is recomputed once in the
backward pass, so an attack step needs about one step's activations whatever
T is, for about one extra forward per step. The VQ decoder (at the x4 output
size, the largest single memory user) is checkpointed block by block through
its own diffusers switch (``Decoder.gradient_checkpointing``), which keeps
less than checkpointing it whole. Results are the same up to float noise
(tests/test_diffusion.py).
"""
from __future__ import annotations

import contextlib
import importlib
import warnings
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from srbench.core.errors import UserError
from srbench.core.restorer import Restorer
from srbench.models.weights import _one_line

INSTALL_HINT = "pip install 'srbench[diffusion]'"
SUBFOLDERS = ("unet", "vqvae", "scheduler")  # the layout of CompVis/ldm-super-resolution-4x-openimages


def import_diffusers():
    """The diffusers module, or a one-line UserError saying how to install it (an optional extra)."""
    try:
        return importlib.import_module("diffusers")
    except ImportError:
        raise UserError(f"diffusion models need the diffusers library, which is not installed: "
                        f"{INSTALL_HINT}") from None


def pad_to_multiple(y: torch.Tensor, m: int) -> torch.Tensor:
    """Pad bottom/right so both sides are multiples of m: reflect, replicate beyond what reflect can reach.

    The UNet halves its input once per down block and concatenates skips of
    equal size, so the LR size must divide by 2^(blocks - 1).
    """
    h, w = y.shape[-2:]
    ph, pw = -h % m, -w % m
    rh, rw = min(ph, h - 1), min(pw, w - 1)
    if rh or rw:
        y = F.pad(y, (0, rw, 0, rh), mode="reflect")
    if ph - rh or pw - rw:
        y = F.pad(y, (0, pw - rw, 0, ph - rh), mode="replicate")
    return y


class LatentDiffusionSR(Restorer):
    """UNet + VQ decoder + DDIM as ``restore(y, z)``; ``steps`` and ``eta`` fix the sampler."""

    def __init__(self, unet, vqvae, scheduler, steps: int = 100, eta: float = 0.0, checkpointing: bool = True,
                 quantize: bool = True, name: str = "ldm-sr-x4"):
        super().__init__()
        check_sampler(steps, eta, scheduler.config.num_train_timesteps)
        if unet.config.in_channels != unet.config.out_channels + 3:
            raise UserError(f"the UNet takes {unet.config.in_channels} channels, expected its "
                            f"{unet.config.out_channels} latent channels + 3 for the LR image")
        self.unet, self.vqvae, self.scheduler = unet, vqvae, scheduler
        scheduler.set_timesteps(steps)
        self.timesteps = [int(t) for t in scheduler.timesteps]
        self.steps, self.eta, self.quantize = int(steps), float(eta), bool(quantize)
        self.checkpointing = checkpointing
        self.latent_channels = unet.config.out_channels
        self.multiple = 2 ** (len(unet.config.down_block_types) - 1)
        self.name = name
        self.scale = self.decoder_scale
        self.stochastic = True

    @property
    def decoder_scale(self) -> int:
        """The SR factor the weights give: the VQ decoder upsamples the LR-sized latent once per block but one."""
        return 2 ** (len(self.vqvae.config.block_out_channels) - 1)

    @property
    def checkpointing(self) -> bool:
        return self._checkpointing

    @checkpointing.setter
    def checkpointing(self, on: bool) -> None:
        """Checkpoint each sampling step here, and the decoder's blocks through diffusers' own switch."""
        self._checkpointing = bool(on)
        self.vqvae.decoder.gradient_checkpointing = self._checkpointing
        self.vqvae.decoder._gradient_checkpointing_func = _checkpointed

    @property
    def model_options(self) -> dict[str, Any]:
        """What fixes the output distribution besides the weights: recorded in every result row."""
        return {"sampler": "ddim", "steps": self.steps, "eta": self.eta, "quantize": self.quantize}

    def load_weights(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        raise UserError(f"model {self.name!r} loads a diffusers folder or hub repository "
                        f"(with {', '.join(SUBFOLDERS)}), not a single checkpoint file")

    # ------------------------------------------------------------------ seeds

    def latent_shape(self, y: torch.Tensor) -> tuple[int, int, int]:
        h, w = y.shape[-2:]
        return self.latent_channels, h + -h % self.multiple, w + -w % self.multiple

    def sample_z(self, y: torch.Tensor, n: int = 1,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """n draws per image, seed-major: the initial latent, then (eta > 0) the T per-step noises.

        Drawn on the generator's device, then moved to y's, so a seed gives the same z on any device.
        """
        device = generator.device if generator is not None else torch.device("cpu")
        rows, shape = n * y.shape[0], self.latent_shape(y)
        z = {"latent": torch.randn((rows, *shape), generator=generator, device=device)}
        if self.eta > 0:
            z["noise"] = torch.randn((rows, self.steps, *shape), generator=generator, device=device)
        return {k: v.to(y.device, y.dtype) for k, v in z.items()}

    def zero_z(self, y: torch.Tensor) -> dict[str, torch.Tensor]:
        z = {"latent": y.new_zeros((y.shape[0], *self.latent_shape(y)))}
        if self.eta > 0:
            z["noise"] = y.new_zeros((y.shape[0], self.steps, *self.latent_shape(y)))
        return z

    def _check_z(self, y: torch.Tensor, z: Any) -> None:
        shapes = {"latent": (y.shape[0], *self.latent_shape(y))}
        if self.eta > 0:
            shapes["noise"] = (y.shape[0], self.steps, *self.latent_shape(y))
        if not isinstance(z, Mapping) or set(z) != set(shapes):
            got = sorted(z) if isinstance(z, Mapping) else type(z).__name__
            raise ValueError(f"{self.name} z must be a dict with keys {sorted(shapes)} (eta {self.eta:g}), got {got}")
        for key, shape in shapes.items():
            if tuple(z[key].shape) != shape:
                raise ValueError(f"z[{key!r}] has shape {tuple(z[key].shape)}, expected {shape} "
                                 f"for LR size {tuple(y.shape[-2:])} and {self.steps} steps")

    # ------------------------------------------------------------------ the chain

    def restore(self, y: torch.Tensor, z: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        h, w = y.shape[-2:]
        z = self.zero_z(y) if z is None else z
        self._check_z(y, z)
        cond = pad_to_multiple(y, self.multiple) * 2 - 1
        latents = z["latent"] * self.scheduler.init_noise_sigma
        for i, t in enumerate(self.timesteps):
            noise = z["noise"][:, i] if self.eta > 0 else None
            if self.checkpointing and torch.is_grad_enabled():
                latents = _checkpointed(self._denoise_step, latents, cond, noise, t)
            else:
                latents = self._denoise_step(latents, cond, noise, t)
        x = self.vqvae.decode(latents, force_not_quantize=not self.quantize).sample
        return ((x[..., :h * self.scale, :w * self.scale] + 1) / 2).clamp(0, 1)

    def _denoise_step(self, latents: torch.Tensor, cond: torch.Tensor, noise: torch.Tensor | None,
                      t: int) -> torch.Tensor:
        """x_t -> x_{t-1}: the UNet predicts the noise of [x_t, LR]; DDIM's update (noise given when eta > 0)."""
        model_in = self.scheduler.scale_model_input(torch.cat([latents, cond], 1), t)
        eps = self.unet(model_in, t).sample
        return self.scheduler.step(eps, t, latents, eta=self.eta, variance_noise=noise).prev_sample


def _checkpointed(fn, *args):
    """fn(*args) without keeping its activations: they are recomputed in the backward pass. Every part of
    the chain is deterministic given its inputs, so no RNG state needs saving."""
    return checkpoint(fn, *args, use_reentrant=False, preserve_rng_state=False)


def check_sampler(steps: Any, eta: Any, train_steps: int = 1000) -> None:
    """One-line errors for sampler options out of range."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= train_steps:
        raise UserError(f"steps (sampling steps) must be an integer from 1 to {train_steps}, got {steps!r:.40}")
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0 <= eta <= 1:
        raise UserError(f"eta must be a number from 0 (DDIM, deterministic given the initial latent) "
                        f"to 1 (DDPM-like), got {eta!r:.40}")


def load_modules(source: str | Path) -> tuple[Any, Any, Any]:
    """(UNet2DModel, VQModel, DDIMScheduler) from a local folder or a hub repo id, through diffusers.

    The folder holds unet/, vqvae/ and scheduler/ as saved by ``save_pretrained``
    (the layout of the hub repository); the scheduler config is read into DDIM
    whatever scheduler class it names.
    """
    diffusers = import_diffusers()
    source = str(source)
    classes = {"unet": diffusers.UNet2DModel, "vqvae": diffusers.VQModel, "scheduler": diffusers.DDIMScheduler}
    loaded = {}
    for sub, cls in classes.items():
        try:
            with quiet_diffusers(diffusers):
                loaded[sub] = cls.from_pretrained(source, subfolder=sub)
        except Exception as exc:  # OSError/EnvironmentError, huggingface_hub's offline and 404 errors
            raise UserError(f"cannot load the {sub} of diffusion model {source!r}: {_one_line(exc, 200)}; "
                            f"{_where_to_look(source)}") from None
    return loaded["unet"], loaded["vqvae"], loaded["scheduler"]


def _where_to_look(source: str) -> str:
    folders = ", ".join(f"{s}/" for s in SUBFOLDERS)
    if Path(source).expanduser().is_dir():
        return f"the folder must hold {folders} as written by save_pretrained"
    return (f"{source!r} is not a local folder, and the Hugging Face Hub did not deliver it (offline, "
            f"or no such repository); give a folder with {folders} or a reachable hub repository")


@contextlib.contextmanager
def quiet_diffusers(diffusers):
    """Hide diffusers' loading chatter (advice to install accelerate, huggingface_hub deprecation warnings):
    errors still raise, and srbench says what to do about them."""
    level = diffusers.utils.logging.get_verbosity()
    diffusers.utils.logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        diffusers.utils.logging.set_verbosity(level)


def ldm_sr(source: str | Path, steps: int = 100, eta: float = 0.0, checkpointing: bool = True,
           quantize: bool = True, name: str = "ldm-sr-x4") -> LatentDiffusionSR:
    """Builder: the pretrained model in ``source`` (folder or hub repo id) with the given sampler."""
    check_sampler(steps, eta)
    unet, vqvae, scheduler = load_modules(source)
    model = LatentDiffusionSR(unet, vqvae, scheduler, steps=steps, eta=eta, checkpointing=checkpointing,
                              quantize=quantize, name=name)
    return model.eval().requires_grad_(False)
