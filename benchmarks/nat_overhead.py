"""python benchmarks/nat_overhead.py --repeats=5 --publish

Measures, in one run on this machine:

1. The cost of a NAT training step (`kdl.models.NAT`, per-batch optimal
   reassignment, Algorithm 1) against the same network's plain regression
   step (the same backbone + projection, `fit` with MSE onto fixed targets)
   at batch 256; also NAT with `reassign_every=0` (NAT's bookkeeping without
   the assignment). Goal: NAT <= 1.25x the plain step.
2. The time of `kdl.ops.linear_sum_assignment` (eager and in `tf.function`)
   against `scipy.optimize.linear_sum_assignment` called directly, for NAT
   score matrices (unit-vector dot products) of batch 64..4096.

Steps are timed with `fit` over a fixed number of batches after a warm-up;
the variants are interleaved `--repeats` times in a shuffled order and the
ratio to the plain step is taken per repeat: median [min, max]. The XLA
baseline passes `jit_compile=True` (Keras's "auto" means no XLA on a
CPU-only machine). `--publish` writes benchmarks/results/nat_overhead.json.
"""

import os
import sys

import keras
import numpy as np
import scipy.optimize
import tensorflow as tf
from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kdl  # noqa: E402
from benchmarks import common  # noqa: E402
from kdl import training  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 30, "Timed training steps per measurement.")
flags.DEFINE_integer("repeats", 5, "Interleaved repeats (median reported).")
flags.DEFINE_bool(
    "publish", False, "Write benchmarks/results/nat_overhead.json."
)
flags.DEFINE_integer("batch_size", 256, "Training batch size.")
flags.DEFINE_integer("width", 16, "Backbone width.")
flags.DEFINE_integer("feature_dim", 64, "NAT feature dimension.")
flags.DEFINE_list(
    "parts", ["steps", "assignment"], "What to measure: steps, assignment."
)
flags.DEFINE_string(
    "sizes", "64,256,1024,4096", "Assignment sizes (comma separated)."
)


def step_times(steps, repeats, batch, width, feature_dim):
    n = batch * steps
    rng = np.random.RandomState(0)
    x = rng.rand(n, 28, 28, 1).astype("float32")
    index = np.arange(n, dtype="int32")
    ds = tf.data.Dataset.from_tensor_slices((index, x)).batch(batch).cache()

    def nat(reassign_every):
        model = kdl.models.NAT(
            kdl.models.small_convnet((28, 28, 1), width),
            num_examples=n,
            feature_dim=feature_dim,
            reassign_every=reassign_every,
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(ds.take(2), verbose=0)

        def go():
            model.fit(ds, verbose=0)

        return go

    def plain(jit_compile):
        inputs = keras.Input((28, 28, 1))
        features = keras.layers.Dense(feature_dim)(
            kdl.models.small_convnet((28, 28, 1), width)(inputs)
        )
        model = keras.Model(inputs, features)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="mse",
            jit_compile=jit_compile,
        )
        targets = rng.normal(size=(n, feature_dim)).astype("float32")
        plain_ds = (
            tf.data.Dataset.from_tensor_slices((x, targets))
            .batch(batch)
            .cache()
        )
        model.fit(plain_ds.take(2), verbose=0)

        def go():
            model.fit(plain_ds, verbose=0)

        return go

    runs = {
        "plain regression step": plain(False),
        "plain regression step, XLA (jit_compile=True)": plain(True),
        "NAT step, reassign_every=0": nat(0),
        "NAT step (Algorithm 1)": nat(1),
    }
    times = common.interleaved(runs, repeats)
    return {k: [t / steps for t in v] for k, v in times.items()}


def nat_scores(size, dim, rng):
    f = rng.normal(size=(size, dim))
    c = rng.normal(size=(size, dim))
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    return (f @ c.T).astype("float32")


def timeit(fn, min_time=0.5, max_calls=50):
    import time

    fn()  # warm-up (tracing)
    times = []
    total = 0.0
    while total < min_time and len(times) < max_calls:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        total += times[-1]
    return float(np.median(times))


def assignment_times(sizes, dim):
    rng = np.random.RandomState(0)
    rows = []
    for size in sizes:
        scores = nat_scores(size, dim, rng)
        tensor = tf.constant(scores)
        graph = tf.function(
            lambda c: kdl.ops.linear_sum_assignment(c, maximize=True)
        )
        t_scipy = timeit(
            lambda: scipy.optimize.linear_sum_assignment(scores, maximize=True)
        )
        t_eager = timeit(
            lambda: kdl.ops.linear_sum_assignment(tensor, maximize=True)
        )
        t_graph = timeit(lambda: graph(tensor))
        ours = np.asarray(graph(tensor)[1])
        r, c = scipy.optimize.linear_sum_assignment(scores, maximize=True)
        same = np.isclose(
            scores[np.arange(size), ours].sum(), scores[r, c].sum()
        )
        rows.append((size, t_scipy, t_eager, t_graph, bool(same)))
    return rows


def main(_):
    clock = training.Clock()
    rows, details = [], {}
    if "steps" in FLAGS.parts:
        times = step_times(
            FLAGS.steps,
            FLAGS.repeats,
            FLAGS.batch_size,
            FLAGS.width,
            FLAGS.feature_dim,
        )
        base = "plain regression step"
        details["ms_per_step"] = {
            k: common.summary([1000 * t for t in v]) for k, v in times.items()
        }
        for name in times:
            if name != base:
                stats = common.ratio(times, name, base)
                details[f"{name} / {base}"] = stats
        nat = details[f"NAT step (Algorithm 1) / {base}"]
        rows.append(
            common.headline(
                f"NAT step / plain regression step, batch {FLAGS.batch_size}",
                nat,
                "<= 1.25",
                nat["median"] <= 1.25,
            )
        )
        xla = common.ratio(
            times,
            "NAT step (Algorithm 1)",
            "plain regression step, XLA (jit_compile=True)",
        )
        details["NAT step / plain step with XLA"] = xla
        rows.append(
            common.headline("NAT step / plain regression step with XLA", xla)
        )
    if "assignment" in FLAGS.parts:
        sizes = [int(s) for s in FLAGS.sizes.split(",")]
        details["assignment_ms"] = [
            {
                "batch": size,
                "scipy": 1000 * t_s,
                "kdl_eager": 1000 * t_e,
                "kdl_tf_function": 1000 * t_g,
                "same_optimum": same,
            }
            for size, t_s, t_e, t_g, same in assignment_times(
                sizes, FLAGS.feature_dim
            )
        ]
        for row in details["assignment_ms"]:
            print(row)
    common.write(
        "nat_overhead", rows, details, FLAGS.repeats, clock, FLAGS.publish
    )


if __name__ == "__main__":
    app.run(main)
