"""kdl.models.glo_comparison: per-seed values, tables, plots, README rows."""

import os

import numpy as np

from kdl.models import glo_comparison
from tests.test_case import TestCase

KEYS = ("test_mse_encoded", "fd_samples", "fd_reconstructions")
KEYS += ("test_sharpness", "sample_sharpness")


def values(**arms):
    """`{arm: {key: [per seed]}}` with every key `arms[arm] + seed / 100`."""
    return {
        arm: {k: [base + s / 100 for s in range(3)] for k in KEYS}
        for arm, base in arms.items()
    }


class GLOComparisonTest(TestCase):
    def test_labels_and_per_seed(self):
        label = glo_comparison.arm_label
        self.assertEqual(label("lap1_pca"), "GLO Lap1 + PCA")
        self.assertEqual(label("l2_random"), "GLO L2 + random")
        self.assertEqual(label("dcgan"), "DCGAN")
        runs = {"a": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]}
        self.assertEqual(
            glo_comparison.per_seed(runs), {"a": {"x": [1, 3], "y": [2, 4]}}
        )

    def test_verdicts(self):
        verdict = glo_comparison.verdict
        self.assertEqual(verdict([([3, 3.1], [1, 1.1])]), "yes")
        self.assertEqual(verdict([([3, 3.1], [1, 1.1]), ([1], [2])]), "partly")
        self.assertEqual(verdict([([1, 2], [2, 3])] * 2), "no")
        self.assertEqual(verdict([]), "n/a")

    def test_rows_follow_the_numbers(self):
        # GLO MSEs below the GAN's (holds); GLO FDs below too (the GAN's
        # samples are not better: no); the GAN's samples sharper (yes);
        # Lap1 above L2 (sharper: yes).
        v = values(lap1_pca=0.5, l2_pca=0.3, dcgan=0.9)
        rows = glo_comparison.comparison_rows(v, 3, 100, 500, 0.25)
        holds = [r["holds"] for r in rows]
        self.assertEqual(holds, ["yes", "no", "yes", "yes"])
        self.assertEqual(
            rows[0]["what"],
            "held-out MSE (100 test images encoded), 3 seeds: "
            "GLO Lap1 + PCA / GLO L2 + PCA / DCGAN",
        )
        self.assertEqual(
            rows[0]["ours"],
            "0.5100 ± 0.0100 / 0.3100 ± 0.0100 / 0.9100 ± 0.0100",
        )
        self.assertIn("real training images: 0.25", rows[1]["what"])
        self.assertEqual(rows[3]["ours"], "0.510 ± 0.010 / 0.310 ± 0.010")
        # Without the GAN: n/a; both inits: the PCA row (random worse).
        v = values(lap1_pca=0.2, lap1_random=0.4)
        rows = glo_comparison.comparison_rows(v, 3, 100, 500, 0.25)
        holds = [r["holds"] for r in rows]
        self.assertEqual(holds, ["n/a", "n/a", "n/a", "yes"])
        self.assertEqual(rows[-1]["paper"], glo_comparison.PAPER["pca"])

    def test_files(self):
        directory = self.get_temp_dir()
        v = values(lap1_pca=0.5, dcgan=0.9)
        images = np.random.RandomState(0).rand(4, 8, 8, 1)
        shown = {n: {"samples": images, "reconstructions": images} for n in v}
        table = glo_comparison.save_comparison(
            v, directory, images, images, shown
        )
        self.assertIn("| samples | 0.510 ± 0.010 | 0.910 ± 0.010 |", table)
        for name in (
            "table.md",
            "mse.png",
            "fd.png",
            "sharpness.png",
            "samples.png",
            "reconstructions.png",
        ):
            self.assertTrue(os.path.exists(os.path.join(directory, name)))
