"""Training loss during an epoch, for learning curves finer than epochs."""

import keras


class BatchLossRecorder(keras.callbacks.Callback):
    """Records the training loss every `every` steps.

    Keras logs, at each batch, the running mean of the loss since the
    epoch began. This callback turns those into the mean loss of the steps
    since the previous record (within the epoch), so the curve shows the
    loss at that point of training instead of an average that lags behind.

    Attributes:
        steps: the global step (1-based, over all epochs) of each record.
        losses: the mean loss over the steps since the previous record.

    Args:
        every: record every `every` global steps (int >= 1).
        metric: the logged metric to record.
    """

    def __init__(self, every=1, metric="loss"):
        super().__init__()
        if isinstance(every, bool) or int(every) < 1:
            raise ValueError(
                f"`every` must be an int >= 1. Received: every={every!r}"
            )
        self.every = int(every)
        self.metric = metric
        self.steps = []
        self.losses = []
        self.global_step = 0
        self.last = (0, 0.0)  # (batches, running mean) at the last record

    def on_epoch_begin(self, epoch, logs=None):
        self.last = (0, 0.0)

    def on_train_batch_end(self, batch, logs=None):
        self.global_step += 1
        if self.global_step % self.every or not logs:
            return
        if self.metric not in logs:
            return
        count, mean = batch + 1, float(logs[self.metric])
        previous_count, previous_mean = self.last
        if count <= previous_count:  # a new epoch without on_epoch_begin
            previous_count, previous_mean = 0, 0.0
        interval = (count * mean - previous_count * previous_mean) / (
            count - previous_count
        )
        self.steps.append(self.global_step)
        self.losses.append(interval)
        self.last = (count, mean)
