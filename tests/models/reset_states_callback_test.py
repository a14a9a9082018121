"""ResetStatesCallback zeroes the states of a stateful RNN model."""

import numpy as np

from kdl.models import ResetStatesCallback
from kdl.models import RNNLanguageModel
from tests.test_case import TestCase


class ResetStatesCallbackTest(TestCase):
    def test_resets_at_epoch_and_test_begin(self):
        model = RNNLanguageModel(10, "scrn", 4, 2, stateful=True, batch_size=2)
        x = np.ones((2, 3), "int32")
        first = np.asarray(model(x))
        second = np.asarray(model(x))
        self.assertFalse(np.allclose(first, second))
        callback = ResetStatesCallback()
        callback.set_model(model)
        callback.on_epoch_begin(0)
        self.assertAllClose(model(x), first)
        callback.on_test_begin()
        self.assertAllClose(model(x), first)
