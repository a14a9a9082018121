"""Batch renormalization (Ioffe 2017)."""

import keras
from keras import initializers
from keras import ops

from kdl import _validation
from kdl.layers._batch_norm_base import BatchNormBase


@keras.saving.register_keras_serializable(package="kdl")
class BatchRenormalization(BatchNormBase):
    """Batch normalization with the renormalization correction `(r, d)`.

    **Training** (Ioffe 2017, Algorithm 1), per channel, with the batch
    moments `mu_B`, `sigma_B = sqrt(var_B + epsilon)` and the moving
    `mu`, `sigma`:

    ```
    r = stop_gradient(clip(sigma_B / sigma, 1 / rmax_t, rmax_t))
    d = stop_gradient(clip((mu_B - mu) / sigma, -dmax_t, dmax_t))
    y = gamma * ((x - mu_B) / sigma_B * r + d) + beta
    mu    <- mu * momentum + mu_B * (1 - momentum)
    sigma <- sigma * momentum + sigma_B * (1 - momentum)
    ```

    As in the paper, one set of moving statistics (`moving_mean`,
    `moving_stddev`) serves both the correction and inference (Keras's
    `renorm=True`, from 3.14 on, keeps a second set). The clipping limits
    follow the shape of the paper's schedule, counted in training calls by
    the non-trainable `step` weight: `rmax_t = 1`, `dmax_t = 0` (plain
    batch norm) for the first `warmup_steps`, then linear ramps reaching
    `rmax` at step `rmax_steps` and `dmax` at step `dmax_steps`.

    The defaults (100 / 800 / 500 steps) are the paper's ImageNet schedule
    (batch 32: 5k warm-up, `dmax = 5` at 25k, `rmax = 3` at 40k, i.e.
    1/8, 5/8 and 8/8 of 40k) scaled to 800 steps, so that a run you leave
    alone renormalises after its first 100 steps: with the paper's own
    numbers any run shorter than 5k steps is plain batch norm. Pass
    `**BatchRenormalization.PAPER_SCHEDULE` for the paper's steps, or
    scale them to your run (`kdl.models.renorm_schedule(total_steps)`).

    **Inference**: `gamma * (x - moving_mean) / moving_stddev + beta`.

    Args:
        rmax: float >= 1, final upper clip of `r` (lower clip `1 / rmax`).
        dmax: float >= 0, final clip of `|d|`.
        warmup_steps: int >= 0, training steps with `rmax_t = 1`,
            `dmax_t = 0`.
        rmax_steps: int >= warmup_steps, step at which `rmax_t = rmax`.
        dmax_steps: int >= warmup_steps, step at which `dmax_t = dmax`.
        axis: int, the feature axis. Default -1.
        momentum: float in [0, 1], momentum of the moving statistics.
        epsilon: positive float added to the variance.
        center, scale, *_initializer, *_regularizer, *_constraint: as in
            `keras.layers.BatchNormalization`; the moving standard deviation
            starts at `sqrt(moving_variance_initializer)`.
        synchronized: bool, batch moments over all replicas of a
            `tf.distribute` strategy (TF replica context `all_reduce`: no
            `keras.ops` form exists), so `r`, `d` and the moving statistics
            are those of the global batch.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of any rank.
        training: bool, batch statistics with the correction (True) or
            moving statistics.
        mask: optional boolean tensor with the shape of `inputs` without the
            feature axis; `False` positions are left out of the statistics.

    Returns:
        A tensor of the shape of `inputs`, in the layer's compute dtype.
        Statistics are computed in float32 under mixed precision.

    Example:

    >>> layer = BatchRenormalization(warmup_steps=500, rmax_steps=4000,
    ...                              dmax_steps=2500)
    >>> paper = BatchRenormalization(**BatchRenormalization.PAPER_SCHEDULE)
    >>> y = layer(np.random.rand(4, 10).astype("float32"), training=True)

    Reference:
        Ioffe, "Batch Renormalization: Towards Reducing Minibatch
        Dependence in Batch-Normalized Models", NeurIPS 2017,
        https://arxiv.org/abs/1702.03275.
    """

    # Ioffe 2017, sec. 4.1 (ImageNet, Inception, batch 32).
    PAPER_SCHEDULE = {
        "warmup_steps": 5000,
        "rmax_steps": 40000,
        "dmax_steps": 25000,
    }

    def __init__(
        self,
        rmax=3.0,
        dmax=5.0,
        warmup_steps=100,
        rmax_steps=800,
        dmax_steps=500,
        axis=-1,
        **kwargs,
    ):
        rmax = _validation.number("rmax", rmax, min_value=1)
        dmax = _validation.non_negative_number("dmax", dmax)
        warmup_steps = _validation.non_negative_integer(
            "warmup_steps", warmup_steps
        )
        rmax_steps = _validation.non_negative_integer("rmax_steps", rmax_steps)
        dmax_steps = _validation.non_negative_integer("dmax_steps", dmax_steps)
        for name, value in (
            ("rmax_steps", rmax_steps),
            ("dmax_steps", dmax_steps),
        ):
            if value < warmup_steps:
                raise ValueError(
                    f"`{name}` must be >= `warmup_steps`. Received: "
                    f"{name}={value}, warmup_steps={warmup_steps}"
                )
        self.rmax = rmax
        self.dmax = dmax
        self.warmup_steps = warmup_steps
        self.rmax_steps = rmax_steps
        self.dmax_steps = dmax_steps

        super().__init__(axis=axis, **kwargs)

    def build_statistics(self, shape):
        variance_init = self.moving_variance_initializer

        def stddev_initializer(shape, dtype=None):
            init = variance_init
            if isinstance(init, initializers.Initializer):
                init = init.__class__.from_config(init.get_config())
            return ops.sqrt(init(shape, dtype=dtype))

        self.moving_mean = self._stat_weight(
            "moving_mean", shape, self.moving_mean_initializer
        )
        self.moving_stddev = self._stat_weight(
            "moving_stddev", shape, stddev_initializer
        )
        self.step = self._stat_weight("step", (), "zeros")

    def clipping(self, step=None):
        """`(rmax_t, dmax_t)` at `step` (default: the layer's step count)."""
        step = ops.cast(self.step if step is None else step, "float32")

        def ramp(end):
            if end == self.warmup_steps:
                return ops.cast(step >= end, "float32")
            fraction = (step - self.warmup_steps) / (end - self.warmup_steps)
            return ops.clip(fraction, 0.0, 1.0)

        rmax = 1.0 + (self.rmax - 1.0) * ramp(self.rmax_steps)
        dmax = self.dmax * ramp(self.dmax_steps)
        return rmax, dmax

    def call(self, inputs, training=None, mask=None):
        x = self._upcast(inputs)
        gamma, beta = self._gamma_beta(x.dtype)
        moving_mean = ops.cast(self.moving_mean, x.dtype)
        moving_stddev = ops.cast(self.moving_stddev, x.dtype)
        # The moving sigma estimates sqrt(variance + epsilon): never below
        # sqrt(epsilon), in training's r and d and at inference alike (a
        # zero `moving_variance_initializer` must not divide by zero).
        sigma = ops.maximum(moving_stddev, ops.sqrt(self.epsilon))
        if not (training and self.trainable):
            outputs = ops.batch_normalization(
                x,
                mean=moving_mean,
                variance=ops.square(sigma),
                axis=self._axis,
                offset=beta,
                scale=gamma,
                epsilon=0.0,
            )
            return ops.cast(outputs, self.compute_dtype)

        mean, variance = self._moments(x, self._mask_weights(x, mask))
        stddev = ops.sqrt(variance + self.epsilon)
        rmax, dmax = (ops.cast(v, x.dtype) for v in self.clipping())
        r = ops.stop_gradient(ops.clip(stddev / sigma, 1.0 / rmax, rmax))
        d = ops.stop_gradient(
            ops.clip((mean - moving_mean) / sigma, -dmax, dmax)
        )
        # (x_hat * r + d) * gamma + beta = x_hat * (r gamma) + (d gamma + beta)
        if gamma is not None:
            scale, offset = r * gamma, d * gamma
        else:
            scale, offset = r, d
        if beta is not None:
            offset = offset + beta
        outputs = ops.batch_normalization(
            x,
            mean=mean,
            variance=variance,
            axis=self._axis,
            offset=offset,
            scale=scale,
            epsilon=self.epsilon,
        )
        self._update(self.moving_mean, mean)
        self._update(self.moving_stddev, stddev)
        self.step.assign(self.step + 1.0)
        return ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "rmax": self.rmax,
            "dmax": self.dmax,
            "warmup_steps": self.warmup_steps,
            "rmax_steps": self.rmax_steps,
            "dmax_steps": self.dmax_steps,
        }
