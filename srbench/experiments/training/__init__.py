"""Training: the GAN trainer shared by the toy study and the image GANs, and the robustness term."""
from srbench.experiments.training.robustness import AdamL2Attack
from srbench.experiments.training.trainer import GANConfig, GANTrainer

__all__ = ["GANConfig", "GANTrainer", "AdamL2Attack"]
