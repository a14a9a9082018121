"""python benchmarks/adaptive_softmax.py --repeats=5 --publish

Measures, in one run on this machine, `kdl.layers.AdaptiveSoftmax` (Grave
et al. 2017) against the full softmax in an LSTM language model
(`kdl.models.RNNLanguageModel(..., "lstm", 100, embedding_dim=100)`,
`softmax="full"` vs `softmax="adaptive"`, Adam 3e-3, clipnorm 1, no XLA):

1. `--parts=speed`: the training step (`fit`, batch 64 x BPTT 30) at
   V = 10K and 50K words on synthetic Zipfian token ids (p(k) ~ 1/(k+1),
   rank k; real text puts less mass in the tail, see the quality part, so
   this is the harder case). The four models are timed over `--steps`
   batches after a warm-up, interleaved `--repeats` times in a shuffled
   order; the speed-up full / adaptive is taken per repeat: median
   [min, max]. Goals: >= 2.5x at 10K, >= 5x at 50K.
2. `--parts=quality`: validation perplexity after the same training tokens
   (`--quality_epochs` passes, stateful truncated BPTT) on
   `kdl.datasets.load_text("austen")` at word level (10K vocabulary, ids
   in frequency order), both models from the same seed. Goal: adaptive
   within 3% of full (ratio <= 1.03). One run, ~5 minutes on the idle
   2-core machine at the default 2 epochs.

Cutoffs (`--cutoffs`, "V:c1,c2;..."): 10K -> [1000, 4000], 50K ->
[2000, 10000]; `div_value` 4 (the paper's and PyTorch's). `--quick`: a
trial in about a minute (3 steps, 1 repeat, 1/20 of the quality budget;
never publishable). `--publish` writes
benchmarks/results/adaptive_softmax.json.
"""

import os
import sys
import time

import keras
import numpy as np
from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kdl  # noqa: E402
from benchmarks import common  # noqa: E402
from kdl import training  # noqa: E402

FLAGS = flags.FLAGS
DEFAULT_CUTOFFS = "10000:1000,4000;50000:2000,10000"
QUICK = {"steps": 3, "repeats": 1, "train_tokens": 30720, "eval_tokens": 7680}


def define_flags():
    flags.DEFINE_list("parts", ["speed", "quality"], "What: speed, quality.")
    flags.DEFINE_integer("steps", 20, "Timed training steps per measurement.")
    flags.DEFINE_integer("repeats", 5, "Interleaved repeats (median reported).")
    flags.DEFINE_bool(
        "publish", False, "Write benchmarks/results/adaptive_softmax.json."
    )
    flags.DEFINE_bool(
        "quick", False, "A trial: 3 steps, 1 repeat, tiny quality."
    )
    flags.DEFINE_integer("batch_size", 64, "Sequences per batch.")
    flags.DEFINE_integer("seq_len", 30, "BPTT length.")
    flags.DEFINE_integer("units", 100, "LSTM units.")
    flags.DEFINE_integer("embedding_dim", 100, "Input embedding size.")
    flags.DEFINE_list("vocab_sizes", ["10000", "50000"], "Speed: vocabularies.")
    flags.DEFINE_string("cutoffs", DEFAULT_CUTOFFS, "Cutoffs per vocabulary.")
    flags.DEFINE_float("zipf_exponent", 1.0, "Speed: p(rank k) ~ 1/(k+1)^s.")
    flags.DEFINE_float("learning_rate", 3e-3, "Adam learning rate.")
    flags.DEFINE_integer("quality_vocab", 10000, "Quality: vocabulary size.")
    flags.DEFINE_integer("quality_epochs", 2, "Quality: passes over the data.")


def parse_cutoffs(spec):
    """`--cutoffs` -> {vocab: cutoffs}.

    "10000:1000,4000;50000:2000" -> {10000: [1000, 4000], 50000: [2000]}.
    """
    out = {}
    for item in filter(None, spec.split(";")):
        vocab, cuts = item.split(":")
        out[int(vocab)] = [int(c) for c in cuts.split(",")]
    return out


def language_model(vocab_size, softmax, cutoffs, stateful=False):
    model = kdl.models.RNNLanguageModel(
        vocab_size,
        "lstm",
        FLAGS.units,
        embedding_dim=FLAGS.embedding_dim,
        stateful=stateful,
        batch_size=FLAGS.batch_size if stateful else None,
        softmax=softmax,
        cutoffs=cutoffs if softmax == "adaptive" else None,
    )
    loss = None
    if softmax == "full":
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        optimizer=keras.optimizers.Adam(FLAGS.learning_rate, clipnorm=1.0),
        loss=loss,
        jit_compile=False,
    )
    return model


def zipf_ids(vocab_size, size, exponent, rng):
    p = 1.0 / np.arange(1, vocab_size + 1) ** exponent
    return rng.choice(vocab_size, size=size, p=p / p.sum()).astype("int32")


def step_times(vocab_sizes, cutoffs, steps, repeats):
    """Seconds per training step, {name: [one per repeat]}."""
    rng = np.random.default_rng(0)
    b, t = FLAGS.batch_size, FLAGS.seq_len
    runs = {}
    for vocab in vocab_sizes:
        ids = zipf_ids(vocab, b * t * steps + 1, FLAGS.zipf_exponent, rng)
        ds = kdl.datasets.tbptt_dataset(ids, b, t).cache()
        for softmax in ("full", "adaptive"):
            keras.utils.set_random_seed(0)
            model = language_model(vocab, softmax, cutoffs[vocab])
            model.fit(ds.take(2), verbose=0)  # build + trace

            def go(model=model, ds=ds):
                model.fit(ds, verbose=0)

            runs[f"{softmax} softmax, V={vocab}"] = go
    times = common.interleaved(runs, repeats)
    return {k: [s / steps for s in v] for k, v in times.items()}


def quality(cutoffs, epochs, train_tokens=0, eval_tokens=0):
    """Valid perplexity of full vs adaptive after the same tokens."""
    data = kdl.datasets.load_text("austen", vocab_size=FLAGS.quality_vocab)
    vocab = len(data.vocab)
    train, valid = data.train, data.valid
    if train_tokens:
        train, valid = train[: train_tokens + 1], valid[: eval_tokens + 1]
    b, t = FLAGS.batch_size, FLAGS.seq_len
    train_ds = kdl.datasets.tbptt_dataset(train, b, t).cache()
    valid_ds = kdl.datasets.tbptt_dataset(valid, b, t).cache()
    out = {
        "corpus": repr(data),
        "vocab_size": vocab,
        "cutoffs": cutoffs[vocab],
        "epochs": epochs,
        "train_tokens_per_epoch": int(train_ds.cardinality()) * b * t,
    }
    reset = kdl.models.ResetStatesCallback()
    for softmax in ("full", "adaptive"):
        keras.utils.set_random_seed(0)
        model = language_model(vocab, softmax, cutoffs[vocab], stateful=True)
        start = time.perf_counter()
        history = model.fit(
            train_ds, epochs=epochs, callbacks=[reset], verbose=2
        )
        seconds = time.perf_counter() - start
        out[softmax] = {
            "valid_perplexity": kdl.models.evaluate_perplexity(model, valid_ds),
            "train_loss": [float(v) for v in history.history["loss"]],
            "train_seconds": seconds,
            "train_tokens_per_second": out["train_tokens_per_epoch"]
            * epochs
            / seconds,
            "parameters": model.count_params(),
        }
        print(softmax, out[softmax])
    out["perplexity_ratio"] = (
        out["adaptive"]["valid_perplexity"] / out["full"]["valid_perplexity"]
    )
    return out


def main(_):
    clock = training.Clock()
    common.check_publish(FLAGS.publish, FLAGS.repeats, FLAGS.quick)
    steps, repeats = FLAGS.steps, FLAGS.repeats
    train_tokens = eval_tokens = 0
    epochs = FLAGS.quality_epochs
    if FLAGS.quick:
        steps, repeats = QUICK["steps"], QUICK["repeats"]
        train_tokens, eval_tokens = QUICK["train_tokens"], QUICK["eval_tokens"]
        epochs = 1
    cutoffs = parse_cutoffs(FLAGS.cutoffs)
    rows, details = [], {"cutoffs": {str(k): v for k, v in cutoffs.items()}}
    details["model"] = (
        f"Embedding({FLAGS.embedding_dim}) -> LSTM({FLAGS.units}) -> softmax, "
        f"batch {FLAGS.batch_size} x {FLAGS.seq_len}, Adam, no XLA"
    )
    if "speed" in FLAGS.parts:
        vocab_sizes = [int(v) for v in FLAGS.vocab_sizes]
        times = step_times(vocab_sizes, cutoffs, steps, repeats)
        details["ms_per_step"] = {
            k: common.summary([1000 * s for s in v]) for k, v in times.items()
        }
        for vocab in vocab_sizes:
            full, fast = (
                f"full softmax, V={vocab}",
                f"adaptive softmax, V={vocab}",
            )
            stats = common.ratio(times, full, fast)
            details[f"speed-up V={vocab}"] = stats
            goal = 5.0 if vocab >= 50000 else 2.5
            rows.append(
                common.headline(
                    f"LSTM LM training step, full / adaptive softmax, "
                    f"V={vocab // 1000}K",
                    stats,
                    f">= {goal:g}",
                    stats["median"] >= goal,
                )
            )
    if "quality" in FLAGS.parts:
        result = quality(cutoffs, epochs, train_tokens, eval_tokens)
        details["quality"] = result
        r = result["perplexity_ratio"]
        rows.append(
            common.headline(
                f"austen valid perplexity, adaptive / full, "
                f"V={result['vocab_size'] // 1000}K, {epochs} epochs",
                {"median": r, "min": r, "max": r},
                "<= 1.03",
                r <= 1.03,
            )
        )
    common.write(
        "adaptive_softmax",
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
