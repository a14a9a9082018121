"""python recipes/scrn_lm.py --output_dir=out/scrn_lm

The project's main recipe. Reproduces Mikolov et al. 2014, "Learning Longer
Memory in Recurrent Neural Networks", Table 1 (Penn Treebank test
perplexity, 10K vocabulary): SRN(100) 129, LSTM(100) 115, SCRN(100+40) 115.

A run trains SRN(100) (SimpleRNN, sigmoid), LSTM(100) and SCRN(100 hidden +
40 context) word language models by stateful truncated BPTT on Jane Austen's
novels (10K vocabulary; PTB: `--corpus=ptb --data_dir=<folder with
ptb.{train,valid,test}.txt>`) and measures per model: parameters, valid and
test perplexity, training tokens/s, validation perplexity per epoch and a
sample (table.md, valid_perplexity.png, results.json). `--tune` searches
`--tune_model` with the SCRN HyperModel. Default budget: 10 epochs x 122,880
tokens (2 passes over Austen), batch 64, BPTT 30, Adam 3e-3, clipnorm 1;
time: see provenance in results/scrn_lm.json. `--smoke`: seconds.

On purpose unlike the paper: a learned input embedding (not one-hot), Adam
(not SGD: fewer epochs fit a CPU budget), Austen (no package ships PTB).
"""

import functools

import keras
from absl import app
from absl import flags

from kdl import datasets
from kdl import models
from kdl import training
from kdl import tuning
from kdl.tuning.scrn_lm import DEFAULTS as TUNED_DEFAULTS

RNNS = ("srn", "lstm", "scrn")
PAPER_PTB_TEST = {"srn": 129.0, "lstm": 115.0, "scrn": 115.0}
TABLE = [
    ("model", "model"),
    ("hidden units", "hidden"),
    ("parameters", "parameters", ","),
    ("valid ppl", "valid_perplexity", ".1f"),
    ("test ppl", "test_perplexity", ".1f"),
    ("tokens/s", "tokens_per_second", ",.0f"),
    ("paper (PTB test)", "paper_ptb_test_perplexity", ".0f"),
]
SMOKE = {
    "epochs": 1,
    "batch_size": 4,
    "bptt": 8,
    "epoch_tokens": 0,
    "units": 8,
    "context_units": 4,
    "embedding_dim": 8,
    "max_train_tokens": 192,
    "max_eval_tokens": 192,
    "jit_compile": False,
    "sample_length": 5,
}


def define_flags(flag_values=flags.FLAGS):
    training.define_common_flags(
        flag_values, output_dir="out/scrn_lm", epochs=10, batch_size=64
    )
    fv = dict(flag_values=flag_values)
    string = functools.partial(flags.DEFINE_string, **fv)
    integer = functools.partial(flags.DEFINE_integer, lower_bound=0, **fv)
    real = functools.partial(flags.DEFINE_float, **fv)
    enum = functools.partial(flags.DEFINE_enum, **fv)
    string("corpus", "austen", "load_text name: austen, ptb, web_bible ...")
    string("data_dir", None, "Corpus folder/file (default: offline copy).")
    enum("level", "word", ["word", "char"], "Token level.")
    integer("vocab_size", 10000, "Vocabulary size.", lower_bound=3)
    flags.DEFINE_list("models", list(RNNS), "Models to train.", **fv)
    flags.register_validator(
        "models", lambda m: set(m) <= set(RNNS), "only srn, lstm, scrn", **fv
    )
    integer("units", 100, "Hidden units.", lower_bound=1)
    integer("context_units", 40, "SCRN context units.", lower_bound=1)
    real("alpha", 0.95, "SCRN context decay.", 0.0, 1.0)
    integer("embedding_dim", 100, "Input embedding size.", lower_bound=1)
    integer("bptt", 30, "Truncated-BPTT length.", lower_bound=1)
    enum("optimizer", "adam", ["adam", "sgd"], "Keras optimizer.")
    real("learning_rate", 3e-3, "Initial learning rate.", 0.0)
    real("clipnorm", 1.0, "Gradient norm clipping (0: off).", 0.0)
    real("lr_divisor", 2.0, "LR / this on a val_loss plateau.", 1.0)
    integer("epoch_tokens", 122880, "Training tokens per epoch (0: a pass).")
    integer("valid_tokens", 20000, "Per-epoch validation tokens (0: all).")
    integer("max_train_tokens", 0, "Use the first N training tokens (0: all).")
    integer("max_eval_tokens", 0, "Use the first N valid/test tokens (0: all).")
    flags.DEFINE_bool("jit_compile", True, "Train steps with XLA.", **fv)
    integer("sample_length", 40, "Tokens of generated text per model.")
    enum("tune_model", "scrn", RNNS, "The model --tune searches.")


def head(ids, n):
    """The first `n` tokens and the one they predict (all when n is 0)."""
    return ids[: n + 1] if n else ids


def train_lm(env, rnn, splits, vocab_size):
    """One arm: trains the `rnn` language model; returns its table row."""
    cfg = env.settings
    b, t = cfg.batch_size, cfg.bptt
    train, valid, test = (datasets.tbptt_dataset(s, b, t) for s in splits)
    epoch_val = datasets.tbptt_dataset(head(splits[1], cfg.valid_tokens), b, t)
    steps = int(train.cardinality())
    if cfg.epoch_tokens:
        steps, train = max(1, cfg.epoch_tokens // (b * t)), train.repeat()
    keras.utils.set_random_seed(cfg.seed)
    with env.strategy.scope():
        model = models.build_language_model(
            vocab_size,
            rnn,
            cfg.units,
            cfg.context_units,
            alpha=cfg.alpha,
            embedding_dim=cfg.embedding_dim,
            batch_size=b,
            num_replicas=env.strategy.num_replicas_in_sync,
            optimizer=cfg.optimizer,
            learning_rate=cfg.learning_rate,
            clipnorm=cfg.clipnorm,
            jit_compile=cfg.jit_compile,
            seq_len=t,
            name=f"{rnn}_lm",
        )
    timer = training.EpochTimer()
    plateau = keras.callbacks.ReduceLROnPlateau(
        factor=1.0 / cfg.lr_divisor, patience=0, min_delta=1e-3, verbose=1
    )
    hist = model.fit(
        train,
        validation_data=epoch_val,
        epochs=cfg.epochs,
        steps_per_epoch=steps,
        callbacks=training.standard_callbacks(
            env.path(f"train_{rnn}"),
            extra=[models.ResetStatesCallback(), plateau, timer],
        ),
        verbose=2,
    ).history
    seconds, ppl = timer.steady_seconds(), models.perplexity
    hidden = f"+{cfg.context_units}" if rnn == "scrn" else ""
    return {
        "model": rnn.upper(),
        "hidden": f"{cfg.units}{hidden}",
        "parameters": model.count_params(),
        "valid_perplexity": models.evaluate_perplexity(model, valid),
        "test_perplexity": models.evaluate_perplexity(model, test),
        "tokens_per_second": steps * b * t / seconds if seconds else None,
        "epochs": len(hist["val_loss"]),
        "valid_perplexity_per_epoch": [ppl(v) for v in hist["val_loss"]],
        "train_tokens_seen": steps * b * t * len(hist["val_loss"]),
        "train_perplexity_per_epoch": [ppl(v) for v in hist["loss"]],
        "paper_ptb_test_perplexity": PAPER_PTB_TEST[rnn],
        "sample_ids": model.generate(
            splits[2][:5], cfg.sample_length, temperature=0.8, seed=cfg.seed
        ).tolist()
        if cfg.sample_length
        else [],
    }


def readme_rows(cfg, results):
    """The README row. holds: SCRN ~ LSTM < SRN (partly: one beats SRN)."""
    rows = results["rows"]
    test = {r["model"]: r["test_perplexity"] for r in rows}
    others = [m for m in ("LSTM", "SCRN") if m in test and "SRN" in test]
    below = [test[m] < test["SRN"] for m in others]
    holds = "yes" if all(below) else "partly" if any(below) else "no"
    seen, epochs = rows[0]["train_tokens_seen"], max(rows[0]["epochs"], 1)
    join = " / ".join
    ours = join(f"{r['test_perplexity']:.1f}" for r in rows)
    valid = join(f"{r['valid_perplexity']:.1f}" for r in rows)
    speed = join(f"{r['tokens_per_second'] or 0:,.0f}" for r in rows)
    paper = join(f"{r['paper_ptb_test_perplexity']:.0f}" for r in rows)
    what = (
        f"{cfg.level} LM test perplexity, {results['corpus']}, vocab "
        f"{results['vocab_size']:,}, {epochs} epochs x {seen // epochs:,} "
        f"tokens ({seen / results['train_tokens']:.1f} passes): "
        + join(f"{r['model']}({r['hidden']})" for r in rows)
    )
    return [
        {
            "what": what,
            "ours": f"{ours} (valid {valid}); tokens/s {speed}",
            "paper": f"{paper} (PTB, full training)",
            "holds": holds if below else "n/a",
        }
    ]


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    data = datasets_override or datasets.load_text(
        cfg.corpus, cfg.level, cfg.vocab_size, path=cfg.data_dir
    )
    splits = (
        head(data.train, cfg.max_train_tokens),
        head(data.valid, cfg.max_eval_tokens),
        head(data.test, cfg.max_eval_tokens),
    )
    vocab_size = len(data.vocab)
    if cfg.tune:
        hypermodel = tuning.SCRNLanguageModelHyperModel(
            *splits[:2],
            vocab_size,
            batch_size=cfg.batch_size,
            rnn=cfg.tune_model,
            optimizer=cfg.optimizer,
            embedding_dim=cfg.embedding_dim,
            defaults={name: cfg[name] for name in TUNED_DEFAULTS},
        )
        return training.tune(hypermodel, env, epochs=cfg.epochs, verbose=2)
    rows = []
    for rnn in cfg.models:
        row = env.cached(
            f"train_{rnn}",
            functools.partial(train_lm, env, rnn, splits, vocab_size),
            data_sizes=[*map(len, splits), vocab_size],
        )
        row["sample"] = data.vocab.decode(row["sample_ids"])
        print(f"{row['model']} sample: {row['sample']}")
        rows.append(row)
    table = training.markdown_table(rows, TABLE)
    print(table)
    training.write_text(env.path("table.md"), table + "\n")
    training.plot_curves(
        {r["model"]: r["valid_perplexity_per_epoch"] for r in rows},
        env.path("valid_perplexity.png"),
        ylabel="validation perplexity",
        title=f"{data.name} ({cfg.level}, vocab {vocab_size})",
    )
    results = {
        "corpus": data.name,
        "vocab_size": vocab_size,
        "train_tokens": len(splits[0]),
        "rows": rows,
    }
    results["readme_rows"] = readme_rows(cfg, results)
    return env.finish(results, seeds=[cfg.seed])


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
