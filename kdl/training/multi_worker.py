"""Training under `MultiWorkerMirroredStrategy` (TF-only code, in training).

Keras 3.15's `Model.fit` does not run under `MultiWorkerMirroredStrategy`
(keras-team/keras#20585, tensorflow/tensorflow#72388): its symbolic build
eagerly calls `strategy.reduce("MEAN", batch)` on the whole `(x, y)` batch,
which the collective strategy cannot reduce as a structure, and its step
function reduces the scalar logs with `axis=0` across workers ("Invalid
reduction dimension 0 for input with 0 dimensions"). `fit_distributed` is
the same epoch loop written on public Keras and `tf.distribute` API: the
model's own `train_step` runs in `strategy.run` over
`strategy.experimental_distribute_dataset`, and Keras's `CallbackList`
drives the callbacks, so a model with its own `train_step`, the progress
bar, `BackupAndRestore`, `CSVLogger` and the rest work unchanged.
"""

import json
import os

import keras
import tensorflow as tf


def is_multi_worker(strategy=None):
    """Whether `strategy` (default: the current one) spans several workers."""
    strategy = strategy or tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    spec = strategy.cluster_resolver.cluster_spec().as_dict()
    tasks = sum(len(spec.get(job, ())) for job in ("chief", "worker"))
    return tasks > 1


def is_chief(strategy=None):
    """Whether this process is the chief of `strategy`'s cluster.

    The chief is the `chief` task if the cluster has one, else worker 0; a
    single-process strategy is always the chief. Only the chief writes
    results, plots and checkpoints to the shared output folder.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    spec = resolver.cluster_spec().as_dict()
    return (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in spec
    )


def task_name(strategy=None):
    """`"<task type>_<task id>"` of this process, e.g. `"worker_1"`."""
    strategy = strategy or tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return "chief_0"
    resolver = strategy.cluster_resolver
    return f"{resolver.task_type}_{resolver.task_id}"


def fit_distributed(
    model,
    x,
    y=None,
    *,
    epochs=1,
    batch_size=None,
    callbacks=None,
    validation_data=None,
    steps_per_epoch=None,
    validation_steps=None,
    shuffle=True,
    seed=None,
    verbose="auto",
    initial_epoch=0,
):
    """`model.fit` for any `tf.distribute` strategy, multi-worker included.

    The loop of Keras's `fit`: per epoch, metrics are reset, the model's
    `train_step` runs on every replica of `model.distribute_strategy`
    (`strategy.run`) for each batch of the distributed dataset, the logs
    are averaged over all replicas of all workers, and the callbacks see
    `on_train_begin`, `on_epoch_begin`, `on_train_batch_begin/end`,
    `on_epoch_end` (with `val_*` logs from `test_step` when
    `validation_data` is given) and `on_train_end`. The loss is scaled by
    the number of replicas inside Keras's `compute_loss` and the optimizer
    sums the gradients across replicas, so one step on a global batch
    equals one step of a single process on the same batch.

    Every worker runs the same call on the same data: the dataset is
    batched with the *global* batch size and `tf.distribute` gives each
    worker its part of every batch. A `keras.callbacks.BackupAndRestore`
    among `callbacks` restores the weights, optimizer state and epoch of
    an interrupted run (the next epoch starts from its first batch, as in
    Keras's `fit`). In a multi-worker cluster only the chief should write
    shared files: `kdl.training.fit` gives the other workers callbacks that
    write to a temporary folder.

    Args:
        model: a compiled Keras model, made inside
            `model.distribute_strategy.scope()`. An unbuilt model is built
            on the shapes of the first batch.
        x: a `tf.data.Dataset` of `(x, y)` or `(x, y, sample_weight)`
            batches (global batch size), or arrays with `y`.
        y: targets when `x` is an array.
        epochs, initial_epoch, steps_per_epoch, validation_steps, verbose:
            as in `fit`. `steps_per_epoch` keeps one iterator across epochs
            (the dataset should repeat).
        batch_size: the global batch size for arrays (default 32).
        callbacks: Keras callbacks.
        validation_data: a dataset or an `(x, y)` tuple of arrays.
        shuffle: whether arrays are shuffled each epoch (a dataset is used
            as given).
        seed: the shuffle seed for arrays; every worker must use the same.

    Returns:
        The `keras.callbacks.History`, like `fit`.
    """
    strategy = model.distribute_strategy
    if getattr(model, "optimizer", None) is None:
        raise ValueError(
            "fit_distributed needs a compiled model: call `model.compile()` "
            f"first. Received: model={model.name!r} without an optimizer"
        )
    epochs = int(epochs)
    if verbose == "auto":
        verbose = 1
    train = _as_dataset(x, y, batch_size, shuffle=shuffle, seed=seed)
    _build(model, strategy, train)
    train_step = _replicated(strategy, model.train_step)
    distributed = strategy.experimental_distribute_dataset(train)
    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, tf.data.Dataset):
            validation_data = _as_dataset(
                *validation_data[:2], batch_size, shuffle=False
            )
        validation = (
            strategy.experimental_distribute_dataset(validation_data),
            _replicated(strategy, model.test_step),
        )
    steps = steps_per_epoch or _finite_cardinality(train)
    callback_list = keras.callbacks.CallbackList(
        callbacks,
        add_history=True,
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
        model=model,
    )
    model.stop_training = False
    callback_list.on_train_begin()
    first = max(int(initial_epoch), _restored_epoch(callbacks))
    iterator = None
    epoch_logs = None
    for epoch in range(first, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        if iterator is None or steps_per_epoch is None:
            iterator = iter(distributed)
        logs = {}
        step = 0
        while steps_per_epoch is None or step < steps_per_epoch:
            data = next(iterator, None)
            if data is None:
                break
            callback_list.on_train_batch_begin(step)
            logs = train_step(data)
            callback_list.on_train_batch_end(step, logs)
            step += 1
            if model.stop_training:
                break
        epoch_logs = _metrics_or_logs(model, logs)
        if validation is not None:
            val_logs = _evaluate(
                model, *validation, validation_steps, callback_list
            )
            epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    if isinstance(model.optimizer, keras.optimizers.Optimizer) and epochs > 0:
        model.optimizer.finalize_variable_values(model.trainable_weights)
    callback_list.on_train_end(logs=epoch_logs)
    return model.history


def evaluate_distributed(
    model, x, y=None, *, batch_size=None, steps=None, callbacks=None
):
    """`model.evaluate(..., return_dict=True)` for any `tf.distribute`
    strategy, multi-worker included (Keras's `evaluate` fails there like
    `fit`).

    The model's `test_step` runs on every replica of
    `model.distribute_strategy` over the distributed dataset; the metrics
    are read across all replicas of all workers, so every worker gets the
    same numbers, those of one process evaluating the whole dataset.

    Args:
        model: a compiled Keras model, made in its strategy's scope.
        x, y, batch_size: a `tf.data.Dataset` of batches (global batch
            size), or arrays with `y` (batched by `batch_size`, default 32).
        steps: how many batches (default: the whole dataset).
        callbacks: Keras callbacks (`on_test_begin` / `on_test_end`).

    Returns:
        A dict of metric names to floats.
    """
    strategy = model.distribute_strategy
    dataset = _as_dataset(x, y, batch_size, shuffle=False)
    _build(model, strategy, dataset)
    callback_list = keras.callbacks.CallbackList(callbacks, model=model)
    return _evaluate(
        model,
        strategy.experimental_distribute_dataset(dataset),
        _replicated(strategy, model.test_step),
        steps,
        callback_list,
    )


def _as_dataset(x, y, batch_size, shuffle, seed=None):
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise ValueError(
                "`y` must be None when `x` is a tf.data.Dataset (the "
                "dataset yields the targets). Received: y of type "
                f"{type(y).__name__}"
            )
        return x
    if y is None:
        raise ValueError(
            "fit_distributed needs `x` as a tf.data.Dataset, or arrays `x` "
            "and `y`. Received: y=None"
        )
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        count = int(dataset.cardinality())
        dataset = dataset.shuffle(count, seed=0 if seed is None else seed)
    return dataset.batch(int(batch_size or 32))


def _finite_cardinality(dataset):
    count = int(dataset.cardinality())
    return count if count >= 0 else None


def _build(model, strategy, dataset):
    """Creates the model's and optimizer's variables in cross-replica
    context, from the shapes of the first batch (as `fit` does)."""
    with strategy.scope():
        if not model.built:
            spec = dataset.element_spec
            x, _, _ = keras.utils.unpack_x_y_sample_weight(spec)
            inputs = tf.nest.map_structure(
                lambda s: keras.KerasTensor(
                    s.shape, keras.backend.standardize_dtype(s.dtype)
                ),
                x,
            )
            model(inputs)
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)


def _replicated(strategy, step_function):
    """A `tf.function` running `step_function` on every replica, its logs
    averaged over all replicas of all workers."""

    @tf.function(reduce_retracing=True)
    def step(data):
        outputs = strategy.run(step_function, args=(data,))
        return tf.nest.map_structure(
            lambda v: strategy.reduce("MEAN", v, axis=None), outputs
        )

    return step


def _metrics_or_logs(model, logs):
    """The epoch's metric results (read across all replicas), or the last
    step's logs when a custom `train_step` reports other names (as `fit`)."""
    results = model.get_metrics_result()
    chosen = results if set(results) == set(logs) else logs
    return {k: _to_python(v) for k, v in chosen.items()}


def _to_python(value):
    """A float for a scalar (as in Keras's logs), else the value."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _evaluate(model, distributed, test_step, steps, callback_list):
    model.reset_metrics()
    callback_list.on_test_begin()
    logs = {}
    for step, data in enumerate(distributed):
        if steps is not None and step >= steps:
            break
        logs = test_step(data)
    logs = _metrics_or_logs(model, logs)
    callback_list.on_test_end(logs)
    return logs


def _restored_epoch(callbacks):
    """The epoch a `BackupAndRestore` among `callbacks` restored, else 0.

    Keras's `fit` gets it from the callback through a private model
    attribute; the same number is in the callback's metadata file, which
    is read here right after `on_train_begin` (before anything deletes it).
    """
    for callback in callbacks or ():
        if isinstance(callback, keras.callbacks.BackupAndRestore):
            path = os.path.join(callback.backup_dir, "training_metadata.json")
            if os.path.exists(path):
                with open(path) as f:
                    return int(json.load(f)["epoch"])
    return 0
