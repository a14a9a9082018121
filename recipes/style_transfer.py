"""python recipes/style_transfer.py --output_dir=out/style_transfer

Reproduces a small neural style transfer (Gatys, Ecker, Bethge, "Image
Style Transfer Using Convolutional Neural Networks", CVPR 2016): the
pixels of an image are optimised so that its deep features match a
content image's (one layer, squared error) and its Gram matrices match a
style image's (`kdl.losses.StyleLoss` on several layers, Gatys's
1/(4 N^2 M^2) constant), with a total-variation penalty
(`kdl.models.StyleTransfer`). The paper reports pictures, not a number;
its claim checked here is that the optimisation drives the style loss
down while the image keeps the content.

Content: scikit-learn's sample photo `china.jpg`; style: `flower.jpg`
(both ship inside scikit-learn, so this runs offline), resized to
`--image_size`. Features: the paper's ImageNet VGG-19 with
`--features=vgg19 --vgg_weights=/path/to/weights.h5` (or
`--vgg_weights=imagenet` where downloads work); the offline default
`--features=random` is a VGG-like net with fixed random weights
(`kdl.models.build_random_vgg`), so expect texture transfer, not the
paper's quality.

A run measures the style and content losses before and after
`--epochs` x `--steps_per_epoch` Adam steps on the pixels and the seconds
per epoch; it writes result.png (content | style | result), losses.png,
table.md and results.json. Default budget: 66 s wall on the 2-core CPU
(64 px, 300 steps); `--smoke`: seconds. The optimisation has one image,
so `--batch_size` and multi-replica `--strategy` values do not apply.
"""

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

import kdl
from kdl import training

SMOKE = {"image_size": 32, "epochs": 1, "steps_per_epoch": 3}


def define_flags(flag_values=flags.FLAGS):
    training.define_common_flags(
        flag_values,
        output_dir="out/style_transfer",
        epochs=10,
        batch_size=1,
        tune=False,
    )
    fv = dict(flag_values=flag_values)
    flags.DEFINE_integer(
        "image_size", 64, "Side of the square images.", lower_bound=16, **fv
    )
    flags.DEFINE_integer(
        "steps_per_epoch", 30, "Adam steps per epoch.", lower_bound=1, **fv
    )
    flags.DEFINE_float("learning_rate", 0.02, "Adam step on the pixels.", **fv)
    flags.DEFINE_float(
        "style_weight", 1e6, "Weight of the style loss.", lower_bound=0, **fv
    )
    flags.DEFINE_float(
        "content_weight",
        1.0,
        "Weight of the content loss.",
        lower_bound=0,
        **fv,
    )
    flags.DEFINE_float(
        "tv_weight", 3e-2, "Total-variation weight.", lower_bound=0, **fv
    )
    flags.DEFINE_enum(
        "features",
        "random",
        ["random", "vgg19"],
        "Feature network: random VGG-like (offline) or VGG-19.",
        **fv,
    )
    flags.DEFINE_string(
        "vgg_weights",
        "",
        "VGG-19 weights file, or 'imagenet' to download.",
        **fv,
    )
    flags.DEFINE_string(
        "content_image",
        "china.jpg",
        "scikit-learn sample image name, or an image file.",
        **fv,
    )
    flags.DEFINE_string(
        "style_image",
        "flower.jpg",
        "scikit-learn sample image name, or an image file.",
        **fv,
    )


def load_image(name, size):
    """A scikit-learn sample image (or an image file) as (1, S, S, 3) [0,1]."""
    if name.endswith(".jpg") and "/" not in name:
        from sklearn.datasets import load_sample_image

        image = load_sample_image(name)
    else:
        image = keras.utils.img_to_array(keras.utils.load_img(name))
    image = np.asarray(image, "float32")[None] / 255.0
    return tf.image.resize(image, [size, size]).numpy()


def transfer(env, content, style):
    """The one arm: optimise the image; returns losses, history, timing."""
    cfg = env.settings
    with env.strategy.scope():
        extractor, num_style = kdl.models.build_style_extractor(
            cfg.features, cfg.seed, cfg.vgg_weights
        )
        model = kdl.models.StyleTransfer(
            extractor,
            num_style,
            content.shape[1:],
            style_weight=cfg.style_weight,
            content_weight=cfg.content_weight,
            tv_weight=cfg.tv_weight,
        )
        model.set_images(content, style)
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate))
    dummy = np.zeros((1, 1), "float32")
    start = [float(v) for v in model.style_content_losses(model(dummy))]
    timer = training.EpochTimer()
    history = model.fit(
        tf.data.Dataset.from_tensors((dummy, dummy)).repeat(),
        epochs=cfg.epochs,
        steps_per_epoch=cfg.steps_per_epoch,
        shuffle=False,
        callbacks=training.standard_callbacks(env.path("train"), extra=[timer]),
        verbose=2,
    )
    result = keras.ops.convert_to_numpy(model(dummy))
    end = [float(v) for v in model.style_content_losses(result)]
    training.save_image_grid(
        [[content[0], style[0], result[0]]],
        env.path("result.png"),
        col_titles=["content", "style", "result"],
        normalize="none",
    )
    return {
        "style_loss": {"start": start[0], "end": end[0]},
        "content_loss": {"start": start[1], "end": end[1]},
        "style_layers": num_style,
        "style_loss_constant": model.style_loss.constant,
        "steps": cfg.epochs * cfg.steps_per_epoch,
        "seconds_per_epoch": timer.steady_seconds(),
        "history": history.history,
    }


def readme_rows(cfg, size, r):
    style, content = r["style_loss"], r["content_loss"]
    return [
        {
            "what": f"{size} px, {cfg.features} features, "
            f"{r['steps']} Adam steps: style loss start -> end "
            "(content loss end)",
            "ours": f"{style['start']:.3g} -> {style['end']:.2g} "
            f"({content['end']:.3g})",
            "paper": "- (the optimisation lowers the style loss)",
            "holds": training.claims_hold([style["end"] < style["start"]]),
        }
    ]


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    if env.strategy.num_replicas_in_sync > 1:
        raise ValueError(
            "Style transfer optimises one image on one device. Received: "
            f"strategy={cfg.strategy!r} with "
            f"{env.strategy.num_replicas_in_sync} replicas"
        )
    if datasets_override:
        content, style = (
            datasets_override["content"],
            datasets_override["style"],
        )
        data = {"data": [[x.shape, float(x.sum())] for x in (content, style)]}
    else:
        content = load_image(cfg.content_image, cfg.image_size)
        style = load_image(cfg.style_image, cfg.image_size)
        data = {}
    r = env.cached("transfer", lambda: transfer(env, content, style), **data)
    training.plot_history(
        r["history"],
        env.path("losses.png"),
        metrics=("loss", "style_loss", "content_loss"),
        title="style transfer",
    )
    table = training.markdown_table(
        [{"loss": k, **r[k]} for k in ("style_loss", "content_loss")],
        [("loss", "loss"), ("start", "start", ".4g"), ("end", "end", ".4g")],
    )
    training.write_text(env.path("table.md"), table + "\n")
    print(table)
    size = int(content.shape[1])
    results = {
        "features": cfg.features,
        "image_size": size,
        **{k: v for k, v in r.items() if k != "history"},
        "readme_rows": readme_rows(cfg, size, r),
    }
    return env.finish(results, seeds=[cfg.seed])


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
