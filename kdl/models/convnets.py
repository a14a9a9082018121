"""Small convnets for the unsupervised-feature recipes (NAT and baselines)."""

import keras

from kdl import _validation


def small_convnet(input_shape=(28, 28, 1), width=32, name="backbone"):
    """A small convnet backbone: 3 conv blocks, global average pooling.

    `Conv(w) - BN - ReLU - MaxPool - Conv(2w) - BN - ReLU - MaxPool -
    Conv(4w) - BN - ReLU - GlobalAveragePooling`, giving `4 * width`
    features. BN momentum 0.9 so that the moving statistics keep up in
    short runs. `recipes/nat.py` uses it for NAT, the autoencoder, the
    supervised and the random-init baselines, so that the probe compares
    like with like.

    Args:
        input_shape: image shape `(H, W, C)`.
        width: filters of the first conv (int >= 1).
        name: model name.

    Returns:
        A `keras.Sequential` mapping images to `(batch, 4 * width)`
        features.
    """
    width = _validation.positive_integer("width", width)
    layers = [keras.Input(shape=tuple(input_shape))]
    for i, filters in enumerate((width, 2 * width, 4 * width)):
        layers += [
            keras.layers.Conv2D(filters, 3, padding="same", use_bias=False),
            keras.layers.BatchNormalization(momentum=0.9),
            keras.layers.ReLU(),
        ]
        if i < 2:
            layers.append(keras.layers.MaxPooling2D())
    layers.append(keras.layers.GlobalAveragePooling2D())
    return keras.Sequential(layers, name=name)


def build_conv_autoencoder(
    backbone, width, input_shape=(28, 28, 1), name="autoencoder"
):
    """`backbone` as the encoder, a transposed-conv decoder back to images.

    The decoder is `Dense(H/4 * W/4 * 2w) - Reshape - ConvT(2w, stride 2) -
    ConvT(w, stride 2) - Conv(C, sigmoid)`, so images must be in [0, 1]
    and `H`, `W` divisible by 4. Train with `loss="mse"` on
    `(image, image)` pairs; the backbone's weights are shared, so it can be
    probed afterwards.

    Args:
        backbone: a model mapping `input_shape` images to feature vectors.
        width: decoder width (the backbone's `width` in `small_convnet`).
        input_shape: image shape `(H, W, C)`.
        name: model name.

    Returns:
        A functional `keras.Model` from images to reconstructed images.
    """
    width = _validation.positive_integer("width", width)
    height, image_width, channels = tuple(input_shape)
    if height % 4 or image_width % 4:
        raise ValueError(
            "`input_shape` height and width must be divisible by 4. "
            f"Received: input_shape={tuple(input_shape)}"
        )
    inputs = keras.Input(shape=tuple(input_shape))
    h = keras.layers.Dense(
        (height // 4) * (image_width // 4) * 2 * width, activation="relu"
    )(backbone(inputs))
    h = keras.layers.Reshape((height // 4, image_width // 4, 2 * width))(h)
    h = keras.layers.Conv2DTranspose(
        2 * width, 3, strides=2, padding="same", activation="relu"
    )(h)
    h = keras.layers.Conv2DTranspose(
        width, 3, strides=2, padding="same", activation="relu"
    )(h)
    outputs = keras.layers.Conv2D(
        channels, 3, padding="same", activation="sigmoid"
    )(h)
    return keras.Model(inputs, outputs, name=name)


def build_softmax_classifier(
    backbone, num_classes=10, input_shape=(28, 28, 1), name="classifier"
):
    """`backbone` followed by a `Dense(num_classes)` softmax layer.

    Train with `loss="sparse_categorical_crossentropy"`; all of the
    backbone's weights are trained too (share or copy it as needed, e.g.
    `keras.models.clone_model`).

    Returns:
        A functional `keras.Model` from images to class probabilities.
    """
    num_classes = _validation.integer("num_classes", num_classes, min_value=2)
    inputs = keras.Input(shape=tuple(input_shape))
    outputs = keras.layers.Dense(num_classes, activation="softmax")(
        backbone(inputs)
    )
    return keras.Model(inputs, outputs, name=name)
