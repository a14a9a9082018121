"""A recipe's training and test examples: a fixed, seeded subset."""

import numpy as np

from kdl import _validation


def subsample(data, train_size=None, test_size=None, seed=0):
    """A seeded shuffle's first `train_size` training examples, and the
    first `test_size` test examples.

    The same `seed` always keeps the same training examples, so every arm
    of a recipe (and every rerun) sees one training set; the test set keeps
    its order.

    Args:
        data: `((x, y), (x_test, y_test))` arrays (e.g. `load_images`).
        train_size, test_size: how many to keep; 0 or None keeps all.
        seed: the seed of the training shuffle.

    Returns:
        `((x, y), (x_test, y_test))` of the kept examples (the training
        examples in their shuffled order).

    Example:
        >>> (x, y), test = subsample(kdl.datasets.load_images("digits"), 500)
        >>> len(x)
        500
    """
    train_size = _validation.non_negative_integer(
        "train_size", train_size, allow_none=True
    )
    test_size = _validation.non_negative_integer(
        "test_size", test_size, allow_none=True
    )
    seed = _validation.non_negative_integer("seed", seed)
    (x, y), (x_test, y_test) = data
    keep = np.random.RandomState(seed).permutation(len(x))[: train_size or None]
    n_test = test_size or None
    return (x[keep], y[keep]), (x_test[:n_test], y_test[:n_test])
