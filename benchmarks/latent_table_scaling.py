"""python benchmarks/latent_table_scaling.py --repeats=5 --publish

Does a training step cost O(batch) or O(table)? The training-step time of
a GLO-style model (a code table -> the same small generator, the same
batch) at 1K, 100K and 1M table rows, on TensorFlow and on JAX
(`--backends`, default `tensorflow,jax`), for

* "kdl": `kdl.layers.LatentTable` (projection "ball"). On TensorFlow a
  `keras.Sequential` of the table and the generator with
  `kdl.optimizers.RowSparseAdam` (and `RowSparseSGD` with
  `--optimizers=sgd,adam`): the table's gradient is `IndexedSlices` and
  only the batch rows of the table and of its slots are read and written.
  On JAX a `kdl.models.GLO` with the same generator, `keras.optimizers.
  Adam` (`SGD`) for the generator and `RowSparseAdam` (`RowSparseSGD`) as
  its `code_optimizer`: its jitted step differentiates the gathered rows
  (a JAX gradient of the table would be dense) and
  `RowSparseOptimizer.apply_rows` scatters the new rows and slot rows into
  the donated state, in place (issue 16);
* "keras": `keras.layers.Embedding` + `keras.optimizers.Adam` (SGD): Keras
  densifies the sparse gradient and updates the whole table and slots
  (on JAX the gradient is dense to begin with).

Goal (issues 8 and 16): kdl's step at 1M rows <= 1.2x its step at 1K rows,
judged on each backend. Every (implementation, optimizer, rows) variant
is one model, all alive at once in one process per backend, timed over
`--steps` steps once per repeat in a shuffled order; the ratio 1M / 1K is
taken per repeat and reported as median [min, max] over `--repeats` (>= 5).
Also reported: Keras's own 1M / 1K ratio and Keras / kdl at 1M rows, and
(details) the bytes of table-sized state per variant. Ratios never mix
backends.

Compilation: TensorFlow runs without XLA on either side
(`jit_compile=False`, a `tf.function` graph): the row-sparse update's
`tf.unique` has no static shape (`kdl.models.GLO` refuses XLA there too),
and the Keras baseline runs the same graph mode. JAX runs
`jit_compile=True` on either side (what Keras's default `"auto"` resolves
to there: `jax.jit`, XLA, with the state donated; recorded in the
details); `jit_compile=False` on JAX would run op by op, uncompiled.

Each backend runs in its own child process (`KERAS_BACKEND` is read once,
at import; `benchmarks/common.py`'s `run_backends`), one after the other;
the parent merges their rows into one JSON, each row prefixed by its
backend ("TensorFlow: ...", "JAX: ...") with its `backend` field, the
details by backend. Memory: about 3 GB at 1M rows per process (Adam's two
slots of 256 MB each per table). `--quick` (rows 1K and 100K, 3 steps, 2
repeats) is a trial, never published. `--publish` writes
benchmarks/results/latent_table_scaling.json.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kdl  # noqa: E402
from benchmarks import common  # noqa: E402

FLAGS = flags.FLAGS
GOAL = 1.2
OPTIMIZERS = ("sgd", "adam")
# `jit_compile` per backend (see the module docstring).
JIT_COMPILE = {"tensorflow": False, "jax": True}
# The flags a child process gets from its parent (`--backends` and
# `--child_json` are set per child; `--publish` is the parent's).
CHILD_FLAGS = (
    "rows",
    "optimizers",
    "latent_dim",
    "batch_size",
    "steps",
    "repeats",
    "quick",
)


def define_flags():
    flags.DEFINE_list("rows", ["1000", "100000", "1000000"], "Table sizes.")
    flags.DEFINE_list("optimizers", ["adam"], f"Of {list(OPTIMIZERS)}.")
    flags.DEFINE_list(
        "backends",
        list(common.BACKENDS),
        "Keras backends to measure, each in its own child process.",
    )
    flags.DEFINE_integer("latent_dim", 64, "Code size.", lower_bound=1)
    flags.DEFINE_integer("batch_size", 128, "Batch size.", lower_bound=1)
    flags.DEFINE_integer("steps", 20, "Timed steps per variant and repeat.")
    flags.DEFINE_integer("repeats", 5, "Interleaved repeats (median kept).")
    flags.DEFINE_bool("publish", False, "Write the results JSON.")
    flags.DEFINE_bool("quick", False, "Rows 1K/100K, 3 steps, 2 repeats.")
    flags.DEFINE_string(
        "child_json",
        None,
        "Internal (set by the parent): measure this process's backend only "
        "and write the rows to this file.",
    )


def generator_layers():
    """The MLP generator's layers (codes -> 256 ReLU -> 784 sigmoid)."""
    return [
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(28 * 28, activation="sigmoid"),
    ]


def keras_optimizer(optimizer):
    return {
        "adam": keras.optimizers.Adam(1e-3),
        "sgd": keras.optimizers.SGD(0.1),
    }[optimizer]


def row_sparse_optimizer(optimizer):
    return {
        "adam": kdl.optimizers.RowSparseAdam(1e-3),
        "sgd": kdl.optimizers.RowSparseSGD(0.1),
    }[optimizer]


def build(rows, latent_dim, optimizer, ours):
    """A compiled table -> MLP generator (64-256-784) model and its table.

    `ours`: a `LatentTable` with a row-sparse kdl optimizer (TensorFlow: in
    a `keras.Sequential`; JAX: a `kdl.models.GLO`, the row-sparse optimizer
    as its `code_optimizer`); else a Keras `Embedding` and optimizer.
    """
    backend = keras.backend.backend()
    jit_compile = JIT_COMPILE[backend]
    if ours and backend == "jax":
        generator = keras.Sequential(
            [keras.Input(shape=(latent_dim,)), *generator_layers()]
        )
        model = kdl.models.GLO(generator, rows, latent_dim, projection="ball")
        model.compile(
            optimizer=keras_optimizer(optimizer),
            code_optimizer=row_sparse_optimizer(optimizer),
            loss="mse",
            jit_compile=jit_compile,
        )
        return model, model.latent_table
    if ours:
        table = kdl.layers.LatentTable(rows, latent_dim, projection="ball")
        optimizer = row_sparse_optimizer(optimizer)
    else:
        table = keras.layers.Embedding(rows, latent_dim)
        optimizer = keras_optimizer(optimizer)
    model = keras.Sequential(
        [keras.Input(shape=(), dtype="int32"), table, *generator_layers()]
    )
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    return model, table


def table_bytes(model, table):
    """Bytes of the table and of the optimizer slots of the table's shape.

    The slots are those of `model.optimizer`, and of a GLO's
    `code_optimizer`.
    """
    shape = tuple(table.embeddings.shape)
    variables = list(model.optimizer.variables)
    code_optimizer = getattr(model, "code_optimizer", None)
    if code_optimizer is not None:
        variables += list(code_optimizer.variables)
    slots = [
        v
        for v in variables
        if tuple(v.shape) == shape and v is not table.embeddings
    ]
    size = int(np.prod(shape)) * 4
    return {"table": size, "slots": size * len(slots)}


def runner(model, rows, batch_size, steps, rng):
    """Warms `model` up; returns a callable doing `steps` train steps.

    Each call trains on fresh random rows (every call its own block of
    indices), the same targets.
    """
    y = rng.uniform(size=(batch_size, 28 * 28)).astype("float32")
    indices = rng.randint(0, rows, size=(64, batch_size)).astype("int32")
    state = {"next": 0}

    def go():
        for _ in range(steps):
            model.train_on_batch(indices[state["next"] % len(indices)], y)
            state["next"] += 1

    for _ in range(2):  # trace, then one more step
        model.train_on_batch(indices[-1], y)
    return go


def name(impl, optimizer, rows):
    return f"{impl} {optimizer}, {rows} rows"


def measure(rows_list, optimizers, latent_dim, batch_size, steps, repeats):
    """Seconds per step per variant (one list entry per repeat).

    Returns:
        times (dict variant -> list of seconds per step), table and slot
        bytes per variant, and the `jit_compile` each model resolved to.
    """
    rng = np.random.RandomState(0)
    runs, sizes, resolved = {}, {}, {}
    for optimizer in optimizers:
        for impl in ("kdl", "keras"):
            for rows in rows_list:
                keras.utils.set_random_seed(0)
                model, table = build(rows, latent_dim, optimizer, impl == "kdl")
                key = name(impl, optimizer, rows)
                runs[key] = runner(model, rows, batch_size, steps, rng)
                sizes[key] = table_bytes(model, table)
                resolved[key] = bool(model.jit_compile)
    times = common.interleaved(runs, repeats)
    times = {k: [t / steps for t in v] for k, v in times.items()}
    return times, sizes, resolved


def label(impl, optimizer, backend):
    """What trains the table, e.g. "kdl LatentTable + RowSparseAdam"."""
    opt = {"adam": "Adam", "sgd": "SGD"}[optimizer]
    if impl == "keras":
        return f"Keras Embedding + {opt}"
    if backend == "tensorflow":
        return f"kdl LatentTable + RowSparse{opt}"
    return f"kdl GLO, LatentTable + RowSparse{opt}.apply_rows (jitted step)"


def table_rows(times, backend, rows_list, optimizers, setting):
    """Headline rows and ratios from seconds per step.

    Args:
        times: dict `name(impl, optimizer, rows)` -> list of seconds per
            step, one per repeat, for impl "kdl" and "keras", every
            optimizer and the smallest and largest of `rows_list`.
        backend: "tensorflow" or "jax" (names what trains kdl's table).
        setting: text naming batch, code size, generator and steps.

    Returns:
        rows (the goal on kdl + Adam, on either backend) and dict
        what -> ratio.
    """
    lo, hi = min(rows_list), max(rows_list)
    rows, ratios = [], {}
    for optimizer in optimizers:
        for impl in ("kdl", "keras"):
            stats = common.ratio(
                times, name(impl, optimizer, hi), name(impl, optimizer, lo)
            )
            ratios[f"{impl} {optimizer}, {hi} / {lo} rows"] = stats
            claimed = impl == "kdl" and optimizer == "adam"
            what = label(impl, optimizer, backend)
            rows.append(
                common.headline(
                    f"step time {hi:,} rows / {lo:,} rows, {what} ({setting})",
                    stats,
                    f"<= {GOAL}" if claimed else None,
                    stats["median"] <= GOAL if claimed else None,
                )
            )
        stats = common.ratio(
            times, name("keras", optimizer, hi), name("kdl", optimizer, hi)
        )
        ratios[f"keras / kdl {optimizer}, {hi} rows"] = stats
        rows.append(
            common.headline(
                f"step time at {hi:,} rows, Keras / kdl ({optimizer})", stats
            )
        )
    return rows, ratios


def settings():
    """(rows_list, steps, repeats) of this run; `--quick` overrides them."""
    rows_list = sorted(int(r) for r in FLAGS.rows)
    steps, repeats = FLAGS.steps, FLAGS.repeats
    if FLAGS.quick:
        rows_list, steps, repeats = [1000, 100000], 3, 2
    unknown = sorted(set(FLAGS.optimizers) - set(OPTIMIZERS))
    if unknown or len(rows_list) < 2:
        raise app.UsageError(
            f"--optimizers of {list(OPTIMIZERS)} and >= 2 --rows. Received: "
            f"optimizers={FLAGS.optimizers}, rows={rows_list}"
        )
    return rows_list, steps, repeats


def child(backend, rows_list, steps, repeats):
    """This process's rows and details (one backend)."""
    load_start = list(os.getloadavg())
    times, sizes, resolved = measure(
        rows_list,
        FLAGS.optimizers,
        FLAGS.latent_dim,
        FLAGS.batch_size,
        steps,
        repeats,
    )
    setting = (
        f"batch {FLAGS.batch_size}, codes {FLAGS.latent_dim}, "
        f"generator MLP 256-784, {steps} steps per repeat"
    )
    rows, ratios = table_rows(
        times, backend, rows_list, FLAGS.optimizers, setting
    )
    details = {
        "setting": setting,
        "resolved_jit_compile": resolved,
        "ms_per_step": {
            k: common.summary([1000 * t for t in v]) for k, v in times.items()
        },
        "table_and_slot_bytes": sizes,
        "ratios": ratios,
        "load_average_start": load_start,
        "load_average_end": list(os.getloadavg()),
    }
    return rows, details


def main(_):
    chosen = settings()
    common.backend_main(
        "latent_table_scaling",
        os.path.abspath(__file__),
        FLAGS,
        CHILD_FLAGS,
        child,
        chosen,
        repeats=chosen[2],
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
