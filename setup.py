"""Packaging glue that pyproject.toml cannot express: ship the top-level resources/ and icons/ folders inside
the wheel as kfexplorer.resources and kfexplorer.icons (loaded with importlib.resources)."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["kfexplorer", "kfexplorer.*"]) + ["kfexplorer.resources", "kfexplorer.icons"],
    package_dir={"kfexplorer.resources": "resources", "kfexplorer.icons": "icons"},
)
