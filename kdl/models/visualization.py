"""What an image classifier has learned, drawn as one image grid."""

import keras
import numpy as np

from kdl import _validation
from kdl import attacks
from kdl.training.reporting import save_image_grid


def visualize_classifier(
    model, num_classes, image, layer_names, path, steps=100, seed=0
):
    """Class-model images and a deep dream of a logits classifier.

    The grid's first row holds one activation-maximisation image per class
    (`kdl.attacks.class_images`, Simonyan et al. 2014); the second `image`
    and its deep dream on `layer_names` (`kdl.attacks.deep_dream`).

    Args:
        model: a built Keras model returning class logits, with a fully
            defined input shape; inputs in [0, 1].
        num_classes: the classes to draw, `0 .. num_classes - 1`.
        image: one input `(H, W[, C])` in [0, 1] to dream from.
        layer_names: the layers whose activations the dream amplifies.
        path: where to save the grid.
        steps: gradient-ascent steps of each image (>= 1).
        seed: seed of the class images' starting noise.

    Returns:
        The deep-dream objective at its first and last step.

    Raises:
        NotImplementedError: on a backend other than TensorFlow.

    Example:
        >>> visualize_classifier(lenet, 10, x_test[0], ["c3"], "viz.png")
        [0.12, 0.95]
    """
    steps = _validation.positive_integer("steps", steps)
    if not layer_names:
        raise ValueError(
            "`layer_names` must name at least one layer. "
            f"Received: layer_names={layer_names}"
        )
    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError(
            "visualize_classifier needs the TensorFlow backend (kdl.attacks "
            "takes input gradients with tf.GradientTape). Received: "
            f"backend={keras.backend.backend()!r}"
        )
    images = attacks.class_images(model, num_classes, steps=steps, seed=seed)
    image = np.asarray(image, "float32")
    dream, objective = attacks.deep_dream(
        model, image[None], layer_names, steps=steps
    )
    save_image_grid(
        [list(images), [image, dream[0]]],
        path,
        row_labels=["class", "deep dream"],
        col_titles=[str(k) for k in range(len(images))],
        normalize="none",
    )
    return [float(objective[0]), float(objective[-1])]
