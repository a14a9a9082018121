"""Property-based fuzzing of every public kdl layer (Hypothesis).

Each case draws small shapes (batch 1 and T=1 included), a magnitude
(down to 1e-4, up to 1e3), a dtype policy (float32, float64,
mixed_float16, mixed_bfloat16) and, where the layer takes one, a mask
(fully masked rows included). It asserts finite outputs, the output dtype,
that masks are respected, and agreement with the NumPy reference of the
layer's own test file (imported from there, at float32 and float64).
"""

import keras
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import kdl
from tests.fuzz import fuzzing as fz
from tests.fuzz.fuzzing import fuzzes
from tests.layers import batch_norm_contract_test
from tests.layers.adaptive_softmax_test import reference_log_probs
from tests.layers.bahdanau_attention_test import numpy_bahdanau
from tests.layers.bn_lstm_cell_test import numpy_bnlstm
from tests.layers.pooling_testing import np_windows
from tests.layers.recurrent_batch_normalization_test import numpy_per_step
from tests.layers.scrn_test import numpy_scrn
from tests.test_case import TestCase

BATCH_NORMS = {v.name: v for v in batch_norm_contract_test.VARIANTS}


class LayerFuzzTest(TestCase):
    def check_output(self, out, policy):
        fz.assert_finite(self, out)
        self.assertEqual(
            keras.backend.standardize_dtype(out.dtype),
            fz.compute_dtype(policy),
        )

    @fuzzes("AdaptiveSoftmax")
    @given(
        st.integers(3, 10),
        st.data(),
        fz.batches,
        fz.steps,
        fz.features,
        fz.scales,
        fz.policies,
        fz.seeds,
    )
    def test_adaptive_softmax(
        self, vocab, data, batch, steps, dim, scale, policy, seed
    ):
        cuts = data.draw(
            st.lists(
                st.integers(1, vocab - 1), min_size=1, max_size=2, unique=True
            )
        )
        layer = kdl.layers.AdaptiveSoftmax(
            vocab,
            sorted(cuts),
            div_value=data.draw(st.sampled_from([1.0, 2.0])),
            head_bias=data.draw(st.booleans()),
            bias_initializer="random_normal",
            dtype=policy,
        )
        hidden = fz.normal(seed, (batch, steps, dim), scale)
        log_probs = layer(hidden.astype(fz.input_dtype(policy)))
        fz.assert_finite(self, log_probs)
        self.assertEqual(log_probs.dtype, "float32")  # float32 always
        got = fz.as_numpy(log_probs)
        self.assertAllClose(np.exp(got).sum(-1), np.ones((batch, steps)), 1e-3)
        if policy in ("float32", "float64") and scale <= 30:
            ref = reference_log_probs(layer, hidden)
            self.assertAllClose(got, ref, atol=1e-3 * scale, rtol=1e-3)
        targets = np.random.RandomState(seed).randint(0, vocab, (batch, steps))
        mask = data.draw(fz.masks((batch, steps)))
        loss = fz.as_numpy(layer(hidden, targets, mask=mask))
        fz.assert_finite(self, loss)
        self.assertAllEqual(loss[~mask], np.zeros((~mask).sum()))
        picked = -np.take_along_axis(got, targets[..., None], -1)[..., 0]
        # Half-precision logits round differently on the two paths.
        atol = (
            1e-2
            if policy in ("float32", "float64")
            else fz.tolerance(policy, scale)
        )
        self.assertAllClose(loss[mask], picked[mask], atol=atol, rtol=1e-3)

    @fuzzes("BNLSTMCell")
    @given(
        fz.batches,
        fz.steps,
        fz.features,
        st.integers(1, 3),
        fz.scales,
        fz.policies,
        fz.seeds,
        st.data(),
    )
    def test_bn_lstm_cell(
        self, batch, steps, dim, units, scale, policy, seed, data
    ):
        cell = kdl.layers.BNLSTMCell(units, max_steps=4, dtype=policy)
        rnn = keras.layers.RNN(cell, return_sequences=True, dtype=policy)
        x = fz.normal(seed, (batch, steps, dim), scale)
        out = rnn(x.astype(fz.input_dtype(policy)), training=True)
        self.check_output(out, policy)
        if policy in ("float32", "float64"):
            want = numpy_bnlstm(
                x.astype("float64"),
                fz.as_numpy(cell.kernel),
                fz.as_numpy(cell.recurrent_kernel),
                fz.as_numpy(cell.bias),
                [0.1, 0.1, 0.1],
                0.0,
            )
            self.assertAllClose(out, want, atol=fz.tolerance(policy) * 10)
        # Masks (inference): a masked step repeats the previous output.
        mask = data.draw(fz.masks((batch, steps)))
        masked = fz.as_numpy(rnn(x, mask=mask))
        fz.assert_finite(self, masked)
        for t in range(1, steps):
            off = ~mask[:, t]
            self.assertAllClose(masked[off, t], masked[off, t - 1])

    @fuzzes("BahdanauAttention")
    @given(
        fz.batches,
        st.integers(1, 4),
        st.booleans(),
        st.booleans(),
        fz.scales,
        fz.policies,
        fz.seeds,
        st.data(),
    )
    def test_bahdanau_attention(
        self, batch, tv, single, normalize, scale, policy, seed, data
    ):
        layer = kdl.layers.BahdanauAttention(
            3, normalize=normalize, dtype=policy
        )
        query_shape = (batch, 2) if single else (batch, 2, 2)
        query = fz.normal(seed, query_shape, scale)
        value = fz.normal(seed + 1, (batch, tv, 3), scale)
        mask = data.draw(fz.masks((batch, tv)))
        dtype = fz.input_dtype(policy)
        context, alpha = layer(
            [query.astype(dtype), value.astype(dtype)],
            mask=[None, mask],
            return_attention_scores=True,
        )
        self.check_output(context, policy)
        fz.assert_finite(self, alpha)
        weights = fz.as_numpy(alpha)
        valid = mask.any(1)
        # Masked source positions get no weight; valid rows sum to one.
        keep = mask if single else mask[:, None, :]
        self.assertAllEqual(weights * ~keep, np.zeros_like(weights))
        sums = weights.sum(-1)[valid]
        self.assertAllClose(sums, np.ones_like(sums), atol=1e-2)
        if policy in ("float32", "float64") and scale <= 30 and valid.all():
            ref_c, ref_a = numpy_bahdanau(
                query,
                value.astype("float64"),
                [fz.as_numpy(w) for w in layer.weights],
                mask,
                normalize,
            )
            atol = fz.tolerance(policy, scale) * 10
            self.assertAllClose(weights, ref_a, atol=atol, rtol=1e-3)
            self.assertAllClose(context, ref_c, atol=atol, rtol=1e-3)

    def check_batch_norm(
        self, variant, batch, steps, scale, policy, seed, data
    ):
        shape = (batch, steps, 3) if steps else (batch, 3)
        x = fz.normal(seed, shape, scale)
        if data.draw(st.booleans()):
            x[:, ..., 1] = scale  # a constant feature: zero variance
        layer = variant.make(momentum=0.0, dtype=policy)
        out = layer(x.astype(fz.input_dtype(policy)), training=True)
        self.check_output(out, policy)
        if policy in ("float32", "float64"):
            want, _ = variant.reference(x.astype("float64"))
            self.assertAllClose(out, want, atol=1e-3, rtol=1e-3)
        inferred = layer(x.astype(fz.input_dtype(policy)), training=False)
        self.check_output(inferred, policy)
        # Masked positions take no part in the statistics: changing them
        # leaves the unmasked outputs unchanged.
        mask = data.draw(fz.masks(shape[:-1]))
        if mask.any():
            moved = np.where(mask[..., None], x, x + 7.0 * scale)
            first, second = (
                fz.as_numpy(
                    variant.make(momentum=0.0, dtype=policy)(
                        inputs, training=True, mask=mask
                    )
                )
                for inputs in (x, moved)
            )
            # (Moved masked values may overflow float16 once normalized.)
            fz.assert_finite(self, first[mask], second[mask])
            atol = fz.tolerance(policy) * 100
            self.assertAllClose(first[mask], second[mask], atol=atol)

    @fuzzes("BatchRenormalization")
    @given(
        st.integers(1, 6),
        st.integers(0, 3),
        fz.scales,
        fz.policies,
        fz.seeds,
        st.data(),
    )
    def test_batch_renormalization(
        self, batch, steps, scale, policy, seed, data
    ):
        self.check_batch_norm(
            BATCH_NORMS["renorm"], batch, steps, scale, policy, seed, data
        )

    @fuzzes("GhostBatchNormalization")
    @given(
        st.integers(1, 9),  # partial last ghost batches (of 4) included
        st.integers(0, 3),
        fz.scales,
        fz.policies,
        fz.seeds,
        st.data(),
    )
    def test_ghost_batch_normalization(
        self, batch, steps, scale, policy, seed, data
    ):
        self.check_batch_norm(
            BATCH_NORMS["ghost"], batch, steps, scale, policy, seed, data
        )

    @fuzzes("L1BatchNormalization")
    @given(
        st.integers(1, 6),
        st.integers(0, 3),
        fz.scales,
        fz.policies,
        fz.seeds,
        st.data(),
    )
    def test_l1_batch_normalization(
        self, batch, steps, scale, policy, seed, data
    ):
        self.check_batch_norm(
            BATCH_NORMS["l1"], batch, steps, scale, policy, seed, data
        )

    @fuzzes("RecurrentBatchNormalization")
    @given(
        st.integers(1, 5),
        fz.steps,
        fz.scales,
        fz.policies,
        fz.seeds,
        st.data(),
    )
    def test_recurrent_batch_normalization(
        self, batch, steps, scale, policy, seed, data
    ):
        x = fz.normal(seed, (batch, steps, 2), scale)
        layer = kdl.layers.RecurrentBatchNormalization(
            4, momentum=0.0, dtype=policy
        )
        out = layer(x.astype(fz.input_dtype(policy)), training=True)
        self.check_output(out, policy)
        if policy in ("float32", "float64"):
            want, _, _ = numpy_per_step(x)
            self.assertAllClose(out, want, atol=1e-3, rtol=1e-3)
        mask = data.draw(fz.masks((batch, steps)))
        layer = kdl.layers.RecurrentBatchNormalization(4, momentum=0.0)
        moved = np.where(mask[..., None], x, x - 5.0 * scale)
        first = fz.as_numpy(layer(x, training=True, mask=mask))
        second = fz.as_numpy(layer(moved, training=True, mask=mask))
        fz.assert_finite(self, first, second)
        self.assertAllClose(first[mask], second[mask], atol=1e-3)

    @fuzzes("FractionalMaxPooling2D")
    @given(
        st.floats(1.0, 2.0),
        st.integers(2, 7),
        st.integers(2, 7),
        st.booleans(),
        st.booleans(),
        fz.scales,
        fz.policies,
        fz.seeds,
    )
    def test_fractional_max_pooling2d(
        self, ratio, h, w, overlapping, training, scale, policy, seed
    ):
        layer = kdl.layers.FractionalMaxPooling2D(
            ratio, overlapping=overlapping, dtype=policy
        )
        x = fz.normal(seed, (1, h, w, 2), scale).astype(fz.input_dtype(policy))
        out = layer(x, training=training)
        self.check_output(out, policy)
        self.assertEqual(
            tuple(out.shape), (1, int(h // ratio), int(w // ratio), 2)
        )
        # Each output is the max of a window: one of its channel's inputs,
        # and no larger than the channel's maximum.
        got = fz.as_numpy(out)
        inputs = fz.as_numpy(keras.ops.cast(x, fz.compute_dtype(policy)))
        for c in range(2):
            self.assertTrue(np.isin(got[..., c], inputs[..., c]).all())

    @fuzzes("LatentTable")
    @given(
        st.integers(1, 12),
        st.integers(1, 4),
        st.sampled_from(["ball", "sphere", None]),
        st.lists(st.integers(0, 3), max_size=2),
        fz.policies,
        fz.seeds,
        st.data(),
    )
    def test_latent_table(
        self, rows, dim, projection, index_shape, policy, seed, data
    ):
        table = kdl.layers.LatentTable(
            rows, dim, projection=projection, dtype=policy
        )
        index_shape = tuple(index_shape)
        indices = np.random.RandomState(seed).randint(0, rows, index_shape)
        dtype = data.draw(st.sampled_from(["int32", "int64", "uint8"]))
        out = table(indices.astype(dtype))
        self.check_output(out, policy)
        self.assertEqual(tuple(out.shape), index_shape + (dim,))
        codes = table.codes
        self.assertAllClose(out, codes[indices], atol=fz.tolerance(policy))
        norms = np.linalg.norm(codes, axis=-1)
        if projection == "ball":
            self.assertTrue((norms <= 1 + 1e-5).all())
        if projection == "sphere":
            self.assertAllClose(norms, np.ones(rows), atol=1e-5)
        # Invalid: out-of-range and float indices name what was wrong.
        with self.assertRaisesRegex(ValueError, f"num_examples={rows}"):
            table(np.array([rows]))
        bad = data.draw(st.floats(0, rows, exclude_max=True))
        with self.assertRaisesRegex(ValueError, "indices.dtype=b?float"):
            table(np.array([bad]))

    @fuzzes("LowRankDense")
    @given(
        st.integers(1, 4),
        st.integers(1, 3),
        st.lists(st.integers(1, 3), min_size=1, max_size=2),
        st.sampled_from([None, "relu", "tanh"]),
        fz.scales,
        fz.policies,
        fz.seeds,
    )
    def test_low_rank_dense(
        self, units, rank, leading, activation, scale, policy, seed
    ):
        rank = min(rank, units)
        layer = kdl.layers.LowRankDense(
            units,
            rank,
            activation=activation,
            bias_initializer="random_normal",
            dtype=policy,
        )
        x = fz.normal(seed, tuple(leading) + (3,), scale)
        out = layer(x.astype(fz.input_dtype(policy)))
        self.check_output(out, policy)
        if policy in ("float32", "float64"):
            z = x @ fz.as_numpy(layer.u) @ fz.as_numpy(layer.v)
            z = z + fz.as_numpy(layer.bias)
            want = {None: z, "relu": np.maximum(z, 0), "tanh": np.tanh(z)}
            self.assertAllClose(
                out, want[activation], atol=fz.tolerance(policy, scale)
            )

    @fuzzes("LpPooling2D")
    @given(
        st.sampled_from([1.0, 2.0, 3.0, 4.5]),
        st.integers(1, 3),
        st.integers(2, 5),
        st.integers(2, 5),
        st.booleans(),
        fz.scales,
        fz.policies,
        fz.seeds,
    )
    def test_lp_pooling2d(self, p, pool, h, w, normalize, scale, policy, seed):
        pool = min(pool, h, w)
        layer = kdl.layers.LpPooling2D(
            p, pool_size=pool, normalize=normalize, dtype=policy
        )
        x = fz.normal(seed, (1, h, w, 2), scale)
        out = layer(x.astype(fz.input_dtype(policy)))
        self.check_output(out, policy)
        if policy in ("float32", "float64"):
            windows = np.abs(
                np_windows(x.astype("float64"), (pool,) * 2, (pool,) * 2)
            )
            total = (windows**p).sum(3)
            if normalize:
                total = total / pool**2
            want = (total + layer.epsilon) ** (1.0 / p)
            self.assertAllClose(out, want, atol=1e-4 * scale, rtol=1e-3)

    @fuzzes("RBM")
    @given(
        fz.batches,
        st.integers(1, 5),
        st.integers(1, 4),
        st.sampled_from(["binary", "uniform", "zeros", "ones"]),
        fz.policies,
        fz.seeds,
    )
    def test_rbm(self, batch, visible, units, kind, policy, seed):
        rng = np.random.RandomState(seed)
        v = {
            "binary": (rng.rand(batch, visible) < 0.5),
            "uniform": rng.rand(batch, visible),
            "zeros": np.zeros((batch, visible)),
            "ones": np.ones((batch, visible)),
        }[kind].astype(fz.input_dtype(policy))
        rbm = kdl.layers.RBM(units, seed=seed % 1000, dtype=policy)
        out = rbm(v)
        self.check_output(out, policy)
        logits = v @ fz.as_numpy(rbm.kernel) + fz.as_numpy(rbm.hidden_bias)
        want = 1.0 / (1.0 + np.exp(-logits))
        self.assertAllClose(out, want, atol=fz.tolerance(policy))

    def check_scrn(self, layer, batch, steps, scale, policy, seed, mask):
        x = fz.normal(seed, (batch, steps, 3), scale)
        out = layer(x.astype(fz.input_dtype(policy)), mask=mask)
        self.check_output(out, policy)
        if policy in ("float32", "float64"):
            weights = [fz.as_numpy(w) for w in layer.weights]
            h, s = numpy_scrn(
                x.astype("float64"),
                weights,
                layer.cell.alpha,
                layer.cell.context_mode,
                mask=mask,
            )
            want = np.concatenate([h, s], -1)
            self.assertAllClose(out, want, atol=fz.tolerance(policy, 1) * 10)
        # A masked step keeps both states: the output repeats (zeros before
        # the first unmasked step, so a fully masked sequence is all zeros).
        got = fz.as_numpy(out)
        for t in range(steps):
            off = ~mask[:, t]
            before = got[off, t - 1] if t else np.zeros_like(got[off, 0])
            self.assertAllClose(got[off, t], before, atol=1e-6)

    @fuzzes("SCRN")
    @given(
        fz.batches,
        fz.steps,
        st.floats(0.0, 1.0),
        st.sampled_from(["current", "previous"]),
        fz.scales,
        fz.policies,
        fz.seeds,
        st.data(),
    )
    def test_scrn(self, batch, steps, alpha, mode, scale, policy, seed, data):
        layer = kdl.layers.SCRN(
            2,
            2,
            alpha=alpha,
            context_mode=mode,
            return_sequences=True,
            dtype=policy,
        )
        mask = data.draw(fz.masks((batch, steps)))
        self.check_scrn(layer, batch, steps, scale, policy, seed, mask)
        with self.assertRaisesRegex(ValueError, "Received: inputs with shape"):
            layer(np.zeros((batch, 3), "float32"))

    @fuzzes("SCRNCell")
    @given(
        fz.batches,
        fz.steps,
        st.floats(0.0, 1.0),
        st.sampled_from(["current", "previous"]),
        fz.scales,
        fz.policies,
        fz.seeds,
        st.data(),
    )
    def test_scrn_cell(
        self, batch, steps, alpha, mode, scale, policy, seed, data
    ):
        cell = kdl.layers.SCRNCell(
            2, 1, alpha=alpha, context_mode=mode, dtype=policy
        )
        layer = keras.layers.RNN(cell, return_sequences=True, dtype=policy)
        mask = data.draw(fz.masks((batch, steps)))
        self.check_scrn(layer, batch, steps, scale, policy, seed, mask)

    @fuzzes("StochasticPooling2D")
    @given(
        st.integers(1, 3),
        st.integers(2, 5),
        st.integers(2, 5),
        st.booleans(),
        st.sampled_from(["relu", "sparse", "zeros"]),
        fz.scales,
        fz.policies,
        fz.seeds,
    )
    def test_stochastic_pooling2d(
        self, pool, h, w, training, kind, scale, policy, seed
    ):
        pool = min(pool, h, w)
        x = np.maximum(fz.normal(seed, (1, h, w, 2), scale), 0)
        if kind == "sparse":
            x[:, ::2] = 0
        if kind == "zeros":
            x[:] = 0
        layer = kdl.layers.StochasticPooling2D(
            pool, seed=seed % 1000, dtype=policy
        )
        out = layer(x.astype(fz.input_dtype(policy)), training=training)
        self.check_output(out, policy)
        windows = np_windows(x.astype("float64"), (pool,) * 2, (pool,) * 2)
        got = fz.as_numpy(out)
        if training:  # a sampled activation of the window (0 if all zero)
            hit = np.isclose(
                got[:, :, :, None, :], windows, rtol=1e-2, atol=0
            ).any(3)
            self.assertTrue(hit.all())
        elif policy in ("float32", "float64"):  # probability-weighted mean
            total = windows.sum(3)
            want = np.where(
                total > 0,
                (windows**2).sum(3) / np.where(total > 0, total, 1),
                0,
            )
            self.assertAllClose(got, want, atol=1e-5 * scale, rtol=1e-4)


# Invalid arguments: the count arguments of every layer that takes one.
COUNTS = {
    kdl.layers.AdaptiveSoftmax: ("vocab_size", dict(cutoffs=[2])),
    kdl.layers.BNLSTMCell: ("units", dict(max_steps=3)),
    kdl.layers.BahdanauAttention: ("units", {}),
    kdl.layers.GhostBatchNormalization: ("virtual_batch_size", {}),
    kdl.layers.LatentTable: ("num_examples", dict(latent_dim=2)),
    kdl.layers.LowRankDense: ("units", dict(rank=1)),
    kdl.layers.RBM: ("units", {}),
    kdl.layers.RecurrentBatchNormalization: ("max_steps", {}),
    kdl.layers.SCRN: ("context_units", dict(units=2)),
    kdl.layers.SCRNCell: ("context_units", dict(units=2)),
}

bad_counts = st.one_of(
    st.integers(max_value=0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)


class InvalidArgumentFuzzTest(TestCase):
    @given(
        st.sampled_from(sorted(COUNTS, key=lambda c: c.__name__)), bad_counts
    )
    def test_bad_counts_name_the_argument_and_the_value(self, cls, bad):
        name, others = COUNTS[cls]
        with self.assertRaisesRegex(ValueError, f"`{name}`.*Received: {name}="):
            cls(**{name: bad}, **others)
