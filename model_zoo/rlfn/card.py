"""Card for the official RLFN x4 checkpoint (committed in the authors' repository)."""
from srbench.models.card import ModelCard
from srbench.models.weights import Weights, raw_github

_REPO, _COMMIT = "bytedance/RLFN", "bccfde91bf8b2de80789ec033a029e6f2a932330"

CARD = ModelCard(
    name="rlfn",
    build="model_zoo.rlfn.model:rlfn",
    arch={"scale": 4, "channels": 52, "blocks": 6},
    scale=4,
    weights=Weights(file="rlfn_x4.pth",
                    sha256="8c7edb57dfc89048bafba29d591d4c27d4099964b4a9e22df23d6dc257a637c0",
                    sources=(raw_github(_REPO, _COMMIT, "model_zoo/rlfn_x4.pth"),)),
    license="Apache-2.0 (RLFN repository)",
    paper="Kong, Li, Zhang, et al.: Residual Local Feature Network for Efficient Super-Resolution, CVPRW 2022",
    source=f"github.com/{_REPO} @ {_COMMIT[:7]}",
    description="RLFN x4 (52 features, 6 blocks with ESA, 544k params), pixel loss, DIV2K; LR >= 15x15",
    training="pixel",
)
