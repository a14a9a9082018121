"""python recipes/scrn_lm.py --output_dir=out/scrn_lm

The project's main recipe: the word-level language-model tables of
Mikolov et al. 2014, "Learning Longer Memory in Recurrent Neural Networks"
(Penn Treebank test perplexity: KN5 141, KN5 + cache 125, SRN(100) 129,
LSTM(100) 115, SCRN(100+40) 115) and of the "RNN in practice" lecture
(KN5 141, Bengio's feed-forward NNLM 140, recurrent NNLM 125), on an
offline corpus (default Jane Austen's novels, 10K vocabulary;
`--corpus=shakespeare`, or `--corpus=ptb --data_dir=<ptb folder>`).

Rows: modified Kneser-Ney 5-gram (`kdl.models.KneserNeyLM`), the same with
a unigram cache tuned on validation, then per `--seeds` seed Bengio's
feed-forward 5-gram network and SRN (sigmoid) / LSTM / SCRN LMs (stateful
truncated BPTT, `kdl.layers.AdaptiveSoftmax` with cutoffs 1000/4000, exact
probabilities for evaluation) trained until validation perplexity stops
improving: Mikolov's `kdl.training.LearningRateHalving` (halve the rate
every epoch once an epoch gains < 0.3%, stop at the next such epoch, keep
the best weights), at most `--epochs` passes. Output: test perplexity mean
+- sd (table.md, results.json), validation curves with seed bands, samples.
Budget: see results/scrn_lm_austen.json's provenance (goal: 30 min on the
idle 2 cores). `--tune`: the SCRN HyperModel. `--smoke`: seconds.

Unlike the paper: learned embeddings, Adam (not SGD), adaptive softmax (not
word classes), offline corpora (no package ships PTB)."""

import functools

from absl import app
from absl import flags

from kdl import datasets
from kdl import training
from kdl import tuning
from kdl.models import language_model_training as lm_training
from kdl.tuning.scrn_lm import DEFAULTS as TUNED_DEFAULTS

RNNS = ("srn", "lstm", "scrn")
MODELS = ("kn", "ffnn", *RNNS)
# fmt: off
# Published PTB test perplexities: (RNN in practice table, SCRN table).
PAPER = {"KN5": (141, 141), "KN5 + cache": (None, 125), "FFNN5": (140, None),
         "SRN": (125, 129), "LSTM": (None, 115), "SCRN": (None, 115)}
TABLE = ["model", ("hidden units", "hidden"), ("parameters", "parameters", ","),
         "seeds", ("valid ppl", "valid"), ("test ppl", "test"), "epochs",
         ("tokens/s", "tokens_per_second", ",.0f"),
         ("paper: practice", "paper_practice"), ("paper: SCRN", "paper_scrn")]
SMOKE = {"epochs": 2, "batch_size": 4, "bptt": 8, "units": 8,
         "context_units": 4, "embedding_dim": 8, "ffnn_hidden": 8,
         "ffnn_batch_size": 16, "cutoffs": [8, 14], "max_train_tokens": 192,
         "max_eval_tokens": 192, "jit_compile": False, "sample_length": 5,
         "seeds": [0, 1]}
# fmt: on


def define_flags(flag_values=flags.FLAGS):
    training.define_common_flags(
        flag_values, output_dir="out/scrn_lm", epochs=20, batch_size=64
    )
    fv = dict(flag_values=flag_values)
    string = functools.partial(flags.DEFINE_string, **fv)
    integer = functools.partial(flags.DEFINE_integer, lower_bound=0, **fv)
    real = functools.partial(flags.DEFINE_float, **fv)
    enum = functools.partial(flags.DEFINE_enum, **fv)
    lists = functools.partial(training.define_list, **fv)
    # fmt: off
    string("corpus", "austen", "load_text name: austen, shakespeare, ptb ...")
    string("data_dir", None, "Corpus folder/file (default: offline copy).")
    enum("level", "word", ["word", "char"], "Token level.")
    integer("vocab_size", 10000, "Vocabulary size.", lower_bound=3)
    lists("models", list(MODELS), "Rows to run.", choices=MODELS)
    lists("seeds", [0, 1, 2], "Seeds of the trained rows.", min_value=0)
    integer("units", 100, "Hidden units.", lower_bound=1)
    integer("context_units", 40, "SCRN context units.", lower_bound=1)
    real("alpha", 0.95, "SCRN context decay.", 0.0, 1.0)
    integer("embedding_dim", 100, "Input embedding size.", lower_bound=1)
    integer("ngram_order", 5, "KN / feed-forward order.", lower_bound=2)
    integer("ffnn_hidden", 100, "Feed-forward hidden units.", lower_bound=1)
    real("ffnn_learning_rate", 3e-3, "Feed-forward learning rate.", 0.0)
    integer("ffnn_batch_size", 1024, "Feed-forward batch.", lower_bound=1)
    integer("bptt", 30, "Truncated-BPTT length.", lower_bound=1)
    enum("softmax", "adaptive", ["full", "adaptive"], "Neural LM output.")
    lists("cutoffs", [1000, 4000], "Adaptive softmax cutoffs.", min_value=1)
    enum("optimizer", "adam", ["adam", "sgd"], "Keras optimizer.")
    real("learning_rate", 3e-3, "Initial learning rate.", 0.0)
    real("clipnorm", 1.0, "Gradient norm clipping (0: off).", 0.0)
    real("min_improvement", 1.003, "Halve / stop below this gain.", 1.0)
    integer("max_train_tokens", 0, "Use the first N training tokens (0: all).")
    integer("max_eval_tokens", 0, "Use the first N valid/test tokens (0: all).")
    flags.DEFINE_bool("jit_compile", True, "XLA with --softmax=full.", **fv)
    integer("sample_length", 40, "Tokens of generated text per model.")
    enum("tune_model", "scrn", RNNS, "The model --tune searches.")
    # fmt: on


def head(ids, n):  # The first n tokens and the one they predict (0: all).
    return ids[: n + 1] if n else ids  # fmt: skip


def callbacks(env, arm):
    schedule = training.LearningRateHalving(
        min_improvement=env.settings.min_improvement, verbose=1
    )
    return training.standard_callbacks(env.path(arm), extra=[schedule])


def train_rnn(env, splits, vocab_size, rnn, seed):
    """One arm: one seed of the `rnn` language model."""
    cfg, adaptive = env.settings, env.settings.softmax == "adaptive"
    model_args = ("units", "context_units", "alpha", "embedding_dim")
    return lm_training.train_rnn_language_model(
        splits, vocab_size, rnn, seed=seed, batch_size=cfg.batch_size,
        bptt=cfg.bptt, epochs=cfg.epochs, strategy=env.strategy,
        callbacks=callbacks(env, f"train_{rnn}_seed{seed}"),
        sample_length=cfg.sample_length, optimizer=cfg.optimizer,
        learning_rate=cfg.learning_rate, clipnorm=cfg.clipnorm,
        jit_compile=cfg.jit_compile and not adaptive, softmax=cfg.softmax,
        cutoffs=list(cfg.cutoffs) if adaptive else None,
        **{name: cfg[name] for name in model_args},
    )  # fmt: skip


def train_ffnn(env, splits, vocab_size, seed):
    """One arm: one seed of the feed-forward n-gram network."""
    cfg = env.settings
    return lm_training.train_feed_forward_lm(
        *splits, vocab_size, order=cfg.ngram_order,
        embedding_dim=cfg.embedding_dim, hidden_units=cfg.ffnn_hidden,
        learning_rate=cfg.ffnn_learning_rate, clipnorm=cfg.clipnorm,
        batch_size=cfg.ffnn_batch_size, epochs=cfg.epochs, seed=seed,
        softmax=cfg.softmax, strategy=env.strategy,
        jit_compile=cfg.jit_compile and cfg.softmax == "full",
        cutoffs=list(cfg.cutoffs) if cfg.softmax == "adaptive" else None,
        callbacks=callbacks(env, f"train_ffnn_seed{seed}"),
    )[1]  # fmt: skip


def table_row(name, hidden, runs):
    """A table row: mean +- sd over seeds, the paper's PTB figures."""
    practice, scrn = PAPER.get(name, (None, None))
    return lm_training.summarize_runs(
        name, runs, hidden=hidden, parameters=runs[0].get("parameters"),
        paper_practice=practice or "-", paper_scrn=scrn or "-",
    )  # fmt: skip


def arms(env, splits, vocab_size):
    """Every row of the tables (each seed of each model a cached arm)."""
    cfg = env.settings
    cached = functools.partial(
        env.cached, data_sizes=[*map(len, splits), vocab_size]
    )
    rows, curves = [], {}
    if "kn" in cfg.models:
        args = (*splits, vocab_size, cfg.ngram_order)
        kn = cached("kn", lambda: lm_training.kneser_ney_rows(*args))
        rows += [table_row(r["model"], "-", [r]) for r in kn]
    arm_fns = {"ffnn": train_ffnn}
    arm_fns.update({r: functools.partial(train_rnn, rnn=r) for r in RNNS})
    for key in [m for m in MODELS if m in cfg.models and m in arm_fns]:
        name = f"FFNN{cfg.ngram_order}" if key == "ffnn" else key.upper()
        scrn = f"{cfg.units}+{cfg.context_units}"
        hidden = {"ffnn": cfg.ffnn_hidden, "scrn": scrn}.get(key, cfg.units)
        fn = functools.partial(arm_fns[key], env, splits, vocab_size)
        runs = [
            cached(f"{key}_seed{s}", functools.partial(fn, seed=s), seed=s)
            for s in cfg.seeds
        ]
        rows.append(table_row(name, str(hidden), runs))
        curves[name] = [r["valid_perplexity_per_epoch"] for r in runs]
    return rows, curves


def readme_rows(results, order):
    """Two README rows: the "RNN in practice" and the SCRN orderings.

    Claims checked (test perplexity): practice, SRN < FFNN and SRN < KN;
    SCRN table, LSTM < SRN, SCRN < SRN, KN + cache < KN and SCRN ~ LSTM
    (within 5%).
    """
    ppl = {r["model"]: r["test_perplexity"] for r in results["rows"]}
    kn, cache, ffnn = f"KN{order}", f"KN{order} + cache", f"FFNN{order}"
    where = f"{results['corpus']}, {results['seeds']} seeds"
    out = []
    for names, paper in (
        ((kn, ffnn, "SRN"), "141 / 140 / 125"),
        ((kn, cache, "SRN", "LSTM", "SCRN"), "141 / 125 / 129 / 115 / 115"),
    ):
        if not all(n in ppl for n in names):
            continue
        less = [("SRN", ffnn), ("SRN", kn)]
        if len(names) == 5:
            less = [("LSTM", "SRN"), ("SCRN", "SRN"), (cache, kn)]
        checks = [ppl[a] < ppl[b] for a, b in less]
        if len(names) == 5:
            checks.append(abs(ppl["SCRN"] / ppl["LSTM"] - 1) <= 0.05)
        out.append({
            "what": f"word LM test ppl ({where}): " + " / ".join(names),
            "ours": " / ".join(f"{ppl[n]:.1f}" for n in names),
            "paper": f"{paper} (PTB)", "holds": training.claims_hold(checks),
        })  # fmt: skip
    return out


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    data = datasets_override or datasets.load_text(
        cfg.corpus, cfg.level, cfg.vocab_size, path=cfg.data_dir
    )
    evals = (head(s, cfg.max_eval_tokens) for s in (data.valid, data.test))
    splits = (head(data.train, cfg.max_train_tokens), *evals)
    vocab_size = len(data.vocab)
    if cfg.tune:
        hypermodel = tuning.SCRNLanguageModelHyperModel(
            *splits[:2], vocab_size, batch_size=cfg.batch_size,
            rnn=cfg.tune_model, optimizer=cfg.optimizer,
            embedding_dim=cfg.embedding_dim,
            defaults={name: cfg[name] for name in TUNED_DEFAULTS},
        )  # fmt: skip
        return training.tune(hypermodel, env, epochs=cfg.epochs, verbose=2)
    rows, curves = arms(env, splits, vocab_size)
    for r in rows:
        if r["runs"][0].get("sample_ids"):
            r["sample"] = data.vocab.decode(r["runs"][0]["sample_ids"])
            print(f"{r['model']} sample: {r['sample']}")
    table = training.save_table(rows, TABLE, env.path("table.md"))
    training.plot_curves(
        curves, env.path("valid_perplexity.png"), logy=True,
        ylabel="validation perplexity",
        title=f"{data.name} ({cfg.level}, vocab {vocab_size})",
    )  # fmt: skip
    results = {"corpus": data.name, "vocab_size": vocab_size,
               "train_tokens": len(splits[0]), "seeds": len(cfg.seeds),
               "rows": rows, "table": table}  # fmt: skip
    results["readme_rows"] = readme_rows(results, cfg.ngram_order)
    return env.finish(results, seeds=list(cfg.seeds))


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
