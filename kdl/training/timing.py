"""Epoch timing for throughput figures."""

import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Training seconds per epoch, validation excluded.

    `seconds` holds one value per epoch; `steady_seconds()` drops the first
    epoch (tracing/compilation) when there is more than one.
    """

    def __init__(self):
        super().__init__()
        self.seconds = []
        self.start = None

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def _stop(self):
        if self.start is not None:
            self.seconds.append(time.perf_counter() - self.start)
            self.start = None

    def on_test_begin(self, logs=None):
        self._stop()

    def on_epoch_end(self, epoch, logs=None):
        self._stop()  # when there was no validation

    def steady_seconds(self):
        """Mean seconds per epoch, the first excluded when possible."""
        secs = self.seconds[1:] or self.seconds
        return sum(secs) / len(secs) if secs else None
