"""Every validated constructor argument of every public class fails alike.

One table row per public class of `kdl.layers`, `kdl.losses` and
`kdl.models`: how to build it with valid arguments, and for each validated
argument the bad values it must reject. Each bad value must raise a
`ValueError` whose message names the argument and shows the value received
(`Received: units=2.5`), the form `kdl._validation` writes. A class without
a row fails `test_every_public_class_has_a_row`, so a new class cannot be
forgotten (give it an empty `bad` dict if it validates nothing).
"""

import re

import keras
from absl.testing import parameterized

import kdl
from tests.test_case import TestCase

# The bad values of each kind of argument.
POSITIVE_INT = (2.5, True, "a", 0, -1)
NON_NEGATIVE_INT = (2.5, True, "a", -1)
INT = (2.5, True, "a")
UNIT_INTERVAL = ("a", True, -0.1, 1.5)  # A float in [0, 1].
RATE = ("a", True, -0.1, 1.0)  # A float in [0, 1).
POSITIVE_FLOAT = ("a", True, 0, -1)
NON_NEGATIVE_FLOAT = ("a", True, -1)
BOOL = ("a", 1)
CHOICE = ("a", 0)
INT_PAIR = (2.5, True, "a", 0, -1, (2, 0), (2, 2, 2))

BATCH_NORM = dict(
    axis=INT,
    momentum=UNIT_INTERVAL,
    epsilon=POSITIVE_FLOAT,
    synchronized=BOOL,
    center=BOOL,
    scale=BOOL,
)
SEQ2SEQ = dict(
    source_vocab_size=POSITIVE_INT,
    target_vocab_size=POSITIVE_INT,
    embedding_dim=POSITIVE_INT,
    units=POSITIVE_INT,
    max_output_length=POSITIVE_INT,
    start_id=POSITIVE_INT + (11,),  # Must index the 11 target ids.
    end_id=POSITIVE_INT + (11,),
    cell=CHOICE,
    dropout=RATE,
)
SCRN = dict(
    units=POSITIVE_INT,
    context_units=POSITIVE_INT,
    alpha=UNIT_INTERVAL,
    context_mode=CHOICE,
    learn_alpha=BOOL,
    use_bias=BOOL,
)


def _generator():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])


def _backbone():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])


def _extractor():
    inputs = keras.Input((None, None, 3))
    style = keras.layers.Conv2D(2, 3, padding="same")(inputs)
    content = keras.layers.Conv2D(2, 3, padding="same")(style)
    return keras.Model(inputs, [style, content])


# name -> (module, valid arguments (a dict, or a function returning one),
#          {argument: bad values}, reason to skip or None).
# Arguments that hold objects (a generator, a backbone) are made by a
# function so that every case gets fresh ones.
TABLE = {
    # kdl.layers
    "AdaptiveSoftmax": (
        kdl.layers,
        dict(vocab_size=10, cutoffs=[3, 6]),
        dict(
            vocab_size=POSITIVE_INT + (1,),  # Leaves no tail.
            cutoffs=(2.5, "a", [], [0], [3, 3], [6, 3], [3, 10], [3, 2.5]),
            div_value=("a", True, 0.5),
            head_bias=BOOL,
        ),
        None,
    ),
    "BNLSTMCell": (
        kdl.layers,
        dict(units=4, max_steps=3),
        dict(
            units=POSITIVE_INT,
            max_steps=POSITIVE_INT,
            momentum=UNIT_INTERVAL,
            epsilon=POSITIVE_FLOAT,
            synchronized=BOOL,
            unit_forget_bias=BOOL,
        ),
        None,
    ),
    "BahdanauAttention": (
        kdl.layers,
        dict(units=4),
        dict(units=POSITIVE_INT, normalize=BOOL, use_bias=BOOL),
        None,
    ),
    "BatchRenormalization": (
        kdl.layers,
        dict(),
        dict(
            rmax=("a", True, 0.5),
            dmax=NON_NEGATIVE_FLOAT,
            warmup_steps=NON_NEGATIVE_INT,
            rmax_steps=NON_NEGATIVE_INT,
            dmax_steps=NON_NEGATIVE_INT,
            **BATCH_NORM,
        ),
        None,
    ),
    "FractionalMaxPooling2D": (
        kdl.layers,
        dict(),
        dict(
            pooling_ratio=("a", True, 0.5, (1.5,), (1.5, 0.5)),
            seed=POSITIVE_INT,
            pseudo_random=BOOL,
            overlapping=BOOL,
        ),
        None,
    ),
    "GhostBatchNormalization": (
        kdl.layers,
        dict(virtual_batch_size=2),
        dict(virtual_batch_size=POSITIVE_INT, **BATCH_NORM),
        None,
    ),
    "L1BatchNormalization": (kdl.layers, dict(), BATCH_NORM, None),
    "LatentTable": (
        kdl.layers,
        dict(num_examples=10, latent_dim=3),
        dict(
            num_examples=POSITIVE_INT,
            latent_dim=POSITIVE_INT,
            projection=CHOICE,
        ),
        None,
    ),
    "LowRankDense": (
        kdl.layers,
        dict(units=4, rank=2),
        dict(units=POSITIVE_INT, rank=POSITIVE_INT, use_bias=BOOL),
        None,
    ),
    "LpPooling2D": (
        kdl.layers,
        dict(),
        dict(
            p=("a", True, 0.5),
            pool_size=INT_PAIR,
            strides=INT_PAIR,
            padding=CHOICE,
            epsilon=NON_NEGATIVE_FLOAT,
            normalize=BOOL,
        ),
        None,
    ),
    "RBM": (
        kdl.layers,
        dict(units=3),
        dict(
            units=POSITIVE_INT, cd_k=POSITIVE_INT, seed=INT, sample_visible=BOOL
        ),
        None,
    ),
    "RecurrentBatchNormalization": (
        kdl.layers,
        dict(max_steps=3),
        dict(max_steps=POSITIVE_INT, **BATCH_NORM),
        None,
    ),
    "SCRN": (kdl.layers, dict(units=4, context_units=3), SCRN, None),
    "SCRNCell": (kdl.layers, dict(units=4, context_units=3), SCRN, None),
    "StochasticPooling2D": (
        kdl.layers,
        dict(),
        dict(pool_size=INT_PAIR, strides=INT_PAIR, padding=CHOICE, seed=INT),
        None,
    ),
    # kdl.losses
    "LaplacianPyramidLoss": (
        kdl.losses,
        dict(),
        dict(
            levels=NON_NEGATIVE_INT,
            kernel_size=POSITIVE_INT + (4,),  # Odd only.
            sigma=POSITIVE_FLOAT,
        ),
        None,
    ),
    "NoiseAsTargets": (
        kdl.losses,
        dict(),
        dict(epsilon=NON_NEGATIVE_FLOAT),
        None,
    ),
    "StyleLoss": (kdl.losses, dict(), dict(constant=POSITIVE_FLOAT), None),
    # kdl.models
    "CacheLM": (
        kdl.models,
        lambda: dict(model=kdl.models.KneserNeyLM(10)),
        dict(window=POSITIVE_INT, lam=UNIT_INTERVAL),
        None,
    ),
    "DCGAN": (
        kdl.models,
        lambda: dict(generator=_generator(), discriminator=_backbone()),
        dict(
            generator=("a", 3),
            discriminator=("a", 3),
            prior=CHOICE,
            seed=INT,
        ),
        None,
    ),
    "FeedForwardLM": (
        kdl.models,
        dict(vocab_size=10),
        dict(
            vocab_size=POSITIVE_INT,
            order=INT + (1,),
            embedding_dim=POSITIVE_INT,
            hidden_units=POSITIVE_INT,
            direct=BOOL,
        ),
        None,
    ),
    "KneserNeyLM": (
        kdl.models,
        dict(vocab_size=10),
        dict(
            vocab_size=POSITIVE_INT,
            order=POSITIVE_INT,
            discount=("a", True, 0, 1.5, (0.5, 1.0), (0.5, 3.0, 1.0)),
            unk_id=NON_NEGATIVE_INT + (10,),
        ),
        None,
    ),
    "GLO": (
        kdl.models,
        lambda: dict(generator=_generator(), num_examples=10, latent_dim=3),
        dict(num_examples=POSITIVE_INT, latent_dim=POSITIVE_INT),
        "validated by LatentTable (see its row)",
    ),
    "NAT": (
        kdl.models,
        lambda: dict(backbone=_backbone(), num_examples=10, feature_dim=4),
        dict(
            num_examples=POSITIVE_INT,
            feature_dim=POSITIVE_INT,
            reassign_every=NON_NEGATIVE_INT,
            seed=INT,
            projection=BOOL,
        ),
        None,
    ),
    "Perceptron": (
        kdl.models,
        dict(),
        dict(learning_rate=POSITIVE_FLOAT),
        None,
    ),
    "ProbeCurve": (
        kdl.models,
        lambda: dict(encoder=_backbone(), probe_data=(None,) * 4),
        dict(every=POSITIVE_INT, epochs=POSITIVE_INT),
        None,
    ),
    "RBMTrainer": (
        kdl.models,
        lambda: dict(rbm=kdl.layers.RBM(3)),
        dict(rbm=("a", 3)),
        None,
    ),
    "RNNLanguageModel": (
        kdl.models,
        dict(vocab_size=10),
        dict(
            vocab_size=POSITIVE_INT,
            rnn=CHOICE,
            units=POSITIVE_INT,
            context_units=POSITIVE_INT,
            alpha=UNIT_INTERVAL,
            embedding_dim=POSITIVE_INT,
            batch_size=POSITIVE_INT,
            softmax=CHOICE,
            div_value=("a", True, 0.5),
            learn_alpha=BOOL,
            stateful=BOOL,
            unroll=BOOL,
        ),
        None,
    ),
    "ResetStatesCallback": (kdl.models, dict(), dict(), None),
    "Seq2Seq": (
        kdl.models,
        dict(source_vocab_size=13, target_vocab_size=11, start_id=1, end_id=2),
        SEQ2SEQ,
        None,
    ),
    "Seq2SeqAttention": (
        kdl.models,
        dict(source_vocab_size=13, target_vocab_size=11, start_id=1, end_id=2),
        dict(attention_units=POSITIVE_INT, normalize_attention=BOOL, **SEQ2SEQ),
        None,
    ),
    "WeightChangeCallback": (
        kdl.models,
        lambda: dict(variable=keras.Variable(1.0)),
        dict(variable=("a", 3)),
        None,
    ),
    "PopulationStatistics": (
        kdl.models,
        lambda: dict(data=keras.ops.ones((8, 4)), batch_size=8),
        dict(
            batches=POSITIVE_INT,
            batch_size=POSITIVE_INT,
            shuffle=BOOL,
            when=CHOICE,
        ),
        None,
    ),
    "StyleTransfer": (
        kdl.models,
        lambda: dict(
            feature_extractor=_extractor(),
            num_style_layers=1,
            image_shape=(8, 8, 3),
        ),
        dict(
            num_style_layers=POSITIVE_INT + (2,),  # Leaves no content layer.
            image_shape=("a", 8, (8, 8), (8, 0, 3), (8.0, 8, 3)),
            style_weight=NON_NEGATIVE_FLOAT,
            content_weight=NON_NEGATIVE_FLOAT,
            tv_weight=NON_NEGATIVE_FLOAT,
            style_loss_constant=POSITIVE_FLOAT,
        ),
        None,
    ),
}


def public_classes():
    """(module, name) of every class in the public API of the modules."""
    out = []
    for module in (kdl.layers, kdl.losses, kdl.models):
        for name in module.__all__:
            if isinstance(getattr(module, name), type):
                out.append((module, name))
    return out


def _valid_arguments(name):
    valid = TABLE[name][1]
    return dict(valid() if callable(valid) else valid)


class ValidationTableTest(TestCase):
    def test_every_public_class_has_a_row(self):
        missing = sorted(
            f"{module.__name__}.{name}"
            for module, name in public_classes()
            if name not in TABLE
        )
        self.assertEqual(
            missing, [], "Add a row to TABLE in tests/validation_test.py"
        )
        public = {name for _, name in public_classes()}
        self.assertEqual(sorted(set(TABLE) - public), [], "stale rows")

    def test_valid_arguments_construct(self):
        for name, (module, _, _, _) in TABLE.items():
            with self.subTest(name):
                getattr(module, name)(**_valid_arguments(name))

    @parameterized.named_parameters((name, name) for name in sorted(TABLE))
    def test_bad_values_name_argument_and_value(self, name):
        module, _, bad, skip = TABLE[name]
        if skip:
            self.skipTest(skip)
        for argument, values in sorted(bad.items()):
            for value in values:
                with self.subTest(argument=argument, value=value):
                    kwargs = _valid_arguments(name)
                    kwargs[argument] = value
                    shown = "|".join(
                        re.escape(v) for v in {str(value), repr(value)}
                    )
                    with self.assertRaisesRegex(
                        ValueError,
                        rf"`{argument}`.*Received: .*{argument}=({shown})",
                    ):
                        getattr(module, name)(**kwargs)
