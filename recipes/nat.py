"""python recipes/nat.py --output_dir=out/nat

Reproduces Noise As Targets (Bojanowski & Joulin 2017, "Unsupervised Learning
by Predicting Noise"), whose VOC2007 transfer table (classification, fc6-8
retrained) orders ImageNet labels 78.9 > NAT 56.7 > autoencoder 16.0, on
Fashion-MNIST with a small convnet. NAT trains without labels (Algorithm 1:
per-batch optimal reassignment of fixed random targets on the unit sphere, then
a step on 1/2 |f(X) - P C|^2); the same backbone is also trained as an
autoencoder, with all labels, or kept at its random init. A run measures, for
each backbone, a linear probe on its frozen features and fine-tuning of the
whole net on 1,000 labels (test accuracy), and the NAT backbone's probe
accuracy over its epochs. Writes results.json, table.md, probe_over_epochs.png,
nat_loss.png and one folder per arm (`--methods` only picks arms: a run of
fewer reuses the finished ones). `--tune` searches kdl.tuning.NATHyperModel,
scored by the probe accuracy on a held-out sixth of the training set.

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
PAPER_ORDER = ("autoencoder", "nat", "supervised")  # by accuracy, lowest first
REASSIGN = "Reassign NAT targets during every k-th epoch (1 = every batch, "
REASSIGN += "the paper's Algorithm 1; 3 = the authors' code; 0 = never)."
AUGMENT = "Random flips and shifts of the images in every pretraining fit."


def define_flags(flag_values=flags.FLAGS):
    # --epochs: NAT epochs; --batch_size: every pretraining fit.
    defaults = dict(epochs=10, batch_size=256, max_trials=6)
    training.define_common_flags(flag_values, output_dir="out/nat", **defaults)
    fv = dict(flag_values=flag_values)
    training.define_list("methods", list(ARMS), "Arms.", choices=ARMS, **fv)
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
    flags.DEFINE_bool("augment_pretraining", True, AUGMENT, **fv)


def pretrain(env, data, task, backbone, options, **fit_kwargs):
    """Pretrains `backbone` by `task` (its arm): model, history, s/epoch."""
    cfg = env.settings
    with env.strategy.scope():
        model = kdl.models.build_pretext_model(task, backbone, **options)
    batches = kdl.models.pretext_dataset(
        task, *data["train"], cfg.batch_size, cfg.augment_pretraining, cfg.seed
    )
    path = env.path(task, "train")
    fit_kwargs["tensorboard"] = not env.smoke
    history, timer = training.fit(model, path, batches, **fit_kwargs)
    return model, {"history": history, "epoch_s": timer.steady_seconds()}


def random_arm(env, data, backbone):
    """The backbone at its random initialisation."""
    return {}


def nat_arm(env, data, backbone):
    """NAT (no labels), probed every --probe_every epochs for the curve."""
    cfg = env.settings
    every, epochs = cfg.probe_every, max(1, cfg.probe_epochs // 3)
    path = env.path("nat", "probe_curve.json")
    curve = kdl.models.ProbeCurve(backbone, data["curve"], every, epochs, path)
    n = len(data["train"][0])
    options = {k: cfg[k] for k in ("feature_dim", "reassign_every", "seed")}
    options.update(num_examples=n, learning_rate=cfg.nat_learning_rate)
    fit_kwargs = dict(epochs=cfg.epochs, callbacks=[curve])
    model, out = pretrain(env, data, "nat", backbone, options, **fit_kwargs)
    is_perm = np.array_equal(np.sort(model.assignment.numpy()), np.arange(n))
    return {**out, "probe_curve": curve.points, "is_permutation": is_perm}


def autoencoder_arm(env, data, backbone):
    """The backbone as the encoder of a convolutional autoencoder."""
    cfg, x_test = env.settings, data["test"][0]
    options, val = {"width": cfg.backbone_width}, (x_test, x_test)
    fit_kwargs = dict(epochs=cfg.ae_epochs, validation_data=val)
    _, out = pretrain(env, data, "autoencoder", backbone, options, **fit_kwargs)
    return out


def supervised_arm(env, data, backbone):
    """The backbone + softmax, trained with all training labels."""
    epochs, val = env.settings.supervised_epochs, data["test"]
    fit_kwargs = dict(epochs=epochs, validation_data=val)
    _, out = pretrain(env, data, "supervised", backbone, {}, **fit_kwargs)
    return out


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
    epochs = (cfg.probe_epochs, cfg.finetune_epochs)
    scores = kdl.models.evaluate_backbone(
        backbone, data["probe"], data["few"], *epochs
    )
    return {**out, **scores, "seconds": time.perf_counter() - start}


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
    batches = kdl.models.pretext_dataset(
        "nat", x, None, cfg.batch_size, cfg.augment_pretraining, cfg.seed
    )
    objective = keras_tuner.Objective("probe_accuracy", "max")
    fit_kwargs = dict(x=batches, epochs=cfg.epochs, verbose=2)
    return training.tune(hypermodel, env, objective, **fit_kwargs)


def report(env, data, arms):
    """table.md, probe curve, NAT loss; README rows (holds: paper's order?)"""
    cfg, few, pct = env.settings, len(data["few"][0]), "{:.1%}".format
    table = training.save_table(
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
        env.path("table.md"),
    )
    if "nat" in arms:
        curve_n = len(data["curve"][0])
        training.plot_curves(
            {"NAT backbone": arms["nat"]["probe_curve"]},
            env.path("probe_over_epochs.png"),
            xlabel="NAT epoch",
            ylabel="linear-probe test accuracy",
            title=f"Linear probe ({curve_n:,} images) over the NAT epochs",
        )
        training.plot_history(
            arms["nat"]["history"], env.path("nat_loss.png"), title="NAT loss"
        )
    every = cfg.reassign_every
    how = {0: "no", 1: "per-batch"}.get(every, f"every-{every}-epochs")
    names = f"supervised / NAT ({cfg.epochs} epochs, {how} reassignment) / "
    measures = {"probe": "linear probe on frozen features"}
    measures["finetune"] = f"fine-tune all on {few:,} labels"
    rows = []
    for col, (key, what) in enumerate(measures.items()):
        accuracy = {m: arms[m][key] for m in arms}
        ours = {m: f"{100 * a:.1f}" for m, a in accuracy.items()}
        paper = " / ".join(p[col] for _, p in METHODS.values())
        row = {
            "what": f"{what}, test acc. %: {names}autoencoder / random init",
            "ours": " / ".join(ours.get(m, "-") for m in METHODS),
            "paper": f"{paper} (VOC07 cls {('fc6-8', 'all')[col]})",
            "holds": training.ordering_holds(accuracy, PAPER_ORDER),
        }
        rows.append(row)
    return table, rows


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    images = datasets_override or kdl.datasets.load_images("fashion_mnist")
    sets = ("train_size", "test_size", "curve_examples", "finetune_labels")
    data = kdl.models.pretext_splits(images, *(cfg[k] for k in sets), cfg.seed)
    if cfg.tune:
        return tune(env, data)
    x = data["train"][0]
    sizes = {"train": len(x), "test": len(data["test"][0]), "sum": x.sum()}
    arms = {}
    for name in (m for m in ARMS if m in cfg.methods):
        arm = functools.partial(run_arm, env, data, name)
        arms[name] = env.cached(name, arm, ignore=["methods"], data=sizes)
    table, rows = report(env, data, arms)
    results = {"arms": arms, "table_markdown": table, "readme_rows": rows}
    return env.finish({**results, "num_train": len(x)}, seeds=[cfg.seed])


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
