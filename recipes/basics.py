r"""python recipes/basics.py --output_dir=out/basics

The lecture basics, end to end:

- perceptron: Rosenblatt's rule reaches zero mistakes on linearly separable
  data; on non-separable data its mistake count never settles, while
  logistic regression (Dense + sigmoid, SGD) converges.
- xor: the lecture's hand-set 2-2-1 ReLU net (W=[[1,-1],[-1,1]],
  b=[-1/2,-1/2], w2=[4,4], b2=-1) classifies all four points; trained 2-2-1
  nets do too in a fraction of seeds (reported).
- sin: sin(x) from 50 points with 3 tanh hidden units (Bishop 2006, p. 231);
  plots the fit and the three hidden units' basis functions.
- init: a deep sigmoid MLP at initialisation, fan-in U[-1/sqrt(n), 1/sqrt(n)]
  vs Glorot: gradient norm per layer (the vanishing-gradient slide).
- mlp: an MLP classifier on the sklearn digits, trained with the standard
  callbacks (resumable); `--tune` searches it with KerasTuner.

Takes about 2 minutes on a 2-core CPU; `--smoke` takes seconds.
"""

import time

import keras
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training

FLAGS = flags.FLAGS
PARTS = ("perceptron", "xor", "sin", "init", "mlp")


def define_flags():
    training.define_common_flags(
        output_dir="out/basics", epochs=30, batch_size=32, max_trials=5
    )
    if "parts" in FLAGS:
        return
    flags.DEFINE_multi_enum(
        "parts", list(PARTS), PARTS, "Which parts of the recipe to run."
    )
    flags.DEFINE_integer(
        "perceptron_epochs",
        30,
        "Epochs of the perceptron / logistic regression comparison.",
        lower_bound=1,
    )
    flags.DEFINE_integer(
        "xor_seeds", 20, "Seeds for the trained 2-2-1 XOR net.", lower_bound=1
    )
    flags.DEFINE_integer(
        "init_depth",
        10,
        "Hidden layers of the sigmoid MLP of the init comparison.",
        lower_bound=1,
    )


# ---------------------------------------------------------------- perceptron
def _two_blobs(rng, n, separation, margin=None):
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


def run_perceptron(env, flags_obj, epochs):
    rng = np.random.RandomState(flags_obj.seed)
    sets = {
        "separable": _two_blobs(rng, 200, separation=3.0, margin=0.3),
        "non_separable": _two_blobs(rng, 200, separation=1.5),
    }
    results, curves = {}, {}
    for name, (x, y) in sets.items():
        perceptron = kdl.models.Perceptron()
        perceptron.compile()
        perceptron.build(x.shape)
        weights = _WeightTrace(lambda m=perceptron: m.kernel)
        history = perceptron.fit(
            x,
            y,
            batch_size=1,
            epochs=epochs,
            shuffle=True,
            verbose=0,
            callbacks=[weights],
        )
        mistakes = [int(m) for m in history.history["mistakes"]]
        logistic = keras.Sequential(
            [keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")]
        )
        logistic.compile(
            optimizer=keras.optimizers.SGD(0.05),
            loss="binary_crossentropy",
            metrics=["accuracy"],
        )
        lr_weights = _WeightTrace(lambda m=logistic: m.layers[-1].kernel)
        lr_history = logistic.fit(
            x,
            y,
            batch_size=1,
            epochs=epochs,
            shuffle=True,
            verbose=0,
            callbacks=[lr_weights],
        )
        lr_mistakes = [
            int(round(len(x) * (1 - a))) for a in lr_history.history["accuracy"]
        ]
        results[name] = {
            "examples": len(x),
            "perceptron_mistakes_per_epoch": mistakes,
            "perceptron_weight_change_per_epoch": weights.changes,
            "perceptron_final_mistakes": mistakes[-1],
            "logistic_loss_per_epoch": lr_history.history["loss"],
            "logistic_mistakes_per_epoch": lr_mistakes,
            "logistic_weight_change_per_epoch": lr_weights.changes,
        }
        curves[f"perceptron ({name})"] = mistakes
        curves[f"logistic regression ({name})"] = lr_mistakes
    training.plot_curves(
        curves,
        env.path("perceptron_mistakes.png"),
        ylabel="mistakes in the epoch",
        title="Perceptron rule vs logistic regression (online, 200 points)",
    )
    training.plot_curves(
        {
            "perceptron (non-separable)": results["non_separable"][
                "perceptron_weight_change_per_epoch"
            ],
            "logistic regression (non-separable)": results["non_separable"][
                "logistic_weight_change_per_epoch"
            ],
        },
        env.path("weight_change.png"),
        ylabel="|w_epoch - w_previous|",
        title="Weights keep moving vs converge (non-separable data)",
        logy=True,
    )
    return results


class _WeightTrace(keras.callbacks.Callback):
    """Records |w_t - w_{t-1}| at the end of each epoch."""

    def __init__(self, get_weight):
        super().__init__()
        self.get_weight = get_weight
        self.changes = []
        self._previous = None

    def on_epoch_begin(self, epoch, logs=None):
        if self._previous is None:
            self._previous = keras.ops.convert_to_numpy(self.get_weight())

    def on_epoch_end(self, epoch, logs=None):
        current = keras.ops.convert_to_numpy(self.get_weight())
        self.changes.append(float(np.linalg.norm(current - self._previous)))
        self._previous = current


# ----------------------------------------------------------------------- xor
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32")
XOR_Y = np.array([0, 1, 1, 0], "float32")


def hand_set_xor_net():
    """The lecture's 2-2-1 ReLU net that computes XOR (logit output)."""
    model = kdl.models.build_mlp((2,), [2], 1, activation="relu", name="xor")
    model.get_layer("hidden_0").set_weights(
        [np.array([[1, -1], [-1, 1]], "float32"), np.full(2, -0.5, "float32")]
    )
    model.get_layer("output").set_weights(
        [np.array([[4], [4]], "float32"), np.array([-1], "float32")]
    )
    return model


def _xor_accuracy(model):
    logits = np.asarray(model(XOR_X)).reshape(-1)
    return float(np.mean((logits > 0) == (XOR_Y > 0.5)))


def run_xor(env, flags_obj, seeds, steps):
    hand = hand_set_xor_net()
    data = (
        np.tile(XOR_X, (steps, 1)),
        np.tile(XOR_Y, steps),
    )
    trained = []
    for seed in range(seeds):
        keras.utils.set_random_seed(flags_obj.seed * 1000 + seed)
        model = kdl.models.build_mlp((2,), [2], 1, activation="relu")
        model.compile(
            optimizer=keras.optimizers.Adam(0.05),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
        )
        model.fit(*data, batch_size=4, epochs=1, shuffle=False, verbose=0)
        trained.append(_xor_accuracy(model))
    solved = [a == 1.0 for a in trained]
    return {
        "hand_set_accuracy": _xor_accuracy(hand),
        "hand_set_logits": np.asarray(hand(XOR_X)).reshape(-1),
        "trained_accuracy_per_seed": trained,
        "trained_solved_fraction": float(np.mean(solved)),
        "trained_seeds": seeds,
        "trained_steps": steps,
    }


# ----------------------------------------------------------------------- sin
def run_sin(env, flags_obj, steps):
    rng = np.random.RandomState(flags_obj.seed)
    x = np.sort(rng.uniform(-np.pi, np.pi, size=50)).astype("float32")
    y = np.sin(x)
    model = kdl.models.build_mlp(
        (1,), [3], 1, activation="tanh", name="sin_fit"
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    reps = max(1, steps // 100)
    model.fit(
        np.tile(x, reps)[:, None],
        np.tile(y, reps)[:, None],
        batch_size=50,
        epochs=100 if steps >= 100 else 1,
        shuffle=False,
        verbose=0,
    )
    grid = np.linspace(-np.pi, np.pi, 200, dtype="float32")
    fit_train = np.asarray(model(x[:, None])).reshape(-1)
    fit_grid = np.asarray(model(grid[:, None])).reshape(-1)
    w1, b1 = model.get_layer("hidden_0").get_weights()
    w2, b2 = model.get_layer("output").get_weights()
    basis = np.tanh(grid[:, None] * w1 + b1) * w2.reshape(1, -1)

    plt = training.pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(grid, np.sin(grid), "k:", label="sin(x)")
    ax.plot(x, y, "o", ms=3, label="50 training points")
    ax.plot(grid, fit_grid, "r", label="3-tanh-unit net")
    for j in range(3):
        ax.plot(grid, basis[:, j], "--", lw=1, label=f"hidden unit {j + 1}")
    ax.legend(fontsize=7)
    ax.set_xlabel("x")
    fig.tight_layout()
    fig.savefig(env.path("sin_fit.png"), dpi=100)
    plt.close(fig)
    return {
        "train_mse": float(np.mean((fit_train - y) ** 2)),
        "grid_mse": float(np.mean((fit_grid - np.sin(grid)) ** 2)),
        "steps": reps * (100 if steps >= 100 else 1),
    }


# ---------------------------------------------------------------------- init
def run_init(env, flags_obj, images, depth, seeds):
    x_train, y_train = images
    x = x_train[:512].reshape(512, -1)
    y = y_train[:512]
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    inits = {
        "fan_in_uniform": lambda: kdl.initializers.FanInUniform(),
        "glorot_uniform": lambda: keras.initializers.GlorotUniform(),
    }
    norms = {}
    for name, make in inits.items():
        per_seed = []
        for seed in range(seeds):
            keras.utils.set_random_seed(flags_obj.seed * 1000 + seed)
            model = kdl.models.build_mlp(
                x.shape[1:],
                [256] * depth,
                10,
                activation="sigmoid",
                kernel_initializer=make(),
            )
            per_seed.append(
                [
                    n
                    for _, n in training.kernel_gradient_norms(
                        model, x, y, loss_fn
                    )
                ]
            )
        norms[name] = np.mean(per_seed, axis=0)
    training.plot_curves(
        {k: v for k, v in norms.items()},
        env.path("init_gradient_norms.png"),
        xlabel="layer (1 = input side)",
        ylabel="|dL/dW| at init",
        title=f"Deep sigmoid MLP ({depth} x 256) at initialisation",
        logy=True,
    )
    return {
        name: {
            "gradient_norm_per_layer": v,
            "first_over_last_hidden": float(v[0] / v[-2]),
        }
        for name, v in norms.items()
    }


# ----------------------------------------------------------------------- mlp
def _digits(flags_obj):
    (x_train, y_train), (x_test, y_test) = kdl.datasets.load_images("digits")
    scale = 255.0 if x_train.dtype == np.uint8 else float(x_train.max())
    x_train = (x_train.astype("float32") / scale).reshape(len(x_train), -1)
    x_test = (x_test.astype("float32") / scale).reshape(len(x_test), -1)
    return (x_train, y_train.astype("int32")), (x_test, y_test.astype("int32"))


def run_mlp(env, flags_obj, data, epochs):
    (x_train, y_train), (x_test, y_test) = data
    n_valid = len(x_train) // 10
    x_valid, y_valid = x_train[:n_valid], y_train[:n_valid]
    x_fit, y_fit = x_train[n_valid:], y_train[n_valid:]
    hypermodel = kdl.tuning.MLPHyperModel(x_fit.shape[1:], 10)
    if flags_obj.tune:
        return training.run_tuner(
            hypermodel,
            env.path("tune"),
            objective="val_accuracy",
            tuner=flags_obj.tuner,
            max_trials=flags_obj.max_trials,
            seed=flags_obj.seed,
            x=x_fit,
            y=y_fit,
            validation_data=(x_valid, y_valid),
            epochs=epochs,
            batch_size=flags_obj.batch_size,
            verbose=0,
        )
    import keras_tuner

    with env.strategy.scope():
        model = hypermodel.build(keras_tuner.HyperParameters())
    start = time.time()
    history = model.fit(
        x_fit,
        y_fit,
        validation_data=(x_valid, y_valid),
        epochs=epochs,
        batch_size=flags_obj.batch_size,
        callbacks=training.standard_callbacks(env.path("train_mlp")),
        verbose=2,
    )
    seconds = time.time() - start
    training.plot_history(
        history, env.path("mlp_curves.png"), metrics=("loss", "accuracy")
    )
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    return {
        "test_accuracy": float(test_acc),
        "test_loss": float(test_loss),
        "epochs_run_this_time": len(history.history["loss"]),
        "fit_seconds": seconds,
    }


def run(flags_obj, datasets_override=None, strategy_override=None):
    """Runs the selected parts; returns (and writes) the results dict."""
    env = training.setup(flags_obj, strategy_override)
    smoke = env.smoke
    parts = list(flags_obj.parts)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(
            f"Unknown parts {unknown}. Expected a subset of {list(PARTS)}. "
            f"Received: parts={parts}"
        )
    data = datasets_override or (
        _digits(flags_obj) if {"init", "mlp"} & set(parts) else None
    )
    results = {"smoke": smoke}
    timings = {}

    def timed(name, fn, *args):
        start = time.time()
        results[name] = fn(*args)
        timings[name] = round(time.time() - start, 2)

    if "perceptron" in parts:
        epochs = 3 if smoke else flags_obj.perceptron_epochs
        timed("perceptron", run_perceptron, env, flags_obj, epochs)
    if "xor" in parts:
        seeds, steps = (2, 100) if smoke else (flags_obj.xor_seeds, 1500)
        timed("xor", run_xor, env, flags_obj, seeds, steps)
    if "sin" in parts:
        timed("sin", run_sin, env, flags_obj, 50 if smoke else 10000)
    if "init" in parts:
        depth = 3 if smoke else flags_obj.init_depth
        timed(
            "init", run_init, env, flags_obj, data[0], depth, 1 if smoke else 5
        )
    if "mlp" in parts:
        epochs = 2 if smoke else flags_obj.epochs
        key = "mlp_tuning" if flags_obj.tune else "mlp"
        timed(key, run_mlp, env, flags_obj, data, epochs)
    results["seconds_per_part"] = timings
    training.write_results(env.output_dir, results)
    return results


def _scalars(tree, prefix=""):
    """Yields (path, value) for the non-list leaves of a results dict."""
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _scalars(value, f"{prefix}{key}.")
        elif not isinstance(value, (list, tuple, np.ndarray)):
            yield f"{prefix}{key}", value


def main(_):
    results = run(FLAGS)
    for path, value in _scalars(results):
        print(f"{path}: {value}")
    print(f"results and plots in {FLAGS.output_dir}")


if __name__ == "__main__":
    define_flags()
    app.run(main)
