"""The sampling chain of a latent-diffusion upscaler as a stochastic Restorer, differentiable end to end.

Both diffusion upscalers (``ldm_sr``: diffusers' LDMSuperResolutionPipeline;
``sd_upscaler``: StableDiffusionUpscalePipeline) are the same chain:

    c       = condition(2 pad(y) - 1, z)                     the LR image the UNet sees (at LR size)
    x_T     = z["latent"] * init_noise_sigma
    x_{t-1} = DDIM.step(predict([x_t, c], t), t, x_t, eta, z["noise"][:, i])   for the T steps
    output  = (decode(x_0) + 1) / 2, cropped to (4h, 4w), clamped to [0, 1]

A subclass says how the LR image is turned into the conditioning (``condition``),
how the UNet is called (``predict``: its extra inputs) and how the final latent
is decoded (``decode``); what the prediction means (noise or v) is the
scheduler's ``prediction_type``, read from the weights' own config. The
pipelines' ``__call__`` run without gradients and draw their noise inside, so
the loop is written here.

z is a dict of tensors with leading dimension B (seed-major for n draws):
``"latent"`` (B, C, h', w') and, when eta > 0, ``"noise"`` (B, T, C, h', w'),
the per-step noises, plus what a subclass adds (``z_shapes``). Nothing is drawn
inside ``restore``, so one z always gives the same output, which same-seed
robustness (Eq. 6/9) needs. ``z=None`` means zeros: deterministic, but not a
typical sample. h' x w' is the LR size padded (reflect) to a multiple of the
UNet's total downsampling; the output is cropped back.

Memory: backpropagating through T steps keeps T UNet activations. With
``checkpointing`` (the default) each step runs under ``torch.utils.checkpoint``:
only its inputs (T small latents) are kept and it is recomputed once in the
backward pass, so an attack step needs about one step's activations whatever
T is, for about one extra forward per step. The decoder (at the x4 output
size, the largest single memory user) is checkpointed block by block through
its own diffusers switch (``Decoder.gradient_checkpointing``), which keeps
less than checkpointing it whole. Results are the same up to float noise
(tests/test_diffusion.py, tests/test_sd_upscaler.py).
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from srbench.core.errors import UserError
from srbench.core.restorer import Restorer, checkpointed

LR_CHANNELS = 3  # the LR image the UNet takes next to the latent


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


def check_sampler(steps: Any, eta: Any, train_steps: int = 1000) -> None:
    """One-line errors for sampler options out of range."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= train_steps:
        raise UserError(f"steps (sampling steps) must be an integer from 1 to {train_steps}, got {steps!r:.40}")
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0 <= eta <= 1:
        raise UserError(f"eta must be a number from 0 (DDIM, deterministic given the initial latent) "
                        f"to 1 (DDPM-like), got {eta!r:.40}")


class DiffusionSR(Restorer):
    """UNet + DDIM + autoencoder as ``restore(y, z)``; ``steps`` and ``eta`` fix the sampler.

    Subclasses implement ``condition``, ``predict`` and ``decode`` and name the
    folder layout they load (``SUBFOLDERS``) and their decoder (``decoder_kind``).
    """

    SUBFOLDERS: tuple[str, ...] = ()
    decoder_kind = "decoder"

    def __init__(self, unet, autoencoder, scheduler, steps: int, eta: float, checkpointing: bool, name: str):
        super().__init__()
        check_sampler(steps, eta, scheduler.config.num_train_timesteps)
        if unet.config.in_channels != unet.config.out_channels + LR_CHANNELS:
            raise UserError(f"the UNet takes {unet.config.in_channels} channels, expected its "
                            f"{unet.config.out_channels} latent channels + {LR_CHANNELS} for the LR image")
        self.unet, self.autoencoder, self.scheduler = unet, autoencoder, scheduler
        scheduler.set_timesteps(steps)
        self.timesteps = [int(t) for t in scheduler.timesteps]
        self.steps, self.eta = int(steps), float(eta)
        self.checkpointing = checkpointing
        self.latent_channels = unet.config.out_channels
        self.multiple = 2 ** (len(unet.config.down_block_types) - 1)
        self.name = name
        self.scale = self.decoder_scale
        self.stochastic = True

    # ------------------------------------------------------------------ what a model adds

    def condition(self, lr: torch.Tensor, z: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The LR input of the UNet, from the padded LR image in [-1, 1] (fixed over the steps)."""
        return lr

    def predict(self, model_in: torch.Tensor, t: int) -> torch.Tensor:  # pragma: no cover - abstract
        """The UNet's output (noise or v, as the scheduler's prediction_type says) for [x_t, condition]."""
        raise NotImplementedError

    def decode(self, latents: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """The image in [-1, 1] (at 4x the latent size) of the final latent."""
        raise NotImplementedError

    # ------------------------------------------------------------------ properties

    @property
    def decoder_scale(self) -> int:
        """The SR factor the weights give: the decoder upsamples the LR-sized latent once per block but one."""
        return 2 ** (len(self.autoencoder.config.block_out_channels) - 1)

    @property
    def checkpointing(self) -> bool:
        return self._checkpointing

    @checkpointing.setter
    def checkpointing(self, on: bool) -> None:
        """Checkpoint each sampling step here, and the decoder's blocks through diffusers' own switch."""
        self._checkpointing = bool(on)
        self.autoencoder.decoder.gradient_checkpointing = self._checkpointing
        self.autoencoder.decoder._gradient_checkpointing_func = checkpointed

    @property
    def model_options(self) -> dict[str, Any]:
        """What fixes the output distribution besides the weights: recorded in every result row."""
        return {"sampler": "ddim", "steps": self.steps, "eta": self.eta}

    def load_weights(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        raise UserError(f"model {self.name!r} loads a diffusers folder or hub repository "
                        f"(with {', '.join(self.SUBFOLDERS)}), not a single checkpoint file")

    # ------------------------------------------------------------------ seeds

    def latent_shape(self, y: torch.Tensor) -> tuple[int, int, int]:
        h, w = y.shape[-2:]
        return self.latent_channels, h + -h % self.multiple, w + -w % self.multiple

    def z_shapes(self, y: torch.Tensor) -> dict[str, tuple[int, ...]]:
        """Each part of z and its shape per row, in the order ``sample_z`` draws them."""
        shapes = {"latent": self.latent_shape(y)}
        if self.eta > 0:
            shapes["noise"] = (self.steps, *self.latent_shape(y))
        return shapes

    def sample_z(self, y: torch.Tensor, n: int = 1,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """n draws per image, seed-major, each part of z in turn (``z_shapes``).

        Drawn on the generator's device, then moved to y's, so a seed gives the same z on any device.
        """
        device = generator.device if generator is not None else torch.device("cpu")
        rows = n * y.shape[0]
        z = {key: torch.randn((rows, *shape), generator=generator, device=device)
             for key, shape in self.z_shapes(y).items()}
        return {k: v.to(y.device, y.dtype) for k, v in z.items()}

    def zero_z(self, y: torch.Tensor) -> dict[str, torch.Tensor]:
        return {key: y.new_zeros((y.shape[0], *shape)) for key, shape in self.z_shapes(y).items()}

    def _check_z(self, y: torch.Tensor, z: Any) -> None:
        shapes = {key: (y.shape[0], *shape) for key, shape in self.z_shapes(y).items()}
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
        cond = self.condition(pad_to_multiple(y, self.multiple) * 2 - 1, z)
        latents = z["latent"] * self.scheduler.init_noise_sigma
        for i, t in enumerate(self.timesteps):
            noise = z["noise"][:, i] if self.eta > 0 else None
            if self.checkpointing and torch.is_grad_enabled():
                latents = checkpointed(self._denoise_step, latents, cond, noise, t)
            else:
                latents = self._denoise_step(latents, cond, noise, t)
        x = self.decode(latents)
        return ((x[..., :h * self.scale, :w * self.scale] + 1) / 2).clamp(0, 1)

    def _denoise_step(self, latents: torch.Tensor, cond: torch.Tensor, noise: torch.Tensor | None,
                      t: int) -> torch.Tensor:
        """x_t -> x_{t-1}: the UNet's prediction for [x_t, LR]; DDIM's update (noise given when eta > 0)."""
        model_in = torch.cat([self.scheduler.scale_model_input(latents, t), cond], 1)
        prediction = self.predict(model_in, t)
        return self.scheduler.step(prediction, t, latents, eta=self.eta, variance_noise=noise).prev_sample
