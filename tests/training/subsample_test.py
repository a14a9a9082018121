"""kdl.training.subsample: a seeded subset of training and test examples."""

import numpy as np
import pytest

from kdl import training


def _data(n_train=10, n_test=6):
    x = np.arange(n_train * 2).reshape(n_train, 2)
    x_test = -np.arange(n_test * 2).reshape(n_test, 2)
    return (x, np.arange(n_train)), (x_test, np.arange(n_test))


def test_keeps_a_seeded_shuffle_and_the_first_test_examples():
    (x, y), (x_test, y_test) = training.subsample(_data(), 4, 3, seed=1)
    order = np.random.RandomState(1).permutation(10)[:4]
    np.testing.assert_array_equal(y, order)
    np.testing.assert_array_equal(x, _data()[0][0][order])
    np.testing.assert_array_equal(y_test, [0, 1, 2])
    assert x_test.shape == (3, 2)
    again = training.subsample(_data(), 4, 3, seed=1)
    np.testing.assert_array_equal(again[0][1], y)
    other = training.subsample(_data(), 4, 3, seed=2)
    assert not np.array_equal(other[0][1], y)


def test_zero_or_none_keeps_all():
    for size in (0, None):
        (x, y), (x_test, _) = training.subsample(_data(), size, size)
        assert sorted(y) == list(range(10)) and len(x_test) == 6


@pytest.mark.parametrize(
    "name, value", [("train_size", -1), ("test_size", 2.5), ("seed", "0")]
)
def test_bad_arguments_name_themselves(name, value):
    with pytest.raises(ValueError, match=f"{name}={value!r}"):
        training.subsample(_data(), **{name: value})
