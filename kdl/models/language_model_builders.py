"""A compiled stateful language model for truncated BPTT, in one call."""

import keras

from kdl import _validation
from kdl.models.language_model import RNNLanguageModel


def build_language_model(
    vocab_size,
    rnn="scrn",
    units=100,
    context_units=40,
    alpha=0.95,
    embedding_dim=None,
    batch_size=32,
    num_replicas=1,
    optimizer="adam",
    learning_rate=1e-3,
    clipnorm=None,
    jit_compile="auto",
    seq_len=None,
    name=None,
    softmax="full",
    cutoffs=None,
    div_value=4.0,
):
    """A compiled, stateful `RNNLanguageModel` for `tbptt_dataset` batches.

    The model carries its RNN states from batch to batch (fit it with
    `ResetStatesCallback()`), is compiled with
    `SparseCategoricalCrossentropy(from_logits=True)` (its loss is the log
    perplexity) and the named Keras optimizer. Build it inside the
    `tf.distribute` strategy's scope: with `num_replicas` replicas each
    replica carries the states of its own `batch_size / num_replicas` rows.

    Args:
        vocab_size, rnn, units, context_units, alpha, embedding_dim: the
            `RNNLanguageModel` arguments.
        batch_size: the global (fixed) batch size of the tbptt dataset.
        num_replicas: the strategy's `num_replicas_in_sync`; must divide
            `batch_size`.
        optimizer: a Keras optimizer name ("adam", "sgd", ...), made with
            `keras.optimizers.get`.
        learning_rate: the optimizer's learning rate.
        clipnorm: gradient norm clipping; None or 0 turns it off.
        jit_compile: `Model.compile`'s `jit_compile`.
        seq_len: when given, the model is built for `(batch, seq_len)` (so
            `count_params()` works before `fit`); else it builds in `fit`.
        name: the model's name.
        softmax, cutoffs, div_value: the `RNNLanguageModel` softmax
            (`"full"` or `"adaptive"`, whose `fit` trains on the adaptive
            loss; run it without XLA, see `RNNLanguageModel`).

    Returns:
        The compiled `RNNLanguageModel`.

    Example:

    >>> lm = kdl.models.build_language_model(10000, "scrn", batch_size=64)
    >>> lm.fit(kdl.datasets.tbptt_dataset(ids, 64, 30),
    ...        callbacks=[kdl.models.ResetStatesCallback()])
    """
    batch_size = _validation.positive_integer("batch_size", batch_size)
    num_replicas = _validation.positive_integer("num_replicas", num_replicas)
    if batch_size % num_replicas:
        raise ValueError(
            "`batch_size` must be divisible by `num_replicas` (each replica "
            "carries the states of its own rows). Received: "
            f"batch_size={batch_size}, num_replicas={num_replicas}"
        )
    rows = batch_size // num_replicas
    model = RNNLanguageModel(
        vocab_size,
        rnn,
        units,
        context_units,
        alpha=alpha,
        embedding_dim=embedding_dim,
        stateful=True,
        batch_size=rows,
        softmax=softmax,
        cutoffs=cutoffs,
        div_value=div_value,
        name=name,
    )
    config = {"learning_rate": learning_rate, "clipnorm": clipnorm or None}
    model.compile(
        optimizer=keras.optimizers.get(
            {"class_name": optimizer, "config": config}
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    if seq_len:
        model.build((rows, int(seq_len)))
    return model
