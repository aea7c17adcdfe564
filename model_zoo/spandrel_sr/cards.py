"""Cards for small public x4 checkpoints committed in their authors' GitHub repositories.

spandrel builds the network from each file (``srbench.models.external.detected``);
the card pins the file (raw GitHub URL at a fixed commit, full sha256) and
says which architecture it must hold. Two files are saved under other names
in some copies (e.g. ``../shared/weights``): the URLs use the upstream paths.
"""
from srbench.models.card import ModelCard
from srbench.models.weights import Weights, raw_github


_DITN_REPO, _DITN_COMMIT = "yongliuy/DITN", "98352a85ab2ac19e97c86c87a2a907021c814a5d"
_DITN_PAPER = ("Liu, Jia, Zhang, et al.: Unfolding Once is Enough: A Deployment-Friendly Transformer Unit "
               "for Super-Resolution, ACM MM 2023")


def _ditn(name: str, file: str, sha256: str, training: str, description: str) -> ModelCard:
    return ModelCard(
        name=name,
        build="srbench.models.external:detected",
        arch={"architecture": "DITN", "scale": 4},
        scale=4,
        weights=Weights(file=file, sha256=sha256,
                        sources=(raw_github(_DITN_REPO, _DITN_COMMIT, f"checkpoints/{file}"),)),
        license="Apache-2.0 (DITN repository)",
        paper=_DITN_PAPER,
        source=f"github.com/{_DITN_REPO} @ {_DITN_COMMIT[:7]}",
        description=description,
        training=training,
    )


DITN = _ditn("ditn", "DITN_Real_x4.pth", "989dc21e2379c6924a6bd32696df0f1fa8cfd43dd557e1ae4126b97708695b5a",
             "pixel", "DITN x4, deployment-friendly variant (60 channels, 444k params), bicubic SR, pixel loss")
DITN_GAN = _ditn("ditn-gan", "DITN_Real_GAN_x4.pth",
                 "a103f07b5c605c2e23c23bfe44a880e10e7c019388a516f657fb13b0e7df1097", "GAN",
                 "DITN x4 (same network as ditn), GAN-trained for real-world degradations")

# First source: the abbreviated commit (7 hex digits) recorded where the file was copied from (its
# full hash could not be looked up offline). Second: a full commit at which a public code index holds
# the same path (Swift-SRGAN: the file still at the repository's root there); whether its bytes are
# the same could not be checked offline, and the sha256 pins the bytes either way (a mismatch is
# rejected and the next source tried).
_SWIFT_REPO, _SWIFT_COMMIT = "Dynamic-Zoom/Dynamic-Zoom", "ad27b28"
_SWIFT_FULL_COMMIT = "9651a313131d3f63cc98efa1db1cf350dad43945"
SWIFTSRGAN = ModelCard(
    name="swiftsrgan",
    build="srbench.models.external:detected",
    arch={"architecture": "SwiftSRGAN", "scale": 4},
    scale=4,
    weights=Weights(file="swift_srgan_4x.pth.tar",
                    sha256="f741441dccb163c394afe095f76a5ca4a85732e699032732dc29320a900a609e",
                    sources=(raw_github(_SWIFT_REPO, _SWIFT_COMMIT, "weights/swift_srgan_4x.pth.tar"),
                             raw_github(_SWIFT_REPO, _SWIFT_FULL_COMMIT, "swift_srgan_4x.pth.tar"))),
    license="CC0-1.0 (upstream Swift-SRGAN)",
    paper=("Krishnan, Krishnan: SwiftSRGAN - Rethinking Super-Resolution for Efficient and Real-time "
           "Inference, ICAIDS 2021"),
    source=f"github.com/{_SWIFT_REPO} @ {_SWIFT_COMMIT} (copy of github.com/Koushik0901/Swift-SRGAN)",
    description="Swift-SRGAN x4 (depthwise-separable SRResNet-style generator, 64 features, 16 blocks), GAN",
    training="GAN",
)

_CRAFT_REPO, _CRAFT_COMMIT = "Amazingren/NTIRE2024_ESR", "6404fa4"  # abbreviated, as for Swift-SRGAN
_CRAFT_FULL_COMMIT = "4dcc6540246d258f994099b28f7905ea14dc3a44"  # second source, as for Swift-SRGAN
CRAFT = ModelCard(
    name="craft",
    build="srbench.models.external:detected",
    arch={"architecture": "CRAFT", "scale": 4},
    scale=4,
    weights=Weights(file="team34_craft.pth",
                    sha256="a3d57001df7e856be6b4e3553d77be3b038609f34db5d41b43c3e6c67756a381",
                    sources=(raw_github(_CRAFT_REPO, _CRAFT_COMMIT, "model_zoo/team34_craft.pth"),
                             raw_github(_CRAFT_REPO, _CRAFT_FULL_COMMIT, "model_zoo/team34_craft.pth"))),
    license="MIT (NTIRE 2024 ESR repository)",
    paper=("Li, Zhang, Liu, Zhu: Feature Modulation Transformer: Cross-Refinement and Lightweight "
           "Super-Resolution, ICCV 2023 (CRAFT); weights: NTIRE 2024 efficient SR challenge, team 34"),
    source=f"github.com/{_CRAFT_REPO} @ {_CRAFT_COMMIT}",
    description="CRAFT x4 (embed 48, 4 groups of 2 blocks, window 16), pixel loss, an NTIRE 2024 ESR entry",
    training="pixel",
)
