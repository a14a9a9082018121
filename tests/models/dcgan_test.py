"""kdl.models.DCGAN: the alternating step, saving, sampling, encoding."""

import os

import keras
import numpy as np
from keras import ops

from kdl.models.dcgan import DCGAN
from kdl.models.dcgan import build_dcgan_discriminator
from tests.test_case import TestCase
from tests.test_case import gradients
from tests.test_case import skip_unless_tensorflow
from tests.test_case import two_replica_strategy

D, B = 3, 8  # code size, batch


def generator():
    """A small generator without batch norm (8x8 images in [0, 1])."""
    return keras.Sequential(
        [
            keras.Input(shape=(D,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(64, activation="sigmoid"),
            keras.layers.Reshape((8, 8, 1)),
        ]
    )


def discriminator():
    return keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )


def real_images(n=B, seed=0):
    """Bright left halves on a dark right: unlike the generator's output."""
    rng = np.random.RandomState(seed)
    x = np.zeros((n, 8, 8), "float32")
    x[:, :, :4] = rng.uniform(0.8, 1.0, size=(n, 8, 4))
    return x  # no channel axis: the model adds it


def make(prior="normal", seed=1):
    model = DCGAN(generator(), discriminator(), prior=prior, seed=seed)
    model.compile(
        optimizer=keras.optimizers.SGD(0.05),
        discriminator_optimizer=keras.optimizers.SGD(0.05),
    )
    return model


class DCGANTest(TestCase):
    def test_one_step_is_a_discriminator_then_a_generator_step(self):
        """One fit step == a hand-written alternating SGD step on the
        cross-entropy losses, with the step's codes drawn from the same
        seed (discriminator first; the generator's gradient through the
        updated discriminator)."""
        model, x = make(prior="sphere"), real_images()
        g, d = generator(), discriminator()
        g.set_weights(model.generator.get_weights())
        d.set_weights(model.discriminator.get_weights())
        seeds = keras.random.SeedGenerator(1)
        z1, z2 = (keras.random.normal((B, D), seed=seeds) for _ in range(2))
        z1, z2 = (z / ops.norm(z, axis=1, keepdims=True) for z in (z1, z2))

        def d_loss(x, z):
            real, fake = d(ops.expand_dims(x, -1)), d(g(z))
            return ops.mean(ops.log1p(ops.exp(-real))) + ops.mean(
                ops.log1p(ops.exp(fake))
            )

        def g_loss(z):
            return ops.mean(ops.log1p(ops.exp(-d(g(z)))))

        want = {}
        value, grads = gradients(
            lambda: d_loss(x, z1), (), d.trainable_variables
        )
        want["d_loss"] = value
        for v, grad in zip(d.trainable_variables, grads):
            v.assign(v - 0.05 * grad)
        value, grads = gradients(lambda: g_loss(z2), (), g.trainable_variables)
        want["g_loss"] = value
        for v, grad in zip(g.trainable_variables, grads):
            v.assign(v - 0.05 * grad)

        logs = model.fit(x, batch_size=B, epochs=1, shuffle=False, verbose=0)
        for name in ("d_loss", "g_loss"):
            self.assertAllClose(logs.history[name][0], want[name], atol=1e-5)
        for got, ref in (
            (model.discriminator, d),
            (model.generator, g),
        ):
            for a, b in zip(got.get_weights(), ref.get_weights()):
                self.assertAllClose(a, b, atol=1e-5)

    def test_each_network_lowers_its_own_loss(self):
        """With the generator frozen (rate 0) the discriminator learns to
        tell the toy images from the fakes (its loss halves at least);
        with the discriminator frozen the generator fools it more (its loss
        halves); the frozen network does not move."""
        x = real_images(32)
        z = keras.random.normal((32, D), seed=5)
        for trained in ("discriminator", "generator"):
            model = DCGAN(generator(), discriminator(), seed=2)
            rate = {trained: 0.05}
            model.compile(
                optimizer=keras.optimizers.Adam(rate.get("generator", 0.0)),
                discriminator_optimizer=keras.optimizers.Adam(
                    rate.get("discriminator", 0.0)
                ),
            )
            other = "generator" if trained[0] == "d" else "discriminator"
            frozen = getattr(model, other).get_weights()
            measure = getattr(model, f"{trained}_loss")
            args = (ops.expand_dims(x, -1), z) if trained[0] == "d" else (z,)
            before = float(measure(*args, training=False))
            model.fit(x, batch_size=B, epochs=5, verbose=0)
            after = float(measure(*args, training=False))
            self.assertLess(after, 0.5 * before, trained)
            for a, b in zip(getattr(model, other).get_weights(), frozen):
                self.assertAllClose(a, b, msg=f"{other} moved")

    @skip_unless_tensorflow("tf.distribute")
    def test_two_replicas_step_like_one(self):
        """Each replica draws its slice of the global batch's codes and its
        loss is divided by the replica count: without batch norm, a step
        on 2 replicas equals one on the whole batch."""
        x = real_images()
        one = make(prior="sphere")
        with two_replica_strategy().scope():
            two = make(prior="sphere")
        two.set_weights(one.get_weights())
        logs = [
            m.fit(x, batch_size=B, shuffle=False, verbose=0).history
            for m in (one, two)
        ]
        self.assertAllClose(logs[0], logs[1], atol=1e-6)
        self.assertAllClose(one.get_weights(), two.get_weights(), atol=1e-6)

    def test_save_load_round_trip(self):
        model = make(prior="sphere")
        model.fit(real_images(), batch_size=4, epochs=1, verbose=0)
        path = os.path.join(self.get_temp_dir(), "gan.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded, DCGAN)
        self.assertEqual(loaded.prior, "sphere")
        self.assertEqual(loaded.seed, 1)
        self.assertAllClose(loaded.sample(4, seed=3), model.sample(4, seed=3))
        for a, b in zip(loaded.get_weights(), model.get_weights()):
            self.assertAllClose(a, b)
        for name in ("optimizer", "discriminator_optimizer"):
            want = getattr(model, name).variables
            got = getattr(loaded, name).variables
            self.assertEqual(len(got), len(want), name)
            for a, b in zip(got, want):
                self.assertAllClose(a, b, msg=f"{name} {b.path}")
        self.assertEqual(int(loaded.discriminator_optimizer.iterations), 2)
        loaded.fit(real_images(), batch_size=4, epochs=1, verbose=0)
        self.assertEqual(int(loaded.discriminator_optimizer.iterations), 4)
        clone = DCGAN.from_config(model.get_config())
        self.assertEqual(clone.latent_dim, D)

    def test_dcgan_discriminator(self):
        disc = build_dcgan_discriminator((8, 8, 1), filters=4)
        self.assertEqual(disc.output_shape, (None, 1))
        kernel = disc.layers[0].kernel
        self.assertLess(float(ops.std(kernel)), 0.04)  # N(0, 0.02^2) init
        with self.assertRaisesRegex(ValueError, "image_shape"):
            build_dcgan_discriminator((10, 10, 1))
        with self.assertRaisesRegex(ValueError, "filters"):
            build_dcgan_discriminator(filters=0)

    def test_samples_and_errors(self):
        model = make(prior="sphere")
        codes = model.prior_codes(5, seed=0)
        self.assertAllClose(np.linalg.norm(codes, axis=1), np.ones(5))
        self.assertAllClose(model.sample(3, seed=4), model.sample(3, seed=4))
        self.assertEqual(model.sample(3).shape, (3, 8, 8, 1))
        with self.assertRaisesRegex(ValueError, "generator"):
            DCGAN("no", discriminator())
        with self.assertRaisesRegex(ValueError, "discriminator"):
            DCGAN(generator(), None)
        with self.assertRaisesRegex(ValueError, "prior"):
            DCGAN(generator(), discriminator(), prior="uniform")
        with self.assertRaisesRegex(ValueError, "loss"):
            model.compile(loss="mse")
        with self.assertRaisesRegex(ValueError, "metrics"):
            model.compile(metrics=["mae"])
        with self.assertRaisesRegex(ValueError, "`n`"):
            model.sample(0)

    @skip_unless_tensorflow("the code search is a tf.function loop")
    def test_encode_finds_codes_of_generated_images(self):
        model = make(prior="sphere")
        targets = model.decode(model.prior_codes(6, seed=9))
        start = model.decode(model.prior_codes(6, seed=0))
        codes = model.encode(targets, steps=80, learning_rate=0.1, seed=0)
        self.assertAllClose(np.linalg.norm(codes, axis=1), np.ones(6))
        err = np.mean((model.decode(codes) - targets) ** 2)
        self.assertLess(err, 0.2 * np.mean((start - targets) ** 2))
