"""One worker of the loopback multi-worker tests (`multi_worker_test.py`).

Run as `python -m tests.training.loopback_worker OUTPUT_DIR [--kill ...]`
with `TF_CONFIG` naming this worker: it makes the strategy first (TF's
collective runtime is configured at start-up), trains `make_model()` on
`make_dataset()` with `kdl.training.fit` and prints one `RESULT {json}`
line with the final weights, the training and validation losses of the
epochs it ran and `evaluate_distributed` on the whole dataset.
`--kill=TASK,EPOCH,BATCH` SIGKILLs worker TASK after that batch.
"""

import argparse
import json
import os
import signal

import keras
import numpy as np
import tensorflow as tf

from kdl import training

EPOCHS = 4
GLOBAL_BATCH = 16


def make_dataset(shuffle=False):
    """64 fixed examples, 4 global batches of 16, the same order always
    (`shuffle`: reshuffled every epoch, seeded)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = np.sin(x).sum(axis=1, keepdims=True).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(64, seed=5)
    dataset = dataset.batch(GLOBAL_BATCH)
    options = tf.data.Options()
    policy = tf.data.experimental.AutoShardPolicy.DATA
    options.experimental_distribute.auto_shard_policy = policy
    return dataset.with_options(options)


def make_model():
    """A small MLP with seeded initial weights and SGD with momentum (so a
    resumed run also needs the optimizer state)."""
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(
                8,
                activation="tanh",
                kernel_initializer=keras.initializers.GlorotUniform(seed=1),
            ),
            keras.layers.Dense(
                1, kernel_initializer=keras.initializers.GlorotUniform(seed=2)
            ),
        ]
    )
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    return model


class Kill(keras.callbacks.Callback):
    """SIGKILLs this process after `batch` of `epoch` (a crashed machine)."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.kill_epoch, self.kill_batch, self.epoch = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == (self.kill_epoch, self.kill_batch):
            os.kill(os.getpid(), signal.SIGKILL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("output_dir")
    parser.add_argument("--kill", default="")
    args = parser.parse_args()
    strategy = training.get_strategy("multi_worker")
    callbacks = []
    if args.kill:
        task, epoch, batch = (int(v) for v in args.kill.split(","))
        if strategy.cluster_resolver.task_id == task:
            callbacks.append(Kill(epoch, batch))
    with strategy.scope():
        model = make_model()
    history, _ = training.fit(
        model,
        args.output_dir,
        make_dataset(),
        epochs=EPOCHS,
        validation_data=make_dataset().take(2),
        callbacks=callbacks,
        verbose=0,
        tensorboard=False,
    )
    result = {
        "chief": training.is_chief(strategy),
        "replicas": strategy.num_replicas_in_sync,
        "weights": [w.tolist() for w in model.get_weights()],
        "loss": history["loss"],
        "val_loss": history["val_loss"],
        "evaluate": training.evaluate_distributed(model, make_dataset()),
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
