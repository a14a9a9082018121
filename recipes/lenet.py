"""python recipes/lenet.py --output_dir=out/lenet

LeNet-5 as in the lecture (conv, pool, conv, pool, fc, fc, softmax; LeCun
et al. 1998) trained on a 20,000-image slice of Fashion-MNIST (test error
on the full 10K test set), then the transfer slide: freeze the early layers
(c1-s4), retrain the head on a new task (real MNIST digits, `mnist_5k`,
with only 500 labelled training images) and compare with fine-tuning
everything and with training from scratch on the same 500 images. Also
reports DeepFool's robustness rho = mean ||r|| / ||x|| of the source model
(Moosavi-Dezfooli et al. 2016, Table 1: LeNet on MNIST, rho = 0.20) and
draws activation-maximisation images of every class and a deep dream.

Options of the lecture: `--pooling=max|avg|lp|stochastic|fractional`
(kdl.layers.LpPooling2D / StochasticPooling2D / FractionalMaxPooling2D),
`--dense=low_rank --rank=16` (kdl.layers.LowRankDense for c5 and f6).
Stochastic pooling needs non-negative inputs: with it the hidden
activation is ReLU whatever `--activation` says (recorded in results).

Default run: measured 7.4 minutes wall (1.5 CPU-minutes of user time) on
the 2-core CPU shared with other jobs (load ~16); `--smoke`: seconds.
"""

import keras
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import attacks
from kdl import training
from kdl.models import lenet
from kdl.tuning.lenet import LeNetHyperModel

FLAGS = flags.FLAGS
PAPER_DEEPFOOL_RHO_LENET_MNIST = 0.20


def _define(define, name, *args, **kwargs):
    """Defines a flag unless another recipe (same process) already did."""
    if name not in FLAGS:
        define(name, *args, **kwargs)


def define_flags():
    training.define_common_flags(
        output_dir="out/lenet", epochs=8, batch_size=64
    )
    _define(
        flags.DEFINE_enum, "pooling", "max", lenet.POOLINGS, "Pooling layers."
    )
    _define(
        flags.DEFINE_enum, "dense", "dense", lenet.DENSES, "c5/f6 layer kind."
    )
    _define(flags.DEFINE_integer, "rank", 16, "Rank of the low-rank layers.", 1)
    _define(
        flags.DEFINE_enum, "activation", "tanh", ["tanh", "relu"], "Activation."
    )
    _define(flags.DEFINE_float, "learning_rate", 1e-3, "Adam learning rate.")
    _define(
        flags.DEFINE_string, "source", "fashion_mnist", "Source task dataset."
    )
    _define(flags.DEFINE_string, "target", "mnist_5k", "New task dataset.")
    _define(
        flags.DEFINE_integer, "source_train_size", 20000, "Source examples.", 1
    )
    _define(flags.DEFINE_integer, "target_train_size", 500, "Target labels.", 1)
    _define(
        flags.DEFINE_integer,
        "transfer_epochs",
        30,
        "Epochs on the new task.",
        1,
    )
    _define(
        flags.DEFINE_list,
        "freeze",
        list(lenet.FEATURE_LAYERS),
        "Layers frozen in transfer.",
    )
    _define(
        flags.DEFINE_integer,
        "deepfool_examples",
        500,
        "Test images attacked by DeepFool.",
        0,
    )


def load(name, train_size, seed, test_size=None):
    (x, y), (xt, yt) = kdl.datasets.load_images(name)
    rng = np.random.RandomState(seed)
    idx = rng.permutation(len(x))[:train_size]
    test = np.arange(len(xt))[:test_size]
    return (x[idx], y[idx].astype("int32")), (
        xt[test],
        yt[test].astype("int32"),
    )


def compile_model(model, learning_rate):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def fit_eval(model, train, test, epochs, batch_size, out, seed):
    ds = kdl.datasets.image_dataset(*train, batch_size=batch_size, seed=seed)
    test_ds = kdl.datasets.image_dataset(*test, batch_size=256, shuffle=False)
    history = model.fit(
        ds,
        validation_data=test_ds,
        epochs=epochs,
        callbacks=training.standard_callbacks(out),
        verbose=2,
    )
    _, acc = model.evaluate(test_ds, verbose=0)
    return 1.0 - float(acc), history.history


def class_images(model, shape, num_classes, steps, seed):
    rng = np.random.RandomState(seed)
    images = []
    for k in range(num_classes):
        noise = 0.5 + 0.05 * rng.randn(1, *shape).astype("float32")
        x, _ = attacks.activation_maximization(
            model, noise, unit=k, steps=steps, step_size=0.02
        )
        images.append(x[0, ..., 0])
    return np.stack(images)


def plot_images(rows, path, titles=None):
    plt = training.pyplot()
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(n_cols * 1.1, n_rows * 1.2), squeeze=False
    )
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i, j]
            ax.axis("off")
            if j < len(row):
                ax.imshow(row[j], cmap="gray", vmin=0, vmax=1)
                if titles and i == 0:
                    ax.set_title(titles[j], fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override)
    activation = flags_obj.activation
    if flags_obj.pooling == "stochastic":
        activation = "relu"
    epochs, transfer_epochs = flags_obj.epochs, flags_obj.transfer_epochs
    source_size = flags_obj.source_train_size
    test_size, df_examples = None, flags_obj.deepfool_examples
    steps = 100
    if env.smoke:
        epochs, transfer_epochs, source_size = 1, 1, 256
        test_size, df_examples, steps = 256, min(df_examples, 16), 3
    if datasets_override:
        source, target = (
            datasets_override["source"],
            datasets_override["target"],
        )
    else:
        source = load(flags_obj.source, source_size, flags_obj.seed, test_size)
        target = load(
            flags_obj.target,
            flags_obj.target_train_size,
            flags_obj.seed,
            test_size,
        )
    shape = source[0][0].shape[1:] + (1,)
    num_source = int(max(source[0][1].max(), source[1][1].max()) + 1)
    num_target = int(max(target[0][1].max(), target[1][1].max()) + 1)
    options = dict(
        pooling=flags_obj.pooling,
        dense=flags_obj.dense,
        rank=flags_obj.rank,
        activation=activation,
    )
    results = {"options": options, "source": flags_obj.source}
    if flags_obj.tune:
        results["tuning"] = training.run_tuner(
            LeNetHyperModel(shape, num_source),
            env.path("tune"),
            tuner=flags_obj.tuner,
            max_trials=flags_obj.max_trials,
            seed=flags_obj.seed,
            x=kdl.datasets.image_dataset(
                *source[0], batch_size=flags_obj.batch_size
            ),
            validation_data=kdl.datasets.image_dataset(
                *source[1], batch_size=256, shuffle=False
            ),
            epochs=epochs,
            verbose=0,
        )
        training.write_results(env.output_dir, results)
        return results

    lr, bs, seed = flags_obj.learning_rate, flags_obj.batch_size, env.seed
    with env.strategy.scope():
        base = compile_model(
            lenet.build_lenet5(shape, num_source, **options), lr
        )
    err, hist = fit_eval(
        base, *source, epochs, bs, env.path("train_source"), seed
    )
    results["source_test_error"] = err
    results["params"] = base.count_params()
    training.plot_history(
        hist, env.path("source_curves.png"), metrics=("loss", "accuracy")
    )

    # Transfer: frozen features + new head / fine-tune all / from scratch.
    frozen_weights = base.get_weights()
    rows = {}
    for row, freeze in (
        ("frozen_features_new_head", list(flags_obj.freeze)),
        ("fine_tune_all", []),
        ("from_scratch", None),
    ):
        with env.strategy.scope():
            if freeze is None:
                model = lenet.build_lenet5(shape, num_target, **options)
            else:
                donor = lenet.build_lenet5(shape, num_source, **options)
                donor.set_weights(frozen_weights)
                model = lenet.transfer_model(donor, num_target, freeze=freeze)
            compile_model(model, lr)
        err, hist = fit_eval(
            model, *target, transfer_epochs, bs, env.path(f"train_{row}"), seed
        )
        rows[row] = {
            "test_error": err,
            "trainable_params": int(
                sum(np.prod(w.shape) for w in model.trainable_weights)
            ),
            "val_accuracy": hist["val_accuracy"],
        }
    results["transfer"] = {
        "target": flags_obj.target,
        "target_train_size": len(target[0][0]),
        "frozen": list(flags_obj.freeze),
        "rows": rows,
    }
    training.plot_curves(
        {k: v["val_accuracy"] for k, v in rows.items()},
        env.path("transfer_curves.png"),
        ylabel="test accuracy (new task)",
    )

    # DeepFool on the source model.
    if df_examples:
        x = kdl.datasets.normalize_images(source[1][0][:df_examples]).numpy()
        found = attacks.deepfool(base, x, clip_min=0.0, clip_max=1.0)
        results["deepfool"] = {
            "examples": len(x),
            "fooled_fraction": float(found.fooled.mean()),
            "rho_all": attacks.robustness(x, found.perturbation),
            "rho_fooled": attacks.robustness(
                x, found.perturbation, found.fooled
            ),
            "mean_iterations": float(found.iterations.mean()),
            "paper_rho_lenet_mnist": PAPER_DEEPFOOL_RHO_LENET_MNIST,
        }
        plot_images(
            [
                x[:8, ..., 0],
                found.adversarial[:8, ..., 0],
                np.clip(0.5 + 5 * found.perturbation[:8, ..., 0], 0, 1),
            ],
            env.path("deepfool_examples.png"),
            titles=[
                f"{a}->{b}"
                for a, b in zip(
                    found.original_label[:8], found.adversarial_label[:8]
                )
            ],
        )

    # Activation maximisation (one image per class) and a deep dream.
    images = class_images(base, shape, num_source, steps, seed)
    first = kdl.datasets.normalize_images(source[1][0][:1]).numpy()
    dream, dream_obj = attacks.deep_dream(base, first, ["c3"], steps=steps)
    plot_images(
        [list(images), [first[0, ..., 0], dream[0, ..., 0]]],
        env.path("activation_maximization.png"),
        titles=[str(k) for k in range(num_source)],
    )
    results["deep_dream_objective"] = [dream_obj[0], dream_obj[-1]]
    training.write_results(env.output_dir, results)
    return results


def main(_):
    run(FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
