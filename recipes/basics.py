r"""python recipes/basics.py --output_dir=out/basics

The lecture basics after the perceptron (recipes/perceptron.py), one arm
each. sin: 3 tanh units fit sin(x) from 50 points (Bishop 2006, fig. 5.3).
init: a 10 x 256 sigmoid MLP's gradients vanish toward the input at
initialisation (the lecture's fan-in uniform rule vs Glorot uniform). mlp:
an MLP on the sklearn digits, trained with the resumable standard
callbacks (no paper number); `--tune` searches it with KerasTuner instead
of running the arms.

A run measures the sin fit's MSE, per-layer gradient norms at init and the
MLP's test accuracy, and writes results.json, sin_fit.png,
init_gradient_norms.png and mlp_curves.png. Finished arms are reused while
every flag is unchanged. Budget: see provenance in results/basics.json.
"""

import functools

import keras
import keras_tuner
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training

PARTS = ("sin", "init", "mlp")
SMOKE = {"epochs": 2, "sin_steps": 50, "init_depth": 3, "init_seeds": 1}


def define_flags(flag_values=flags.FLAGS):
    training.define_common_flags(
        flag_values, output_dir="out/basics", epochs=30, tune=True, max_trials=5
    )  # --epochs, --batch_size: the MLP arm (and --tune)
    for name, default, help_text in (
        ("sin_steps", 10000, "Full-batch Adam steps of the sin fit."),
        ("init_depth", 10, "Hidden layers of the init comparison MLP."),
        ("init_seeds", 5, "Seeds averaged in the init comparison."),
    ):
        flags.DEFINE_integer(
            name, default, help_text, lower_bound=1, flag_values=flag_values
        )
    flags.DEFINE_multi_enum(
        "parts", list(PARTS), PARTS, "Arms to run.", flag_values=flag_values
    )


def sin(env, data=None):
    """sin(x) from 50 points with 3 tanh units; the fit and its basis."""
    cfg = env.settings
    keras.utils.set_random_seed(cfg.seed)
    rng = np.random.RandomState(cfg.seed)
    x = np.sort(rng.uniform(-np.pi, np.pi, 50)).astype("float32")[:, None]
    model = kdl.models.build_mlp((1,), [3], 1, activation="tanh")
    model.compile(keras.optimizers.Adam(0.02), "mse")
    epochs = 100 if cfg.sin_steps >= 100 else 1
    reps = max(1, cfg.sin_steps // epochs)  # full-batch steps per epoch
    xs = np.tile(x, (reps, 1))
    model.fit(xs, np.sin(xs), 50, epochs, verbose=0, shuffle=False)
    grid = np.linspace(-np.pi, np.pi, 200, dtype="float32")[:, None]
    (w1, b1), (w2, _) = [layer.get_weights() for layer in model.layers[1:]]
    units = np.tanh(grid * w1 + b1) * w2[:, 0]
    curves = {
        "sin(x)": np.sin(grid[:, 0]),
        "3-tanh-unit net": model(grid)[:, 0],
    }
    curves.update({f"hidden unit {j + 1}": units[:, j] for j in range(3)})
    training.plot_curves(
        curves,
        env.path("sin_fit.png"),
        xlabel="x",
        x=grid[:, 0],
        title="sin(x) from 50 points, 3 tanh units (Bishop fig. 5.3)",
    )
    mse = [float(np.mean((model(v) - np.sin(v)) ** 2)) for v in (x, grid)]
    return {
        "train_mse": mse[0],
        "grid_mse": mse[1],
        "steps": reps * epochs,
        "readme_row": {
            "what": "sin(x), 50 points, 3 tanh units: MSE on the points / on "
            "a 200-point grid (a good fit: grid MSE < 0.01)",
            "ours": f"{mse[0]:.1e} / {mse[1]:.1e}",
            "paper": "good fit with 3 units (Bishop fig. 5.3)",
            "holds": training.claims_hold([mse[1] < 0.01]),
        },
    }


def init(env, data):
    """Per-layer gradient norms at init: fan-in uniform vs Glorot."""
    cfg = env.settings
    x, y = (a[:512] for a in data["train"])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    norms = {}
    for name, make in (
        ("fan_in_uniform", kdl.initializers.FanInUniform),
        ("glorot_uniform", keras.initializers.GlorotUniform),
    ):
        per_seed = []
        for i in range(cfg.init_seeds):
            keras.utils.set_random_seed(cfg.seed * 1000 + i)
            model = kdl.models.build_mlp(
                x.shape[1:],
                [256] * cfg.init_depth,
                10,
                "sigmoid",
                kernel_initializer=make(),
            )
            grads = training.kernel_gradient_norms(model, x, y, loss)
            per_seed.append([norm for _, norm in grads])
        norms[name] = np.mean(per_seed, axis=0)
    training.plot_curves(
        norms,
        env.path("init_gradient_norms.png"),
        logy=True,
        xlabel="layer (1 = input side)",
        ylabel="|dL/dW| at init",
        title=f"Deep sigmoid MLP ({cfg.init_depth} x 256) at initialisation",
    )
    ratio = {k: float(v[0] / v[-2]) for k, v in norms.items()}
    return {
        "gradient_norm_per_layer": norms,
        "first_over_last_hidden": ratio,
        "readme_row": {
            "what": f"{cfg.init_depth}x256 sigmoid MLP at init: gradient "
            "norm, first / last hidden layer",
            "ours": f"fan-in {ratio['fan_in_uniform']:.1e}, "
            f"Glorot {ratio['glorot_uniform']:.1e}",
            "paper": "gradients vanish toward the input",
            "holds": training.claims_hold(v < 1 for v in ratio.values()),
        },
    }


def mlp(env, data):
    """The HyperModel's default MLP, trained with the standard callbacks."""
    cfg = env.settings
    keras.utils.set_random_seed(cfg.seed)
    train, valid, test = (data[s] for s in ("train", "valid", "test"))
    hypermodel = kdl.tuning.MLPHyperModel(train[0].shape[1:], 10)
    with env.strategy.scope():
        model = hypermodel.build(keras_tuner.HyperParameters())
    history, timer = training.fit(
        model,
        env.path("mlp", "train"),
        *train,
        validation_data=valid,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
    )
    training.plot_history(
        history, env.path("mlp_curves.png"), metrics=("loss", "accuracy")
    )
    scores = training.evaluate_model(model, *test)
    test_loss, test_acc = scores["loss"], scores["accuracy"]
    return {
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "epochs_run_this_time": len(history["loss"]),
        "seconds_per_epoch": timer.steady_seconds(),
        "readme_row": {
            "what": "MLP (64 ReLU) on sklearn digits, test accuracy",
            "ours": f"{test_acc:.3f}",
            "paper": "-",
            "holds": "n/a",
        },
    }


ARMS = {"sin": sin, "init": init, "mlp": mlp}


def run(flags_obj, datasets_override=None, strategy_override=None):
    """`datasets_override`: data in the form of `kdl.datasets.image_splits`
    (flat images of 10 classes) instead of the sklearn digits."""
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    data = datasets_override
    if data is None and (cfg.tune or {"init", "mlp"} & set(cfg.parts)):
        data = kdl.datasets.image_splits("digits", seed=cfg.seed)
    if cfg.tune:
        (x, y), valid = data["train"], data["valid"]
        return training.tune(
            kdl.tuning.MLPHyperModel(x.shape[1:], 10),
            env,
            objective="val_accuracy",
            x=x,
            y=y,
            validation_data=valid,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            verbose=0,
        )
    splits = ("train", "valid", "test")
    sizes = [len(data[s][0]) for s in splits] if datasets_override else None
    results = {
        name: env.cached(name, functools.partial(arm, env, data), data=sizes)
        for name, arm in ARMS.items()
        if name in cfg.parts
    }
    results["readme_rows"] = [r.pop("readme_row") for r in results.values()]
    more = range(cfg.init_seeds) if "init" in cfg.parts else ()
    seeds = sorted({cfg.seed, *(cfg.seed * 1000 + i for i in more)})
    return env.finish(results, seeds=seeds)


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
