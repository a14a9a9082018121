"""python benchmarks/pipeline_throughput.py --repeats=5 --publish

Is input ever the bottleneck? For each `kdl.datasets` pipeline, in one
run: the examples/s that the `tf.data` pipeline alone delivers (pulling
batches from it, nothing else running) over the examples/s that the
matching recipe model consumes in training (`train_on_batch` on one batch
already in memory, so its input costs nothing). Goal (issue 3): >= 5x for
every pipeline.

Pipelines and models, at the recipes' default sizes and compile settings:

* tbptt: `tbptt_dataset` on austen (words, vocabulary 10K, batch 64, bptt
  30) vs `kdl.models.build_language_model("scrn", 100, 40)`, stateful,
  `jit_compile=True` (recipes/scrn_lm.py trains with XLA by default);
* images: `image_dataset` on fashion_mnist (batch 64) vs
  `kdl.models.build_normalized_convnet("bn")` (recipes/batchnorm.py);
* glo: `image_dataset(with_index=True)` on 20K fashion_mnist images (batch
  128) vs `kdl.models.build_glo` (recipes/glo.py);
* translation: `translation_dataset` on kjv_rv1909 (batch 64, max_length
  20, vocabulary 4000) vs `kdl.models.build_translation_model` with the
  kjv_rv1909 preset (recipes/nmt_attention.py), on a full batch of the
  longest bucket.

An example is a row of `bptt` tokens (tbptt), an image, or a sentence
pair. Every pipeline and every model is warmed up (tracing, compilation,
shuffle buffers), then, once per repeat and all in a shuffled order, each
model runs `--steps` steps and each pipeline delivers `--pipeline_steps`
batches (many: the batches its prefetch buffer filled while the others
ran come for free, so a short pull would overstate its rate); the ratio
pipeline rate / model rate is taken per repeat and reported as median
[min, max] over `--repeats` (>= 5). `--datasets` picks a subset;
`--quick` (3 model steps, 30 batches, 2 repeats) is a trial, never
published. `--publish` writes benchmarks/results/
pipeline_throughput.json. The datasets load from the kdl cache or the
installed packages (`kdl.datasets`).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kdl  # noqa: E402
from benchmarks import common  # noqa: E402
from kdl import training  # noqa: E402
from kdl.tuning import nmt  # noqa: E402

FLAGS = flags.FLAGS
GOAL = 5.0
DATASETS = ("tbptt", "images", "glo", "translation")


def define_flags():
    flags.DEFINE_list("datasets", list(DATASETS), f"Of {list(DATASETS)}.")
    flags.DEFINE_integer("steps", 50, "Model steps per repeat.")
    flags.DEFINE_integer("pipeline_steps", 500, "Batches pulled per repeat.")
    flags.DEFINE_integer("repeats", 5, "Interleaved repeats (median kept).")
    flags.DEFINE_bool("publish", False, "Write the results JSON.")
    flags.DEFINE_bool("quick", False, "3/30 steps, 2 repeats (a trial).")


def batch_size_of(batch):
    """Examples in a batch: the leading size of its first tensor."""
    return int(tf.nest.flatten(batch)[0].shape[0])


def pipeline_runner(ds, steps):
    """Warms the pipeline up; returns (callable pulling `steps` batches,
    list receiving the examples pulled per call)."""
    it = iter(ds.repeat())
    batch_size_of(next(it))
    examples = []

    def go():
        examples.append(sum(batch_size_of(next(it)) for _ in range(steps)))

    return go, examples


def model_runner(model, batch, steps, reset=None):
    """Warms the model up; returns a callable of `steps` training steps on
    the in-memory `batch` (`reset()` first, e.g. stateful RNN states)."""
    x, y = batch

    def go():
        if reset is not None:
            reset()
        for _ in range(steps):
            model.train_on_batch(x, y)

    for _ in range(3):  # trace, compile, warm up
        model.train_on_batch(x, y)
    return go


def tbptt():
    data = kdl.datasets.load_text("austen", vocab_size=10000)
    ds = kdl.datasets.tbptt_dataset(data.train, 64, 30)
    model = kdl.models.build_language_model(
        len(data.vocab),
        "scrn",
        100,
        40,
        embedding_dim=100,
        batch_size=64,
        learning_rate=3e-3,
        clipnorm=1.0,
        jit_compile=True,
        seq_len=30,
    )
    reset = kdl.models.ResetStatesCallback()
    reset.set_model(model)
    batch = next(iter(ds))
    what = "tbptt_dataset austen (b64 x 30) / SCRN LM 100+40 (XLA)"
    return what, ds, model, batch, lambda: reset.on_epoch_begin(0)


def images():
    (x, y), _ = kdl.datasets.load_images("fashion_mnist")
    ds = kdl.datasets.image_dataset(x, y, batch_size=64)
    model = kdl.models.build_normalized_convnet("bn")
    model.compile(
        "adam",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,  # the recipe's default
    )
    what = "image_dataset fashion_mnist (b64) / BN convnet"
    return what, ds, model, next(iter(ds)), None


def glo():
    (x, _), _ = kdl.datasets.load_images("fashion_mnist")
    x = x[:20000]
    ds = kdl.datasets.image_dataset(x, batch_size=128, with_index=True)
    model = kdl.models.build_glo(len(x))
    what = "image_dataset fashion_mnist (b128, with_index) / GLO (DCGAN)"
    return what, ds, model, next(iter(ds)), None


def translation():
    pairs = kdl.datasets.load_pairs("kjv_rv1909")
    vec = kdl.datasets.TranslationVectorizers.adapt(pairs.train, 4000, 4000)
    ds = kdl.datasets.translation_dataset(
        pairs.train, vec, batch_size=64, max_length=20
    )
    model = kdl.models.build_translation_model(
        vec.source_vocab_size,
        vec.target_vocab_size,
        vec.start_id,
        vec.end_id,
        **nmt.PRESETS["kjv_rv1909"],
    )
    # A full batch of typical length (the bucket of the longest batches).
    batch = max(
        (e for _, e in zip(range(20), ds) if batch_size_of(e) == 64),
        key=lambda e: e[1].shape[1],
    )
    what = "translation_dataset kjv_rv1909 (b64, len<=20) / Seq2SeqAttention"
    return what, ds, model, batch, None


BUILDERS = {
    "tbptt": tbptt,
    "images": images,
    "glo": glo,
    "translation": translation,
}


def measure(names, steps, pipeline_steps, repeats):
    """Examples/s per (dataset, "pipeline" | "model"), one per repeat."""
    runs, pulled, per_call, labels = {}, {}, {}, {}
    for name in names:
        keras.utils.set_random_seed(0)
        labels[name], ds, model, batch, reset = BUILDERS[name]()
        runs[(name, "pipeline")], pulled[name] = pipeline_runner(
            ds, pipeline_steps
        )
        runs[(name, "model")] = model_runner(model, batch, steps, reset)
        per_call[name] = batch_size_of(batch) * steps
    times = common.interleaved(runs, repeats)
    rates = {}
    for name in names:
        pipeline = zip(pulled[name], times[(name, "pipeline")])
        rates[(name, "pipeline")] = [n / t for n, t in pipeline]
        model = times[(name, "model")]
        rates[(name, "model")] = [per_call[name] / t for t in model]
    return rates, labels


def main(_):
    clock = training.Clock()
    common.check_publish(FLAGS.publish, FLAGS.repeats, FLAGS.quick)
    steps, repeats = FLAGS.steps, FLAGS.repeats
    pipeline_steps = FLAGS.pipeline_steps
    if FLAGS.quick:
        steps, pipeline_steps, repeats = 3, 30, 2
    names = [n for n in DATASETS if n in FLAGS.datasets]
    if not names or set(FLAGS.datasets) - set(DATASETS):
        raise app.UsageError(
            f"--datasets takes names of {list(DATASETS)}. "
            f"Received: {FLAGS.datasets}"
        )
    rates, labels = measure(names, steps, pipeline_steps, repeats)
    details = {
        "model_steps": steps,
        "pipeline_batches": pipeline_steps,
        "examples_per_second": {},
        "ratios": {},
    }
    rows = []
    for name in names:
        for part in ("pipeline", "model"):
            details["examples_per_second"][f"{name} {part}"] = common.summary(
                rates[(name, part)]
            )
        stats = common.ratio(rates, (name, "pipeline"), (name, "model"))
        details["ratios"][name] = stats
        rows.append(
            common.headline(
                f"pipeline examples/s / model examples/s: {labels[name]}",
                stats,
                f">= {GOAL}",
                stats["median"] >= GOAL,
            )
        )
    common.write(
        "pipeline_throughput",
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
