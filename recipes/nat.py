"""python recipes/nat.py --output_dir=out/nat

Reproduces Noise As Targets (Bojanowski & Joulin 2017, "Unsupervised
Learning by Predicting Noise"), whose VOC2007 transfer table (classification,
fc6-8 retrained) orders ImageNet labels 78.9 > NAT 56.7 > autoencoder 16.0,
on Fashion-MNIST with a small convnet. NAT trains without labels (Algorithm
1: per-batch optimal reassignment of fixed random targets on the unit
sphere, then a step on 1/2 |f(X) - P C|^2); the same backbone is also
trained as an autoencoder, with all labels, or kept at its random init.
A run measures, for each backbone, a linear probe on its frozen features
and fine-tuning of the whole net on 1,000 labels (test accuracy), and the
NAT backbone's probe accuracy over its epochs. Writes results.json,
table.md, probe_over_epochs.png, nat_loss.png and one folder per arm.
`--tune` searches kdl.tuning.NATHyperModel, scored by the probe accuracy on
a held-out sixth of the training set.

Budget: see provenance in results/nat.json (the previous code took 12
CPU-minutes with these defaults).
"""

import functools
import time

import keras
import keras_tuner
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training

SMOKE = {
    "train_size": 512,
    "test_size": 256,
    "backbone_width": 8,
    "feature_dim": 16,
    "epochs": 2,
    "ae_epochs": 1,
    "supervised_epochs": 1,
    "probe_epochs": 1,
    "curve_examples": 256,
    "finetune_labels": 100,
    "finetune_epochs": 1,
}
METHODS = {  # table order: label, paper's VOC07 cls fc6-8 / all / det
    "supervised": ("Supervised (all labels)", ("78.9", "79.9", "56.8")),
    "nat": ("NAT (no labels)", ("56.7", "65.3", "49.4")),
    "autoencoder": ("Autoencoder (no labels)", ("16.0", "53.8", "41.9")),
    "random": ("Random init", ("-", "-", "-")),
}
PAPER_ORDER = ("supervised", "nat", "autoencoder")
REASSIGN = "Reassign NAT targets during every k-th epoch (1 = every batch, "
REASSIGN += "the paper's Algorithm 1; 3 = the authors' code; 0 = never)."


def define_flags(flag_values=flags.FLAGS):
    training.define_common_flags(
        flag_values,
        output_dir="out/nat",
        epochs=10,
        batch_size=256,
        tune=True,
        max_trials=6,
    )  # --epochs: NAT epochs; --batch_size: every pretraining fit
    fv = dict(flag_values=flag_values)
    flags.DEFINE_list("methods", list(ARMS), "Arms to run.", **fv)
    flags.register_validator(
        "methods", lambda v: set(v) <= set(ARMS), "Unknown --methods", **fv
    )
    for name, default, lower, text in (
        ("train_size", 60000, 1, "Training images used (the first N)."),
        ("test_size", 10000, 1, "Test images used (the first N)."),
        ("backbone_width", 16, 1, "Backbone conv filters."),
        ("feature_dim", 64, 1, "NAT target dimension."),
        ("reassign_every", 1, 0, REASSIGN),
        ("ae_epochs", 5, 1, "Autoencoder epochs."),
        ("supervised_epochs", 2, 1, "Supervised epochs."),
        ("probe_epochs", 30, 1, "Linear-probe epochs (curve: a third)."),
        ("probe_every", 2, 1, "Probe the NAT backbone every k NAT epochs."),
        ("curve_examples", 10000, 10, "Training images of the curve probes."),
        ("finetune_labels", 1000, 10, "Labelled images for fine-tuning."),
        ("finetune_epochs", 30, 1, "Fine-tuning epochs."),
    ):
        flags.DEFINE_integer(name, default, text, lower_bound=lower, **fv)
    flags.DEFINE_float("nat_learning_rate", 1e-3, "NAT's Adam rate.", **fv)
    flags.DEFINE_bool(
        "augment_pretraining",
        True,
        "Random flips and shifts of the training images (NAT, autoencoder "
        "and supervised pretraining alike).",
        **fv,
    )


def load_data(cfg, datasets_override=None):
    """Fashion-MNIST in [0, 1]; the probe, curve and fine-tuning sets."""
    (x, y), (x_test, y_test) = datasets_override or kdl.datasets.load_images(
        "fashion_mnist"
    )
    x = np.asarray(kdl.datasets.normalize_images(x[: cfg.train_size]))
    x_test = np.asarray(kdl.datasets.normalize_images(x_test[: cfg.test_size]))
    y = np.asarray(y[: len(x)], "int32")
    y_test = np.asarray(y_test[: len(x_test)], "int32")
    rng = np.random.RandomState(cfg.seed)
    curve = rng.permutation(len(x))[: cfg.curve_examples]
    few = rng.permutation(len(x))[: cfg.finetune_labels]
    return {
        "train": (x, y),
        "test": (x_test, y_test),
        "probe": (x, y, x_test, y_test),
        "curve": (x[curve], y[curve], x_test, y_test),
        "few": (x[few], y[few], x_test, y_test),
    }


def pretrain_data(cfg, data, kind):
    """Augmented batches: (index, image) for NAT, (image, image) for the
    autoencoder, (image, label) for supervised pretraining."""
    x, y = data["train"]
    ds = kdl.datasets.image_dataset(
        x,
        y if kind == "supervised" else None,
        cfg.batch_size,
        augment=cfg.augment_pretraining,
        flip=cfg.augment_pretraining,
        with_index=kind == "nat",
        seed=cfg.seed,
    )
    return ds.map(lambda x: (x, x)) if kind == "autoencoder" else ds


def fit(env, data, name, model, epochs, validation_data=None, extra=()):
    """Pretrains `model` (arm `name`); its history and seconds per epoch."""
    timer = training.EpochTimer()
    callbacks = training.standard_callbacks(
        env.path(name, "train"),
        tensorboard=not env.smoke,
        extra=[timer, *extra],
    )
    history = model.fit(
        pretrain_data(env.settings, data, name),
        epochs=epochs,
        callbacks=callbacks,
        validation_data=validation_data,
        verbose=2,
    )
    return {"history": history.history, "epoch_s": timer.steady_seconds()}


def random_arm(env, data, backbone):
    """The backbone at its random initialisation."""
    return {}


def nat_arm(env, data, backbone):
    """NAT (no labels), probed every --probe_every epochs for the curve."""
    cfg = env.settings
    with env.strategy.scope():
        model = kdl.models.NAT(
            backbone,
            num_examples=len(data["train"][0]),
            feature_dim=cfg.feature_dim,
            reassign_every=cfg.reassign_every,
            seed=cfg.seed,
        )
        model.compile(optimizer=keras.optimizers.Adam(cfg.nat_learning_rate))
    curve = kdl.models.ProbeCurve(
        backbone,
        data["curve"],
        every=cfg.probe_every,
        epochs=max(1, cfg.probe_epochs // 3),
        path=env.path("nat", "probe_curve.json"),
    )
    out = fit(env, data, "nat", model, cfg.epochs, extra=[curve])
    perm = np.sort(model.assignment.numpy())
    is_perm = bool(np.all(perm == np.arange(len(perm))))
    return {**out, "probe_curve": curve.points, "is_permutation": is_perm}


def autoencoder_arm(env, data, backbone):
    """The backbone as the encoder of a convolutional autoencoder."""
    cfg = env.settings
    with env.strategy.scope():
        model = kdl.models.build_conv_autoencoder(backbone, cfg.backbone_width)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    val = (data["test"][0], data["test"][0])
    return fit(env, data, "autoencoder", model, cfg.ae_epochs, val)


def supervised_arm(env, data, backbone):
    """The backbone + softmax, trained with all training labels."""
    with env.strategy.scope():
        model = kdl.models.build_softmax_classifier(backbone)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    epochs = env.settings.supervised_epochs
    return fit(env, data, "supervised", model, epochs, data["test"])


ARMS = {
    "random": random_arm,
    "nat": nat_arm,
    "autoencoder": autoencoder_arm,
    "supervised": supervised_arm,
}


def run_arm(env, data, name):
    """An arm from the seed and a fresh backbone; probe and fine-tune it."""
    cfg, start = env.settings, time.perf_counter()
    keras.utils.set_random_seed(cfg.seed)
    with env.strategy.scope():
        backbone = kdl.models.small_convnet(width=cfg.backbone_width)
    out = ARMS[name](env, data, backbone)
    probe = kdl.models.linear_probe(
        backbone, *data["probe"], epochs=cfg.probe_epochs
    )
    finetune = kdl.models.fine_tune_accuracy(
        backbone, *data["few"], epochs=cfg.finetune_epochs
    )
    return {
        **out,
        "probe": probe["test_accuracy"],
        "probe_train": probe["train_accuracy"],
        "finetune": finetune,
        "seconds": time.perf_counter() - start,
    }


def tune(env, data):
    """--tune: NATHyperModel, scored by a probe on a held-out sixth."""
    cfg, (x, y) = env.settings, data["train"]
    order = np.random.RandomState(cfg.seed).permutation(len(x))
    held, rest = np.split(order, [max(10, len(x) // 6)])
    hypermodel = kdl.tuning.NATHyperModel(
        num_examples=len(x),
        probe_data=(x[rest], y[rest], x[held], y[held]),
        probe_epochs=max(1, cfg.probe_epochs // 3),
    )
    return training.tune(
        hypermodel,
        env,
        objective=keras_tuner.Objective("probe_accuracy", "max"),
        x=pretrain_data(cfg, data, "nat"),
        epochs=cfg.epochs,
        verbose=2,
    )


def readme_rows(cfg, arms, few):
    """Per measure, the backbones; holds: supervised > NAT > autoencoder?"""
    how = {0: "no", 1: "per-batch"}.get(
        cfg.reassign_every, f"every-{cfg.reassign_every}-epochs"
    )
    names = (
        f"supervised / NAT ({cfg.epochs} epochs, {how} reassignment) / "
        "autoencoder / random init"
    )
    measures = {
        "probe": "linear probe on frozen features",
        "finetune": f"fine-tune all on {few:,} labels",
    }
    rows = []
    for col, (key, what) in enumerate(measures.items()):
        ours = {m: f"{100 * arms[m][key]:.1f}" for m in arms}
        holds = "n/a"
        if set(PAPER_ORDER) <= set(arms):
            sup, nat, ae = (arms[m][key] for m in PAPER_ORDER)
            holds = ("no", "partly", "yes")[(sup > nat) + (nat > ae)]
        rows.append(
            {
                "what": f"{what}, test acc. %: {names}",
                "ours": " / ".join(ours.get(m, "-") for m in METHODS),
                "paper": " / ".join(p[col] for _, p in METHODS.values())
                + f" (VOC07 cls {('fc6-8', 'all')[col]})",
                "holds": holds,
            }
        )
    return rows


def report(env, data, arms):
    """table.md, the probe curve over the NAT epochs, the NAT loss."""
    few, pct = len(data["few"][0]), "{:.1%}".format
    table = training.markdown_table(
        [
            {**arms[m], "label": label, "paper": " / ".join(paper)}
            for m, (label, paper) in METHODS.items()
            if m in arms
        ],
        [
            ("Method", "label"),
            ("Linear probe, frozen (test acc.)", "probe", pct),
            (f"Fine-tune all, {few:,} labels (test acc.)", "finetune", pct),
            ("Paper VOC07 cls fc6-8 / all / det", "paper"),
        ],
    )
    training.write_text(env.path("table.md"), table + "\n")
    print(table)
    if "nat" in arms:
        points, curve_n = arms["nat"]["probe_curve"], len(data["curve"][0])
        epochs = sorted(points, key=int)
        training.plot_curves(
            {"NAT backbone": [points[e] for e in epochs]},
            env.path("probe_over_epochs.png"),
            x=[int(e) for e in epochs],
            xlabel="NAT epoch",
            ylabel="linear-probe test accuracy",
            title=f"Linear probe ({curve_n:,} images) over the NAT epochs",
        )
        training.plot_history(
            arms["nat"]["history"], env.path("nat_loss.png"), title="NAT loss"
        )
    return table


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    data = load_data(cfg, datasets_override)
    if cfg.tune:
        return tune(env, data)
    x = data["train"][0]
    sizes = {"train": len(x), "test": len(data["test"][0]), "sum": x.sum()}
    arms = {
        name: env.cached(
            name, functools.partial(run_arm, env, data, name), data=sizes
        )
        for name in ARMS
        if name in cfg.methods
    }
    results = {
        "arms": arms,
        "table_markdown": report(env, data, arms),
        "readme_rows": readme_rows(cfg, arms, len(data["few"][0])),
        "num_train": len(x),
    }
    return env.finish(results, seeds=[cfg.seed])


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
