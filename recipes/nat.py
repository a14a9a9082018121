"""python recipes/nat.py --output_dir=out/nat

Noise As Targets (Bojanowski & Joulin 2017, "Unsupervised Learning by
Predicting Noise") on Fashion-MNIST with a small convnet, evaluated like the
paper's transfer table (VOC2007: ImageNet labels 78.9 > NAT 56.7 >
autoencoder 16.0 for classification with fc6-8 retrained): NAT trains
without labels (Algorithm 1: per-batch optimal reassignment of fixed random
targets on the unit sphere, then a step on 1/2 |f(X) - P C|^2), then

- a linear probe (logistic regression on the frozen backbone features), and
- fine-tuning of the whole network on 1,000 labelled images,

for NAT vs an autoencoder of the same backbone vs the random-init backbone
vs the supervised backbone (trained with all 60k labels). The expected
order from the paper: supervised > NAT > autoencoder, random. Writes
results.json, table.md, probe_over_epochs.png (probe accuracy over the NAT
epochs) and learning curves into --output_dir.

Takes about 35 minutes on a heavily shared 2-core CPU (default flags; 12
minutes of CPU time); --smoke: about 30 s of CPU time.
--tune searches the NAT hyperparameters (kdl.tuning.nat.NATHyperModel)
scored by the probe accuracy on a held-out part of the training set.
"""

import json
import os
import time

import keras
import keras_tuner
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training
from kdl.tuning import nat as nat_tuning

FLAGS = flags.FLAGS

METHODS = ("supervised", "nat", "autoencoder", "random")
LABELS = {
    "supervised": "Supervised (60k labels)",
    "nat": "NAT (no labels)",
    "autoencoder": "Autoencoder (no labels)",
    "random": "Random init",
}
PAPER_VOC = {  # VOC2007 classification fc6-8 / all, detection (mAP)
    "supervised": ("78.9", "79.9", "56.8"),
    "nat": ("56.7", "65.3", "49.4"),
    "autoencoder": ("16.0", "53.8", "41.9"),
    "random": ("-", "-", "-"),
}


def define_flags():
    training.define_common_flags(
        output_dir="out/nat", epochs=10, batch_size=256, max_trials=6
    )
    d = nat_tuning.DEFAULTS
    _define(
        flags.DEFINE_integer,
        "backbone_width",
        d["width"],
        "Backbone width (conv filters).",
        lower_bound=1,
    )
    _define(
        flags.DEFINE_integer,
        "feature_dim",
        d["feature_dim"],
        "NAT target dimension.",
        lower_bound=1,
    )
    _define(
        flags.DEFINE_float,
        "nat_learning_rate",
        d["learning_rate"],
        "Adam learning rate for NAT.",
    )
    _define(
        flags.DEFINE_integer,
        "reassign_every",
        d["reassign_every"],
        "Reassign targets during every k-th epoch (1 = every batch, the "
        "paper's Algorithm 1; 3 = the authors' code; 0 = never).",
        lower_bound=0,
    )
    _define(
        flags.DEFINE_bool,
        "augment_pretraining",
        True,
        "Random flips and shifts of the training images (NAT, autoencoder "
        "and supervised pretraining alike).",
    )
    _define(
        flags.DEFINE_integer,
        "ae_epochs",
        5,
        "Autoencoder epochs.",
        lower_bound=1,
    )
    _define(
        flags.DEFINE_integer,
        "supervised_epochs",
        2,
        "Supervised epochs.",
        lower_bound=1,
    )
    _define(
        flags.DEFINE_integer,
        "probe_epochs",
        30,
        "Linear-probe epochs (final table).",
        lower_bound=1,
    )
    _define(
        flags.DEFINE_integer,
        "probe_every",
        2,
        "Probe the NAT backbone every k NAT epochs for the curve.",
        lower_bound=1,
    )
    _define(
        flags.DEFINE_integer,
        "curve_examples",
        10000,
        "Training images used by the probes of the curve.",
        lower_bound=10,
    )
    _define(
        flags.DEFINE_integer,
        "finetune_labels",
        1000,
        "Labelled images for the fine-tune-all column.",
        lower_bound=10,
    )
    _define(
        flags.DEFINE_integer,
        "finetune_epochs",
        30,
        "Fine-tuning epochs.",
        lower_bound=1,
    )


def _define(define, name, *args, **kwargs):
    """Defines a flag unless an imported recipe already did (tests)."""
    if name not in FLAGS:
        define(name, *args, **kwargs)


# ----------------------------------------------------------------------
# Data.


def load_data(smoke):
    """Fashion-MNIST as float32 (N, 28, 28, 1) in [0, 1] and int labels."""
    (x_train, y_train), (x_test, y_test) = kdl.datasets.load_images(
        "fashion_mnist"
    )

    def prep(x):
        return (np.asarray(x, "float32") / 255.0)[..., None]

    if smoke:
        x_train, y_train = x_train[:512], y_train[:512]
        x_test, y_test = x_test[:256], y_test[:256]
    return (
        (prep(x_train), np.asarray(y_train, "int32")),
        (prep(x_test), np.asarray(y_test, "int32")),
    )


def train_dataset(
    images, batch_size, seed, kind="nat", labels=None, augment=False
):
    """Shuffled training batches (`kdl.datasets.image_dataset`) for `kind`.

    `nat`: (index, image), what NAT trains on; `autoencoder`: (image,
    image); `supervised`: (image, label). With `augment`, each image gets a
    random shift of up to 2 pixels and a random horizontal flip every epoch
    (the paper trains NAT with data augmentation); all pretraining runs use
    the same.
    """
    ds = kdl.datasets.image_dataset(
        images,
        labels=labels if kind == "supervised" else None,
        batch_size=batch_size,
        shuffle=True,
        augment=augment,
        flip=augment,
        with_index=kind == "nat",
        seed=seed,
    )
    if kind == "autoencoder":
        ds = ds.map(lambda x: (x, x))
    return ds


# ----------------------------------------------------------------------
# Models.


def build_autoencoder(backbone, width):
    """The backbone as encoder, a transposed-conv decoder to 28x28."""
    inputs = keras.Input(shape=(28, 28, 1))
    code = backbone(inputs)
    h = keras.layers.Dense(7 * 7 * 2 * width, activation="relu")(code)
    h = keras.layers.Reshape((7, 7, 2 * width))(h)
    h = keras.layers.Conv2DTranspose(
        2 * width, 3, strides=2, padding="same", activation="relu"
    )(h)
    h = keras.layers.Conv2DTranspose(
        width, 3, strides=2, padding="same", activation="relu"
    )(h)
    out = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(h)
    return keras.Model(inputs, out, name="autoencoder")


def build_classifier(backbone, num_classes=10):
    inputs = keras.Input(shape=(28, 28, 1))
    out = keras.layers.Dense(num_classes, activation="softmax")(
        backbone(inputs)
    )
    return keras.Model(inputs, out, name="classifier")


def copy_backbone(backbone, width):
    clone = nat_tuning.small_convnet((28, 28, 1), width, name="finetuned")
    clone.set_weights(backbone.get_weights())
    return clone


class ProbeCurve(keras.callbacks.Callback):
    """Linear probe of the NAT backbone every `every` epochs (to a JSON)."""

    def __init__(self, backbone, probe_data, every, epochs, path):
        super().__init__()
        self.backbone = backbone
        self.probe_data = probe_data
        self.every = every
        self.epochs = epochs
        self.path = path
        self.points = {}
        if os.path.exists(path):  # resumed run: keep the earlier points
            with open(path) as f:
                self.points = {int(k): v for k, v in json.load(f).items()}

    def probe(self, epoch):
        scores = nat_tuning.linear_probe(
            self.backbone, *self.probe_data, epochs=self.epochs
        )
        self.points[epoch] = scores["test_accuracy"]
        with open(self.path, "w") as f:
            json.dump(self.points, f, indent=1, sort_keys=True)
        print(f"probe after NAT epoch {epoch}: {scores['test_accuracy']:.4f}")

    def on_train_begin(self, logs=None):
        if 0 not in self.points:
            self.probe(0)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every == 0 or done == self.params.get("epochs"):
            self.probe(done)


def finetune(backbone, width, data, epochs, batch_size=64):
    """Fine-tunes a copy of `backbone` + softmax on few labels; test acc."""
    x_few, y_few, x_test, y_test = data
    model = build_classifier(copy_backbone(backbone, width))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_few, y_few, batch_size=batch_size, epochs=epochs, verbose=0)
    probs = model.predict(x_test, batch_size=512, verbose=0)
    return float(np.mean(np.argmax(probs, 1) == y_test))


def markdown_table(rows):
    lines = [
        "| Method | Linear probe, frozen (test acc %) | Fine-tune all, "
        "1k labels (test acc %) | Paper VOC07 cls fc6-8 / all / det |",
        "|---|---|---|---|",
    ]
    for method in METHODS:
        if method not in rows:
            continue
        r = rows[method]
        lines.append(
            f"| {LABELS[method]} | {100 * r['probe']:.1f} | "
            f"{100 * r['finetune']:.1f} | {' / '.join(PAPER_VOC[method])} |"
        )
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override)
    start = time.time()
    if datasets_override is not None:
        (x_train, y_train), (x_test, y_test) = datasets_override
    else:
        (x_train, y_train), (x_test, y_test) = load_data(env.smoke)
    smoke = env.smoke
    width = 8 if smoke else flags_obj.backbone_width
    feature_dim = 16 if smoke else flags_obj.feature_dim
    epochs = min(flags_obj.epochs, 2) if smoke else flags_obj.epochs
    probe_epochs = 1 if smoke else flags_obj.probe_epochs
    curve_probe_epochs = 1 if smoke else max(1, flags_obj.probe_epochs // 3)
    ae_epochs = 1 if smoke else flags_obj.ae_epochs
    sup_epochs = 1 if smoke else flags_obj.supervised_epochs
    ft_epochs = 1 if smoke else flags_obj.finetune_epochs
    batch_size = flags_obj.batch_size
    rng = np.random.RandomState(flags_obj.seed)
    num_train = len(x_train)

    if flags_obj.tune:
        order = rng.permutation(num_train)
        held = order[: max(10, num_train // 6)]
        rest = order[len(held) :]
        hypermodel = nat_tuning.NATHyperModel(
            num_examples=num_train,
            probe_data=(
                x_train[rest],
                y_train[rest],
                x_train[held],
                y_train[held],
            ),
            probe_epochs=curve_probe_epochs,
        )
        return training.run_tuner(
            hypermodel,
            env.path("tune"),
            objective=keras_tuner.Objective("probe_accuracy", "max"),
            tuner=flags_obj.tuner,
            max_trials=flags_obj.max_trials,
            seed=flags_obj.seed,
            x=train_dataset(
                x_train,
                batch_size,
                flags_obj.seed,
                augment=flags_obj.augment_pretraining,
            ),
            epochs=epochs,
            verbose=2,
        )

    curve_idx = rng.permutation(num_train)[: flags_obj.curve_examples]
    curve_data = (x_train[curve_idx], y_train[curve_idx], x_test, y_test)
    few_idx = rng.permutation(num_train)[: flags_obj.finetune_labels]
    few_data = (x_train[few_idx], y_train[few_idx], x_test, y_test)
    probe_data = (x_train, y_train, x_test, y_test)
    rows, times, results = {}, {}, {}

    def evaluate(method, backbone):
        t = time.time()
        probe = nat_tuning.linear_probe(
            backbone, *probe_data, epochs=probe_epochs
        )
        rows[method] = {
            "probe": probe["test_accuracy"],
            "probe_train": probe["train_accuracy"],
            "finetune": finetune(backbone, width, few_data, ft_epochs),
        }
        times[f"{method}_eval_s"] = time.time() - t
        print(f"{method}: {rows[method]}")

    # Random init.
    with env.strategy.scope():
        backbone = nat_tuning.small_convnet((28, 28, 1), width)
    evaluate("random", backbone)

    # NAT.
    t = time.time()
    with env.strategy.scope():
        backbone = nat_tuning.small_convnet((28, 28, 1), width)
        model = kdl.models.NAT(
            backbone,
            num_examples=num_train,
            feature_dim=feature_dim,
            reassign_every=flags_obj.reassign_every,
            seed=flags_obj.seed,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(flags_obj.nat_learning_rate)
        )
    curve = ProbeCurve(
        backbone,
        curve_data,
        flags_obj.probe_every,
        curve_probe_epochs,
        env.path("probe_curve.json"),
    )
    history = model.fit(
        train_dataset(
            x_train,
            batch_size,
            flags_obj.seed,
            augment=flags_obj.augment_pretraining,
        ),
        epochs=epochs,
        callbacks=training.standard_callbacks(
            env.path("train_nat"), tensorboard=not smoke, extra=[curve]
        ),
        verbose=2,
    )
    times["nat_train_s"] = time.time() - t
    perm = np.asarray(model.assignment.numpy())
    results["nat_assignment_is_permutation"] = bool(
        np.array_equal(np.sort(perm), np.arange(num_train))
    )
    results["nat_history"] = history.history
    training.plot_history(history, env.path("nat_loss.png"), title="NAT loss")
    evaluate("nat", backbone)

    # Autoencoder (same backbone).
    t = time.time()
    with env.strategy.scope():
        backbone = nat_tuning.small_convnet((28, 28, 1), width)
        autoencoder = build_autoencoder(backbone, width)
        autoencoder.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    ae_history = autoencoder.fit(
        train_dataset(
            x_train,
            batch_size,
            flags_obj.seed,
            kind="autoencoder",
            augment=flags_obj.augment_pretraining,
        ),
        epochs=ae_epochs,
        validation_data=(x_test, x_test),
        callbacks=training.standard_callbacks(
            env.path("train_autoencoder"), tensorboard=not smoke
        ),
        verbose=2,
    )
    times["autoencoder_train_s"] = time.time() - t
    results["autoencoder_history"] = ae_history.history
    evaluate("autoencoder", backbone)

    # Supervised (all labels).
    t = time.time()
    with env.strategy.scope():
        backbone = nat_tuning.small_convnet((28, 28, 1), width)
        classifier = build_classifier(backbone)
        classifier.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    sup_history = classifier.fit(
        train_dataset(
            x_train,
            batch_size,
            flags_obj.seed,
            kind="supervised",
            labels=y_train,
            augment=flags_obj.augment_pretraining,
        ),
        epochs=sup_epochs,
        validation_data=(x_test, y_test),
        callbacks=training.standard_callbacks(
            env.path("train_supervised"), tensorboard=not smoke
        ),
        verbose=2,
    )
    times["supervised_train_s"] = time.time() - t
    results["supervised_history"] = sup_history.history
    evaluate("supervised", backbone)

    # Report.
    curve_epochs = sorted(curve.points)
    training.plot_curves(
        {"NAT backbone": [curve.points[e] for e in curve_epochs]},
        env.path("probe_over_epochs.png"),
        x=curve_epochs,
        xlabel="NAT epoch",
        ylabel="linear-probe test accuracy",
        title=f"Linear probe ({len(curve_idx)} train images) over NAT epochs",
    )
    table = markdown_table(rows)
    with open(env.path("table.md"), "w") as f:
        f.write(table)
    print(table)
    times["total_s"] = time.time() - start
    results.update(
        {
            "table": rows,
            "table_markdown": table,
            "probe_curve": {str(e): curve.points[e] for e in curve_epochs},
            "times": times,
            "num_train": num_train,
            "config": {
                "width": width,
                "feature_dim": feature_dim,
                "epochs": epochs,
                "batch_size": batch_size,
                "reassign_every": flags_obj.reassign_every,
                "augment": bool(flags_obj.augment_pretraining),
                "learning_rate": flags_obj.nat_learning_rate,
                "ae_epochs": ae_epochs,
                "supervised_epochs": sup_epochs,
                "probe_epochs": probe_epochs,
                "finetune_labels": len(few_idx),
                "finetune_epochs": ft_epochs,
            },
        }
    )
    training.write_results(env.output_dir, results)
    return results


def main(_):
    run(FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
