"""srbench: adversarial robustness benchmark for image restoration models."""
from srbench.core.errors import UserError
from srbench.core.restorer import DeterministicRestorer, Restorer
from srbench.models import MODELS, get_card, list_models, load_model, register_model
from srbench.models.card import ModelCard
from srbench.models.weights import Weights

__version__ = "0.1.0"

__all__ = [
    "MODELS", "ModelCard", "Weights", "Restorer", "DeterministicRestorer", "UserError",
    "get_card", "list_models", "load_model", "register_model", "__version__",
]
