"""Bernoulli-Bernoulli restricted Boltzmann machine."""

import keras
from keras import ops

from kdl import _validation


@keras.saving.register_keras_serializable(package="kdl")
class RBM(keras.layers.Layer):
    """A restricted Boltzmann machine with binary visible and hidden units.

    Energy `E(v, h) = -v.b - h.c - v W h`, so that

    - `p(h_j = 1 | v) = sigmoid(c_j + (v W)_j)`,
    - `p(v_i = 1 | h) = sigmoid(b_i + (W h)_i)`,
    - free energy `F(v) = -log sum_h exp(-E(v, h))
      = -v.b - sum_j softplus(c_j + (v W)_j)`, `p(v) = exp(-F(v)) / Z`.

    Called on visible vectors the layer returns the hidden probabilities
    `p(h = 1 | v)`: a feature extractor, and the building block of a deep
    belief net (`kdl.models.pretrain_dbn`). Training by contrastive
    divergence (CD-k) is done by `kdl.models.RBMTrainer`, whose
    `train_step` follows the gradient of `contrastive_divergence(v)`:
    `mean F(v_0) - mean F(v_k)` with `v_k` (the end of a k-step Gibbs chain
    started at the data) held constant. Its gradient is exactly the CD-k
    update, `-(<v h>_data - <v h>_k)` for `W` (and likewise for the
    biases), since `dF/dW = -v p(h|v)^T`.

    Visible inputs may be binary or probabilities in [0, 1] (e.g. grey
    levels, as in Hinton & Salakhutdinov 2006). All statistics are
    computed in float32, also under mixed precision.

    Args:
        units: number of hidden units, positive int.
        cd_k: Gibbs steps of contrastive divergence, positive int.
        sample_visible: sample binary visible states in the chain (else the
            reconstruction uses the probabilities `p(v|h)`, the lower
            variance choice of Hinton's "practical guide"). Hidden states
            are always sampled, except in the last step's statistics, which
            use probabilities.
        kernel_initializer: initializer of `W` (default
            `RandomNormal(stddev=0.01)`, as in the practical guide).
        kernel_regularizer: optional regularizer of `W` (weight decay).
        seed: optional int seed of the Gibbs sampling.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: `(batch, num_visible)` visible vectors in [0, 1].

    Returns:
        `p(h = 1 | v)`, `(batch, units)`, in the compute dtype. Training and
        inference are the same (the sampling is in the methods); no masking.

    Example:

    ```python
    rbm = kdl.layers.RBM(500, cd_k=1)
    trainer = kdl.models.RBMTrainer(rbm)
    trainer.compile(keras.optimizers.SGD(0.05, momentum=0.5))
    trainer.fit(x_train.reshape(-1, 784), epochs=10, batch_size=32)
    samples = rbm.sample(16, steps=1000)
    ```

    Reference:
        Hinton, "Training Products of Experts by Minimizing Contrastive
        Divergence", Neural Computation 2002; Hinton, "A Practical Guide to
        Training Restricted Boltzmann Machines", UTML TR 2010-003.
    """

    def __init__(
        self,
        units,
        cd_k=1,
        sample_visible=False,
        kernel_initializer=None,
        kernel_regularizer=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _validation.positive_integer("units", units)
        self.cd_k = _validation.positive_integer("cd_k", cd_k)
        self.sample_visible = _validation.boolean(
            "sample_visible", sample_visible
        )
        if kernel_initializer is None:
            kernel_initializer = keras.initializers.RandomNormal(stddev=0.01)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.seed = _validation.integer("seed", seed, allow_none=True)

        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.input_spec = keras.layers.InputSpec(ndim=2)

    def build(self, input_shape):
        num_visible = input_shape[-1]
        if num_visible is None:
            raise ValueError(
                "The number of visible units (last input axis) must be "
                f"known. Received: input_shape={input_shape}"
            )
        self.num_visible = int(num_visible)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.num_visible, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            dtype="float32",
            autocast=False,
        )
        self.hidden_bias = self.add_weight(
            name="hidden_bias",
            shape=(self.units,),
            initializer="zeros",
            dtype="float32",
            autocast=False,
        )
        self.visible_bias = self.add_weight(
            name="visible_bias",
            shape=(self.num_visible,),
            initializer="zeros",
            dtype="float32",
            autocast=False,
        )
        self.input_spec = keras.layers.InputSpec(
            ndim=2, axes={-1: self.num_visible}
        )
        self.built = True

    # -- conditionals --------------------------------------------------------
    def hidden_probabilities(self, visible):
        """`p(h = 1 | v)` in float32."""
        v = ops.cast(visible, "float32")
        return ops.sigmoid(ops.matmul(v, self.kernel) + self.hidden_bias)

    def visible_probabilities(self, hidden):
        """`p(v = 1 | h)` in float32."""
        h = ops.cast(hidden, "float32")
        return ops.sigmoid(
            ops.matmul(h, ops.transpose(self.kernel)) + self.visible_bias
        )

    def _bernoulli(self, probs):
        u = keras.random.uniform(
            ops.shape(probs), seed=self.seed_generator, dtype="float32"
        )
        return ops.cast(u < probs, "float32")

    def sample_hidden(self, visible):
        """Binary `h ~ p(h | v)`."""
        return self._bernoulli(self.hidden_probabilities(visible))

    def sample_visible_units(self, hidden):
        """Binary `v ~ p(v | h)`."""
        return self._bernoulli(self.visible_probabilities(hidden))

    # -- energies ------------------------------------------------------------
    def free_energy(self, visible):
        """`F(v) = -v.b - sum_j softplus(c_j + (v W)_j)`, shape `(batch,)`."""
        v = ops.cast(visible, "float32")
        pre = ops.matmul(v, self.kernel) + self.hidden_bias
        return -ops.matmul(v, self.visible_bias) - ops.sum(
            ops.softplus(pre), axis=-1
        )

    def energy(self, visible, hidden):
        """`E(v, h) = -v.b - h.c - v W h`, shape `(batch,)`."""
        v = ops.cast(visible, "float32")
        h = ops.cast(hidden, "float32")
        return (
            -ops.matmul(v, self.visible_bias)
            - ops.matmul(h, self.hidden_bias)
            - ops.sum(ops.matmul(v, self.kernel) * h, axis=-1)
        )

    # -- sampling ------------------------------------------------------------
    def gibbs_step(self, visible):
        """One step `v -> h ~ p(h|v) -> v' ~ p(v|h)` (or `p(v|h)`)."""
        h = self.sample_hidden(visible)
        probs = self.visible_probabilities(h)
        return self._bernoulli(probs) if self.sample_visible else probs

    def gibbs_chain(self, visible, steps):
        """`steps` Gibbs steps from `visible`; returns `v_steps`."""
        v = ops.cast(visible, "float32")
        for _ in range(int(steps)):
            v = self.gibbs_step(v)
        return v

    def contrastive_divergence(self, visible, k=None):
        """The CD-k surrogate loss and the chain end.

        Returns `(loss, v_k)` with `loss = mean F(v) - mean F(v_k)` per
        example, `v_k` held constant (`stop_gradient`), so that
        `d loss / d theta` is minus the CD-k estimate of the log-likelihood
        gradient. `k` defaults to `cd_k`.
        """
        v0 = ops.cast(visible, "float32")
        vk = ops.stop_gradient(self.gibbs_chain(v0, k or self.cd_k))
        loss = ops.mean(self.free_energy(v0)) - ops.mean(self.free_energy(vk))
        return loss, vk

    def reconstruct(self, visible):
        """Mean-field reconstruction `p(v | p(h | v))`."""
        return self.visible_probabilities(self.hidden_probabilities(visible))

    def reconstruction_error(self, visible):
        """Mean squared error of `reconstruct`, per example `(batch,)`."""
        v = ops.cast(visible, "float32")
        return ops.mean(ops.square(v - self.reconstruct(v)), axis=-1)

    def sample(self, num_samples, steps=1000, initial=None):
        """Runs a Gibbs chain from `initial` (default: uniform noise).

        Returns the visible probabilities `p(v | h)` after `steps` steps,
        `(num_samples, num_visible)` float32: samples of the model.
        """
        if not self.built:
            raise ValueError("Build the RBM (call it) before sampling.")
        if initial is None:
            initial = keras.random.uniform(
                (int(num_samples), self.num_visible), seed=self.seed_generator
            )
        v = self._bernoulli(ops.cast(initial, "float32"))
        for _ in range(max(int(steps) - 1, 0)):
            v = self._bernoulli(
                self.visible_probabilities(self.sample_hidden(v))
            )
        return self.visible_probabilities(self.sample_hidden(v))

    def call(self, inputs):
        return ops.cast(self.hidden_probabilities(inputs), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "cd_k": self.cd_k,
            "sample_visible": self.sample_visible,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "kernel_regularizer": keras.regularizers.serialize(
                self.kernel_regularizer
            ),
            "seed": self.seed,
        }
