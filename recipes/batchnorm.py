r"""python recipes/batchnorm.py --output_dir=out/batchnorm

Batch norm and its variants across batch sizes, and BN-LSTM vs LSTM.

- convnet: the same small convnet (conv-norm-ReLU-pool x2, dense-norm-ReLU,
  dense) on a subset of fashion_mnist with no normalization, batch norm
  (`keras.layers.BatchNormalization`), batch renorm (Ioffe 2017), ghost
  batch norm (Hoffer et al. 2017, ghost batches of `--virtual_batch_size`)
  and L1 batch norm (Hoffer et al. 2018), at each of `--batch_sizes`, for
  a fixed number of epochs (so every run sees the same examples; small
  batches take more steps). Adam at `--learning_rate` for all; the renorm
  schedule is the paper's scaled to each run's length
  (`kdl.tuning.batchnorm.renorm_schedule`). Accuracy on the full 10k test
  set. Ghost runs with a batch no larger than the ghost batch would be
  plain BN and are skipped. Shows batch norm's small-batch weakness
  (batch statistics of 4 examples vs population statistics at test time)
  and what renorm changes there.
- lstm: pixel rows as a sequence (28 steps of 28 pixels) of the same
  images, `keras.layers.LSTM` vs `RNN(kdl.layers.BNLSTMCell)` (Cooijmans
  et al. 2016, whose BN-LSTM converges faster on sequential MNIST):
  learning curves.

Default: 10k training images, 3 epochs, batch sizes 4 16 64 256, LSTM 64
units for 3 epochs at batch 64. Takes about 25 minutes on a 2-core CPU
(the batch-4 runs are the slow ones); `--smoke`: seconds. Each finished run
is stored in its folder, so a killed recipe skips it when restarted.
`--smoke`: 128 images, one batch size, 7x7-pixel rows for the LSTMs.
`--tune` searches the convnet of `--tune_variant` at `--batch_size`.
"""

import json
import os
import time

import keras
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training
from kdl.tuning import batchnorm as bn_models

FLAGS = flags.FLAGS
PARTS = ("convnet", "lstm")


def define_flags():
    training.define_common_flags(
        output_dir="out/batchnorm", epochs=3, batch_size=64, max_trials=8
    )
    if "virtual_batch_size" in FLAGS:
        return
    flags.DEFINE_multi_enum("parts", list(PARTS), PARTS, "Parts to run.")
    flags.DEFINE_multi_enum(
        "variants",
        list(bn_models.VARIANTS),
        bn_models.VARIANTS,
        "Normalization variants of the convnet.",
    )
    flags.DEFINE_list(
        "batch_sizes", ["4", "16", "64", "256"], "Convnet batch sizes."
    )
    flags.DEFINE_integer(
        "train_examples",
        10000,
        "Training images (the first N of a fixed shuffle; 0 = all 60k).",
        lower_bound=0,
    )
    flags.DEFINE_integer(
        "virtual_batch_size", 16, "Ghost batch size.", lower_bound=1
    )
    flags.DEFINE_float(
        "bn_momentum", 0.95, "Momentum of the moving statistics."
    )
    flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.")
    flags.DEFINE_integer("filters", 16, "Filters of the first conv layer.")
    flags.DEFINE_integer("lstm_units", 64, "LSTM / BN-LSTM units.")
    flags.DEFINE_integer(
        "lstm_epochs", 3, "Epochs of the LSTM part.", lower_bound=1
    )
    flags.DEFINE_bool(
        "jit_compile",
        False,
        "Compile the train steps with XLA (off, as Keras's 'auto' resolves "
        "here; on this 2-core CPU XLA made the convnet steps 3-6x slower: "
        "benchmarks/bn_overhead.py).",
    )
    flags.DEFINE_enum(
        "tune_variant", "bn", bn_models.VARIANTS, "Variant searched by --tune."
    )


def _load(flags_obj, datasets_override, seed):
    if datasets_override is not None:
        (x_train, y_train), (x_test, y_test) = datasets_override
    else:
        (x_train, y_train), (x_test, y_test) = kdl.datasets.load_images(
            "fashion_mnist"
        )
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(x_train))
    n = flags_obj.train_examples or len(x_train)
    if flags_obj.smoke:
        n, x_test, y_test = min(n, 128), x_test[:128], y_test[:128]
    order = order[:n]
    return (x_train[order], y_train[order]), (x_test, y_test)


def _dataset(images, labels, batch_size, shuffle, seed, rows=False):
    ds = kdl.datasets.image_dataset(
        images, labels, batch_size=batch_size, shuffle=shuffle, seed=seed
    )
    if rows:  # (batch, 28, 28, 1) -> 28 steps of 28 pixels
        ds = ds.map(lambda x, y: (x[..., 0], y))
    return ds


def _jit(flags_obj):
    # XLA compilation costs more than it saves on the tiny smoke models.
    return False if flags_obj.smoke else flags_obj.jit_compile


class _BatchLoss(keras.callbacks.Callback):
    """Records the running training loss every `every` batches."""

    def __init__(self, every):
        super().__init__()
        self.every = max(int(every), 1)
        self.steps, self.losses, self._step = [], [], 0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0 and logs and "loss" in logs:
            self.steps.append(self._step)
            self.losses.append(float(logs["loss"]))


def _interval_means(steps, running, steps_per_epoch):
    """Keras logs the epoch's running mean; -> mean loss between records."""
    means, previous = [], (-1, 0, 0.0)
    for step, mean in zip(steps, running):
        epoch = (step - 1) // steps_per_epoch
        count = step - epoch * steps_per_epoch
        if epoch != previous[0]:
            previous = (epoch, 0, 0.0)
        means.append(
            (count * mean - previous[1] * previous[2]) / (count - previous[1])
        )
        previous = (epoch, count, mean)
    return means


def _fit(env, name, build, train, test, batch_size, epochs, seed, rows=False):
    """Fits one model (or reloads the stored result of a finished run)."""
    folder = env.path(f"train_{name}")
    done = os.path.join(folder, "result.json")
    if os.path.exists(done):
        with open(done) as f:
            return json.load(f)
    keras.utils.set_random_seed(seed)
    train_ds = _dataset(*train, batch_size, True, seed, rows)
    test_ds = _dataset(*test, 1000, False, seed, rows)
    steps_per_epoch = -(-len(train[0]) // batch_size)
    with env.strategy.scope():
        model = build(steps_per_epoch * epochs)
    batch_loss = _BatchLoss(max(steps_per_epoch // 10, 1))
    start = time.time()
    history = model.fit(
        train_ds,
        validation_data=test_ds,
        epochs=epochs,
        callbacks=training.standard_callbacks(folder, extra=[batch_loss]),
        verbose=2,
    )
    seconds = time.time() - start
    loss, accuracy = model.evaluate(test_ds, verbose=0)
    result = {
        "test_accuracy": float(accuracy),
        "test_loss": float(loss),
        "train_seconds": seconds,
        "steps": steps_per_epoch * epochs,
        "history": history.history,
        "batch_loss_steps": batch_loss.steps,
        "batch_loss": batch_loss.losses,
    }
    training.write_results(folder, result, "result.json")
    return result


def run_convnet(env, flags_obj, train, test):
    epochs = 1 if flags_obj.smoke else flags_obj.epochs
    batch_sizes = [int(b) for b in flags_obj.batch_sizes]
    if flags_obj.smoke:  # one batch size above the ghost batch
        batch_sizes = [2 * flags_obj.virtual_batch_size]
    filters = 4 if flags_obj.smoke else flags_obj.filters
    table, runs = {}, {}
    for variant in flags_obj.variants:
        table[variant] = {}
        for batch_size in batch_sizes:
            ghost_batch = flags_obj.virtual_batch_size
            if variant == "ghost" and batch_size <= ghost_batch:
                table[variant][str(batch_size)] = None  # = plain BN
                continue

            def build(total_steps, variant=variant):
                model = bn_models.build_convnet(
                    variant,
                    input_shape=train[0].shape[1:] + (1,),
                    num_classes=int(np.max(train[1])) + 1,
                    filters=filters,
                    momentum=flags_obj.bn_momentum,
                    virtual_batch_size=flags_obj.virtual_batch_size,
                    total_steps=total_steps,
                )
                return bn_models.compile_classifier(
                    model, flags_obj.learning_rate, _jit(flags_obj)
                )

            name = f"{variant}_b{batch_size}"
            result = _fit(
                env, name, build, train, test, batch_size, epochs, env.seed
            )
            runs[name] = result
            table[variant][str(batch_size)] = result["test_accuracy"]
            print(
                f"convnet {name}: test accuracy "
                f"{result['test_accuracy']:.4f} "
                f"({result['train_seconds']:.0f} s)"
            )
    plt = training.pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for variant, row in table.items():
        acc = [np.nan if a is None else a for a in row.values()]
        ax.plot(batch_sizes, acc, marker="o", label=variant)
    ax.set_xscale("log", base=2)
    ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"fashion_mnist, {len(train[0])} images x {epochs} epochs")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(env.path("accuracy_vs_batch_size.png"), dpi=100)
    plt.close(fig)
    plt = training.pyplot()
    fig, axes = plt.subplots(
        1, len(batch_sizes), figsize=(4 * len(batch_sizes), 3.5)
    )
    for ax, batch_size in zip(np.atleast_1d(axes), batch_sizes):
        for variant in flags_obj.variants:
            run = runs.get(f"{variant}_b{batch_size}")
            if run and "val_accuracy" in run["history"]:
                acc = run["history"]["val_accuracy"]
                ax.plot(range(1, len(acc) + 1), acc, marker="o", label=variant)
        ax.set_title(f"batch {batch_size}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("test accuracy")
    np.atleast_1d(axes)[0].legend()
    fig.tight_layout()
    fig.savefig(env.path("convnet_curves.png"), dpi=100)
    plt.close(fig)
    return {
        "test_accuracy": table,
        "train_seconds": {k: r["train_seconds"] for k, r in runs.items()},
        "steps": {k: r["steps"] for k, r in runs.items()},
    }


def run_lstm(env, flags_obj, train, test):
    epochs = 1 if flags_obj.smoke else flags_obj.lstm_epochs
    units = 8 if flags_obj.smoke else flags_obj.lstm_units
    if flags_obj.smoke:  # 7 rows of 7 pixels: a short loop to compile
        train = (train[0][:, ::4, ::4], train[1])
        test = (test[0][:, ::4, ::4], test[1])
    steps, features = train[0].shape[1:]
    results, losses, loss_x, accuracies = {}, {}, {}, {}
    for cell in ("lstm", "bnlstm"):

        def build(total_steps, cell=cell):
            del total_steps
            model = bn_models.build_sequence_classifier(
                cell,
                steps=steps,
                features=features,
                units=units,
                num_classes=int(np.max(train[1])) + 1,
                momentum=flags_obj.bn_momentum,
            )
            return bn_models.compile_classifier(
                model, flags_obj.learning_rate, _jit(flags_obj)
            )

        result = _fit(
            env,
            f"rows_{cell}",
            build,
            train,
            test,
            flags_obj.batch_size,
            epochs,
            env.seed,
            rows=True,
        )
        results[cell] = {
            "test_accuracy": result["test_accuracy"],
            "train_seconds": result["train_seconds"],
            "val_accuracy": result["history"].get("val_accuracy"),
        }
        losses[cell] = _interval_means(
            result["batch_loss_steps"],
            result["batch_loss"],
            result["steps"] // epochs,
        )
        loss_x[cell] = result["batch_loss_steps"]
        accuracies[cell] = result["history"].get("val_accuracy", [])
        print(
            f"rows {cell}: test accuracy {result['test_accuracy']:.4f} "
            f"({result['train_seconds']:.0f} s)"
        )
    training.plot_curves(
        losses,
        env.path("lstm_train_loss.png"),
        x=loss_x,
        xlabel="step",
        ylabel="training loss (mean over ~1/10 epoch)",
        title="Row-by-row fashion_mnist: LSTM vs BN-LSTM",
    )
    training.plot_curves(
        accuracies,
        env.path("lstm_test_accuracy.png"),
        ylabel="test accuracy",
        title="Row-by-row fashion_mnist: LSTM vs BN-LSTM",
    )
    return results


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override)
    start = time.time()
    train, test = _load(flags_obj, datasets_override, env.seed)
    if flags_obj.tune:
        batches = -(-len(train[0]) // flags_obj.batch_size)
        epochs = 1 if flags_obj.smoke else flags_obj.epochs
        return training.run_tuner(
            bn_models.BatchNormConvNetHyperModel(
                flags_obj.tune_variant,
                total_steps=batches * epochs,
                input_shape=train[0].shape[1:] + (1,),
                num_classes=int(np.max(train[1])) + 1,
            ),
            env.path("tune"),
            objective="val_accuracy",
            tuner=flags_obj.tuner,
            max_trials=flags_obj.max_trials,
            seed=env.seed,
            x=_dataset(*train, flags_obj.batch_size, True, env.seed),
            validation_data=_dataset(*test, 1000, False, env.seed),
            epochs=epochs,
            verbose=2,
        )
    results = {
        "train_examples": len(train[0]),
        "test_examples": len(test[0]),
    }
    if "convnet" in flags_obj.parts:
        results["convnet"] = run_convnet(env, flags_obj, train, test)
    if "lstm" in flags_obj.parts:
        results["lstm"] = run_lstm(env, flags_obj, train, test)
    results["wall_seconds"] = time.time() - start
    training.write_results(env.output_dir, results)
    return results


def main(_):
    run(FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
