r"""python recipes/pretraining.py --output_dir=out/pretraining

Greedy layer-wise pretraining, then supervised fine-tuning of a deep sigmoid
net: Bengio, Lamblin, Popovici, Larochelle, "Greedy Layer-Wise Training of
Deep Networks", NIPS 2007, table 1 (MNIST test error: DBN 1.2%, stacked
auto-associators 1.4%, greedy supervised 2.0%, no pretraining 2.4%, shallow
net 1.9%), at CPU scale: `mnist_5k` (4,000 real MNIST training digits, 1,000
test) and 10,000 `fashion_mnist` images (10K test). The table's shape is
reproduced, not its decimals (4K-10K examples instead of 60K, few epochs).

Arms per dataset: dbn (RBMs trained by CD-k), autoencoder (stacked denoising
auto-encoders; `--corruption=0` gives the paper's auto-associators),
supervised (greedy layer-wise), none (Glorot init), shallow (one hidden
layer), all fine-tuned alike (SGD + momentum 0.9, the epoch with the best
validation accuracy kept; validation: a random 10% of the training slice).
A run measures each arm's test and validation error and writes
results.json, test_error.md and filters_<dataset>_<method>.png (first-layer
filters: pretrained ones, or trained ones for none/shallow). Finished arms
are reused while every flag is unchanged. `--tune` searches the "none" net
on the first dataset. Budget: see provenance in results/pretraining.json.
"""

import functools

import keras
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training

METHODS = ("dbn", "autoencoder", "supervised", "none", "shallow")
LABELS = ("DBN", "denoising AE", "supervised pretraining", "none", "shallow")
PAPER_MNIST_TEST_ERROR = dict(zip(METHODS, (0.012, 0.014, 0.020, 0.024, 0.019)))
SMOKE = {
    "hidden_units": ["16", "16"],
    "epochs": 1,
    "pretrain_epochs": 1,
    "train_size": 300,
    "test_size": 200,
}


def define_flags(flag_values=flags.FLAGS):
    training.define_common_flags(
        flag_values, output_dir="out/pretraining", epochs=30, tune=True
    )  # --epochs: fine-tuning epochs; --batch_size: every fit
    fv = dict(flag_values=flag_values)
    flags.DEFINE_list(
        "datasets",
        ["mnist_5k", "fashion_mnist"],
        "Image datasets (kdl.datasets.load_images names).",
        **fv,
    )
    flags.DEFINE_list("methods", list(METHODS), f"Arms, of {METHODS}.", **fv)
    flags.DEFINE_list("hidden_units", ["500"] * 3, "Hidden layer sizes.", **fv)
    for name, valid, message in (
        ("methods", lambda v: set(v) <= set(METHODS), f"a subset of {METHODS}"),
        (
            "hidden_units",
            lambda v: all(s.isdigit() and int(s) > 0 for s in v),
            "positive ints",
        ),
    ):
        flags.register_validator(name, valid, f"--{name}: {message}", **fv)
    for name, default, help_text in (
        ("train_size", 10000, "Training examples per dataset (max)."),
        ("test_size", 10000, "Test examples (max)."),
        ("pretrain_epochs", 10, "Unsupervised epochs per layer."),
        ("cd_k", 1, "Gibbs steps of contrastive divergence."),
        ("patience", 8, "Fine-tuning early-stopping patience (epochs)."),
    ):
        flags.DEFINE_integer(name, default, help_text, lower_bound=1, **fv)
    for name, default, help_text in (
        ("rbm_learning_rate", 0.05, "CD learning rate (SGD, momentum 0.5)."),
        ("corruption", 0.25, "Denoising masking-noise rate."),
        ("learning_rate", 0.05, "Fine-tuning SGD rate (momentum 0.9)."),
    ):
        flags.DEFINE_float(name, default, help_text, lower_bound=0.0, **fv)


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


def dbn(cfg, data, sizes, **fit):
    """Greedy CD-k training of a stack of RBMs (Hinton et al. 2006)."""
    rbms, _ = kdl.models.pretrain_dbn(
        data["train"][0],
        sizes,
        cd_k=cfg.cd_k,
        seed=cfg.seed,
        **fit,
        optimizer_fn=lambda: keras.optimizers.SGD(
            cfg.rbm_learning_rate, momentum=0.5
        ),
    )
    return rbms


def autoencoder(cfg, data, sizes, **fit):
    """Stacked denoising auto-encoders (Vincent et al. 2008)."""
    weights, _ = kdl.models.pretrain_denoising_autoencoders(
        data["train"][0], sizes, cfg.corruption, seed=cfg.seed, **fit
    )
    return weights


def supervised(cfg, data, sizes, **fit):
    """Greedy layer-wise supervised pretraining (Bengio et al. 2007, 3.3)."""
    weights, _ = kdl.models.pretrain_supervised(
        *data["train"], sizes, data["num_classes"], **fit
    )
    return weights


PRETRAIN = {"dbn": dbn, "autoencoder": autoencoder, "supervised": supervised}


def arm(env, name, method, data):
    """Pretrains (per `method`), fine-tunes and tests one deep net."""
    cfg, out = env.settings, env.path(name, method)
    sizes = [int(s) for s in cfg.hidden_units]
    sizes, init = (sizes[:1] if method == "shallow" else sizes), None
    with env.strategy.scope():
        if method in PRETRAIN:
            init = PRETRAIN[method](
                cfg,
                data,
                sizes,
                epochs=cfg.pretrain_epochs,
                batch_size=cfg.batch_size,
                callbacks_fn=lambda layer: training.standard_callbacks(
                    f"{out}/{layer}", tensorboard=False
                ),
            )
        model = kdl.models.build_deep_classifier(
            data["train"][0].shape[1], sizes, data["num_classes"], init=init
        )
        model.compile(
            keras.optimizers.SGD(cfg.learning_rate, momentum=0.9),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    pretrained = keras.ops.convert_to_numpy(model.get_layer("hidden_0").kernel)
    timer = training.EpochTimer()
    stop = keras.callbacks.EarlyStopping(
        "val_accuracy",
        patience=cfg.patience,
        mode="max",
        restore_best_weights=True,
    )
    history = model.fit(
        *data["train"],
        validation_data=data["valid"],
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        verbose=2,
        callbacks=training.standard_callbacks(
            f"{out}/finetune", extra=[timer, stop]
        ),
    ).history
    trained = keras.ops.convert_to_numpy(model.get_layer("hidden_0").kernel)
    save_filters(
        env, trained if init is None else pretrained, name, method, data
    )
    error = {
        f"{split}_error": 1.0 - model.evaluate(*data[split], verbose=0)[1]
        for split in ("test", "valid")
    }
    print(f"{name} {method}: test error {error['test_error']:.4f}")
    return error | {
        "epochs_run": len(history["loss"]),
        "val_accuracy": history["val_accuracy"],
        "seconds_per_epoch": timer.steady_seconds(),
    }


def save_filters(env, kernel, name, method, data, count=100):
    """The first `count` first-layer filters as a square image grid."""
    count = min(count, kernel.shape[1])
    images = kernel[:, :count].T.reshape(count, *data["shape"])
    cols = int(np.ceil(np.sqrt(count)))
    training.save_image_grid(
        [images[i : i + cols] for i in range(0, count, cols)],
        env.path(f"filters_{name}_{method}.png"),
        title=f"{name} {method}: first-layer filters",
        cell_inches=0.5,
    )


def ordering_holds(errors):
    """yes / partly / no as all / over half / at most half of the pairs of
    methods are ordered as in the paper; "n/a" for fewer than 2 methods."""
    paper = PAPER_MNIST_TEST_ERROR
    agree = [
        (errors[a] < errors[b]) == (paper[a] < paper[b])
        for a in errors
        for b in errors
        if a < b
    ]
    if not agree:
        return "n/a"
    return "yes" if all(agree) else "partly" if np.mean(agree) > 0.5 else "no"


def report(env, table, loaded):
    """Writes test_error.md; returns the README rows (one per dataset)."""
    methods = [m for m in METHODS if m in env.settings.methods]
    label = dict(zip(METHODS, LABELS))
    if env.settings.corruption == 0:
        label["autoencoder"] = "auto-associators"
    pct = {
        n: {m: 100 * t[m]["test_error"] for m in methods}
        for n, t in table.items()
    }
    paper = {m: 100 * PAPER_MNIST_TEST_ERROR[m] for m in methods}
    markdown = training.markdown_table(
        [
            {"method": label[m], "paper": paper[m]}
            | {n: pct[n][m] for n in pct}
            for m in methods
        ],
        [("method", "method"), ("paper (MNIST)", "paper", ".1f")]
        + [(n, n, ".1f") for n in pct],
    )
    training.write_text(
        env.path("test_error.md"), f"Test error (%)\n\n{markdown}\n"
    )

    def slash(values, fmt="{}"):
        return " / ".join(fmt.format(v) for v in values)

    return [
        {
            "what": f"{n} ({len(loaded[n]['train'][0])} train) test error: "
            + slash(label[m] for m in methods),
            "ours": slash((e[m] for m in methods), "{:.1f}") + " %",
            "paper": slash(paper.values(), "{:.1f}") + " % (full MNIST)",
            "holds": ordering_holds(e),
        }
        for n, e in pct.items()
    ]


def run(flags_obj, datasets_override=None, strategy_override=None):
    """`datasets_override`: `{name: data}` in the form `load` returns."""
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    loaded = datasets_override or {
        name: load(name, cfg.train_size, cfg.test_size, cfg.seed)
        for name in cfg.datasets
    }
    if cfg.tune:
        data = next(iter(loaded.values()))
        (x, y), classes = data["train"], data["num_classes"]
        return training.tune(
            kdl.tuning.DeepClassifierHyperModel(x.shape[1], classes),
            env,
            x=x,
            y=y,
            validation_data=data["valid"],
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            verbose=0,
        )
    table = {
        name: {
            method: env.cached(
                f"{name}/{method}",
                functools.partial(arm, env, name, method, data),
                data=[len(data[s][0]) for s in ("train", "valid", "test")],
            )
            for method in METHODS
            if method in cfg.methods
        }
        for name, data in loaded.items()
    }
    results = {
        "hidden_units": [int(s) for s in cfg.hidden_units],
        "paper_mnist_test_error": PAPER_MNIST_TEST_ERROR,
        "table": table,
        "readme_rows": report(env, table, loaded),
    }
    return env.finish(results, seeds=[cfg.seed])


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
