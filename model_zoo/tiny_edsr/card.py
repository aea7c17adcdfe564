"""A tiny EDSR (BasicSR architecture) trained by this project, shipped for the offline quickstart.

Trained with ``python -m model_zoo.tiny_edsr.train`` on bundled scikit-image
pictures that are NOT in the demo set (see train.py for the exact recipe).
"""
from srbench.models.card import ModelCard
from srbench.models.weights import Weights

ARCH = dict(num_in_ch=3, num_out_ch=3, num_feat=32, num_block=4, upscale=4, res_scale=1.0,
            img_range=255.0, rgb_mean=(0.4488, 0.4371, 0.4040))

CARD = ModelCard(
    name="tiny-edsr",
    build="model_zoo.basicsr_sr.build:edsr",
    arch=ARCH,
    scale=4,
    weights=Weights(file="tiny_edsr_x4.pth", bundled_in="model_zoo.tiny_edsr",
                    sha256="b0a5bf5ca9eb172b45deaa2520717060c19d01d4604f68e83f9ee4b22f1fcbf7"),
    license="MIT (trained by srbench)",
    paper="Lim et al., EDSR, CVPRW 2017 (architecture); weights: srbench",
    source="srbench, trained on scikit-image sample photos",
    description="EDSR x4 with 32 features and 4 blocks, L1-trained for the offline quickstart",
    training="pixel",
)
