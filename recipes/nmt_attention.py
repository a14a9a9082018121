"""python recipes/nmt_attention.py --output_dir=out/nmt_attention

Reproduces Bahdanau, Cho, Bengio (ICLR 2015), "Neural Machine Translation
by Jointly Learning to Align and Translate": a bidirectional-GRU encoder
with an attention decoder (RNNsearch, `kdl.models.Seq2SeqAttention`) vs
the same network without attention (RNNencdec, `kdl.models.Seq2Seq`),
also fed the source reversed (Sutskever, Vinyals, Le 2014; padding stays
at the end, `kdl.datasets.reverse_source_ids`). Paper, WMT'14 En->Fr test
BLEU: RNNsearch-50 26.75 vs RNNencdec-50 17.82; RNNencdec falls with
sentence length, RNNsearch holds up (their fig. 2); Sutskever et al.:
reversing the source lifts a single LSTM from 25.9 to 30.6 BLEU.

Data: King James (English) -> Reina-Valera 1909 (Spanish) verses, split
by book; trained on verses of <= --max_length tokens, tested on verses of
<= --eval_max_length tokens. The fast task, English -> German dates:
`--dataset=dates --vocab_size=600 --eval_max_length=20 --eval_examples=1000
--length_bins=4,6,8,20 --embedding_dim=64 --attention_units=64 --dropout=0
--learning_rate=3e-3`.

A run measures, per model, corpus BLEU (sacrebleu, lower-cased tokenised
text) and exact match of greedy and beam-search outputs on the test
sentences, BLEU by source length (bleu_by_length.png), decoding speed and
seconds per epoch; it saves alignment heatmaps (alignment_*.png), learning
curves, table.md (mean +- sd over --seeds; a seed sets the initialisation,
dropout and training order; the data and the test sentences are fixed by
--seed) and results.json. --tune searches NMTHyperModel on the validation
loss. Budget: see results/nmt_attention.json; --smoke: seconds.
"""

import collections
import functools
import itertools
import time

import keras
from absl import app
from absl import flags

import kdl
from kdl import training

SMOKE = {
    "epochs": 1,
    "units": 16,
    "embedding_dim": 16,
    "attention_units": 16,
    "vocab_size": 300,
    "eval_examples": 16,
    "max_pairs": 256,
    "beam_widths": [4],
}
MODELS = ("attention", "no_attention", "no_attention_reversed")
LABELS = {"kjv_rv1909": "KJV -> Reina-Valera 1909", "dates": "dates en -> de"}
PAPER = "WMT'14 En->Fr: RNNsearch-50 26.75, RNNencdec-50 17.82"
FIG2 = "RNNencdec falls with length, RNNsearch holds up (fig. 2)"
REVERSED = "Sutskever 2014, WMT'14 En->Fr LSTM: reversed 30.6 vs 25.9"
BY_BIN = training.elementwise_holds  # attention ahead in every length bin
SELECTION = ("models", "seeds")  # which arms run, not what they compute
HYPER = "units embedding_dim attention_units cell dropout learning_rate".split()
IDS = ("source_vocab_size", "target_vocab_size", "start_id", "end_id")
BINS = "Upper edges of the source-length bins of BLEU by length."
Data = collections.namedtuple(
    "Data", "vectorizers ids pairs sources references sizes"
)


def define_flags(flag_values=flags.FLAGS):
    defaults = dict(output_dir="out/nmt_attention", epochs=8, batch_size=64)
    training.define_common_flags(flag_values, max_trials=6, **defaults)
    fv = dict(flag_values=flag_values)
    flags.DEFINE_enum(
        "dataset", "kjv_rv1909", list(LABELS), "kdl.datasets.load_pairs.", **fv
    )
    for name, default, lower, text in (
        ("units", 128, 1, "Encoder (per direction) and decoder units."),
        ("embedding_dim", 128, 1, "Embedding and readout size."),
        ("attention_units", 128, 1, "Attention MLP units."),
        ("max_length", 20, 1, "Longest training source/target (tokens)."),
        ("eval_max_length", 40, 1, "Longest test source (tokens)."),
        ("vocab_size", 4000, 1, "Vocabulary per side, reserved ids included."),
        ("eval_examples", 500, 1, "Test sentences decoded (a random subset)."),
        ("heatmaps", 4, 0, "Alignment heatmaps to save."),
        ("max_pairs", None, 1, "At most this many pairs per split (all)."),
    ):
        flags.DEFINE_integer(name, default, text, lower_bound=lower, **fv)
    flags.DEFINE_enum("cell", "gru", ["gru", "lstm"], "RNN cell.", **fv)
    real = functools.partial(flags.DEFINE_float, lower_bound=0, **fv)
    real("dropout", 0.2, "Dropout on embeddings and readout.", upper_bound=0.9)
    real("learning_rate", 2e-3, "Adam learning rate.")
    real("length_penalty", 0.6, "GNMT length penalty of beam search.")
    define_list = functools.partial(training.define_list, **fv)
    define_list("length_bins", [10, 20, 30, 40], BINS, min_value=1)
    define_list("beam_widths", [4], "Beam widths besides greedy.", min_value=1)
    define_list("models", MODELS, "Models to train.", choices=MODELS)
    define_list("seeds", [0, 1, 2], "Seeds (one arm per model).", min_value=0)


def load_data(cfg, datasets_override=None):
    """Vectorizers, train/valid datasets and the selected test sentences."""
    pairs = datasets_override or kdl.datasets.load_pairs(cfg.dataset)
    train, valid, test = (
        list(s)[: cfg.max_pairs] for s in (pairs.train, pairs.valid, pairs.test)
    )
    vec = kdl.datasets.TranslationVectorizers.adapt(
        train, cfg.vocab_size, cfg.vocab_size
    )
    sources, references = kdl.models.evaluation_sentences(
        vec, test, cfg.eval_max_length, cfg.eval_examples, cfg.seed
    )
    ids = [getattr(vec, name) for name in IDS]
    sizes = [len(train), len(valid), len(sources)]
    return Data(vec, ids, (train, valid), sources, references, sizes)


def fit_data(cfg, data, reverse=False, seed=None):
    """`fit` arguments: training pairs shuffled by `seed`, source reversed?"""
    train_ds, valid_ds = (
        kdl.datasets.translation_dataset(
            *(p, data.vectorizers, cfg.batch_size, cfg.max_length),
            **dict(shuffle=s, seed=seed, reverse_source=reverse),
        )
        for p, s in zip(data.pairs, (True, False))
    )
    return dict(x=train_ds, validation_data=valid_ds, verbose=2, shuffle=False)


def translation_arm(env, data, name, seed):
    """Trains RNNsearch or RNNencdec (source reversed: "*_reversed")."""
    cfg, reverse = env.settings, name.endswith("_reversed")
    keras.utils.set_random_seed(seed)
    with env.strategy.scope():
        model = kdl.models.build_translation_model(
            *data.ids,
            attention=name == "attention",
            name=name,
            max_output_length=2 * cfg.eval_max_length + 10,
            **{k: cfg[k] for k in HYPER},
        )
    start, path = time.time(), env.path(f"train_{name}_seed{seed}")
    fit = dict(fit_data(cfg, data, reverse, seed), epochs=cfg.epochs)
    history, timer = training.fit(model, path, **fit)
    train_seconds = time.time() - start
    model.save(env.path(f"{name}_seed{seed}.keras"))
    text = (data.vectorizers, data.sources, data.references)
    options = {k: cfg[k] for k in ("beam_widths", "length_penalty")}
    test = kdl.models.evaluate_translation(
        model, *text, bins=cfg.length_bins, reverse_source=reverse, **options
    )
    heatmaps = []
    if model.uses_attention and seed == cfg.seeds[0]:
        heatmaps = kdl.models.save_alignment_heatmaps(
            model, data.vectorizers, data.sources, env.output_dir, cfg.heatmaps
        )
    return {
        "train_seconds": train_seconds,
        "seconds_per_epoch": timer.steady_seconds(),
        "params": model.count_params(),
        "history": history,
        "test": test,
        "heatmaps": heatmaps,
    }


def readme_rows(cfg, arms):
    """README rows over seeds: BLEU, BLEU by source length, exact match
    (attention vs the rest); BLEU with the source reversed or not."""
    beam, n = f"beam{cfg.beam_widths[0]}", len(cfg.seeds)
    scores = kdl.models.translation_scores(arms, beam)
    bleu, exact = scores["bleu"], scores["exact_match"]
    lead, spread = training.lead_verdicts, training.mean_sd
    # No sentence translated exactly by any model: nothing to order.
    matched = lead if any(map(any, exact.values())) else None
    exact_n = f"exact match %, greedy, {n} seeds"
    bleu_n = f"test BLEU, {beam}, mean ± sd over {n} seeds"
    bins = ", ".join(map(str, cfg.length_bins))
    bins = f"BLEU by source length, {beam}, seed mean, bins up to {bins} tokens"
    specs = (
        (bleu_n, PAPER, bleu, MODELS, lead, spread),
        (bins, FIG2, scores["bleu_by_length"], MODELS, BY_BIN, _bins),
        (exact_n, "-", exact, MODELS, matched, spread),
        (bleu_n, REVERSED, bleu, MODELS[:0:-1], lead, spread),
    )
    rows = []
    for what, paper, values, names, judge, fmt in specs:
        shown = [m for m in names if m in values]
        ours = " vs ".join(fmt(values[m], ".2f") for m in shown)
        holds = judge(values, names[0], names[1:]) if judge else "n/a"
        models = " vs ".join(shown).replace("_", " ")
        what = f"{LABELS[cfg.dataset]}, {what}: {models}"
        rows.append(dict(what=what, ours=ours, paper=paper, holds=holds))
    return rows


def _bins(values, spec):
    return ", ".join("-" if v is None else format(v, ".1f") for v in values)


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    data = load_data(cfg, datasets_override)
    data.vectorizers.save(env.path("vocabulary.json"))
    if cfg.tune:
        hypermodel = kdl.tuning.NMTHyperModel(
            *data.ids,
            defaults={k: cfg[k] for k in HYPER},
            max_output_length=2 * cfg.eval_max_length + 10,
        )
        fit = fit_data(cfg, data, seed=cfg.seed)
        return training.tune(hypermodel, env, epochs=cfg.epochs, **fit)
    key = {"data": data.sizes} if datasets_override else {}
    arms = {m: [] for m in cfg.models}  # --models, --seeds: others reused
    for m, seed in itertools.product(cfg.models, cfg.seeds):
        arm = functools.partial(translation_arm, env, data, m, seed)
        name = f"{m}_seed{seed}"
        arms[m].append(env.cached(name, arm, ignore=SELECTION, **key))
    table = kdl.models.save_translation_report(
        arms, env.output_dir, cfg.length_bins, cfg.beam_widths, cfg.dataset
    )
    results = {
        "dataset": cfg.dataset,
        "train_pairs": data.sizes[0],
        "test_sentences": data.sizes[2],
        "source_vocab_size": data.ids[0],
        "target_vocab_size": data.ids[1],
        "bleu": "sacrebleu corpus BLEU on lower-cased, tokenised text",
        "paper": PAPER,
        "models": {
            m: [{k: v for k, v in r.items() if k != "history"} for r in runs]
            for m, runs in arms.items()
        },
        "readme_rows": readme_rows(cfg, arms),
        "table": table,
        "figures": ["bleu_by_length.png"],
    }
    return env.finish(results, seeds=cfg.seeds)


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
