"""Mikolov's learning-rate schedule for language models ("newbob")."""

import math

import keras

from kdl import _validation


class LearningRateHalving(keras.callbacks.Callback):
    """Train at a fixed rate, halve it once progress stalls, then stop.

    The schedule of Mikolov's RNNLM toolkit (Mikolov 2012, sec. 3.3; used
    for the SCRN paper's models). After every epoch, with `L` the monitored
    validation loss (a cross-entropy, i.e. log perplexity) and `L_best` the
    lowest seen so far:

    1. if `L > L_best`, the epoch made the model worse: its weights are
       replaced by the best weights seen so far (the toolkit reverts too);
    2. the epoch "stalled" when `L * min_improvement > L_best` measured
       before this epoch (the entropy fell by less than the factor
       `min_improvement`, 1.003 in the toolkit);
    3. the first stall starts the halving phase; from then on the learning
       rate is multiplied by `factor` after every epoch; a stall during the
       halving phase stops training (`model.stop_training`), as does
       reaching `max_halvings` halvings.

    At the end of training the best weights are restored (also when `fit`
    ends by its epoch budget), so `evaluate` after `fit` scores the epoch
    that scored best on validation. `halvings`, `best`, `best_epoch` and
    `stopped_epoch` record what happened.

    Stateful RNN states are weights of the model in Keras 3; they are reset
    by `kdl.models.ResetStatesCallback` at every epoch and evaluation, so
    restoring them with the weights is harmless.

    Args:
        monitor: the validation loss in `logs` (default `"val_loss"`).
        min_improvement: the entropy ratio an epoch must beat (> 1).
        factor: the learning-rate multiplier of the halving phase, in
            (0, 1). Default 0.5.
        max_halvings: stop after this many halvings (None: no limit).
        verbose: print the decisions.

    Example:

    >>> lm.fit(train, validation_data=valid, epochs=30,
    ...        callbacks=[kdl.training.LearningRateHalving(),
    ...                   kdl.models.ResetStatesCallback()])
    """

    def __init__(
        self,
        monitor="val_loss",
        min_improvement=1.003,
        factor=0.5,
        max_halvings=None,
        verbose=0,
    ):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                "`monitor` must be the name of a logged value. Received: "
                f"monitor={monitor!r}"
            )
        self.monitor = monitor
        self.min_improvement = _validation.number(
            "min_improvement", min_improvement, 1.0, min_inclusive=False
        )
        self.factor = _validation.number(
            "factor", factor, 0.0, 1.0, False, False
        )
        self.max_halvings = _validation.non_negative_integer(
            "max_halvings", max_halvings, allow_none=True
        )
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        self.best = math.inf
        self.best_epoch = None
        self.best_weights = None
        self.halving = False
        self.halvings = 0
        self.stopped_epoch = None

    def _log(self, message):
        if self.verbose:
            print(f"LearningRateHalving: {message}")

    def _set_rate(self, value):
        self.model.optimizer.learning_rate.assign(value)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"`monitor` {self.monitor!r} is not in the epoch logs "
                f"(have {sorted(logs)}): fit with validation data. Received: "
                f"monitor={self.monitor!r}"
            )
        loss = float(logs[self.monitor])
        previous = self.best
        if loss < self.best:
            self.best, self.best_epoch = loss, epoch
            self.best_weights = self.model.get_weights()
        elif self.best_weights is not None:
            self._log(f"epoch {epoch + 1} worse ({loss:.4f}); reverting")
            self.model.set_weights(self.best_weights)
        stalled = math.isfinite(previous) and (
            not math.isfinite(loss) or loss * self.min_improvement > previous
        )
        if stalled and self.halving:
            self._stop(epoch, "stalled while halving")
            return
        if stalled:
            self.halving = True
        if self.halving:
            if self.max_halvings is not None and (
                self.halvings >= self.max_halvings
            ):
                self._stop(epoch, f"{self.halvings} halvings done")
                return
            rate = float(self.model.optimizer.learning_rate) * self.factor
            self._set_rate(rate)
            self.halvings += 1
            self._log(f"epoch {epoch + 1}: learning rate -> {rate:.3g}")

    def _stop(self, epoch, why):
        self._log(f"stopping after epoch {epoch + 1} ({why})")
        self.stopped_epoch = epoch
        self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
