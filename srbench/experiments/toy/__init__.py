"""Paper 1's toy study (X uniform on the unit disk, Y = X1) and its Appendix C example.

Python API::

    from srbench.experiments.toy import run_toy, full_config, quick_config
    result = run_toy(full_config(seed=0), "results/toy", jobs=4, threads=1)
"""
from srbench.experiments.toy.experiment import LEARNED, ToyConfig, full_config, quick_config, run_toy

__all__ = ["LEARNED", "ToyConfig", "full_config", "quick_config", "run_toy"]
