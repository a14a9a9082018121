"""What a translation recipe reports: its test sentences, alignment
heatmaps, BLEU by source length, curves and table."""

import os

import numpy as np

from kdl import _validation
from kdl.models.translation import reference_tokens
from kdl.models.translation import source_lengths
from kdl.models.translation import translation_alignments
from kdl.training.reporting import mean_sd
from kdl.training.reporting import plot_curves
from kdl.training.reporting import plot_heatmap
from kdl.training.reporting import save_table


def evaluation_sentences(vectorizers, pairs, max_length, count, seed=0):
    """The test sentences a translation model is scored on.

    Pairs whose source has 1 to `max_length` tokens are kept; when more
    than `count` are left, a random subset of `count` (in their order).

    Args:
        vectorizers: the `kdl.datasets.TranslationVectorizers`.
        pairs: `(source, target)` texts.
        max_length: the longest source kept, in tokens.
        count: the most sentences returned.
        seed: seed of the subset.

    Returns:
        `(sources, references)`: source texts and their references
        standardised like the model's output (`reference_tokens`).
    """
    max_length = _validation.positive_integer("max_length", max_length)
    count = _validation.positive_integer("count", count)
    pairs = list(pairs)
    lengths = source_lengths(vectorizers, [s for s, _ in pairs])
    keep = np.flatnonzero((lengths > 0) & (lengths <= max_length))
    if len(keep) > count:
        rng = np.random.RandomState(seed)
        keep = np.sort(rng.choice(keep, count, replace=False))
    references = reference_tokens(vectorizers, [pairs[i][1] for i in keep])
    return [pairs[i][0] for i in keep], references


def save_alignment_heatmaps(model, vectorizers, sources, directory, count=4):
    """Saves `alignment_<n>.png`: attention weights of `count` sentences.

    The sentences are picked by `translation_alignments` (spread over the
    longer two thirds, as in Bahdanau et al.'s figure 3); each heatmap has
    the source words on x, the output words on y and the sentence as its
    title.

    Returns:
        The paths written.
    """
    count = _validation.non_negative_integer("count", count)
    found = translation_alignments(model, vectorizers, sources, count)
    return [
        plot_heatmap(
            weights,
            os.path.join(directory, f"alignment_{n}.png"),
            source_words,
            output_words,
            "source",
            "output",
            sentence,
        )
        for n, (sentence, weights, source_words, output_words) in enumerate(
            found
        )
    ]


def bleu_by_length(test, decoder):
    """BLEU per source-length bin of one decoder (e.g. "greedy", "beam4")
    in an `evaluate_translation` result, in bin order."""
    bins = test[decoder]["bleu_by_source_length"].values()
    return [b["bleu"] for b in bins]


def mean_bleu_by_length(tests, decoder):
    """`bleu_by_length` averaged over seeds, bin by bin.

    Args:
        tests: `evaluate_translation` results, one per seed.
        decoder: e.g. "greedy" or "beam4".

    Returns:
        The mean BLEU per source-length bin, in bin order; None for a bin
        with no value in any seed.
    """
    if not tests:
        raise ValueError(f"`tests` must not be empty. Received: {tests!r}")
    columns = zip(*(bleu_by_length(t, decoder) for t in tests))
    means = []
    for column in columns:
        values = [v for v in column if v is not None]
        means.append(float(np.mean(values)) if values else None)
    return means


def translation_scores(runs, decoder):
    """The numbers a translation recipe compares, per model, over seeds.

    Args:
        runs: `{model name: [run per seed]}`, each run with `test` (an
            `evaluate_translation` result).
        decoder: the decoder of BLEU and BLEU by length (e.g. "beam4").

    Returns:
        `{"bleu": {model: [BLEU per seed]}, "exact_match": {model: [greedy
        exact match % per seed]}, "bleu_by_length": {model: [mean BLEU per
        length bin]}}`.
    """
    tests = {m: [r["test"] for r in seeds] for m, seeds in runs.items()}
    return {
        "bleu": {
            m: [t[decoder]["bleu"] for t in ts] for m, ts in tests.items()
        },
        "exact_match": {
            m: [100 * t["greedy"]["exact_match"] for t in ts]
            for m, ts in tests.items()
        },
        "bleu_by_length": {
            m: mean_bleu_by_length(ts, decoder) for m, ts in tests.items()
        },
    }


def save_translation_report(runs, directory, bins, beam_widths, title=""):
    """Learning curves, BLEU by source length and a table of several models.

    Writes into `directory`: `learning_curves.png` (training and validation
    loss per model, of its first seed), `bleu_by_length.png` (greedy and
    first-beam BLEU per source-length bin per model, mean over seeds) and
    `table.md` (BLEU per decoder and greedy exact match, mean +- sd over
    seeds, and training minutes), which is also printed.

    Args:
        runs: `{model name: run}` or `{model name: [run per seed]}`; each
            run has `history` (the fit's history dict, with `loss` and
            `val_loss`), `test` (an `evaluate_translation` result) and
            `train_seconds`.
        directory: the output folder.
        bins: the upper edges of the source-length bins of `test`.
        beam_widths: the beam widths decoded in `test` (the first is
            drawn).
        title: prefix of the BLEU-by-length title (e.g. the dataset).

    Returns:
        The table as one string.
    """
    runs = {m: r if isinstance(r, list) else [r] for m, r in runs.items()}
    empty = [m for m, seeds in runs.items() if not seeds]
    if empty:
        raise ValueError(f"Every model needs a run. Received none for {empty}")
    beam = f"beam{beam_widths[0]}"
    plot_curves(
        {
            f"{m} {k}": seeds[0]["history"][k]
            for m, seeds in runs.items()
            for k in ("loss", "val_loss")
        },
        os.path.join(directory, "learning_curves.png"),
        ylabel="masked token loss",
    )
    plot_curves(
        {
            f"{m} {d}": mean_bleu_by_length([r["test"] for r in seeds], d)
            for m, seeds in runs.items()
            for d in ("greedy", beam)
        },
        os.path.join(directory, "bleu_by_length.png"),
        x=list(bins),
        xlabel="source length (tokens, bin upper edge)",
        ylabel="BLEU" + (" (mean over seeds)" if _seeded(runs) else ""),
        title=f"{title}: BLEU by source length" if title else "",
    )
    decoders = ["greedy"] + [f"beam{w}" for w in beam_widths]

    def over_seeds(decoder, key, fmt):
        def cell(row):
            return mean_sd([r["test"][decoder][key] for r in row["runs"]], fmt)

        return cell

    return save_table(
        [{"model": m, "runs": seeds} for m, seeds in runs.items()],
        [("model", "model")]
        + [(f"BLEU {d}", over_seeds(d, "bleu", ".2f")) for d in decoders]
        + [
            ("exact (greedy)", over_seeds("greedy", "exact_match", ".3f")),
            (
                "train min",
                lambda r: np.mean([x["train_seconds"] for x in r["runs"]]) / 60,
                ".1f",
            ),
            ("seeds", lambda r: len(r["runs"])),
        ],
        os.path.join(directory, "table.md"),
    )


def _seeded(runs):
    return any(len(seeds) > 1 for seeds in runs.values())
