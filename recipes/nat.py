"""python recipes/nat.py --output_dir=out/nat

Noise As Targets (Bojanowski & Joulin 2017): do NAT features beat an
autoencoder's and a random net's? (VOC07 cls, fc6-8: ImageNet labels 78.9 >
NAT 56.7 > autoencoder 16.0.) On Fashion-MNIST one backbone
(`kdl.models.small_convnet`) per --seeds seed is trained by NAT (no labels;
targets on the unit sphere of --feature_dim, Hungarian reassignment within
each batch in every --reassign_every-th epoch as the authors' code, SGD +
momentum as the paper, random shifts and flips), as a conv autoencoder,
with all labels, or kept at its random init. Each frozen backbone is probed
on conv1..conv3 (ReLU maps average-pooled to <= --probe_features) and its
final features by logistic regression and cosine k-NN, fitted on
--probe_examples labelled training images, scored on the test set
(table.md: mean +- sd; probes_{linear,knn}.png); NAT's final features also
every --probe_every epochs (nat_probe_curve.png). Verdict per probe
(`RULE`): each method's best layer (mean over seeds), compared over seeds
by `kdl.training.lead_verdicts`: yes when NAT's mean leads both the
autoencoder's and random init's by more than the larger sd, partly when
the leads differ or are within one sd, no when NAT is behind.

Budget, measured (results/nat.json, at 4fd7402, alone on the idle 2-core
machine): 16.2 min wall, 22.1 min CPU for the 12 arms.
"""

import functools
import itertools

import keras
import keras_tuner
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training

SMOKE = dict(train_size=256, test_size=128, probe_examples=128, seeds=[0])
SMOKE.update(backbone_width=4, feature_dim=8, epochs=2, ae_epochs=1)
SMOKE.update(supervised_epochs=1, probe_epochs=1, curve_examples=64)
SMOKE.update(batch_size=64, layers=["conv2", "features"])
METHODS = dict(supervised="Supervised (all labels)", nat="NAT (no labels)")
METHODS.update(autoencoder="Autoencoder (no labels)", random="Random init")
PAPER = "78.9 / 56.7 / 16.0 / - (VOC07 cls fc6-8)"  # in METHODS' order
LAYERS = ("conv1", "conv2", "conv3", "features")
PROBES = {"linear": "linear probe", "knn": "k-NN"}
pct = functools.partial(training.mean_sd, fmt=".1f", scale=100)  # percent
RULE = "each method's best layer (highest mean over seeds); yes: NAT's mean "
RULE += "leads autoencoder and random init by more than the larger sd; "
RULE += "partly: a lead within one sd, or ahead of one only; no: behind both"


def define_flags(flag_values=flags.FLAGS):
    # --epochs: NAT epochs; --batch_size: every pretraining fit.
    defaults = dict(epochs=30, batch_size=256, max_trials=6)
    training.define_common_flags(flag_values, output_dir="out/nat", **defaults)
    fv = dict(flag_values=flag_values)
    lists = functools.partial(training.define_list, **fv)
    lists("methods", list(METHODS), "Arms.", choices=METHODS)
    lists("seeds", [0, 1, 2], "Seeds (one arm each).", min_value=0)
    lists("layers", list(LAYERS), "Layers probed.", choices=LAYERS)
    for name, default, lower, text in (
        ("train_size", 10000, 1, "Training images used (the first N)."),
        ("test_size", 10000, 1, "Test images used (the first N)."),
        ("probe_examples", 10000, 1, "Labelled training images of probes."),
        ("backbone_width", 16, 1, "Backbone conv filters (x1, x2, x4)."),
        ("feature_dim", 64, 1, "NAT target dimension d."),
        ("reassign_every", 3, 0, "Reassign in every k-th epoch (0: never)."),
        ("ae_epochs", 15, 1, "Autoencoder epochs."),
        ("supervised_epochs", 10, 1, "Supervised epochs."),
        ("probe_epochs", 30, 1, "Linear-probe epochs (curve: a third)."),
        ("probe_features", 1024, 1, "Conv maps pooled to <= N features."),
        ("knn_k", 10, 1, "Neighbours of the k-NN probe."),
        ("probe_every", 5, 1, "Probe the NAT backbone every k NAT epochs."),
        ("curve_examples", 2000, 10, "Train/test images of curve probes."),
    ):  # fmt: skip
        flags.DEFINE_integer(name, default, text, lower_bound=lower, **fv)
    optimizers = kdl.models.pretext.OPTIMIZERS
    flags.DEFINE_enum("nat_optimizer", "sgd", optimizers, "NAT's.", **fv)
    flags.DEFINE_float("nat_learning_rate", 0.05, "NAT's rate.", **fv)
    flags.DEFINE_float("learning_rate", 1e-3, "Adam rate (AE, sup.).", **fv)
    text = "Random flips and shifts of the images in every pretraining fit."
    flags.DEFINE_bool("augment_pretraining", True, text, **fv)


def pretrain(env, data, name, task, backbone, epochs, callbacks=(), **opts):
    """Pretrains `backbone` by `task`: the model and its fit's record."""
    cfg, seed = env.settings, opts["seed"]
    with env.strategy.scope():
        model = kdl.models.build_pretext_model(task, backbone, **opts)
    ds = kdl.models.pretext_dataset(
        task, *data["train"], cfg.batch_size, cfg.augment_pretraining, seed
    )
    history, timer = training.fit(
        model, env.path(name, "train"), ds, epochs=epochs,
        callbacks=callbacks, tensorboard=not env.smoke,
    )  # fmt: skip
    return model, {"history": history, "epoch_s": timer.steady_seconds()}


def nat_arm(env, data, name, backbone, seed):
    """NAT (no labels), its final features probed every --probe_every."""
    cfg, n = env.settings, len(data["train"][0])
    curve = kdl.models.ProbeCurve(
        backbone, data["curve"], cfg.probe_every, cfg.probe_epochs // 3 or 1,
        path=env.path(name, "probe_curve.json"),
    )  # fmt: skip
    model, out = pretrain(
        env, data, name, "nat", backbone, cfg.epochs, [curve], seed=seed,
        num_examples=n, feature_dim=cfg.feature_dim,
        reassign_every=cfg.reassign_every, optimizer=cfg.nat_optimizer,
        learning_rate=cfg.nat_learning_rate,
    )  # fmt: skip
    is_perm = np.array_equal(np.sort(model.assignment.numpy()), np.arange(n))
    return {**out, "probe_curve": curve.points, "is_permutation": is_perm}


def autoencoder_arm(env, data, name, backbone, seed):
    """The backbone as the encoder of a convolutional autoencoder."""
    cfg, task = env.settings, "autoencoder"
    return pretrain(
        env, data, name, task, backbone, cfg.ae_epochs, seed=seed,
        width=cfg.backbone_width, learning_rate=cfg.learning_rate,
    )[1]  # fmt: skip


def supervised_arm(env, data, name, backbone, seed):
    """The backbone + softmax, trained with all training labels."""
    cfg, task = env.settings, "supervised"
    return pretrain(
        env, data, name, task, backbone, cfg.supervised_epochs, seed=seed,
        learning_rate=cfg.learning_rate,
    )[1]  # fmt: skip


ARMS = dict(nat=nat_arm, autoencoder=autoencoder_arm)
ARMS.update(supervised=supervised_arm, random=lambda *args: {})  # random init


def run_arm(env, data, method, seed):
    """One method and seed: a fresh backbone, trained, probed per layer."""
    cfg, name = env.settings, f"{method}_seed{seed}"
    keras.utils.set_random_seed(seed)
    with env.strategy.scope():
        backbone = kdl.models.small_convnet(width=cfg.backbone_width)
    out = ARMS[method](env, data, name, backbone, seed)
    probes = kdl.models.evaluate_backbone(
        backbone, data["probe"], data["test"], cfg.layers,
        max_features=cfg.probe_features, k=cfg.knn_k, epochs=cfg.probe_epochs,
    )  # fmt: skip
    return {**out, "probes": probes}


def tune(env, data):
    """--tune: NATHyperModel, scored by probes on a held-out sixth."""
    cfg, (x, y) = env.settings, data["train"]
    order = np.random.RandomState(cfg.seed).permutation(len(x))
    held, rest = np.split(order, [max(10, len(x) // 6)])
    probes = (x[rest], y[rest], x[held], y[held])
    hypermodel = kdl.tuning.NATHyperModel(len(x), probes, probe_epochs=10)
    augment, objective = cfg.augment_pretraining, "probe_accuracy"
    ds = kdl.models.pretext_dataset("nat", x, None, cfg.batch_size, augment)
    objective = keras_tuner.Objective(objective, "max")
    return training.tune(hypermodel, env, objective, x=ds, epochs=cfg.epochs)


def verdict(scores):
    """The README verdict (`RULE`) from `{layer: {method: [per seed]}}`:
    each method's best layer, NAT's seeds against the others'."""
    best = kdl.models.best_layers(scores)
    values = {m: scores[layer][m] for m, (_, layer) in best.items()}
    return training.lead_verdicts(values, "nat", ("autoencoder", "random"))


def readme_row(env, probe, scores):
    """A README row: each method's best layer for `probe` (mean +- sd)."""
    cfg, best = env.settings, kdl.models.best_layers(scores)
    ours = {m: f"{pct(scores[k][m])} ({k})" for m, (_, k) in best.items()}
    every = cfg.reassign_every
    how = {0: "no", 1: "per-batch"}.get(every, f"every-{every}-epochs")
    return {
        "what": f"Fashion-MNIST convnet, {PROBES[probe]} of the frozen "
        f"{'/'.join(cfg.layers)} (best per method), test acc. %, "
        f"{len(cfg.seeds)} seeds: supervised / NAT ({cfg.epochs} epochs, "
        f"{how} reassignment) / autoencoder / random init",
        "ours": " / ".join(ours.get(m, "-") for m in METHODS),
        "paper": PAPER,
        "holds": verdict(scores),
    }


def report(env, arms):
    """table.md, the plots and the README rows (one per probe)."""
    cfg, probes = env.settings, training.per_seed(arms, "probes")
    acc = {p: kdl.models.probe_scores(probes, p) for p in PROBES}
    rows = [
        (METHODS[m], f"{k} ({runs[0][k]['dim']})", PROBES[p], pct(acc[p][k][m]))
        for m, runs in probes.items() for k in cfg.layers for p in PROBES
    ]  # fmt: skip
    columns = ("Method", "Layer (features)", "Probe", "Test accuracy %")
    table = training.save_table(rows, columns, env.path("table.md"))
    for p, scores in acc.items():
        training.plot_seed_points(
            scores, env.path(f"probes_{p}.png"),
            ylabel=f"{PROBES[p]} test accuracy",
            title=f"Frozen layers of each backbone, {len(cfg.seeds)} seeds",
        )  # fmt: skip
    if "nat" in arms:  # {epoch: accuracy} per seed
        training.plot_curves(
            {"NAT backbone": [r["probe_curve"] for r in arms["nat"]]},
            env.path("nat_probe_curve.png"), xlabel="NAT epoch",
            ylabel="linear-probe test accuracy (final features)",
        )  # fmt: skip
    return table, [readme_row(env, p, acc[p]) for p in PROBES]


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    images = datasets_override or kdl.datasets.load_images("fashion_mnist")
    sizes = ("train_size", "test_size", "probe_examples", "curve_examples")
    data = kdl.models.pretext_splits(images, *(cfg[k] for k in sizes), cfg.seed)
    if cfg.tune:
        return tune(env, data)
    x = data["train"][0]
    key = {"train": len(x), "test": len(data["test"][0]), "sum": x.sum()}
    arms = {m: [] for m in METHODS if m in cfg.methods}  # table order
    for m, seed in itertools.product(arms, cfg.seeds):
        arm = functools.partial(run_arm, env, data, m, seed)
        options = dict(ignore=("methods", "seeds"), data=key, seed=seed)
        arms[m].append(env.cached(f"{m}_seed{seed}", arm, **options))
    table, rows = report(env, arms)
    figures = [f"probes_{p}.png" for p in PROBES]
    figures += ["nat_probe_curve.png"] if "nat" in arms else []
    results = {"arms": arms, "table": table, "readme_rows": rows}
    results.update(figures=figures, num_train=len(x), verdict_rule=RULE)
    return env.finish(results, seeds=cfg.seeds)


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
