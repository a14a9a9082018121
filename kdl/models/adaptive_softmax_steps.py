"""Training and evaluation steps for models ending in an adaptive softmax."""

import keras
from keras import ops

from kdl.models import custom_steps


class AdaptiveSoftmaxSteps:
    """Mixin: `fit` on the adaptive loss, `evaluate` on exact log-probs.

    For a `keras.Model` whose output layer may be a
    `kdl.layers.AdaptiveSoftmax` (Grave et al. 2017). The model defines:

    - `adaptive` (bool): whether the output layer is adaptive; when false,
      Keras's own `train_step` / `test_step` / `metrics` are used;
    - `output_head()`: the `AdaptiveSoftmax` layer;
    - `features(x, training)`: the inputs of that layer;
    - `loss_tracker`: a `keras.metrics.Mean(name="loss")`.

    Training computes `-log p(target)` on the head and the rows of each tail
    cluster only (`AdaptiveSoftmax(features, targets)`), on TensorFlow or
    JAX (`kdl.models.custom_steps`); the compiled loss and metrics are not
    used. Evaluation scores the exact normalised log-probabilities, the
    model's output. Both report the mean token cross-entropy as `loss`, as
    the full softmax with `SparseCategoricalCrossentropy` does.
    """

    @property
    def metrics(self):
        if not self.adaptive:
            return super().metrics
        return [self.loss_tracker]

    @staticmethod
    def weighted_mean(token_loss, sample_weight):
        """As Keras's "sum_over_batch_size": sum(weight * loss) / count."""
        if sample_weight is not None:
            weight = ops.cast(sample_weight, "float32")
            while len(weight.shape) < len(token_loss.shape):
                weight = ops.expand_dims(weight, -1)
            token_loss = token_loss * weight
        return ops.mean(token_loss)

    def track_loss(self, loss, inputs):
        self.loss_tracker.update_state(loss, sample_weight=ops.shape(inputs)[0])
        return {"loss": self.loss_tracker.result()}

    def train_step(self, *args):
        if not self.adaptive:
            return super().train_step(*args)
        return custom_steps.train_step(self, args, self.fit_batch)

    def test_step(self, *args):
        if not self.adaptive:
            return super().test_step(*args)
        return custom_steps.test_step(self, args, self.evaluate_batch)

    def adaptive_loss(self, x, y, sample_weight):
        """`(scaled, loss)`: the mean adaptive-softmax cross-entropy `loss`
        (plus the model's own losses) and what is differentiated, `loss`
        divided by the `tf.distribute` replicas (their gradients are
        summed: each takes its share), then loss-scaled."""
        features = self.features(x, training=True)
        token_loss = self.output_head()(features, y)
        loss = self.weighted_mean(token_loss, sample_weight)
        if self.losses:
            loss = loss + ops.cast(ops.sum(self.losses), "float32")
        replicas = custom_steps.num_replicas()
        return self.optimizer.scale_loss(loss / replicas), loss

    def fit_batch(self, data):
        """One update on the adaptive loss (stateful, either backend)."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if not self.built:
            # The step calls the sublayers, never the model: build it here
            # so that `.keras` records its build config and, on loading,
            # creates the optimizer variables its saved state fills.
            self.build(tuple(x.shape))
        weights = self.trainable_weights
        (_, loss), grads = custom_steps.value_and_grad(
            lambda: self.adaptive_loss(x, y, sample_weight),
            weights,
            has_aux=True,
        )
        custom_steps.apply_gradients(self, grads, weights)
        return self.track_loss(loss, x)

    def evaluate_batch(self, data):
        """The exact cross-entropy of one batch (stateful, either backend)."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        log_probs = self(x, training=False)
        target = ops.expand_dims(ops.cast(y, "int32"), -1)
        token_loss = -ops.take_along_axis(log_probs, target, axis=-1)[..., 0]
        return self.track_loss(self.weighted_mean(token_loss, sample_weight), x)
