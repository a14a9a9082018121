"""kdl.layers.AdaptiveSoftmax: the paper's factorisation in NumPy, the loss
path against the exact log-probabilities, masks, dtypes, errors."""

import keras
import numpy as np
from keras import ops

import kdl
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import gradients
from tests.test_case import jit
from tests.test_case import skip_unless_tensorflow

V, CUTOFFS = 12, [4, 8]


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def reference_log_probs(layer, hidden):
    """log p(w | h) from Grave et al. (2017), section 4, in float64:
    p(w) = p_head(w) for a shortlist word, and
    p(w) = p_head(cluster(w)) * p_cluster(w | cluster) for a tail word."""
    h = np.asarray(hidden, "float64")
    weights = {w.name: np.asarray(w, "float64") for w in layer.weights}
    head_logits = h @ weights["head_kernel"]
    if layer.head_bias:
        head_logits = head_logits + weights["head_bias"]
    p_head = _softmax(head_logits)
    short = layer.cutoffs[0]
    bounds = layer.cutoffs + [layer.vocab_size]
    p = np.zeros(h.shape[:-1] + (layer.vocab_size,))
    for w in range(layer.vocab_size):
        if w < short:
            p[..., w] = p_head[..., w]
            continue
        i = max(j for j in range(len(layer.cutoffs)) if bounds[j] <= w)
        projected = h @ weights[f"tail_{i}_projection"]
        p_cluster = _softmax(projected @ weights[f"tail_{i}_kernel"])
        p[..., w] = p_head[..., short + i] * p_cluster[..., w - bounds[i]]
    return np.log(p)


def _layer(**kwargs):
    args = dict(
        vocab_size=V,
        cutoffs=CUTOFFS,
        div_value=2.0,
        head_bias=True,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.7),
        bias_initializer=keras.initializers.RandomNormal(stddev=0.7),
    )
    args.update(kwargs)
    return kdl.layers.AdaptiveSoftmax(**args)


def _data(shape=(3, 5), dim=8, seed=0):
    rng = np.random.RandomState(seed)
    hidden = rng.normal(size=shape + (dim,)).astype("float32")
    targets = rng.randint(0, V, shape).astype("int32")
    # Every cluster boundary appears.
    targets.flat[:6] = [0, 3, 4, 7, 8, V - 1]
    return hidden, targets


class AdaptiveSoftmaxTest(TestCase):
    def test_layer_contract_log_probs(self):
        hidden, _ = _data((2, 3))
        self.run_layer_test(
            kdl.layers.AdaptiveSoftmax,
            dict(vocab_size=V, cutoffs=CUTOFFS, div_value=2.0, head_bias=True),
            input_data=hidden,
            expected_output_shape=(2, 3, V),
            expected_num_trainable_weights=6,
            expected_num_non_trainable_weights=0,
            supports_masking=True,
            # Float32 outputs under mixed precision: own test below.
            run_mixed_precision_check=False,
        )

    def test_layer_contract_loss(self):
        # The training path ([hidden, targets] -> per-token loss) through
        # the XLA fit and the 2-replica fit too.
        hidden, targets = _data((4, 3))
        self.run_layer_test(
            kdl.layers.AdaptiveSoftmax,
            dict(vocab_size=V, cutoffs=CUTOFFS),
            input_data=[hidden, targets],
            expected_output_shape=(4, 3),
            expected_num_trainable_weights=5,
            supports_masking=True,
            run_mixed_precision_check=False,
        )

    def test_weights_and_projection_sizes(self):
        layer = kdl.layers.AdaptiveSoftmax(100, [10, 30, 60])
        layer.build((None, 64))
        self.assertEqual(layer.projection_dims(64), [16, 4, 1])
        self.assertEqual(layer.cluster_bounds, [(10, 30), (30, 60), (60, 100)])
        shapes = {w.name: tuple(w.shape) for w in layer.weights}
        self.assertEqual(
            shapes,
            {
                "head_kernel": (64, 13),
                "tail_0_projection": (64, 16),
                "tail_0_kernel": (16, 20),
                "tail_1_projection": (64, 4),
                "tail_1_kernel": (4, 30),
                "tail_2_projection": (64, 1),
                "tail_2_kernel": (1, 40),
            },
        )
        # Never below one dimension.
        self.assertEqual(layer.projection_dims(8), [2, 1, 1])

    def test_log_probs_match_the_factorisation_and_sum_to_one(self):
        hidden, _ = _data()
        layer = _layer()
        got = layer.log_probs(hidden)
        self.assertEqual(tuple(got.shape), (3, 5, V))
        self.assertEqual(keras.backend.standardize_dtype(got.dtype), "float32")
        self.assertAllClose(got, reference_log_probs(layer, hidden), atol=1e-5)
        self.assertAllClose(
            np.exp(np.asarray(got, "float64")).sum(-1),
            np.ones((3, 5)),
            atol=1e-5,
        )
        # call() without targets is log_probs().
        self.assertAllClose(layer(hidden), got)

    def test_loss_is_minus_log_prob_of_the_target(self):
        hidden, targets = _data()
        layer = _layer()
        log_p = np.asarray(layer.log_probs(hidden))
        want = -np.take_along_axis(log_p, targets[..., None], -1)[..., 0]
        self.assertAllClose(layer(hidden, targets), want, atol=1e-5)
        self.assertAllClose(layer([hidden, targets]), want, atol=1e-5)
        graph = jit(lambda h, t: layer(h, t), jit_compile=False)
        self.assertAllClose(graph(hidden, targets), want, atol=1e-5)
        if backend() == "tensorflow":
            import tensorflow as tf

            # Unknown batch and time dimensions in the graph.
            spec = (
                tf.TensorSpec((None, None, 8)),
                tf.TensorSpec((None, None), "int32"),
            )
            graph = tf.function(lambda h, t: layer(h, t), input_signature=spec)
            self.assertAllClose(graph(hidden, targets), want, atol=1e-5)
        # Its mean is the cross-entropy of the exact distribution.
        self.assertAllClose(
            np.mean(layer(hidden, targets)),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
                targets, log_p
            ),
            atol=1e-5,
        )

    @skip_unless_tensorflow("dynamic row gathers; JAX masks all rows")
    def test_loss_path_never_builds_the_full_softmax(self):
        # A 1000-word vocabulary cut at [10, 100]: the training graph holds
        # no tensor with a 1000-word axis, and the tail logits only have the
        # gathered rows (an unknown number), never all 64 rows.
        import tensorflow as tf

        layer = kdl.layers.AdaptiveSoftmax(1000, [10, 100])
        layer.build((64, 16))
        fn = tf.function(lambda h, t: layer(h, t))
        graph = fn.get_concrete_function(
            tf.TensorSpec((64, 16)), tf.TensorSpec((64,), "int32")
        ).graph
        tails = 0
        for op in graph.get_operations():
            for out in op.outputs:
                if out.shape.rank is None:
                    continue
                dims = out.shape.as_list()
                self.assertNotIn(1000, dims, op.name)
                if op.type == "MatMul" and dims[-1] in (90, 900):
                    tails += 1
                    self.assertIsNone(dims[0], op.name)
        self.assertEqual(tails, 2)

    def test_masks(self):
        hidden, targets = _data()
        layer = _layer()
        full = np.asarray(layer(hidden, targets))
        mask = np.random.RandomState(3).rand(3, 5) > 0.4
        padded = np.where(mask, targets, -7).astype("int32")  # any id
        padded[0, 0], mask[0, 0] = 10**6, False
        got = layer(hidden, padded, mask=mask)
        self.assertAllClose(got, np.where(mask, full, 0.0), atol=1e-6)
        # No gradient reaches the hidden states of padded positions.
        _, (grad,) = gradients(lambda h: layer(h, padded, mask=mask), [hidden])
        grad = np.asarray(grad)
        self.assertTrue(np.all(grad[~mask] == 0))
        self.assertTrue(np.all(np.abs(grad[mask]).sum(-1) > 0))
        # A Keras mask (Embedding(mask_zero=True)) is followed, and passed on.
        ids = keras.Input((5,), dtype="int32")
        tgt = keras.Input((5,), dtype="int32")
        x = keras.layers.Embedding(V, 8, mask_zero=True)(ids)
        out = _layer()(x, tgt)
        model = keras.Model([ids, tgt], out)
        id_values = np.array([[3, 5, 0, 0, 0], [1, 2, 3, 4, 0]], "int32")
        loss = np.asarray(model([id_values, targets[:2]]))
        self.assertTrue(np.all(loss[id_values == 0] == 0))
        self.assertTrue(np.all(loss[id_values != 0] > 0))

    def test_mixed_precision(self):
        hidden, targets = _data()
        ref_layer = _layer()
        ref_log_p = np.asarray(ref_layer.log_probs(hidden))
        ref_loss = np.asarray(ref_layer(hidden, targets))
        for policy, atol in (("mixed_float16", 0.02), ("mixed_bfloat16", 0.2)):
            keras.config.set_dtype_policy(policy)
            try:
                layer = _layer()
                h = keras.ops.cast(hidden, layer.compute_dtype)
                layer.build(h.shape)
                layer.set_weights(ref_layer.get_weights())
                log_p = layer.log_probs(h)
                loss = layer(h, targets)
                for out in (log_p, loss, layer(h)):
                    self.assertEqual(
                        keras.backend.standardize_dtype(out.dtype),
                        "float32",
                        policy,
                    )
                for w in layer.weights:
                    self.assertEqual(w.dtype, "float32", policy)
                self.assertAllClose(log_p, ref_log_p, atol=atol, rtol=0)
                self.assertAllClose(loss, ref_loss, atol=atol, rtol=0)
                # The symbolic output is float32 too.
                sym = layer(
                    keras.Input((5, 8)), keras.Input((5,), dtype="int32")
                )
                self.assertEqual(sym.dtype, "float32")
            finally:
                keras.config.set_dtype_policy("float32")

    def test_gradients_finite_and_exact(self):
        hidden, targets = _data()
        layer = _layer()
        layer.build(hidden.shape)
        big = hidden * 50.0  # saturated softmaxes
        weights = layer.trainable_weights
        loss, grads = gradients(
            lambda: ops.mean(layer(big, targets)), variables=weights
        )
        self.assertTrue(np.isfinite(float(loss)))
        for g in grads:
            self.assertTrue(np.all(np.isfinite(np.asarray(g))))
        # The loss path's gradients equal those of the exact log-probs.
        _, fast = gradients(
            lambda: ops.mean(layer(hidden, targets)), variables=weights
        )

        def exact():
            log_p = layer.log_probs(hidden)
            picked = ops.take_along_axis(log_p, targets[..., None], axis=-1)
            return -ops.mean(picked)

        _, exact = gradients(exact, variables=weights)
        for a, b in zip(fast, exact):
            self.assertAllClose(a, b, atol=1e-6)

    def test_trains_a_tiny_language_model(self):
        # Bigram data: the next word is a fixed function of the current
        # one, with words in every cluster.
        rng = np.random.RandomState(0)
        ids = rng.randint(0, V, (1280, 6)).astype("int32")
        nxt = (ids * 5 + 1) % V
        x = keras.Input((6,), dtype="int32")
        t = keras.Input((6,), dtype="int32")
        hidden = keras.layers.Embedding(V, 16)(x)
        loss = kdl.layers.AdaptiveSoftmax(V, CUTOFFS)(hidden, t)
        model = keras.Model([x, t], loss)
        # The model's output is the per-token loss: its mean is the loss.
        model.compile(
            keras.optimizers.Adam(0.05),
            loss=lambda _, token_loss: keras.ops.mean(token_loss),
        )
        zeros = np.zeros((1280, 6))
        before = model.evaluate([ids, nxt], zeros, verbose=0)
        model.fit([ids, nxt], zeros, batch_size=64, epochs=2, verbose=0)
        after = model.evaluate([ids, nxt], zeros, verbose=0)
        self.assertGreater(before, 2.0)  # ~ log(12)
        self.assertLess(after, 0.2)

    def test_bad_arguments(self):
        for bad in (0, 1, 2.5, True):
            with self.assertRaisesRegex(ValueError, "vocab_size"):
                kdl.layers.AdaptiveSoftmax(bad, [1])
        for bad in ([], [0], [5, 5], [6, 3], [12], [4, 2.5], 4, "4"):
            with self.subTest(cutoffs=bad):
                with self.assertRaisesRegex(
                    ValueError,
                    r"`cutoffs` must be a non-empty strictly increasing list "
                    r"of integers in \[1, 11\]. Received: cutoffs=",
                ):
                    kdl.layers.AdaptiveSoftmax(V, bad)
        for bad in (0.5, 0, "a", True):
            with self.assertRaisesRegex(ValueError, "div_value"):
                kdl.layers.AdaptiveSoftmax(V, CUTOFFS, div_value=bad)
        with self.assertRaisesRegex(ValueError, "head_bias"):
            kdl.layers.AdaptiveSoftmax(V, CUTOFFS, head_bias=1)
        hidden, targets = _data()
        with self.assertRaisesRegex(ValueError, "targets"):
            _layer()([hidden, targets], targets)
