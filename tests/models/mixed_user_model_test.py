"""A user's own Keras model mixing kdl layers, on TensorFlow and on JAX.

SCRN reads a padded token sequence, a LatentTable row (one code per
example) is the query of BahdanauAttention over SCRN's outputs (the
padding mask flows from the embedding to the attention), and
GhostBatchNormalization normalizes the head. The model trains with
`jit_compile=True`, is saved to `.keras` and reloaded with identical
predictions: what a user of either backend does with these layers.
"""

import os

import keras
import numpy as np

import kdl
from tests.test_case import TestCase

EXAMPLES, STEPS, VOCAB, CLASSES = 16, 6, 11, 3


def _model():
    tokens = keras.Input((STEPS,), dtype="int32", name="tokens")
    index = keras.Input((), dtype="int32", name="index")
    x = keras.layers.Embedding(VOCAB, 5, mask_zero=True)(tokens)
    annotations = kdl.layers.SCRN(6, 3, return_sequences=True)(x)
    query = kdl.layers.LatentTable(EXAMPLES, 4)(index)
    context = kdl.layers.BahdanauAttention(5)([query, annotations])
    h = keras.layers.Dense(8)(keras.layers.Concatenate()([context, query]))
    h = kdl.layers.GhostBatchNormalization(virtual_batch_size=4)(h)
    logits = keras.layers.Dense(CLASSES)(keras.layers.Activation("relu")(h))
    return keras.Model([tokens, index], logits)


def _data():
    rng = np.random.RandomState(0)
    tokens = rng.randint(1, VOCAB, (EXAMPLES, STEPS)).astype("int32")
    lengths = rng.randint(2, STEPS + 1, EXAMPLES)
    tokens[np.arange(STEPS)[None, :] >= lengths[:, None]] = 0  # padding
    index = np.arange(EXAMPLES, dtype="int32")
    labels = rng.randint(0, CLASSES, EXAMPLES).astype("int32")
    return {"tokens": tokens, "index": index}, labels


class MixedUserModelTest(TestCase):
    def test_trains_with_jit_saves_and_reloads(self):
        x, y = _data()
        model = _model()
        model.compile(
            keras.optimizers.Adam(0.05),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=True,
        )
        before = [np.array(w) for w in model.get_weights()]
        history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
        losses = history.history["loss"]
        self.assertTrue(np.all(np.isfinite(losses)))
        self.assertLess(losses[-1], losses[0])
        # Every weight trained: the kdl layers' kernels and codes, and the
        # ghost batch norm's moving statistics.
        for old, new, w in zip(before, model.get_weights(), model.weights):
            self.assertFalse(np.allclose(old, new), w.path)

        # The padding mask flows from the embedding through SCRN to the
        # attention: padding moved into the middle of a sequence (the
        # masked steps keep SCRN's states and get no attention) changes no
        # prediction. One batch: the rows and their moved-padding copies.
        gapped = np.zeros_like(x["tokens"])
        for row, tokens in enumerate(x["tokens"]):
            words = tokens[tokens > 0]
            gapped[row, 0] = words[0]
            gapped[row, STEPS - len(words) + 1 :] = words[1:]
        both = {
            "tokens": np.concatenate([x["tokens"], gapped]),
            "index": np.concatenate([x["index"], x["index"]]),
        }
        self.assertFalse(np.array_equal(gapped, x["tokens"]))
        predictions = model.predict(both, verbose=0)
        self.assertAllClose(
            predictions[EXAMPLES:], predictions[:EXAMPLES], atol=1e-5
        )

        path = os.path.join(self.get_temp_dir(), "user_model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertAllClose(
            loaded.predict(both, verbose=0), predictions, atol=1e-6, rtol=0
        )
        for layer in ("scrn", "latent_table", "bahdanau_attention"):
            self.assertIsInstance(
                loaded.get_layer(layer), type(model.get_layer(layer))
            )
