"""python recipes/pretraining.py --output_dir=out/pretraining

Greedy layer-wise pretraining, then supervised fine-tuning of a deep sigmoid
net: the shape of Bengio, Lamblin, Popovici, Larochelle, "Greedy Layer-Wise
Training of Deep Networks", NIPS 2007, table 1 (MNIST test error: DBN 1.2%,
stacked auto-associators 1.4%, greedy supervised 2.0%, no pretraining 2.4%,
shallow net 1.9%), at CPU scale on `mnist_5k` (4,000 real MNIST training
digits, 1,000 test) and a 10,000-image slice of `fashion_mnist` (full 10K
test set). Rows:

- dbn: a stack of RBMs trained by CD-1 (`kdl.models.pretrain_dbn`);
- autoencoder: stacked denoising auto-encoders (masking noise 25%;
  `--corruption=0` gives the plain auto-associators of the paper);
- supervised: greedy layer-wise supervised pretraining;
- none: the same deep net from Glorot initialisation;
- shallow: one hidden layer, no pretraining.

Every row is fine-tuned the same way (SGD + momentum on cross-entropy, the
epoch with the best validation error kept; validation = 10% of the training
slice). Writes results.json, test_error.png and the first-layer filters of
each row (filters_<dataset>_<method>.png: pretrained filters for the
pretrained rows, trained filters for none/shallow).

Default run (both datasets, 3 x 500 hidden units, 10 pretraining epochs
per layer, up to 30 fine-tuning epochs): measured 48 minutes wall on the
2-core CPU shared with other jobs (load average ~16); not measured on an
idle machine (use `--datasets=mnist_5k`, ~20 of those minutes, for a
shorter run). `--smoke`: seconds (about a minute under that load). The
numbers differ from the paper's (4K-10K examples instead of 60K, few
epochs): the table's shape is what is reproduced.
"""

import keras
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training
from kdl.models import pretraining as dbn
from kdl.tuning.pretraining import DeepClassifierHyperModel

FLAGS = flags.FLAGS

METHODS = ("dbn", "autoencoder", "supervised", "none", "shallow")
PAPER_MNIST_TEST_ERROR = {
    "dbn": 0.012,
    "autoencoder": 0.014,
    "supervised": 0.020,
    "none": 0.024,
    "shallow": 0.019,
}


def _define(define, name, *args, **kwargs):
    """Defines a flag unless another recipe (same process) already did."""
    if name not in FLAGS:
        define(name, *args, **kwargs)


def define_flags():
    training.define_common_flags(
        output_dir="out/pretraining", epochs=30, batch_size=32
    )
    _define(
        flags.DEFINE_list,
        "datasets",
        ["mnist_5k", "fashion_mnist"],
        "Image datasets (kdl.datasets.load_images names).",
    )
    _define(
        flags.DEFINE_list, "methods", list(METHODS), f"Rows, from {METHODS}."
    )
    _define(
        flags.DEFINE_list,
        "hidden_units",
        ["500", "500", "500"],
        "Hidden layers.",
    )
    _define(
        flags.DEFINE_integer,
        "train_size",
        10000,
        "Training examples per dataset (max).",
        1,
    )
    _define(flags.DEFINE_integer, "test_size", 10000, "Test examples (max).", 1)
    _define(
        flags.DEFINE_integer,
        "pretrain_epochs",
        10,
        "Unsupervised epochs per layer.",
        1,
    )
    _define(
        flags.DEFINE_integer,
        "cd_k",
        1,
        "Gibbs steps of contrastive divergence.",
        1,
    )
    _define(
        flags.DEFINE_float, "rbm_learning_rate", 0.05, "CD learning rate (SGD)."
    )
    _define(
        flags.DEFINE_float, "corruption", 0.25, "Denoising masking-noise rate."
    )
    _define(
        flags.DEFINE_float,
        "learning_rate",
        0.05,
        "Fine-tuning SGD learning rate (momentum 0.9).",
    )
    _define(
        flags.DEFINE_integer,
        "patience",
        8,
        "Fine-tuning early-stopping patience (epochs).",
        1,
    )


def load(name, train_size, test_size, seed):
    """Flat float32 [0,1] train/valid/test splits (random valid 10%)."""
    (x, y), (xt, yt) = kdl.datasets.load_images(name)
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(x))[:train_size]
    x = x[order].reshape(len(order), -1).astype("float32") / 255.0
    y = y[order].astype("int32")
    n_valid = max(1, len(x) // 10)
    test = rng.permutation(len(xt))[:test_size]
    xt = xt[test].reshape(len(test), -1).astype("float32") / 255.0
    return {
        "train": (x[n_valid:], y[n_valid:]),
        "valid": (x[:n_valid], y[:n_valid]),
        "test": (xt, yt[test].astype("int32")),
        "shape": (28, 28) if xt.shape[1] == 784 else (8, 8),
        "num_classes": int(max(y.max(), yt.max()) + 1),
    }


def pretrain(method, data, sizes, cfg, callbacks_fn):
    """Returns the `init` list for `build_deep_classifier` (or None)."""
    x, y = data["train"]
    common = dict(
        epochs=cfg["pretrain_epochs"],
        batch_size=cfg["batch_size"],
        callbacks_fn=callbacks_fn,
    )
    if method == "dbn":
        rbms, _ = dbn.pretrain_dbn(
            x,
            sizes,
            cd_k=cfg["cd_k"],
            seed=cfg["seed"],
            optimizer_fn=lambda: keras.optimizers.SGD(
                cfg["rbm_learning_rate"], momentum=0.5
            ),
            **common,
        )
        return rbms
    if method == "autoencoder":
        weights, _ = dbn.pretrain_denoising_autoencoders(
            x, sizes, corruption=cfg["corruption"], seed=cfg["seed"], **common
        )
        return weights
    if method == "supervised":
        weights, _ = dbn.pretrain_supervised(
            x, y, sizes, data["num_classes"], **common
        )
        return weights
    return None


def finetune(model, data, cfg, callbacks):
    model.compile(
        optimizer=keras.optimizers.SGD(cfg["learning_rate"], momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_accuracy",
        mode="max",
        patience=cfg["patience"],
        restore_best_weights=True,
    )
    history = model.fit(
        *data["train"],
        validation_data=data["valid"],
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        callbacks=training.standard_callbacks(callbacks, extra=[stop]),
        verbose=2,
    )
    _, test_acc = model.evaluate(*data["test"], verbose=0)
    _, val_acc = model.evaluate(*data["valid"], verbose=0)
    return {
        "test_error": 1.0 - float(test_acc),
        "valid_error": 1.0 - float(val_acc),
        "epochs_run": len(history.history["loss"]),
        "val_accuracy": history.history["val_accuracy"],
    }


def plot_filters(kernel, shape, path, title, count=100):
    """First-layer weights as a grid of images (one per hidden unit)."""
    plt = training.pyplot()
    kernel = np.asarray(kernel)[:, :count]
    n = kernel.shape[1]
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.6, rows * 0.6))
    for i, ax in enumerate(np.asarray(axes).reshape(-1)):
        ax.axis("off")
        if i < n:
            ax.imshow(kernel[:, i].reshape(shape), cmap="gray")
    fig.suptitle(title, fontsize=8)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_errors(table, path):
    plt = training.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    names = list(table)
    methods = [m for m in METHODS if any(m in table[d] for d in names)]
    width = 0.8 / max(1, len(names))
    for j, name in enumerate(names):
        errs = [
            100 * table[name].get(m, {}).get("test_error", 0) for m in methods
        ]
        ax.bar(np.arange(len(methods)) + j * width, errs, width, label=name)
    paper = [100 * PAPER_MNIST_TEST_ERROR[m] for m in methods]
    ax.plot(
        np.arange(len(methods)) + 0.4 - width / 2,
        paper,
        "k*",
        label="paper (MNIST, 60K)",
    )
    ax.set_xticks(np.arange(len(methods)) + 0.4 - width / 2)
    ax.set_xticklabels(methods)
    ax.set_ylabel("test error (%)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override)
    methods = list(flags_obj.methods)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(
            f"Unknown --methods {unknown}. Expected a subset of {METHODS}."
        )
    sizes = [int(s) for s in flags_obj.hidden_units]
    cfg = dict(
        epochs=flags_obj.epochs,
        batch_size=flags_obj.batch_size,
        pretrain_epochs=flags_obj.pretrain_epochs,
        cd_k=flags_obj.cd_k,
        rbm_learning_rate=flags_obj.rbm_learning_rate,
        corruption=flags_obj.corruption,
        learning_rate=flags_obj.learning_rate,
        patience=flags_obj.patience,
        seed=flags_obj.seed,
    )
    train_size, test_size = flags_obj.train_size, flags_obj.test_size
    if env.smoke:
        sizes = [16, 16]
        cfg.update(epochs=1, pretrain_epochs=1)
        train_size, test_size = min(train_size, 300), min(test_size, 200)
    names = list(flags_obj.datasets)
    loaded = datasets_override or {
        name: load(name, train_size, test_size, flags_obj.seed)
        for name in names
    }
    results = {
        "hidden_units": sizes,
        "paper_mnist_test_error": PAPER_MNIST_TEST_ERROR,
        "table": {},
    }
    if flags_obj.tune:
        data = next(iter(loaded.values()))
        results["tuning"] = training.run_tuner(
            DeepClassifierHyperModel(
                data["train"][0].shape[1], data["num_classes"]
            ),
            env.path("tune"),
            tuner=flags_obj.tuner,
            max_trials=flags_obj.max_trials,
            seed=flags_obj.seed,
            x=data["train"][0],
            y=data["train"][1],
            validation_data=data["valid"],
            epochs=cfg["epochs"],
            batch_size=cfg["batch_size"],
            verbose=0,
        )
        training.write_results(env.output_dir, results)
        return results
    for name, data in loaded.items():
        table = results["table"].setdefault(name, {})
        for method in methods:
            out = env.path(name, method)

            def callbacks_fn(layer_name, out=out):
                return training.standard_callbacks(
                    f"{out}/{layer_name}", tensorboard=False
                )

            layers = sizes[:1] if method == "shallow" else sizes
            with env.strategy.scope():
                init = pretrain(method, data, layers, cfg, callbacks_fn)
                model = dbn.build_deep_classifier(
                    data["train"][0].shape[1],
                    layers,
                    data["num_classes"],
                    init=init,
                )
            first = keras.ops.convert_to_numpy(
                model.get_layer("hidden_0").kernel
            )
            row = finetune(model, data, cfg, f"{out}/finetune")
            if init is None:
                first = keras.ops.convert_to_numpy(
                    model.get_layer("hidden_0").kernel
                )
            plot_filters(
                first,
                data["shape"],
                env.path(f"filters_{name}_{method}.png"),
                f"{name} {method}: first-layer filters",
            )
            table[method] = row
            print(f"{name} {method}: test error {row['test_error']:.4f}")
            training.write_results(env.output_dir, results)
    plot_errors(results["table"], env.path("test_error.png"))
    training.write_results(env.output_dir, results)
    return results


def main(_):
    run(FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
