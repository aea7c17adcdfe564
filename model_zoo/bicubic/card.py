"""Bicubic upsampling (MATLAB-compatible): the no-learning baseline of every SR table."""
from srbench.models.card import ModelCard

CARD = ModelCard(
    name="bicubic",
    build="model_zoo.bicubic.model:BicubicRestorer",
    arch={"scale": 4},
    scale=4,
    scales=(2, 3, 4, 8),
    license="n/a",
    paper="Keys, Cubic convolution interpolation for digital image processing, IEEE TASSP 1981",
    source="srbench (MATLAB imresize rule)",
    description="MATLAB bicubic imresize; any integer scale via --scale",
    training="-",
)
