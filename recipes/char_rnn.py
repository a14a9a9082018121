"""python recipes/char_rnn.py --output_dir=out/char_rnn

A character-level recurrent language model of Shakespeare's plays: the
lecture's char-RNN after Karpathy, "The Unreasonable Effectiveness of
Recurrent Neural Networks" (2015), which reports samples, not a number. The
lecture's point is the "train more" progression from noise to words to
play-like lines.

A run trains `--rnn=lstm` (default), `scrn` (`kdl.layers.SCRN`, Mikolov et
al. 2014) or `srn` through `kdl.models.RNNLanguageModel` by stateful
truncated BPTT over `kdl.datasets.tbptt_dataset` (states carried across
batches, reset every epoch) on the first `--train_chars` of
`load_text("shakespeare", level="char")` (42 plays and poems) and measures
the validation bits per character after every epoch and the test bits per
character, with samples at each `--temperatures` before training and after
every epoch (samples.txt, bpc.png, results.json). `--tune` searches with
`kdl.tuning.SCRNLanguageModelHyperModel` (shared with recipes/scrn_lm.py).

Default budget: LSTM 256, 1M training characters, 4 epochs, batch 64, BPTT
100, Adam 2e-3, clipnorm 5; time: see provenance in results/char_rnn.json.
`--smoke`: seconds.
"""

import functools
import math

import keras
from absl import app
from absl import flags

from kdl import datasets
from kdl import models
from kdl import training
from kdl import tuning

SMOKE = {
    "epochs": 1,
    "batch_size": 8,
    "seq_len": 20,
    "units": 16,
    "train_chars": 4000,
    "valid_chars": 1000,
    "sample_length": 40,
}


def define_flags(flag_values=flags.FLAGS):
    training.define_common_flags(
        flag_values, output_dir="out/char_rnn", epochs=4, batch_size=64
    )
    fv = dict(flag_values=flag_values)
    integer = functools.partial(flags.DEFINE_integer, lower_bound=1, **fv)
    flags.DEFINE_string("corpus", "shakespeare", "load_text name.", **fv)
    rnns = ["srn", "lstm", "scrn"]
    flags.DEFINE_enum("rnn", "lstm", rnns, "Recurrent layer.", **fv)
    integer("units", 256, "Hidden units.")
    integer("context_units", 64, "SCRN context units.")
    integer("embedding_dim", 32, "Character embedding size.")
    integer("seq_len", 100, "Truncated-BPTT length.")
    integer(
        "train_chars", 1_000_000, "Training characters (0: all).", lower_bound=0
    )
    integer(
        "valid_chars", 100_000, "Valid/test characters (0: all).", lower_bound=0
    )
    flags.DEFINE_float("learning_rate", 2e-3, "Adam learning rate.", 0, **fv)
    flags.DEFINE_float("clipnorm", 5.0, "Gradient norm clipping.", 0, **fv)
    flags.DEFINE_list(
        "temperatures", ["0.2", "0.5", "1.0"], "Sampling temperatures.", **fv
    )
    integer("sample_length", 300, "Characters per sample.")
    flags.DEFINE_string("prime", "KING. ", "Text the samples start from.", **fv)


def samples_text(samples):
    """samples.txt: every sample under its epoch and temperature."""
    return "".join(
        f"=== epoch {s['epoch']}, temperature {s['temperature']} ===\n"
        f"{s['text']}\n\n"
        for s in samples
    )


def train_char_rnn(env, vocab, splits):
    """The one arm: trains the model, sampling before and after each epoch."""
    cfg = env.settings
    b, t = cfg.batch_size, cfg.seq_len
    train, valid, test = (datasets.tbptt_dataset(s, b, t) for s in splits)
    with env.strategy.scope():
        model = models.build_language_model(
            len(vocab),
            cfg.rnn,
            cfg.units,
            cfg.context_units,
            embedding_dim=cfg.embedding_dim,
            batch_size=b,
            num_replicas=env.strategy.num_replicas_in_sync,
            learning_rate=cfg.learning_rate,
            clipnorm=cfg.clipnorm,
            seq_len=t,
        )
    samples = []

    def sample(epoch):
        for temperature in map(float, cfg.temperatures):
            ids = model.generate(
                vocab.encode(cfg.prime),
                cfg.sample_length,
                temperature=temperature,
                seed=cfg.seed,
            )
            text = vocab.decode(ids)
            samples.append(
                dict(epoch=epoch, temperature=temperature, text=text)
            )
        training.write_text(env.path("samples.txt"), samples_text(samples))

    sample(0)  # the untrained model: noise
    after_epoch = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: sample(epoch + 1)
    )
    history, _ = training.fit(
        model,
        env.path("train"),
        train,
        validation_data=valid,
        epochs=cfg.epochs,
        callbacks=[models.ResetStatesCallback(), after_epoch],
    )
    test_perplexity = models.evaluate_perplexity(model, test)
    return {
        "valid_bits_per_char": [v / math.log(2) for v in history["val_loss"]],
        "train_bits_per_char": [v / math.log(2) for v in history["loss"]],
        "test_bits_per_char": math.log2(test_perplexity),
        "test_perplexity": test_perplexity,
        "uniform_bits_per_char": math.log2(len(vocab)),
        "samples": samples,
    }


def readme_rows(cfg, results):
    """Test bits per character (the blog post reports no number)."""
    hidden = f"+{cfg.context_units}" if cfg.rnn == "scrn" else ""
    what = (
        f"{cfg.rnn.upper()}-{cfg.units}{hidden}, {results['corpus']}, "
        f"{results['train_chars']:,} characters, {cfg.epochs} epochs: test "
        "bits per character"
    )
    ours = f"{results['test_bits_per_char']:.2f}"
    return [{"what": what, "ours": ours, "paper": "-", "holds": "n/a"}]


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    data = datasets_override or datasets.load_text(
        cfg.corpus, level="char", vocab_size=None
    )
    splits = (
        data.train[: cfg.train_chars or None],
        data.valid[: cfg.valid_chars or None],
        data.test[: cfg.valid_chars or None],
    )
    if cfg.tune:
        hypermodel = tuning.SCRNLanguageModelHyperModel(
            *splits[:2],
            len(data.vocab),
            batch_size=cfg.batch_size,
            rnn=cfg.rnn,
            embedding_dim=cfg.embedding_dim,
            defaults=dict(
                units=cfg.units,
                context_units=cfg.context_units,
                learning_rate=cfg.learning_rate,
                bptt=cfg.seq_len,
                clipnorm=cfg.clipnorm,
            ),
        )
        return training.tune(hypermodel, env, epochs=cfg.epochs, verbose=0)
    arm = env.cached(
        "train",
        functools.partial(train_char_rnn, env, data.vocab, splits),
        data_sizes=[*map(len, splits), len(data.vocab)],
    )
    training.write_text(env.path("samples.txt"), samples_text(arm["samples"]))
    training.plot_curves(
        {
            "train": arm["train_bits_per_char"],
            "valid": arm["valid_bits_per_char"],
        },
        env.path("bpc.png"),
        ylabel="bits per character",
        title=f"{data.name} char-{cfg.rnn.upper()}",
    )
    results = {
        "corpus": data.name,
        "vocab_size": len(data.vocab),
        "train_chars": len(splits[0]),
        **arm,
    }
    results["readme_rows"] = readme_rows(cfg, results)
    return env.finish(results, seeds=[cfg.seed])


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
