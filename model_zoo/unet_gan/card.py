"""Cards for the U-Net GAN restorers of Ohayon et al. (2023), trained with ``srbench train``.

No weights are published with the paper; train them with ``srbench train
benchmarks/gan-*.yaml`` and pass the checkpoint: ``srbench run --models
unet-gan --weights unet-gan=runs/gan/ckpt.pt`` (the trainer's checkpoint is
accepted as is). The U-Net is rebuilt to the checkpoint's base width; the
degradation is picked with ``--scale`` (1 = inpainting, 4/8/16 = box SR) and
checked against the one recorded in the checkpoint. ``srbench.experiments.gan.register_checkpoint(path, name)``
registers a local card for a checkpoint (name, arch and weights from the file).
"""
from srbench.models.card import ModelCard
from srbench.models.weights import Weights

PAPER = ("Ohayon, Adrai, Elad, Michaeli: Reasons for the Superiority of Stochastic Estimators over "
         "Deterministic Ones: Robustness, Consistency and Perceptual Quality, ICML 2023")
HOW = ("train one with `srbench train benchmarks/gan-*.yaml` (see docs/gan.md) and pass "
       "--weights NAME=RUN/ckpt.pt")


def card(name: str, degradation: str = "sr4", base: int = 24, stochastic: bool = True,
         z_channels: int = 1, file: str | None = None, sha256: str | None = None,
         description: str = "") -> ModelCard:
    from srbench.core.degradations import get_degradation

    deg = get_degradation(degradation)
    return ModelCard(
        name=name,
        build="model_zoo.unet_gan.model:unet_gan",
        arch={"degradation": degradation, "base": base, "z_channels": z_channels, "stochastic": stochastic},
        scale=deg.scale,
        scales=tuple(x for x in (1, 4, 8, 16) if x != deg.scale),
        stochastic=stochastic,
        weights=Weights(file=file or f"{name}.pt", sha256=sha256, how_to_get=HOW),
        license="MIT (srbench)",
        paper=PAPER,
        source="srbench implementation of the paper's U-Net estimator",
        description=description or (f"U-Net GAN estimator ({'stochastic' if stochastic else 'deterministic, Z = 0'}), "
                                    f"{degradation}, base width {base}, consistent by projection"),
        training="GAN",
    )


UNET_GAN = card("unet-gan", "sr4", 24, True)
UNET_GAN_DET = card("unet-gan-det", "sr4", 24, False)
