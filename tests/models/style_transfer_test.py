"""Tests for kdl.models.StyleTransfer and its feature extractors."""

import os

import keras
import numpy as np
import tensorflow as tf

from kdl.models import StyleTransfer
from kdl.models import build_random_vgg
from kdl.models import build_style_extractor
from tests.test_case import TestCase

SIZE = 16
DUMMY = np.zeros((1, 1), "float32")


def images():
    content = np.random.RandomState(0).rand(1, SIZE, SIZE, 3)
    stripes = np.zeros((1, SIZE, SIZE, 3))
    stripes[:, ::4] = [1.0, 0.2, 0.0]
    return content.astype("float32"), stripes.astype("float32")


def make(**kwargs):
    extractor, num_style = build_style_extractor("random", seed=1)
    model = StyleTransfer(extractor, num_style, (SIZE, SIZE, 3), **kwargs)
    model.set_images(*images())
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    return model


def fit(model, epochs=1, steps=2):
    return model.fit(
        tf.data.Dataset.from_tensors((DUMMY, DUMMY)).repeat(),
        epochs=epochs,
        steps_per_epoch=steps,
        shuffle=False,
        verbose=0,
    )


class FeatureExtractorTest(TestCase):
    def test_random_vgg_is_fixed_by_the_seed(self):
        x = np.random.RandomState(0).rand(1, 8, 8, 3).astype("float32")
        a, b, c = build_random_vgg(3), build_random_vgg(3), build_random_vgg(4)
        self.assertAllClose(a(x), b(x))
        self.assertFalse(np.allclose(a(x), c(x)))
        self.assertEqual(a.get_layer("block2_conv1").filters, 64)

    def test_extractor_outputs_style_then_content(self):
        extractor, num_style = build_style_extractor("random")
        self.assertEqual(num_style, 3)
        self.assertLen(extractor.outputs, 4)
        self.assertFalse(extractor.trainable)
        shapes = [tuple(o.shape[1:]) for o in extractor(images()[0])]
        self.assertEqual(shapes[0], (SIZE, SIZE, 32))
        self.assertEqual(shapes[-1], (SIZE // 4, SIZE // 4, 128))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "vgg_weights"):
            build_style_extractor("vgg19", vgg_weights="")
        with self.assertRaisesRegex(ValueError, "features"):
            build_style_extractor("resnet")


class StyleTransferTest(TestCase):
    def test_starts_at_the_content_image(self):
        model = make()
        content, _ = images()
        self.assertAllClose(model(DUMMY), content)
        style, content_loss = model.style_content_losses(model(DUMMY))
        self.assertEqual(float(content_loss), 0.0)
        self.assertGreater(float(style), 0.0)
        self.assertLen(model.trainable_weights, 1)

    def test_fit_lowers_the_style_loss(self):
        model = make(content_weight=0.0, tv_weight=0.0)
        before, _ = model.style_content_losses(model(DUMMY))
        history = fit(model, epochs=2, steps=5)
        after, _ = model.style_content_losses(model(DUMMY))
        self.assertLess(float(after), float(before))
        self.assertEqual(
            set(history.history), {"loss", "style_loss", "content_loss"}
        )
        image = np.asarray(model(DUMMY))
        self.assertTrue(0.0 <= image.min() and image.max() <= 1.0)

    def test_numerics_match_numpy(self):
        model = make(style_weight=2.0, content_weight=3.0, tv_weight=0.5)
        rng = np.random.RandomState(1)
        image = rng.rand(1, SIZE, SIZE, 3).astype("float32")
        feats = [
            np.asarray(f, "float64") for f in model.feature_extractor(image)
        ]
        style_feats = [
            np.asarray(f, "float64")
            for f in model.feature_extractor(images()[1])
        ]
        style = 0.0
        for f, s in zip(feats[:3], style_feats[:3]):
            n, m = f.shape[-1], f.shape[1] * f.shape[2]
            g = f.reshape(m, n).T @ f.reshape(m, n)
            a = s.reshape(-1, n).T @ s.reshape(-1, n)
            style += 0.25 / (n**2 * m**2) * np.sum((g - a) ** 2) / 3
        target = np.asarray(model.content_target)
        content = 0.5 * np.sum((feats[-1] - target) ** 2)
        tv = (
            np.abs(np.diff(image, axis=1)).sum()
            + np.abs(np.diff(image, axis=2)).sum()
        )
        got = model.compute_loss(y_pred=image)
        self.assertAllClose(
            got, 2.0 * style + 3.0 * content + 0.5 * tv, rtol=1e-4
        )

    def test_config_and_keras_round_trip(self):
        model = make(style_weight=10.0)
        fit(model)
        config = model.get_config()
        self.assertEqual(config["image_shape"], [SIZE, SIZE, 3])
        self.assertEqual(config["style_weight"], 10.0)
        path = os.path.join(self.get_temp_dir(), "style.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded, StyleTransfer)
        self.assertAllClose(loaded(DUMMY), model(DUMMY))
        self.assertAllClose(
            loaded.style_content_losses(loaded(DUMMY)),
            model.style_content_losses(model(DUMMY)),
        )

    def test_mixed_precision(self):
        keras.config.set_dtype_policy("mixed_bfloat16")
        model = make()
        self.assertEqual(model.image.dtype, "float32")
        fit(model)
        self.assertEqual(model(DUMMY).dtype, "bfloat16")

    def test_errors(self):
        extractor, _ = build_style_extractor("random")
        with self.assertRaisesRegex(ValueError, "num_style_layers"):
            StyleTransfer(extractor, 4, (SIZE, SIZE, 3))
        with self.assertRaisesRegex(ValueError, "image_shape"):
            StyleTransfer(extractor, 3, (SIZE, SIZE))
        with self.assertRaisesRegex(ValueError, "tv_weight"):
            StyleTransfer(extractor, 3, (SIZE, SIZE, 3), tv_weight=-1.0)
        model = StyleTransfer(extractor, 3, (SIZE, SIZE, 3))
        with self.assertRaisesRegex(ValueError, "content"):
            model.set_images(np.zeros((1, 8, 8, 3)), np.zeros((1, 8, 8, 3)))
