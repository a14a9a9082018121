"""Neural style transfer (Gatys, Ecker, Bethge 2016) as a Keras model.

`StyleTransfer` keeps the image being optimised as its only trainable
weight, so `fit` is the optimisation and the usual callbacks (CSV log,
TensorBoard, resume) apply. `build_style_extractor` makes the feature
network it needs: an ImageNet VGG-19 (weights from a file or a download)
or an offline VGG-like net with fixed random weights.
"""

import keras
from keras import ops

from kdl import _validation
from kdl.losses import StyleLoss
from kdl.losses import gram_matrix

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
FEATURES = ("random", "vgg19")


def build_random_vgg(seed=0, widths=(32, 64, 128)):
    """A VGG-like net with fixed random weights (He initialisation).

    Blocks `block{b}_conv1`, `block{b}_conv2` (3x3, ReLU) and
    `block{b}_pool` (2x2 average), one per entry of `widths`. Random
    convolutional features capture texture statistics (Ustyuzhaninov,
    Brendel, Gatys, Bethge, "What does it take to generate natural
    textures?", ICLR 2017), so it serves offline where VGG weights cannot
    be downloaded.

    Args:
        seed: int, seeds every kernel initializer.
        widths: channels of each block.

    Returns:
        A `keras.Model` on `(None, None, 3)` images.
    """
    inputs = keras.Input((None, None, 3))
    x = inputs
    for b, width in enumerate(widths, start=1):
        for c in (1, 2):
            x = keras.layers.Conv2D(
                int(width),
                3,
                padding="same",
                activation="relu",
                kernel_initializer=keras.initializers.HeNormal(
                    int(seed) + 10 * b + c
                ),
                name=f"block{b}_conv{c}",
            )(x)
        x = keras.layers.AveragePooling2D(2, name=f"block{b}_pool")(x)
    return keras.Model(inputs, x, name="random_vgg")


def build_style_extractor(features="random", seed=0, vgg_weights=""):
    """The feature network of style transfer, on images in [0, 1].

    Args:
        features: "random" (`build_random_vgg(seed)`; style layers
            `RANDOM_STYLE_LAYERS`, content `RANDOM_CONTENT_LAYER`) or
            "vgg19" (Gatys's choice: `keras.applications.VGG19` with its
            ImageNet preprocessing inside the model; style layers
            `VGG_STYLE_LAYERS`, content `VGG_CONTENT_LAYER`).
        seed: the random net's seed.
        vgg_weights: for "vgg19", a weights file or "imagenet" (download).

    Returns:
        `(extractor, num_style_layers)`: a frozen `keras.Model` whose
        outputs are the style layers' feature maps followed by the content
        layer's, and the number of style layers.
    """
    features = _validation.one_of("features", features, FEATURES)
    inputs = keras.Input((None, None, 3))
    if features == "vgg19":
        if not vgg_weights:
            raise ValueError(
                "features='vgg19' needs `vgg_weights`: a weights file, or "
                "'imagenet' to download them. Received: vgg_weights=''"
            )
        x = keras.applications.vgg19.preprocess_input(inputs * 255.0)
        base = keras.applications.VGG19(
            include_top=False, weights=vgg_weights, input_tensor=x
        )
        style, content = VGG_STYLE_LAYERS, VGG_CONTENT_LAYER
    else:
        base = build_random_vgg(seed)
        style, content = RANDOM_STYLE_LAYERS, RANDOM_CONTENT_LAYER
        inputs = base.input
    outputs = [base.get_layer(name).output for name in (*style, content)]
    extractor = keras.Model(inputs, outputs, name=f"{features}_features")
    extractor.trainable = False
    return extractor, len(style)


@keras.saving.register_keras_serializable(package="kdl")
class StyleTransfer(keras.Model):
    """Gatys et al.'s neural style transfer: `fit` optimises an image.

    The image (`image`, shape `(1, *image_shape)`, values kept in [0, 1])
    is the model's only trainable weight. `set_images(content, style)`
    starts it at the content image and stores the targets: the content
    layer's feature maps of the content image and the Gram matrices of the
    style layers' feature maps of the style image (non-trainable weights,
    so a saved model keeps them). The loss minimised by `fit` is

        style_weight * mean_l StyleLoss_l + content_weight * content
        + tv_weight * total_variation,

    with `StyleLoss` the per-layer Gram loss (Gatys's `1/(4 N^2 M^2)`
    constant by default), `content = 1/2 sum (F - P)^2` on the content
    layer and the anisotropic total variation of the image. `fit` takes
    any dummy data (the inputs are ignored), e.g.
    `tf.data.Dataset.from_tensors((x, x)).repeat()` with `steps_per_epoch`;
    it reports `style_loss` and `content_loss` besides `loss`.

    Args:
        feature_extractor: a `keras.Model` on images in [0, 1] whose
            outputs are `num_style_layers` style feature maps followed by
            one content feature map (see `build_style_extractor`). It is
            frozen.
        num_style_layers: int >= 1, the style outputs of the extractor.
        image_shape: `(height, width, channels)` of the optimised image.
        style_weight, content_weight, tv_weight: floats >= 0, the loss
            weights.
        style_loss_constant: the `StyleLoss` constant (0.25: Gatys).

    Call arguments:
        inputs: ignored (Keras needs an input); any tensor.

    Returns:
        The current image, `(1, *image_shape)`, clipped to [0, 1].

    Example:

    ```python
    extractor, n = kdl.models.build_style_extractor("random")
    model = kdl.models.StyleTransfer(extractor, n, content.shape[1:])
    model.set_images(content, style)
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    data = tf.data.Dataset.from_tensors((np.zeros((1, 1)),) * 2).repeat()
    model.fit(data, epochs=10, steps_per_epoch=30)
    image = model(np.zeros((1, 1)))
    ```

    Reference:
        Gatys, Ecker, Bethge, "Image Style Transfer Using Convolutional
        Neural Networks", CVPR 2016 (arXiv:1508.06576).
    """

    def __init__(
        self,
        feature_extractor,
        num_style_layers,
        image_shape,
        style_weight=1e6,
        content_weight=1.0,
        tv_weight=3e-2,
        style_loss_constant=0.25,
        **kwargs,
    ):
        super().__init__(**kwargs)
        outputs = len(feature_extractor.outputs)
        # The last output of the extractor is the content layer.
        self.num_style_layers = _validation.integer(
            "num_style_layers", num_style_layers, 1, outputs - 1
        )
        if not isinstance(image_shape, (tuple, list)):
            raise ValueError(
                "`image_shape` must be (height, width, channels). "
                f"Received: image_shape={image_shape}"
            )
        self.image_shape = _validation.integer_tuple(
            "image_shape", image_shape, 3
        )

        self.style_weight = _validation.non_negative_number(
            "style_weight", style_weight
        )
        self.content_weight = _validation.non_negative_number(
            "content_weight", content_weight
        )
        self.tv_weight = _validation.non_negative_number("tv_weight", tv_weight)
        self.feature_extractor = feature_extractor
        self.feature_extractor.trainable = False

        self.style_loss = StyleLoss(
            constant=_validation.positive_number(
                "style_loss_constant", style_loss_constant
            )
        )

        self.style_tracker = keras.metrics.Mean(name="style_loss")
        self.content_tracker = keras.metrics.Mean(name="content_loss")

    def build(self, input_shape=None):
        shape = (1, *self.image_shape)
        self.image = self.add_weight(
            name="image",
            shape=shape,
            initializer="zeros",
            dtype="float32",
            autocast=False,
        )
        feature_shapes = self.feature_extractor.compute_output_shape(shape)
        self.style_grams = [
            self.add_weight(
                name=f"style_gram_{i}",
                shape=(1, s[-1], s[-1]),
                initializer="zeros",
                dtype="float32",
                trainable=False,
                autocast=False,
            )
            for i, s in enumerate(feature_shapes[: self.num_style_layers])
        ]
        self.content_target = self.add_weight(
            name="content_target",
            shape=feature_shapes[-1],
            initializer="zeros",
            dtype="float32",
            trainable=False,
            autocast=False,
        )
        self.built = True

    def features(self, images):
        """`(style feature maps, content feature map)` of `images`."""
        outputs = self.feature_extractor(images, training=False)
        return outputs[: self.num_style_layers], outputs[-1]

    def set_images(self, content, style):
        """Starts the image at `content`; stores the content/style targets.

        Args:
            content: `(1, *image_shape)` in [0, 1].
            style: `(1, H, W, channels)` in [0, 1] (any size).
        """
        if not self.built:
            self.build()
        content = ops.convert_to_tensor(content, "float32")
        if tuple(content.shape) != (1, *self.image_shape):
            raise ValueError(
                f"`content` must have shape {(1, *self.image_shape)}. "
                f"Received: content.shape={tuple(content.shape)}"
            )
        style_features, _ = self.features(ops.convert_to_tensor(style))
        _, content_features = self.features(content)
        self.image.assign(content)
        self.content_target.assign(ops.cast(content_features, "float32"))
        for weight, feature in zip(self.style_grams, style_features):
            weight.assign(gram_matrix(feature))

    def call(self, inputs=None, training=None):
        return ops.cast(ops.clip(self.image, 0.0, 1.0), self.compute_dtype)

    def style_content_losses(self, image):
        """`(style loss, content loss)` of `image`, unweighted, float32."""
        style_features, content_features = self.features(image)
        style = sum(
            self.style_loss(gram, feature)
            for gram, feature in zip(self.style_grams, style_features)
        ) / len(style_features)
        diff = ops.cast(content_features, "float32") - self.content_target
        return style, 0.5 * ops.sum(ops.square(diff))

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        image = ops.cast(y_pred, "float32")
        style, content = self.style_content_losses(image)
        tv = ops.sum(ops.abs(image[:, 1:] - image[:, :-1])) + ops.sum(
            ops.abs(image[:, :, 1:] - image[:, :, :-1])
        )
        self.style_tracker.update_state(style)
        self.content_tracker.update_state(content)
        return (
            self.style_weight * style
            + self.content_weight * content
            + self.tv_weight * tv
        )

    def get_config(self):
        return {
            **super().get_config(),
            "feature_extractor": keras.saving.serialize_keras_object(
                self.feature_extractor
            ),
            "num_style_layers": self.num_style_layers,
            "image_shape": list(self.image_shape),
            "style_weight": self.style_weight,
            "content_weight": self.content_weight,
            "tv_weight": self.tv_weight,
            "style_loss_constant": self.style_loss.constant,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["feature_extractor"] = keras.saving.deserialize_keras_object(
            config["feature_extractor"]
        )
        return cls(**config)
