"""LeNet-5 builder: shapes of the lecture's net, options, transfer."""

import numpy as np

import kdl
from tests.test_case import TestCase
from tests.test_case import backend
from tests.test_case import jit_call
from tests.test_case import skip_unless_tensorflow


class LeNetTest(TestCase):
    def test_lecture_architecture(self):
        model = kdl.models.build_lenet5()
        shapes = {layer.name: layer.output.shape[1:] for layer in model.layers}
        self.assertEqual(tuple(shapes["c1"]), (28, 28, 6))
        self.assertEqual(tuple(shapes["s2"]), (14, 14, 6))
        self.assertEqual(tuple(shapes["c3"]), (10, 10, 16))
        self.assertEqual(tuple(shapes["s4"]), (5, 5, 16))
        self.assertEqual(tuple(shapes["c5"]), (120,))
        self.assertEqual(tuple(shapes["f6"]), (84,))
        self.assertEqual(tuple(shapes["logits"]), (10,))
        # 156 + 2416 + 48120 + 10164 + 850 parameters.
        self.assertEqual(model.count_params(), 61706)

    def test_every_pooling_and_low_rank_option_runs(self):
        x = np.random.rand(4, 28, 28, 1).astype("float32")
        for pooling in kdl.models.LENET_POOLINGS:
            if pooling == "fractional" and backend() != "tensorflow":
                with self.assertRaisesRegex(NotImplementedError, backend()):
                    kdl.models.build_lenet5(pooling=pooling)
                continue
            model = kdl.models.build_lenet5(pooling=pooling, activation="relu")
            # On JAX one compiled program, not one per op and shape.
            if backend() == "jax":
                out = jit_call(model, x, training=True)
            else:
                out = model(x, training=True)
            self.assertEqual(tuple(out.shape), (4, 10))
            # Fractional pooling at sqrt(2): 28 -> 19 -> (c3) 15 -> 10.
            side = 10 if pooling == "fractional" else 5
            self.assertEqual(
                tuple(model.get_layer("s4").output.shape),
                (None, side, side, 16),
            )
        small = kdl.models.build_lenet5(dense="low_rank", rank=8)
        self.assertEqual(
            small.get_layer("c5").count_params(), 400 * 8 + 8 * 120 + 120
        )

    @skip_unless_tensorflow("FractionalMaxPooling2D is tf.nn's")
    def test_fractional_pooling_intervals_vary(self):
        # Graham's non-integer ratio: every training call draws new
        # intervals of lengths 1 and 2; a ratio of 2 gives fixed intervals.
        x = np.random.RandomState(0).rand(1, 28, 28, 1).astype("float32")
        for ratio, varies in ((2.0**0.5, True), (2.0, False)):
            pool = kdl.models.build_lenet5(
                pooling="fractional", fractional_ratio=ratio
            ).get_layer("s2")
            draws = [np.asarray(pool(x, training=True)) for _ in range(4)]
            differ = any(not np.array_equal(draws[0], d) for d in draws[1:])
            self.assertEqual(differ, varies, msg=str(ratio))
        with self.assertRaisesRegex(ValueError, "fractional_ratio=2.5"):
            kdl.models.build_lenet5(fractional_ratio=2.5)

    def test_transfer_freezes_features_and_replaces_head(self):
        base = kdl.models.build_lenet5()
        new = kdl.models.transfer_model(base, num_classes=3)
        self.assertEqual(new.output_shape, (None, 3))
        trainable = {w.path.split("/")[-2] for w in new.trainable_weights}
        self.assertEqual(trainable, {"c5", "f6", "logits"})
        self.assertIs(new.get_layer("c1"), base.get_layer("c1"))
        new.compile("adam", "sparse_categorical_crossentropy")
        before = base.get_layer("c3").get_weights()[0].copy()
        new.fit(np.random.rand(8, 28, 28, 1), np.zeros(8), verbose=0)
        self.assertAllEqual(base.get_layer("c3").get_weights()[0], before)
        with self.assertRaisesRegex(ValueError, "freeze"):
            kdl.models.transfer_model(
                kdl.models.build_lenet5(), 2, freeze=["zz"]
            )

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "pooling"):
            kdl.models.build_lenet5(pooling="median")
        with self.assertRaisesRegex(ValueError, "dense"):
            kdl.models.build_lenet5(dense="sparse")

    def test_smallest_input_and_input_shape_errors(self):
        small = kdl.models.build_lenet5((12, 12, 1), 3)
        self.assertEqual(
            tuple(small.get_layer("s4").output.shape), (None, 1, 1, 16)
        )
        for bad in ((11, 28, 1), (28, 8, 1), (28, 28), (None, 28, 1)):
            with self.assertRaisesRegex(ValueError, "input_shape"):
                kdl.models.build_lenet5(bad)
