"""python recipes/char_rnn.py --output_dir=out/char_rnn

A character-level recurrent language model of Shakespeare's plays (the
lecture's char-RNN, after Karpathy's "The Unreasonable Effectiveness of
Recurrent Neural Networks", 2015) with samples at several temperatures
after every epoch: the lecture's "train more" progression from noise to
words to play-like lines. `--rnn=lstm` (default) or `--rnn=scrn`
(`kdl.layers.SCRN`, Mikolov et al. 2014) or `--rnn=srn`, through
`kdl.models.RNNLanguageModel` trained by stateful truncated BPTT over
`kdl.datasets.tbptt_dataset` (states carried across batches, reset every
epoch). Data: `kdl.datasets.load_text("shakespeare", level="char")`
(42 plays and poems, 4.0M training characters); the default run uses the
first `--train_chars` of the training split and of the validation split.

Writes samples.txt (every epoch x temperature), results.json (per-epoch
validation bits per character and the samples) and bpc.png. Default run
(LSTM 256, 1M characters, 4 epochs): measured 22 minutes wall (4
CPU-minutes of user time) on the 2-core CPU shared with other jobs (load
~16); `--smoke`: seconds. `--tune` searches with
`kdl.tuning.SCRNLanguageModelHyperModel` (shared with recipes/scrn_lm.py).
"""

import math

import keras
from absl import app
from absl import flags

import kdl
from kdl import training
from kdl.models.language_model import RNN_TYPES
from kdl.models.language_model import RNNLanguageModel
from kdl.models.language_model import evaluate_perplexity
from kdl.models.reset_states_callback import ResetStatesCallback

FLAGS = flags.FLAGS


def _define(define, name, *args, **kwargs):
    """Defines a flag unless another recipe (same process) already did."""
    if name not in FLAGS:
        define(name, *args, **kwargs)


def define_flags():
    training.define_common_flags(
        output_dir="out/char_rnn", epochs=4, batch_size=64
    )
    _define(
        flags.DEFINE_string, "corpus", "shakespeare", "load_text name (char)."
    )
    _define(flags.DEFINE_enum, "rnn", "lstm", RNN_TYPES, "Recurrent layer.")
    _define(flags.DEFINE_integer, "units", 256, "Hidden units.", 1)
    _define(flags.DEFINE_integer, "context_units", 64, "SCRN context units.", 1)
    _define(
        flags.DEFINE_integer,
        "embedding_dim",
        32,
        "Character embedding size.",
        1,
    )
    _define(flags.DEFINE_integer, "seq_len", 100, "Truncated BPTT length.", 1)
    _define(
        flags.DEFINE_integer,
        "train_chars",
        1_000_000,
        "Training characters used (0 = all).",
        0,
    )
    _define(
        flags.DEFINE_integer,
        "valid_chars",
        100_000,
        "Validation/test characters (0 = all).",
        0,
    )
    _define(flags.DEFINE_float, "learning_rate", 2e-3, "Adam learning rate.")
    _define(flags.DEFINE_float, "clipnorm", 5.0, "Gradient norm clipping.")
    _define(
        flags.DEFINE_list,
        "temperatures",
        ["0.2", "0.5", "1.0"],
        "Sampling temperatures.",
    )
    _define(
        flags.DEFINE_integer, "sample_length", 300, "Characters per sample.", 1
    )
    _define(
        flags.DEFINE_string, "prime", "KING. ", "Text the samples start from."
    )


class SampleCallback(keras.callbacks.Callback):
    """Samples from the model at each temperature after every epoch.

    Appends the samples to `path` and keeps them in `self.samples`
    (a list of `{"epoch", "temperature", "text"}`).
    """

    def __init__(self, vocab, prime, temperatures, length, path, seed=0):
        super().__init__()
        self.vocab = vocab
        self.prime_ids = vocab.encode(prime)
        self.temperatures = [float(t) for t in temperatures]
        self.length = int(length)
        self.path = path
        self.seed = int(seed)
        self.samples = []

    def sample(self, epoch):
        with open(self.path, "a", encoding="utf-8") as f:
            for t in self.temperatures:
                ids = self.model.generate(
                    self.prime_ids, self.length, temperature=t, seed=self.seed
                )
                text = self.vocab.decode(ids)
                self.samples.append(
                    {"epoch": epoch, "temperature": t, "text": text}
                )
                f.write(f"=== epoch {epoch}, temperature {t} ===\n{text}\n\n")

    def on_epoch_end(self, epoch, logs=None):
        self.sample(epoch + 1)


def _slice(ids, n):
    return ids[:n] if n else ids


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override)
    data = datasets_override or kdl.datasets.load_text(
        flags_obj.corpus, level="char", vocab_size=None
    )
    b, t = flags_obj.batch_size, flags_obj.seq_len
    units, epochs = flags_obj.units, flags_obj.epochs
    train_chars, valid_chars = flags_obj.train_chars, flags_obj.valid_chars
    length = flags_obj.sample_length
    if env.smoke:
        b, t, units, epochs = 8, 20, 16, 1
        train_chars, valid_chars, length = 4000, 1000, 40
    train_ids = _slice(data.train, train_chars)
    valid_ids = _slice(data.valid, valid_chars)
    test_ids = _slice(data.test, valid_chars)
    vocab_size = len(data.vocab)
    train = kdl.datasets.tbptt_dataset(train_ids, b, t)
    valid = kdl.datasets.tbptt_dataset(valid_ids, b, t)
    test = kdl.datasets.tbptt_dataset(test_ids, b, t)
    results = {
        "corpus": flags_obj.corpus,
        "rnn": flags_obj.rnn,
        "units": units,
        "vocab_size": vocab_size,
        "train_chars": len(train_ids),
    }
    if flags_obj.tune:
        from kdl.tuning.scrn_lm import SCRNLanguageModelHyperModel

        results["tuning"] = training.run_tuner(
            SCRNLanguageModelHyperModel(
                train_ids,
                valid_ids,
                vocab_size,
                batch_size=b,
                rnn=flags_obj.rnn,
                defaults=dict(
                    units=units,
                    context_units=flags_obj.context_units,
                    learning_rate=flags_obj.learning_rate,
                    bptt=t,
                    clipnorm=flags_obj.clipnorm,
                ),
            ),
            env.path("tune"),
            tuner=flags_obj.tuner,
            max_trials=flags_obj.max_trials,
            seed=flags_obj.seed,
            epochs=epochs,
            verbose=0,
        )
        training.write_results(env.output_dir, results)
        return results

    with env.strategy.scope():
        model = RNNLanguageModel(
            vocab_size,
            rnn=flags_obj.rnn,
            units=units,
            context_units=flags_obj.context_units,
            embedding_dim=flags_obj.embedding_dim,
            stateful=True,
            batch_size=b,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(
                flags_obj.learning_rate, clipnorm=flags_obj.clipnorm
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.build((b, t))
    samples_path = env.path("samples.txt")
    open(samples_path, "w").close()
    sampler = SampleCallback(
        data.vocab,
        flags_obj.prime,
        flags_obj.temperatures,
        length,
        samples_path,
        seed=flags_obj.seed,
    )
    sampler.set_model(model)
    sampler.sample(0)  # the untrained model: noise
    history = model.fit(
        train,
        validation_data=valid,
        epochs=epochs,
        callbacks=training.standard_callbacks(
            env.path("train"), extra=[ResetStatesCallback(), sampler]
        ),
        verbose=2,
    )
    bpc = [v / math.log(2) for v in history.history["val_loss"]]
    test_ppl = evaluate_perplexity(model, test)
    results.update(
        valid_bits_per_char=bpc,
        train_bits_per_char=[v / math.log(2) for v in history.history["loss"]],
        test_bits_per_char=math.log2(test_ppl),
        test_perplexity=test_ppl,
        samples=sampler.samples,
        uniform_bits_per_char=math.log2(vocab_size),
    )
    training.plot_curves(
        {
            "train": results["train_bits_per_char"],
            "valid": results["valid_bits_per_char"],
        },
        env.path("bpc.png"),
        ylabel="bits per character",
    )
    training.write_results(env.output_dir, results)
    return results


def main(_):
    run(FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
