r"""python benchmarks/bn_overhead.py

Training-step time of kdl's batch-norm variants vs
`keras.layers.BatchNormalization` on the same model, in one run.

The model is the convnet of `recipes/batchnorm.py` (conv-norm-ReLU-pool x2,
dense-norm-ReLU, dense) on 28x28x1 inputs; only the normalization layers
differ. Each variant's compiled train step (`train_on_batch`, Adam) is
warmed up, then the variants are timed in interleaved rounds, in a new
random order each round (so a load change on a shared machine hits all of
them alike); the reported time is the median over rounds of the mean step
time in a round. Goals (issue 8):
ghost <= 1.2x, renorm <= 1.2x, L1 <= 1.1x the Keras BN step.

`--mode=layer` times only the normalization layer instead: forward and
backward (`GradientTape`, loss = sum(y^2)) of one layer on a
`(batch, 28, 28, 16)` tensor, the first conv block's activation.

Flags: --mode (model|layer), --batch_size (256), --virtual_batch_size
(16), --rounds (7), --steps (10 per round), --jit_compile (false),
--output (a JSON file).
"""

import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from kdl.tuning import batchnorm as bn_models  # noqa: E402

FLAGS = flags.FLAGS
VARIANTS = ("none", "bn", "ghost", "renorm", "l1")
GOALS = {"ghost": 1.2, "renorm": 1.2, "l1": 1.1}


def define_flags():
    if "rounds" in FLAGS:
        return
    flags.DEFINE_enum(
        "mode", "model", ["model", "layer"], "Time train steps or one layer."
    )
    flags.DEFINE_integer("batch_size", 256, "Batch size.", lower_bound=1)
    flags.DEFINE_integer(
        "virtual_batch_size", 16, "Ghost batch size.", lower_bound=1
    )
    flags.DEFINE_integer("rounds", 7, "Timed rounds.", lower_bound=1)
    flags.DEFINE_integer("steps", 10, "Steps per round.", lower_bound=1)
    flags.DEFINE_bool("jit_compile", False, "Compile the steps with XLA.")
    flags.DEFINE_string("output", "", "Optional JSON file for the results.")


def _layer_steps(batch_size, virtual_batch_size, jit_compile):
    x = tf.constant(
        np.random.RandomState(0)
        .uniform(size=(batch_size, 28, 28, 16))
        .astype("float32")
    )
    steps = {}
    for variant in VARIANTS:
        if variant == "none":
            continue
        layer = bn_models.norm_layer(
            variant, virtual_batch_size=virtual_batch_size, total_steps=1000
        )
        layer.build(x.shape)

        @tf.function(jit_compile=jit_compile)
        def step(layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                loss = tf.reduce_sum(y * y)
            return tape.gradient(loss, [x] + layer.trainable_weights)

        steps[variant] = step
    return steps


def _model_steps(batch_size, virtual_batch_size, jit_compile):
    rng = np.random.RandomState(0)
    x = rng.uniform(size=(batch_size, 28, 28, 1)).astype("float32")
    y = rng.randint(0, 10, size=(batch_size,))
    steps = {}
    for variant in VARIANTS:
        keras.utils.set_random_seed(0)
        model = bn_models.build_convnet(
            variant,
            virtual_batch_size=virtual_batch_size,
            total_steps=1000,
        )
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit_compile,
        )
        steps[variant] = lambda model=model: model.train_on_batch(x, y)
    return steps


def measure(
    batch_size, virtual_batch_size, rounds, steps, jit_compile, mode="model"
):
    make = _layer_steps if mode == "layer" else _model_steps
    functions = make(batch_size, virtual_batch_size, jit_compile)
    for step in functions.values():
        for _ in range(3):  # trace, compile, warm up
            step()
    times = {v: [] for v in functions}
    order = list(functions)
    rng = np.random.RandomState(0)
    for _ in range(rounds):
        rng.shuffle(order)  # no variant is always first or last
        for variant in order:
            step = functions[variant]
            start = time.perf_counter()
            for _ in range(steps):
                step()
            times[variant].append((time.perf_counter() - start) / steps)
    median = {v: float(np.median(t)) for v, t in times.items()}
    return {
        "mode": mode,
        "batch_size": batch_size,
        "virtual_batch_size": virtual_batch_size,
        "jit_compile": jit_compile,
        "step_ms": {v: 1000 * t for v, t in median.items()},
        "ratio_to_keras_bn": {v: t / median["bn"] for v, t in median.items()},
        "keras": keras.__version__,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


def main(_):
    result = measure(
        FLAGS.batch_size,
        FLAGS.virtual_batch_size,
        FLAGS.rounds,
        FLAGS.steps,
        FLAGS.jit_compile,
        FLAGS.mode,
    )
    print(
        f"{FLAGS.mode}: batch {result['batch_size']}, ghost batch "
        f"{result['virtual_batch_size']}, jit_compile={result['jit_compile']}"
    )
    print(f"{'variant':<8} {'step ms':>9} {'x Keras BN':>11} {'goal':>6}")
    for variant in result["step_ms"]:
        ratio = result["ratio_to_keras_bn"][variant]
        goal = GOALS.get(variant)
        verdict = (
            ""
            if goal is None
            else (f"<= {goal}" + (" ok" if ratio <= goal else " MISSED"))
        )
        print(
            f"{variant:<8} {result['step_ms'][variant]:>9.2f} "
            f"{ratio:>11.3f} {verdict:>6}"
        )
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    define_flags()
    app.run(main)
