"""Packaging detail pyproject.toml cannot express: ship benchmarks/ as the package srbench.suites."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["srbench", "srbench.*", "model_zoo", "model_zoo.*"]) + ["srbench.suites"],
    package_dir={"srbench.suites": "benchmarks"},
)
