"""Precise batch-norm population statistics: re-estimated, equal weights.

A batch-norm layer infers with moving averages of its batch statistics,
taken while the weights were still changing. With a short momentum horizon
and heavy-tailed batch statistics (e.g. the early time steps of BN-LSTM on
pixel sequences, where few pixels are nonzero) these averages can be far
from the statistics the trained network actually sees, and inference
accuracy drops well below training-mode accuracy. The remedy ("precise
BN", Wu & Johnson 2021; `update_bn_stats` in pycls / detectron2):
with the weights fixed, run training-mode forward passes over N batches
and set each population statistic to the equal-weight average of the N
batch statistics.

`estimate_population_statistics` does that for a whole model and
`PopulationStatistics` is the Keras callback that does it before every
evaluation (or once when `fit` ends).

TensorFlow-only lines: the `tf.data.Dataset` input and, on the TF
backend, the `tf.function` that compiles the forward pass (a jitted
`stateless_call` on JAX; eager calls on other backends).
"""

import itertools
import weakref

import keras
import numpy as np

from kdl import _validation
from kdl.layers.batch_renormalization import BatchRenormalization
from kdl.layers.ghost_batch_normalization import GhostBatchNormalization
from kdl.layers.l1_batch_normalization import L1BatchNormalization
from kdl.layers.recurrent_batch_normalization import RecurrentBatchNormalization

# A variance or standard deviation is never negative: a statistic still
# holding this after a pass was not written by it.
_UNWRITTEN = -1.0

_WHEN = ("test", "train_end")


def estimate_population_statistics(
    model, data, batches=100, batch_size=None, shuffle=True, seed=None
):
    """Re-estimates every batch-norm population statistic of `model`.

    Every trainable normalization layer with moving statistics is found,
    recursively (sublayers of models, public attributes such as
    `RNN.cell` and `BNLSTMCell.input_norm`). Their `momentum` is set to 0,
    so a training-mode pass `model(x, training=True)` writes that batch's
    statistics into the moving variables; after each of `batches` passes
    the written values are accumulated, and each moving statistic is then
    set to their equal-weight mean. The momenta are restored afterwards
    (also when a pass fails, and then the statistics are restored too).
    Trainable weights are not touched.

    What is averaged, per layer class:

    - `keras.layers.BatchNormalization`, kdl's `GhostBatchNormalization`
      and `RecurrentBatchNormalization`: `moving_mean` and
      `moving_variance` (the mean of the batch means and of the batch
      variances; ghost batch norm's batch variance is its count-weighted
      mean of the ghost-batch variances, as in training). The mean of the
      batch variances is what training normalized with, as in pycls and
      fvcore's `update_bn_stats`; the variance of all examples pooled
      would be larger by the variance of the batch means.
    - kdl's `BatchRenormalization` and `L1BatchNormalization`, and Keras's
      `BatchNormalization(renorm=True)`: `moving_mean` and `moving_stddev`
      (the mean of the batch standard deviations); Keras's renorm derives
      `moving_variance = max(moving_stddev**2 - epsilon, 0)` as it does
      after each training step.
    - `RecurrentBatchNormalization` (alone or in `BNLSTMCell`): each time
      step's row is averaged over the batches that reached that step, so a
      batch shorter than `max_steps` (or with a step masked everywhere)
      does not count for the rows it did not write; a row written by no
      batch keeps its value.

    Training-only state the passes would advance is put back: kdl renorm's
    `step` counter and Keras renorm's `renorm_mean` / `renorm_stddev`. Each
    pass of a renorm layer computes its correction `(r, d)` from the
    statistics it had before the estimate (kdl's moving statistics and
    Keras's renorm statistics are reset before every batch), as the
    trained network did.

    Limits: a layer called several times in one forward pass (shared
    weights) keeps the statistics of its last call per batch. Dropout and
    other training-mode randomness run during the passes (harmless: they
    change only which activations are sampled, as in training) and their
    seed states advance; a stateful RNN's states advance too (reset them,
    e.g. with `kdl.models.ResetStatesCallback`). Frozen layers
    (`trainable=False`) run in inference mode and are left alone. The
    passes run outside `strategy.run`, on whole batches: under a
    `tf.distribute` strategy they write every replica's copy of the
    statistics (tried by hand with a 2-CPU `MirroredStrategy`, not in the
    tests).

    Compilation: on TensorFlow the pass is one `tf.function` per model
    (traced with momentum 0, cached, and retraced only for new input
    shapes or when layers are frozen / unfrozen); the model's own
    `train_function` keeps the momentum it was traced with, and functions
    traced later see the restored momentum. On JAX the pass is a jitted
    `stateless_call`: there `RNN` layers holding batch norm (`BNLSTMCell`)
    must be `unroll=True` (a `jax.lax.scan` cannot assign variables), or a
    ValueError says so.

    Args:
        model: a built Keras model (or layer) holding at least one
            trainable batch-normalization layer.
        data: the batches to estimate from, ideally training batches of the
            training batch size: a `tf.data.Dataset`, a Python iterator or
            generator, or a `keras.utils.PyDataset`, yielding `x`,
            `(x, y)` or `(x, y, sample_weight)` (only `x` is used; the
            first `batches` elements are read); or arrays (a NumPy array or
            tensor, a list or dict of them for several inputs, or an
            `(x, y)` / `(x, y, sample_weight)` tuple), cut into batches of
            `batch_size` (a last partial batch is left out unless it is the
            only one).
        batches: positive int, number of batches (forward passes). Fewer
            are used when `data` runs out first (see the returned count).
        batch_size: positive int, required for arrays and not allowed with
            other `data` (whose batches are given).
        shuffle: bool, arrays only: draw the batches from a random
            permutation, as `fit` does. Without it the first
            `batches * batch_size` rows are used in order.
        seed: None or a non-negative int, arrays only: the permutation of
            `shuffle=True` comes from `np.random.default_rng(seed)`, so the
            same seed draws the same batches whatever else used NumPy's
            random numbers (on another worker, or after a resume). None:
            NumPy's global generator (which `keras.utils.set_random_seed`
            seeds). Under a `tf.distribute` strategy with several workers
            (processes), each worker estimates on its own: pass every
            worker the same seed (and the same arrays) so that they all
            estimate from the same batches and keep identical statistics.
            With `shuffle=False` the seed has no effect; with other `data`
            (whose batches are given) it is a ValueError.

    Returns:
        A dict: `"layers"`, the paths of the layers whose statistics were
        re-estimated; `"unchanged"`, the paths of layers that no pass wrote
        (not called in training mode: they keep their statistics);
        `"batches"`, the number of forward passes run.

    Raises:
        ValueError: `batches`, `batch_size`, `shuffle`, `seed` or `data` are
            invalid (`seed` with non-array `data` too), `data` is empty, or
            `model` is not a Keras layer, is not built, has no trainable
            batch-normalization layer, or (on JAX) runs one inside a
            non-unrolled RNN.

    Example:

    >>> model.fit(train_ds, epochs=10)
    >>> kdl.models.estimate_population_statistics(model, train_ds, 40)
    {'layers': ['sequential/rnn/bnlstm_cell/input_norm', ...],
     'unchanged': [], 'batches': 40}
    >>> model.evaluate(test_ds)  # inference with the precise statistics

    Reference:
        Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021,
        https://arxiv.org/abs/2105.07576 (section 3, "precise BN").
    """
    batches = _validation.positive_integer("batches", batches)
    source = _BatchSource(data, batch_size, shuffle, seed)
    return _estimate(model, source, batches)


def _estimate(model, source, batches):
    """`estimate_population_statistics` on validated batches."""
    plans = _plans(model)
    forward = _forward_pass(model, plans)

    for plan in plans:
        plan.snapshot()
    done = 0
    finished = False
    try:
        for plan in plans:
            plan.layer.momentum = 0.0
        for x in source.take(batches):
            for plan in plans:
                plan.before_batch()
            forward(x)
            for plan in plans:
                plan.after_batch()
            done += 1
        if done == 0:
            raise ValueError(
                "`data` gave no batch to estimate the statistics from. "
                f"Received: data={source.data!r}"
            )
        for plan in plans:
            plan.write_average()
        finished = True
    finally:
        for plan in plans:
            plan.layer.momentum = plan.momentum
            plan.restore(everything=not finished)
    return {
        "layers": [plan.path for plan in plans if plan.written],
        "unchanged": [plan.path for plan in plans if not plan.written],
        "batches": done,
    }


class PopulationStatistics(keras.callbacks.Callback):
    """Re-estimates batch-norm population statistics before evaluation.

    Runs `estimate_population_statistics(model, data, batches, ...)` at
    each `on_test_begin` (`when="test"`): before every validation pass of
    `fit(..., validation_data=...)`, and in `evaluate(...,
    callbacks=[...])`. So validation scores the model with precise
    statistics, and after `fit` the model keeps those of its last
    validation. `when="train_end"` estimates once when `fit` ends instead
    (for training without validation data).

    The estimate's forward passes call the model directly (not `evaluate`
    or `predict`), so they trigger no callback; a guard also keeps the
    callback from re-entering itself.

    Cost: each estimate is `batches` training-mode forward passes (no
    gradients) plus one read of the statistics per batch (measured: no
    more than the bare forward passes); the compiled pass is traced once
    per model and reused. For BN-LSTM (64 units, 196 steps, batch 64, TF,
    2 loaded CPU cores) 10 passes took 0.74-0.91 CPU s against 1.72-1.88 s
    for 10 training steps: about half a training step each (its
    training-mode forward, with per-step statistics, costs 3x inference).
    So `batches=40` before each validation of a 400-step epoch adds about
    5 % to training.

    Training continues afterwards from the precise statistics (the moving
    averages resume from them); plain batch norm's training is unaffected
    by that, and kdl's `BatchRenormalization` corrects with them.

    Args:
        data: the batches to estimate from (see
            `estimate_population_statistics`); each estimate reads the
            first `batches` elements anew, so pass a dataset that shuffles
            on each iteration (or arrays with `shuffle=True`) to see other
            batches each time; an iterator continues where it stopped.
        batches: positive int, forward passes per estimate.
        batch_size: positive int, for array `data` only.
        shuffle: bool, arrays only: random batches each time.
        when: `"test"` (before every evaluation) or `"train_end"`.
        seed: None or a non-negative int, for array `data` (a ValueError
            with other `data`; no effect with `shuffle=False`): estimate
            `k` (0, 1, ..., counted by `results`) draws its batches from
            `np.random.default_rng([seed, k])`, so successive estimates
            see different batches and the sequence is the same in every
            run, whatever else used NumPy's random numbers. Under a
            `tf.distribute` strategy with several workers, give every
            worker the same seed, so that all keep the same statistics. A
            callback made anew after a resume starts again at `k = 0`.
            None: NumPy's global generator.

    Attributes:
        results: the dict returned by each estimate, in order.

    Example:

    >>> precise = kdl.models.PopulationStatistics(train_ds, batches=40)
    >>> model.fit(train_ds, validation_data=valid_ds, epochs=5,
    ...           callbacks=[precise])
    >>> precise.results[-1]["batches"]
    40
    """

    def __init__(
        self,
        data,
        batches=100,
        batch_size=None,
        shuffle=True,
        when="test",
        seed=None,
    ):
        super().__init__()
        self.batches = _validation.positive_integer("batches", batches)
        source = _BatchSource(data, batch_size, shuffle, seed)  # validates
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = source.seed
        self.when = _validation.one_of("when", when, _WHEN)
        self.results = []
        self._estimating = False

    def _estimate(self):
        if self._estimating:
            return
        self._estimating = True
        try:
            source = _BatchSource(
                self.data,
                self.batch_size,
                self.shuffle,
                self.seed,
                stream=len(self.results),  # estimate k draws [seed, k]
            )
            self.results.append(_estimate(self.model, source, self.batches))
        finally:
            self._estimating = False

    def on_test_begin(self, logs=None):
        if self.when == "test":
            self._estimate()

    def on_train_end(self, logs=None):
        if self.when == "train_end":
            self._estimate()


# ----------------------------------------------------------------------
# Finding the layers and what to average in each.


def _layers_in(value):
    """Layers held by an attribute value (a layer, list, tuple or dict)."""
    if isinstance(value, keras.layers.Layer):
        return [value]
    if isinstance(value, (list, tuple)):
        return [layer for item in value for layer in _layers_in(item)]
    if isinstance(value, dict):
        return [layer for item in value.values() for layer in _layers_in(item)]
    return []


def _walk(layer, inside_scan=False, seen=None):
    """Yields `(layer, inside_scan)` for `layer` and its sublayers.

    Sublayers are those of `Model.layers` and those held by public
    attributes (`RNN.cell`, `Bidirectional.forward_layer`, a cell's
    normalizations, ...). `inside_scan` is True below a non-unrolled
    `keras.layers.RNN` (a `lax.scan` on JAX).
    """
    seen = set() if seen is None else seen
    if id(layer) in seen:
        return
    seen.add(id(layer))
    yield layer, inside_scan
    if isinstance(layer, keras.layers.RNN) and not layer.unroll:
        inside_scan = True
    children = []
    if isinstance(layer, keras.Model):
        children.extend(layer.layers)
    for name, value in vars(layer).items():
        if not name.startswith("_"):
            children.extend(_layers_in(value))
    for child in children:
        yield from _walk(child, inside_scan, seen)


_NORMALIZATIONS = (
    keras.layers.BatchNormalization,
    BatchRenormalization,
    GhostBatchNormalization,
    L1BatchNormalization,
    RecurrentBatchNormalization,
)


def _is_normalization(layer):
    return isinstance(layer, _NORMALIZATIONS)


def _statistics_of(layer):
    """`(averaged, witness, kept)` variables of a normalization layer.

    `averaged` are the moving statistics to average; `witness` the one
    that shows which entries a pass wrote (set to a negative value before
    each pass; None: the layer reads its statistics in training, and its
    `step` counter shows the write); `kept` training-only state to put
    back.
    """
    mean = layer.moving_mean
    if isinstance(layer, BatchRenormalization):
        return (mean, layer.moving_stddev), None, (layer.step,)
    if getattr(layer, "renorm", False):  # keras.layers.BatchNormalization
        stddev = layer.moving_stddev
        return (mean, stddev), stddev, (layer.renorm_mean, layer.renorm_stddev)
    if isinstance(layer, L1BatchNormalization):
        return (mean, layer.moving_stddev), layer.moving_stddev, ()
    # Keras's BatchNormalization, Ghost- and RecurrentBatchNormalization.
    return (mean, layer.moving_variance), layer.moving_variance, ()


def _read(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable.value))


def _assign(variable, value):
    variable.assign(np.asarray(value, dtype=variable.dtype))


class _Plan:
    """One layer's estimate: snapshot, per-batch accumulation, average."""

    def __init__(self, layer, averaged, witness, kept):
        self.layer = layer
        self.path = getattr(layer, "path", None) or layer.name
        self.momentum = layer.momentum
        self.averaged = averaged
        self.witness = witness
        self.kept = kept
        self.written = False

    def snapshot(self):
        # Every non-trainable variable of the layer: the averaged ones and
        # whatever else a training pass writes (Keras renorm's variance).
        self.saved = [(v, _read(v)) for v in self.layer.non_trainable_variables]
        self.before = {id(v): value for v, value in self.saved}
        self.sums = [np.zeros(v.shape, "float64") for v in self.averaged]
        self.counts = np.zeros(self.averaged[0].shape, "float64")

    def before_batch(self):
        if self.witness is None:
            # kdl renorm reads its moving statistics (and step) in training:
            # give every pass the ones it was trained with.
            for v in self.averaged + self.kept:
                _assign(v, self.before[id(v)])
        else:
            # Keras renorm's own statistics (`kept`) set its correction in
            # training: every pass gets the ones it was trained with.
            for v in self.kept:
                _assign(v, self.before[id(v)])
            _assign(self.witness, np.full(self.witness.shape, _UNWRITTEN))

    def after_batch(self):
        values = {id(v): _read(v) for v in self.averaged + self.kept}
        if self.witness is None:
            (step,) = self.kept
            written = values[id(step)] != self.before[id(step)]
            written = np.broadcast_to(written, self.counts.shape)
        else:
            written = values[id(self.witness)] >= 0
        for total, v in zip(self.sums, self.averaged):
            total += np.where(written, values[id(v)], 0.0)
        self.counts += written

    def write_average(self):
        reached = self.counts > 0
        self.written = bool(reached.any())
        for total, v in zip(self.sums, self.averaged):
            mean = total / np.maximum(self.counts, 1.0)
            _assign(v, np.where(reached, mean, self.before[id(v)]))
        layer = self.layer
        if isinstance(layer, keras.layers.BatchNormalization) and getattr(
            layer, "renorm", False
        ):
            # As Keras does after each renorm training step.
            stddev = _read(layer.moving_stddev).astype("float64")
            variance = np.maximum(stddev**2 - layer.epsilon, 0.0)
            _assign(layer.moving_variance, variance)

    def restore(self, everything):
        """Puts back the training-only state, or all of it (`everything`)."""
        restored = {id(v) for v in self.kept}
        for v, value in self.saved:
            if everything or id(v) in restored:
                _assign(v, value)


def _plans(model):
    if not isinstance(model, keras.layers.Layer):
        raise ValueError(
            f"`model` must be a Keras model or layer. Received: model={model!r}"
        )
    plans = []
    scanned = []
    for layer, inside_scan in _walk(model):
        if not _is_normalization(layer) or not layer.trainable:
            continue
        if not layer.built or getattr(layer, "moving_mean", None) is None:
            raise ValueError(
                f"`model` must be built (call it on a batch, or fit it) "
                f"before its statistics are estimated; layer {layer.name!r} "
                f"is not. Received: model={model.name!r}"
            )
        plans.append(_Plan(layer, *_statistics_of(layer)))
        if inside_scan:
            scanned.append(layer.name)
    if not plans:
        raise ValueError(
            "`model` has no trainable batch-normalization layer with moving "
            "statistics (keras.layers.BatchNormalization, kdl's "
            "GhostBatchNormalization, BatchRenormalization, "
            "L1BatchNormalization, RecurrentBatchNormalization; frozen "
            f"layers are left alone). Received: model={model.name!r}"
        )
    if scanned and keras.backend.backend() == "jax":
        raise ValueError(
            "On JAX the statistics of a batch norm inside a non-unrolled "
            "`keras.layers.RNN` cannot be written (a `jax.lax.scan` cannot "
            "assign variables; see `kdl.layers.BNLSTMCell`): build the RNN "
            f"with `unroll=True`. Layers {scanned} in model={model.name!r}"
        )
    return plans


# ----------------------------------------------------------------------
# The data.


class _BatchSource:
    """Validates `data` and yields the `x` of up to `n` batches of it."""

    def __init__(self, data, batch_size, shuffle, seed=None, stream=None):
        self.data = data
        self.shuffle = _validation.boolean("shuffle", shuffle)
        self.seed = _validation.non_negative_integer(
            "seed", seed, allow_none=True
        )
        # The callback's estimate `stream` draws from `[seed, stream]`.
        self.entropy = self.seed
        if self.seed is not None and stream is not None:
            self.entropy = [self.seed, stream]
        self.kind = _data_kind(data)
        if self.seed is not None and self.kind != "arrays":
            raise ValueError(
                "`seed` is only for array `data` (it draws their shuffled "
                "batches); a dataset, iterator or PyDataset gives its own "
                "batches: seed its shuffling instead. "
                f"Received: seed={self.seed}"
            )
        if self.kind == "arrays":
            if batch_size is None:
                raise ValueError(
                    "`batch_size` is required when `data` are arrays (use "
                    "the training batch size). Received: batch_size=None"
                )
            self.batch_size = _validation.positive_integer(
                "batch_size", batch_size
            )
            self.x = _array_inputs(data)
        elif batch_size is not None:
            raise ValueError(
                "`batch_size` is only for array `data`; a dataset, iterator "
                f"or PyDataset gives its own batches. Received: "
                f"batch_size={batch_size}"
            )

    def take(self, n):
        if self.kind == "arrays":
            yield from self._array_batches(n)
            return
        if self.kind == "dataset":
            elements = self.data.take(n)
            if keras.backend.backend() != "tensorflow":
                elements = elements.as_numpy_iterator()
        elif self.kind == "pydataset":
            count = self.data.num_batches
            count = n if count is None else min(n, count)
            elements = (self.data[i] for i in range(count))
        else:
            elements = itertools.islice(self.data, n)
        for element in elements:
            x, _, _ = keras.utils.unpack_x_y_sample_weight(element)
            if keras.backend.backend() != "tensorflow":
                x = keras.tree.map_structure(np.asarray, x)
            yield x

    def _array_batches(self, n):
        leaves = keras.tree.flatten(self.x)
        size = len(leaves[0])
        order = None
        if self.shuffle:
            generator = (
                np.random
                if self.seed is None
                else np.random.default_rng(self.entropy)
            )
            order = generator.permutation(size)
        full = size // self.batch_size
        count = min(n, max(full, 1))
        for i in range(count):
            rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
            index = np.arange(size)[rows] if order is None else order[rows]
            yield keras.tree.map_structure(lambda a: a[index], self.x)


def _data_kind(data):
    try:
        import tensorflow as tf

        if isinstance(data, tf.data.Dataset):
            return "dataset"
    except ImportError:  # pragma: no cover - TF is a kdl dependency
        pass
    if isinstance(data, keras.utils.PyDataset):
        return "pydataset"
    if hasattr(data, "__next__"):
        return "iterator"
    return "arrays"


def _array_inputs(data):
    """`x` of array data, as NumPy arrays with one first dimension."""
    x = data
    if isinstance(data, tuple):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    leaves = keras.tree.flatten(x)
    if not leaves or not all(
        getattr(leaf, "shape", None) is not None and len(leaf.shape) >= 1
        for leaf in leaves
    ):
        raise ValueError(
            "`data` must be a tf.data.Dataset, an iterator, a "
            "keras.utils.PyDataset, or arrays (an array, a list or dict of "
            "arrays, or an (x, y) tuple) with a batch dimension. "
            f"Received: data={data!r}"
        )
    x = keras.tree.map_structure(np.asarray, x)
    sizes = {len(leaf) for leaf in keras.tree.flatten(x)}
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(
            "The arrays of `data` must hold the same, nonzero number of "
            f"examples. Received: data with sizes {sorted(sizes)}"
        )
    return x


# ----------------------------------------------------------------------
# The compiled forward pass, cached per model.

_PASSES = weakref.WeakKeyDictionary()


def _forward_pass(model, plans):
    """A training-mode forward pass of `model`, compiled where it helps.

    Cached per model and per set of estimated layers (freezing a layer
    changes what the traced pass writes). It must only be traced with the
    layers' momentum at 0, which holds because it is only called by
    `estimate_population_statistics` inside its try block.
    """
    key = tuple(id(plan.layer) for plan in plans)
    entry = _PASSES.get(model)
    if entry is not None and entry[0] == key:
        return entry[1]
    owner = weakref.ref(model)  # the cache must not keep the model alive
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(autograph=False, reduce_retracing=True)
        def forward(x):
            owner()(x, training=True)

    elif backend == "jax":
        import jax

        @jax.jit
        def stateless(trainable, non_trainable, x):
            _, non_trainable = owner().stateless_call(
                trainable, non_trainable, x, training=True
            )
            return non_trainable

        def forward(x):
            layer = owner()
            values = stateless(
                [v.value for v in layer.trainable_variables],
                [v.value for v in layer.non_trainable_variables],
                x,
            )
            for variable, value in zip(layer.non_trainable_variables, values):
                variable.assign(value)

    else:

        def forward(x):
            owner()(x, training=True)

    _PASSES[model] = (key, forward)
    return forward
