"""GLO's table of per-example latent codes."""

import keras
import numpy as np
from keras import ops

from kdl import _validation
from kdl._index_checks import checked_row_indices
from kdl.constraints.unit_ball_rows import UnitBallRows
from kdl.constraints.unit_sphere_rows import UnitSphereRows

# The `projection` argument's values and the constraint each one puts on the
# table.
PROJECTIONS = {"ball": UnitBallRows, "sphere": UnitSphereRows, None: None}


def _check_dtype(indices):
    """Integer dtypes only: a float index (1.5 -> row 1) is never truncated."""
    dtype = keras.backend.standardize_dtype(indices.dtype)
    if "int" not in dtype:
        raise ValueError(
            "LatentTable `indices` (its inputs) must have an integer dtype. "
            f"Received: indices.dtype={dtype}"
        )


@keras.saving.register_keras_serializable(package="kdl")
class LatentTable(keras.layers.Layer):
    """One learnable code per training example, looked up by example index.

    The codes of Generative Latent Optimization (GLO): a `(num_examples,
    latent_dim)` float32 table, row `i` being the code `z_i` of training
    example `i`, kept on the unit l2 ball (or sphere). The lookup is a gather
    of the requested rows (under TensorFlow `tf.gather` on the resource
    variable: `keras.ops.take` would first read the whole table, an O(rows)
    tensor), so the gradient of the table is a `tf.IndexedSlices` holding
    the batch rows only. On JAX the lookup is `keras.ops.take` and the
    gradient of the table is dense (a `(num_examples, latent_dim)` array,
    zero outside the batch rows; JAX has no sparse gradients): correct,
    but a step of a Keras optimizer on it costs O(rows). For O(batch)
    steps on JAX, differentiate the gathered rows (`lookup(indices)`)
    instead of the table and update them with
    `kdl.optimizers.RowSparseAdam.apply_rows` (or `RowSparseSGD`'s) in a
    jitted step: what `kdl.models.GLO` does on JAX.

    The projection is the table's Keras weight constraint
    (`embeddings_constraint`, on `embeddings.constraint`), so every Keras
    optimizer keeps the codes projected: after each step it applies the
    constraint to the whole table. Sparse training: compile with
    `kdl.optimizers.RowSparseAdam` or `kdl.optimizers.RowSparseSGD` (or give
    one to `kdl.models.GLO` as its `code_optimizer`). They update, and
    project, only the rows of the batch: a step costs the same for 1K and 1M
    rows, rows not in the batch and their optimizer moments stay bitwise
    unchanged (lazy Adam); on TensorFlow with any Keras model and `fit`, on
    JAX through `GLO` (or a step of your own calling `apply_rows`), as
    `apply` needs TensorFlow's sparse gradients. The stock Keras optimizers
    rewrite the whole
    table each step (the constraint, and with momentum or Adam the update
    itself, keras-team/keras#19992): correct, but O(rows).

    Projections: the GLO paper says the codes live on "the unit l2 sphere"
    while its reimplementations (e.g. tneumann/minimal_glo) apply
    `z / max(|z|, 1)`, the unit ball. kdl offers both: `"ball"` (default,
    `kdl.constraints.UnitBallRows`, `z / max(|z|, 1)`), `"sphere"`
    (`kdl.constraints.UnitSphereRows`, `z / |z|`), or `None`. The initial
    codes are projected once at build.

    Args:
        num_examples: number of rows (training examples), >= 1.
        latent_dim: code size, >= 1.
        projection: `"ball"`, `"sphere"` or `None` (case-insensitive
            `"none"` too): the table's constraint, `UnitBallRows`,
            `UnitSphereRows` or none.
        initializer: Keras initializer of the codes before projection
            (default `RandomNormal(stddev=1)`, which the ball projection puts
            on the sphere for `latent_dim` >~ 4). To start from given codes
            (e.g. PCA of the data) call `set_codes(codes)` after building.
        **kwargs: base `Layer` arguments (name, dtype, trainable, ...).

    Call arguments:
        inputs: integer example indices of any shape (an integer dtype: a
            float or string dtype is a `ValueError`, never truncated, so
            `keras.Input` needs `dtype="int32"`); every index must be in
            `[0, num_examples)`, else an error is raised (eagerly a
            `ValueError`; in a TensorFlow graph an `InvalidArgumentError`
            from a `tf.debugging` assertion, there being no `keras.ops`
            assertion; under `jax.jit` a `JaxRuntimeError` from a
            `jax.debug.callback` that checks the indices on the host).
            Negative indices are errors too, never wrapped or clamped.

    Returns:
        The codes, shape `inputs.shape + (latent_dim,)`, in the compute dtype
        (the table itself stays float32 under mixed precision). Training and
        inference behave the same; no masking.

    Example:

    ```python
    table = kdl.layers.LatentTable(60000, 64)
    generator = keras.Sequential([keras.layers.Dense(784, "sigmoid")])
    model = keras.Sequential([table, generator])
    model.compile(optimizer=kdl.optimizers.RowSparseAdam(1e-2), loss="mse")
    model.fit(np.arange(60000), images.reshape(60000, 784), batch_size=128)
    ```

    Reference:
        Bojanowski, Joulin, Lopez-Paz, Szlam, "Optimizing the Latent Space of
        Generative Networks", ICML 2018 (arXiv:1707.05776).
    """

    def __init__(
        self,
        num_examples,
        latent_dim,
        projection="ball",
        initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_examples = _validation.positive_integer(
            "num_examples", num_examples
        )
        self.latent_dim = _validation.positive_integer("latent_dim", latent_dim)
        projection = _validation.one_of(
            "projection",
            projection,
            ("ball", "sphere", "none", None),
            lower=True,
        )
        if projection == "none":
            projection = None
        self.projection = projection
        constraint = PROJECTIONS[projection]
        self.embeddings_constraint = constraint() if constraint else None
        if initializer is None:
            initializer = keras.initializers.RandomNormal(stddev=1.0)
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = False

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            name="codes",
            shape=(self.num_examples, self.latent_dim),
            initializer=self.initializer,
            dtype="float32",
            autocast=False,
            trainable=True,
            constraint=self.embeddings_constraint,
        )
        if self.embeddings_constraint is not None:
            self.embeddings.assign(self.embeddings_constraint(self.embeddings))
        self.built = True

    def set_codes(self, codes):
        """Assigns all codes (e.g. PCA projections), projected; O(rows)."""
        if not self.built:
            self.build()
        codes = np.asarray(codes, dtype="float32")
        if codes.shape != (self.num_examples, self.latent_dim):
            raise ValueError(
                "`codes` must have shape (num_examples, latent_dim) = "
                f"{(self.num_examples, self.latent_dim)}. "
                f"Received: codes.shape={codes.shape}"
            )
        if self.embeddings_constraint is not None:
            codes = self.embeddings_constraint(codes)
        self.embeddings.assign(codes)

    @property
    def codes(self):
        """The current code table as a NumPy array."""
        return ops.convert_to_numpy(self.embeddings)

    def _check_indices(self, indices):
        return checked_row_indices(
            indices,
            self.num_examples,
            "LatentTable indices must be in [0, num_examples) with "
            f"num_examples={self.num_examples}",
        )

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, np.ndarray) and inputs.dtype.kind in "USO":
            # Strings: JAX has no string arrays, so Keras would fail to
            # convert them before `call` could name the dtype.
            raise ValueError(
                "LatentTable `indices` (its inputs) must have an integer "
                f"dtype. Received: indices.dtype={inputs.dtype}"
            )
        return super().__call__(inputs, *args, **kwargs)

    def lookup(self, indices):
        """The float32 rows `indices` of the table, checked as in `call`.

        What `call` returns before its cast to the compute dtype: a custom
        step that differentiates the gathered rows rather than the table
        (`kdl.models.GLO` on JAX, with `RowSparseOptimizer.apply_rows`)
        takes them from here, so the gradient is float32 even under mixed
        precision.
        """
        if not self.built:
            self.build()
        _check_dtype(indices)
        if keras.backend.standardize_dtype(indices.dtype) not in (
            "int32",
            "int64",
        ):  # int8/16, uint*: exact in int64, which every gather takes
            indices = ops.cast(indices, "int64")
        indices = self._check_indices(indices)
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            # `ops.take` reads the whole table first (an O(rows) tensor that
            # can force a copy on the next in-place row update); TF's
            # resource gather reads only the requested rows.
            return tf.gather(self.embeddings.value, indices)
        # JAX: a dense gradient of the table (see the class docstring).
        return ops.take(self.embeddings, indices, axis=0)

    def call(self, inputs):
        return ops.cast(self.lookup(inputs), self.compute_dtype)

    def compute_output_spec(self, inputs):
        _check_dtype(inputs)  # a float `keras.Input` fails when it is wired
        return keras.KerasTensor(
            self.compute_output_shape(inputs.shape), self.compute_dtype
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.latent_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "num_examples": self.num_examples,
            "latent_dim": self.latent_dim,
            "projection": self.projection,
            "initializer": keras.initializers.serialize(self.initializer),
        }
