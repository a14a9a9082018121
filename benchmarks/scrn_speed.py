"""python benchmarks/scrn_speed.py [--steps=20 --batch_size=32 --seq_len=30]

Training throughput (tokens/s) of SCRN(100+40) vs Keras LSTM(100) vs Keras
SimpleRNN(100) on the same batches, in one run: the RNN alone (float inputs
of size 100 -> RNN, squared loss on its outputs) and with the embedding and
the 10K-word softmax head (Adam, clipnorm 1); the
fast `kdl.layers.SCRN` vs `keras.layers.RNN(kdl.layers.SCRNCell)`; XLA
(`jit_compile`) on and off; float32 vs mixed_bfloat16. Prints a Markdown
table and the ratios of the issue's goals (SCRN >= 1.3x LSTM, >= 0.9x
SimpleRNN, fast layer >= 2x the plain cell).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import kdl  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    if "steps" in FLAGS:
        return
    flags.DEFINE_integer("steps", 20, "Timed training steps per config.")
    flags.DEFINE_integer("batch_size", 32, "Batch size.")
    flags.DEFINE_integer("seq_len", 30, "BPTT length.")
    flags.DEFINE_integer("vocab_size", 10000, "Vocabulary (softmax) size.")
    flags.DEFINE_list(
        "precisions", ["float32", "mixed_bfloat16"], "Dtype policies."
    )
    flags.DEFINE_list("jit", ["on", "off"], "jit_compile settings.")
    flags.DEFINE_bool("quick", False, "Only float32, jit on, 3 steps.")


def make_rnn(kind):
    if kind == "scrn":
        return kdl.layers.SCRN(100, 40, return_sequences=True)
    if kind == "scrn_unroll":
        return kdl.layers.SCRN(100, 40, return_sequences=True, unroll=True)
    if kind == "rnn_scrncell":
        return keras.layers.RNN(
            kdl.layers.SCRNCell(100, 40), return_sequences=True
        )
    if kind == "lstm":
        return keras.layers.LSTM(100, return_sequences=True)
    if kind == "srn":
        return keras.layers.SimpleRNN(
            100, activation="sigmoid", return_sequences=True
        )
    raise ValueError(kind)


def build(kind, head, vocab, batch, seq_len):
    if head:
        inputs = keras.Input(batch_shape=(batch, seq_len), dtype="int32")
        x = keras.layers.Embedding(vocab, 100)(inputs)
    else:  # the RNN alone: float inputs of size 100, no embedding
        inputs = keras.Input(batch_shape=(batch, seq_len, 100))
        x = inputs
    x = make_rnn(kind)(x)
    if head:
        x = keras.layers.Dense(vocab, dtype="float32")(x)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        x = keras.layers.Activation("linear", dtype="float32")(x)
        loss = "mse"
    return keras.Model(inputs, x), loss


def time_config(kind, head, jit, precision, x, y_ids, steps):
    keras.backend.clear_session()
    keras.config.set_dtype_policy(precision)
    try:
        batch, seq_len = x.shape
        model, loss = build(kind, head, FLAGS.vocab_size, batch, seq_len)
        if head:
            y = y_ids
        else:
            x = np.random.RandomState(1).normal(size=(batch, seq_len, 100))
            x = x.astype("float32")
            y = np.zeros((batch, seq_len, model.output_shape[-1]), "float32")
        model.compile(
            keras.optimizers.Adam(1e-3, clipnorm=1.0),
            loss,
            jit_compile=jit,
        )
        data = tf.data.Dataset.from_tensors((x, y)).repeat()
        model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # compile
        start = time.perf_counter()
        cpu_start = time.process_time()
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
    finally:
        keras.config.set_dtype_policy("float32")
    tokens = steps * batch * seq_len
    return tokens / seconds, tokens / cpu_seconds


def main(_):
    rng = np.random.RandomState(0)
    b, t, v = FLAGS.batch_size, FLAGS.seq_len, FLAGS.vocab_size
    x = rng.randint(0, v, size=(b, t)).astype("int32")
    y = rng.randint(0, v, size=(b, t)).astype("int32")
    precisions = ["float32"] if FLAGS.quick else FLAGS.precisions
    jits = [True] if FLAGS.quick else [j == "on" for j in FLAGS.jit]
    steps = 3 if FLAGS.quick else FLAGS.steps
    kinds = ["scrn", "scrn_unroll", "rnn_scrncell", "lstm", "srn"]
    rows = {}
    print(f"batch={b} seq_len={t} vocab={v} steps={steps}")
    print(f"load average at start: {os.getloadavg()}")
    print("| model | head | jit | precision | tokens/s | tokens/CPU-s |")
    print("|---|---|---|---|---|---|")
    for precision in precisions:
        for jit in jits:
            for head in (False, True):
                for kind in kinds:
                    tps, cps = time_config(
                        kind, head, jit, precision, x, y, steps
                    )
                    rows[(kind, head, jit, precision)] = (tps, cps)
                    print(
                        f"| {kind} | {'10K softmax' if head else 'none'} "
                        f"| {'on' if jit else 'off'} | {precision} "
                        f"| {tps:,.0f} | {cps:,.0f} |",
                        flush=True,
                    )
    print()
    print("| ratio | head | jit | precision | wall | CPU time |")
    print("|---|---|---|---|---|---|")
    for (kind, head, jit, precision), (tps, cps) in rows.items():
        if kind != "scrn":
            continue
        for other, name in (
            ("lstm", "SCRN / LSTM (goal >= 1.3)"),
            ("srn", "SCRN / SimpleRNN (goal >= 0.9)"),
            ("rnn_scrncell", "SCRN / RNN(SCRNCell) (goal >= 2)"),
        ):
            ref, ref_cpu = rows[(other, head, jit, precision)]
            print(
                f"| {name} | {'10K softmax' if head else 'none'} "
                f"| {'on' if jit else 'off'} | {precision} | {tps / ref:.2f} "
                f"| {cps / ref_cpu:.2f} |"
            )


if __name__ == "__main__":
    define_flags()
    app.run(main)
