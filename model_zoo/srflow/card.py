"""Model cards for the official SRFlow checkpoints (Lugmayr et al., ECCV 2020).

The weights cannot be downloaded automatically: the official archive
``pretrained_models.zip`` (linked from the SRFlow GitHub README / project page,
http://data.vision.ee.ethz.ch/alugmayr/SRFlow/pretrained_models.zip) has
answered 404 since 2024, and no other official host is known. So the cards
list no source and tell the user which file to put where; the zoo adds the
``--weights``, environment-variable and cache options to that message.
"""
from srbench.models.card import ModelCard
from srbench.models.weights import Weights

_PAPER = ("Lugmayr, Danelljan, Van Gool, Timofte: SRFlow: Learning the Super-Resolution Space "
          "with Normalizing Flow, ECCV 2020")
_LICENSE = "CC BY-NC-SA 4.0 (official SRFlow code and weights; non-commercial use only)"
_SOURCE = "official SRFlow release (github.com/andreas128/SRFlow), pretrained_models.zip"


def _how_to_get(file: str) -> str:
    return (f"SRFlow's weights are only published inside the official archive pretrained_models.zip "
            f"(SRFlow GitHub README, 'pretrained models'; the original host "
            f"http://data.vision.ee.ethz.ch/alugmayr/SRFlow/pretrained_models.zip returns 404 since 2024). "
            f"Obtain that archive (e.g. from a mirror or a colleague) and extract the file {file} from it.")


def _card(name: str, file: str, scale: int, description: str) -> ModelCard:
    return ModelCard(
        name=name,
        build="model_zoo.srflow.model:srflow",
        arch={"scale": scale},
        scale=scale,
        stochastic=True,
        weights=Weights(file=file, sources=(), how_to_get=_how_to_get(file)),
        license=_LICENSE,
        paper=_PAPER,
        source=_SOURCE,
        description=description,
        training="flow",
    )


SRFLOW_4X = _card("srflow", "SRFlow_DF2K_4X.pth", 4,
                  "SRFlow x4 (RRDB conditioning + 3-level Glow flow, K=16), DF2K; samples at temperature 0.9")
SRFLOW_8X = _card("srflow-8x", "SRFlow_DF2K_8X.pth", 8,
                  "SRFlow x8 (RRDB conditioning + 4-level Glow flow, K=16), DF2K; samples at temperature 0.9")
# Same network layout as the DF2K 8X model (assumed from the official configs: the
# conditioning taps and flow sizes are those of SRFlow_DF2K_8X); trained on 20x20 faces.
SRFLOW_CELEBA_8X = _card("srflow-celeba-8x", "SRFlow_CelebA_8X.pth", 8,
                         "SRFlow x8 trained on CelebA faces (aligned 20x20 -> 160x160); temperature 0.9")
