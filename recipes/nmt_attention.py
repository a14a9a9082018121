"""python recipes/nmt_attention.py --output_dir=out/nmt_attention

Neural machine translation with attention (Bahdanau, Cho, Bengio 2015,
"Neural Machine Translation by Jointly Learning to Align and Translate"):
a bidirectional-GRU encoder with an attention decoder (RNNsearch,
`kdl.models.Seq2SeqAttention`) against the same network without attention
(the source summarised in the final encoder states, "sentence-level
conditioning", `kdl.models.Seq2Seq`, RNNencdec in the paper). Paper,
WMT'14 En->Fr test BLEU: RNNsearch-50 26.75 (28.45 on sentences without
unknown words) vs RNNencdec-50 17.82; and the RNNencdec BLEU falls with
sentence length while RNNsearch holds up (their figure 2).

Default data: King James (English) -> Reina-Valera 1909 (Spanish) verses
(`kdl.datasets.load_pairs("kjv_rv1909")`, split by book), trained on the
verses of at most --max_length tokens, with a vocabulary of
--vocab_size words per side; evaluated on test verses of up to
--eval_max_length tokens, so that the longer ones were never seen at that
length. `--dataset=dates` is a fast task (English -> German dates, babel).

Reports (results.json, table.md): corpus BLEU (sacrebleu, lower-cased
tokenised text) and exact match on the test split for greedy and beam
search, attention vs no attention; BLEU by source length
(bleu_by_length.png); alignment heatmaps of a few test sentences
(alignment_*.png); learning curves.

Takes about 25 minutes on a 2-core CPU (default flags; `--dataset=dates`
about 5 minutes); --smoke: seconds. --tune searches
`kdl.tuning.nmt.NMTHyperModel` on the validation loss.
"""

import time

import numpy as np
import sacrebleu
from absl import app
from absl import flags

import kdl
from kdl import training
from kdl.tuning import nmt as nmt_tuning

FLAGS = flags.FLAGS

DATASETS = ("kjv_rv1909", "dates")
# Per-dataset defaults of the data flags (the model ones are in
# kdl.tuning.nmt.PRESETS). A flag left at 0 / "" takes these.
DATA_PRESETS = {
    "kjv_rv1909": {
        "max_length": 20,
        "eval_max_length": 40,
        "vocab_size": 4000,
        "eval_examples": 500,
        "length_bins": "10,20,30,40",
    },
    "dates": {
        "max_length": 20,
        "eval_max_length": 20,
        "vocab_size": 600,
        "eval_examples": 1000,
        "length_bins": "4,6,8,20",
    },
}
PAPER = {"RNNsearch-50": 26.75, "RNNencdec-50": 17.82}


def define_flags():
    training.define_common_flags(
        output_dir="out/nmt_attention", epochs=8, batch_size=64, max_trials=6
    )
    _define(
        flags.DEFINE_enum,
        "dataset",
        "kjv_rv1909",
        list(DATASETS),
        "Parallel corpus (kdl.datasets.load_pairs).",
    )
    _define(
        flags.DEFINE_integer,
        "units",
        0,
        "Encoder (per direction) and decoder units (0 = preset).",
        lower_bound=0,
    )
    _define(
        flags.DEFINE_integer,
        "embedding_dim",
        0,
        "Embedding and readout size (0 = preset).",
        lower_bound=0,
    )
    _define(
        flags.DEFINE_integer,
        "attention_units",
        0,
        "Attention MLP units (0 = preset).",
        lower_bound=0,
    )
    _define(flags.DEFINE_enum, "cell", "", ["", "gru", "lstm"], "RNN cell.")
    _define(
        flags.DEFINE_float,
        "dropout",
        -1.0,
        "Dropout on embeddings and readout (-1 = preset).",
    )
    _define(
        flags.DEFINE_float,
        "learning_rate",
        0.0,
        "Adam learning rate (0 = preset).",
        lower_bound=0.0,
    )
    _define(
        flags.DEFINE_integer,
        "max_length",
        0,
        "Longest training source/target in tokens (0 = preset).",
        lower_bound=0,
    )
    _define(
        flags.DEFINE_integer,
        "eval_max_length",
        0,
        "Longest test source in tokens (0 = preset).",
        lower_bound=0,
    )
    _define(
        flags.DEFINE_integer,
        "vocab_size",
        0,
        "Vocabulary size per side, reserved ids included (0 = preset).",
        lower_bound=0,
    )
    _define(
        flags.DEFINE_integer,
        "eval_examples",
        0,
        "Test sentences decoded (0 = preset).",
        lower_bound=0,
    )
    _define(
        flags.DEFINE_string,
        "length_bins",
        "",
        "Upper edges of the source-length bins of the BLEU-by-length "
        "figure, e.g. '10,20,30,40' ('' = preset).",
    )
    _define(
        flags.DEFINE_list,
        "beam_widths",
        ["4"],
        "Beam widths evaluated besides greedy.",
    )
    _define(
        flags.DEFINE_float,
        "length_penalty",
        0.6,
        "GNMT length penalty alpha of beam search.",
        lower_bound=0.0,
    )
    _define(
        flags.DEFINE_list,
        "models",
        ["attention", "no_attention"],
        "Models to train and evaluate: attention (RNNsearch) and/or "
        "no_attention (the RNNencdec baseline).",
    )
    _define(
        flags.DEFINE_integer,
        "heatmaps",
        4,
        "Alignment heatmaps of test sentences to save.",
        lower_bound=0,
    )


def _define(define, name, *args, **kwargs):
    """Defines a flag unless an imported recipe already did (tests)."""
    if name not in FLAGS:
        define(name, *args, **kwargs)


def settings(flags_obj):
    """The effective settings: flags, with 0 / '' / -1 taking the preset."""
    dataset = flags_obj.dataset
    out = {**nmt_tuning.PRESETS[dataset], **DATA_PRESETS[dataset]}
    for name in (
        "units",
        "embedding_dim",
        "attention_units",
        "learning_rate",
        "max_length",
        "eval_max_length",
        "vocab_size",
        "eval_examples",
    ):
        value = getattr(flags_obj, name)
        if value:
            out[name] = value
    if flags_obj.cell:
        out["cell"] = flags_obj.cell
    if flags_obj.dropout >= 0:
        out["dropout"] = flags_obj.dropout
    if flags_obj.length_bins:
        out["length_bins"] = flags_obj.length_bins
    out["epochs"] = flags_obj.epochs
    out["length_bins"] = [int(b) for b in str(out["length_bins"]).split(",")]
    out["beam_widths"] = [int(b) for b in flags_obj.beam_widths]
    if flags_obj.smoke:
        out.update(
            units=16,
            embedding_dim=16,
            attention_units=16,
            epochs=1,
            eval_examples=16,
            vocab_size=min(out["vocab_size"], 300),
            beam_widths=out["beam_widths"][:1],
        )
    return out


# ----------------------------------------------------------------------
# Data.


def source_lengths(vectorizers, texts):
    return np.array(
        [len(r) for r in vectorizers.source(list(texts)).to_list()], "int32"
    )


def load_data(flags_obj, cfg, datasets_override=None):
    """Pairs, vectorizers, train/valid datasets and the test selection."""
    data = datasets_override or kdl.datasets.load_pairs(flags_obj.dataset)
    train, valid, test = list(data.train), list(data.valid), list(data.test)
    if flags_obj.smoke:
        train, valid, test = train[:256], valid[:64], test[:64]
    vectorizers = kdl.datasets.TranslationVectorizers.adapt(
        train, cfg["vocab_size"], cfg["vocab_size"]
    )
    make = kdl.datasets.translation_dataset
    train_ds = make(
        train,
        vectorizers,
        batch_size=flags_obj.batch_size,
        max_length=cfg["max_length"],
        seed=flags_obj.seed,
    )
    valid_ds = make(
        valid,
        vectorizers,
        batch_size=flags_obj.batch_size,
        max_length=cfg["max_length"],
        shuffle=False,
    )
    lengths = source_lengths(vectorizers, [s for s, _ in test])
    keep = np.flatnonzero((lengths > 0) & (lengths <= cfg["eval_max_length"]))
    rng = np.random.RandomState(flags_obj.seed)
    if len(keep) > cfg["eval_examples"]:
        keep = np.sort(rng.choice(keep, cfg["eval_examples"], replace=False))
    test = [test[i] for i in keep]
    return vectorizers, train_ds, valid_ds, test, len(train)


# ----------------------------------------------------------------------
# Evaluation.


def target_tokens(vectorizers, ids):
    """Decoded ids -> space-joined target tokens (stops at [end])."""
    vocab = vectorizers.target_vocabulary
    out = []
    for row in ids:
        row = np.asarray(row).tolist()
        words = []
        for i in row:
            if i == vectorizers.end_id:
                break
            if i not in (vectorizers.pad_id, vectorizers.start_id):
                words.append(vocab[i])
        out.append(" ".join(words))
    return out


def references(texts):
    """Lower-cased, punctuation-split references (what the model emits)."""
    std = kdl.datasets.translation_vectorizers.standardize_text
    return [std(t).numpy().decode("utf-8") for t in texts]


def decode_all(model, vectorizers, sources, beam_width, length_penalty, batch):
    """Decodes `sources` in length-sorted batches; ids in input order."""
    lengths = source_lengths(vectorizers, sources)
    order = np.argsort(lengths, kind="stable")
    results = [None] * len(sources)
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        src = vectorizers.encode_source([sources[i] for i in idx])
        max_length = int(2 * src.shape[1] + 10)
        if beam_width == 1:
            tokens = model.greedy_decode(src, max_length=max_length)
        else:
            tokens, _ = model.beam_search(
                src,
                beam_width=beam_width,
                length_penalty=length_penalty,
                max_length=max_length,
            )
            tokens = tokens[:, 0]
        for i, row in zip(idx, np.asarray(tokens)):
            results[i] = row
    return results


def bleu(hypotheses, refs):
    if not hypotheses:
        return float("nan")
    return float(sacrebleu.corpus_bleu(hypotheses, [refs]).score)


def evaluate(model, vectorizers, test, cfg, flags_obj):
    sources = [s for s, _ in test]
    refs = references([t for _, t in test])
    lengths = source_lengths(vectorizers, sources)
    bins = cfg["length_bins"]
    out = {}
    for width in [1] + cfg["beam_widths"]:
        name = "greedy" if width == 1 else f"beam{width}"
        start = time.time()
        ids = decode_all(
            model,
            vectorizers,
            sources,
            width,
            flags_obj.length_penalty,
            batch=128 if width <= 4 else 64,
        )
        seconds = time.time() - start
        hyps = target_tokens(vectorizers, ids)
        by_length = {}
        low = 0
        for high in bins:
            sel = [i for i, n in enumerate(lengths) if low < n <= high]
            by_length[f"{low + 1}-{high}"] = {
                "bleu": bleu([hyps[i] for i in sel], [refs[i] for i in sel]),
                "sentences": len(sel),
            }
            low = high
        out[name] = {
            "bleu": bleu(hyps, refs),
            "exact_match": float(np.mean([h == r for h, r in zip(hyps, refs)])),
            "bleu_by_source_length": by_length,
            "decode_seconds": seconds,
            "sentences_per_second": len(sources) / max(seconds, 1e-9),
            "examples": [
                {"source": sources[i], "reference": refs[i], "output": hyps[i]}
                for i in range(min(3, len(hyps)))
            ],
        }
        print(
            f"{model.name} {name}: BLEU {out[name]['bleu']:.2f}, exact "
            f"{out[name]['exact_match']:.3f} ({seconds:.1f}s)"
        )
    return out


def plot_alignment(weights, source_words, target_words, path, title=""):
    plt = training.pyplot()
    fig, ax = plt.subplots(
        figsize=(
            max(4, 0.35 * len(source_words) + 1.5),
            max(3, 0.35 * len(target_words) + 1.5),
        )
    )
    ax.imshow(weights, cmap="gray_r", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source_words)))
    ax.set_xticklabels(source_words, rotation=90)
    ax.set_yticks(range(len(target_words)))
    ax.set_yticklabels(target_words)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_heatmaps(model, vectorizers, test, count, env):
    """Greedy-decodes a few short test sentences; plots their alignments."""
    sources = [s for s, _ in test]
    lengths = source_lengths(vectorizers, sources)
    picks = [i for i in np.argsort(lengths, kind="stable") if lengths[i] >= 5]
    picks = picks[len(picks) // 3 :][:: max(1, len(picks) // (3 * count))]
    paths = []
    for n, i in enumerate(picks[:count]):
        src = vectorizers.encode_source([sources[i]])
        tokens = np.asarray(model.greedy_decode(src, 2 * src.shape[1] + 10))[0]
        hyp = []
        for t in tokens.tolist():
            hyp.append(t)
            if t == vectorizers.end_id or t == 0:
                break
        target_in = np.array([[vectorizers.start_id] + hyp[:-1]], "int32")
        weights = np.asarray(model.alignments(src, target_in))[0]
        source_words = [
            vectorizers.source_vocabulary[t] for t in np.asarray(src)[0]
        ]
        target_words = [vectorizers.target_vocabulary[t] for t in hyp]
        path = env.path(f"alignment_{n}.png")
        plot_alignment(weights, source_words, target_words, path, sources[i])
        paths.append(path)
    return paths


# ----------------------------------------------------------------------
# Main.


def build_model(attention, vectorizers, cfg):
    common = dict(
        source_vocab_size=vectorizers.source_vocab_size,
        target_vocab_size=vectorizers.target_vocab_size,
        start_id=vectorizers.start_id,
        end_id=vectorizers.end_id,
        embedding_dim=cfg["embedding_dim"],
        units=cfg["units"],
        cell=cfg["cell"],
        dropout=cfg["dropout"],
        max_output_length=2 * cfg["eval_max_length"] + 10,
    )
    if attention:
        model = kdl.models.Seq2SeqAttention(
            attention_units=cfg["attention_units"], name="attention", **common
        )
    else:
        model = kdl.models.Seq2Seq(name="no_attention", **common)
    model.build()  # BackupAndRestore needs the weights before fit.
    return nmt_tuning.compile_translation_model(model, cfg["learning_rate"])


def markdown_table(results, cfg):
    widths = ["greedy"] + [f"beam{w}" for w in cfg["beam_widths"]]
    lines = [
        "| model | " + " | ".join(f"BLEU {w}" for w in widths) + " | "
        "exact match (greedy) | train minutes |",
        "|---|" + "---|" * (len(widths) + 2),
    ]
    for name, r in results["models"].items():
        cells = [f"{r['test'][w]['bleu']:.2f}" for w in widths]
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | "
            f"{r['test']['greedy']['exact_match']:.3f} | "
            f"{r['train_seconds'] / 60:.1f} |"
        )
    return "\n".join(lines) + "\n"


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override)
    cfg = settings(flags_obj)
    vectorizers, train_ds, valid_ds, test, num_train = load_data(
        flags_obj, cfg, datasets_override
    )
    vectorizers.save(env.path("vocabulary.json"))

    if flags_obj.tune:
        hypermodel = nmt_tuning.NMTHyperModel(
            vectorizers.source_vocab_size,
            vectorizers.target_vocab_size,
            vectorizers.start_id,
            vectorizers.end_id,
            defaults={k: cfg[k] for k in nmt_tuning.PRESETS[flags_obj.dataset]},
            preset=flags_obj.dataset,
        )
        return training.run_tuner(
            hypermodel,
            env.path("tune"),
            tuner=flags_obj.tuner,
            max_trials=flags_obj.max_trials,
            seed=flags_obj.seed,
            x=train_ds,
            validation_data=valid_ds,
            epochs=cfg["epochs"],
            verbose=2,
        )

    results = {
        "dataset": flags_obj.dataset,
        "settings": cfg,
        "train_pairs": num_train,
        "test_sentences": len(test),
        "source_vocab_size": vectorizers.source_vocab_size,
        "target_vocab_size": vectorizers.target_vocab_size,
        "bleu": "sacrebleu corpus BLEU on lower-cased, tokenised text",
        "paper_wmt14_en_fr": PAPER,
        "models": {},
    }
    curves = {}
    unknown = set(flags_obj.models) - {"attention", "no_attention"}
    if unknown or not flags_obj.models:
        raise ValueError(
            "--models must list attention and/or no_attention. "
            f"Received: models={flags_obj.models}"
        )
    for name in flags_obj.models:
        attention = name == "attention"
        with env.strategy.scope():
            model = build_model(attention, vectorizers, cfg)
        start = time.time()
        history = model.fit(
            train_ds,
            validation_data=valid_ds,
            epochs=cfg["epochs"],
            callbacks=training.standard_callbacks(env.path(f"train_{name}")),
            verbose=2,
        )
        train_seconds = time.time() - start
        model.save(env.path(f"{name}.keras"))
        curves[f"{name} loss"] = history.history["loss"]
        curves[f"{name} val_loss"] = history.history["val_loss"]
        results["models"][name] = {
            "train_seconds": train_seconds,
            "final_val_loss": history.history["val_loss"][-1],
            "final_val_accuracy": history.history["val_accuracy"][-1],
            "params": model.count_params(),
            "test": evaluate(model, vectorizers, test, cfg, flags_obj),
        }
        if attention and flags_obj.heatmaps:
            results["heatmaps"] = save_heatmaps(
                model, vectorizers, test, flags_obj.heatmaps, env
            )
        training.write_results(env.output_dir, results)

    training.plot_curves(
        curves, env.path("learning_curves.png"), ylabel="masked token loss"
    )
    by_length = {}
    x = {}
    for name, r in results["models"].items():
        for width in ("greedy", f"beam{cfg['beam_widths'][0]}"):
            bins = r["test"][width]["bleu_by_source_length"]
            by_length[f"{name} {width}"] = [
                np.nan if b["sentences"] == 0 else b["bleu"]
                for b in bins.values()
            ]
            x[f"{name} {width}"] = cfg["length_bins"]
    training.plot_curves(
        by_length,
        env.path("bleu_by_length.png"),
        xlabel="source length (tokens, bin upper edge)",
        ylabel="BLEU",
        title=f"{flags_obj.dataset}: BLEU by source length",
        x=x,
    )
    with open(env.path("table.md"), "w") as f:
        f.write(markdown_table(results, cfg))
    training.write_results(env.output_dir, results)
    print(markdown_table(results, cfg))
    return results


def main(_):
    run(FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
