"""Generative Latent Optimization (GLO): a generator and one code per image."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kdl import _validation
from kdl.layers.latent_table import LatentTable
from kdl.models import custom_steps
from kdl.models.glo_code_search import search_codes
from kdl.optimizers.row_sparse_adam import RowSparseAdam
from kdl.optimizers.row_sparse_optimizer import RowSparseOptimizer
from kdl.optimizers.row_sparse_optimizer import check_row_update_options


def build_dcgan_generator(latent_dim, image_shape=(28, 28, 1), filters=64):
    """A DCGAN-style generator for small images (sizes divisible by 4).

    `Dense(h/4 * w/4 * 2 filters)` -> BN -> ReLU -> reshape ->
    `Conv2DTranspose(filters, 4, stride 2)` -> BN -> ReLU ->
    `Conv2DTranspose(channels, 4, stride 2, sigmoid)`: images in [0, 1].
    BN momentum 0.9, so the inference statistics that `reconstruct`,
    `sample` and `encode` use follow a short training.
    """
    height, width, channels = image_shape
    if height % 4 or width % 4:
        raise ValueError(
            "image height and width must be divisible by 4. "
            f"Received: image_shape={image_shape}"
        )
    filters = _validation.positive_integer("filters", filters)
    h, w = height // 4, width // 4
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            layers.Dense(h * w * 2 * filters, use_bias=False),
            layers.BatchNormalization(momentum=0.9),
            layers.ReLU(),
            layers.Reshape((h, w, 2 * filters)),
            layers.Conv2DTranspose(
                filters, 4, strides=2, padding="same", use_bias=False
            ),
            layers.BatchNormalization(momentum=0.9),
            layers.ReLU(),
            layers.Conv2DTranspose(
                channels, 4, strides=2, padding="same", activation="sigmoid"
            ),
        ],
        name="dcgan_generator",
    )


def pca_codes(images, latent_dim):
    """PCA projections of flattened `images` on their top `latent_dim` axes.

    The GLO paper's initialisation ("codes initialised by PCA of the data");
    `GLO.set_codes` / `LatentTable.set_codes` project them afterwards.
    Returns a float32 `(len(images), latent_dim)` array.
    """
    x = np.asarray(images, dtype="float64").reshape(len(images), -1)
    if latent_dim > min(x.shape):
        raise ValueError(
            "`latent_dim` must be <= min(num_images, num_pixels) for PCA. "
            f"Received: latent_dim={latent_dim}, images.shape={x.shape}"
        )
    x = x - x.mean(axis=0)
    # Principal axes from the (pixels x pixels) covariance: cheap for
    # 28x28 images however many examples there are.
    cov = x.T @ x / max(len(x) - 1, 1)
    eigvals, eigvecs = np.linalg.eigh(cov)
    axes = eigvecs[:, np.argsort(eigvals)[::-1][:latent_dim]]
    return (x @ axes).astype("float32")


def _check_backend(method, backends):
    """Refuses a backend `method` does not support (NotImplementedError)."""
    backend = keras.backend.backend()
    if backend not in backends:
        raise NotImplementedError(
            f"GLO.{method} supports the backends {list(backends)} only. "
            "Building, decoding, sampling, interpolating and saving work on "
            f"any backend. Received: backend={backend!r}"
        )


def _check_images(y):
    if y is None:
        raise ValueError(
            "GLO trains on (index, image) pairs: fit(indices, images) or "
            "a dataset of (index, image). Received no images (y=None)."
        )


@keras.saving.register_keras_serializable(package="kdl")
class GLO(keras.Model):
    """Generative Latent Optimization: learn a generator and per-image codes.

    `min_theta sum_i min_{z_i} loss(g_theta(z_i), x_i)`: one free code `z_i`
    per training image in a `kdl.layers.LatentTable`, trained jointly with
    the generator `g_theta` by SGD/Adam; no encoder, no discriminator. Codes
    are projected after each update onto the unit ball (or sphere, see
    `LatentTable`); only the rows of the batch are touched, so a step costs
    the same for 1K or 1M training images.

    Training: `model.fit(indices, images)` (x = int example index in
    `[0, num_examples)`, y = image), or a dataset of such pairs, e.g.
    `kdl.datasets.image_dataset(x, with_index=True)`. The custom
    `train_step` takes the gradient of the loss w.r.t. the generator
    weights (applied by `optimizer`) and w.r.t. the batch's codes (applied
    by `code_optimizer`, a `kdl.optimizers.RowSparseAdam`/`RowSparseSGD`,
    to those rows only): separate learning rates.

    On TensorFlow the step takes the table's gradient, a `tf.IndexedSlices`
    of the batch rows, and `code_optimizer.apply`s it (graph mode; XLA is
    refused: the row update's `tf.unique` has a dynamic shape). Under
    `tf.distribute` the row gradients of all replicas are gathered (Keras's
    all-reduce of `IndexedSlices`) and every replica applies the same row
    update to its copy of the mirrored table.

    On JAX (`jit_compile=True`, what the default `"auto"` resolves to) the
    step is Keras's stateless `train_step(state, data)`: it differentiates the
    loss w.r.t. the generator weights and the gathered rows
    `z = LatentTable.lookup(indices)`, never the table (a JAX gradient of
    the table is a dense table-sized array), and
    `code_optimizer.apply_rows` sums the gradients of duplicate indices,
    updates the rows and their slots, projects them and scatters them back.
    Keras jits the step with the state donated, so XLA writes the rows into
    the table's and the slots' buffers in place: a step is O(batch) on JAX
    too (benchmarks/latent_table_scaling.py). With `jit_compile=False` it
    runs op by op and each scatter copies the table (O(rows)).

    Every variable a JAX step reads or writes must be in the state Keras
    passes it (trainable, non-trainable, `model.optimizer.variables`,
    `model.metrics_variables`); the code optimizer's (its slots, step count
    and learning rate) are in none of them, so GLO lists them in its
    `metrics_variables` (a public property override: on JAX `fit`,
    `evaluate`, `train_on_batch` and callbacks' state syncs then carry
    them, on both backends `get_state_tree` / `set_state_tree`;
    `reset_metrics` resets only the metrics). The alternative, a
    `model.optimizer` wrapping both optimizers (as
    `keras.optimizers.LossScaleOptimizer` wraps one), would change what
    `model.optimizer` is and the layout of the saved optimizer state per
    backend; with the property both backends save the same file
    (`optimizer` and `code_optimizer`), so a `.keras` file
    reloads and resumes on either. Not on JAX: the code optimizer's
    gradient clipping, weight decay, EMA, `loss_scale_factor` or gradient
    accumulation (refused by `compile`), and `encode` (TensorFlow only).
    Mixed precision: the table stays float32 and its rows are
    differentiated in float32; under `mixed_float16` the codes' gradients
    are unscaled with the generator optimizer's loss scale of the step
    (read before the generator's update changes it), and one overflow
    decision covers both optimizers: a step with a non-finite gradient
    anywhere (the generator's or the codes', on any replica) changes no
    weight, code, slot or step count and halves the loss scale, as the
    `LossScaleOptimizer` does for its own gradients, on both backends.

    Everything lives in the model: the table is a weight (saved by
    `save()`/`save_weights()`), the code optimizer's moments are saved with
    it, so a resumed run (`BackupAndRestore`) continues with the same codes.

    Args:
        generator: a Keras model mapping `(batch, latent_dim)` codes to
            images (e.g. `build_dcgan_generator(latent_dim)`).
        num_examples: number of training images (table rows).
        latent_dim: code size.
        projection: `"ball"` (default), `"sphere"` or `None`.
        initializer: the table's initializer (default `RandomNormal(1)`,
            then projected). For PCA codes call
            `model.set_codes(pca_codes(images, latent_dim))`.
        **kwargs: `keras.Model` arguments (name, ...).

    Call arguments:
        inputs: int example indices `(batch,)`.
        training: passed to the generator.

    Returns:
        The generated images `g(z_inputs)`.

    Metrics: `loss` (the compiled loss, MSE unless given) and `mse` (mean
    squared reconstruction error).

    Example:

    ```python
    (x, _), _ = kdl.datasets.load_images("fashion_mnist")
    model = kdl.models.GLO(build_dcgan_generator(64), len(x), 64)
    model.set_codes(pca_codes(x / 255.0, 64))
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  code_optimizer=kdl.optimizers.RowSparseAdam(1e-2),
                  loss=kdl.losses.LaplacianPyramidLoss())
    model.fit(kdl.datasets.image_dataset(x, with_index=True), epochs=5)
    samples = model.sample(16)
    ```

    Reference:
        Bojanowski, Joulin, Lopez-Paz, Szlam, "Optimizing the Latent Space of
        Generative Networks", ICML 2018 (arXiv:1707.05776).
    """

    def __init__(
        self,
        generator,
        num_examples,
        latent_dim,
        projection="ball",
        initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(generator, keras.layers.Layer):
            raise ValueError(
                "`generator` must be a Keras model or layer. "
                f"Received: generator={generator!r}"
            )
        self.generator = generator
        self.latent_table = LatentTable(
            num_examples,
            latent_dim,
            projection=projection,
            initializer=initializer,
            name="latent_table",
        )
        self.num_examples = self.latent_table.num_examples
        self.latent_dim = self.latent_table.latent_dim
        self.projection = self.latent_table.projection
        self.code_optimizer = None
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mse_tracker = keras.metrics.Mean(name="mse")
        self.build()

    def build(self, input_shape=None):
        if not self.latent_table.built:
            self.latent_table.build()
        if not self.generator.built:
            self.generator.build((None, self.latent_dim))
        self.built = True

    def call(self, inputs, training=None):
        if "int" not in keras.backend.standardize_dtype(inputs.dtype):
            # Keras's distributed `fit` builds the model once on the
            # replicas' mean of the first batch, a float copy of the
            # indices. Real batches are checked in `_unpack` (LatentTable
            # itself refuses float indices).
            inputs = ops.cast(inputs, "int32")
        return self.generator(self.latent_table(inputs), training=training)

    def compute_output_shape(self, input_shape):
        shape = self.generator.compute_output_shape((None, self.latent_dim))
        return (input_shape[0],) + tuple(shape[1:])

    # ------------------------------------------------------------------
    # Compile / save.
    def compile(
        self,
        optimizer="adam",
        code_optimizer=None,
        loss="mean_squared_error",
        jit_compile="auto",
        **kwargs,
    ):
        """`keras.Model.compile` plus the optimizer of the codes.

        Args:
            optimizer: optimizer of the generator weights.
            code_optimizer: a `kdl.optimizers.RowSparseAdam` or
                `RowSparseSGD` for the table (default
                `RowSparseAdam(0.01)`); a stock Keras optimizer is refused
                because it would rewrite the whole table every step.
            loss: reconstruction loss, e.g. `"mse"` (L2) or
                `kdl.losses.LaplacianPyramidLoss()` (Lap1).
            jit_compile: on TensorFlow False or `"auto"` (the step runs as
                a graph without XLA: the sparse row update uses
                `tf.unique`, whose output shape XLA cannot compile); on JAX
                `"auto"` or True (`jax.jit`, the O(batch) step) or False
                (op by op, each step O(rows)).
            **kwargs: other `compile` arguments except `metrics` (GLO
                reports `loss` and `mse`).
        """
        _check_backend("compile", ("tensorflow", "jax"))
        jax_backend = keras.backend.backend() == "jax"
        if not jax_backend and jit_compile not in (False, "auto"):
            raise ValueError(
                "GLO cannot be XLA-compiled (the sparse row update has "
                f"dynamic shapes). Received: jit_compile={jit_compile!r}"
            )
        if kwargs.get("metrics"):
            raise ValueError(
                "GLO reports `loss` and `mse` itself and takes no `metrics`. "
                f"Received: metrics={kwargs['metrics']!r}"
            )
        kwargs.pop("metrics", None)
        if code_optimizer is None:
            code_optimizer = RowSparseAdam(0.01)
        elif isinstance(code_optimizer, (str, dict)):
            code_optimizer = keras.optimizers.get(code_optimizer)
        if not isinstance(code_optimizer, RowSparseOptimizer):
            raise ValueError(
                "`code_optimizer` must be a kdl.optimizers.RowSparseAdam or "
                "RowSparseSGD (stock Keras optimizers update the whole table "
                f"each step). Received: code_optimizer={code_optimizer!r}"
            )
        if jax_backend:
            check_row_update_options(code_optimizer)
        super().compile(
            optimizer=optimizer,
            loss=loss,
            jit_compile=jit_compile if jax_backend else False,
            **kwargs,
        )
        self.code_optimizer = code_optimizer
        self._build_optimizers()

    def _build_optimizers(self):
        # The generator optimizer must not get slots for the table (that
        # would be 2 table-sized arrays for Adam), so build it here, before
        # Keras builds it on all trainable variables.
        if not self.optimizer.built:
            self.optimizer.build(self.generator.trainable_variables)
        if not self.code_optimizer.built:
            self.code_optimizer.build([self.latent_table.embeddings])

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is not None and self.code_optimizer is not None:
            config["code_optimizer"] = keras.saving.serialize_keras_object(
                self.code_optimizer
            )
        return config

    def compile_from_config(self, config):
        config = dict(keras.saving.deserialize_keras_object(config))
        config.pop("jit_compile", None)
        config.pop("metrics", None)
        self.compile(**config)

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "num_examples": self.num_examples,
            "latent_dim": self.latent_dim,
            "projection": self.projection,
            "initializer": keras.initializers.serialize(
                self.latent_table.initializer
            ),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(
            config["generator"]
        )
        return cls(**config)

    # ------------------------------------------------------------------
    # Training.
    @property
    def metrics(self):
        return [self.loss_tracker, self.mse_tracker]

    @property
    def metrics_variables(self):
        """The metrics' variables and the code optimizer's.

        Keras's JAX trainer passes `metrics_variables` into the stateless
        step and back, so the code optimizer's slots, step count and
        learning rate are state there (see the class docstring); on both
        backends `get_state_tree` / `set_state_tree` carry them with the
        model's other state. `reset_metrics` resets the metrics only.
        """
        variables = super().metrics_variables
        code_optimizer = getattr(self, "code_optimizer", None)
        if code_optimizer is not None:
            variables = variables + list(code_optimizer.variables)
        return variables

    def _track(self, loss, y, y_pred, sample_weight):
        replicas = custom_steps.num_replicas()
        self.loss_tracker.update_state(loss * replicas)
        y_pred = ops.cast(y_pred, "float32")
        y = ops.reshape(ops.cast(y, "float32"), ops.shape(y_pred))
        axes = list(range(1, len(y_pred.shape)))
        mse = ops.mean(ops.square(y_pred - y), axis=axes)
        self.mse_tracker.update_state(mse, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}

    def _unpack(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        _check_images(y)
        dtype = keras.backend.standardize_dtype(x.dtype)
        if "int" not in dtype:
            raise ValueError(
                "GLO trains on integer example indices. "
                f"Received: indices.dtype={dtype}"
            )
        return x, y, sample_weight

    def _targets(self, y):
        """Images `(n, H, W)` get the channel axis of a 4-d generator."""
        if len(y.shape) == 3 and len(self.generator.output_shape) == 4:
            y = ops.expand_dims(y, -1)
        return y

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        # Keras's JAX `fit` first computes the loss symbolically on the raw
        # batch: images `(n, H, W)` need the channel axis there too.
        _check_images(y)
        y = self._targets(y)
        return super().compute_loss(
            x=x,
            y=y,
            y_pred=y_pred,
            sample_weight=sample_weight,
            training=training,
        )

    def train_step(self, *args):
        if keras.backend.backend() == "jax":
            return custom_steps.train_step(self, args, self._jax_fit_batch)
        (data,) = args
        x, y, sample_weight = self._unpack(data)
        y = self._targets(y)
        table = self.latent_table.embeddings
        generator_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight
            )
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, generator_vars + [table])
        # Mixed float16: the generator optimizer (a LossScaleOptimizer)
        # unscales its own gradients; the codes' ones are unscaled here.
        # The scale is the one the loss was scaled with, read before the
        # generator's update, which may change it (it doubles after
        # `dynamic_growth_steps` finite steps, halves on an overflow).
        code_grad = grads[-1]
        overflow = self._overflowed(grads[:-1] + [code_grad.values])
        scale = ops.cast(self.optimizer.scale_loss(1.0), "float32")
        values = ops.cast(code_grad.values, "float32") / scale
        code_grad = tf.IndexedSlices(
            values, code_grad.indices, code_grad.dense_shape
        )

        def step(generator_grads, code_grad):
            self.optimizer.apply(generator_grads, generator_vars)
            self.code_optimizer.apply([code_grad], [table])

        if overflow is None:
            step(grads[:-1], code_grad)
        elif not tf.distribute.has_strategy():
            ops.cond(
                overflow,
                self._back_off_loss_scale,
                lambda: step(grads[:-1], code_grad),
            )
        else:
            # The branch in the cross-replica context, as Keras's
            # LossScaleOptimizer takes its own: `apply` synchronises the
            # replicas, which a branch in a replica context may not.
            def cross_replica(distribution, generator_grads, code_grad):
                skip = distribution.experimental_local_results(overflow)[0]
                ops.cond(
                    skip,
                    self._back_off_loss_scale,
                    lambda: distribution.extended.call_for_each_replica(
                        step, args=(generator_grads, code_grad)
                    ),
                )

            tf.distribute.get_replica_context().merge_call(
                cross_replica, args=(grads[:-1], code_grad)
            )
        return self._track(loss, y, y_pred, sample_weight)

    def _overflowed(self, grads):
        """Whether the step's gradients overflowed (a scalar bool), or
        None when the generator optimizer scales no loss.

        Under `mixed_float16` (a `keras.optimizers.LossScaleOptimizer`) one
        decision for both optimizers, on every gradient of the step (the
        generator's and the codes'; on `tf.distribute`, every replica's):
        a step that overflowed anywhere updates neither the generator nor
        the codes (no weight, code, slot or step count changes) and halves
        the loss scale, as the LossScaleOptimizer does for its own
        gradients. Without this, an overflow in the codes' gradients only
        (or a frozen generator, whose LossScaleOptimizer sees no gradient)
        would keep the scale and skip the codes' steps forever.
        """
        if not isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            return None
        overflow = ops.logical_not(self.optimizer.check_finite(grads))
        if keras.backend.backend() == "tensorflow":
            context = tf.distribute.get_replica_context()
            if context is not None and context.num_replicas_in_sync > 1:
                votes = context.all_reduce("sum", tf.cast(overflow, "float32"))
                overflow = votes > 0.0
        return overflow

    def _back_off_loss_scale(self, values=None):
        """An overflowed step's LossScaleOptimizer update: the scale halves
        and the count of finite steps restarts (what it does itself when
        its own gradients overflow). With `values` (the optimizer's
        variables' values, JAX's stateless step) returns the new values;
        else assigns them."""
        optimizer = self.optimizer
        if values is None:
            optimizer.dynamic_scale.assign(optimizer.dynamic_scale * 0.5)
            optimizer.step_counter.assign(0)
            return None
        new = []
        for variable, value in zip(optimizer.variables, values):
            if variable is optimizer.dynamic_scale:
                value = value * 0.5
            elif variable is optimizer.step_counter:
                value = ops.zeros_like(value)
            new.append(value)
        return new

    def _jax_fit_batch(self, data):
        """The JAX step, stateful in the step's scope (`custom_steps`)."""
        x, y, sample_weight = self._unpack(data)
        y = self._targets(y)
        table = self.latent_table.embeddings
        generator_vars = self.generator.trainable_variables

        def scaled_loss(rows):
            y_pred = self.generator(
                ops.cast(rows, self.compute_dtype), training=True
            )
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight
            )
            return self.optimizer.scale_loss(loss), (loss, y_pred)

        # The gradient of the gathered (float32) rows, not of the table.
        (_, (loss, y_pred)), grads = custom_steps.value_and_grad(
            scaled_loss,
            generator_vars,
            has_aux=True,
            inputs=[self.latent_table.lookup(x)],
        )
        # Unscale the codes' gradients (mixed_float16), as on TensorFlow;
        # the scale is read before the generator's update, which may change
        # it. An overflow anywhere skips both optimizers' steps.
        overflow = self._overflowed(grads)
        scale = ops.cast(self.optimizer.scale_loss(1.0), "float32")
        code_grad = ops.cast(grads[-1], "float32") / scale
        # The generator optimizer (a LossScaleOptimizer under
        # mixed_float16) was built on the generator's weights only: its
        # stateless update, assigned in the step's scope.
        optimizer_vars = self.optimizer.variables
        slots = [v.value for v in optimizer_vars]
        weights = [v.value for v in generator_vars]

        def step():
            return self.optimizer.stateless_apply(slots, grads[:-1], weights)

        if overflow is None:
            new_weights, new_slots = step()
        else:
            new_weights, new_slots = ops.cond(
                overflow,
                lambda: (weights, self._back_off_loss_scale(slots)),
                step,
            )
        for variable, value in zip(generator_vars, new_weights):
            variable.assign(value)
        for variable, value in zip(optimizer_vars, new_slots):
            variable.assign(value)
        # `lookup` checked the indices (one check, one error message).
        self.code_optimizer.apply_rows(
            code_grad, table, x, skip=overflow, check_indices=False
        )
        return self._track(loss, y, y_pred, sample_weight)

    def test_step(self, *args):
        return custom_steps.test_step(self, args, self._evaluate_batch)

    def _evaluate_batch(self, data):
        x, y, sample_weight = self._unpack(data)
        y = self._targets(y)
        y_pred = self(x, training=False)
        loss = self.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight
        )
        return self._track(loss, y, y_pred, sample_weight)

    # ------------------------------------------------------------------
    # Codes, reconstructions, new images, samples.
    @property
    def codes(self):
        """The learned codes, a NumPy `(num_examples, latent_dim)` array."""
        return self.latent_table.codes

    def set_codes(self, codes):
        """Sets all codes (e.g. `pca_codes(images, latent_dim)`), projected."""
        self.latent_table.set_codes(codes)

    def decode(self, codes, batch_size=256):
        """Images `g(codes)` (inference mode), a NumPy array."""
        codes = np.asarray(codes, dtype="float32")
        return self.generator.predict(codes, batch_size=batch_size, verbose=0)

    def reconstruct(self, indices, batch_size=256):
        """Images generated from the learned codes of `indices`."""
        indices = np.asarray(indices)
        self.latent_table(indices)  # eager range check with a clear error
        return self.decode(self.codes[indices], batch_size=batch_size)

    def encode(
        self,
        images,
        steps=200,
        learning_rate=0.05,
        batch_size=256,
        loss=None,
        init="mean",
        seed=0,
    ):
        """Codes for new images: optimise fresh codes, generator fixed.

        Each batch of images gets fresh codes (`init`), then `steps` Adam
        steps on the reconstruction loss with the projection after each
        step; the generator runs in inference mode and is not changed
        (`kdl.models.search_codes` with the table's projection).

        Args:
            images: `(n, H, W[, C])` float images, as the training targets.
            steps: optimisation steps per batch (>= 1).
            learning_rate: Adam learning rate of the codes.
            batch_size: images optimised together.
            loss: loss to minimise (default: the compiled loss, else MSE).
            init: `"mean"`: start every code at the mean learned code plus
                N(0, 0.01^2) noise (the codes' region, whatever the table's
                initialisation was); `"random"`: like the table
                (`RandomNormal(1)`), projected.
            seed: seed of the initial codes.

        Returns:
            A float32 `(n, latent_dim)` array of codes.
        """
        _check_backend("encode", ("tensorflow",))
        steps = _validation.positive_integer("steps", steps)
        init = _validation.one_of("init", init, ("mean", "random"))
        batch_size = _validation.positive_integer("batch_size", batch_size)
        rng = np.random.RandomState(seed)
        start_codes = rng.normal(size=(len(images), self.latent_dim))
        if init == "mean":
            start_codes = self.codes.mean(axis=0) + 0.01 * start_codes
        return search_codes(
            self.generator,
            images,
            start_codes,
            steps=steps,
            learning_rate=learning_rate,
            batch_size=batch_size,
            loss=loss or self.loss or "mse",
            # The table's constraint: the codes are projected after each
            # step (and at the start).
            constraint=self.latent_table.embeddings_constraint,
        )

    def code_distribution(self):
        """Mean and full covariance of the learned codes (float64)."""
        codes = self.codes.astype("float64")
        return codes.mean(axis=0), np.cov(codes, rowvar=False)

    def sample(self, n, seed=None, project=True, batch_size=256):
        """Images from codes drawn from a Gaussian fitted to the codes.

        The Gaussian has the codes' mean and full covariance (the paper's
        sampling). With `project=True` the draws are projected like the
        table (the generator was trained only there).
        """
        n = _validation.positive_integer("n", n)
        mean, cov = self.code_distribution()
        rng = np.random.default_rng(seed)
        codes = rng.multivariate_normal(mean, cov, size=int(n)).astype(
            "float32"
        )
        if project:
            codes = self._project(codes)
        return self.decode(codes, batch_size=batch_size)

    def interpolate(self, i, j, steps=8, project=True):
        """Images along the straight line from code `i` to code `j`.

        Returns `steps` images; the first decodes `z_i`, the last `z_j`.
        With `project=True` the intermediate codes are projected like the
        table.
        """
        steps = _validation.integer("steps", steps, min_value=2)

        self.latent_table(np.asarray([i, j]))  # eager range check
        z_i, z_j = self.codes[i], self.codes[j]
        t = np.linspace(0.0, 1.0, int(steps), dtype="float32")[:, None]
        codes = (1.0 - t) * z_i + t * z_j
        if project:
            codes = self._project(codes)
        return self.decode(codes)

    def _project(self, codes):
        """`codes` under the table's constraint, as a NumPy array."""
        constraint = self.latent_table.embeddings_constraint
        if constraint is not None:
            codes = constraint(codes)
        return ops.convert_to_numpy(codes)
