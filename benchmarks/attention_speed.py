"""python benchmarks/attention_speed.py [--steps=30 --batch_size=64]

Two claims, measured in one run:

1. Training step of `kdl.layers.BahdanauAttention` vs the same math built
   from Keras parts (`Dense(units)` on the query, `Dense(units)` on the
   key, `keras.layers.AdditiveAttention(use_scale=True)`, whose `scale` is
   the score vector v): the issue's goal is ours <= 1.1x Keras. Timed
   with and without `jit_compile`, with a masked source, rank-3 queries
   (all decoder steps at once, the attention-only cost).
2. Decoding throughput of `kdl.models.Seq2SeqAttention` (sentences/s):
   greedy and beam search 4 / 8, compiled (`tf.function`, the default) vs
   eager. The model is randomly initialised and the end token is made
   impossible, so every sentence runs the full --decode_length steps (the
   worst case; trained models stop early).

Prints a Markdown table; --quick makes it fast (fewer steps, no eager
beam 8).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import kdl  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    if "steps" in FLAGS:
        return
    flags.DEFINE_integer("steps", 30, "Timed training steps per variant.")
    flags.DEFINE_integer("repeats", 3, "Alternating timing rounds.")
    flags.DEFINE_integer("batch_size", 64, "Batch size.")
    flags.DEFINE_integer("query_length", 20, "Decoder steps Tq.")
    flags.DEFINE_integer("source_length", 20, "Source length Tv.")
    flags.DEFINE_integer("dim", 256, "Query and value size.")
    flags.DEFINE_integer("units", 128, "Attention units.")
    flags.DEFINE_integer("vocab_size", 4000, "Decoder benchmark vocabulary.")
    flags.DEFINE_integer("decode_length", 30, "Decoded tokens per sentence.")
    flags.DEFINE_integer("decode_batch", 64, "Sentences per decode call.")
    flags.DEFINE_bool("quick", False, "Few steps, skip eager beam 8.")


def attention_model(kind, dim, units):
    query = keras.Input((None, dim), name="query")
    value = keras.Input((None, dim), name="value")
    mask = keras.Input((None,), dtype="bool", name="mask")
    if kind == "kdl":
        context = kdl.layers.BahdanauAttention(units)(
            [query, value], mask=[None, mask]
        )
    else:
        q = keras.layers.Dense(units, use_bias=False)(query)
        k = keras.layers.Dense(units, use_bias=False)(value)
        context = keras.layers.AdditiveAttention(use_scale=True)(
            [q, value, k], mask=[None, mask]
        )
    return keras.Model([query, value, mask], context)


def time_training(models, data, steps, repeats):
    """Alternates the models `repeats` times; best seconds per step."""
    best = {name: float("inf") for name in models}
    for model in models.values():
        model.train_on_batch(*data)  # trace / compile
        model.train_on_batch(*data)
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            for _ in range(steps):
                model.train_on_batch(*data)
            best[name] = min(best[name], (time.perf_counter() - start) / steps)
    return best


def training_benchmark():
    rng = np.random.RandomState(0)
    b, tq, tv, d = (
        FLAGS.batch_size,
        FLAGS.query_length,
        FLAGS.source_length,
        FLAGS.dim,
    )
    lengths = rng.randint(tv // 2, tv + 1, size=b)
    mask = np.arange(tv)[None] < lengths[:, None]
    x = [
        rng.normal(size=(b, tq, d)).astype("float32"),
        rng.normal(size=(b, tv, d)).astype("float32"),
        mask,
    ]
    y = rng.normal(size=(b, tq, d)).astype("float32")
    rows = {}
    for jit in (False, True):
        models = {}
        for kind in ("kdl", "keras"):
            model = attention_model(kind, d, FLAGS.units)
            model.compile("sgd", "mse", jit_compile=jit)
            models[kind] = model
        best = time_training(models, (x, y), FLAGS.steps, FLAGS.repeats)
        rows[jit] = best
    return rows


def decoding_benchmark():
    rng = np.random.RandomState(0)
    v = FLAGS.vocab_size
    model = kdl.models.Seq2SeqAttention(
        v,
        v,
        start_id=2,
        end_id=3,
        embedding_dim=128,
        units=192,
        attention_units=128,
    )
    model.build()
    bias = np.zeros(v, "float32")
    bias[3] = -1e4  # never end: every sentence decodes the full length
    model.output_projection.bias.assign(bias)
    source = rng.randint(4, v, size=(FLAGS.decode_batch, 20)).astype("int32")
    n = FLAGS.decode_batch
    length = FLAGS.decode_length
    results = {}
    configs = [("greedy", 1), ("beam", 4), ("beam", 8)]
    for kind, width in configs:
        for compiled in (True, False):
            if FLAGS.quick and not compiled and width == 8:
                continue

            def decode():
                if kind == "greedy":
                    return model.greedy_decode(
                        source, max_length=length, compiled=compiled
                    )
                return model.beam_search(
                    source,
                    beam_width=width,
                    max_length=length,
                    compiled=compiled,
                )

            decode()  # trace
            reps = 1 if (FLAGS.quick or not compiled) else 3
            best = float("inf")
            for _ in range(reps):
                start = time.perf_counter()
                decode()
                best = min(best, time.perf_counter() - start)
            name = "greedy" if kind == "greedy" else f"beam {width}"
            results[(name, compiled)] = n / best
    return results


def main(_):
    if FLAGS.quick:
        FLAGS.steps, FLAGS.repeats = 3, 1
    print(
        f"batch {FLAGS.batch_size}, Tq {FLAGS.query_length}, Tv "
        f"{FLAGS.source_length}, dim {FLAGS.dim}, units {FLAGS.units}"
    )
    train = training_benchmark()
    print(
        "\n| attention training step | kdl ms | Keras Dense+Additive ms "
        "| kdl / Keras |"
    )
    print("|---|---|---|---|")
    for jit, best in train.items():
        print(
            f"| jit_compile={jit} | {1e3 * best['kdl']:.2f} | "
            f"{1e3 * best['keras']:.2f} | {best['kdl'] / best['keras']:.2f}x |"
        )
    decoding = decoding_benchmark()
    print(
        f"\n| decoding ({FLAGS.decode_batch} sentences x "
        f"{FLAGS.decode_length} tokens, vocab {FLAGS.vocab_size}) | "
        "compiled sent/s | eager sent/s | speed-up |"
    )
    print("|---|---|---|---|")
    for name in ("greedy", "beam 4", "beam 8"):
        fast = decoding.get((name, True))
        slow = decoding.get((name, False))
        if fast is None:
            continue
        slow_txt = f"{slow:.1f}" if slow else "-"
        ratio = f"{fast / slow:.1f}x" if slow else "-"
        print(f"| {name} | {fast:.1f} | {slow_txt} | {ratio} |")


if __name__ == "__main__":
    define_flags()
    app.run(main)
