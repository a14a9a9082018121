"""python benchmarks/bn_overhead.py --repeats=5 --publish

The cost of kdl's batch-norm variants against `keras.layers.BatchNormalization`,
measured in one run at two levels:

1. layer: forward + backward of one normalization layer (`GradientTape`,
   loss = sum(y^2), gradients for the input and the layer's weights) on a
   `(batch, 28, 28, 16)` tensor, the first conv block's activation.
2. model: the whole training step (`train_on_batch`, Adam) of the convnet
   of `recipes/batchnorm.py` (`kdl.models.build_normalized_convnet`:
   conv-norm-ReLU-pool x2, dense-norm-ReLU, dense) with each variant in
   every block, and without normalization ("none", for scale).

Goals (issue 8), ours / Keras BN: ghost <= 1.2, renorm <= 1.2, L1 <= 1.1,
at both levels. Every (level, variant) step is warmed up, then timed over
`--steps` steps once per repeat, all variants in a shuffled order; the
ratio to Keras BN at the same level is taken per repeat and reported as
median [min, max] over `--repeats` (>= 5). Steps run as `tf.function`
graphs without XLA, as the recipe trains (`--jit_compile` there defaults
to off; on CPU XLA made this convnet 3-6x slower, BUILD_NOTES.md);
`--xla` adds every variant again with `jit_compile=True` (Keras's
"auto" is no XLA on a CPU). `--quick` (batch 64, 2 steps, 2 repeats) is
a trial, never published. `--publish` writes
benchmarks/results/bn_overhead.json.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kdl  # noqa: E402
from benchmarks import common  # noqa: E402
from kdl import training  # noqa: E402

FLAGS = flags.FLAGS
GOALS = {"ghost": 1.2, "renorm": 1.2, "l1": 1.1}
NAMES = {
    "none": "no normalization",
    "bn": "Keras BN",
    "ghost": "ghost BN",
    "renorm": "batch renorm",
    "l1": "L1 BN",
}


def define_flags():
    flags.DEFINE_list("levels", ["layer", "model"], "layer and/or model.")
    flags.DEFINE_integer("batch_size", 256, "Batch size.", lower_bound=1)
    flags.DEFINE_integer(
        "virtual_batch_size", 16, "Ghost batch size.", lower_bound=1
    )
    flags.DEFINE_integer("steps", 10, "Timed steps per variant and repeat.")
    flags.DEFINE_integer("repeats", 5, "Interleaved repeats (median kept).")
    flags.DEFINE_bool("xla", False, "Also time every step with XLA.")
    flags.DEFINE_bool("publish", False, "Write the results JSON.")
    flags.DEFINE_bool("quick", False, "Batch 64, 2 steps, 2 repeats.")


def layer_step(variant, batch_size, virtual_batch_size, jit_compile):
    """Forward + backward of one normalization layer, as a callable."""
    x = tf.constant(
        np.random.RandomState(0)
        .uniform(size=(batch_size, 28, 28, 16))
        .astype("float32")
    )
    layer = kdl.models.normalization_layer(
        variant, virtual_batch_size=virtual_batch_size, total_steps=1000
    )
    layer.build(x.shape)

    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x] + layer.trainable_weights)

    return step


def model_step(variant, batch_size, virtual_batch_size, jit_compile):
    """One compiled training step of the recipe's convnet, as a callable."""
    rng = np.random.RandomState(0)
    x = rng.uniform(size=(batch_size, 28, 28, 1)).astype("float32")
    y = rng.randint(0, 10, size=(batch_size,))
    keras.utils.set_random_seed(0)
    model = kdl.models.build_normalized_convnet(
        variant, virtual_batch_size=virtual_batch_size, total_steps=1000
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return lambda: model.train_on_batch(x, y)


def runs_for(levels, batch_size, virtual_batch_size, steps, modes):
    """{(level, variant, jit_compile): callable running `steps` steps}."""
    make = {"layer": layer_step, "model": model_step}
    runs = {}
    for level in levels:
        variants = ("none",) * (level == "model") + ("bn", *GOALS)
        for variant in variants:
            for jit in modes:
                step = make[level](variant, batch_size, virtual_batch_size, jit)
                for _ in range(3):  # trace, compile, warm up
                    step()

                def go(step=step):
                    for _ in range(steps):
                        step()

                runs[(level, variant, jit)] = go
    return runs


def main(_):
    clock = training.Clock()
    common.check_publish(FLAGS.publish, FLAGS.repeats, FLAGS.quick)
    batch, steps, repeats = FLAGS.batch_size, FLAGS.steps, FLAGS.repeats
    if FLAGS.quick:
        batch, steps, repeats = 64, 2, 2
    levels = [level for level in ("layer", "model") if level in FLAGS.levels]
    if not levels or set(FLAGS.levels) - {"layer", "model"}:
        raise app.UsageError(
            f"--levels takes layer and/or model. Received: {FLAGS.levels}"
        )
    modes = (False, True) if FLAGS.xla else (False,)
    runs = runs_for(levels, batch, FLAGS.virtual_batch_size, steps, modes)
    times = common.interleaved(runs, repeats)
    times = {k: [t / steps for t in v] for k, v in times.items()}

    def label(key):
        level, variant, jit = key
        return f"{level}, {variant}, jit_compile={jit}"

    details = {
        "batch_size": batch,
        "virtual_batch_size": FLAGS.virtual_batch_size,
        "ms_per_step": {
            label(k): common.summary([1000 * t for t in v])
            for k, v in times.items()
        },
        "ratio_to_keras_bn": {},
    }
    rows = []
    for level in levels:
        for jit in modes:
            for variant in GOALS if level == "layer" else ("none", *GOALS):
                key, base = (level, variant, jit), (level, "bn", jit)
                stats = common.ratio(times, key, base)
                details["ratio_to_keras_bn"][label(key)] = stats
                goal = GOALS.get(variant) if not jit else None
                what = {
                    "layer": "forward + backward of one layer",
                    "model": "convnet training step (recipes/batchnorm.py)",
                }[level]
                mode = "XLA" if jit else "graph, no XLA"
                rows.append(
                    common.headline(
                        f"{what}, {NAMES[variant]} / Keras BN ({mode}; "
                        f"batch {batch}, ghost batch "
                        f"{FLAGS.virtual_batch_size})",
                        stats,
                        None if goal is None else f"<= {goal}",
                        None if goal is None else stats["median"] <= goal,
                    )
                )
    common.write(
        "bn_overhead",
        rows,
        details,
        repeats,
        clock,
        FLAGS.publish,
        quick=FLAGS.quick,
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
