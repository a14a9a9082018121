"""A classifier's DeepFool robustness, summarised and drawn."""

import keras
import numpy as np

from kdl import _validation
from kdl import attacks
from kdl.training.reporting import save_image_grid


def deepfool_robustness(
    model, x, path=None, shown=8, clip_min=0.0, clip_max=1.0, **deepfool_kwargs
):
    """Attacks `x` with DeepFool; the robustness rho and an image grid.

    rho = mean ||r(x)|| / ||x|| over all of `x` (Moosavi-Dezfooli et al.
    2016, Table 1: rho = 0.20 for LeNet on MNIST), also over the fooled
    examples alone. The grid shows `shown` images, their adversarial
    versions and 0.5 + 5 r, each column titled "label->adversarial label".

    Args:
        model: a Keras classifier (logits preferred, see `attacks.deepfool`).
        x: float inputs `(N, ...)` in `[clip_min, clip_max]`.
        path: where to save the image grid (None: no grid).
        shown: how many examples the grid shows (>= 1).
        clip_min, clip_max: the valid input range.
        **deepfool_kwargs: for `kdl.attacks.deepfool` (overshoot, max_iter,
            batch_size).

    Returns:
        A dict: `examples`, `fooled_fraction`, `rho_all`, `rho_fooled`,
        `mean_iterations`.

    Raises:
        NotImplementedError: on a backend other than TensorFlow.

    Example:
        >>> summary = deepfool_robustness(model, x_test[:100], "df.png")
        >>> summary["rho_all"]
    """
    shown = _validation.positive_integer("shown", shown)
    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError(
            "deepfool_robustness needs the TensorFlow backend (kdl.attacks "
            "takes input gradients with tf.GradientTape). Received: "
            f"backend={keras.backend.backend()!r}"
        )
    x = np.asarray(x, "float32")
    found = attacks.deepfool(
        model, x, clip_min=clip_min, clip_max=clip_max, **deepfool_kwargs
    )
    r = found.perturbation
    if path is not None:
        pairs = zip(found.original_label[:shown], found.adversarial_label)
        save_image_grid(
            [x[:shown], found.adversarial[:shown], 0.5 + 5 * r[:shown]],
            path,
            row_labels=["image", "adversarial", "0.5 + 5 r"],
            col_titles=[f"{a}->{b}" for a, b in pairs],
            normalize="none",
        )
    return {
        "examples": len(x),
        "fooled_fraction": float(found.fooled.mean()),
        "rho_all": attacks.robustness(x, r),
        "rho_fooled": attacks.robustness(x, r, found.fooled),
        "mean_iterations": float(found.iterations.mean()),
    }
