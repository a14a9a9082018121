"""Noise As Targets (NAT): unsupervised features by predicting noise."""

import keras
import tensorflow as tf
from keras import ops

from kdl import _validation
from kdl.losses.noise_as_targets import NoiseAsTargets
from kdl.losses.noise_as_targets import l2_normalize
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

    The assignment runs on the host (scipy), so `compile` uses
    `jit_compile=False` and rejects `jit_compile=True`; the backbone itself
    can still be compiled separately.

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
        self.projection = bool(projection)
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
    def compile(self, optimizer="sgd", jit_compile=False, **kwargs):
        """Like `keras.Model.compile`; NAT has its own loss.

        `loss` must not be given; `jit_compile` must stay False (the
        assignment runs on the host).
        """
        if kwargs.get("loss") is not None:
            raise ValueError(
                "NAT has its own loss (kdl.losses.NoiseAsTargets); do not "
                f"pass one. Received: loss={kwargs['loss']!r}"
            )
        if jit_compile not in (False, "auto"):
            raise ValueError(
                "NAT cannot be XLA-compiled: the assignment runs on the host "
                f"(scipy). Received: jit_compile={jit_compile!r}"
            )
        super().compile(optimizer=optimizer, jit_compile=False, **kwargs)

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
        elif isinstance(data, (list, tuple)) and len(data) == 2:
            index, images = data
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
        return tf.equal(
            tf.math.floormod(
                tf.convert_to_tensor(self.epoch), self.reassign_every
            ),
            0,
        )

    def reassign(self, index, features):
        """Algorithm 1's assignment step for one (local) batch.

        Returns the new targets of the examples `index`, `(batch,)` int32:
        their current targets permuted among them so that
        `sum_i features_i . c_P(i)` is maximal. Does not write `assignment`
        (`train_step` does, consistently across replicas).
        """
        current = tf.gather(self.assignment, index)
        targets = tf.gather(self.targets, current)
        scores = tf.matmul(
            tf.stop_gradient(tf.cast(features, tf.float32)),
            targets,
            transpose_b=True,
        )
        _, cols = linear_sum_assignment(scores, maximize=True)
        return tf.gather(current, cols)

    def _write_assignment(self, index, new):
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            # Local batches hold disjoint indices: gather every replica's
            # update so that all replicas write the same full update.
            index = ctx.all_gather(index, axis=0)
            new = ctx.all_gather(new, axis=0)
        updated = tf.tensor_scatter_nd_update(
            tf.convert_to_tensor(self.assignment), index[:, None], new
        )
        self.assignment.assign(updated)

    def train_step(self, data):
        index, images = self._unpack(data)
        with tf.GradientTape() as tape:
            features = self(images, training=True)
            features32 = tf.cast(features, tf.float32)
            current = tf.gather(self.assignment, index)
            if self.reassign_every:
                # The write (a cross-replica sync point) stays outside the
                # tf.cond: MirroredStrategy forbids syncs in control flow.
                if self.reassign_every == 1:
                    assigned = self.reassign(index, features32)
                else:
                    assigned = tf.cond(
                        self._should_reassign(),
                        lambda: self.reassign(index, features32),
                        lambda: current,
                    )
                self._write_assignment(index, assigned)
            else:
                assigned = current
            targets = tf.gather(self.targets, assigned)
            loss = self.loss_fn(targets, features32)
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        self._track(loss, current, assigned)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        index, images = self._unpack(data)
        features = tf.cast(self(images, training=False), tf.float32)
        assigned = tf.gather(self.assignment, index)
        loss = self.loss_fn(tf.gather(self.targets, assigned), features)
        self._track(loss, assigned, assigned)
        return {m.name: m.result() for m in self.metrics}

    def _track(self, loss, before, after):
        num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
        batch = tf.shape(before)[0]
        self.loss_tracker.update_state(
            loss * num_replicas, sample_weight=tf.cast(batch, tf.float32)
        )
        changed = tf.cast(tf.not_equal(before, after), tf.float32)
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
