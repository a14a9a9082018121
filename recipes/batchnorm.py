r"""python recipes/batchnorm.py --output_dir=out/batchnorm

Reproduces, on Fashion-MNIST: batch renorm (Ioffe 2017) removes most of batch
norm's small-batch loss; ghost batch norm (Hoffer et al. 2017) narrows the
large-batch gap; BN-LSTM converges faster than LSTM (Cooijmans et al. 2016;
sequential MNIST test accuracy 99.0 vs 98.9 %).

A run measures the test accuracy of a small convnet
(`kdl.models.build_normalized_convnet`) with no normalization, BN, renorm (the
paper's schedule scaled to the run), ghost BN (`--virtual_batch_size`; not run
where the batch is no larger: that is plain BN) and L1 BN (Hoffer et al. 2018)
at each of `--batch_sizes` for `--epochs` (the same examples: small batches
take more steps); and, reading the images row by row, LSTM vs
`RNN(kdl.layers.BNLSTMCell)`: the training loss every ~1/10 epoch (its mean
says which converges faster) and test accuracy.

Default: 10k training images (a fixed shuffle), the 10k test images, 3 epochs
at batch 4 16 64 256; LSTMs of 64 units, 3 epochs at batch 64; budget: see
provenance in results/batchnorm.json. A finished arm is reused while its
settings hold (`--parts`, `--variants`, `--batch_sizes` only pick arms).
`--smoke`: 128 images, one batch, 7x7 pixels.
"""

import functools
import itertools

import keras
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training
from kdl.tuning import BatchNormConvNetHyperModel

OUT = "out/batchnorm"
PARTS = ("convnet", "lstm")
SELECTION = ("parts", "variants", "batch_sizes")  # which arms run
SMOKE = {
    "train_examples": 128,
    "test_examples": 128,
    "epochs": 1,
    "lstm_epochs": 1,
    "batch_sizes": [32],  # one batch size above the ghost batch
    "filters": 4,
    "lstm_units": 8,
    "row_stride": 4,  # 7 rows of 7 pixels: a short loop to compile
}
NAMES = {"bn": "BN", "l1": "L1", "ghost": "ghost({})"}
CLAIMS = {  # README rows: the paper's claim; the share of BN's loss to win
    "renorm": ("renorm removes most of BN's small-batch loss", 0.5),
    "ghost": ("ghost BN narrows the large-batch gap", 0.0),
    "bnlstm": ("BN-LSTM converges faster (sequential MNIST: 98.9 vs 99.0 %)",),
}


def define_flags(flag_values=flags.FLAGS):
    defaults = dict(epochs=3, batch_size=64, max_trials=8)
    training.define_common_flags(flag_values, output_dir=OUT, **defaults)
    fv = {"flag_values": flag_values}
    integer = functools.partial(flags.DEFINE_integer, lower_bound=1, **fv)
    integer("train_examples", 10000, "Train images (0: all).", lower_bound=0)
    integer("test_examples", 0, "Test images (0: all).", lower_bound=0)
    integer("virtual_batch_size", 16, "Ghost batch size.")
    integer("filters", 16, "Filters of the convnet's first conv.")
    integer("lstm_units", 64, "LSTM / BN-LSTM units.")
    integer("lstm_epochs", 3, "Epochs of the LSTM part.")
    integer("row_stride", 1, "LSTM part: every k-th row and pixel (1: 28x28).")
    norms = list(kdl.models.NORM_VARIANTS)
    flags.DEFINE_multi_enum("parts", list(PARTS), PARTS, "Parts to run.", **fv)
    flags.DEFINE_multi_enum("variants", norms, norms, "Convnet norms.", **fv)
    flags.DEFINE_enum("tune_variant", "bn", norms, "For --tune.", **fv)
    training.define_list(
        "batch_sizes", [4, 16, 64, 256], "Convnet batches.", min_value=1, **fv
    )
    flags.DEFINE_float("bn_momentum", 0.95, "Moving-average momentum.", **fv)
    flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.", **fv)
    xla = "XLA train steps (off: 3-6x slower on 2 CPUs, see bn_overhead.py)."
    flags.DEFINE_bool("jit_compile", False, xla, **fv)


def fit(env, name, model, data, batch_size, epochs):
    """Trains and scores one arm's model (loss every ~1/10 epoch)."""
    cfg = env.settings
    options = dict(epochs=epochs, batch_size=batch_size, batch_loss_points=10)
    options.update(
        {k: cfg[k] for k in ("learning_rate", "jit_compile", "seed")}
    )
    return kdl.models.train_classifier(
        model, env.path(name), *data, strategy=env.strategy, **options
    )


def convnet_arm(env, name, data, variant, batch_size):
    """The convnet with one normalization variant at one batch size."""
    cfg, (x, y) = env.settings, data[0]
    keras.utils.set_random_seed(cfg.seed)  # each arm alone reproduces
    with env.strategy.scope():
        model = kdl.models.build_normalized_convnet(
            variant,
            input_shape=x.shape[1:] + (1,),
            num_classes=int(np.max(y)) + 1,
            filters=cfg.filters,
            momentum=cfg.bn_momentum,
            virtual_batch_size=cfg.virtual_batch_size,
            total_steps=-(-len(x) // batch_size) * cfg.epochs,
        )
    return fit(env, name, model, data, batch_size, cfg.epochs)


def lstm_arm(env, name, data, cell):
    """An LSTM or a BN-LSTM reading the images row by row."""
    cfg, k = env.settings, env.settings.row_stride
    data = [(x[:, ::k, ::k], y) for x, y in data]
    keras.utils.set_random_seed(cfg.seed)
    with env.strategy.scope():
        model = kdl.models.build_sequence_classifier(
            cell,
            *data[0][0].shape[1:],
            units=cfg.lstm_units,
            num_classes=int(np.max(data[0][1])) + 1,
            momentum=cfg.bn_momentum,
            image_input=True,
        )
    return fit(env, name, model, data, cfg.batch_size, cfg.lstm_epochs)


def tune(env, data):
    cfg, (x, y) = env.settings, data[0]
    train = kdl.datasets.image_dataset(x, y, cfg.batch_size, seed=cfg.seed)
    hypermodel = BatchNormConvNetHyperModel(
        cfg.tune_variant,
        total_steps=len(train) * cfg.epochs,
        input_shape=x.shape[1:] + (1,),
        num_classes=int(y.max()) + 1,
    )
    test = kdl.datasets.image_dataset(*data[1], 1000, shuffle=False)
    fit_kwargs = dict(x=train, validation_data=test, epochs=cfg.epochs)
    return training.tune(hypermodel, env, "val_accuracy", **fit_kwargs)


def holds(acc, variant, batch, enough):
    """Does `variant` win back `enough` of BN's loss at `batch` (vs BN's best
    batch size)? n/a when BN loses nothing there or a run is missing."""
    bn = [a for a in acc.get("bn", {}).values() if a is not None]
    at, won = acc.get("bn", {}).get(batch), acc.get(variant, {}).get(batch)
    if at is None or won is None or max(bn) <= at:
        return "n/a"
    share = (won - at) / (max(bn) - at)
    return "no" if share <= 0 else "yes" if share >= enough else "partly"


def convnet_report(env, runs, results):
    cfg = env.settings
    sizes = [str(b) for b in sorted(cfg.batch_sizes)]
    acc = {v: {} for v in cfg.variants}
    for v, b in itertools.product(cfg.variants, sizes):
        acc[v][b] = runs.get(f"convnet_{v}_b{b}", {}).get("test_accuracy")
    training.plot_curves(
        {v: [np.nan if a is None else a for a in acc[v].values()] for v in acc},
        env.path("accuracy_vs_batch_size.png"),
        x=np.log2([int(b) for b in sizes]),
        xlabel="log2(batch size)",
        ylabel="test accuracy",
    )
    columns = [("", "variant")] + [(f"batch {b}", b, ".3f") for b in sizes]
    table = [{"variant": v, **acc[v]} for v in acc]
    training.save_table(table, columns, env.path("table.md"))
    rows, n_train = [], results["train_examples"]
    for b, variant in ((sizes[0], "renorm"), (sizes[-1], "ghost")):
        shown = [v for v in acc if acc[v][b] is not None]
        names = [NAMES.get(v, v).format(cfg.virtual_batch_size) for v in shown]
        row = {
            "what": f"convnet test acc. at batch {b} ({n_train} images x "
            f"{cfg.epochs} epochs): " + " / ".join(names),
            "ours": " / ".join(f"{acc[v][b]:.3f}" for v in shown),
            "paper": CLAIMS[variant][0],
            "holds": holds(acc, variant, b, CLAIMS[variant][1]),
        }
        rows.append(row)
    results["convnet"] = {"test_accuracy": acc}
    return rows


def lstm_report(env, runs, results):
    cfg, title = env.settings, "Row-by-row images: LSTM vs BN-LSTM"
    lstm = {c: runs[f"lstm_{c}"] for c in kdl.models.SEQUENCE_CELLS}
    training.plot_curves(
        {c: r["batch_loss"] for c, r in lstm.items()},
        env.path("lstm_train_loss.png"),
        x={c: r["batch_loss_steps"] for c, r in lstm.items()},
        xlabel="step",
        ylabel="training loss (mean over ~1/10 epoch)",
        title=title,
    )
    acc = {c: r["test_accuracy"] for c, r in lstm.items()}
    loss = {c: float(np.mean(r["batch_loss"])) for c, r in lstm.items()}
    row = {
        "what": f"row-by-row Fashion-MNIST, LSTM vs BN-LSTM ({cfg.lstm_units} "
        f"units, {cfg.lstm_epochs} epochs): test acc.; mean training loss",
        "ours": f"{acc['lstm']:.3f} vs {acc['bnlstm']:.3f}; "
        f"{loss['lstm']:.3f} vs {loss['bnlstm']:.3f}",
        "paper": CLAIMS["bnlstm"][0],
        "holds": training.claims_hold([loss["bnlstm"] < loss["lstm"]]),
    }
    results["lstm"] = {"test_accuracy": acc, "mean_train_loss": loss}
    return [row]


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    images = datasets_override or kdl.datasets.load_images("fashion_mnist")
    data = training.subsample(
        images, cfg.train_examples, cfg.test_examples, cfg.seed
    )
    if cfg.tune:
        return tune(env, data)
    sizes = [len(data[0][0]), len(data[1][0])]
    # Data passed in is named by no flag: its sizes join the cache key.
    key = {"data": sizes} if datasets_override else {}

    def arm(name, fn, *args):  # a subset of the arms reuses the others
        arm_fn = functools.partial(fn, env, name, data, *args)
        runs[name] = env.cached(name, arm_fn, ignore=SELECTION, **key)

    results = {"train_examples": sizes[0], "test_examples": sizes[1]}
    runs, rows = {}, []
    if "convnet" in cfg.parts:
        for v, b in itertools.product(cfg.variants, cfg.batch_sizes):
            if v != "ghost" or b > cfg.virtual_batch_size:  # else plain BN
                arm(f"convnet_{v}_b{b}", convnet_arm, v, b)
        rows += convnet_report(env, runs, results)
    if "lstm" in cfg.parts:
        for cell in kdl.models.SEQUENCE_CELLS:
            arm(f"lstm_{cell}", lstm_arm, cell)
        rows += lstm_report(env, runs, results)
    results.update(arms=runs, readme_rows=rows)
    return env.finish(results, seeds=[cfg.seed])


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
