r"""python recipes/basics.py --output_dir=out/basics

The lecture basics, one arm each. perceptron: Rosenblatt's rule (1957)
reaches zero mistakes on separable data and never settles on non-separable
data, where logistic regression converges. xor: the lecture's hand-set 2-2-1
ReLU net classifies all 4 points; trained 2-2-1 nets do in some seeds. sin:
3 tanh units fit sin(x) from 50 points (Bishop 2006, fig. 5.3). init: a
10 x 256 sigmoid MLP's gradients vanish toward the input at initialisation
(fan-in uniform vs Glorot). mlp: an MLP on the sklearn digits (no paper
number); `--tune` searches it with KerasTuner instead of running the arms.

A run measures mistakes and weight change per epoch, XOR accuracies, the sin
fit's MSE, per-layer gradient norms at init and the MLP's test accuracy, and
writes results.json, perceptron_mistakes.png, weight_change.png, sin_fit.png,
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

PARTS = ("perceptron", "xor", "sin", "init", "mlp")
SMOKE = {
    "epochs": 2,
    "perceptron_epochs": 3,
    "xor_seeds": 2,
    "xor_steps": 100,
    "sin_steps": 50,
    "init_depth": 3,
    "init_seeds": 1,
}


def define_flags(flag_values=flags.FLAGS):
    training.define_common_flags(
        flag_values, output_dir="out/basics", epochs=30, tune=True, max_trials=5
    )  # --epochs, --batch_size: the MLP arm (and --tune)
    for name, default, help_text in (
        ("perceptron_epochs", 30, "Epochs of perceptron vs logistic."),
        ("xor_seeds", 20, "Seeds of the trained 2-2-1 XOR net."),
        ("xor_steps", 1500, "Adam steps per trained XOR net."),
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


def row(what, ours, paper, *claims):
    """A README row; `holds`: yes/partly/no as all/some/none of the paper's
    `claims` hold in our numbers, "n/a" when there is none."""
    verdict = "yes" if all(claims) else "partly" if any(claims) else "no"
    verdict = verdict if claims else "n/a"
    return dict(what=what, ours=ours, paper=paper, holds=verdict)


def two_blobs(rng, n, separation, margin=None):
    """Two 2-D Gaussian classes; with `margin`, a linearly separable set."""
    x = rng.normal(size=(4 * n, 2)).astype("float32")
    direction = np.array([1.0, 1.0], "float32") / np.sqrt(2.0)
    y = (rng.uniform(size=4 * n) < 0.5).astype("float32")
    x += np.outer(2 * y - 1, direction) * separation / 2
    if margin is not None:
        score = x @ direction
        keep = np.where(y == 1, score > margin, score < -margin)
        x, y = x[keep], y[keep]
    return x[:n], y[:n]


def perceptron(env, data=None):
    """Online perceptron rule vs online logistic regression (SGD)."""
    cfg, epochs = env.settings, env.settings.perceptron_epochs
    keras.utils.set_random_seed(cfg.seed)
    rng = np.random.RandomState(cfg.seed)
    out = {
        "separable": two_blobs(rng, 200, separation=3.0, margin=0.3),
        "non_separable": two_blobs(rng, 200, separation=1.5),
    }
    curves = {}
    for name, (x, y) in out.items():
        rule = kdl.models.Perceptron()
        rule.compile()
        rule.build(x.shape)
        logistic = kdl.models.build_mlp(
            (2,), [], 1, output_activation="sigmoid"
        )
        logistic.compile(
            keras.optimizers.SGD(0.05),
            "binary_crossentropy",
            metrics=["accuracy"],
        )
        out[name] = {"examples": len(x)}
        for key, model, weight in (
            ("perceptron", rule, rule.kernel),
            ("logistic", logistic, logistic.get_layer("output").kernel),
        ):
            trace = kdl.models.WeightChangeCallback(weight)
            history = model.fit(
                x, y, batch_size=1, epochs=epochs, verbose=0, callbacks=[trace]
            ).history  # online: accuracy of the predictions before each step
            mistakes = [round(len(x) * (1 - a)) for a in history["accuracy"]]
            out[name][f"{key}_mistakes_per_epoch"] = mistakes
            out[name][f"{key}_weight_change_per_epoch"] = trace.changes
            curves[f"{key} ({name})"] = mistakes
        out[name]["logistic_loss_per_epoch"] = history["loss"]
    training.plot_curves(
        curves,
        env.path("perceptron_mistakes.png"),
        ylabel="mistakes",
        title="Perceptron rule vs logistic regression (online, 200 points)",
    )
    sep, non = out["separable"], out["non_separable"]
    training.plot_curves(
        {
            k: non[f"{k}_weight_change_per_epoch"]
            for k in ("perceptron", "logistic")
        },
        env.path("weight_change.png"),
        ylabel="|w_epoch - w_previous|",
        title="Weights keep moving vs converge (non-separable data)",
        logy=True,
    )
    tail = non["perceptron_mistakes_per_epoch"][epochs // 2 :]
    out["readme_row"] = row(
        f"perceptron mistakes in the last of {epochs} epochs, separable / "
        f"non-separable ({sep['examples']} points)",
        f"{sep['perceptron_mistakes_per_epoch'][-1]} / {tail[-1]} (non-"
        f"separable keeps moving: {min(tail)}-{max(tail)} in each of the last "
        f"{len(tail)} epochs; logistic regression ends at "
        f"{non['logistic_mistakes_per_epoch'][-1]}, weight change "
        f"{non['logistic_weight_change_per_epoch'][-1]:.1e})",
        "converges / never settles",
        sep["perceptron_mistakes_per_epoch"][-1] == 0,
        min(tail) > 0,
    )
    return out


def xor(env, data=None):
    """The hand-set XOR net, and 2-2-1 ReLU nets trained from seeds."""
    cfg, steps = env.settings, env.settings.xor_steps
    x, y = kdl.models.XOR_INPUTS, kdl.models.XOR_TARGETS

    def accuracy(model):
        return float(np.mean((np.asarray(model(x))[:, 0] > 0) == (y > 0.5)))

    trained = []
    for i in range(cfg.xor_seeds):
        keras.utils.set_random_seed(cfg.seed * 1000 + i)
        model = kdl.models.build_mlp((2,), [2], 1, activation="relu")
        model.compile(
            keras.optimizers.Adam(0.05), keras.losses.BinaryCrossentropy(True)
        )
        model.fit(np.tile(x, (steps, 1)), np.tile(y, steps), 4, verbose=0)
        trained.append(accuracy(model))
    hand = kdl.models.build_xor_net()
    solved = sum(a == 1.0 for a in trained)
    return {
        "hand_set_accuracy": accuracy(hand),
        "hand_set_logits": np.asarray(hand(x))[:, 0],
        "trained_accuracy_per_seed": trained,
        "trained_solved": solved,
        "readme_row": row(
            "XOR: hand-set 2-2-1 ReLU net accuracy; trained 2-2-1 ReLU nets "
            f"(Adam, {steps} steps) that solve it",
            f"{round(4 * accuracy(hand))}/4; {solved} of {cfg.xor_seeds} seeds",
            "hand-set net solves XOR",
            accuracy(hand) == 1.0,
        ),
    }


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
        "readme_row": row(
            "sin(x), 50 points, 3 tanh units: MSE on the points / on a "
            "200-point grid (a good fit: grid MSE < 0.01)",
            f"{mse[0]:.1e} / {mse[1]:.1e}",
            "good fit with 3 units (Bishop fig. 5.3)",
            mse[1] < 0.01,
        ),
    }


def init(env, data):
    """Per-layer gradient norms at init: fan-in uniform vs Glorot."""
    cfg = env.settings
    (x, y), _ = data
    x, y = x[:512], y[:512]
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
        "readme_row": row(
            f"{cfg.init_depth}x256 sigmoid MLP at init: gradient norm, first "
            "/ last hidden layer",
            f"fan-in {ratio['fan_in_uniform']:.1e}, "
            f"Glorot {ratio['glorot_uniform']:.1e}",
            "gradients vanish toward the input",
            *(v < 1 for v in ratio.values()),
        ),
    }


def mlp_splits(data):
    """(fit, valid, test): the first 10% of the training set validates."""
    (x, y), test = data
    n = len(x) // 10
    return (x[n:], y[n:]), (x[:n], y[:n]), test


def mlp(env, data):
    """The HyperModel's default MLP, trained with the standard callbacks."""
    cfg = env.settings
    keras.utils.set_random_seed(cfg.seed)
    train, valid, test = mlp_splits(data)
    hypermodel = kdl.tuning.MLPHyperModel(train[0].shape[1:], 10)
    with env.strategy.scope():
        model = hypermodel.build(keras_tuner.HyperParameters())
    timer = training.EpochTimer()
    history = model.fit(
        *train,
        validation_data=valid,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        verbose=2,
        callbacks=training.standard_callbacks(
            env.path("mlp", "train"), extra=[timer]
        ),
    )
    training.plot_history(
        history, env.path("mlp_curves.png"), metrics=("loss", "accuracy")
    )
    test_loss, test_acc = model.evaluate(*test, verbose=0)
    return {
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "epochs_run_this_time": len(history.history["loss"]),
        "seconds_per_epoch": timer.steady_seconds(),
        "readme_row": row(
            "MLP (64 ReLU) on sklearn digits, test accuracy",
            f"{test_acc:.3f}",
            "-",
        ),
    }


def load_digits():
    """The sklearn digits, flat float32 in [0, 1], int32 labels."""
    (x, y), (xt, yt) = kdl.datasets.load_images("digits")
    x, xt = [a.reshape(len(a), -1).astype("float32") / 255 for a in (x, xt)]
    return (x, y.astype("int32")), (xt, yt.astype("int32"))


ARMS = dict(perceptron=perceptron, xor=xor, sin=sin, init=init, mlp=mlp)


def run(flags_obj, datasets_override=None, strategy_override=None):
    """`datasets_override`: `((x, y), (x_test, y_test))`, flat float32
    images in [0, 1] and int labels of 10 classes, instead of the digits."""
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    data = datasets_override
    if data is None and (cfg.tune or {"init", "mlp"} & set(cfg.parts)):
        data = load_digits()
    if cfg.tune:
        (x, y), valid, _ = mlp_splits(data)
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
    sizes = [len(d[0]) for d in data] if datasets_override else None
    results = {
        name: env.cached(name, functools.partial(arm, env, data), data=sizes)
        for name, arm in ARMS.items()
        if name in cfg.parts
    }
    results["readme_rows"] = [r.pop("readme_row") for r in results.values()]
    more = range(max(cfg.xor_seeds, cfg.init_seeds))  # seed * 1000 + i
    seeds = sorted({cfg.seed, *(cfg.seed * 1000 + i for i in more)})
    return env.finish(results, seeds=seeds)


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
