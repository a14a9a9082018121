"""python benchmarks/latent_table_scaling.py [--rows=1000,100000,1000000]

Training-step time of a GLO-style model (code table -> the same small
generator, the same batch) at 1K, 100K and 1M table rows, for
`kdl.layers.LatentTable` + `kdl.optimizers.RowSparse{SGD,Adam}` ("ours") and
`keras.layers.Embedding` + `keras.optimizers.{SGD,Adam}` ("keras"), all in one
run. Prints the median step time (wall clock, and the process's CPU time,
which a shared machine's load disturbs less), the ratios 1M/1K per config
(goal for ours with Adam: <= 1.2), and the bytes held by the table and the
optimizer slots of table size. Takes about 10-15 minutes on a shared
2-core CPU (Keras Adam at 1M rows needs seconds per step).
"""

import gc
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app  # noqa: E402
from absl import flags  # noqa: E402

import kdl  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    if "rows" in FLAGS:
        return
    flags.DEFINE_list("rows", ["1000", "100000", "1000000"], "Table sizes.")
    flags.DEFINE_integer("latent_dim", 64, "Code size.")
    flags.DEFINE_integer("batch_size", 128, "Batch size.")
    flags.DEFINE_integer("steps", 20, "Steps per timed block.")
    flags.DEFINE_integer("warmup", 5, "Untimed steps (tracing) first.")
    flags.DEFINE_integer(
        "repeats", 7, "Timed blocks per size (round-robin); median kept."
    )
    flags.DEFINE_list("optimizers", ["sgd", "adam"], "sgd, momentum, adam.")


def generator(latent_dim):
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(28 * 28, activation="sigmoid"),
        ]
    )


def make_optimizer(kind, ours):
    if kind == "adam":
        cls = kdl.optimizers.RowSparseAdam if ours else keras.optimizers.Adam
        return cls(1e-3)
    cls = kdl.optimizers.RowSparseSGD if ours else keras.optimizers.SGD
    return cls(0.1, momentum=0.9 if kind == "momentum" else 0.0)


def build(rows, latent_dim, kind, ours):
    if ours:
        table = kdl.layers.LatentTable(rows, latent_dim, projection="ball")
    else:
        table = keras.layers.Embedding(rows, latent_dim)
    model = keras.Sequential(
        [keras.Input(shape=(), dtype="int32"), table, generator(latent_dim)]
    )
    model.compile(
        optimizer=make_optimizer(kind, ours), loss="mse", jit_compile=False
    )
    return model, table


def table_bytes(model, table):
    variable = table.embeddings
    shape = tuple(variable.shape)
    slots = [
        v
        for v in model.optimizer.variables
        if tuple(v.shape) == shape and v is not variable
    ]
    nbytes = int(np.prod(shape)) * 4
    return nbytes, sum(int(np.prod(v.shape)) * 4 for v in slots)


def time_configs(rows_list, kind, ours, rng):
    """Median step time per table size; sizes timed round-robin.

    All sizes' models live together and are timed in interleaved blocks
    (1K, 100K, 1M, 1K, ...), so a change in the load of a shared machine
    hits every size alike instead of biasing the ratio.
    """
    keras.utils.set_random_seed(0)
    batch = FLAGS.batch_size
    y = rng.uniform(size=(batch, 28 * 28)).astype("float32")
    total = FLAGS.warmup + FLAGS.steps * FLAGS.repeats
    setups = []
    for rows in rows_list:
        model, table = build(rows, FLAGS.latent_dim, kind, ours)
        indices = rng.randint(0, rows, size=(total, batch)).astype("int32")
        for step in range(FLAGS.warmup):
            model.train_on_batch(indices[step], y)
        setups.append((model, table, indices))
    wall = [[] for _ in rows_list]
    cpu = [[] for _ in rows_list]
    for r in range(FLAGS.repeats):
        for k, (model, _, indices) in enumerate(setups):
            start, start_cpu = time.perf_counter(), time.process_time()
            for s in range(FLAGS.steps):
                i = FLAGS.warmup + r * FLAGS.steps + s
                model.train_on_batch(indices[i], y)
            wall[k].append((time.perf_counter() - start) / FLAGS.steps)
            cpu[k].append((time.process_time() - start_cpu) / FLAGS.steps)
    out = []
    for (model, table, _), w, c in zip(setups, wall, cpu):
        out.append(
            (
                float(np.median(w)),
                float(np.median(c)),
                *table_bytes(model, table),
            )
        )
    del setups, model, table
    keras.backend.clear_session()
    gc.collect()
    return out


def run():
    rows_list = [int(r) for r in FLAGS.rows]
    rng = np.random.RandomState(0)
    results = {}
    print(
        f"batch={FLAGS.batch_size} latent_dim={FLAGS.latent_dim} "
        f"generator=MLP 64-256-784, {FLAGS.steps}x{FLAGS.repeats} steps"
    )
    print(
        f"{'impl':6} {'opt':8} {'rows':>8} {'ms/step':>8} {'cpu ms':>8} "
        f"{'table MB':>9} {'slots MB':>9}"
    )
    for kind in FLAGS.optimizers:
        for ours in (True, False):
            name = "ours" if ours else "keras"
            timed = time_configs(rows_list, kind, ours, rng)
            for rows, (sec, cpu, table_b, slot_b) in zip(rows_list, timed):
                ms, cpu_ms = sec * 1000.0, cpu * 1000.0
                results[(name, kind, rows)] = (ms, cpu_ms)
                print(
                    f"{name:6} {kind:8} {rows:>8} {ms:8.2f} {cpu_ms:8.2f} "
                    f"{table_b / 1e6:9.1f} {slot_b / 1e6:9.1f}",
                    flush=True,
                )
    lo, hi = min(rows_list), max(rows_list)
    print(f"\nratio {hi} rows / {lo} rows (wall time, process CPU time):")
    for kind in FLAGS.optimizers:
        for name in ("ours", "keras"):
            w_hi, c_hi = results[(name, kind, hi)]
            w_lo, c_lo = results[(name, kind, lo)]
            print(
                f"  {name:6} {kind:8} wall {w_hi / w_lo:7.2f}   "
                f"cpu {c_hi / c_lo:7.2f}"
            )
    return results


def main(_):
    run()


if __name__ == "__main__":
    define_flags()
    app.run(main)
