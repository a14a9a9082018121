"""Packaging for kdl: classic deep-learning ideas as Keras 3 components."""

import pathlib
import re

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"', (HERE / "kdl" / "__init__.py").read_text()
).group(1)

setup(
    name="kdl",
    version=VERSION,
    description=(
        "Keras 3 layers, losses, models, data pipelines and recipes for the "
        "classic ideas of deep learning (SCRN, Bahdanau attention, GLO, NAT, "
        "batch-norm variants, ...)."
    ),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["kdl", "kdl.*"]),
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.12",
        "tensorflow-datasets",
        "keras-tuner>=1.4",
        # KerasTuner imports tensorboard's hparams plugin on TF and does not
        # declare it.
        "tensorboard",
        "absl-py",
        "numpy",
        "scipy",
        "matplotlib",
        "sacrebleu",
        "babel",
        "scikit-learn",
    ],
    extras_require={
        "test": [
            "pytest",
            "pytest-xdist",
            "ruff",
            "hypothesis>=6.100",
            # The README test command runs the component tests on JAX too.
            # jax pulls in jaxlib, its CPU build (jax 0.10 has no "cpu"
            # extra); tested with 0.10.2.
            "jax>=0.10.2,<0.11",
        ]
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: Keras",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
