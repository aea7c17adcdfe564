"""The papers' experiments, built on the benchmark but not part of it: the toy study (toy), the image
GANs and their Table 1 (gan), the GAN trainer they share (training), the perception-robustness
tradeoff (tradeoff, joint), posterior exploration (explore) and sample-based distances (distribution)."""
