r"""python benchmarks/pipeline_throughput.py [--seconds=5] [--output=f.json]

For each `kdl.datasets` pipeline, in one run: the examples/s that the
`tf.data` pipeline alone delivers (iterating it, nothing else running)
vs the examples/s that the matching model consumes in training
(`train_on_batch` on one batch already in memory, so the input costs
nothing). Goal (issue 3): the pipeline is >= 5x the model's rate, so input
is never the bottleneck.

Pipelines and models (the recipes' default sizes):

* `tbptt_dataset` on austen (word level, batch 64, bptt 30) vs
  `kdl.models.RNNLanguageModel("scrn", 100, 40)` stateful (recipes/scrn_lm);
* `image_dataset` on fashion_mnist (batch 64, augment) vs the batch-norm
  convnet (recipes/batchnorm, `kdl.tuning.batchnorm.build_convnet("bn")`);
* `image_dataset(with_index=True)` on fashion_mnist (batch 128) vs
  `kdl.models.GLO` (recipes/glo, `kdl.tuning.glo.build_glo`);
* `translation_dataset` on kjv_rv1909 (batch 64, max_length 20, vocab 4000)
  vs `kdl.models.Seq2SeqAttention` (recipes/nmt_attention preset).

An "example" is a sequence row of seq_len tokens (tbptt), an image, or a
sentence pair. Each rate is measured for about `--seconds` after a warm-up
(tracing/compilation excluded). Takes about 1-2 minutes on a 2-core CPU
(the datasets are loaded from the kdl cache or the installed packages).
"""

import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import kdl  # noqa: E402

FLAGS = flags.FLAGS
GOAL = 5.0


def define_flags():
    if "seconds" in FLAGS:
        return
    flags.DEFINE_float("seconds", 5.0, "Seconds per measurement.")
    flags.DEFINE_string("output", "", "Optional JSON file for the results.")


def pipeline_rate(ds, seconds, batch_of=lambda b: len(b[0])):
    """Examples/s of iterating `ds` (repeated), after one warm-up batch."""
    it = iter(ds.repeat())
    next(it)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += int(batch_of(next(it)))
    return n / (time.perf_counter() - start)


def model_rate(model, batch, batch_size, seconds, reset=None):
    """Examples/s of `train_on_batch` on one in-memory batch."""
    x, y = batch
    for _ in range(3):  # Trace, compile, warm up.
        model.train_on_batch(x, y)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        model.train_on_batch(x, y)
        steps += 1
        if reset is not None and steps % 50 == 0:
            reset()
    return steps * batch_size / (time.perf_counter() - start)


def bench_tbptt(seconds):
    from kdl.models.language_model import RNNLanguageModel
    from kdl.models.reset_states_callback import reset_rnn_states

    data = kdl.datasets.load_text("austen", vocab_size=10000)
    b, t = 64, 30
    ds = kdl.datasets.tbptt_dataset(data.train, b, t)
    pipe = pipeline_rate(ds, seconds)
    model = RNNLanguageModel(
        len(data.vocab), "scrn", 100, 40, stateful=True, batch_size=b
    )
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    batch = next(iter(ds))
    rate = model_rate(
        model, batch, b, seconds, reset=lambda: reset_rnn_states(model)
    )
    return "tbptt_dataset austen (b64 x 30)", "SCRN LM 100+40", pipe, rate


def bench_images(seconds):
    from kdl.tuning import batchnorm

    (x, y), _ = kdl.datasets.load_images("fashion_mnist")
    b = 64
    ds = kdl.datasets.image_dataset(x, y, batch_size=b, augment=True)
    pipe = pipeline_rate(ds, seconds)
    model = batchnorm.build_convnet("bn")
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    rate = model_rate(model, next(iter(ds)), b, seconds)
    return (
        "image_dataset fashion_mnist (b64, augment)",
        "BN convnet",
        pipe,
        rate,
    )


def bench_glo(seconds):
    from kdl.tuning import glo

    (x, _), _ = kdl.datasets.load_images("fashion_mnist")
    b = 128
    ds = kdl.datasets.image_dataset(x, batch_size=b, with_index=True)
    pipe = pipeline_rate(ds, seconds)
    model = glo.build_glo(len(x))
    rate = model_rate(model, next(iter(ds)), b, seconds)
    return (
        "image_dataset fashion_mnist (b128, with_index)",
        "GLO (DCGAN)",
        pipe,
        rate,
    )


def bench_translation(seconds):
    from kdl.tuning import nmt

    data = kdl.datasets.load_pairs("kjv_rv1909")
    vec = kdl.datasets.TranslationVectorizers.adapt(data.train, 4000, 4000)
    b = 64
    ds = kdl.datasets.translation_dataset(
        data.train, vec, batch_size=b, max_length=20
    )
    pipe = pipeline_rate(ds, seconds, batch_of=lambda e: e[1].shape[0])
    preset = nmt.PRESETS["kjv_rv1909"]
    model = kdl.models.Seq2SeqAttention(
        vec.source_vocab_size,
        vec.target_vocab_size,
        vec.start_id,
        vec.end_id,
        embedding_dim=preset["embedding_dim"],
        units=preset["units"],
        attention_units=preset["attention_units"],
        dropout=preset["dropout"],
    )
    nmt.compile_translation_model(model, preset["learning_rate"])
    # A full batch of typical length (the bucket of the longest batches).
    batch = max(
        (e for _, e in zip(range(20), ds) if e[1].shape[0] == b),
        key=lambda e: e[1].shape[1],
    )
    rate = model_rate(model, batch, b, seconds)
    return (
        "translation_dataset kjv_rv1909 (b64, len<=20)",
        "Seq2SeqAttention GRU 192",
        pipe,
        rate,
    )


def measure(seconds):
    rows = []
    for bench in (bench_tbptt, bench_images, bench_glo, bench_translation):
        name, model, pipe, rate = bench(seconds)
        rows.append(
            {
                "pipeline": name,
                "model": model,
                "pipeline_examples_per_s": pipe,
                "model_examples_per_s": rate,
                "ratio": pipe / rate,
            }
        )
        keras.backend.clear_session()
    return {
        "rows": rows,
        "seconds": seconds,
        "tensorflow": __import__("tensorflow").__version__,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
    }


def markdown(result):
    lines = [
        "| pipeline | model | pipeline ex/s | model ex/s | ratio (goal >= 5) |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        ok = "ok" if r["ratio"] >= GOAL else "MISSED"
        lines.append(
            f"| {r['pipeline']} | {r['model']} | "
            f"{r['pipeline_examples_per_s']:,.0f} | "
            f"{r['model_examples_per_s']:,.0f} | "
            f"{r['ratio']:.1f}x {ok} |"
        )
    return "\n".join(lines)


def main(_):
    result = measure(FLAGS.seconds)
    print(markdown(result))
    print(f"(load average at the end: {result['load_average']:.1f})")
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    define_flags()
    app.run(main)
