"""A DCGAN: generator and discriminator trained adversarially, in turns."""

import keras
import numpy as np
from keras import ops

from kdl import _validation
from kdl.constraints.unit_sphere_rows import UnitSphereRows
from kdl.models import custom_steps
from kdl.models.glo_code_search import search_codes

PRIORS = ("normal", "sphere")


def build_dcgan_discriminator(image_shape=(28, 28, 1), filters=64):
    """The DCGAN discriminator for small images (sizes divisible by 4).

    The mirror of `kdl.models.build_dcgan_generator`:
    `Conv2D(filters, 4, stride 2)` -> LeakyReLU(0.2) ->
    `Conv2D(2 filters, 4, stride 2)` -> BN -> LeakyReLU(0.2) -> flatten ->
    `Dense(1)`: one logit per image ("real" > 0). As in Radford et al.
    (2016): strided convolutions instead of pooling, no batch norm on the
    first layer, leaky ReLU, weights initialised from N(0, 0.02^2).
    """
    height, width, _ = tuple(image_shape)
    if height % 4 or width % 4:
        raise ValueError(
            "image height and width must be divisible by 4. "
            f"Received: image_shape={tuple(image_shape)}"
        )
    filters = _validation.positive_integer("filters", filters)
    init = dict(kernel_initializer=keras.initializers.RandomNormal(0, 0.02))
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=tuple(image_shape)),
            layers.Conv2D(filters, 4, strides=2, padding="same", **init),
            layers.LeakyReLU(0.2),
            layers.Conv2D(
                2 * filters,
                4,
                strides=2,
                padding="same",
                use_bias=False,
                **init,
            ),
            layers.BatchNormalization(momentum=0.9),
            layers.LeakyReLU(0.2),
            layers.Flatten(),
            layers.Dense(1, **init),
        ],
        name="dcgan_discriminator",
    )


def _apply(optimizer, grads, variables):
    """`optimizer.apply(grads, variables)` inside a step, any backend.

    On JAX, through `stateless_apply` on the current values (as
    `custom_steps.apply_gradients` does for a model's own optimizer):
    `optimizer` must have been built on exactly `variables`.
    """
    if custom_steps.backend() != "jax":
        optimizer.apply(grads, variables)
        return
    new_values, new_state = optimizer.stateless_apply(
        [v.value for v in optimizer.variables],
        grads,
        [v.value for v in variables],
    )
    for variable, value in zip(variables, new_values):
        variable.assign(value)
    for variable, value in zip(optimizer.variables, new_state):
        variable.assign(value)


@keras.saving.register_keras_serializable(package="kdl")
class DCGAN(keras.Model):
    """A deep convolutional GAN with the non-saturating loss.

    Radford et al.'s DCGAN recipe around any generator and discriminator:
    each training step draws codes `z` from the prior and takes one Adam
    step of the discriminator on `softplus(-D(x)) + softplus(D(G(z)))`
    (cross-entropy, real = 1, fake = 0), then, with fresh codes and the
    updated discriminator, one step of the generator on the
    non-saturating loss `softplus(-D(G(z)))` (Goodfellow et al. 2014).
    Both networks run in training mode in both steps (batch norm uses
    batch statistics). The GLO paper compares GLO with such a GAN built
    on the same generator (`kdl.models.build_dcgan_generator`).

    Training: `model.fit(images)` (or a dataset of images; labels are
    ignored). The step is written once with `kdl.models.custom_steps`, so
    it runs on TensorFlow and on JAX (there, the discriminator
    optimizer's variables are listed in the model's `variables` so that
    `fit` carries them from step to step). Under `tf.distribute` each
    replica's loss is divided by the number of replicas (Keras sums the
    replicas' gradients).

    Generating and inverting: `sample(n)` decodes draws of the prior;
    `encode(images)` finds codes for given images with the generator fixed
    (`kdl.models.search_codes`, TensorFlow only), the GLO paper's way of
    measuring how well a GAN reconstructs held-out images.

    Args:
        generator: a Keras model from `(batch, latent_dim)` codes to
            images.
        discriminator: a Keras model from images to one logit per image
            (e.g. `build_dcgan_discriminator`).
        prior: `"normal"` (z ~ N(0, I), the usual choice) or `"sphere"`
            (z uniform on the unit sphere, where GLO's projected codes
            live; `encode` then searches on the sphere).
        seed: seed of the training codes (None: random).
        **kwargs: `keras.Model` arguments (name, ...).

    Call arguments:
        inputs: codes `(batch, latent_dim)`.
        training: passed to the generator.

    Returns:
        The generated images.

    Metrics: `d_loss` and `g_loss`, the two losses above (a discriminator
    that cannot tell has `d_loss = 2 log 2 = 1.386`).

    Example:

    ```python
    gan = kdl.models.DCGAN(
        kdl.models.build_dcgan_generator(32, filters=32),
        kdl.models.build_dcgan_discriminator(filters=32),
    )
    gan.compile()  # Adam(2e-4, beta_1=0.5) for both networks
    gan.fit(kdl.datasets.image_dataset(x, batch_size=64), epochs=5)
    images = gan.sample(16, seed=0)
    ```

    Reference:
        Radford, Metz, Chintala, "Unsupervised Representation Learning
        with Deep Convolutional Generative Adversarial Networks", ICLR 2016
        (arXiv:1511.06434); Bojanowski, Joulin, Lopez-Paz, Szlam,
        "Optimizing the Latent Space of Generative Networks", ICML 2018.
    """

    def __init__(
        self, generator, discriminator, prior="normal", seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("generator", generator),
            ("discriminator", discriminator),
        ):
            if not isinstance(value, keras.layers.Layer):
                raise ValueError(
                    f"`{name}` must be a Keras model or layer. "
                    f"Received: {name}={value!r}"
                )
        self.generator = generator
        self.discriminator = discriminator
        self.prior = _validation.one_of("prior", prior, PRIORS)
        self.seed = _validation.integer("seed", seed, allow_none=True)
        self.latent_dim = int(generator.input_shape[-1])
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.discriminator_optimizer = None
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.build()

    def build(self, input_shape=None):
        if not self.generator.built:
            self.generator.build((None, self.latent_dim))
        if not self.discriminator.built:
            self.discriminator.build(
                self.generator.compute_output_shape((None, self.latent_dim))
            )
        self.built = True

    def call(self, inputs, training=None):
        return self.generator(inputs, training=training)

    def compute_output_shape(self, input_shape):
        shape = self.generator.compute_output_shape((None, self.latent_dim))
        return (input_shape[0],) + tuple(shape[1:])

    @property
    def variables(self):
        """All the model's state; on JAX with the discriminator optimizer's.

        JAX's `fit` carries only the model's variables and
        `model.optimizer`'s (the generator's) from step to step, so there
        the discriminator optimizer's variables are listed here too (and
        so in `non_trainable_variables`), not in `weights`: saving is the
        same on both backends (the optimizer is saved as an attribute).
        """
        variables = super().variables
        optimizer = getattr(self, "discriminator_optimizer", None)
        if optimizer is not None and custom_steps.backend() == "jax":
            known = {id(v) for v in variables}
            variables += [v for v in optimizer.variables if id(v) not in known]
        return variables

    # ------------------------------------------------------------------
    # Compile / save.
    def compile(
        self,
        optimizer=None,
        discriminator_optimizer=None,
        jit_compile="auto",
        **kwargs,
    ):
        """`keras.Model.compile` with the two optimizers of a GAN.

        Args:
            optimizer: the generator's optimizer (default
                `Adam(2e-4, beta_1=0.5)`, the DCGAN paper's).
            discriminator_optimizer: the discriminator's (same default).
                Under a `mixed_float16` policy it is wrapped in a
                `keras.optimizers.LossScaleOptimizer`, as Keras wraps
                `optimizer`.
            jit_compile: passed to Keras.
            **kwargs: other `compile` arguments except `loss` and
                `metrics` (the GAN has its own).
        """
        for name in ("loss", "metrics"):
            if kwargs.get(name):
                raise ValueError(
                    f"DCGAN has its own losses and metrics; do not pass "
                    f"`{name}`. Received: {name}={kwargs[name]!r}"
                )
            kwargs.pop(name, None)
        if optimizer is None:
            optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
        if discriminator_optimizer is None:
            discriminator_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
        discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)
        if self.dtype_policy.name == "mixed_float16" and not isinstance(
            discriminator_optimizer, keras.optimizers.LossScaleOptimizer
        ):
            discriminator_optimizer = keras.optimizers.LossScaleOptimizer(
                discriminator_optimizer
            )
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)
        self.discriminator_optimizer = discriminator_optimizer
        # Each optimizer on its own network's weights (Keras would build
        # `optimizer` on all trainable variables, the discriminator's too).
        if not self.optimizer.built:
            self.optimizer.build(self.generator.trainable_variables)
        if not discriminator_optimizer.built:
            discriminator_optimizer.build(
                self.discriminator.trainable_variables
            )

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is not None and self.discriminator_optimizer is not None:
            config["discriminator_optimizer"] = (
                keras.saving.serialize_keras_object(
                    self.discriminator_optimizer
                )
            )
        return config

    def compile_from_config(self, config):
        config = dict(keras.saving.deserialize_keras_object(config))
        for name in ("loss", "metrics", "loss_weights", "weighted_metrics"):
            config.pop(name, None)
        self.compile(**config)

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(
                self.discriminator
            ),
            "prior": self.prior,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("generator", "discriminator"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)

    # ------------------------------------------------------------------
    # Training.
    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def _images(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = ops.convert_to_tensor(x)
        if len(x.shape) == len(self.generator.output_shape) - 1:
            x = ops.expand_dims(x, -1)
        return ops.cast(x, self.compute_dtype)

    def training_codes(self, batch):
        """`batch` codes from the prior (inside a step: the seed state).

        Under a `tf.distribute` strategy every replica draws the codes of
        the global batch and keeps its own slice, so that the replicas'
        codes differ and together equal a single-replica draw.
        """
        replicas = custom_steps.num_replicas()
        z = keras.random.normal(
            (batch * replicas, self.latent_dim), seed=self.seed_generator
        )
        if replicas > 1:
            import tensorflow as tf

            context = tf.distribute.get_replica_context()
            start = context.replica_id_in_sync_group * batch
            z = z[start : start + batch]
        if self.prior == "sphere":
            z = UnitSphereRows()(z)
        return z

    def _logits(self, images, training):
        return ops.cast(
            self.discriminator(images, training=training), "float32"
        )

    def discriminator_loss(self, real, z, training=True):
        """`mean softplus(-D(real)) + mean softplus(D(G(z)))` (float32)."""
        fake = self.generator(z, training=training)
        real_logits = self._logits(real, training)
        fake_logits = self._logits(fake, training)
        return ops.mean(ops.softplus(-real_logits)) + ops.mean(
            ops.softplus(fake_logits)
        )

    def generator_loss(self, z, training=True):
        """The non-saturating `mean softplus(-D(G(z)))` (float32)."""
        fake = self.generator(z, training=training)
        return ops.mean(ops.softplus(-self._logits(fake, training)))

    def _step(self, optimizer, loss_fn, weights):
        replicas = custom_steps.num_replicas()

        def scaled():
            loss = loss_fn()
            return optimizer.scale_loss(loss / replicas), loss

        (_, loss), grads = custom_steps.value_and_grad(
            scaled, weights, has_aux=True
        )
        _apply(optimizer, grads, weights)
        return loss

    def train_step(self, *args):
        return custom_steps.train_step(self, args, self.fit_batch)

    def test_step(self, *args):
        return custom_steps.test_step(self, args, self.evaluate_batch)

    def fit_batch(self, data):
        """A discriminator step, then a generator step (either backend)."""
        real = self._images(data)
        batch = ops.shape(real)[0]
        z = self.training_codes(batch)
        d_loss = self._step(
            self.discriminator_optimizer,
            lambda: self.discriminator_loss(real, z),
            self.discriminator.trainable_variables,
        )
        z = self.training_codes(batch)
        g_loss = self._step(
            self.optimizer,
            lambda: self.generator_loss(z),
            self.generator.trainable_variables,
        )
        return self._track(d_loss, g_loss)

    def evaluate_batch(self, data):
        """Both losses on `data`, inference mode, no update."""
        real = self._images(data)
        z = self.training_codes(ops.shape(real)[0])
        return self._track(
            self.discriminator_loss(real, z, training=False),
            self.generator_loss(z, training=False),
        )

    def _track(self, d_loss, g_loss):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}

    # ------------------------------------------------------------------
    # Generating and inverting.
    def prior_codes(self, n, seed=None):
        """`n` draws of the prior, a float32 NumPy `(n, latent_dim)` array."""
        n = _validation.positive_integer("n", n)
        z = np.random.default_rng(seed).normal(size=(n, self.latent_dim))
        if self.prior == "sphere":
            z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        return z.astype("float32")

    def decode(self, codes, batch_size=256):
        """Images `G(codes)` (inference mode), a NumPy array."""
        codes = np.asarray(codes, dtype="float32")
        return self.generator.predict(codes, batch_size=batch_size, verbose=0)

    def sample(self, n, seed=None, batch_size=256):
        """`n` images from codes drawn from the prior."""
        return self.decode(self.prior_codes(n, seed), batch_size=batch_size)

    def encode(
        self,
        images,
        steps=200,
        learning_rate=0.05,
        batch_size=256,
        loss="mse",
        seed=0,
    ):
        """Codes reproducing `images`, generator fixed (TensorFlow only).

        Starts from draws of the prior (`seed`) and takes `steps` Adam
        steps on `loss` per batch (`kdl.models.search_codes`); with the
        `"sphere"` prior every step is projected back onto the sphere.

        Returns:
            A float32 `(n, latent_dim)` array of codes.
        """
        images = np.asarray(images, dtype="float32")
        start = np.zeros((0, self.latent_dim), "float32")
        if len(images):
            start = self.prior_codes(len(images), seed)
        return search_codes(
            self.generator,
            images,
            start,
            steps=steps,
            learning_rate=learning_rate,
            batch_size=batch_size,
            loss=loss,
            constraint=UnitSphereRows() if self.prior == "sphere" else None,
        )
