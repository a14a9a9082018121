"""Recurrent language models: embedding -> SRN | LSTM | SCRN -> softmax."""

import math

import keras
import numpy as np
from keras import ops

from kdl import _validation
from kdl.layers.adaptive_softmax import AdaptiveSoftmax
from kdl.layers.scrn import SCRN
from kdl.models import custom_steps
from kdl.models.adaptive_softmax_steps import AdaptiveSoftmaxSteps
from kdl.models.reset_states_callback import ResetStatesCallback

RNN_TYPES = ("srn", "lstm", "scrn")
SOFTMAX_TYPES = ("full", "adaptive")


def _generation_step(twin):
    """`step(ids, states=None) -> (logits, states)` of a built LM twin.

    On JAX the call is compiled once per input length (`jax.jit` of the
    twin's current weights, `custom_steps.jax_jit`): an eager JAX call
    dispatches every op on its own, which made generating 50 tokens take
    seconds. Other backends call the twin eagerly.
    """

    def run(ids, states=None):
        return twin(ids, initial_state=states, return_state=True)

    if keras.backend.backend() != "jax":
        return run
    with_states = custom_steps.jax_jit(twin, run)
    prime = custom_steps.jax_jit(twin, lambda ids: run(ids))

    def step(ids, states=None):
        return prime(ids) if states is None else with_states(ids, states)

    return step


@keras.saving.register_keras_serializable(package="kdl")
class RNNLanguageModel(AdaptiveSoftmaxSteps, keras.Model):
    """A word- or character-level recurrent language model.

    `ids -> Embedding -> RNN -> Dense(vocab_size)` logits (float32, also
    under mixed precision), or with `softmax="adaptive"` an
    `kdl.layers.AdaptiveSoftmax` output. The RNN is one of:

    - `"srn"`: Keras `SimpleRNN(units, activation="sigmoid")` (Elman);
    - `"lstm"`: Keras `LSTM(units)`;
    - `"scrn"`: `kdl.layers.SCRN(units, context_units, alpha)`; the softmax
      layer sees `[h_t, s_t]`, i.e. `y_t = softmax(U h_t + V s_t)`.

    For truncated BPTT over `kdl.datasets.tbptt_dataset`, build it with
    `stateful=True` and the fixed `batch_size`: the RNN states are carried
    from batch to batch; add `ResetStatesCallback()` to `fit` so they are
    zeroed at the start of every epoch and of every evaluation. Train with
    `SparseCategoricalCrossentropy(from_logits=True)`; the perplexity is
    `exp(loss)` (see `perplexity`).

    `softmax="adaptive"` (Grave et al. 2017) replaces the `Dense` softmax
    by `kdl.layers.AdaptiveSoftmax(vocab_size, cutoffs, div_value,
    head_bias=True)`; token ids must be sorted by decreasing frequency, as
    `kdl.datasets.load_text` makes them. Then:

    - `fit` trains on the adaptive loss `-log p(target)` computed without
      the full softmax (its own `train_step`, on TensorFlow and JAX);
      the compiled `loss` and `metrics` are not used (the reported `loss`
      is the mean token cross-entropy, as with the full softmax);
    - the model's output (`model(ids)`, `predict`) is the exact float32
      log-probabilities `(batch, T, vocab_size)`, a normalised distribution
      (valid logits too: `softmax` of them gives the probabilities back);
    - `evaluate` (hence `evaluate_perplexity`) and `generate` use these
      exact log-probabilities.

    XLA (`jit_compile=True`) pads the adaptive softmax's per-cluster
    gathers to the batch and loses its speed-up; Keras's `"auto"` does not
    use XLA on CPU.

    Args:
        vocab_size: positive int, the number of token ids.
        rnn: one of `"srn"`, `"lstm"`, `"scrn"`.
        units: hidden units of the RNN.
        context_units: SCRN context units (ignored otherwise).
        alpha: SCRN context decay.
        learn_alpha: SCRN learns one alpha per context unit.
        embedding_dim: input embedding size (default: `units`).
        stateful: carry the RNN states across batches (on JAX the model
            is then built at construction).
        batch_size: the fixed batch size (required when `stateful`); under
            a `tf.distribute` strategy, the per-replica batch size (each
            replica carries the states of its own rows).
        unroll: unroll the RNN loop (static sequence length needed).
        softmax: `"full"` (default, a `Dense(vocab_size)` softmax) or
            `"adaptive"` (`kdl.layers.AdaptiveSoftmax`).
        cutoffs: the adaptive softmax's cluster boundaries, e.g.
            `[2000, 10000]` (required with `softmax="adaptive"`, refused
            with `"full"`).
        div_value: the adaptive softmax's projection divisor (default 4).
        **kwargs: `keras.Model` arguments (`name`, ...).

    Call arguments:
        inputs: int `(batch, T)` token ids.

    Returns:
        float32 logits `(batch, T, vocab_size)`; with `softmax="adaptive"`
        the exact log-probabilities (normalised logits).

    Example:

    >>> lm = kdl.models.RNNLanguageModel(10000, "scrn", 100, 40)
    >>> lm.compile("adam", keras.losses.SparseCategoricalCrossentropy(True))
    >>> lm.generate([5, 17], length=20, temperature=0.8)
    >>> fast = kdl.models.RNNLanguageModel(
    ...     50000, "lstm", 512, softmax="adaptive", cutoffs=[2000, 10000])
    >>> fast.compile("adam")

    Reference:
        Mikolov, Joulin, Chopra, Mathieu, Ranzato. Learning Longer Memory in
        Recurrent Neural Networks. arXiv:1412.7753, 2014.
        Grave, Joulin, Cisse, Grangier, Jegou. Efficient softmax
        approximation for GPUs. ICML 2017 (arXiv:1609.04309).
    """

    def __init__(
        self,
        vocab_size,
        rnn="scrn",
        units=100,
        context_units=40,
        alpha=0.95,
        learn_alpha=False,
        embedding_dim=None,
        stateful=False,
        batch_size=None,
        unroll=False,
        softmax="full",
        cutoffs=None,
        div_value=4.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = _validation.positive_integer("vocab_size", vocab_size)
        self.rnn_type = _validation.one_of("rnn", rnn, RNN_TYPES)
        self.units = _validation.positive_integer("units", units)
        self.context_units = _validation.positive_integer(
            "context_units", context_units
        )
        self.alpha = _validation.number("alpha", alpha, 0, 1)
        self.learn_alpha = _validation.boolean("learn_alpha", learn_alpha)
        embedding_dim = _validation.positive_integer(
            "embedding_dim", embedding_dim, allow_none=True
        )
        self.embedding_dim = embedding_dim or self.units
        self.stateful = _validation.boolean("stateful", stateful)
        self.batch_size = _validation.positive_integer(
            "batch_size", batch_size, allow_none=True
        )
        if self.stateful and self.batch_size is None:
            raise ValueError(
                "A stateful language model needs a fixed `batch_size`. "
                f"Received: stateful={stateful}, batch_size={batch_size}"
            )
        self.unroll = _validation.boolean("unroll", unroll)
        self.embedding = keras.layers.Embedding(
            self.vocab_size, self.embedding_dim, name="embedding"
        )
        common = dict(
            return_sequences=True,
            return_state=True,
            stateful=self.stateful,
            unroll=self.unroll,
            name=rnn,
        )
        if rnn == "srn":
            self.rnn = keras.layers.SimpleRNN(
                self.units, activation="sigmoid", **common
            )
        elif rnn == "lstm":
            self.rnn = keras.layers.LSTM(self.units, **common)
        else:
            self.rnn = SCRN(
                self.units,
                self.context_units,
                alpha=self.alpha,
                learn_alpha=self.learn_alpha,
                **common,
            )
        self.softmax = _validation.one_of("softmax", softmax, SOFTMAX_TYPES)
        if self.softmax == "full":
            if cutoffs is not None:
                raise ValueError(
                    "`cutoffs` is only for softmax='adaptive'. Received: "
                    f"cutoffs={cutoffs}, softmax={softmax!r}"
                )
            self.cutoffs = None
            self.div_value = _validation.number(
                "div_value", div_value, min_value=1.0
            )
            self.head = keras.layers.Dense(self.vocab_size, name="softmax")
        else:
            if cutoffs is None:
                raise ValueError(
                    "softmax='adaptive' needs `cutoffs` (e.g. [2000, 10000])."
                    f" Received: cutoffs={cutoffs}"
                )
            self.head = AdaptiveSoftmax(
                self.vocab_size,
                cutoffs,
                div_value=div_value,
                head_bias=True,
                name="softmax",
            )
            self.cutoffs = list(self.head.cutoffs)
            self.div_value = self.head.div_value
            self.loss_tracker = keras.metrics.Mean(name="loss")
        if self.stateful and keras.backend.backend() == "jax":
            # Keras's stateful RNN creates its state variables in `build`
            # from values, which JAX's symbolic build in `fit` (a
            # stateless scope) refuses: build now, the batch is known.
            self.build((self.batch_size, None))

    def build(self, input_shape):
        batch = self.batch_size if self.stateful else input_shape[0]
        shape = (batch, input_shape[1])
        out_dim = self.units + (
            self.context_units if self.rnn_type == "scrn" else 0
        )
        # A sublayer may have been built by a first call already (the
        # adaptive train_step calls them, not the model).
        for layer, layer_shape in (
            (self.embedding, shape),
            (self.rnn, shape + (self.embedding_dim,)),
            (self.head, shape + (out_dim,)),
        ):
            if not layer.built:
                layer.build(layer_shape)
        self.built = True

    @property
    def variables(self):
        """All the model's state; on JAX with the carried RNN states.

        Keras's stateful RNN keeps its states in variables that no
        variable list tracks (keras `RNN.states`). TensorFlow assigns them
        in place; JAX's `fit` / `evaluate` carry only the model's listed
        variables from step to step, so on JAX they are listed here (and
        so in `non_trainable_variables`), not in `weights`: saving is the
        same on both backends.
        """
        variables = super().variables
        states = getattr(getattr(self, "rnn", None), "states", None)
        if (
            getattr(self, "stateful", False)
            and states is not None
            and keras.backend.backend() == "jax"
        ):
            known = {id(v) for v in variables}
            variables += [
                v for v in keras.tree.flatten(states) if id(v) not in known
            ]
        return variables

    def _features(self, inputs, initial_state=None, training=None):
        x = self.embedding(inputs)
        seq, *states = self.rnn(
            x, initial_state=initial_state, training=training
        )
        return seq, states

    def call(self, inputs, initial_state=None, return_state=False):
        seq, states = self._features(inputs, initial_state)
        # Full: logits; adaptive: the exact log-probabilities.
        logits = ops.cast(self.head(seq), "float32")
        if return_state:
            return logits, states
        return logits

    # softmax="adaptive": AdaptiveSoftmaxSteps trains on the adaptive loss
    # and evaluates the exact log-probabilities.
    @property
    def adaptive(self):
        return getattr(self, "softmax", "full") == "adaptive"

    def output_head(self):
        return self.head

    def features(self, inputs, training=None):
        return self._features(inputs, training=training)[0]

    def reset_rnn_states(self):
        """Zeroes the carried RNN states (stateful models)."""
        if self.stateful:
            self.rnn.reset_state()

    def generate(self, prime_ids, length, temperature=1.0, seed=None):
        """Samples `length` ids after `prime_ids` (a 1-D id sequence).

        Each next id is drawn from `softmax(logits / temperature)`;
        `temperature=0` takes the most likely id. Works at word and char
        level alike (decode the result with the dataset's vocabulary).
        Runs a non-stateful twin with the same weights, so the training
        states are left alone.

        Returns:
            int32 array of `len(prime_ids) + length` ids.
        """
        temperature = _validation.non_negative_number(
            "temperature", temperature
        )
        length = _validation.non_negative_integer("length", length)
        prime = np.asarray(prime_ids, dtype="int32").reshape(-1)
        if prime.size == 0:
            raise ValueError(
                "`prime_ids` must hold at least one id. "
                f"Received: prime_ids={prime_ids!r}"
            )

        step = self.__dict__.get("_generation_step")
        if step is None:
            config = self.get_config()
            config.update(stateful=False, batch_size=None, unroll=False)
            config.pop("name", None)
            twin = RNNLanguageModel(**config)
            twin.build((1, None))
            step = _generation_step(twin)
            # Not tracked: the twin's weights are copies, not the model's.
            object.__setattr__(self, "_generation_twin", twin)
            object.__setattr__(self, "_generation_step", step)
        self.__dict__["_generation_twin"].set_weights(self.get_weights())
        rng = np.random.default_rng(seed)
        out = list(prime)
        logits, states = step(prime[None])
        for _ in range(int(length)):
            z = np.asarray(logits[0, -1], dtype="float64")
            if temperature == 0:
                nxt = int(np.argmax(z))
            else:
                z = z / float(temperature)
                p = np.exp(z - z.max())
                nxt = int(rng.choice(len(p), p=p / p.sum()))
            out.append(nxt)
            logits, states = step(np.array([[nxt]], "int32"), states)
        return np.asarray(out, dtype="int32")

    def get_config(self):
        return {
            "vocab_size": self.vocab_size,
            "rnn": self.rnn_type,
            "units": self.units,
            "context_units": self.context_units,
            "alpha": self.alpha,
            "learn_alpha": self.learn_alpha,
            "embedding_dim": self.embedding_dim,
            "stateful": self.stateful,
            "batch_size": self.batch_size,
            "unroll": self.unroll,
            "softmax": self.softmax,
            "cutoffs": self.cutoffs,
            "div_value": self.div_value,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def perplexity(mean_cross_entropy):
    """`exp(mean cross-entropy per token)` (natural log), as a float."""
    value = float(mean_cross_entropy)
    return math.exp(value) if value < 700 else float("inf")


def evaluate_perplexity(model, dataset):
    """Perplexity of a compiled `model` over a tbptt `dataset`.

    The states are zeroed first, then carried across the batches of the
    stream (stateful models); `exp` of the mean token cross-entropy (the
    compiled loss, `SparseCategoricalCrossentropy(from_logits=True)`).
    Every tbptt batch has the same size, so the batch mean equals the token
    mean. Scored by `kdl.training.evaluate_model`: Keras's `evaluate`, or
    under a strategy spanning several workers (where Keras's cannot run)
    `kdl.training.evaluate_distributed`.
    """
    from kdl.training.multi_worker import evaluate_model

    scores = evaluate_model(model, dataset, callbacks=[ResetStatesCallback()])
    return perplexity(scores["loss"])
