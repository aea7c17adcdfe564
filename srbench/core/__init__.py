"""The core every other part of srbench builds on, importing nothing else of srbench.

The restorer interface and seed helpers, the Registry type, the one-line user error, and
pure tensor math: PSNR/SSIM and the other metrics, the metric table, degradations with exact
consistency and NIQE. No result files, no datasets, no model zoo.
"""
