"""build_xor_net is the lecture's hand-set XOR network."""

import numpy as np

from kdl.models import XOR_INPUTS
from kdl.models import XOR_TARGETS
from kdl.models import build_xor_net
from tests.test_case import TestCase


class BuildXorNetTest(TestCase):
    def test_lecture_weights(self):
        model = build_xor_net()
        w, b = model.get_layer("hidden_0").get_weights()
        self.assertAllEqual(w, [[1, -1], [-1, 1]])
        self.assertAllEqual(b, [-0.5, -0.5])
        w2, b2 = model.get_layer("output").get_weights()
        self.assertAllEqual(w2, [[4], [4]])
        self.assertAllEqual(b2, [-1])

    def test_computes_xor(self):
        logits = np.asarray(build_xor_net()(XOR_INPUTS)).reshape(-1)
        self.assertAllClose(logits, np.array([-1.0, 1.0, 1.0, -1.0]))
        self.assertAllEqual(logits > 0, XOR_TARGETS > 0.5)
