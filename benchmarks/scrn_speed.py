"""python benchmarks/scrn_speed.py --repeats=5 --publish

How fast `kdl.layers.SCRN` trains, measured in one run on this machine, on
TensorFlow and on JAX (`--backends`, default `tensorflow,jax`):

1. Throughput (tokens/s) of one training step (`train_on_batch`, Adam) of
   the RNN alone with a small head: int tokens -> Embedding(200, 100) ->
   RNN -> Dense(200) -> softmax cross-entropy, batch 32, T=35, so that the
   RNN dominates the step. RNNs: `kdl.layers.SCRN(100, 40)` (the paper's
   SCRN(100+40)), `keras.layers.LSTM(100)`, `keras.layers.SimpleRNN(100,
   sigmoid)` and `keras.layers.RNN(kdl.layers.SCRNCell(100, 40))` (the
   same SCRN step by step). On TensorFlow every model is compiled twice:
   with Keras's default (`jit_compile="auto"`, which is no XLA on a
   CPU-only machine: a `tf.function` graph) and with `jit_compile=True`
   (XLA). On JAX Keras's default (`"auto"`) is `jax.jit` (XLA) already,
   and `jit_compile=False` would run the step op by op without any
   compilation (a debugging mode), so the one mode measured there is the
   default, `jax.jit`. Goals (issue 13), in each backend's default mode:
   SCRN >= 1.3x LSTM(100) and >= 1.0x SimpleRNN(100) tokens/s; TF's XLA
   mode and SCRN / RNN(SCRNCell) are reported without a goal.
2. Scaling in T: forward + backward (loss sum(y^2), gradients for the input
   and the weights) of `SCRN(100, 40)` alone on `(32, T, 100)` float
   inputs, T=8192 against T=1024. TensorFlow: a `tf.GradientTape` in a
   `tf.function`, default graph mode (XLA and SimpleRNN(100) as a
   reference in the details). JAX: `jax.grad` of the layer's
   `stateless_call` under `jax.jit`, JAX's only compiled mode
   (SimpleRNN(100) in the details). Goal, in each backend's default mode:
   time ratio <= 12 (linear in T would be 8).

Each backend runs in its own child process (`KERAS_BACKEND` is read once,
at import; `benchmarks/common.py`'s `run_backends`), one after the other;
the parent merges their rows into one JSON, each row prefixed by its
backend ("TensorFlow: ...", "JAX: ...") with its `backend` field, the
details by backend. Within a child each step is warmed up (traced,
compiled), then every variant is timed once per repeat in a shuffled order
(`benchmarks/common.py`); ratios are taken per repeat, within one backend,
and reported as median [min, max] over `--repeats` (>= 5 to publish).
Tokens/s ratios are time ratios of the same number of tokens. Absolute
tokens/s of the two backends (details) come from different processes at
different times: they are not interleaved, so compare them only loosely.
`--quick` (2 steps, 2 repeats, T=256 vs 2048) is a trial, never published.
`--publish` writes benchmarks/results/scrn_speed.json. Publish only from a
run on an otherwise idle machine: the load average at start and end of
each child is recorded in the details.
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

FLAGS = flags.FLAGS
NAMES = {
    "scrn": "SCRN(100+40)",
    "rnn_scrncell": "RNN(SCRNCell(100+40))",
    "lstm": "LSTM(100)",
    "srn": "SimpleRNN(100)",
}
# (numerator, denominator, goal in default mode): tokens/s ratios.
GOALS = (("lstm", 1.3), ("srn", 1.0), ("rnn_scrncell", None))
# Throughput: the `jit_compile` values compiled per backend, and their
# labels; "auto" (Keras's default) is the mode the goals are for.
MODES = {
    "tensorflow": {"auto": "default compile, no XLA on CPU", True: "XLA"},
    "jax": {"auto": "default compile = jax.jit (XLA)"},
}
# Scaling: the (rnn, jit) variants per backend and their mode labels; the
# goal is on SCRN in the backend's default mode (TF: graph, no XLA; JAX:
# jax.jit, its only compiled mode).
SCALING = {
    "tensorflow": (("scrn", False), ("scrn", True), ("srn", False)),
    "jax": (("scrn", True), ("srn", True)),
}
SCALING_DEFAULT = {"tensorflow": False, "jax": True}
SCALING_MODES = {
    "tensorflow": {False: "graph, no XLA", True: "XLA"},
    "jax": {True: "jax.jit (XLA)"},
}
# The flags a child process gets from its parent (`--backends` and
# `--child_json` are set per child; `--publish` is the parent's).
CHILD_FLAGS = (
    "parts",
    "batch_size",
    "seq_len",
    "vocab_size",
    "steps",
    "lengths",
    "repeats",
    "quick",
)


def define_flags():
    flags.DEFINE_list("parts", ["throughput", "scaling"], "What to measure.")
    flags.DEFINE_list(
        "backends",
        list(common.BACKENDS),
        "Keras backends to measure, each in its own child process.",
    )
    flags.DEFINE_integer("batch_size", 32, "Batch size.", lower_bound=1)
    flags.DEFINE_integer("seq_len", 35, "Throughput: BPTT length.")
    flags.DEFINE_integer("vocab_size", 200, "Throughput: head size.")
    flags.DEFINE_integer("steps", 30, "Timed training steps per repeat.")
    flags.DEFINE_list("lengths", ["1024", "8192"], "Scaling: short and long T.")
    flags.DEFINE_integer("repeats", 5, "Interleaved repeats (median kept).")
    flags.DEFINE_bool("publish", False, "Write the results JSON.")
    flags.DEFINE_bool(
        "quick", False, "2 steps, 2 repeats, T=256 vs 2048 (a trial)."
    )
    flags.DEFINE_string(
        "child_json",
        None,
        "Internal (set by the parent): measure this process's backend only "
        "and write the rows to this file.",
    )


def make_rnn(kind, **kwargs):
    if kind == "scrn":
        return kdl.layers.SCRN(100, 40, **kwargs)
    if kind == "rnn_scrncell":
        return keras.layers.RNN(kdl.layers.SCRNCell(100, 40), **kwargs)
    if kind == "lstm":
        return keras.layers.LSTM(100, **kwargs)
    if kind == "srn":
        return keras.layers.SimpleRNN(100, activation="sigmoid", **kwargs)
    raise ValueError(f"Unknown RNN. Received: kind={kind}")


def train_step(kind, jit_compile, batch, seq_len, vocab):
    """A compiled training step of embedding -> RNN -> Dense(vocab)."""
    rng = np.random.RandomState(0)
    x = keras.ops.convert_to_tensor(
        rng.randint(0, vocab, size=(batch, seq_len)), "int32"
    )
    y = keras.ops.convert_to_tensor(
        rng.randint(0, vocab, size=(batch, seq_len)), "int32"
    )
    keras.utils.set_random_seed(0)
    inputs = keras.Input(batch_shape=(batch, seq_len), dtype="int32")
    h = keras.layers.Embedding(vocab, 100)(inputs)
    h = make_rnn(kind, return_sequences=True)(h)
    model = keras.Model(inputs, keras.layers.Dense(vocab)(h))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model, lambda: model.train_on_batch(x, y)


def throughput_rows(times, backend, batch, seq_len, vocab):
    """Headline rows and ratios from seconds per step.

    Args:
        times: dict (kind, jit_compile) -> list of seconds per step, one per
            repeat, for every kind of `NAMES` and mode of `MODES[backend]`.
        backend: "tensorflow" or "jax".

    Returns:
        rows (goals on the default, "auto", mode) and dict what -> ratio.
    """
    rows, ratios = [], {}
    for jit, mode in MODES[backend].items():
        for other, goal in GOALS:
            # SCRN tokens/s / other tokens/s = other time / SCRN time.
            stats = common.ratio(times, (other, jit), ("scrn", jit))
            what = (
                f"{NAMES['scrn']} / {NAMES[other]} tokens/s, training step "
                f"(embedding -> RNN -> Dense({vocab}), batch {batch}, "
                f"T={seq_len}), {mode}"
            )
            ratios[what] = stats
            if jit == "auto" and goal is not None:
                rows.append(
                    common.headline(
                        what, stats, f">= {goal}", stats["median"] >= goal
                    )
                )
            else:
                rows.append(common.headline(what, stats))
    return rows, ratios


def throughput(backend, batch, seq_len, vocab, steps, repeats):
    runs, resolved = {}, {}
    for kind in NAMES:
        for jit in MODES[backend]:
            model, step = train_step(kind, jit, batch, seq_len, vocab)
            for _ in range(3):  # trace, compile, warm up
                step()
            resolved[f"{kind}, jit_compile={jit}"] = bool(model.jit_compile)

            def go(step=step):
                for _ in range(steps):
                    step()

            runs[(kind, jit)] = go
    times = common.interleaved(runs, repeats)
    times = {k: [t / steps for t in v] for k, v in times.items()}
    tokens = batch * seq_len
    rows, ratios = throughput_rows(times, backend, batch, seq_len, vocab)
    details = {
        "batch_size": batch,
        "seq_len": seq_len,
        "vocab_size": vocab,
        "steps": steps,
        "resolved_jit_compile": resolved,
        "tokens_per_second": {
            f"{NAMES[k]}, {MODES[backend][j]}": common.summary(
                [tokens / t for t in v]
            )
            for (k, j), v in times.items()
        },
        "ratios": ratios,
    }
    return rows, details


def forward_backward(kind, batch, steps, jit_compile):
    """Forward + backward of the RNN alone on `(batch, steps, 100)`.

    TensorFlow: a `GradientTape` in a `tf.function` (`jit_compile` picks
    XLA). JAX: `jax.grad` of the layer's `stateless_call` under `jax.jit`
    (`jit_compile` must be True). The loss is sum(y^2); the gradients are
    for the input and every trainable weight; the returned callable blocks
    until they are computed.
    """
    data = np.random.RandomState(0).normal(size=(batch, steps, 100))
    x = keras.ops.convert_to_tensor(data, "float32")
    keras.utils.set_random_seed(0)
    layer = make_rnn(kind, return_sequences=True)
    layer.build(x.shape)
    if keras.backend.backend() == "jax":
        if not jit_compile:
            raise ValueError(
                "On JAX the scaling step is jitted only. "
                f"Received: jit_compile={jit_compile}"
            )
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss(x, trainable):
            y, _ = layer.stateless_call(trainable, non_trainable, x)
            return keras.ops.sum(y * y)

        grads = jax.jit(jax.grad(loss, argnums=(0, 1)))
        return lambda: jax.block_until_ready(grads(x, trainable))

    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x] + layer.trainable_weights)

    return lambda: [g.numpy() for g in step()]


def scaling_rows(times, backend, batch, lengths):
    """Headline rows and ratios from seconds per forward + backward.

    Args:
        times: dict (kind, jit_compile, T) -> list of seconds, one per
            repeat, for every variant of `SCALING[backend]` and T of
            `lengths` (short, long).
        backend: "tensorflow" or "jax".

    Returns:
        rows (SCRN only; the goal on the backend's default mode) and dict
        what -> ratio (every variant).
    """
    short, long = lengths
    goal = 12 * long / (8 * short)  # <= 12 for T=8192 vs 1024
    rows, ratios = [], {}
    for kind, jit in SCALING[backend]:
        stats = common.ratio(times, (kind, jit, long), (kind, jit, short))
        what = (
            f"{NAMES[kind]} forward + backward time, T={long} / T={short} "
            f"(batch {batch}, {SCALING_MODES[backend][jit]})"
        )
        ratios[what] = stats
        if kind != "scrn":
            continue
        if jit == SCALING_DEFAULT[backend]:
            rows.append(
                common.headline(
                    what, stats, f"<= {goal:g}", stats["median"] <= goal
                )
            )
        else:
            rows.append(common.headline(what, stats))
    return rows, ratios


def scaling(backend, batch, lengths, repeats):
    runs = {}
    for kind, jit in SCALING[backend]:
        for steps in lengths:
            step = forward_backward(kind, batch, steps, jit)
            for _ in range(2):  # trace, compile, warm up
                step()
            runs[(kind, jit, steps)] = step
    times = common.interleaved(runs, repeats)
    rows, ratios = scaling_rows(times, backend, batch, lengths)
    modes = SCALING_MODES[backend]
    details = {
        "batch_size": batch,
        "lengths": list(lengths),
        "seconds": {
            f"{NAMES[k]}, {modes[j]}, T={t}": common.summary(v)
            for (k, j, t), v in times.items()
        },
        "ratios": ratios,
    }
    return rows, details


def settings():
    """(steps, repeats, lengths) of this run; `--quick` overrides them."""
    steps, repeats = FLAGS.steps, FLAGS.repeats
    lengths = [int(t) for t in FLAGS.lengths]
    if FLAGS.quick:
        steps, repeats, lengths = 2, 2, [256, 2048]
    if len(lengths) != 2 or not 0 < lengths[0] < lengths[1]:
        raise app.UsageError(
            f"--lengths takes a short and a longer T. Received: {lengths}"
        )
    if not FLAGS.parts or set(FLAGS.parts) - {"throughput", "scaling"}:
        raise app.UsageError(
            f"--parts takes throughput and/or scaling. Received: {FLAGS.parts}"
        )
    return steps, repeats, lengths


def measure(backend, steps, repeats, lengths):
    """This process's rows and details (one backend)."""
    # Eight compiled models and six step functions: TF's retracing
    # warnings would only be noise here.
    tf.get_logger().setLevel("ERROR")
    rows, details = [], {"load_average_start": list(os.getloadavg())}
    if "throughput" in FLAGS.parts:
        part_rows, details["throughput"] = throughput(
            backend,
            FLAGS.batch_size,
            FLAGS.seq_len,
            FLAGS.vocab_size,
            steps,
            repeats,
        )
        rows += part_rows
    if "scaling" in FLAGS.parts:
        part_rows, details["scaling"] = scaling(
            backend, FLAGS.batch_size, lengths, repeats
        )
        rows += part_rows
    details["load_average_end"] = list(os.getloadavg())
    return rows, details


def main(_):
    chosen = settings()
    common.backend_main(
        "scrn_speed",
        os.path.abspath(__file__),
        FLAGS,
        CHILD_FLAGS,
        measure,
        chosen,
        repeats=chosen[1],
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
