"""The rows of the language-model tables, each trained in one call.

Mikolov's tables put recurrent models (SRN, LSTM, SCRN) beside a
Kneser-Ney 5-gram, the same n-gram interpolated with a unigram cache, and
Bengio's feed-forward network. These functions fit and score each on
token-id streams and return its row, so a recipe only loops over seeds.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from kdl import _validation
from kdl.datasets.ngram_windows import ngram_dataset
from kdl.datasets.tbptt import tbptt_dataset
from kdl.models.cache_lm import CacheLM
from kdl.models.feed_forward_lm import FeedForwardLM
from kdl.models.kneser_ney_lm import KneserNeyLM
from kdl.models.language_model import evaluate_perplexity
from kdl.models.language_model import perplexity
from kdl.models.language_model_builders import build_language_model
from kdl.models.reset_states_callback import ResetStatesCallback
from kdl.training.multi_worker import fit_model
from kdl.training.timing import EpochTimer


def _stream(name, ids):
    array = np.asarray(ids)
    if array.ndim != 1 or array.size < 2:
        raise ValueError(
            f"`{name}` must be a 1-D stream of at least 2 token ids. "
            f"Received: {name} with shape {array.shape}"
        )
    return array


def kneser_ney_rows(train, valid, test, vocab_size, order=5):
    """Interpolated modified Kneser-Ney n-gram, alone and with a cache.

    The n-gram model is counted on `train`; the cache's window and weight
    (`kdl.models.CacheLM.tune`) are chosen on `valid`, never on `test`.

    Args:
        train, valid, test: 1-D int token-id streams.
        vocab_size: the number of token ids.
        order: the n of the n-gram model (5 in Mikolov's tables).

    Returns:
        Two dicts, `{"model", "valid_perplexity", "test_perplexity",
        "seconds", ...}`: the n-gram model, then n-gram + cache (with the
        tuned `cache_window` and `cache_lambda`).
    """
    train, valid, test = (
        _stream(n, s)
        for n, s in (("train", train), ("valid", valid), ("test", test))
    )
    start = time.perf_counter()
    kn = KneserNeyLM(vocab_size, order=order).fit(train)
    kn_row = {
        "model": f"KN{order}",
        "valid_perplexity": kn.perplexity(valid),
        "test_perplexity": kn.perplexity(test),
        "seconds": time.perf_counter() - start,
    }
    start = time.perf_counter()
    cache = CacheLM.tune(kn, valid)
    cache_row = {
        "model": f"KN{order} + cache",
        "valid_perplexity": cache.perplexity(valid),
        "test_perplexity": cache.perplexity(test),
        "cache_window": cache.window,
        "cache_lambda": cache.lam,
        "seconds": time.perf_counter() - start,
    }
    return kn_row, cache_row


def train_feed_forward_lm(
    train,
    valid,
    test,
    vocab_size,
    order=5,
    embedding_dim=100,
    hidden_units=100,
    batch_size=256,
    learning_rate=1e-3,
    clipnorm=1.0,
    epochs=20,
    seed=0,
    callbacks=(),
    jit_compile="auto",
    softmax="full",
    cutoffs=None,
    strategy=None,
):
    """Trains and scores Bengio's feed-forward n-gram network.

    Adam on shuffled `(order-1)`-token contexts of `train`; after every
    epoch the mean cross-entropy on the contexts of `valid` is logged as
    `val_loss` (so `LearningRateHalving` / `EarlyStopping` can drive the
    run through `callbacks`). `softmax="adaptive"` with `cutoffs` trains
    through `kdl.layers.AdaptiveSoftmax` (see `FeedForwardLM`). Test
    perplexity scores every token of `test` (`FeedForwardLM.perplexity`).
    The model is built in `strategy`'s scope (default: the current one)
    and trained by `kdl.training.fit_model` (Keras's `fit`, or
    `fit_distributed` under several workers).

    Returns:
        `(model, row)`: the trained `FeedForwardLM` and a dict with
        `model`, `valid_perplexity`, `test_perplexity`, `parameters`,
        `epochs`, `valid_perplexity_per_epoch` and `seconds` (training and
        per-epoch validation).
    """
    epochs = _validation.positive_integer("epochs", epochs)
    seed = _validation.integer("seed", seed)
    train, valid, test = (
        _stream(n, s)
        for n, s in (("train", train), ("valid", valid), ("test", test))
    )
    keras.utils.set_random_seed(seed)
    with (strategy or tf.distribute.get_strategy()).scope():
        model = FeedForwardLM(
            vocab_size,
            order,
            embedding_dim,
            hidden_units,
            softmax=softmax,
            cutoffs=cutoffs,
            name="ffnn_lm",
        )
        model.compile(
            keras.optimizers.Adam(learning_rate, clipnorm=clipnorm or None),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit_compile,
        )
        model.build((None, order - 1))
    data = ngram_dataset(train, order, batch_size, shuffle=True, seed=seed)
    val = ngram_dataset(valid, order, 1024)
    start = time.perf_counter()
    history = fit_model(
        model,
        data,
        validation_data=val,
        epochs=epochs,
        callbacks=list(callbacks),
        shuffle=False,  # the dataset shuffles itself
        verbose=2,
    ).history
    seconds = time.perf_counter() - start
    done = len(history["val_loss"])
    row = {
        "model": f"FFNN{order}",
        "valid_perplexity": model.perplexity(valid),
        "test_perplexity": model.perplexity(test),
        "parameters": model.count_params(),
        "epochs": done,
        "valid_perplexity_per_epoch": [
            float(np.exp(v)) for v in history["val_loss"]
        ],
        "seconds": seconds,
    }
    return model, row


def train_rnn_language_model(
    splits,
    vocab_size,
    rnn,
    seed=0,
    batch_size=64,
    bptt=30,
    epochs=20,
    strategy=None,
    callbacks=(),
    sample_length=0,
    **model_kwargs,
):
    """Trains and scores one stateful recurrent LM by truncated BPTT.

    The model is `kdl.models.build_language_model(vocab_size, rnn,
    **model_kwargs)` (units, context_units, alpha, embedding_dim,
    optimizer, learning_rate, clipnorm, jit_compile, softmax, cutoffs,
    ...), built in `strategy`'s scope, fitted over passes of `train` with
    per-epoch validation on all of `valid` (`val_loss`, for schedules
    passed in `callbacks`), then scored on `valid` and `test`. Training
    and scoring go through `kdl.training.fit_model` / `evaluate_model`, so
    `strategy` may span several workers (each runs the same call).

    Args:
        splits: `(train, valid, test)` 1-D int token-id streams.
        vocab_size: the number of token ids.
        rnn: `"srn"`, `"lstm"` or `"scrn"`.
        seed: seeds weights and dropout (`keras.utils.set_random_seed`).
        batch_size, bptt: the `kdl.datasets.tbptt_dataset` layout.
        epochs: the most passes over `train`.
        strategy: a `tf.distribute` strategy (None: the default one).
        callbacks: extra callbacks (`ResetStatesCallback` is added).
        sample_length: generate this many ids after the first 5 test ids.

    Returns:
        A dict: `parameters`, `valid_perplexity`, `test_perplexity`,
        `tokens_per_second` (training, validation excluded, first epoch
        excluded when there are more), `epochs`,
        `valid_perplexity_per_epoch`, `sample_ids`.
    """
    seed = _validation.integer("seed", seed)
    train, valid, test = (
        tbptt_dataset(_stream(n, s), batch_size, bptt)
        for n, s in zip(("train", "valid", "test"), splits)
    )
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = build_language_model(
            vocab_size,
            rnn,
            batch_size=batch_size,
            num_replicas=strategy.num_replicas_in_sync,
            seq_len=bptt,
            name=f"{rnn}_lm",
            **model_kwargs,
        )
    timer = EpochTimer()
    history = fit_model(
        model,
        train,
        validation_data=valid,
        epochs=epochs,
        callbacks=[ResetStatesCallback(), *callbacks, timer],
        verbose=2,
    ).history
    seconds = timer.steady_seconds()
    steps = int(train.cardinality())
    return {
        "parameters": model.count_params(),
        "valid_perplexity": evaluate_perplexity(model, valid),
        "test_perplexity": evaluate_perplexity(model, test),
        "tokens_per_second": steps * batch_size * bptt / seconds
        if seconds
        else None,
        "epochs": len(history["val_loss"]),
        "valid_perplexity_per_epoch": [
            perplexity(v) for v in history["val_loss"]
        ],
        "sample_ids": model.generate(
            np.asarray(splits[2][:5]), sample_length, temperature=0.8, seed=seed
        ).tolist()
        if sample_length
        else [],
    }


def summarize_runs(name, runs, **extra):
    """One table row from the runs of a model over seeds.

    Returns:
        `{"model": name, "valid_perplexity", "test_perplexity"}` (means
        over `runs`), `test_perplexity_sd` (ddof 1; 0 for one run),
        `valid` / `test` as "mean ± sd" text, `epochs` (each run's, as
        text, or "-"), `tokens_per_second` (mean, or None), `seeds` (the
        number of runs, "-" for one deterministic run without a `seed`),
        then `extra` and the `runs` themselves.
    """
    from kdl.training.reporting import mean_sd

    if not runs:
        raise ValueError(f"`runs` must not be empty. Received: runs={runs}")
    valid = [r["valid_perplexity"] for r in runs]
    test = [r["test_perplexity"] for r in runs]
    speeds = [r.get("tokens_per_second") for r in runs]
    return {
        "model": name,
        "valid_perplexity": float(np.mean(valid)),
        "test_perplexity": float(np.mean(test)),
        "test_perplexity_sd": float(np.std(test, ddof=1))
        if len(test) > 1
        else 0.0,
        "valid": mean_sd(valid, ".1f"),
        "test": mean_sd(test, ".1f"),
        "epochs": " ".join(str(r["epochs"]) for r in runs if "epochs" in r)
        or "-",
        "tokens_per_second": float(np.mean(speeds))
        if None not in speeds
        else None,
        "seeds": len(runs) if "epochs" in runs[0] else "-",
        **extra,
        "runs": runs,
    }
