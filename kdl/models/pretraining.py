"""Deep belief nets and greedy layer-wise pretraining (Bengio et al. 2007).

- `pretrain_dbn`: greedy layer-wise training of a stack of RBMs, each on
  the hidden probabilities of the one below (Hinton, Osindero, Teh 2006),
  each trained by a `kdl.models.RBMTrainer` (CD-k).
- `pretrain_denoising_autoencoders`: the same with denoising
  auto-encoders (masking noise; Vincent et al. 2008), or plain
  auto-associators with `corruption=0` (Bengio et al. 2007).
- `pretrain_supervised`: greedy layer-wise *supervised* pretraining: each
  new hidden layer is trained with a temporary softmax on top of the
  frozen layers below.
- `build_deep_classifier`: the sigmoid MLP that is then fine-tuned, its
  hidden layers initialised from any of the above.

Each stage trains through `kdl.training.fit_model`: Keras's `fit`, or
`kdl.training.fit_distributed` where Keras's cannot run (a model made in
the scope of a strategy spanning several workers).
"""

import keras
import numpy as np
from keras import ops

from kdl import _validation
from kdl.layers.rbm import RBM
from kdl.models.rbm_trainer import RBMTrainer
from kdl.training.multi_worker import fit_model


class _MaskingNoise(keras.layers.Layer):
    """Sets each input to 0 with probability `rate` (training only).

    Unlike `Dropout` the kept inputs are not rescaled: Vincent et al.'s
    masking corruption.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _validation.rate("rate", rate)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        keep = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator)
        return ops.where(keep >= self.rate, inputs, ops.zeros_like(inputs))


def _features(fn, x, batch_size=1024):
    out = [
        np.asarray(ops.convert_to_numpy(fn(x[i : i + batch_size])))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(out).astype("float32")


def _callbacks(callbacks_fn, name):
    return list(callbacks_fn(name)) if callbacks_fn else []


def pretrain_dbn(
    x,
    layer_sizes,
    epochs=10,
    batch_size=32,
    cd_k=1,
    optimizer_fn=None,
    seed=0,
    callbacks_fn=None,
    verbose=0,
):
    """Greedy layer-wise training of a deep belief net (a stack of RBMs).

    RBM 1 is trained by CD-k on `x`; RBM `i + 1` on the hidden
    probabilities `p(h | .)` of RBM `i` on the whole training set.

    Args:
        x: `(N, D)` float array in [0, 1].
        layer_sizes: hidden units per layer, e.g. `[500, 500, 500]`.
        epochs: CD epochs per layer.
        batch_size: CD mini-batch size.
        cd_k: Gibbs steps.
        optimizer_fn: `() -> keras optimizer` (default
            `SGD(0.05, momentum=0.5)`).
        seed: seed of the RBMs' sampling (layer i uses `seed + i`).
        callbacks_fn: `(name) -> list of callbacks` for each layer's fit,
            name `"rbm_<i>"` (e.g. `kdl.training.standard_callbacks`).
        verbose: `fit` verbosity.

    Returns:
        `(rbms, histories)`: the trained `RBM` layers and their fit
        histories (`history.history` dicts).
    """
    sizes = _validation.integer_list("layer_sizes", layer_sizes)
    optimizer_fn = optimizer_fn or (
        lambda: keras.optimizers.SGD(0.05, momentum=0.5)
    )
    inputs = np.asarray(x, "float32")
    rbms, histories = [], []
    for i, units in enumerate(sizes):
        rbm = RBM(units, cd_k=cd_k, seed=seed + i, name=f"rbm_{i}")
        trainer = RBMTrainer(rbm)
        trainer(inputs[:1])  # built before fit (BackupAndRestore needs it)
        trainer.compile(optimizer=optimizer_fn())
        history = fit_model(
            trainer,
            inputs,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=True,
            verbose=verbose,
            callbacks=_callbacks(callbacks_fn, f"rbm_{i}"),
        )
        rbms.append(rbm)
        histories.append(history.history)
        inputs = _features(rbm.hidden_probabilities, inputs)
    return rbms, histories


def pretrain_denoising_autoencoders(
    x,
    layer_sizes,
    corruption=0.25,
    epochs=10,
    batch_size=32,
    optimizer_fn=None,
    seed=0,
    callbacks_fn=None,
    verbose=0,
):
    """Greedy layer-wise training of stacked denoising auto-encoders.

    Layer `i` is the encoder `sigmoid(W h + b)` of an auto-encoder trained
    to reconstruct its clean input (cross-entropy, sigmoid decoder) from a
    copy where a fraction `corruption` of the entries was set to 0; the
    next one is trained on its (clean) codes. `corruption=0` gives the
    plain auto-associators of Bengio et al. 2007.

    Args:
        x: `(N, D)` float array in [0, 1].
        layer_sizes: hidden units per layer.
        corruption: masking-noise rate in [0, 1).
        epochs, batch_size: per layer.
        optimizer_fn: `() -> keras optimizer` (default `Adam(1e-3)`).
        seed: noise seed.
        callbacks_fn: `(name) -> callbacks`, name `"dae_<i>"`.
        verbose: `fit` verbosity.

    Returns:
        `(weights, histories)`: a `(kernel, bias)` pair per layer.
    """
    sizes = _validation.integer_list("layer_sizes", layer_sizes)
    corruption = _validation.rate("corruption", corruption)
    optimizer_fn = optimizer_fn or (lambda: keras.optimizers.Adam(1e-3))
    inputs = np.asarray(x, "float32")
    weights, histories = [], []
    for i, units in enumerate(sizes):
        dim = inputs.shape[1]
        encoder = keras.layers.Dense(units, "sigmoid", name=f"encoder_{i}")
        model = keras.Sequential(
            [
                keras.Input((dim,)),
                _MaskingNoise(corruption, seed=seed + i),
                encoder,
                keras.layers.Dense(dim, "sigmoid", name=f"decoder_{i}"),
            ]
        )
        model.compile(optimizer=optimizer_fn(), loss="binary_crossentropy")
        history = fit_model(
            model,
            inputs,
            inputs,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=True,
            verbose=verbose,
            callbacks=_callbacks(callbacks_fn, f"dae_{i}"),
        )
        weights.append(tuple(w.copy() for w in encoder.get_weights()))
        histories.append(history.history)
        inputs = _features(encoder, inputs)
    return weights, histories


def pretrain_supervised(
    x,
    y,
    layer_sizes,
    num_classes,
    epochs=10,
    batch_size=32,
    optimizer_fn=None,
    callbacks_fn=None,
    verbose=0,
):
    """Greedy layer-wise supervised pretraining (Bengio et al. 2007, 3.3).

    Hidden layer `i` is trained together with a temporary softmax layer to
    predict `y` from the fixed outputs of layers `< i`; the softmax is then
    thrown away.

    Args:
        x: `(N, D)` inputs; y: `(N,)` integer labels.
        layer_sizes: hidden units per layer.
        num_classes: number of classes.
        epochs, batch_size: per layer.
        optimizer_fn: `() -> keras optimizer` (default `Adam(1e-3)`).
        callbacks_fn: `(name) -> callbacks`, name `"supervised_<i>"`.
        verbose: `fit` verbosity.

    Returns:
        `(weights, histories)`: a `(kernel, bias)` pair per layer.
    """
    sizes = _validation.integer_list("layer_sizes", layer_sizes)
    num_classes = _validation.positive_integer("num_classes", num_classes)
    optimizer_fn = optimizer_fn or (lambda: keras.optimizers.Adam(1e-3))
    inputs = np.asarray(x, "float32")
    weights, histories = [], []
    for i, units in enumerate(sizes):
        hidden = keras.layers.Dense(units, "sigmoid", name=f"hidden_{i}")
        model = keras.Sequential(
            [
                keras.Input((inputs.shape[1],)),
                hidden,
                keras.layers.Dense(num_classes, name="temporary_softmax"),
            ]
        )
        model.compile(
            optimizer=optimizer_fn(),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        history = fit_model(
            model,
            inputs,
            np.asarray(y),
            epochs=epochs,
            batch_size=batch_size,
            shuffle=True,
            verbose=verbose,
            callbacks=_callbacks(callbacks_fn, f"supervised_{i}"),
        )
        weights.append(tuple(w.copy() for w in hidden.get_weights()))
        histories.append(history.history)
        inputs = _features(hidden, inputs)
    return weights, histories


def build_deep_classifier(
    input_dim,
    layer_sizes,
    num_classes,
    init=None,
    activation="sigmoid",
    name="deep_classifier",
):
    """A sigmoid MLP `input -> hidden... -> logits` for fine-tuning.

    Args:
        input_dim: size of the (flat) input.
        layer_sizes: hidden units per layer (empty: logistic regression).
        num_classes: output logits.
        init: optional list, one entry per hidden layer: an `RBM` (its
            `kernel` and `hidden_bias` are copied) or a `(kernel, bias)`
            pair. `None` keeps Keras's Glorot initialisation.
        activation: hidden activation.
        name: model name.

    Returns:
        An unbuilt-optimizer `keras.Sequential` with layers `hidden_<i>` and
        `logits`.
    """
    input_dim = _validation.positive_integer("input_dim", input_dim)
    sizes = _validation.integer_list(
        "layer_sizes", layer_sizes, allow_empty=True
    )
    num_classes = _validation.positive_integer("num_classes", num_classes)
    if init is not None and len(init) != len(sizes):
        raise ValueError(
            "`init` needs one entry per hidden layer. Received: "
            f"len(init)={len(init)}, layer_sizes={sizes}"
        )
    layers = [keras.Input((input_dim,))]
    for i, units in enumerate(sizes):
        layers.append(keras.layers.Dense(units, activation, name=f"hidden_{i}"))
    layers.append(keras.layers.Dense(num_classes, name="logits"))
    model = keras.Sequential(layers, name=name)
    for i, entry in enumerate(init or []):
        if isinstance(entry, RBM):
            entry = (
                ops.convert_to_numpy(entry.kernel),
                ops.convert_to_numpy(entry.hidden_bias),
            )
        model.get_layer(f"hidden_{i}").set_weights(
            [np.asarray(w, "float32") for w in entry]
        )
    return model
