"""Helpers shared by the row-sparse optimizer tests: NumPy references of
lazy SGD and Adam, LatentTable training loops (`train`: TensorFlow's
`apply` of `tf.IndexedSlices`; `train_rows`: `apply_rows`, any backend),
slot and constraint tools."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

import kdl

ROWS, DIM, BATCH, TOUCHED = 40, 5, 8, 16


def np_project(rows, projection):
    norm = np.linalg.norm(rows, axis=-1, keepdims=True)
    if projection == "ball":
        return rows / np.maximum(norm, 1.0)
    if projection == "sphere":
        return rows / np.maximum(norm, 1e-12)
    return rows


def row_grads(table, idx, targets):
    """d/dz of 0.5 * sum_b |z[idx_b] - t_b|^2, summed per unique row."""
    grads = {}
    for b, i in enumerate(idx):
        g = table[i] - targets[b]
        grads[i] = grads.get(i, 0.0) + g
    return grads


def np_lazy_adam(table, batches, targets, lr, projection, b1=0.9, b2=0.999):
    eps = 1e-7
    w = table.astype("float64").copy()
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, (idx, tgt) in enumerate(zip(batches, targets), start=1):
        grads = row_grads(w, idx, tgt)
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        for i, g in grads.items():
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g**2
            w[i] = w[i] - alpha * m[i] / (np.sqrt(v[i]) + eps)
            w[i] = np_project(w[i], projection)
    return w, m, v


def np_lazy_sgd(table, batches, targets, lr, momentum, nesterov, projection):
    w = table.astype("float64").copy()
    mom = np.zeros_like(w)
    for idx, tgt in zip(batches, targets):
        for i, g in row_grads(w, idx, tgt).items():
            if momentum:
                mom[i] = momentum * mom[i] - lr * g
                step = momentum * mom[i] - lr * g if nesterov else mom[i]
            else:
                step = -lr * g
            w[i] = np_project(w[i] + step, projection)
    return w, mom


def slot(optimizer, name, shape=(ROWS, DIM)):
    """The one `shape` slot variable named `*_{name}` (public API only)."""
    found = [
        v
        for v in optimizer.variables
        if v.name.endswith("_" + name) and tuple(v.shape) == shape
    ]
    assert len(found) == 1, [v.name for v in optimizer.variables]
    return found[0]


def constrained(value, constraint=None):
    """A `keras.Variable` with a constraint (as `Layer.add_weight` sets it)."""
    variable = keras.Variable(value)
    variable.constraint = constraint or kdl.constraints.UnitBallRows()
    return variable


class RecordingBall(kdl.constraints.UnitBallRows):
    """The ball constraint, recording the static shape of what it is given."""

    def __init__(self):
        self.shapes = []

    def __call__(self, w):
        self.shapes.append(tuple(w.shape))
        return super().__call__(w)


def make_batches(steps, seed=0):
    rng = np.random.RandomState(seed)
    # Only rows < TOUCHED are ever in a batch; duplicates happen.
    batches = [rng.randint(0, TOUCHED, size=BATCH) for _ in range(steps)]
    targets = [rng.normal(size=(BATCH, DIM)) for _ in range(steps)]
    return batches, targets


def train(optimizer, projection, steps=25, graph=True):
    """Fits a LatentTable's rows to random targets with `optimizer`.

    Returns:
        `(table, start, batches, targets, norms)`: norms of every code
        after every step.
    """
    table = kdl.layers.LatentTable(ROWS, DIM, projection=projection)
    table.build()
    start = table.codes.copy()
    batches, targets = make_batches(steps)

    def step(idx, tgt):
        with tf.GradientTape() as tape:
            z = table(idx)
            loss = 0.5 * ops.sum(ops.square(z - tgt))
        grad = tape.gradient(loss, [table.embeddings])
        optimizer.apply(grad, [table.embeddings])
        return grad[0]

    fn = tf.function(step) if graph else step
    norms = []
    for idx, tgt in zip(batches, targets):
        grad = fn(tf.constant(idx, "int32"), tf.constant(tgt, "float32"))
        norms.append(np.linalg.norm(table.codes, axis=1))
    assert isinstance(grad, tf.IndexedSlices)
    return table, start, batches, targets, np.stack(norms)


def train_rows(optimizer, projection, steps=25):
    """As `train`, through `optimizer.apply_rows` (eager, any backend).

    The gradient of `0.5 * sum |z - t|^2` w.r.t. the gathered rows `z` is
    `z - t`, per batch position (duplicates summed by `apply_rows`).
    """
    table = kdl.layers.LatentTable(ROWS, DIM, projection=projection)
    table.build()
    start = table.codes.copy()
    batches, targets = make_batches(steps)
    optimizer.build([table.embeddings])
    norms = []
    for idx, tgt in zip(batches, targets):
        idx = ops.convert_to_tensor(idx, "int32")
        rows = table.lookup(idx)
        grad = rows - ops.convert_to_tensor(tgt, "float32")
        optimizer.apply_rows(grad, table.embeddings, idx)
        norms.append(np.linalg.norm(table.codes, axis=1))
    return table, start, batches, targets, np.stack(norms)
