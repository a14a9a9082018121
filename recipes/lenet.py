"""python recipes/lenet.py --output_dir=out/lenet

Reproduces LeNet-5 (LeCun et al. 1998) as in the lecture, its DeepFool
robustness (Moosavi-Dezfooli et al. 2016, Table 1: LeNet on MNIST, rho = 0.20)
and the lecture's transfer slide: early layers frozen from a source task under
a new head beat training from scratch on few labels.

A run measures LeNet-5's test error on `--source` (Fashion-MNIST); on
`--target` (MNIST digits, `--target_train_size` labels), per `--seeds` seed,
the test error of its frozen `--freeze` layers (c1-s4) under a new head, of the
whole network frozen as a generic feature extractor (to f6) under a new linear
classifier, of fine-tuning it all and of training from scratch; DeepFool's rho
of the source model; one activation-maximisation image per class, deep dream.
Options: `--pooling=max|avg|lp|stochastic|fractional`, `--dense=low_rank`
(stochastic pooling needs ReLU: it overrides `--activation`). Default: 20k
source images x 8 epochs, 500 target labels x 30 epochs, batch 64, 500
DeepFool images. Budget (results/lenet.json, 421365f): 3.6 min wall.
"""

import functools

import keras
from absl import app
from absl import flags

import kdl
from kdl import training

PAPER_RHO = 0.20
# fmt: off
TRANSFER = ("frozen_features_new_head", "feature_extractor_linear",
            "fine_tune_all", "from_scratch")
WEIGHTS = "lenet5.weights.h5"
FEATURES = [*kdl.models.LENET_FEATURE_LAYERS, "c5", "f6"]  # all but logits
SMOKE = {"epochs": 1, "transfer_epochs": 1, "source_train_size": 256,
         "test_examples": 256, "deepfool_examples": 16, "ascent_steps": 3}
# fmt: on


def define_flags(flag_values=flags.FLAGS):
    training.define_common_flags(
        flag_values, output_dir="out/lenet", epochs=8, batch_size=64, tune=True
    )
    fv = {"flag_values": flag_values}
    integer = functools.partial(flags.DEFINE_integer, lower_bound=1, **fv)
    enum = functools.partial(flags.DEFINE_enum, **fv)
    enum("pooling", "max", kdl.models.LENET_POOLINGS, "Pooling layers.")
    enum("dense", "dense", kdl.models.LENET_DENSES, "c5/f6 layer kind.")
    integer("rank", 16, "Rank of the low-rank layers.")
    enum("activation", "tanh", ["tanh", "relu"], "Hidden activation.")
    flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.", **fv)
    flags.DEFINE_string("source", "fashion_mnist", "Source task data.", **fv)
    flags.DEFINE_string("target", "mnist_5k", "New task data.", **fv)
    integer("source_train_size", 20000, "Source training images.")
    integer("target_train_size", 500, "New task's labelled images.")
    integer("test_examples", 0, "Test images per task (0: all).", lower_bound=0)
    integer("transfer_epochs", 30, "Epochs on the new task.")
    freeze = list(kdl.models.LENET_FEATURE_LAYERS)
    flags.DEFINE_list("freeze", freeze, "Layers frozen in transfer.", **fv)
    integer("deepfool_examples", 500, "Images DeepFool attacks.", lower_bound=0)
    training.define_list("seeds", [0, 1, 2], "Seeds.", min_value=0, **fv)
    integer("ascent_steps", 100, "Activation maximisation / deep dream steps.")


def load(cfg, task):
    """`--source` or `--target`: a fixed shuffle's first train images."""
    data, size = kdl.datasets.load_images(cfg[task]), cfg[f"{task}_train_size"]
    return training.subsample(data, size, cfg.test_examples, cfg.seed)


def classes(data):
    return int(max(data[0][1].max(), data[1][1].max())) + 1


def options(cfg):
    """LeNet-5's options from the flags, as results.json records them."""
    # Stochastic pooling samples by activation size: it needs ReLU.
    relu = cfg.pooling == "stochastic"
    chosen = {k: cfg[k] for k in ("pooling", "dense", "rank")}
    return {**chosen, "activation": "relu" if relu else cfg.activation}


def lenet(env, data, trained=False):
    """LeNet-5 for `data` with the flags' options (`trained`: source's)."""
    shape, cfg = data[0][0].shape[1:] + (1,), env.settings
    with env.strategy.scope():
        model = kdl.models.build_lenet5(shape, classes(data), **options(cfg))
    if trained:
        model.load_weights(env.path("source", WEIGHTS))
    return model


def fit(env, name, model, data, epochs):
    """Compiles, trains and scores a model; logs in <output_dir>/<name>."""
    options = {k: env.settings[k] for k in ("batch_size", "learning_rate")}
    options.update(epochs=epochs, seed=env.seed, strategy=env.strategy)
    return kdl.models.train_classifier(model, env.path(name), *data, **options)


def source_arm(env, source):
    """LeNet-5 trained on the source task; its weights are kept."""
    keras.utils.set_random_seed(env.seed)  # each arm alone reproduces
    model = lenet(env, source)
    result = fit(env, "source", model, source, env.settings.epochs)
    model.save_weights(env.path("source", WEIGHTS))
    return {**result, "params": model.count_params()}


def transfer_arm(env, source, target, mode, seed):
    """One way to learn the new task: `mode` is one of `TRANSFER`."""
    cfg = env.settings
    keras.utils.set_random_seed(seed)
    if mode == "from_scratch":
        model = lenet(env, target)
    else:
        freeze = {TRANSFER[0]: cfg.freeze, TRANSFER[1]: FEATURES}.get(mode, [])
        with env.strategy.scope():
            model = kdl.models.transfer_model(
                lenet(env, source, True), classes(target), freeze=list(freeze)
            )
    return fit(env, f"{mode}/seed{seed}", model, target, cfg.transfer_epochs)


def deepfool_arm(env, source):
    """DeepFool's rho of the source model; an image grid of examples."""
    images = source[1][0][: env.settings.deepfool_examples]
    x = kdl.datasets.normalize_images(images).numpy()
    found = kdl.models.deepfool_robustness(
        lenet(env, source, True), x, env.path("deepfool_examples.png")
    )
    return {**found, "paper_rho_lenet_mnist": PAPER_RHO}


def visualization_arm(env, source):
    """One activation-maximisation image per class and a deep dream."""
    first = kdl.datasets.normalize_images(source[1][0][:1]).numpy()[0]
    objective = kdl.models.visualize_classifier(
        lenet(env, source, True), classes(source), first, ["c3"],
        env.path("activation_maximization.png"),
        steps=env.settings.ascent_steps, seed=env.seed,
    )  # fmt: skip
    return {"deep_dream_objective": objective}


def readme_rows(cfg, results):
    transfer, n = results["transfer"], results["target_train_size"]
    err = {m: 100 * r["test_error"] for m, r in transfer.items()}
    sd = {m: 100 * r["test_error_sd"] for m, r in transfer.items()}
    # Frozen features / the frozen network beat scratch on few labels.
    beats = [err[m] < err[TRANSFER[3]] for m in TRANSFER[:2]]
    ours = " / ".join(f"{err[m]:.1f} ± {sd[m]:.1f}" for m in TRANSFER)
    rows = [{
        "what": f"{cfg.source} test error; transfer to {n} {cfg.target} "
        "images: frozen features + new head / frozen network + linear / "
        f"fine-tune all / from scratch ({len(cfg.seeds)} seeds)",
        "ours": f"{100 * results['source_test_error']:.1f} %; {ours} %",
        "paper": "frozen features (+ new head or linear) beat training from "
        "scratch on few labels (lecture)",
        "holds": training.claims_hold(beats),
    }]  # fmt: skip
    if found := results.get("deepfool"):
        rows.append({
            "what": f"DeepFool rho = mean |r| / |x| on {found['examples']} "
            f"test images ({100 * found['fooled_fraction']:.1f} % fooled)",
            "ours": f"{found['rho_all']:.3f} ({cfg.source})",
            "paper": f"{PAPER_RHO:.2f} (LeNet on MNIST)", "holds": "n/a",
        })  # fmt: skip
    return rows


def tune(env, source):
    cfg, ((x, y), test) = env.settings, source
    return training.tune(
        kdl.tuning.LeNetHyperModel(x.shape[1:] + (1,), classes(source)), env,
        x=kdl.datasets.image_dataset(x, y, cfg.batch_size, seed=cfg.seed),
        validation_data=kdl.datasets.image_dataset(*test, 256, shuffle=False),
        epochs=cfg.epochs, verbose=0,
    )  # fmt: skip


def report(env, results, history):
    training.plot_history(
        history, env.path("source_curves.png"), ("loss", "accuracy")
    )
    transfer = results["transfer"]
    curves = {m: [run["history"]["val_accuracy"] for run in r["runs"]]
              for m, r in transfer.items()}  # fmt: skip
    training.plot_curves(
        curves, env.path("transfer_curves.png"), ylabel="new task accuracy"
    )
    columns = [("new task", "mode"), ("test error", "test_error", ".3f")]
    columns.append(("sd", "test_error_sd", ".3f"))
    columns.append(("trainable params", "trainable_params", ","))
    rows = [
        {"mode": m, **r, "trainable_params": r["runs"][0]["trainable_params"]}
        for m, r in transfer.items()
    ]
    table = training.save_table(rows, columns, env.path("table.md"))
    rows, figures = readme_rows(env.settings, results), ["transfer_curves.png"]
    return {**results, "readme_rows": rows, "table": table, "figures": figures}


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg, data = env.settings, datasets_override or {}
    source = data.get("source") or load(cfg, "source")
    if cfg.tune:
        return tune(env, source)
    target = data.get("target") or load(cfg, "target")
    # Data passed in is named by no flag: its sizes join the cache key.
    sizes = [len(a) for d in (source, target) for (a, _) in d]
    key = {"data": sizes} if datasets_override else {}

    def arm(name, fn, *args):  # reused while every setting holds
        return env.cached(name, functools.partial(fn, env, *args), **key)

    first = arm("source", source_arm, source)
    results = {
        "options": options(cfg),
        "source": cfg.source,
        "source_test_error": first["test_error"],
        "params": first["params"],
        "target": cfg.target,
        "target_train_size": len(target[0][0]),
        "frozen": list(cfg.freeze),
        "transfer": {
            m: training.seed_summary(
                [
                    arm(f"{m}/seed{s}", transfer_arm, source, target, m, s)
                    for s in cfg.seeds
                ],
                ["test_error"],
            )  # fmt: skip
            for m in TRANSFER
        },
    }
    if cfg.deepfool_examples:
        results["deepfool"] = arm("deepfool", deepfool_arm, source)
    results.update(arm("visualization", visualization_arm, source))
    seeds = sorted({cfg.seed, *cfg.seeds})
    return env.finish(report(env, results, first["history"]), seeds=seeds)


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
