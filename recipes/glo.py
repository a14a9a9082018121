"""python recipes/glo.py --output_dir=out/glo

Generative Latent Optimization (Bojanowski et al., ICML 2018) on
Fashion-MNIST: a DCGAN-style generator and one code per training image,
trained jointly (codes on the unit ball, only the batch rows updated). For
L2 vs Lap1 loss and PCA vs random code initialisation it reports the
reconstruction MSE on the training images (learned codes) and on held-out
test images (codes found by optimisation with the generator fixed), and
writes PNG grids of reconstructions, random samples (full-covariance
Gaussian fitted to the codes) and interpolations. The paper reports no
Fashion-MNIST numbers; its claim checked here is qualitative (Lap1 gives
sharper images than L2; PCA init helps) plus the MSE table.

Default: the first 20,000 training images, 1,000 held-out test images, 4
trainings (L2/Lap1 x PCA/random) of 10 epochs.
Measured: 21.6 and 26.1 minutes on the shared 2-core CPU (load ~19);
--smoke: about 15 s of CPU (under a minute on the loaded machine).
`--tune` searches latent size, learning rates and loss with KerasTuner
(objective: training reconstruction MSE).
"""

import time

import keras
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training
from kdl.tuning.glo import GLOHyperModel
from kdl.tuning.glo import build_glo

FLAGS = flags.FLAGS

LOSSES = ("lap1", "l2")
INITS = ("pca", "random")


def define_flags():
    training.define_common_flags(
        output_dir="out/glo", epochs=10, batch_size=128, max_trials=6
    )
    if "train_size" in FLAGS:
        return
    flags.DEFINE_integer(
        "train_size", 20000, "Training images (first N).", lower_bound=1
    )
    flags.DEFINE_integer(
        "test_size", 1000, "Held-out images to encode.", lower_bound=1
    )
    flags.DEFINE_integer("latent_dim", 32, "Code size.", lower_bound=1)
    flags.DEFINE_integer("filters", 32, "Generator width.", lower_bound=1)
    flags.DEFINE_float("learning_rate", 1e-3, "Generator Adam rate.")
    flags.DEFINE_float("code_learning_rate", 1e-2, "Code (lazy) Adam rate.")
    flags.DEFINE_enum(
        "projection", "ball", ["ball", "sphere", "none"], "Code projection."
    )
    flags.DEFINE_integer("levels", 3, "Lap1 pyramid levels.", lower_bound=0)
    flags.DEFINE_list(
        "losses",
        list(LOSSES),
        "Losses to compare: lap1, l2 (the first run gets the sample grids).",
    )
    flags.DEFINE_list(
        "inits", list(INITS), "Code inits to compare: pca, random."
    )
    flags.DEFINE_integer(
        "encode_steps", 100, "Adam steps to encode held-out images."
    )
    flags.DEFINE_float("encode_learning_rate", 0.05, "Encoding Adam rate.")


def _as_float(images):
    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = images.astype("float32") / 255.0
    images = images.astype("float32")
    return images[..., None] if images.ndim == 3 else images


def _grid(images, rows, cols):
    images = np.clip(np.asarray(images)[..., 0], 0.0, 1.0)
    h, w = images.shape[1:3]
    grid = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1), "float32")
    for k, image in enumerate(images[: rows * cols]):
        r, c = divmod(k, cols)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h,
             1 + c * (w + 1) : 1 + c * (w + 1) + w] = image  # fmt: skip
    return grid


def save_grid(path, panels, title):
    """Saves named image grids side by side as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.4))
    axes = np.atleast_1d(axes)
    for ax, (name, grid) in zip(axes, panels.items()):
        ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
        ax.set_title(name)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override)
    smoke = env.smoke
    if datasets_override is not None:
        (x_train, _), (x_test, _) = datasets_override
    else:
        (x_train, _), (x_test, _) = kdl.datasets.load_images("fashion_mnist")
    train_size = 256 if smoke else flags_obj.train_size
    test_size = 32 if smoke else flags_obj.test_size
    x_train_raw = np.asarray(x_train)[:train_size]
    x_train = _as_float(x_train_raw)
    x_test = _as_float(np.asarray(x_test)[:test_size])
    n, image_shape = len(x_train), x_train.shape[1:]
    epochs = 1 if smoke else flags_obj.epochs
    latent_dim = 8 if smoke else flags_obj.latent_dim
    filters = 8 if smoke else flags_obj.filters
    encode_steps = 5 if smoke else flags_obj.encode_steps
    losses = [name.lower() for name in flags_obj.losses]
    inits = [name.lower() for name in flags_obj.inits]
    for name in losses:
        if name not in LOSSES:
            raise ValueError(f"--losses: unknown {name!r}; use {LOSSES}")
    for name in inits:
        if name not in INITS:
            raise ValueError(f"--inits: unknown {name!r}; use {INITS}")
    indices = np.arange(n)
    configs = [(loss, init) for loss in losses for init in inits]
    if smoke:  # two runs cover both losses and both inits
        configs = list(dict.fromkeys([configs[0], configs[-1]]))

    if flags_obj.tune:
        import keras_tuner

        hypermodel = GLOHyperModel(
            num_examples=n,
            image_shape=image_shape,
            latent_dim=latent_dim,
            filters=filters,
            learning_rate=flags_obj.learning_rate,
            code_learning_rate=flags_obj.code_learning_rate,
            loss=losses[0],
            projection=flags_obj.projection,
            levels=flags_obj.levels,
        )
        return training.run_tuner(
            hypermodel,
            env.path("tune"),
            objective=keras_tuner.Objective("mse", direction="min"),
            tuner=flags_obj.tuner,
            max_trials=flags_obj.max_trials,
            seed=flags_obj.seed,
            x=indices,
            y=x_train,
            batch_size=flags_obj.batch_size,
            epochs=epochs,
            verbose=2,
        )

    pca = kdl.models.pca_codes(x_train, latent_dim) if "pca" in inits else None
    results = {
        "train_size": n,
        "test_size": len(x_test),
        "latent_dim": latent_dim,
        "epochs": epochs,
        "runs": {},
    }
    histories = {}
    first = None
    for loss_name, init in configs:
        run_name = f"{loss_name}_{init}"
        start = time.time()
        keras.utils.set_random_seed(flags_obj.seed)
        with env.strategy.scope():
            model = build_glo(
                n,
                image_shape,
                latent_dim=latent_dim,
                filters=filters,
                projection=flags_obj.projection,
                loss=loss_name,
                learning_rate=flags_obj.learning_rate,
                code_learning_rate=flags_obj.code_learning_rate,
                levels=flags_obj.levels,
            )
            if init == "pca":
                model.set_codes(pca)
        callbacks = training.standard_callbacks(env.path(f"train_{run_name}"))
        dataset = kdl.datasets.image_dataset(
            x_train_raw,
            batch_size=flags_obj.batch_size,
            shuffle=True,
            with_index=True,
            seed=flags_obj.seed,
        )
        history = model.fit(
            dataset, epochs=epochs, callbacks=callbacks, verbose=2
        )
        histories[run_name] = history.history
        recon = model.reconstruct(indices)
        train_mse = float(np.mean((recon - x_train) ** 2))
        codes = model.encode(
            x_test,
            steps=encode_steps,
            learning_rate=flags_obj.encode_learning_rate,
            seed=flags_obj.seed,
        )
        test_recon = model.decode(codes)
        test_mse = float(np.mean((test_recon - x_test) ** 2))
        results["runs"][run_name] = {
            "loss": loss_name,
            "init": init,
            "train_mse": train_mse,
            "test_mse_encoded": test_mse,
            "final_loss": float(history.history["loss"][-1]),
            "seconds": round(time.time() - start, 1),
        }
        print(
            f"{run_name}: train MSE {train_mse:.5f}, held-out MSE "
            f"(encoded) {test_mse:.5f}",
            flush=True,
        )
        save_grid(
            env.path(f"reconstructions_{run_name}.png"),
            {
                "train images": _grid(x_train[:64], 8, 8),
                "reconstructions": _grid(recon[:64], 8, 8),
                "held-out images": _grid(x_test[:64], 8, 8),
                "held-out, encoded": _grid(test_recon[:64], 8, 8),
            },
            f"GLO {run_name}: train MSE {train_mse:.4f}, "
            f"held-out {test_mse:.4f}",
        )
        if first is None:
            first = run_name
            save_grid(
                env.path("samples.png"),
                {"samples": _grid(model.sample(64, seed=0), 8, 8)},
                f"GLO {run_name}: codes ~ full-covariance Gaussian",
            )
            rows = [
                model.interpolate(2 * k, 2 * k + 1, steps=8) for k in range(8)
            ]
            save_grid(
                env.path("interpolations.png"),
                {"interpolations": _grid(np.concatenate(rows), 8, 8)},
                f"GLO {run_name}: linear paths between codes",
            )
        del model
        keras.backend.clear_session()

    results["table"] = [
        [name, r["train_mse"], r["test_mse_encoded"]]
        for name, r in results["runs"].items()
    ]
    training.write_results(env.output_dir, results)
    training.plot_curves(
        {name: h["mse"] for name, h in histories.items()},
        env.path("mse.png"),
        ylabel="training MSE",
        title="GLO on Fashion-MNIST",
    )
    return results


def main(_):
    run(FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
