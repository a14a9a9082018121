"""Probing trained classifiers: DeepFool and activation maximisation.

- `deepfool`: the smallest (l2) perturbation that changes a classifier's
  predicted label, found by iterated linearisation (Moosavi-Dezfooli et
  al. 2016), and `robustness`, the paper's rho = mean ||r|| / ||x||.
- `activation_maximization`: gradient ascent on the input to maximise a
  unit, a class logit or a layer's activations; `class_images` draws one
  such image per class; `deep_dream` maximises the squared activations of
  chosen layers starting from an image.

These need input gradients of a Keras model and use `tf.GradientTape`
(TensorFlow backend); there is no backend-neutral `keras.ops` form of a
gradient.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from kdl import _validation


@dataclasses.dataclass
class DeepFoolResult:
    """What `deepfool` found, one entry per example.

    Attributes:
        adversarial: the perturbed inputs `x + r`.
        perturbation: `r` (including the overshoot).
        original_label: the model's label of `x`.
        adversarial_label: the model's label of `x + r`.
        iterations: linearisation steps used.
        fooled: whether the label changed.
    """

    adversarial: np.ndarray
    perturbation: np.ndarray
    original_label: np.ndarray
    adversarial_label: np.ndarray
    iterations: np.ndarray
    fooled: np.ndarray


def _logits(model, x):
    return tf.cast(model(x, training=False), tf.float32)


def deepfool(
    model,
    x,
    overshoot=0.02,
    max_iter=50,
    clip_min=None,
    clip_max=None,
    batch_size=64,
):
    """DeepFool: minimal l2 perturbations that change the predicted label.

    Multi-class DeepFool (Algorithm 2 of the paper): at the current point
    `x_i` with original label `k0`, for every other class `k` let
    `f'_k = f_k(x_i) - f_k0(x_i)` and `w'_k = grad f_k - grad f_k0`; the
    closest linearised boundary is `l = argmin_k |f'_k| / ||w'_k||`, and the
    step is `r_i = (|f'_l| + 1e-4) / ||w'_l||^2 w'_l`. The steps are summed
    until the label of `x_0 + (1 + overshoot) sum r_i` changes (or
    `max_iter`). All examples of a batch are processed together; an
    example stops moving once fooled.

    Args:
        model: a Keras classifier returning logits (or probabilities:
            the argmax is what matters, but logits are linearised better).
        x: inputs `(N, ...)`, float.
        overshoot: the paper's eta (0.02).
        max_iter: maximum linearisation steps.
        clip_min, clip_max: optional box (e.g. 0 and 1 for images): every
            iterate is projected on it and the search goes on from the
            projected point (the paper does not clip; `None` = unbounded).
        batch_size: examples per Jacobian computation.

    Returns:
        A `DeepFoolResult` of NumPy arrays.

    Example:

    ```python
    result = kdl.attacks.deepfool(lenet, x_test[:100], clip_min=0, clip_max=1)
    rho = kdl.attacks.robustness(x_test[:100], result.perturbation)
    ```

    Reference:
        Moosavi-Dezfooli, Fawzi, Frossard, "DeepFool: a simple and accurate
        method to fool deep neural networks", CVPR 2016.
    """
    overshoot = _validation.non_negative_number("overshoot", overshoot)
    max_iter = _validation.positive_integer("max_iter", max_iter)
    batch_size = _validation.positive_integer("batch_size", batch_size)
    x = np.asarray(x, dtype="float32")
    box = (
        -np.inf if clip_min is None else float(clip_min),
        np.inf if clip_max is None else float(clip_max),
    )

    @tf.function(reduce_retracing=True)
    def logits_and_jacobian(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            logits = _logits(model, inputs)
        return logits, tape.batch_jacobian(logits, inputs)

    parts = [
        _deepfool_batch(
            logits_and_jacobian,
            x[i : i + batch_size],
            overshoot,
            max_iter,
            box,
        )
        for i in range(0, len(x), batch_size)
    ]
    adversarial = np.concatenate([p[0] for p in parts])
    label0 = np.concatenate([p[1] for p in parts])
    iterations = np.concatenate([p[2] for p in parts])
    r = adversarial - x
    labels = []
    for i in range(0, len(x), batch_size):
        logits = _logits(model, adversarial[i : i + batch_size])
        labels.append(np.argmax(logits.numpy(), axis=-1))
    new_label = np.concatenate(labels)
    return DeepFoolResult(
        adversarial=adversarial,
        perturbation=r,
        original_label=label0,
        adversarial_label=new_label,
        iterations=iterations,
        fooled=new_label != label0,
    )


def _deepfool_batch(logits_and_jacobian, x0, overshoot, max_iter, box):
    x0 = tf.convert_to_tensor(x0)
    n = x0.shape[0]
    flat = int(np.prod(x0.shape[1:]))
    r_tot = tf.zeros_like(x0)
    active = tf.ones([n], tf.bool)
    iterations = np.zeros(n, "int32")
    label0 = None
    for i in range(max_iter + 1):
        # The current point, projected on the box (no-op when unbounded).
        x_adv = tf.clip_by_value(x0 + (1.0 + overshoot) * r_tot, *box)
        logits, jac = logits_and_jacobian(x_adv)
        if label0 is None:
            label0 = tf.argmax(logits, axis=-1)
        active = tf.logical_and(
            active, tf.equal(tf.argmax(logits, axis=-1), label0)
        )
        if i == max_iter or not bool(tf.reduce_any(active)):
            break
        iterations += active.numpy().astype("int32")
        num_classes = logits.shape[-1]
        jac = tf.reshape(jac, [n, num_classes, flat])
        f0 = tf.gather(logits, label0, axis=1, batch_dims=1)
        w0 = tf.gather(jac, label0, axis=1, batch_dims=1)
        f = logits - f0[:, None]
        w = jac - w0[:, None, :]
        norm = tf.norm(w, axis=-1) + 1e-8
        ratio = tf.abs(f) / norm
        own = tf.one_hot(label0, num_classes, on_value=True, off_value=False)
        ratio = tf.where(own, tf.fill(tf.shape(ratio), np.inf), ratio)
        closest = tf.argmin(ratio, axis=-1)
        f_l = tf.gather(f, closest, axis=1, batch_dims=1)
        w_l = tf.gather(w, closest, axis=1, batch_dims=1)
        n_l = tf.gather(norm, closest, axis=1, batch_dims=1)
        step = ((tf.abs(f_l) + 1e-4) / tf.square(n_l))[:, None] * w_l
        step = tf.where(active[:, None], step, tf.zeros_like(step))
        r_tot = r_tot + tf.reshape(step, tf.shape(x0))
    return x_adv.numpy(), label0.numpy(), iterations


def robustness(x, perturbation, mask=None):
    """The DeepFool robustness rho = mean_x ||r(x)||_2 / ||x||_2.

    Args:
        x: the clean inputs `(N, ...)`.
        perturbation: the perturbations `(N, ...)`.
        mask: optional boolean `(N,)`, e.g. `result.fooled` (the paper
            averages over the test set; a mask restricts the mean).
    """
    x = np.asarray(x, "float64").reshape(len(x), -1)
    r = np.asarray(perturbation, "float64").reshape(len(x), -1)
    ratio = np.linalg.norm(r, axis=1) / np.maximum(
        np.linalg.norm(x, axis=1), 1e-12
    )
    if mask is not None:
        ratio = ratio[np.asarray(mask, bool)]
    return float(ratio.mean()) if ratio.size else float("nan")


def _feature_model(model, layer_names):
    if not layer_names:
        return model
    outputs = [model.get_layer(name).output for name in layer_names]
    return keras.Model(model.inputs, outputs)


def activation_maximization(
    model,
    initial,
    layer_name=None,
    unit=None,
    steps=100,
    step_size=0.05,
    l2_decay=1e-3,
    clip_min=0.0,
    clip_max=1.0,
):
    """Gradient ascent on the input to excite a unit (or a whole layer).

    Objective: the mean over positions of channel `unit` of `layer_name`'s
    output (a class logit when `layer_name` is None and the model returns
    logits), or, with `unit=None`, the mean squared activation of the
    layer (the deep-dream objective). Each step adds
    `step_size * g / mean|g|` (normalised gradient ascent), shrinks the
    input by `(1 - l2_decay)` (the l2 prior of Simonyan et al.) and clips
    to `[clip_min, clip_max]` (`None` for no bound).

    Args:
        model: a built functional/Sequential Keras model.
        initial: starting inputs `(N, ...)` (noise for visualising a unit,
            an image for deep dream).
        layer_name: the layer to read (default: the model output).
        unit: channel index, or None for the squared-activation objective.
        steps, step_size, l2_decay: the ascent.
        clip_min, clip_max: the input box.

    Returns:
        `(images, objectives)`: the optimised inputs (NumPy) and the mean
        objective before each step and after the last (a list of floats).

    Reference:
        Erhan, Bengio, Courville, Vincent, "Visualizing Higher-Layer
        Features of a Deep Network", 2009; Simonyan, Vedaldi, Zisserman,
        "Deep Inside Convolutional Networks", ICLR workshop 2014;
        Mordvintsev, Olah, Tyka, "Inceptionism", Google AI blog, 2015.
    """
    return _ascend(
        _feature_model(model, [layer_name] if layer_name else []),
        initial,
        unit,
        steps,
        step_size,
        l2_decay,
        clip_min,
        clip_max,
    )


def class_images(
    model, num_classes, steps=100, step_size=0.02, noise=0.05, seed=0
):
    """One activation-maximisation image per class of a logits classifier.

    For each class `k`, starts from grey noise `0.5 + noise * N(0, 1)` of
    the model's input shape and ascends the class logit `k` with
    `activation_maximization` (inputs kept in [0, 1]): what the classifier
    considers the most `k`-like input (Simonyan et al.'s class model
    visualisation).

    Args:
        model: a built Keras model returning class logits, with a fully
            defined input shape.
        num_classes: the classes to draw, `0 .. num_classes - 1`.
        steps, step_size: the ascent (see `activation_maximization`).
        noise: standard deviation of the starting noise.
        seed: seed of the starting noise.

    Returns:
        A float32 array `(num_classes, *input_shape)`.
    """
    num_classes = _validation.positive_integer("num_classes", num_classes)
    shape = tuple(model.input_shape[1:])
    if any(d is None for d in shape):
        raise ValueError(
            "The model's input shape must be fully defined. "
            f"Received: input_shape={model.input_shape}"
        )
    rng = np.random.RandomState(seed)
    images = []
    for k in range(int(num_classes)):
        start = 0.5 + noise * rng.randn(1, *shape).astype("float32")
        image, _ = activation_maximization(
            model, start, unit=k, steps=steps, step_size=step_size
        )
        images.append(image[0])
    return np.stack(images).astype("float32")


def deep_dream(
    model,
    image,
    layer_names,
    steps=50,
    step_size=0.02,
    clip_min=0.0,
    clip_max=1.0,
):
    """Deep dream: amplify what `layer_names` see in `image`.

    Maximises the sum over the layers of the mean squared activation,
    starting from `image` (no l2 decay). Returns `(images, objectives)` as
    `activation_maximization` does.
    """
    if not layer_names:
        raise ValueError(
            "`layer_names` must name at least one layer. "
            f"Received: layer_names={layer_names}"
        )
    return _ascend(
        _feature_model(model, list(layer_names)),
        image,
        None,
        steps,
        step_size,
        0.0,
        clip_min,
        clip_max,
    )


def _ascend(features, initial, unit, steps, step_size, l2_decay, lo, hi):
    steps = _validation.positive_integer("steps", steps)
    unit = _validation.non_negative_integer("unit", unit, allow_none=True)
    step_size = _validation.positive_number("step_size", step_size)
    l2_decay = _validation.number(
        "l2_decay", l2_decay, 0, 1, max_inclusive=False
    )

    x = tf.Variable(np.asarray(initial, "float32"))

    def objective():
        outs = features(x, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        total = 0.0
        for out in outs:
            out = tf.cast(out, tf.float32)
            if unit is None:
                total += tf.reduce_mean(tf.square(out))
            else:
                total += tf.reduce_mean(out[..., unit])
        return total

    history = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            value = objective()
        grad = tape.gradient(value, x)
        history.append(float(value))
        grad = grad / (tf.reduce_mean(tf.abs(grad)) + 1e-8)
        new = (x + step_size * grad) * (1.0 - l2_decay)
        if lo is not None or hi is not None:
            new = tf.clip_by_value(
                new,
                -np.inf if lo is None else lo,
                np.inf if hi is None else hi,
            )
        x.assign(new)
    history.append(float(objective()))
    return x.numpy(), history
