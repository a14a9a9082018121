"""python recipes/glo.py --output_dir=out/glo

Generative Latent Optimization (Bojanowski, Joulin, Lopez-Paz, Szlam, ICML
2018) on Fashion-MNIST: a DCGAN generator and one code per training image,
trained jointly (codes on the unit ball, only the batch's rows updated).
Measures what the paper argues, over --seeds (mean +- sd): (a) Lap1 gives
sharper images than L2: `kdl.models.laplacian_energy_ratio` of held-out
reconstructions to the originals (1 = as sharp, lower = blurrier); (b)
against a DCGAN on exactly GLO's generator (`kdl.models.build_dcgan`:
DCGAN discriminator, non-saturating loss, Adam(2e-4, beta_1=0.5), z
uniform on the unit sphere where GLO's codes lie), GLO reconstructs
held-out images better (MSE; codes searched with the generator fixed,
`kdl.models.search_codes`, for both), while the GAN's samples are better:
Frechet distance (FD) between --fd_size test images and as many samples in
the feature space of the f6 layer (84 units) of a LeNet-5 trained here on
the same training images (GLO samples a Gaussian fitted to its codes).
Arms: GLO per --losses x --inits, the DCGAN (--gan); each arm and seed
cached. Writes results.json, table.md, mse.png, fd.png, sharpness.png,
samples.png, reconstructions.png. `--tune`: GLOHyperModel.

Default: the first 20,000 training images; 1,000 held-out test images
encoded (100 Adam steps); GLO Lap1 and L2 with PCA codes, 10 epochs of
batch 128; DCGAN 15 epochs of batch 64 (4,680 steps); LeNet-5 5 epochs;
10,000 test images and samples per FD; seeds 0, 1, 2. Budget, measured
(results/glo.json, at d995d90, alone): 20.6 min wall, 29.3 min CPU; the
GAN's epochs are most of it (--gan_epochs).
"""

import functools

import keras
import keras_tuner
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training
from kdl.models import glo_comparison

SMOKE = dict(train_size=256, test_size=32, fd_size=64, epochs=1, seeds=[0])
SMOKE.update(latent_dim=8, filters=8, encode_steps=5, gan_epochs=1)
SMOKE.update(classifier_epochs=1)
LOSSES, INITS = glo_comparison.LOSS_NAMES, glo_comparison.INIT_NAMES
SELECTION = ("losses", "inits", "seeds", "gan", "smoke", "max_trials")
GLO_FLAGS = ("epochs", "batch_size", "learning_rate", "code_learning_rate")
GLO_FLAGS += ("levels", "projection")
GAN_FLAGS = ("gan_epochs", "gan_batch_size", "gan_learning_rate")
CLASSIFIER_FLAGS = ("train_size", "fd_size", "classifier_epochs", "seed")


def define_flags(flag_values=flags.FLAGS):
    defaults = dict(epochs=10, batch_size=128, max_trials=6)
    training.define_common_flags(flag_values, output_dir="out/glo", **defaults)
    fv = dict(flag_values=flag_values)
    for name, default, text in (
        ("train_size", 20000, "Training images (the first N)."),
        ("test_size", 1000, "Held-out images to encode (the first N)."),
        ("fd_size", 10000, "Test images (and samples) for the FD."),
        ("latent_dim", 32, "Code size."),
        ("filters", 32, "Generator (and discriminator) width."),
        ("encode_steps", 100, "Adam steps to encode held-out images."),
        ("gan_epochs", 15, "DCGAN epochs."),
        ("gan_batch_size", 64, "DCGAN batch size."),
        ("classifier_epochs", 5, "Epochs of the FD's LeNet-5."),
    ):
        flags.DEFINE_integer(name, default, text, lower_bound=1, **fv)
    levels = "Lap1 pyramid levels."
    flags.DEFINE_integer("levels", 3, levels, lower_bound=0, **fv)
    for name, default, text in (
        ("learning_rate", 1e-3, "Generator Adam rate."),
        ("code_learning_rate", 1e-2, "Code (row-sparse Adam) rate."),
        ("encode_learning_rate", 0.05, "Encoding Adam rate."),
        ("gan_learning_rate", 2e-4, "DCGAN Adam rate (beta_1 0.5)."),
    ):
        flags.DEFINE_float(name, default, text, lower_bound=0.0, **fv)
    projections = ["ball", "sphere", "none"]
    flags.DEFINE_enum("projection", "ball", projections, "Projection.", **fv)
    flags.DEFINE_bool("gan", True, "Train the DCGAN baseline.", **fv)
    training.define_list("seeds", [0, 1, 2], "Seeds.", min_value=0, **fv)
    for name, choices, default, text in (
        ("losses", LOSSES, list(LOSSES), "GLO losses (any case)."),
        ("inits", INITS, ["pca"], "GLO code inits (any case)."),
    ):
        training.define_list(
            name, default, text, choices=choices, ignore_case=True, **fv
        )


def load_data(cfg, datasets_override=None):
    """Training images and labels, FD test images, held-out images."""
    (x, y), (x_test, y_test) = datasets_override or kdl.datasets.load_images(
        "fashion_mnist"
    )
    images = kdl.datasets.normalize_images
    x = np.asarray(images(np.asarray(x)[: cfg.train_size]))
    fd = np.asarray(images(np.asarray(x_test)[: cfg.fd_size]))
    y, y_test = np.asarray(y)[: len(x)], np.asarray(y_test)[: len(fd)]
    return dict(x=x, y=y, fd=fd, y_test=y_test, held_out=fd[: cfg.test_size])


def classifier_arm(env, data):
    """LeNet-5 on the training images, the FD's feature space (f6)."""
    keras.utils.set_random_seed(env.seed)
    with env.strategy.scope():
        model = kdl.models.build_lenet5(data["x"].shape[1:], 10)
    result = kdl.models.train_classifier(
        *(model, env.path("classifier", "train"), (data["x"], data["y"])),
        (data["fd"], data["y_test"]),
        epochs=env.settings.classifier_epochs,
        batch_size=128,
        seed=env.seed,
    )
    model.save(env.path("classifier", "lenet5.keras"))
    real = data["x"][: len(data["fd"])]  # FD of real images: the floor
    fd = kdl.models.feature_frechet_distance(features(env), real, data["fd"])
    return {"test_accuracy": result["test_accuracy"], "fd": fd}


def features(env):
    """The trained LeNet-5 cut at f6 (84 units), from its file."""
    path = env.path("classifier", "lenet5.keras")
    return kdl.models.feature_model(keras.saving.load_model(path), "f6")


def arm(env, data, name, seed):
    """One GLO (`<loss>_<init>`) or the DCGAN: trained, then scored."""
    cfg, x, path = env.settings, data["x"], f"{name}_seed{seed}"
    keras.utils.set_random_seed(seed)
    shape, batch = (x.shape[1:], cfg.latent_dim, cfg.filters), cfg.batch_size
    with env.strategy.scope():
        if name == glo_comparison.GAN:
            lr, batch = cfg.gan_learning_rate, cfg.gan_batch_size
            model = kdl.models.build_dcgan(*shape, learning_rate=lr, seed=seed)
        else:
            loss, init = name.split("_")
            model = kdl.models.build_glo(
                len(x),
                *shape,
                cfg.projection,
                loss,
                cfg.learning_rate,
                cfg.code_learning_rate,
                cfg.levels,
            )
            if init == "pca":
                model.set_codes(kdl.models.pca_codes(x, cfg.latent_dim))
    glo = name != glo_comparison.GAN
    batches = kdl.datasets.image_dataset(
        x, batch_size=batch, with_index=glo, seed=seed, drop_remainder=not glo
    )
    history, timer = training.fit(
        model,
        env.path(path, "train"),
        batches,
        tensorboard=not env.smoke,
        epochs=cfg.epochs if glo else cfg.gan_epochs,
    )
    evaluate = dict(features=features(env), fd_images=data["fd"])
    evaluate.update(seed=seed, directory=env.path(path))
    evaluate.update(encode_steps=cfg.encode_steps)
    evaluate.update(encode_learning_rate=cfg.encode_learning_rate)
    evaluate["label"] = glo_comparison.arm_label(name)
    if glo:
        result = kdl.models.evaluate_glo(model, x, data["held_out"], **evaluate)
    else:
        result = kdl.models.evaluate_generator(
            model, data["held_out"], **evaluate
        )
    keras.backend.clear_session()
    return {**result, "history": history, "epoch_s": timer.steady_seconds()}


def tune(env, x):
    """--tune: GLOHyperModel around the flags, scored by training MSE."""
    cfg = env.settings
    hypermodel = kdl.tuning.GLOHyperModel(
        *(len(x), x.shape[1:], cfg.latent_dim, cfg.filters),
        *(cfg.learning_rate, cfg.code_learning_rate, cfg.losses[0].lower()),
        projection=cfg.projection,
        levels=cfg.levels,
    )
    objective = keras_tuner.Objective("mse", direction="min")
    fit = dict(batch_size=cfg.batch_size, epochs=cfg.epochs, verbose=2)
    x, y = np.arange(len(x)), x
    return training.tune(hypermodel, env, objective, x=x, y=y, **fit)


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    data = load_data(cfg, datasets_override)
    if cfg.tune:
        return tune(env, data["x"])
    # Data passed in is named by no flag: its fingerprint joins the keys.
    key = {"data": [len(data["x"]), len(data["fd"]), float(data["x"].sum())]}
    ignore = tuple(k for k in cfg.to_dict() if k not in CLASSIFIER_FLAGS)
    classifier = functools.partial(classifier_arm, env, data)
    classifier = env.cached("classifier", classifier, ignore=ignore, **key)
    names = [f"{n}_{i}".lower() for i in cfg.inits for n in cfg.losses]
    runs = {}  # arm -> [result per seed]; a subset reuses finished arms
    for name in dict.fromkeys(names + [glo_comparison.GAN] * cfg.gan):
        skip = GAN_FLAGS if name != glo_comparison.GAN else GLO_FLAGS
        runs[name] = [
            env.cached(
                f"{name}_seed{seed}",
                functools.partial(arm, env, data, name, seed),
                ignore=SELECTION + skip,
                **key,
            )
            for seed in cfg.seeds
        ]
    values = glo_comparison.per_seed(runs)
    first = {n: env.path(f"{n}_seed{cfg.seeds[0]}", "shown.npz") for n in runs}
    shown = {n: np.load(path) for n, path in first.items()}
    table = glo_comparison.save_comparison(
        values, env.output_dir, data["fd"], data["held_out"], shown
    )
    rows = glo_comparison.comparison_rows(
        values,
        len(cfg.seeds),
        len(data["held_out"]),
        len(data["fd"]),
        classifier["fd"],
    )
    results = {
        "arms": {n: v for n, v in runs.items() if n != glo_comparison.GAN},
        "dcgan": runs.get(glo_comparison.GAN, []),
        "classifier": classifier,
        "table": table,
        "readme_rows": rows,
        "figures": ["samples.png", "reconstructions.png"]
        + [f"{stem}.png" for stem, *_ in glo_comparison.METRICS],
        "train_size": len(data["x"]),
        "test_size": len(data["held_out"]),
    }
    return env.finish(results, seeds=cfg.seeds)


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
