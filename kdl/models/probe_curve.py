"""A callback that linear-probes an encoder during training."""

import json
import os
import tempfile

import keras

from kdl import _validation
from kdl.models.probes import linear_probe


class ProbeCurve(keras.callbacks.Callback):
    """Linear-probe accuracy of `encoder` over the epochs of a `fit`.

    Probes (`kdl.models.linear_probe`) before training (epoch 0), after
    every `every`-th epoch and after the last one, and keeps the test
    accuracies in `points` (`{epoch: accuracy}`). Used by `recipes/nat.py`
    to draw the probe accuracy over the NAT epochs.

    With `path`, the points are also written there as JSON after each
    probe (atomically) and read back when the callback is made, so a run
    resumed by `keras.callbacks.BackupAndRestore` (placed before this
    callback) keeps its earlier points; they are dropped when training
    starts afresh at epoch 0.

    Args:
        encoder: the model whose features are probed (e.g. the backbone
            being trained).
        probe_data: `(x_train, y_train, x_test, y_test)` for the probe.
        every: probe after every `every`-th epoch (int >= 1).
        epochs: training epochs of each probe.
        path: optional JSON file for the points.
        verbose: print each probe's accuracy.
    """

    def __init__(
        self, encoder, probe_data, every=1, epochs=10, path=None, verbose=1
    ):
        super().__init__()
        every = _validation.positive_integer("every", every)
        epochs = _validation.positive_integer("epochs", epochs)
        if len(probe_data) != 4:
            raise ValueError(
                "`probe_data` must be (x_train, y_train, x_test, y_test). "
                f"Received: {len(probe_data)} items"
            )
        self.encoder = encoder
        self.probe_data = tuple(probe_data)
        self.every = every
        self.epochs = epochs

        self.path = path
        self.verbose = verbose
        self.points = {}
        self.started = False
        if path and os.path.exists(path):
            with open(path) as f:
                self.points = {int(k): v for k, v in json.load(f).items()}

    def probe(self, epoch):
        """Probes now and records the test accuracy as `epoch`'s point."""
        scores = linear_probe(
            self.encoder, *self.probe_data, epochs=self.epochs
        )
        self.points[int(epoch)] = scores["test_accuracy"]
        if self.path:
            self._save()
        if self.verbose:
            print(f"probe after epoch {epoch}: {scores['test_accuracy']:.4f}")

    def _save(self):
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(self.points, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def on_train_begin(self, logs=None):
        self.started = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.started:
            return
        self.started = True
        # Points read from `path` belong to this run only if it resumes
        # (its first epoch is not 0); a fresh start drops them.
        if epoch == 0:
            self.points = {}
            self.probe(0)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every == 0 or done == self.params.get("epochs"):
            self.probe(done)
