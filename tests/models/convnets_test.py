"""kdl.models.convnets: small_convnet, conv autoencoder, softmax classifier."""

import keras
import numpy as np

import kdl
from tests.test_case import TestCase


class SmallConvnetTest(TestCase):
    def test_features_and_layers(self):
        net = kdl.models.small_convnet((28, 28, 1), width=4)
        self.assertEqual(net.output_shape, (None, 16))
        convs = [
            layer
            for layer in net.layers
            if isinstance(layer, keras.layers.Conv2D)
        ]
        self.assertEqual([c.filters for c in convs], [4, 8, 16])
        for layer in net.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                self.assertAllClose(layer.momentum, 0.9)
        x = np.random.RandomState(0).rand(3, 28, 28, 1).astype("float32")
        self.assertEqual(net.predict(x, verbose=0).shape, (3, 16))

    def test_other_input_shape(self):
        net = kdl.models.small_convnet((32, 32, 3), width=2, name="b")
        self.assertEqual(net.name, "b")
        self.assertEqual(net.output_shape, (None, 8))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "width"):
            kdl.models.small_convnet(width=0)


class ConvAutoencoderTest(TestCase):
    def test_reconstructs_input_shape_and_shares_the_backbone(self):
        backbone = kdl.models.small_convnet((28, 28, 1), width=4)
        model = kdl.models.build_conv_autoencoder(backbone, 4)
        self.assertEqual(model.output_shape, (None, 28, 28, 1))
        self.assertIn(backbone, model.layers)
        model.compile(optimizer="adam", loss="mse")
        x = np.random.RandomState(0).rand(8, 28, 28, 1).astype("float32")
        before = [w.copy() for w in backbone.get_weights()]
        model.fit(x, x, epochs=1, batch_size=4, verbose=0)
        after = backbone.get_weights()
        self.assertTrue(any(np.any(a != b) for a, b in zip(after, before)))
        out = model.predict(x, verbose=0)
        self.assertTrue(np.all((out >= 0) & (out <= 1)))

    def test_rgb_input(self):
        backbone = kdl.models.small_convnet((16, 16, 3), width=2)
        model = kdl.models.build_conv_autoencoder(
            backbone, 2, input_shape=(16, 16, 3)
        )
        self.assertEqual(model.output_shape, (None, 16, 16, 3))

    def test_errors(self):
        backbone = kdl.models.small_convnet((30, 30, 1), width=2)
        with self.assertRaisesRegex(ValueError, "input_shape"):
            kdl.models.build_conv_autoencoder(
                backbone, 2, input_shape=(30, 30, 1)
            )
        with self.assertRaisesRegex(ValueError, "width"):
            kdl.models.build_conv_autoencoder(backbone, 0)


class SoftmaxClassifierTest(TestCase):
    def test_probabilities(self):
        backbone = kdl.models.small_convnet((28, 28, 1), width=2)
        model = kdl.models.build_softmax_classifier(backbone, num_classes=5)
        x = np.random.RandomState(0).rand(4, 28, 28, 1).astype("float32")
        probs = model.predict(x, verbose=0)
        self.assertEqual(probs.shape, (4, 5))
        self.assertAllClose(probs.sum(-1), np.ones(4), atol=1e-5)

    def test_errors(self):
        backbone = kdl.models.small_convnet((28, 28, 1), width=2)
        with self.assertRaisesRegex(ValueError, "num_classes"):
            kdl.models.build_softmax_classifier(backbone, num_classes=1)
