"""Training: the GAN trainer shared by the toy study and the image GANs, and the robustness term."""
from srbench.train.gan import GANConfig, GANTrainer
from srbench.train.robustness import AdamL2Attack

__all__ = ["GANConfig", "GANTrainer", "AdamL2Attack"]
