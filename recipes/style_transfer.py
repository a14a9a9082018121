"""python recipes/style_transfer.py --output_dir=out/style_transfer

A small neural style transfer (Gatys, Ecker, Bethge, CVPR 2016): optimise
the pixels of an image so that its deep features match a content image's
(one layer, squared error) and its Gram matrices match a style image's
(`kdl.losses.StyleLoss` on several layers, Gatys's 1/(4 N^2 M^2)
constant). Content: scikit-learn's sample photo `china.jpg`; style:
`flower.jpg` (both ship inside scikit-learn, so this runs offline),
resized to `--image_size` (default 64).

Features: the paper uses an ImageNet VGG-19, whose weights must be
downloaded. `--features=vgg19 --vgg_weights=/path/to/weights.h5` uses them
(or `--vgg_weights=imagenet` where downloads work); the offline default
`--features=random` is a small VGG-like net with fixed random weights
(random convolutional features capture texture statistics: Ustyuzhaninov,
Brendel, Gatys, Bethge, "What does it take to generate natural textures?",
ICLR 2017), so expect texture transfer, not the paper's quality.

The image is the only trainable weight of a small `keras.Model` (its
`compute_loss` is the style transfer objective), so the standard
callbacks (CSV log, TensorBoard, resume) apply; it runs on one device
(the optimisation has a batch of one image). Reports the style and content
losses before and after, writes result.png (content | style | result) and
results.json. Default run: measured 66 s wall (12 s user time) on the
shared 2-core CPU; `--smoke`: seconds. There is no `--tune` search for
this recipe.
"""

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags
from keras import ops

from kdl import training
from kdl.losses.style import StyleLoss
from kdl.losses.style import gram_matrix

FLAGS = flags.FLAGS

RANDOM_STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1")
RANDOM_CONTENT_LAYER = "block3_conv1"
VGG_STYLE_LAYERS = (
    "block1_conv1",
    "block2_conv1",
    "block3_conv1",
    "block4_conv1",
    "block5_conv1",
)
VGG_CONTENT_LAYER = "block4_conv2"


def _define(define, name, *args, **kwargs):
    """Defines a flag unless another recipe (same process) already did."""
    if name not in FLAGS:
        define(name, *args, **kwargs)


def define_flags():
    training.define_common_flags(
        output_dir="out/style_transfer", epochs=10, batch_size=1
    )
    _define(
        flags.DEFINE_integer, "image_size", 64, "Side of the square images.", 16
    )
    _define(
        flags.DEFINE_integer, "steps_per_epoch", 30, "Adam steps per epoch.", 1
    )
    _define(
        flags.DEFINE_float, "learning_rate", 0.02, "Adam step on the pixels."
    )
    _define(
        flags.DEFINE_float, "style_weight", 1e6, "Weight of the style loss."
    )
    _define(
        flags.DEFINE_float, "content_weight", 1.0, "Weight of the content loss."
    )
    _define(flags.DEFINE_float, "tv_weight", 3e-2, "Total-variation weight.")
    _define(
        flags.DEFINE_enum,
        "features",
        "random",
        ["random", "vgg19"],
        "Feature network.",
    )
    _define(
        flags.DEFINE_string,
        "vgg_weights",
        "",
        "VGG-19 weights file, or 'imagenet' to download.",
    )
    _define(
        flags.DEFINE_string,
        "content_image",
        "china.jpg",
        "sklearn sample image.",
    )
    _define(
        flags.DEFINE_string,
        "style_image",
        "flower.jpg",
        "sklearn sample image.",
    )


def load_image(name, size):
    """A scikit-learn sample image (or an image file) as (1, S, S, 3) [0,1]."""
    if name.endswith(".jpg") and "/" not in name:
        from sklearn.datasets import load_sample_image

        image = load_sample_image(name)
    else:
        image = keras.utils.img_to_array(keras.utils.load_img(name))
    image = tf.image.resize(
        np.asarray(image, "float32")[None] / 255.0, [size] * 2
    )
    return image.numpy()


def random_features(seed, widths=(32, 64, 128)):
    """A VGG-like net with fixed random weights (He initialisation)."""
    inputs = keras.Input((None, None, 3))
    x = inputs
    for b, width in enumerate(widths, start=1):
        for c in (1, 2):
            x = keras.layers.Conv2D(
                width,
                3,
                padding="same",
                activation="relu",
                kernel_initializer=keras.initializers.HeNormal(
                    seed + 10 * b + c
                ),
                name=f"block{b}_conv{c}",
            )(x)
        x = keras.layers.AveragePooling2D(2, name=f"block{b}_pool")(x)
    return keras.Model(inputs, x, name="random_vgg")


def feature_extractor(kind, seed, vgg_weights=""):
    if kind == "vgg19":
        if not vgg_weights:
            raise ValueError(
                "--features=vgg19 needs --vgg_weights (a weights file, or "
                "'imagenet' to download them). Received: vgg_weights=''"
            )
        base = keras.applications.VGG19(include_top=False, weights=vgg_weights)
        style, content = VGG_STYLE_LAYERS, VGG_CONTENT_LAYER
        preprocess = keras.applications.vgg19.preprocess_input
    else:
        base = random_features(seed)
        style, content = RANDOM_STYLE_LAYERS, RANDOM_CONTENT_LAYER
        preprocess = None
    base.trainable = False
    outputs = [base.get_layer(n).output for n in (*style, content)]
    net = keras.Model(base.input, outputs, name="features")

    def extract(images):
        x = images * 255.0 if preprocess else images
        x = preprocess(x) if preprocess else x
        feats = net(x, training=False)
        return feats[:-1], feats[-1]

    return extract, len(style)


class _Canvas(keras.layers.Layer):
    """The image being optimised, as a weight (values kept in [0, 1])."""

    def __init__(self, initial, **kwargs):
        super().__init__(**kwargs)
        self.initial = np.asarray(initial, "float32")

    def build(self, input_shape=None):
        self.image = self.add_weight(
            name="image",
            shape=self.initial.shape,
            initializer=keras.initializers.Constant(self.initial),
        )
        self.built = True

    def call(self, inputs):
        return ops.clip(self.image, 0.0, 1.0)


class StyleTransfer(keras.Model):
    """`fit` optimises the canvas: style + content + total variation."""

    def __init__(self, extract, content, style, weights, **kwargs):
        super().__init__(**kwargs)
        self.extract = extract
        self.canvas = _Canvas(content, name="canvas")
        style_feats, _ = extract(style)
        _, self.content_target = extract(content)
        self.style_grams = [gram_matrix(f) for f in style_feats]
        self.style_loss_fn = StyleLoss()
        self.weights_ = weights
        self.style_tracker = keras.metrics.Mean(name="style_loss")
        self.content_tracker = keras.metrics.Mean(name="content_loss")

    def call(self, inputs):
        return self.canvas(inputs)

    def losses_of(self, image):
        style_feats, content_feat = self.extract(image)
        style = sum(
            self.style_loss_fn(g, f)
            for g, f in zip(self.style_grams, style_feats)
        ) / len(style_feats)
        content = 0.5 * ops.sum(ops.square(content_feat - self.content_target))
        return style, content

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, **kw
    ):
        style, content = self.losses_of(y_pred)
        tv = ops.sum(ops.abs(y_pred[:, 1:] - y_pred[:, :-1])) + ops.sum(
            ops.abs(y_pred[:, :, 1:] - y_pred[:, :, :-1])
        )
        self.style_tracker.update_state(style)
        self.content_tracker.update_state(content)
        w = self.weights_
        return w["style"] * style + w["content"] * content + w["tv"] * tv


def run(flags_obj, datasets_override=None, strategy_override=None):
    if flags_obj.tune:
        raise ValueError(
            "recipes/style_transfer.py has no --tune search (set the loss "
            "weights by flags). Received: tune=True"
        )
    env = training.setup(flags_obj, strategy_override)
    size, epochs, steps = (
        flags_obj.image_size,
        flags_obj.epochs,
        flags_obj.steps_per_epoch,
    )
    if env.smoke:
        size, epochs, steps = min(size, 32), 1, 3
    if datasets_override:
        content, style = (
            datasets_override["content"],
            datasets_override["style"],
        )
    else:
        content = load_image(flags_obj.content_image, size)
        style = load_image(flags_obj.style_image, size)
    extract, num_style = feature_extractor(
        flags_obj.features, flags_obj.seed, flags_obj.vgg_weights
    )
    weights = {
        "style": flags_obj.style_weight,
        "content": flags_obj.content_weight,
        "tv": flags_obj.tv_weight,
    }
    model = StyleTransfer(extract, content, style, weights)
    dummy = np.zeros((1, 1), "float32")
    model(dummy)
    style0, content0 = model.losses_of(model(dummy))
    model.compile(optimizer=keras.optimizers.Adam(flags_obj.learning_rate))
    data = tf.data.Dataset.from_tensors((dummy, dummy)).repeat()
    history = model.fit(
        data,
        epochs=epochs,
        steps_per_epoch=steps,
        callbacks=training.standard_callbacks(env.path("train")),
        verbose=2,
    )
    result = ops.convert_to_numpy(model(dummy))
    style1, content1 = model.losses_of(result)
    results = {
        "features": flags_obj.features,
        "image_size": content.shape[1],
        "style_layers": num_style,
        "steps": epochs * steps,
        "style_loss": {"start": float(style0), "end": float(style1)},
        "content_loss": {"start": float(content0), "end": float(content1)},
        "style_loss_constant": model.style_loss_fn.constant,
    }
    plt = training.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
    for ax, img, title in zip(
        axes, (content[0], style[0], result[0]), ("content", "style", "result")
    ):
        ax.imshow(np.clip(img, 0, 1))
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(env.path("result.png"), dpi=100)
    plt.close(fig)
    training.plot_history(
        history,
        env.path("losses.png"),
        metrics=("loss", "style_loss", "content_loss"),
    )
    training.write_results(env.output_dir, results)
    return results


def main(_):
    run(FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
