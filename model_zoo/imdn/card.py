"""Card for the official IMDN x4 checkpoint (committed in the authors' repository)."""
from srbench.models.card import ModelCard
from srbench.models.weights import Weights, raw_github

_REPO, _COMMIT = "Zheng222/IMDN", "8f158e6a5ac9db6e5857d9159fd4a6c4214da574"

CARD = ModelCard(
    name="imdn",
    build="model_zoo.imdn.model:imdn",
    arch={"scale": 4, "channels": 64, "blocks": 6},
    scale=4,
    weights=Weights(file="IMDN_x4.pth",
                    sha256="e660c38221147217a136debeb99eb304d62d9c0f73ac421ed66281b619719714",
                    sources=(raw_github(_REPO, _COMMIT, "checkpoints/IMDN_x4.pth"),)),
    license="Apache-2.0 (IMDN repository)",
    paper=("Hui, Gao, Yang, Wang: Lightweight Image Super-Resolution with Information Multi-distillation "
           "Network, ACM MM 2019"),
    source=f"github.com/{_REPO} @ {_COMMIT[:7]}",
    description="IMDN x4 (64 features, 6 distillation blocks, 715k params), pixel (L1) loss, DIV2K",
    training="pixel",
)
