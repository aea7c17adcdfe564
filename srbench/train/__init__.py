"""Training: the GAN trainer shared by the toy study and the image GANs, and the robustness term."""
from srbench.train.gan import GANConfig, GANTrainer
from srbench.train.robustness import AdamL2Attack, l2_project, random_in_ball, sensitivity

__all__ = ["GANConfig", "GANTrainer", "AdamL2Attack", "l2_project", "random_in_ball", "sensitivity"]
