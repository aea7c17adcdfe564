"""Model cards for the official BasicSR EDSR and ESRGAN checkpoints."""
from srbench.models.card import ModelCard
from srbench.models.weights import Weights

_EDSR_ARCH = dict(num_in_ch=3, num_out_ch=3, upscale=4, img_range=255.0, rgb_mean=(0.4488, 0.4371, 0.4040))
_BASICSR_DRIVE = ("BasicSR publishes this file only on Google Drive (folder linked from "
                  "BasicSR's docs/ModelZoo.md, 'EDSR'); download it there.")

_EDSR_PAPER = "Lim et al., Enhanced Deep Residual Networks for Single Image Super-Resolution, CVPRW 2017"


def _edsr(name: str, file: str, description: str, **size) -> ModelCard:
    return ModelCard(
        name=name,
        build="model_zoo.basicsr_sr.build:edsr",
        arch=dict(_EDSR_ARCH, **size),
        scale=4,
        weights=Weights(file=file, how_to_get=_BASICSR_DRIVE),
        license="Apache-2.0 (BasicSR)",
        paper=_EDSR_PAPER,
        source="BasicSR official, DIV2K",
        description=description,
        training="pixel",
    )


EDSR_M = _edsr("edsr", "EDSR_Mx4_f64b16_DIV2K_official-0c287733.pth",
               "EDSR-M x4 (64 features, 16 blocks), L1-trained", num_feat=64, num_block=16, res_scale=1.0)
EDSR_L = _edsr("edsr-l", "EDSR_Lx4_f256b32_DIV2K_official-76ee1c8f.pth",
               "EDSR-L x4 (256 features, 32 blocks, residual scale 0.1)", num_feat=256, num_block=32, res_scale=0.1)

ESRGAN = ModelCard(
    name="esrgan",
    build="model_zoo.basicsr_sr.build:rrdbnet",
    arch=dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32),
    scale=4,
    weights=Weights(
        file="ESRGAN_SRx4_DF2KOST_official-ff704c30.pth",
        sha256="ff704c30ff560305e48ed1f4db895e525ab6bc81a46fafe80c0094a271c806d9",
        sources=(  # the official release asset, then mirrors of the same bytes
            "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.1/"
            "ESRGAN_SRx4_DF2KOST_official-ff704c30.pth",
            "hf://licyk/sd-upscaler-models/invokeai/ESRGAN_SRx4_DF2KOST_official-ff704c30.pth",
        ),
        how_to_get="It is an asset of the Real-ESRGAN GitHub release v0.1.1.",
    ),
    license="Apache-2.0 (BasicSR / Real-ESRGAN)",
    paper="Wang et al., ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks, ECCVW 2018",
    source="BasicSR official (converted from the ESRGAN release), DF2K+OST",
    description="RRDBNet x4, 23 RRDB blocks, GAN-trained",
    training="GAN",
)
