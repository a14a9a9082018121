"""python recipes/scrn_lm.py --output_dir=out/scrn_lm

The project's main recipe: Mikolov et al. 2014, "Learning Longer Memory in
Recurrent Neural Networks", Table 1 (Penn Treebank test perplexity, 10K
vocabulary): SRN(100) 129, LSTM(100) 115, SCRN(100 hidden + 40 context) 115.

Trains SRN(100) (Keras SimpleRNN, sigmoid), LSTM(100) and SCRN(100+40)
word-level language models with stateful truncated BPTT over the default
word corpus (Jane Austen's novels, 10K vocabulary; `--corpus=ptb
--data_dir=<folder with ptb.{train,valid,test}.txt>` for the real Penn
Treebank), then prints and saves the paper's table (model, hidden units,
parameters, valid/test perplexity, training tokens/s) as `table.md` and
`results.json`, and plots the validation perplexity per epoch of the three
(`valid_perplexity.png`).

The defaults (10 epochs of 122,880 tokens, i.e. 2 passes over Austen,
batch 64, BPTT 30, Adam 3e-3, clipnorm 1) took 12 minutes of wall time on
the 2-core CPU while the test suite ran beside it (test perplexity SRN 200,
LSTM 226, SCRN 191). Raise --epochs / --epoch_tokens for lower
perplexities. `--smoke`: seconds of CPU.
`--tune` searches hidden/context sizes, alpha, learning rate, BPTT length
and clipnorm of the `--tune_model` with
`kdl.tuning.SCRNLanguageModelHyperModel`.

Differences from the paper, on purpose: the inputs go through a learned
embedding of size `--embedding_dim` (the paper feeds one-hot vectors, i.e.
an embedding of size units / 4 x units / units + context), Adam instead of
plain SGD (far fewer epochs fit into 30 CPU minutes), and the default
corpus is not PTB (PTB is not shipped by any installable package).
"""

import json
import os
import time

import keras
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training
from kdl.models.reset_states_callback import ResetStatesCallback
from kdl.models.language_model import RNNLanguageModel
from kdl.models.language_model import evaluate_perplexity
from kdl.models.language_model import perplexity
from kdl.tuning.scrn_lm import SCRNLanguageModelHyperModel
from kdl.tuning.scrn_lm import make_optimizer

FLAGS = flags.FLAGS

PAPER_PTB_TEST = {"srn": 129.0, "lstm": 115.0, "scrn": 115.0}
NAMES = {"srn": "SRN", "lstm": "LSTM", "scrn": "SCRN"}


def define_flags():
    training.define_common_flags(
        output_dir="out/scrn_lm", epochs=10, batch_size=64
    )
    if "corpus" in FLAGS:
        return
    flags.DEFINE_string(
        "corpus",
        "austen",
        "kdl.datasets.load_text name: austen (default), ptb, web_bible, "
        "shakespeare, tiny_shakespeare.",
    )
    flags.DEFINE_string(
        "data_dir",
        None,
        "Folder (or file) with the corpus, e.g. the PTB folder holding "
        "ptb.train.txt, ptb.valid.txt, ptb.test.txt. Default: the "
        "installed offline package / the kdl cache.",
    )
    flags.DEFINE_enum("level", "word", ["word", "char"], "Token level.")
    flags.DEFINE_integer("vocab_size", 10000, "Vocabulary size.", lower_bound=3)
    flags.DEFINE_list(
        "models", ["srn", "lstm", "scrn"], "Models to train: srn,lstm,scrn."
    )
    flags.DEFINE_integer("units", 100, "Hidden units.", lower_bound=1)
    flags.DEFINE_integer(
        "context_units", 40, "SCRN context units.", lower_bound=1
    )
    flags.DEFINE_float("alpha", 0.95, "SCRN context decay in [0, 1].")
    flags.DEFINE_integer(
        "embedding_dim", 100, "Input embedding size.", lower_bound=1
    )
    flags.DEFINE_integer("bptt", 30, "Truncated-BPTT length.", lower_bound=1)
    flags.DEFINE_enum("optimizer", "adam", ["adam", "sgd"], "Optimizer.")
    flags.DEFINE_float("learning_rate", 3e-3, "Initial learning rate.")
    flags.DEFINE_float(
        "clipnorm", 1.0, "Gradient norm clipping (0: off).", lower_bound=0
    )
    flags.DEFINE_float(
        "lr_divisor",
        2.0,
        "Divide the learning rate by this when the validation loss does "
        "not improve (ReduceLROnPlateau).",
        lower_bound=1.0,
    )
    flags.DEFINE_integer(
        "epoch_tokens",
        122880,
        "Training tokens per epoch, read on along the (repeated) training "
        "stream, so that validation and the learning-rate schedule act "
        "several times per pass over the corpus (0: an epoch is one pass).",
        lower_bound=0,
    )
    flags.DEFINE_integer(
        "valid_tokens",
        20000,
        "Validation tokens used after every epoch (0: all); the final "
        "valid/test perplexities always use the whole splits.",
        lower_bound=0,
    )
    flags.DEFINE_integer(
        "max_train_tokens",
        0,
        "Use only the first N training tokens (0: all).",
        lower_bound=0,
    )
    flags.DEFINE_bool("jit_compile", True, "Compile train steps with XLA.")
    flags.DEFINE_integer(
        "sample_length",
        40,
        "Tokens of generated text per model.",
        lower_bound=0,
    )
    flags.DEFINE_enum(
        "tune_model", "scrn", ["srn", "lstm", "scrn"], "Model --tune searches."
    )


class _EpochTimer(keras.callbacks.Callback):
    """Training seconds per epoch (validation excluded)."""

    def __init__(self):
        super().__init__()
        self.seconds = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        if self._start is not None:
            self.seconds.append(time.perf_counter() - self._start)
            self._start = None

    def on_epoch_end(self, epoch, logs=None):
        if self._start is not None:  # no validation
            self.seconds.append(time.perf_counter() - self._start)
            self._start = None


def _load(flags_obj, datasets_override):
    if datasets_override is not None:
        return datasets_override
    return kdl.datasets.load_text(
        flags_obj.corpus,
        level=flags_obj.level,
        vocab_size=flags_obj.vocab_size,
        path=flags_obj.data_dir,
    )


def _settings(flags_obj, data):
    """Sizes after --smoke / --max_train_tokens."""
    s = dict(
        epochs=flags_obj.epochs,
        batch_size=flags_obj.batch_size,
        bptt=flags_obj.bptt,
        units=flags_obj.units,
        context_units=flags_obj.context_units,
        embedding_dim=flags_obj.embedding_dim,
        train=np.asarray(data.train),
        valid=np.asarray(data.valid),
        test=np.asarray(data.test),
        epoch_tokens=flags_obj.epoch_tokens,
        valid_tokens=flags_obj.valid_tokens,
    )
    if flags_obj.max_train_tokens:
        s["train"] = s["train"][: flags_obj.max_train_tokens + 1]
    if flags_obj.smoke:
        s.update(epochs=1, batch_size=4, bptt=8, epoch_tokens=0)
        s.update(units=8, context_units=4, embedding_dim=8)
        n = 4 * 8 * 6 + 1
        s.update(train=s["train"][:n], valid=s["valid"][:n], test=s["test"][:n])
    return s


def _train_one(name, flags_obj, env, s, vocab_size, sizes):
    out = env.path(f"train_{name}")
    done = os.path.join(out, "result.json")
    key = {
        "sizes": sizes,
        "epochs": s["epochs"],
        "batch_size": s["batch_size"],
        "bptt": s["bptt"],
        "optimizer": flags_obj.optimizer,
        "learning_rate": flags_obj.learning_rate,
        "clipnorm": flags_obj.clipnorm,
        "train_tokens": int(len(s["train"])),
        "epoch_tokens": s["epoch_tokens"],
        "valid_tokens": s["valid_tokens"],
        "seed": flags_obj.seed,
    }
    if os.path.exists(done):  # finished in an earlier (killed) run
        with open(done) as f:
            previous = json.load(f)
        if previous.get("key") == key:
            print(f"{name}: reusing the finished run in {out}")
            return previous["result"]
    b, t = s["batch_size"], s["bptt"]
    train = kdl.datasets.tbptt_dataset(s["train"], b, t)
    valid = kdl.datasets.tbptt_dataset(s["valid"], b, t)
    test = kdl.datasets.tbptt_dataset(s["test"], b, t)
    epoch_valid = valid
    if s["valid_tokens"]:
        epoch_valid = kdl.datasets.tbptt_dataset(
            s["valid"][: s["valid_tokens"] + 1], b, t
        )
    steps = int(train.cardinality())
    if s["epoch_tokens"]:
        steps = max(1, s["epoch_tokens"] // (b * t))
        train = train.repeat()
    # A stateful RNN keeps one state row per sequence row *per replica*:
    # under tf.distribute each replica sees batch_size / replicas rows.
    replicas = env.strategy.num_replicas_in_sync
    if b % replicas:
        raise ValueError(
            f"--batch_size must be divisible by the {replicas} replicas. "
            f"Received: batch_size={b}"
        )
    keras.utils.set_random_seed(flags_obj.seed)
    with env.strategy.scope():
        model = RNNLanguageModel(
            vocab_size,
            name,
            s["units"],
            s["context_units"],
            alpha=flags_obj.alpha,
            embedding_dim=s["embedding_dim"],
            stateful=True,
            batch_size=b // replicas,
            name=f"{name}_lm",
        )
        model.compile(
            optimizer=make_optimizer(
                flags_obj.optimizer, flags_obj.learning_rate, flags_obj.clipnorm
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=flags_obj.jit_compile and not flags_obj.smoke,
        )
        model.build((b // replicas, t))
    timer = _EpochTimer()
    callbacks = training.standard_callbacks(
        out,
        extra=[
            ResetStatesCallback(),
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss",
                factor=1.0 / flags_obj.lr_divisor,
                patience=0,
                min_delta=1e-3,
                verbose=1,
            ),
            timer,
        ],
    )
    print(
        f"{name}: {model.count_params():,} parameters, {steps} batches of "
        f"{b}x{t} tokens per epoch"
    )
    history = model.fit(
        train,
        validation_data=epoch_valid,
        epochs=s["epochs"],
        steps_per_epoch=steps,
        callbacks=callbacks,
        verbose=2,
    )
    valid_ppl = evaluate_perplexity(model, valid)
    test_ppl = evaluate_perplexity(model, test)
    secs = timer.seconds[1:] or timer.seconds  # first epoch compiles
    tokens_per_s = steps * b * t / float(np.mean(secs)) if secs else None
    val_losses = history.history.get("val_loss", [])
    result = {
        "model": NAMES[name],
        "hidden": sizes,
        "parameters": int(model.count_params()),
        "valid_perplexity": valid_ppl,
        "test_perplexity": test_ppl,
        "tokens_per_second": tokens_per_s,
        "epochs": len(val_losses),
        "valid_perplexity_per_epoch": [perplexity(v) for v in val_losses],
        "train_tokens_seen": steps * b * t * len(val_losses),
        "train_perplexity_per_epoch": [
            perplexity(v) for v in history.history.get("loss", [])
        ],
        "paper_ptb_test_perplexity": PAPER_PTB_TEST[name],
    }
    sample_length = flags_obj.sample_length
    if flags_obj.smoke:
        sample_length = min(sample_length, 5)
    if sample_length:
        prime = s["test"][:5]
        ids = model.generate(
            prime, sample_length, temperature=0.8, seed=flags_obj.seed
        )
        result["sample_ids"] = ids.tolist()
    os.makedirs(out, exist_ok=True)
    with open(done, "w") as f:
        json.dump({"key": key, "result": result}, f)
    return result


def _table(rows):
    lines = [
        "| model | hidden units | parameters | valid ppl | test ppl | "
        "tokens/s | paper (PTB test) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tps = r["tokens_per_second"]
        lines.append(
            f"| {r['model']} | {r['hidden']} | {r['parameters']:,} | "
            f"{r['valid_perplexity']:.1f} | {r['test_perplexity']:.1f} | "
            f"{tps:,.0f} | {r['paper_ptb_test_perplexity']:.0f} |"
            if tps
            else f"| {r['model']} | {r['hidden']} | {r['parameters']:,} | "
            f"{r['valid_perplexity']:.1f} | {r['test_perplexity']:.1f} | "
            f"- | {r['paper_ptb_test_perplexity']:.0f} |"
        )
    return "\n".join(lines)


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override)
    start = time.perf_counter()
    data = _load(flags_obj, datasets_override)
    vocab = data.vocab
    vocab_size = len(vocab)
    s = _settings(flags_obj, data)
    for name in flags_obj.models:
        if name not in NAMES:
            raise ValueError(
                f"--models takes srn, lstm, scrn. Received: models="
                f"{flags_obj.models}"
            )
    if flags_obj.tune:
        hypermodel = SCRNLanguageModelHyperModel(
            s["train"],
            s["valid"],
            vocab_size,
            batch_size=s["batch_size"],
            rnn=flags_obj.tune_model,
            optimizer=flags_obj.optimizer,
            defaults=dict(
                units=s["units"],
                context_units=s["context_units"],
                alpha=flags_obj.alpha,
                learning_rate=flags_obj.learning_rate,
                bptt=s["bptt"],
                clipnorm=flags_obj.clipnorm,
            ),
        )
        return training.run_tuner(
            hypermodel,
            env.path("tune"),
            tuner=flags_obj.tuner,
            max_trials=flags_obj.max_trials,
            seed=flags_obj.seed,
            epochs=s["epochs"],
            verbose=2,
        )
    rows = []
    for name in flags_obj.models:
        sizes = (
            f"{s['units']}+{s['context_units']}"
            if name == "scrn"
            else str(s["units"])
        )
        row = _train_one(name, flags_obj, env, s, vocab_size, sizes)
        if "sample_ids" in row:
            row["sample"] = vocab.decode(row["sample_ids"])
            print(f"{row['model']} sample: {row['sample']}")
        rows.append(row)
    table = _table(rows)
    print(table)
    with open(env.path("table.md"), "w") as f:
        f.write(table + "\n")
    training.plot_curves(
        {r["model"]: r["valid_perplexity_per_epoch"] for r in rows},
        env.path("valid_perplexity.png"),
        ylabel="validation perplexity",
        title=f"{flags_obj.corpus} ({flags_obj.level}, vocab {vocab_size})",
    )
    results = {
        "corpus": flags_obj.corpus,
        "level": flags_obj.level,
        "vocab_size": vocab_size,
        "train_tokens": int(len(s["train"])),
        "epoch_tokens": s["epoch_tokens"],
        "epochs": s["epochs"],
        "batch_size": s["batch_size"],
        "bptt": s["bptt"],
        "optimizer": flags_obj.optimizer,
        "learning_rate": flags_obj.learning_rate,
        "smoke": bool(flags_obj.smoke),
        "rows": rows,
        "table": table,
        "wall_seconds": time.perf_counter() - start,
    }
    training.write_results(env.output_dir, results)
    print(f"wall time: {results['wall_seconds']:.0f} s")
    return results


def main(_):
    run(FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
