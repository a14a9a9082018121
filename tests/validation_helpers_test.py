"""The helpers of `kdl._validation`: what they accept, return and say."""

import math

import numpy as np
from absl.testing import parameterized

from kdl import _validation as v
from tests.test_case import TestCase


class IntegerTest(TestCase):
    def test_accepts_python_and_numpy_ints_and_returns_python_int(self):
        for value in (3, np.int64(3), np.int32(3), np.uint8(3)):
            got = v.positive_integer("units", value)
            self.assertEqual(got, 3)
            self.assertIs(type(got), int)

    @parameterized.named_parameters(
        ("half", 2.5),
        ("integral_float", 4.0),
        ("numpy_float", np.float32(4.0)),
        ("bool", True),
        ("numpy_bool", np.bool_(True)),
        ("string", "4"),
        ("none", None),
        ("list", [4]),
        ("zero", 0),
        ("negative", -1),
    )
    def test_positive_integer_rejects(self, value):
        shown = repr(value) if isinstance(value, str) else str(value)
        with self.assertRaisesRegex(ValueError, "positive integer") as cm:
            v.positive_integer("units", value)
        self.assertEqual(
            str(cm.exception),
            f"`units` must be a positive integer. Received: units={shown}",
        )

    def test_bounds_and_none(self):
        self.assertEqual(v.non_negative_integer("levels", 0), 0)
        with self.assertRaisesRegex(ValueError, "non-negative integer"):
            v.non_negative_integer("levels", -1)
        self.assertEqual(v.integer("axis", -1), -1)
        self.assertEqual(v.integer("k", 3, 1, 3), 3)
        with self.assertRaisesRegex(
            ValueError, r"`k` must be an integer in \[1, 3\]. Received: k=4"
        ):
            v.integer("k", 4, 1, 3)
        with self.assertRaisesRegex(ValueError, "an integer >= 2"):
            v.integer("k", 1, min_value=2)
        with self.assertRaisesRegex(ValueError, "an integer <= 2"):
            v.integer("k", 3, max_value=2)
        self.assertIsNone(v.positive_integer("seed", None, allow_none=True))
        with self.assertRaisesRegex(ValueError, "Received: seed=None"):
            v.positive_integer("seed", None)


class NumberTest(TestCase):
    def test_accepts_ints_floats_numpy_and_returns_python_float(self):
        for value in (1, 0.5, np.float32(0.5), np.int64(1)):
            got = v.number("alpha", value, 0, 1)
            self.assertIs(type(got), float)
            self.assertEqual(got, float(value))

    @parameterized.named_parameters(
        ("string", "0.5"),
        ("bool", True),
        ("none", None),
        ("nan", math.nan),
        ("inf", math.inf),
        ("below", -0.1),
        ("above", 1.5),
    )
    def test_unit_interval_rejects(self, value):
        with self.assertRaisesRegex(
            ValueError, r"`alpha` must be a float in \[0, 1\].*Received: alpha="
        ):
            v.number("alpha", value, 0, 1)

    def test_open_and_half_open_ranges(self):
        self.assertEqual(v.rate("dropout", 0), 0.0)
        with self.assertRaisesRegex(
            ValueError,
            r"`dropout` must be a float in \[0, 1\). Received: dropout=1",
        ):
            v.rate("dropout", 1)
        with self.assertRaisesRegex(ValueError, "a positive float"):
            v.positive_number("learning_rate", 0)
        self.assertEqual(v.non_negative_number("epsilon", 0), 0.0)
        with self.assertRaisesRegex(ValueError, "a non-negative float"):
            v.non_negative_number("epsilon", -1e-9)
        with self.assertRaisesRegex(ValueError, r"a float in \(0, 1\)"):
            v.number("a", 1, 0, 1, min_inclusive=False, max_inclusive=False)
        with self.assertRaisesRegex(ValueError, "a float >= 1"):
            v.number("p", 0.5, min_value=1)
        self.assertIsNone(v.number("x", None, allow_none=True))


class OneOfTest(TestCase):
    def test_exact_and_lower(self):
        options = ("valid", "same")
        self.assertEqual(v.one_of("padding", "same", options), "same")
        self.assertEqual(
            v.one_of("padding", "SAME", options, lower=True), "same"
        )
        with self.assertRaisesRegex(
            ValueError,
            r"`padding` must be one of \['valid', 'same'\]. "
            r"Received: padding='SAME'",
        ):
            v.one_of("padding", "SAME", options)

    def test_kinds_do_not_mix(self):
        # True == 1 and 0 == False in Python; a choice keeps them apart.
        with self.assertRaisesRegex(ValueError, "Received: x=True"):
            v.one_of("x", True, (1, 2))
        with self.assertRaisesRegex(ValueError, "Received: x=0"):
            v.one_of("x", 0, (False, True))
        self.assertIsNone(v.one_of("projection", None, ("ball", None)))
        self.assertIsNone(v.one_of("x", None, ("a",), allow_none=True))
        with self.assertRaisesRegex(ValueError, "Received: x=1"):
            v.one_of("x", 1, ("1",))


class BooleanTest(TestCase):
    def test_boolean(self):
        self.assertIs(v.boolean("flag", np.bool_(True)), True)
        self.assertIs(v.boolean("flag", False), False)
        for value in (1, 0, "True", None):
            with self.subTest(value=value):
                with self.assertRaisesRegex(ValueError, "`flag`.*boolean"):
                    v.boolean("flag", value)


class SequenceTest(TestCase):
    def test_integer_tuple(self):
        self.assertEqual(v.integer_tuple("pool_size", 2, 2), (2, 2))
        self.assertEqual(v.integer_tuple("pool_size", [3, 1], 2), (3, 1))
        self.assertEqual(
            v.integer_tuple("pool_size", (np.int64(3), 2), 2), (3, 2)
        )
        for value in ((2,), (2, 0), (2, 2.5), (True, 2), "22", 2.0):
            with self.subTest(value=value):
                with self.assertRaisesRegex(
                    ValueError,
                    "`pool_size` must be a positive integer or a tuple of 2",
                ):
                    v.integer_tuple("pool_size", value, 2)

    def test_number_tuple(self):
        self.assertEqual(
            v.number_tuple("ratio", 1.5, 2, min_value=1), (1.5, 1.5)
        )
        self.assertEqual(v.number_tuple("ratio", (1, 2.5), 2), (1.0, 2.5))
        for value in ((1.5,), (1.5, 0.5), (1.5, "a"), True, (1.5, math.nan)):
            with self.subTest(value=value):
                with self.assertRaisesRegex(ValueError, "`ratio`"):
                    v.number_tuple("ratio", value, 2, min_value=1)

    def test_integer_list(self):
        self.assertEqual(v.integer_list("sizes", (4, np.int64(2))), [4, 2])
        self.assertEqual(v.integer_list("sizes", [], allow_empty=True), [])
        with self.assertRaisesRegex(
            ValueError,
            r"`sizes` must be a non-empty list of positive integers. "
            r"Received: sizes=\[\]",
        ):
            v.integer_list("sizes", [])
        for value in ([4, 0], [4, 2.5], [True], 4, "44"):
            with self.subTest(value=value):
                with self.assertRaisesRegex(ValueError, "`sizes`"):
                    v.integer_list("sizes", value)

    def test_integer_list_bounds_and_order(self):
        self.assertEqual(
            v.integer_list("cutoffs", [1, 5, 9], max_value=9, increasing=True),
            [1, 5, 9],
        )
        self.assertEqual(v.integer_list("sizes", [3, 3, 1]), [3, 3, 1])
        for value in ([0, 5], [5, 10], [5, 5], [6, 2], [2, 2.5]):
            with self.subTest(value=value):
                with self.assertRaisesRegex(
                    ValueError,
                    r"`cutoffs` must be a non-empty strictly increasing list "
                    r"of integers in \[1, 9\]. Received: cutoffs=",
                ):
                    v.integer_list(
                        "cutoffs", value, max_value=9, increasing=True
                    )
        # The plural of every range reads right.
        with self.assertRaisesRegex(ValueError, r"list of integers >= 2\."):
            v.integer_list("sizes", [1], min_value=2)
