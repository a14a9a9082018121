r"""python recipes/perceptron.py --output_dir=out/perceptron

The lecture's first models, one arm each. perceptron: Rosenblatt's rule
(1957) reaches zero mistakes on linearly separable data and never settles
on non-separable data, where logistic regression (online SGD) converges.
xor: no linear unit separates XOR; the lecture's hand-set 2-2-1 ReLU net
classifies all 4 points, and 2-2-1 ReLU nets trained by Adam do in some
seeds (the rest stall in a dead-ReLU or linear solution).

A run measures the mistakes and the weight change per epoch of both rules
on 200 separable and 200 non-separable points, and the XOR accuracy of the
hand-set net and of every trained seed; it writes results.json,
perceptron_mistakes.png and weight_change.png. Finished arms are reused
while every flag is unchanged. `--epochs`: perceptron / logistic epochs
(online, batch 1). Budget: see provenance in results/perceptron.json.
"""

import functools

import keras
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training

PARTS = ("perceptron", "xor")
SMOKE = {"epochs": 3, "xor_seeds": 2, "xor_steps": 100}


def define_flags(flag_values=flags.FLAGS):
    training.define_common_flags(
        flag_values, output_dir="out/perceptron", epochs=30, tune=False
    )  # --epochs: perceptron vs logistic (online, batch 1)
    for name, default, help_text in (
        ("xor_seeds", 20, "Seeds of the trained 2-2-1 XOR net."),
        ("xor_steps", 1500, "Adam steps per trained XOR net."),
    ):
        flags.DEFINE_integer(
            name, default, help_text, lower_bound=1, flag_values=flag_values
        )
    flags.DEFINE_multi_enum(
        "parts", list(PARTS), PARTS, "Arms to run.", flag_values=flag_values
    )


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


def online_fit(model, weight, x, y, epochs):
    """Batch-1 fit: mistakes (before each step) and weight change/epoch."""
    trace = kdl.models.WeightChangeCallback(weight)
    history = model.fit(
        x, y, batch_size=1, epochs=epochs, verbose=0, callbacks=[trace]
    ).history
    mistakes = [round(len(x) * (1 - a)) for a in history["accuracy"]]
    return mistakes, trace.changes, history.get("loss")


def perceptron(env):
    """Online perceptron rule vs online logistic regression (SGD)."""
    epochs = env.settings.epochs
    keras.utils.set_random_seed(env.seed)
    rng = np.random.RandomState(env.seed)
    out = {
        "separable": two_blobs(rng, 200, separation=3.0, margin=0.3),
        "non_separable": two_blobs(rng, 200, separation=1.5),
    }
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
            mistakes, changes, loss = online_fit(model, weight, x, y, epochs)
            out[name][f"{key}_mistakes_per_epoch"] = mistakes
            out[name][f"{key}_weight_change_per_epoch"] = changes
        out[name]["logistic_loss_per_epoch"] = loss
    sep, non = out["separable"], out["non_separable"]
    training.plot_curves(
        {
            f"{key} ({name})": out[name][f"{key}_mistakes_per_epoch"]
            for name in ("separable", "non_separable")
            for key in ("perceptron", "logistic")
        },
        env.path("perceptron_mistakes.png"),
        ylabel="mistakes",
        title="Perceptron rule vs logistic regression (online, 200 points)",
    )
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
    out["readme_row"] = {
        "what": f"perceptron mistakes in the last of {epochs} epochs, "
        f"separable / non-separable ({sep['examples']} points)",
        "ours": f"{sep['perceptron_mistakes_per_epoch'][-1]} / {tail[-1]} "
        f"(non-separable keeps moving: {min(tail)}-{max(tail)} in each of "
        f"the last {len(tail)} epochs; logistic regression ends at "
        f"{non['logistic_mistakes_per_epoch'][-1]}, weight change "
        f"{non['logistic_weight_change_per_epoch'][-1]:.1e})",
        "paper": "converges / never settles",
        "holds": training.claims_hold(
            [sep["perceptron_mistakes_per_epoch"][-1] == 0, min(tail) > 0]
        ),
    }
    return out


def xor(env):
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
        "readme_row": {
            "what": "XOR: hand-set 2-2-1 ReLU net accuracy; trained 2-2-1 "
            f"ReLU nets (Adam, {steps} steps) that solve it",
            "ours": f"{round(4 * accuracy(hand))}/4; {solved} of "
            f"{cfg.xor_seeds} seeds",
            "paper": "hand-set net solves XOR",
            "holds": training.claims_hold([accuracy(hand) == 1.0]),
        },
    }


ARMS = {"perceptron": perceptron, "xor": xor}


def run(flags_obj, datasets_override=None, strategy_override=None):
    """Both arms make their own data; `datasets_override` is not used."""
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    results = {
        name: env.cached(name, functools.partial(arm, env))
        for name, arm in ARMS.items()
        if name in cfg.parts
    }
    results["readme_rows"] = [r.pop("readme_row") for r in results.values()]
    more = range(cfg.xor_seeds) if "xor" in cfg.parts else ()
    seeds = sorted({cfg.seed, *(cfg.seed * 1000 + i for i in more)})
    return env.finish(results, seeds=seeds)


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
