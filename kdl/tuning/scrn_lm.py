"""KerasTuner HyperModel of the SCRN language-model recipe."""

import keras_tuner

from kdl import datasets
from kdl import models

DEFAULTS = dict(
    units=100,
    context_units=40,
    alpha=0.95,
    learning_rate=3e-3,
    bptt=30,
    clipnorm=1.0,
)


class SCRNLanguageModelHyperModel(keras_tuner.HyperModel):
    """Searches the SCRN language model of `recipes/scrn_lm.py`.

    Hyperparameters (defaults = the recipe's defaults): `units` (hidden
    size), `context_units`, `alpha` (context decay), `learning_rate`,
    `bptt` (truncated-BPTT length; the tbptt datasets are rebuilt per
    trial in `fit`), `clipnorm`. The objective is `val_loss`, the mean
    validation cross-entropy (log perplexity).

    Args:
        train_ids, valid_ids: int token-id streams.
        vocab_size: the vocabulary size.
        batch_size: the fixed (stateful) batch size.
        rnn: "scrn", "lstm" or "srn" (`context_units`/`alpha` only matter
            for "scrn").
        optimizer: a Keras optimizer name, e.g. "adam" or "sgd"
            (`keras.optimizers.get`).
        embedding_dim: input embedding size (None: the trial's `units`).
        defaults: overrides of `DEFAULTS` (the recipe passes its flags).
        max_steps: cap on training batches per epoch (None: all).
    """

    def __init__(
        self,
        train_ids,
        valid_ids,
        vocab_size,
        batch_size=32,
        rnn="scrn",
        optimizer="adam",
        embedding_dim=None,
        defaults=None,
        max_steps=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.train_ids = train_ids
        self.valid_ids = valid_ids
        self.vocab_size = int(vocab_size)
        self.batch_size = int(batch_size)
        self.rnn = rnn
        self.optimizer = optimizer
        self.embedding_dim = embedding_dim
        self.defaults = {**DEFAULTS, **(defaults or {})}
        self.max_steps = max_steps

    def build(self, hp):
        d = self.defaults
        units = hp.Int("units", 50, 400, step=50, default=d["units"])
        context_units = hp.Int(
            "context_units", 10, 100, step=10, default=d["context_units"]
        )
        alpha = hp.Float("alpha", 0.5, 0.99, default=d["alpha"])
        learning_rate = hp.Float(
            "learning_rate",
            1e-4,
            3e-2,
            sampling="log",
            default=d["learning_rate"],
        )
        clipnorm = hp.Float("clipnorm", 0.25, 10.0, default=d["clipnorm"])
        return models.build_language_model(
            self.vocab_size,
            self.rnn,
            units,
            context_units,
            alpha=alpha,
            embedding_dim=self.embedding_dim,
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            learning_rate=learning_rate,
            clipnorm=clipnorm,
        )

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        bptt = hp.Int("bptt", 10, 100, step=5, default=self.defaults["bptt"])
        train = datasets.tbptt_dataset(self.train_ids, self.batch_size, bptt)
        valid = datasets.tbptt_dataset(self.valid_ids, self.batch_size, bptt)
        if self.max_steps:
            train = train.take(self.max_steps)
        kwargs.pop("x", None)
        kwargs.pop("validation_data", None)
        callbacks = [*(callbacks or []), models.ResetStatesCallback()]
        return model.fit(
            train, validation_data=valid, callbacks=callbacks, **kwargs
        )
