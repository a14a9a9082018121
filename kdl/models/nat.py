"""Noise As Targets (NAT): unsupervised features by predicting noise."""

import keras
from keras import ops

from kdl import _validation
from kdl._index_checks import checked_row_indices
from kdl.losses.noise_as_targets import NoiseAsTargets
from kdl.losses.noise_as_targets import l2_normalize
from kdl.models import custom_steps
from kdl.ops.assignment import linear_sum_assignment


@keras.saving.register_keras_serializable(package="kdl")
class NAT(keras.Model):
    """Noise As Targets: map every image to its own fixed random target.

    NAT fixes one target `c_j` per training image, drawn uniformly on the
    unit sphere of `R^feature_dim` (a normalised Gaussian), and trains the
    network `f` so that the l2-normalised features regress onto
    an assignment of those targets: `min 1/2 |f(X) - P C|^2`. The assignment
    `P` is a permutation (image `i` has target `P[i]`, no target is shared)
    and is learned too: in each batch (the paper's Algorithm 1) the batch's
    own targets are reassigned among the batch's images by an exact optimal
    assignment maximising `sum_i f_i . c_P(i)`
    (`kdl.ops.linear_sum_assignment`), then one gradient step is taken on
    the squared loss with the new assignment. The authors' code reassigns
    only every few epochs (`-permute 3`): `reassign_every=k` reassigns
    during epochs `0, k, 2k, ...` and keeps `P` fixed in the others;
    `reassign_every=0` never reassigns (plain regression onto fixed random
    targets).

    The targets `C` (`num_examples x feature_dim`, float32) and the
    assignment `P` (`num_examples`, int32) are non-trainable weights, so
    they are saved by `save()`/`save_weights()` and restored by
    `keras.callbacks.BackupAndRestore`; so is `epoch` (int32), the epoch
    counter that `fit` keeps for `reassign_every`.

    Under `tf.distribute` strategies each replica reassigns within its local
    batch (the local batches hold disjoint example indices); the updates of
    all replicas are all-gathered and every replica applies the same update,
    so the mirrored `P` stays identical and remains a permutation.

    Training data are `(index, image)` pairs, e.g.
    `kdl.datasets.image_dataset(x, with_index=True)`: `index` is the int
    example index in `[0, num_examples)`, unique within a batch. Prediction
    (`model(images)`, `predict`) takes images only.

    The assignment runs on the host (scipy). On TensorFlow (a
    `tf.numpy_function`) the step cannot be XLA-compiled, so `compile` uses
    `jit_compile=False` and rejects `jit_compile=True` (the backbone itself
    can still be compiled separately). On JAX (a `jax.pure_callback`) the
    whole step compiles: `jit_compile` defaults to Keras's `"auto"`.

    Args:
        backbone: a Keras model/layer mapping images to `(batch, dim)`
            features.
        num_examples: number of training examples (= number of targets).
        feature_dim: dimension of the targets (paper: 2048).
        reassign_every: int >= 0, reassign during every `k`-th epoch
            (1 = every batch, the paper's Algorithm 1; 3 = the authors'
            code; 0 = never).
        projection: bool, add a linear `Dense(feature_dim)` head on the
            backbone (as the paper's final layer). If False the backbone
            output must already have `feature_dim` units.
        seed: int or None, seed of the random targets.

    Call arguments:
        inputs: images, as the backbone expects.
        training: bool, passed to the backbone.

    Returns:
        l2-normalised features `(batch, feature_dim)` in the compute dtype.

    Metrics: `loss` (the NAT loss) and `reassigned` (the fraction of the
    batch's images whose target changed in the step).

    Example:

    >>> backbone = keras.Sequential([keras.layers.Conv2D(32, 3),
    ...                              keras.layers.GlobalAveragePooling2D()])
    >>> model = kdl.models.NAT(backbone, num_examples=60000, feature_dim=64)
    >>> model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
    >>> ds = kdl.datasets.image_dataset(x, batch_size=256, with_index=True)
    >>> model.fit(ds, epochs=10)
    >>> features = backbone.predict(x)  # then a linear probe

    Reference: Bojanowski & Joulin 2017, "Unsupervised Learning by Predicting
    Noise" (ICML), Algorithm 1.
    """

    def __init__(
        self,
        backbone,
        num_examples,
        feature_dim=128,
        reassign_every=1,
        projection=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        num_examples = _validation.positive_integer(
            "num_examples", num_examples
        )
        feature_dim = _validation.positive_integer("feature_dim", feature_dim)
        # 0 = never reassign.
        reassign_every = _validation.non_negative_integer(
            "reassign_every", reassign_every
        )
        if not callable(backbone):
            raise ValueError(
                "`backbone` must be a Keras layer or model. "
                f"Received: backbone={backbone!r}"
            )
        self.backbone = backbone
        self.num_examples = num_examples
        self.feature_dim = feature_dim
        self.reassign_every = reassign_every
        self.projection = _validation.boolean("projection", projection)
        self.seed = _validation.integer("seed", seed, allow_none=True)

        self.head = (
            keras.layers.Dense(
                feature_dim, dtype=self.dtype_policy, name="projection"
            )
            if self.projection
            else None
        )
        self.loss_fn = NoiseAsTargets(normalize=False)
        input_shape = _known_input_shape(backbone)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reassigned_tracker = keras.metrics.Mean(name="reassigned")

        def sphere(shape, dtype=None):
            gauss = keras.random.normal(shape, dtype="float32", seed=self.seed)
            return l2_normalize(gauss)

        def identity(shape, dtype=None):
            return ops.arange(shape[0], dtype="int32")

        self.targets = self.add_weight(
            name="targets",
            shape=(num_examples, feature_dim),
            initializer=sphere,
            dtype="float32",
            trainable=False,
            autocast=False,
        )
        self.assignment = self.add_weight(
            name="assignment",
            shape=(num_examples,),
            initializer=identity,
            dtype="int32",
            trainable=False,
            aggregation="only_first_replica",
        )
        self.epoch = self.add_weight(
            name="epoch",
            shape=(),
            initializer="zeros",
            dtype="int32",
            trainable=False,
            aggregation="only_first_replica",
        )
        if input_shape is not None:
            # Built now, so that `fit` never tries to build NAT from the
            # (index, image) batches.
            self.build(input_shape)

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                "NAT could not infer the image shape. Build it first with "
                "`model.build((None, *image_shape))`, or give a backbone "
                "with a known input shape (e.g. starting with keras.Input). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        if not self.backbone.built:
            self.backbone.build(input_shape)
        out_shape = self.backbone.compute_output_shape(input_shape)
        if len(out_shape) != 2:
            raise ValueError(
                "NAT expects the backbone to return (batch, dim) features. "
                f"Received: backbone output shape {tuple(out_shape)}"
            )
        if self.head is not None:
            if not self.head.built:
                self.head.build(out_shape)
        elif out_shape[-1] != self.feature_dim:
            raise ValueError(
                "With projection=False the backbone must return feature_dim "
                f"units. Received: backbone output dim {out_shape[-1]}, "
                f"feature_dim={self.feature_dim}"
            )
        self.built = True

    def call(self, inputs, training=None):
        features = self.backbone(inputs, training=training)
        if self.head is not None:
            features = self.head(features)
        features = l2_normalize(ops.cast(features, "float32"))
        return ops.cast(features, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.feature_dim)

    # ------------------------------------------------------------------
    def compile(self, optimizer="sgd", jit_compile="auto", **kwargs):
        """Like `keras.Model.compile`; NAT has its own loss.

        `loss` must not be given. On TensorFlow `jit_compile` must be False
        or `"auto"` (the assignment runs on the host through
        `tf.numpy_function`, which XLA cannot compile) and the step runs
        without XLA; on JAX it is passed to Keras (the host call is a
        `jax.pure_callback`, which compiles).
        """
        if kwargs.get("loss") is not None:
            raise ValueError(
                "NAT has its own loss (kdl.losses.NoiseAsTargets); do not "
                f"pass one. Received: loss={kwargs['loss']!r}"
            )
        if custom_steps.backend() == "tensorflow":
            if jit_compile not in (False, "auto"):
                raise ValueError(
                    "NAT cannot be XLA-compiled on TensorFlow: the "
                    "assignment runs on the host (scipy, through "
                    "tf.numpy_function). Received: "
                    f"jit_compile={jit_compile!r}"
                )
            jit_compile = False
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config):
        config = dict(keras.saving.deserialize_keras_object(config))
        config.pop("loss", None)
        config.pop("jit_compile", None)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`, plus the epoch counter for `reassign_every`."""
        callbacks = list(callbacks or [])
        if not any(isinstance(c, _NATEpochCounter) for c in callbacks):
            callbacks.insert(0, _NATEpochCounter())
        return super().fit(*args, callbacks=callbacks, **kwargs)

    @property
    def metrics(self):
        return [self.loss_tracker, self.reassigned_tracker]

    def _unpack(self, data):
        if isinstance(data, dict):
            index, images = data["index"], data["image"]
        elif isinstance(data, (list, tuple)) and len(data) in (2, 3):
            # (index, image) or Keras's (x, y, sample_weight) of
            # `train_on_batch` / `test_on_batch`.
            index, images = data[:2]
            if len(data) == 3 and data[2] is not None:
                raise ValueError(
                    "NAT takes no sample weights (every example has its own "
                    "target). Received: sample_weight="
                    f"{data[2]!r}"
                )
        else:
            raise ValueError(
                "NAT trains on (index, image) pairs, e.g. "
                "kdl.datasets.image_dataset(x, with_index=True). "
                f"Received: data={data!r}"
            )
        index = ops.convert_to_tensor(index)
        if "int" not in str(index.dtype):
            raise ValueError(
                "NAT expects integer example indices first, (index, image). "
                f"Received: index dtype {index.dtype}"
            )
        return ops.reshape(ops.cast(index, "int32"), (-1,)), images

    def _should_reassign(self):
        return ops.equal(ops.mod(self.epoch.value, self.reassign_every), 0)

    def reassign(self, index, features):
        """Algorithm 1's assignment step for one (local) batch.

        Returns the new targets of the examples `index`, `(batch,)` int32:
        their current targets permuted among them so that
        `sum_i features_i . c_P(i)` is maximal. Does not write `assignment`
        (`train_step` does, consistently across replicas).
        """
        current = ops.take(self.assignment.value, index)
        targets = ops.take(self.targets.value, current, axis=0)
        scores = ops.matmul(
            ops.stop_gradient(ops.cast(features, "float32")),
            ops.transpose(targets),
        )
        _, cols = linear_sum_assignment(scores, maximize=True)
        return ops.take(current, cols)

    def _write_assignment(self, index, new):
        if custom_steps.backend() == "tensorflow":
            import tensorflow as tf

            ctx = tf.distribute.get_replica_context()
            if ctx is not None and ctx.num_replicas_in_sync > 1:
                # Local batches hold disjoint indices: gather every
                # replica's update so that all replicas write the same
                # full update.
                index = ctx.all_gather(index, axis=0)
                new = ctx.all_gather(new, axis=0)
        updated = ops.scatter_update(
            self.assignment.value, ops.expand_dims(index, -1), new
        )
        self.assignment.assign(updated)

    def train_step(self, *args):
        return custom_steps.train_step(self, args, self.fit_batch)

    def test_step(self, *args):
        return custom_steps.test_step(self, args, self.evaluate_batch)

    def nat_loss(self, index, images):
        """Algorithm 1 on one batch, up to the gradient.

        Returns `(scaled, (loss, current, assigned))`: the loss-scaled
        NAT loss to differentiate, the loss, and the batch's targets
        before and after the reassignment (which this does not write).
        """
        features = self(images, training=True)
        features32 = ops.cast(features, "float32")
        current = ops.take(self.assignment.value, index)
        if self.reassign_every == 1:
            assigned = self.reassign(index, features32)
        elif self.reassign_every:
            assigned = ops.cond(
                self._should_reassign(),
                lambda: self.reassign(index, features32),
                lambda: current,
            )
        else:
            assigned = current
        targets = ops.take(self.targets.value, assigned, axis=0)
        loss = self.loss_fn(targets, features32)
        return self.optimizer.scale_loss(loss), (loss, current, assigned)

    def fit_batch(self, data):
        """One step of Algorithm 1 (stateful, either backend)."""
        index, images = self._unpack(data)
        # Reassignment permutes the batch's targets: a repeated index
        # would use one target twice and lose another for good.
        index = checked_row_indices(
            index,
            self.num_examples,
            "NAT indices must be in [0, num_examples) with "
            f"num_examples={self.num_examples}",
            unique_message="NAT indices must be unique within a batch",
        )
        weights = self.trainable_weights
        (_, (loss, current, assigned)), gradients = custom_steps.value_and_grad(
            lambda: self.nat_loss(index, images), weights, has_aux=True
        )
        if self.reassign_every:
            # The write (a cross-replica sync point) stays outside the
            # cond: MirroredStrategy forbids syncs in control flow.
            self._write_assignment(index, assigned)
        custom_steps.apply_gradients(self, gradients, weights)
        self._track(loss, current, assigned)
        return {m.name: m.result() for m in self.metrics}

    def evaluate_batch(self, data):
        """The NAT loss of one batch (stateful, either backend)."""
        index, images = self._unpack(data)
        index = checked_row_indices(
            index,
            self.num_examples,
            "NAT indices must be in [0, num_examples) with "
            f"num_examples={self.num_examples}",
        )
        features = ops.cast(self(images, training=False), "float32")
        assigned = ops.take(self.assignment.value, index)
        targets = ops.take(self.targets.value, assigned, axis=0)
        loss = self.loss_fn(targets, features)
        self._track(loss, assigned, assigned)
        return {m.name: m.result() for m in self.metrics}

    def _track(self, loss, before, after):
        batch = ops.cast(ops.shape(before)[0], "float32")
        self.loss_tracker.update_state(
            loss * custom_steps.num_replicas(), sample_weight=batch
        )
        changed = ops.cast(ops.not_equal(before, after), "float32")
        self.reassigned_tracker.update_state(changed)

    def get_config(self):
        return {
            **super().get_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_examples": self.num_examples,
            "feature_dim": self.feature_dim,
            "reassign_every": self.reassign_every,
            "projection": self.projection,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(
            config["backbone"]
        )
        return cls(**config)


def _known_input_shape(backbone):
    """The backbone's input shape if it is built with one, else None."""
    if not getattr(backbone, "built", False):
        return None
    try:
        shape = backbone.input_shape
    except (AttributeError, ValueError):
        return None
    if isinstance(shape, list) or shape is None:
        return None
    return tuple(shape)


class _NATEpochCounter(keras.callbacks.Callback):
    """Keeps `NAT.epoch` equal to the epoch `fit` is running."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.epoch.assign(int(epoch))
