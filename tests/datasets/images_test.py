"""Image parsers, sources and the image pipeline, on files the tests write."""

import gzip
import os
import pathlib
import subprocess
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from kdl import datasets
from kdl.datasets import images
from tests import test_case


def write_fashion(folder, n_train=12, n_test=5):
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28)),
        "y_train": np.arange(n_train) % 10,
        "x_test": rng.integers(0, 256, (n_test, 28, 28)),
        "y_test": np.arange(n_test) % 10,
    }
    for key, fname in images.IDX_FILES.items():
        images.write_idx(folder / fname, arrays[key])
    return folder, arrays


def make_deb(tmp, package, files):
    """A real .deb (dpkg-deb -b) holding `files` {abs path: bytes}."""
    root = pathlib.Path(tmp, "debroot")
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: kdl <kdl@example.com>\nDescription: test\n"
    )
    for path, data in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    deb = pathlib.Path(tmp, f"{package}_1.0_all.deb")
    subprocess.run(
        ["dpkg-deb", "-b", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


def fake_apt_get(tmp, deb):
    """A fake `apt-get` whose `download` copies `deb` into the cwd."""
    script = pathlib.Path(tmp, "fake-apt-get")
    script.write_text(f'#!/bin/sh\n[ "$1" = download ] && cp {deb} .\n')
    script.chmod(0o755)
    return str(script)


class IdxTest(test_case.TestCase):
    def test_round_trip_and_folder(self):
        folder, arrays = write_fashion(self.get_temp_dir())
        (x, y), (xt, yt) = datasets.load_images("fashion_mnist", path=folder)
        self.assertAllEqual(x, arrays["x_train"])
        self.assertAllEqual(yt, arrays["y_test"])
        self.assertEqual(x.dtype, np.uint8)
        self.assertEqual(y.dtype, np.int32)

    def test_corrupt_files_are_named(self):
        folder, _ = write_fashion(self.get_temp_dir())
        path = folder / images.IDX_FILES["x_train"]
        raw = gzip.decompress(path.read_bytes())
        # A header that promises more data than the file has.
        path.write_bytes(gzip.compress(raw[:-10]))
        with self.assertRaisesRegex(
            datasets.CorruptDataError, "train-images-idx3-ubyte.gz.*bytes"
        ):
            datasets.load_images("fashion_mnist", path=folder)
        # A truncated gzip stream.
        path.write_bytes(gzip.compress(raw)[:-20])
        with self.assertRaisesRegex(
            datasets.CorruptDataError, "train-images-idx3-ubyte.gz"
        ):
            datasets.load_images("fashion_mnist", path=folder)
        path.write_bytes(gzip.compress(b"\x01\x02" + raw[2:]))
        with self.assertRaisesRegex(datasets.CorruptDataError, "magic"):
            images.read_idx(path)

    def test_label_count_mismatch(self):
        folder, _ = write_fashion(self.get_temp_dir())
        images.write_idx(folder / images.IDX_FILES["y_test"], np.zeros(3))
        with self.assertRaisesRegex(datasets.CorruptDataError, "labels"):
            datasets.load_images("fashion_mnist", path=folder)

    def test_truncated_npz_is_named(self):
        path = os.path.join(self.get_temp_dir(), "mnist.npz")
        x = np.ones((4, 28, 28), np.uint8)
        np.savez(
            path, x_train=x, y_train=np.arange(4), x_test=x, y_test=np.arange(4)
        )
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        with self.assertRaisesRegex(datasets.CorruptDataError, "mnist.npz"):
            datasets.load_images("mnist", path=path)

    def test_npz_path(self):
        path = os.path.join(self.get_temp_dir(), "mnist.npz")
        x = np.ones((4, 28, 28), np.uint8)
        np.savez(
            path,
            x_train=x,
            y_train=np.arange(4),
            x_test=x[:2],
            y_test=np.arange(2),
        )
        (a, b), (c, d) = datasets.load_images("mnist", path=path)
        self.assertEqual(a.shape, (4, 28, 28))
        self.assertAllEqual(d, [0, 1])


class SourcesTest(test_case.TestCase):
    def test_debian_fetch_on_demand_then_cache(self):
        tmp = self.get_temp_dir()
        folder, arrays = write_fashion(os.path.join(tmp, "src"))
        root = "/usr/share/datasets/kdl-test-fashion"
        deb = make_deb(
            tmp,
            "dataset-fashion-mnist",
            {
                f"{root}/{f}": (folder / f).read_bytes()
                for f in images.IDX_FILES.values()
            },
        )
        env = {"KDL_APT_GET": fake_apt_get(tmp, deb), "KDL_OFFLINE": "1"}
        old_root, images.FASHION_ROOT = images.FASHION_ROOT, root
        self.addCleanup(setattr, images, "FASHION_ROOT", old_root)
        for k, v in env.items():
            os.environ[k] = v
            self.addCleanup(os.environ.pop, k)
        cache = os.path.join(tmp, "cache")
        (x, _), (_, yt) = datasets.load_images(
            "fashion_mnist", data_dir=cache, download=True
        )
        self.assertAllEqual(x, arrays["x_train"])
        extracted = pathlib.Path(
            cache, "debian", "dataset-fashion-mnist", root.lstrip("/")
        )
        self.assertTrue((extracted / images.IDX_FILES["x_test"]).exists())
        # Second load: the cached copy, no apt-get (a failing one now).
        os.environ["KDL_APT_GET"] = "false"
        (x2, _), _ = datasets.load_images("fashion_mnist", data_dir=cache)
        self.assertAllEqual(x2, x)

    def test_nothing_works_lists_sources(self):
        old_root, images.FASHION_ROOT = images.FASHION_ROOT, "/nonexistent"
        self.addCleanup(setattr, images, "FASHION_ROOT", old_root)
        os.environ["KDL_APT_GET"] = "false"
        os.environ["KDL_OFFLINE"] = "1"
        self.addCleanup(os.environ.pop, "KDL_APT_GET")
        self.addCleanup(os.environ.pop, "KDL_OFFLINE")
        with self.assertRaises(datasets.DatasetNotFoundError) as ctx:
            datasets.load_images("fashion_mnist", data_dir=self.get_temp_dir())
        sources = [a.source for a in ctx.exception.attempts]
        self.assertEqual(len(sources), 5)
        self.assertIn("installed at /nonexistent", sources[0])
        self.assertIn("cached in", sources[1])
        self.assertIn("tfds fashion_mnist (prepared)", sources[2])
        self.assertIn("tfds fashion_mnist (download)", sources[3])
        self.assertIn("apt-get download", sources[4])
        msg = str(ctx.exception)
        self.assertIn("KDL_OFFLINE", msg)
        self.assertIn("sudo apt-get install dataset-fashion-mnist", msg)
        self.assertIn("download_and_prepare()", msg)

    def test_mnist_5k_csv(self):
        folder = pathlib.Path(self.get_temp_dir())
        rows = np.zeros((20, 785), np.int64)
        rows[:, 784] = np.repeat([0, 1], 10)
        rows[:, 0] = np.arange(20)
        with gzip.open(folder / "mnist_5k.csv.gz", "wt") as f:
            np.savetxt(f, rows, fmt="%d", delimiter=",")
        (x, y), (xt, yt) = datasets.load_images("mnist_5k", path=folder)
        self.assertEqual(x.shape, (16, 28, 28))
        self.assertAllEqual(yt, [0, 0, 1, 1])
        self.assertAllEqual(xt[:, 0, 0], [4, 9, 14, 19])  # Every 5th.

    def test_digits(self):
        (x, y), (xt, yt) = datasets.load_images("digits")
        self.assertEqual(x.shape, (1437, 8, 8))
        self.assertEqual(xt.shape, (360, 8, 8))
        self.assertEqual(x.dtype, np.uint8)
        self.assertEqual(int(x.max()), 255)

    def test_image_splits(self):
        data = datasets.image_splits("digits", 500, 100, seed=1)
        x, y = data["train"]
        self.assertEqual((x.shape, x.dtype), ((450, 64), np.float32))
        self.assertTrue(0.0 <= x.min() and x.max() == 1.0)
        self.assertEqual(data["valid"][0].shape, (50, 64))
        self.assertEqual(data["test"][0].shape, (100, 64))
        self.assertEqual((y.dtype, data["test"][1].dtype), (np.int32,) * 2)
        self.assertLen(set(data["valid"][1]), 10)  # random, not sorted
        self.assertEqual((data["shape"], data["num_classes"]), ((8, 8), 10))
        again = datasets.image_splits("digits", 500, 100, seed=1)
        self.assertAllEqual(again["valid"][0], data["valid"][0])
        whole = datasets.image_splits("digits", flatten=False)
        self.assertEqual(whole["train"][0].shape, (1437 - 143, 8, 8, 1))
        self.assertEqual(whole["test"][0].shape, (360, 8, 8, 1))
        none = datasets.image_splits("digits", 10, valid_fraction=0)
        self.assertEqual(len(none["valid"][0]), 0)
        for name, value in (
            ("train_size", 0),
            ("test_size", 2.5),
            ("valid_fraction", 1.0),
            ("seed", -1),
        ):
            with self.assertRaisesRegex(ValueError, f"{name}={value}"):
                datasets.image_splits("digits", **{name: value})

    def test_unknown_name(self):
        with self.assertRaisesRegex(ValueError, "name='cifar'"):
            datasets.load_images("cifar")


class PipelineTest(test_case.TestCase):
    def test_normalize_eager_and_in_map(self):
        batch = np.array([[[0, 255], [51, 102]]] * 3, np.uint8)
        eager = images.normalize_images(batch)
        self.assertEqual(tuple(eager.shape), (3, 2, 2, 1))
        self.assertAllClose(eager[0, :, :, 0], np.array([[0, 1], [0.2, 0.4]]))
        mapped = next(
            iter(
                tf.data.Dataset.from_tensor_slices(batch)
                .map(images.normalize_images)
                .batch(3)
            )
        )
        self.assertAllClose(mapped, eager)

    def test_augment_shift_and_flip(self):
        img = np.zeros((6, 6, 1), np.float32)
        img[2:4, 2:4] = 1.0
        seed = tf.constant([3, 4])
        out = images.augment_images(img, seed, max_shift=1)
        self.assertEqual(tuple(out.shape), (6, 6, 1))
        self.assertAllClose(tf.reduce_sum(out), 4.0)  # Shifted, not cut.
        ys, xs = np.nonzero(out.numpy()[..., 0])
        self.assertLessEqual(abs(ys.min() - 2), 1)
        self.assertLessEqual(abs(xs.min() - 2), 1)
        # Same seed, same result inside Dataset.map.
        mapped = next(
            iter(
                tf.data.Dataset.from_tensors(img).map(
                    lambda x: images.augment_images(x, seed, max_shift=1)
                )
            )
        )
        self.assertAllClose(mapped, out)
        # No shift, always flip for some seeds: compare to NumPy.
        batch = np.random.default_rng(0).random((16, 5, 5, 1)).astype("f")
        flipped = images.augment_images(batch, seed, max_shift=0, flip=True)
        for a, b in zip(batch, flipped.numpy()):
            self.assertTrue(np.allclose(a, b) or np.allclose(a[:, ::-1], b))
        self.assertFalse(np.allclose(flipped, batch))

    def test_element_structures(self):
        x = np.arange(10 * 4 * 4, dtype=np.uint8).reshape(10, 4, 4)
        y = np.arange(10)
        img, lab = next(iter(images.image_dataset(x, y, batch_size=4)))
        self.assertEqual(tuple(img.shape), (4, 4, 4, 1))
        self.assertEqual(img.dtype, tf.float32)
        for i, label in zip(img.numpy(), lab.numpy()):
            self.assertAllClose(i[..., 0], x[label] / 255.0)
        (only,) = next(iter(images.image_dataset(x, batch_size=3)))
        self.assertEqual(tuple(only.shape), (3, 4, 4, 1))
        ds = images.image_dataset(x, y, batch_size=4, with_index=True)
        idx, img = next(iter(ds))
        self.assertEqual(idx.dtype, tf.int32)
        for i, im in zip(idx.numpy(), img.numpy()):
            self.assertAllClose(im[..., 0], x[i] / 255.0)
        sizes = [
            b[0].shape[0]
            for b in images.image_dataset(
                x, y, batch_size=4, drop_remainder=True
            )
        ]
        self.assertEqual(sizes, [4, 4])

    def test_shuffle_deterministic_and_reshuffled(self):
        x = np.arange(50, dtype=np.uint8).reshape(50, 1, 1)

        def order(ds):
            return np.concatenate([b[0].numpy() for b in ds]).ravel()

        a = images.image_dataset(x, np.arange(50), batch_size=7, seed=1)
        b = images.image_dataset(x, np.arange(50), batch_size=7, seed=1)
        first, second = order(a), order(a)
        self.assertAllClose(first, order(b))
        self.assertFalse(np.allclose(first, second))  # New epoch.
        self.assertAllClose(np.sort(first), np.arange(50) / 255.0)
        plain = images.image_dataset(x, batch_size=7, shuffle=False)
        self.assertAllClose(order(plain), np.arange(50) / 255.0)

    def test_augment_changes_each_epoch(self):
        x = np.zeros((8, 8, 8), np.uint8)
        x[:, 3:5, 3:5] = 255
        ds = images.image_dataset(
            x, batch_size=8, shuffle=False, augment=True, seed=2
        )
        e1 = next(iter(ds))[0].numpy()
        e2 = next(iter(ds))[0].numpy()
        self.assertFalse(np.allclose(e1, e2))
        self.assertAllClose(e1.sum(axis=(1, 2, 3)), np.full(8, 4.0))

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "labels"):
            images.image_dataset(np.zeros((3, 2, 2)), np.zeros(2))
        with self.assertRaisesRegex(ValueError, "batch_size"):
            images.image_dataset(np.zeros((3, 2, 2)), batch_size=0)


class LoadImagesTest(test_case.TestCase):
    @pytest.mark.slow
    def test_real_fashion_mnist_and_mnist_5k(self):
        (x, y), (xt, yt) = datasets.load_images("fashion_mnist")
        self.assertEqual(x.shape, (60000, 28, 28))
        self.assertEqual(xt.shape, (10000, 28, 28))
        self.assertEqual(sorted(set(y.tolist())), list(range(10)))
        (x5, y5), (x5t, y5t) = datasets.load_images("mnist_5k")
        self.assertEqual(len(x5) + len(x5t), 5000)
        self.assertEqual(x5.shape[1:], (28, 28))

    def test_mnist_from_prepared_tfds(self):
        from tests.datasets.text_data_test import FakeTfdsBuilder

        rng = np.random.default_rng(0)
        splits = {
            s: {
                "image": rng.integers(0, 256, (n, 28, 28, 1)).astype(np.uint8),
                "label": np.arange(n) % 10,
            }
            for s, n in (("train", 6), ("test", 3))
        }
        with mock.patch(
            "tensorflow_datasets.builder",
            lambda name, data_dir=None: FakeTfdsBuilder(splits),
        ):
            (x, y), (xt, yt) = datasets.load_images(
                "mnist", data_dir=pathlib.Path(self.get_temp_dir())
            )
        self.assertAllEqual(x, splits["train"]["image"][..., 0])
        self.assertAllEqual(yt, [0, 1, 2])
        self.assertEqual(y.dtype, np.int32)

    def test_mnist_offline_error_tries_no_connection(self):
        with mock.patch.dict(os.environ, {"KDL_OFFLINE": "1"}):
            with test_case.connection_attempts() as attempts:
                with self.assertRaises(datasets.DatasetNotFoundError) as ctx:
                    datasets.load_images(
                        "mnist", data_dir=pathlib.Path(self.get_temp_dir())
                    )
        self.assertEqual(attempts, [])
        msg = str(ctx.exception)
        self.assertIn("tfds mnist (prepared)", msg)
        self.assertIn("mnist.npz", msg)
        self.assertIn("file_hash='731c5ac6", msg)
        self.assertIn("load_images('mnist_5k')", msg)
