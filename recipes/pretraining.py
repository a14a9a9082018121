r"""python recipes/pretraining.py --output_dir=out/pretraining

Greedy layer-wise pretraining, then supervised fine-tuning of a deep sigmoid
net: Bengio et al., "Greedy Layer-Wise Training of Deep Networks", NIPS
2007, table 1 (MNIST test error: DBN 1.2%, stacked auto-associators 1.4%,
greedy supervised 2.0%, no pretraining 2.4%, shallow net 1.9%) at CPU
scale: `mnist_5k` (4,000 real MNIST digits, 1,000 test) and 10,000
`fashion_mnist` images (10K test); compare the ordering, not the decimals.

Arms per dataset: dbn (RBMs, CD-k), autoencoder (stacked denoising; with
`--corruption=0` the paper's auto-associators), supervised (greedy
layer-wise), none (Glorot init), shallow (one hidden layer), fine-tuned
alike (SGD + momentum 0.9, best epoch on a random 10% validation slice
kept), each once per `--seeds` seed (mean +- sd). Writes results.json,
test_error.md, valid_error_<dataset>.png (fine-tuning curves) and
first-layer filters. Finished arms are reused while every flag is unchanged;
`--tune` searches the "none" net on the first dataset. Budget, measured
(results/pretraining.json, at 1e00512, alone): 24.8 min wall.
"""

import functools

import keras
from absl import app
from absl import flags

import kdl
from kdl import training

METHODS = ("dbn", "autoencoder", "supervised", "none", "shallow")
LABELS = ("DBN", "denoising AE", "supervised pretraining", "none", "shallow")
PAPER_MNIST_TEST_ERROR = dict(zip(METHODS, (0.012, 0.014, 0.020, 0.024, 0.019)))
SMOKE = {
    "hidden_units": [16, 16],
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
    lists = functools.partial(training.define_list, **fv)
    datasets = ["mnist_5k", "fashion_mnist"]
    choices = kdl.datasets.images.IMAGE_DATASETS
    lists("datasets", datasets, "Image datasets.", choices=choices)
    lists("methods", METHODS, "Arms.", choices=METHODS)
    lists("seeds", [0, 1, 2], "Seeds.", min_value=0)
    lists("hidden_units", [500] * 3, "Hidden layer sizes.", min_value=1)
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


def dbn(cfg, data, sizes, seed, **fit):
    """Greedy CD-k training of a stack of RBMs (Hinton et al. 2006)."""
    return kdl.models.pretrain_dbn(
        data["train"][0],
        sizes,
        cd_k=cfg.cd_k,
        seed=seed,
        **fit,
        optimizer_fn=lambda: keras.optimizers.SGD(
            cfg.rbm_learning_rate, momentum=0.5
        ),
    )[0]  # the RBMs (and the per-layer histories)


def autoencoder(cfg, data, sizes, seed, **fit):
    """Stacked denoising auto-encoders (Vincent et al. 2008)."""
    return kdl.models.pretrain_denoising_autoencoders(
        data["train"][0], sizes, cfg.corruption, seed=seed, **fit
    )[0]  # the encoder weights


def supervised(cfg, data, sizes, seed, **fit):
    """Greedy layer-wise supervised pretraining (Bengio et al. 2007, 3.3)."""
    return kdl.models.pretrain_supervised(
        *data["train"], sizes, data["num_classes"], **fit
    )[0]  # the hidden layers' weights


PRETRAIN = {"dbn": dbn, "autoencoder": autoencoder, "supervised": supervised}


def arm(env, name, method, data, seed):
    """Pretrains (per `method`), fine-tunes and tests one deep net."""
    cfg, out = env.settings, env.path(name, method, f"seed{seed}")
    keras.utils.set_random_seed(seed)
    sizes = cfg.hidden_units[:1] if method == "shallow" else cfg.hidden_units
    fit = dict(epochs=cfg.pretrain_epochs, batch_size=cfg.batch_size)
    fit["callbacks_fn"] = lambda layer: training.standard_callbacks(
        f"{out}/{layer}", tensorboard=False
    )
    with env.strategy.scope():
        pretrain = PRETRAIN.get(method, lambda *args, **kwargs: None)
        init = pretrain(cfg, data, sizes, seed=seed, **fit)
        model = kdl.models.build_deep_classifier(
            data["train"][0].shape[1], sizes, data["num_classes"], init=init
        )
        model.compile(
            keras.optimizers.SGD(cfg.learning_rate, momentum=0.9),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    pretrained = keras.ops.convert_to_numpy(model.get_layer("hidden_0").kernel)
    stop = keras.callbacks.EarlyStopping(
        "val_accuracy",
        patience=cfg.patience,
        mode="max",
        restore_best_weights=True,
    )
    history, timer = training.fit(
        model,
        f"{out}/finetune",
        *data["train"],
        validation_data=data["valid"],
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        callbacks=[stop],
    )
    kernel = model.get_layer("hidden_0").kernel
    kernel = keras.ops.convert_to_numpy(kernel) if init is None else pretrained
    training.save_filter_grid(
        kernel,
        data["shape"],
        env.path(f"filters_{name}_{method}_seed{seed}.png"),
        title=f"{name} {method} (seed {seed}): first-layer filters",
    )
    error = {
        f"{split}_error": 1.0 - model.evaluate(*data[split], verbose=0)[1]
        for split in ("test", "valid")
    }
    print(f"{name} {method} seed {seed}: test error {error['test_error']:.4f}")
    return error | {
        "epochs_run": len(history["loss"]),
        "val_accuracy": history["val_accuracy"],
        "seconds_per_epoch": timer.steady_seconds(),
    }


def report(env, table, loaded, seeds):
    """Writes test_error.md; returns the README rows (one per dataset)."""
    methods = [m for m in METHODS if m in env.settings.methods]
    label = dict(zip(METHODS, LABELS))
    if env.settings.corruption == 0:
        label["autoencoder"] = "auto-associators"
    paper = {m: 100 * PAPER_MNIST_TEST_ERROR[m] for m in methods}
    runs = {n: {m: [100 * r["test_error"] for r in t[m]] for m in methods}
            for n, t in table.items()}  # fmt: skip
    rows = [
        {"method": label[m], "paper (MNIST)": f"{paper[m]:.1f}"}
        | {n: training.mean_sd(runs[n][m], ".2f") for n in runs}
        for m in methods
    ]
    path, title = env.path("test_error.md"), "Test error (%)"
    training.save_table(rows, list(rows[0]), path, echo=False, title=title)
    for n in runs:  # validation error while fine-tuning, per method
        training.plot_curves(
            {label[m]: [[100 * (1 - a) for a in r["val_accuracy"]]
                        for r in table[n][m]] for m in methods},
            env.path(f"valid_error_{n}.png"),
            ylabel="validation error (%)", title=f"{n}: fine-tuning",
        )  # fmt: skip
    names = " / ".join(label[m] for m in methods)
    order = sorted(paper, key=paper.get)
    return [{
        "what": f"{n} ({len(loaded[n]['train'][0])} train) test error: {names}",
        "ours": " / ".join(rows[i][n] for i in range(len(methods)))
        + f" % ({len(seeds)} seeds)",
        "paper": " / ".join(f"{paper[m]:.1f}" for m in methods) + " % (MNIST)",
        "holds": training.ordering_holds(e, order),  # means over seeds
    } for n, e in runs.items()]  # fmt: skip


def run(flags_obj, datasets_override=None, strategy_override=None):
    """`datasets_override`: `{name: data}` as `kdl.datasets.image_splits`
    returns them (flat images)."""
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    loaded = datasets_override or {
        name: kdl.datasets.image_splits(
            name, cfg.train_size, cfg.test_size, seed=cfg.seed
        )
        for name in cfg.datasets
    }
    if cfg.tune:
        data = next(iter(loaded.values()))
        (x, y), classes = data["train"], data["num_classes"]
        hypermodel = kdl.tuning.DeepClassifierHyperModel(x.shape[1], classes)
        fit = dict(epochs=cfg.epochs, batch_size=cfg.batch_size, verbose=0)
        return training.tune(
            hypermodel, env, x=x, y=y, validation_data=data["valid"], **fit
        )
    table = {
        name: {
            method: [
                env.cached(
                    f"{name}/{method}/seed{seed}",
                    functools.partial(arm, env, name, method, data, seed),
                    ignore=("datasets", "methods", "seeds"),
                    data=[len(data[s][0]) for s in ("train", "valid", "test")],
                    seed=seed,
                )
                for seed in cfg.seeds
            ]
            for method in METHODS
            if method in cfg.methods
        }
        for name, data in loaded.items()
    }
    results = {
        "hidden_units": cfg.hidden_units,
        "paper_mnist_test_error": PAPER_MNIST_TEST_ERROR,
        "table": table,
        "readme_rows": report(env, table, loaded, cfg.seeds),
        "figures": [f"valid_error_{n}.png" for n in table],
    }
    return env.finish(results, seeds=list(cfg.seeds))


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
