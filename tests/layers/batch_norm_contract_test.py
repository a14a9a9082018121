"""The contract every kdl batch-norm variant keeps, as one suite.

Each check runs on every variant in `VARIANTS`; a variant's own test file
holds its NumPy reference (`VARIANT.reference`, `VARIANT.inference`), its
own arguments and the checks only it has.
"""

import keras
import numpy as np
from absl.testing import parameterized

from tests.layers import batch_renormalization_test
from tests.layers import ghost_batch_normalization_test
from tests.layers import l1_batch_normalization_test
from tests.layers.batch_norm_testing import TF_DISTRIBUTE
from tests.layers.batch_norm_testing import local_values
from tests.layers.batch_norm_testing import two_replica_training_call
from tests.test_case import TestCase
from tests.test_case import skip_unless_tensorflow

VARIANTS = (
    batch_renormalization_test.VARIANT,
    ghost_batch_normalization_test.VARIANT,
    l1_batch_normalization_test.VARIANT,
)


def over_variants(fn):
    return parameterized.named_parameters((v.name, v) for v in VARIANTS)(fn)


class BatchNormContractTest(TestCase):
    @over_variants
    def test_layer(self, variant):
        x = np.random.RandomState(10).normal(size=(8, 5, 3)).astype("float32")
        self.run_layer_test(
            variant.layer_cls,
            {**variant.kwargs, "momentum": 0.9},
            x,
            expected_output_shape=(8, 5, 3),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=(
                variant.num_non_trainable_weights
            ),
            supports_masking=True,
        )

    @over_variants
    def test_training_equals_reference(self, variant):
        rng = np.random.RandomState(1)
        x = rng.normal(2, 3, (8, 5, 3)).astype("float32")
        layer = variant.make(momentum=0.0)
        want, statistics = variant.reference(x)
        self.assertAllClose(layer(x, training=True), want, atol=1e-5)
        for name, value in zip(variant.statistics, statistics):
            self.assertAllClose(getattr(layer, name), value, atol=1e-5)

    @over_variants
    def test_mask_excludes_positions(self, variant):
        rng = np.random.RandomState(4)
        x = rng.normal(size=(8, 6, 3)).astype("float32")
        mask = rng.uniform(size=(8, 6)) > 0.3
        x[~mask] = 1000.0  # would dominate the statistics if counted
        layer = variant.make(momentum=0.0)
        want, statistics = variant.reference(x, mask)
        got = np.asarray(layer(x, training=True, mask=mask))
        np.testing.assert_allclose(got[mask], want[mask], atol=1e-4)
        for name, value in zip(variant.statistics, statistics):
            self.assertAllClose(getattr(layer, name), value, atol=1e-5)

    @over_variants
    def test_momentum_zero_inference_equals_training(self, variant):
        x = np.random.RandomState(3).normal(3, 2, (8, 5)).astype("float32")
        layer = variant.make(
            momentum=0.0,
            gamma_initializer="random_normal",
            **variant.whole_batch_kwargs,
        )
        # The first call sets the moving statistics to this batch's (for
        # renorm, r = 1 and d = 0 from then on).
        layer(x, training=True)
        train = layer(x, training=True)
        self.assertAllClose(layer(x, training=False), train, atol=1e-5)

    @over_variants
    def test_inference_uses_moving_statistics(self, variant):
        rng = np.random.RandomState(5)
        x = rng.normal(size=(64, 4)).astype("float32") * 3 + 1
        inputs = keras.Input((4,))
        model = keras.Model(inputs, variant.make(momentum=0.5)(inputs))
        model.compile("sgd", "mse")
        model.fit(x, x, batch_size=16, epochs=1, verbose=0)  # 4 steps
        layer = model.layers[-1]
        self.assertGreater(np.abs(np.asarray(layer.moving_mean)).max(), 0.1)
        # Per example: the batch does not matter at inference.
        batch = np.asarray(model.predict(x[:16], batch_size=16, verbose=0))
        single = np.concatenate(
            [np.asarray(model(x[i : i + 1])) for i in range(16)]
        )
        self.assertAllClose(batch, single, atol=1e-5)
        self.assertAllClose(batch, variant.inference(layer, x[:16]), atol=1e-5)

    @over_variants
    @skip_unless_tensorflow(TF_DISTRIBUTE)
    def test_synchronized_equals_single_replica(self, variant):
        rng = np.random.RandomState(7)
        x = rng.normal(size=(16, 3)).astype("float32")
        x[8:] += 4.0  # the two replicas see different data

        def make(sync):
            return lambda: variant.make(momentum=0.5, synchronized=sync)

        single = make(False)()
        want = single(x, training=True)
        layer, got = two_replica_training_call(make(True), x)
        self.assertAllClose(got, want, atol=1e-5)
        for name in variant.statistics:
            for values in local_values(getattr(layer, name)):
                self.assertAllClose(
                    values, getattr(single, name), atol=1e-5, msg=name
                )
        # Without synchronization each replica normalizes with its own
        # batch, but the moving statistics stay one value: the mean of the
        # replicas' updates (so a saved model holds what every replica has).
        local, _ = two_replica_training_call(make(False), x)
        halves = [make(False)(), make(False)()]
        halves[0](x[:8], training=True)
        halves[1](x[8:], training=True)
        for name in variant.statistics:
            copies = local_values(getattr(local, name))
            self.assertAllClose(copies[0], copies[1], atol=0, msg=name)
            want = (
                np.asarray(getattr(halves[0], name))
                + np.asarray(getattr(halves[1], name))
            ) / 2
            self.assertAllClose(copies[0], want, atol=1e-5, msg=name)

    @parameterized.named_parameters(
        (f"{v.name}_{policy}", v, policy)
        for v in VARIANTS
        for policy in ("mixed_float16", "mixed_bfloat16")
    )
    def test_float32_statistics_under_mixed_precision(self, variant, policy):
        keras.config.set_dtype_policy(policy)
        # Large values: float16 squares would overflow, bfloat16 sums drift.
        x = np.random.RandomState(8).normal(1000, 30, (16, 4))
        layer = variant.make(momentum=0.0)
        out = layer(x.astype("float32"), training=True)
        self.assertEqual(out.dtype, layer.compute_dtype)
        for w in layer.weights:
            self.assertEqual(w.dtype, "float32", w.name)
        out = np.asarray(keras.ops.cast(out, "float32"))
        self.assertTrue(np.all(np.isfinite(out)))
        rounded = np.asarray(
            keras.ops.cast(keras.ops.cast(x, layer.compute_dtype), "float32")
        )
        want, (mean, spread) = variant.reference(rounded)
        self.assertAllClose(layer.moving_mean, mean, rtol=1e-6)
        self.assertAllClose(
            getattr(layer, variant.statistics[1]), spread, rtol=1e-4
        )
        rtol = 1e-2 if policy == "mixed_bfloat16" else 0.0
        self.assertAllClose(out, want, atol=1e-2, rtol=rtol)

    @over_variants
    def test_serialization_keeps_statistics(self, variant):
        x = np.random.RandomState(9).normal(size=(8, 3)).astype("float32")
        layer = variant.make(momentum=0.0)
        layer(x, training=True)
        revived = variant.layer_cls.from_config(layer.get_config())
        revived.build(x.shape)
        revived.set_weights(layer.get_weights())
        self.assertAllClose(revived(x), layer(x))
        for key, value in {**variant.kwargs, "momentum": 0.0}.items():
            self.assertEqual(getattr(revived, key), value, key)

    @over_variants
    def test_shared_argument_errors(self, variant):
        cases = (
            ("momentum", {"momentum": 1.5}),
            ("momentum", {"momentum": -0.1}),
            ("momentum", {"momentum": 2.0}),
            ("epsilon", {"epsilon": 0.0}),
            ("epsilon", {"epsilon": -1.0}),
            ("axis", {"axis": 1.5}),
            ("axis", {"axis": "last"}),
            ("synchronized", {"synchronized": "yes"}),
        )
        for name, kwargs in cases:
            with self.assertRaisesRegex(ValueError, name, msg=str(kwargs)):
                variant.make(**kwargs)
        x = np.zeros((4, 3), "float32")
        for axis in (2, 3, -3, -4):  # out of bounds for rank 2
            with self.assertRaisesRegex(ValueError, "axis", msg=str(axis)):
                variant.make(axis=axis)(x)
        with self.assertRaisesRegex(ValueError, "mask"):
            variant.make()(x, training=True, mask=np.ones((4, 3), bool))
