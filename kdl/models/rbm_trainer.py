"""A `keras.Model` that trains an RBM by contrastive divergence (CD-k).

The train step runs on the TensorFlow and JAX backends
(`kdl.models.custom_steps`).
"""

import keras
from keras import ops

from kdl.layers.rbm import RBM
from kdl.models import custom_steps


@keras.saving.register_keras_serializable(package="kdl")
class RBMTrainer(keras.Model):
    """Trains an `RBM` by contrastive divergence in a custom `train_step`.

    Each step runs a k-step Gibbs chain from the batch (`rbm.cd_k`) and
    applies the gradient of `mean F(v_0) - mean F(v_k)` (the CD-k update,
    see `kdl.layers.RBM`) with the compiled optimizer. Reported metrics:
    `free_energy_gap` (that surrogate; it goes to ~0 as the chain's
    samples become as likely as the data) and `reconstruction_error` (mean
    squared error of the mean-field reconstruction, the usual monitor).
    Under `tf.distribute` each replica's gradient is divided by the number
    of replicas, so the summed update is the global-batch mean. Labels in
    the data are ignored. Compile with an optimizer only (no loss). Trains
    on TensorFlow and on JAX (also with `jit_compile=True`).

    Args:
        rbm: a `kdl.layers.RBM`.
        **kwargs: `keras.Model` arguments.

    Call arguments:
        inputs: `(batch, num_visible)` visible vectors.

    Returns:
        `p(h = 1 | v)` from the RBM.

    Example:

    ```python
    trainer = kdl.models.RBMTrainer(kdl.layers.RBM(256))
    trainer.compile(keras.optimizers.SGD(0.05, momentum=0.5))
    trainer.fit(x.reshape(-1, 784), epochs=5, batch_size=32)
    ```

    Reference:
        Hinton, "Training Products of Experts by Minimizing Contrastive
        Divergence", Neural Computation 14(8), 2002.
    """

    def __init__(self, rbm, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rbm, dict):
            rbm = keras.saving.deserialize_keras_object(rbm)
        if not isinstance(rbm, RBM):
            raise ValueError(
                f"`rbm` must be a kdl.layers.RBM. Received: rbm={rbm!r}"
            )
        self.rbm = rbm
        self.gap_tracker = keras.metrics.Mean(name="free_energy_gap")
        self.recon_tracker = keras.metrics.Mean(name="reconstruction_error")

    def build(self, input_shape):
        if not self.rbm.built:
            self.rbm.build(input_shape)

    def call(self, inputs):
        return self.rbm(inputs)

    @property
    def metrics(self):
        return [self.gap_tracker, self.recon_tracker]

    @staticmethod
    def _visible(data):
        if isinstance(data, (tuple, list)):
            data = data[0]
        return ops.cast(data, "float32")

    def _update(self, gap, v):
        self.gap_tracker.update_state(gap)
        self.recon_tracker.update_state(self.rbm.reconstruction_error(v))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, *args):
        return custom_steps.train_step(self, args, self.fit_batch)

    def test_step(self, *args):
        return custom_steps.test_step(self, args, self.evaluate_batch)

    def cd_loss(self, v):
        """`(loss, gap)`: the CD-k surrogate plus the RBM's own losses.

        The loss is divided by the number of `tf.distribute` replicas (the
        replicas' gradients are summed).
        """
        gap, _ = self.rbm.contrastive_divergence(v)
        loss = gap
        if self.rbm.losses:
            loss = loss + ops.sum(ops.stack(self.rbm.losses))
        return loss / custom_steps.num_replicas(), gap

    def fit_batch(self, data):
        """One CD-k update on `data` (the stateful step, either backend)."""
        v = self._visible(data)
        if not self.built:
            # Built through `build` (not only the RBM), so that `.keras`
            # records the build config and, on loading, creates the
            # optimizer variables its saved state fills.
            self.build(tuple(v.shape))
        weights = self.rbm.trainable_weights
        (_, gap), grads = custom_steps.value_and_grad(
            lambda: self.cd_loss(v), weights, has_aux=True
        )
        custom_steps.apply_gradients(self, grads, weights)
        return self._update(gap, v)

    def evaluate_batch(self, data):
        """The metrics of `data` (the stateful step, either backend)."""
        v = self._visible(data)
        gap, _ = self.rbm.contrastive_divergence(v)
        return self._update(gap, v)

    def get_config(self):
        return {
            **super().get_config(),
            "rbm": keras.saving.serialize_keras_object(self.rbm),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["rbm"] = keras.saving.deserialize_keras_object(config["rbm"])
        return cls(**config)
