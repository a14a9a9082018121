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

    python recipes/nmt_attention.py --dataset=dates --vocab_size=600
      --eval_max_length=20 --eval_examples=1000 --length_bins=4,6,8,20
      --embedding_dim=64 --attention_units=64 --dropout=0
      --learning_rate=3e-3 --output_dir=out/nmt_dates

A run measures, per model, corpus BLEU (sacrebleu, lower-cased tokenised
text) and exact match of greedy and beam-search outputs on the test
sentences, BLEU by source length (bleu_by_length.png), decoding speed and
seconds per epoch; it saves alignment heatmaps (alignment_*.png), learning
curves, table.md and results.json. --tune searches NMTHyperModel on the
validation loss. Budget: see results/nmt_attention.json; --smoke: seconds.
"""

import collections
import functools
import time

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
HYPER = "units embedding_dim attention_units cell dropout learning_rate".split()
IDS = ("source_vocab_size", "target_vocab_size", "start_id", "end_id")
BINS = "Upper edges of the source-length bins of BLEU by length."
Data = collections.namedtuple(
    "Data", "vectorizers ids fit sources references sizes"
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
    ):
        flags.DEFINE_integer(name, default, text, lower_bound=lower, **fv)
    flags.DEFINE_integer(
        "max_pairs", None, "At most this many pairs per split (all).", **fv
    )
    flags.DEFINE_enum("cell", "gru", ["gru", "lstm"], "RNN cell.", **fv)
    real = functools.partial(flags.DEFINE_float, lower_bound=0, **fv)
    real("dropout", 0.2, "Dropout on embeddings and readout.", upper_bound=0.9)
    real("learning_rate", 2e-3, "Adam learning rate.")
    real("length_penalty", 0.6, "GNMT length penalty of beam search.")
    define_list = functools.partial(training.define_list, **fv)
    define_list("length_bins", [10, 20, 30, 40], BINS, min_value=1)
    define_list("beam_widths", [4], "Beam widths besides greedy.", min_value=1)
    define_list("models", MODELS, "Models to train.", choices=MODELS)


def load_data(cfg, datasets_override=None):
    """Vectorizers, train/valid datasets and the selected test sentences."""
    pairs = datasets_override or kdl.datasets.load_pairs(cfg.dataset)
    train, valid, test = (
        list(s)[: cfg.max_pairs] for s in (pairs.train, pairs.valid, pairs.test)
    )
    vec = kdl.datasets.TranslationVectorizers.adapt(
        train, cfg.vocab_size, cfg.vocab_size
    )
    fit = {}  # by source order: reversed or not
    for reverse in (False, True):
        train_ds, valid_ds = (
            kdl.datasets.translation_dataset(
                *(p, vec, cfg.batch_size, cfg.max_length),
                **dict(shuffle=s, seed=cfg.seed, reverse_source=reverse),
            )
            for p, s in ((train, True), (valid, False))
        )
        fit[reverse] = dict(x=train_ds, validation_data=valid_ds, verbose=2)
        fit[reverse].update(shuffle=False)
    sources, references = kdl.models.evaluation_sentences(
        vec, test, cfg.eval_max_length, cfg.eval_examples, cfg.seed
    )
    ids = [getattr(vec, name) for name in IDS]
    sizes = [len(train), len(valid), len(sources)]
    return Data(vec, ids, fit, sources, references, sizes)


def translation_arm(env, data, name):
    """Trains RNNsearch or RNNencdec (source reversed: "*_reversed")."""
    cfg, reverse = env.settings, name.endswith("_reversed")
    with env.strategy.scope():
        model = kdl.models.build_translation_model(
            *data.ids,
            attention=name == "attention",
            name=name,
            max_output_length=2 * cfg.eval_max_length + 10,
            **{k: cfg[k] for k in HYPER},
        )
    start, path = time.time(), env.path(f"train_{name}")
    fit = dict(data.fit[reverse], epochs=cfg.epochs)
    history, timer = training.fit(model, path, **fit)
    train_seconds = time.time() - start
    model.save(env.path(f"{name}.keras"))
    test = kdl.models.evaluate_translation(
        model,
        data.vectorizers,
        data.sources,
        data.references,
        bins=cfg.length_bins,
        reverse_source=reverse,
        **{k: cfg[k] for k in ("beam_widths", "length_penalty")},
    )
    heatmaps = []
    if model.uses_attention:
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


def holds(values, better, worse):
    """values[better] > values[w] (w in `worse`): all / some / none hold."""
    ran = [w for w in worse if better in values and w in values]
    pairs = [p for w in ran for p in zip(values[better], values[w])]
    return training.claims_hold(a > b for a, b in pairs if None not in (a, b))


def readme_rows(cfg, arms):
    """README rows: BLEU, BLEU by source length, exact match (attention vs
    the rest); BLEU with the source reversed vs not (no attention)."""
    items = [(m, arms[m]["test"]) for m in MODELS if m in arms]
    beam = f"beam{cfg.beam_widths[0]}"
    bleu = {m: [t[beam]["bleu"], t["greedy"]["bleu"]] for m, t in items}
    by_length = {m: kdl.models.bleu_by_length(t, beam) for m, t in items}
    exact = {m: [100 * t["greedy"]["exact_match"]] for m, t in items}
    bins = f"{beam}, bins up to {', '.join(map(str, cfg.length_bins))} tokens"
    rows = []
    for what, paper, per_model, spec, names in (
        (f"test BLEU, {beam}, greedy", PAPER, bleu, ".2f", MODELS),
        (f"BLEU by source length, {bins}", FIG2, by_length, ".1f", MODELS),
        ("exact match %, greedy", "-", exact, ".1f", MODELS),
        (f"test BLEU, {beam}, greedy", REVERSED, bleu, ".2f", MODELS[:0:-1]),
    ):
        shown = [m for m in names if m in per_model]
        ours = (", ".join(_fmt(v, spec) for v in per_model[m]) for m in shown)
        row = {
            "what": f"{LABELS[cfg.dataset]}, {what}: "
            + " vs ".join(shown).replace("_", " "),
            "ours": " vs ".join(ours),
            "paper": paper,
            "holds": holds(per_model, names[0], names[1:]),
        }
        rows.append(row)
    return rows


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


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
        return training.tune(
            hypermodel, env, epochs=cfg.epochs, **data.fit[False]
        )
    fingerprint = {"data": data.sizes} if datasets_override else {}
    arms = {}
    for m in cfg.models:  # --models only picks arms: the others are reused
        arm = functools.partial(translation_arm, env, data, m)
        arms[m] = env.cached(m, arm, ignore=["models"], **fingerprint)
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
            m: {k: v for k, v in r.items() if k != "history"}
            for m, r in arms.items()
        },
        "readme_rows": readme_rows(cfg, arms),
        "table": table,
        "figures": ["bleu_by_length.png"],
    }
    return env.finish(results, seeds=[cfg.seed])


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
