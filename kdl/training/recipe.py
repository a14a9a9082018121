"""The common start of every recipe's `run()`."""

import dataclasses
import os

import keras
import tensorflow as tf

from kdl.training.distribute import get_strategy
from kdl.training.precision import set_precision


@dataclasses.dataclass
class RecipeSetup:
    """What `setup` made: the strategy and the output folder."""

    strategy: tf.distribute.Strategy
    output_dir: str
    smoke: bool
    seed: int

    def path(self, *parts):
        """A path below the output folder."""
        return os.path.join(self.output_dir, *parts)


def setup(flags_obj, strategy_override=None):
    """Applies the common flags: seed, precision, strategy, output folder.

    Args:
        flags_obj: the parsed absl flags (or any object with the attributes
            of `define_common_flags`). Never mutated.
        strategy_override: a `tf.distribute.Strategy` to use instead of the
            `--strategy` flag (tests use this).
    """
    if not flags_obj.output_dir:
        raise ValueError(
            "--output_dir must be a non-empty path. "
            f"Received: output_dir={flags_obj.output_dir!r}"
        )
    keras.utils.set_random_seed(flags_obj.seed)
    set_precision(flags_obj.precision)
    strategy = strategy_override or get_strategy(
        flags_obj.strategy, getattr(flags_obj, "tpu", "")
    )
    os.makedirs(flags_obj.output_dir, exist_ok=True)
    return RecipeSetup(
        strategy=strategy,
        output_dir=flags_obj.output_dir,
        smoke=bool(flags_obj.smoke),
        seed=int(flags_obj.seed),
    )
