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
`fit_model` / `evaluate_model` pick Keras's own where it runs.

Every worker of a cluster runs the same program with the same paths (one
shared file system). Only the chief writes there: `local_path` sends the
other workers' files to a temporary folder of their own, and decisions
that read files (reusing a finished arm) are the chief's, broadcast to all
by `chief_decides`, since every worker must join every training step.
"""

import atexit
import json
import os
import shutil
import tempfile
import weakref

import keras
import tensorflow as tf

from kdl.training.atomic import copy_file

# This process's multi-worker strategy and its scratch folder. TensorFlow
# configures the collective runtime once per process, so a process belongs
# to at most one cluster for its whole life.
_PROCESS = {"strategy": None, "scratch": None}
_FUNCTIONS = weakref.WeakKeyDictionary()  # model -> its step functions


def register_strategy(strategy):
    """Records `strategy` as this process's strategy when it is a
    `MultiWorkerMirroredStrategy` (`kdl.training.get_strategy` and `setup`
    call this), so that code running outside `strategy.scope()` (writing
    results, making callbacks) still knows whether this process is the
    chief. Returns `strategy`."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _PROCESS["strategy"] = strategy
    return strategy


def registered_strategy():
    """The multi-worker strategy this process made, or None."""
    return _PROCESS["strategy"]


def current_strategy():
    """The strategy in scope; outside any scope, this process's
    multi-worker strategy (`register_strategy`), else the default one."""
    if tf.distribute.has_strategy() or _PROCESS["strategy"] is None:
        return tf.distribute.get_strategy()
    return _PROCESS["strategy"]


def is_multi_worker(strategy=None):
    """Whether `strategy` (default: `current_strategy()`) spans several
    workers."""
    strategy = strategy or current_strategy()
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
    strategy = strategy or current_strategy()
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
    strategy = strategy or current_strategy()
    if not is_multi_worker(strategy):
        return "chief_0"
    resolver = strategy.cluster_resolver
    return f"{resolver.task_type}_{resolver.task_id}"


def _scratch():
    """This non-chief worker's temporary folder (removed at exit)."""
    if _PROCESS["scratch"] is None:
        # Absolute: mkdtemp follows a relative TMPDIR.
        folder = os.path.abspath(tempfile.mkdtemp(prefix=f"kdl-{task_name()}-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _PROCESS["scratch"] = folder
    return _PROCESS["scratch"]


def local_path(path):
    """Where this process writes `path`.

    The chief (and a single process) writes `path` itself. Every worker of
    a multi-worker cluster runs the same program with the same paths (one
    shared file system), so another worker writes to the mirror of `path`
    in its own temporary folder (removed when the process exits), as
    Keras's callbacks expect: the shared folder gets one copy of each file.
    `shared_path` maps a mirror back. Idempotent.
    """
    if is_chief():
        return path
    scratch = _scratch()
    absolute = os.path.abspath(path)
    if os.path.commonpath([absolute, scratch]) == scratch:
        return absolute
    return os.path.join(scratch, "shared", absolute.lstrip(os.sep))


def shared_path(path):
    """The shared path whose mirror `path` is (see `local_path`), else
    `path` itself: where the chief's copy of a file is."""
    scratch = _PROCESS["scratch"]
    if scratch is None:
        return path
    mirror = os.path.join(scratch, "shared")
    absolute = os.path.abspath(path)
    if os.path.commonpath([absolute, mirror]) != mirror:
        return path
    return os.path.join(os.sep, os.path.relpath(absolute, mirror))


def copy_chiefs_file(path):
    """On a non-chief worker: copies the chief's file (`shared_path(path)`)
    to `path` when `path` does not exist yet, so a file a reused arm left
    in the shared folder (e.g. trained weights) can be read back. Returns
    `path`."""
    if path != shared_path(path) and not os.path.exists(path):
        source = shared_path(path)
        if os.path.isfile(source):
            copy_file(source, path)
    return path


def worker_backup(directory):
    """The `BackupAndRestore` folder `directory/backup` of this process.

    `local_path(directory)/backup`; a non-chief worker starts from a copy of
    the chief's backup, so a restarted cluster resumes from one state on
    every worker (the chief's is the only one in the shared folder).
    """
    backup = os.path.join(local_path(directory), "backup")
    chiefs = shared_path(backup)
    if chiefs != backup and not os.path.exists(backup):
        if os.path.isdir(chiefs):
            shutil.copytree(chiefs, backup)
    return backup


def chief_decides(flag, strategy=None):
    """The chief's `flag` on every worker: a barrier and a broadcast.

    Every worker must take the same branches (each training step is a
    collective all of them join), so a decision that reads files, e.g.
    whether a finished arm can be reused, is the chief's. Every worker
    calls this at the same point; it returns when all have, and the chief
    is past what it did before (e.g. clearing a stale folder). In a single
    process it returns `bool(flag)`.
    """
    strategy = strategy or current_strategy()
    if not is_multi_worker(strategy):
        return bool(flag)
    # The sum is > 0 exactly when the chief's flag is set.
    mine = 1.0 if flag and is_chief(strategy) else 0.0
    values = strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant(mine)
    )
    return bool(strategy.reduce("SUM", values, axis=None) > 0)


def fit_model(model, x=None, y=None, **kwargs):
    """`model.fit(x, y, **kwargs)`, or `fit_distributed` where Keras's
    `fit` cannot run (the model's strategy spans several workers).

    For training code that should run anywhere: a single device, a
    `MirroredStrategy`, `MultiWorkerMirroredStrategy` or JAX. Under
    several workers `kwargs` are those `fit_distributed` takes.

    Returns:
        The `keras.callbacks.History`.
    """
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is not None and is_multi_worker(strategy):
        return fit_distributed(model, x, y, **kwargs)
    return model.fit(x, y, **kwargs)


def evaluate_model(
    model, x=None, y=None, *, batch_size=None, steps=None, callbacks=None
):
    """`model.evaluate(..., verbose=0, return_dict=True)`, or
    `evaluate_distributed` where Keras's `evaluate` cannot run (the
    model's strategy spans several workers). Returns a dict of metric
    names to floats."""
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is not None and is_multi_worker(strategy):
        return evaluate_distributed(
            model, x, y, batch_size=batch_size, steps=steps,
            callbacks=callbacks,
        )  # fmt: skip
    logs = model.evaluate(
        x, y, batch_size=batch_size, steps=steps, callbacks=callbacks,
        verbose=0, return_dict=True,
    )  # fmt: skip
    return {k: _to_python(v) for k, v in logs.items()}


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
    worker its part of every batch (a last partial batch that splits
    unevenly across replicas is a mean of per-replica means, not the
    global mean). Batches are taken inside the step's graph, and a
    shuffled dataset is iterated as Keras's `fit` iterates it, so a run
    equals Keras's `fit` in one process. A `keras.callbacks.BackupAndRestore`
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
    train_step = _functions(model)["train"]
    read_metrics = _functions(model)["metrics"]
    distributed = strategy.experimental_distribute_dataset(train)
    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, tf.data.Dataset):
            validation_data = _as_dataset(
                *validation_data[:2], batch_size, shuffle=False
            )
        validation = (
            strategy.experimental_distribute_dataset(validation_data),
            _functions(model)["test"],
            read_metrics,
            validation_steps or _finite_cardinality(validation_data),
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
        done = 0
        for step in _steps(steps):
            callback_list.on_train_batch_begin(step)
            try:
                logs = train_step(iterator)
            except tf.errors.OutOfRangeError:
                break  # the end of a dataset of unknown length
            callback_list.on_train_batch_end(step, logs)
            done += 1
            if model.stop_training:
                break
        if steps_per_epoch is None and done == steps:
            # Keras's `fit` makes one more iterator at the end of a full
            # epoch (then a new one for the next epoch): a shuffled
            # dataset's order advances with each, so do the same.
            iter(train)
        epoch_logs = _metrics_or_logs(read_metrics, logs)
        if validation is not None:
            val_logs = _evaluate(model, *validation, callback_list)
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
        _functions(model)["test"],
        _functions(model)["metrics"],
        steps or _finite_cardinality(dataset),
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


def _functions(model):
    """The model's replicated train and test steps and metrics reader,
    traced once per model and optimizer (as Keras keeps its
    `train_function`), so repeated calls do not retrace. Limits: compiling
    the model again with the same optimizer object keeps the traced steps
    (pass a new optimizer to a recompiled model), and the steps are plain
    `tf.function`s: `jit_compile` does not apply under several workers."""
    made = _FUNCTIONS.get(model)
    if made is None or made["optimizer"]() is not model.optimizer:
        strategy = model.distribute_strategy
        # Weak references: the cache must not keep the model alive.
        ref = weakref.ref(model)
        made = {
            "optimizer": weakref.ref(model.optimizer),
            "train": _replicated(strategy, lambda d: ref().train_step(d)),
            "test": _replicated(strategy, lambda d: ref().test_step(d)),
            "metrics": _metrics_reader(ref, strategy),
        }
        _FUNCTIONS[model] = made
    return made


def _replicated(strategy, step_function):
    """A `tf.function` taking the next batch of a distributed iterator and
    running `step_function` on it on every replica, its logs averaged over
    all replicas of all workers. The batch is taken inside the graph: an
    eager `next` costs a cross-worker round trip per batch (the workers
    agree on which replicas got data)."""

    @tf.function(reduce_retracing=True)
    def step(iterator):
        outputs = strategy.run(step_function, args=(next(iterator),))
        return tf.nest.map_structure(
            lambda v: strategy.reduce("MEAN", v, axis=None), outputs
        )

    return step


def _metrics_reader(model_ref, strategy):
    """A `tf.function` returning the model's metric results read across
    all replicas of all workers (in a graph: eager collectives cost a
    round trip each)."""

    @tf.function
    def read():
        with strategy.scope():
            return model_ref().get_metrics_result()

    return read


def _steps(count):
    """0, 1, ... `count - 1`; without end when `count` is None."""
    step = 0
    while count is None or step < count:
        yield step
        step += 1


def _metrics_or_logs(read_metrics, logs):
    """The epoch's metric results (read across all replicas), or the last
    step's logs when a custom `train_step` reports other names (as `fit`)."""
    results = read_metrics()
    chosen = results if set(results) == set(logs) else logs
    return {k: _to_python(v) for k, v in chosen.items()}


def _to_python(value):
    """A float for a scalar (as in Keras's logs), else the value."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _evaluate(model, distributed, test_step, read_metrics, steps, callbacks):
    model.reset_metrics()
    callbacks.on_test_begin()
    logs = {}
    iterator = iter(distributed)
    for _ in _steps(steps):
        try:
            logs = test_step(iterator)
        except tf.errors.OutOfRangeError:
            break
    logs = _metrics_or_logs(read_metrics, logs)
    callbacks.on_test_end(logs)
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
