"""kdl: the classic ideas of deep learning as Keras 3 components.

Subpackages:
  kdl.layers       Keras layers (SCRN, Bahdanau attention, latent tables, ...)
  kdl.losses       Keras losses (Laplacian pyramid, noise as targets, style)
  kdl.constraints  row-wise weight constraints (unit ball / sphere rows)
  kdl.ops          graph-compatible ops Keras lacks (linear assignment)
  kdl.optimizers   row-sparse ("lazy") optimizers for per-example tables
  kdl.models       composite models with custom train steps
  kdl.initializers initializers Keras lacks
  kdl.attacks      DeepFool, activation maximisation, deep dream
  kdl.datasets     named real datasets with offline sources + tf.data pipelines
  kdl.tuning       KerasTuner HyperModels, one per recipe family
  kdl.training     the recipe harness (flags, strategy, precision, callbacks)
"""

__version__ = "0.1.0"

from kdl import attacks
from kdl import constraints
from kdl import datasets
from kdl import initializers
from kdl import layers
from kdl import losses
from kdl import models
from kdl import ops
from kdl import optimizers
from kdl import training
from kdl import tuning

__all__ = [
    "__version__",
    "attacks",
    "constraints",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "models",
    "ops",
    "optimizers",
    "training",
    "tuning",
]
