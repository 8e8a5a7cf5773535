"""The MNIST test set (10000 digits), vendored as the official gzip-compressed IDX files.

Images are flattened row by row (C order): pixel ``(r, c)`` becomes element
``28 * r + c``. The original Guerguiev et al. (2017) code flattened column by
column instead; for a fully connected input layer the pixel order is only a
fixed permutation of the input units and makes no difference.
"""
from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

IMAGES_FILE = "t10k-images-idx3-ubyte.gz"
LABELS_FILE = "t10k-labels-idx1-ubyte.gz"
IMAGES_MAGIC = 2051  # unsigned byte data, 3 dimensions
LABELS_MAGIC = 2049  # unsigned byte data, 1 dimension

_cache = {}


def read_idx(stream, magic, what="IDX file"):
    """Parse an uncompressed IDX stream holding unsigned bytes.

    Parameters
    ----------
    stream : binary file object
        Positioned at the start of the IDX header.
    magic : int
        Expected magic number (2051 for images, 2049 for labels); its low
        byte is the number of dimensions.
    what : str
        Name of the source, used in error messages.

    Returns
    -------
    numpy.ndarray of uint8
        Array with the shape given in the header.
    """
    ndim = magic & 0xFF
    header = stream.read(4 + 4 * ndim)
    if len(header) < 4 + 4 * ndim:
        raise ValueError(f"{what}: truncated IDX header ({len(header)} bytes)")
    fields = np.frombuffer(header, dtype=">u4")
    if fields[0] != magic:
        raise ValueError(f"{what}: magic number {int(fields[0])} does not match the expected "
                         f"{magic}; not an IDX file of {ndim}-dimensional unsigned bytes")
    shape = tuple(int(d) for d in fields[1:])
    data = np.frombuffer(stream.read(), dtype=np.uint8)
    if data.size != np.prod(shape):
        raise ValueError(f"{what}: header announces shape {shape} ({int(np.prod(shape))} bytes) "
                         f"but {data.size} bytes of data follow")
    return data.reshape(shape)


def _load_file(name, magic):
    if name not in _cache:
        with resources.files("compsim.data").joinpath("mnist", name).open("rb") as raw:
            with gzip.GzipFile(fileobj=raw) as stream:
                _cache[name] = read_idx(stream, magic, name)
    return _cache[name]


def load_mnist(n=None, *, flatten=True):
    """Load the first ``n`` digits of the MNIST test set.

    Parameters
    ----------
    n : int, optional
        Number of digits, 1..10000 (default: all 10000).
    flatten : bool
        Return images as vectors of 784 pixels (row-major) instead of 28 x 28.

    Returns
    -------
    images : numpy.ndarray of float64, shape (n, 784) or (n, 28, 28)
        Pixel intensities scaled to [0, 1].
    labels : numpy.ndarray of int64, shape (n,)
        Digit classes 0..9.
    """
    images = _load_file(IMAGES_FILE, IMAGES_MAGIC)
    labels = _load_file(LABELS_FILE, LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(f"MNIST files disagree: {len(images)} images but {len(labels)} labels")
    total = len(labels)
    if n is None:
        n = total
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= total:
        raise ValueError(f"parameter 'n' must be an integer in 1..{total}, got {n!r}")
    x = images[:n].astype(np.float64) / 255.0
    if flatten:
        x = x.reshape(n, -1)
    return x, labels[:n].astype(np.int64)


def load_idx_pair(images_path, labels_path):
    """Images (n, 784) in [0, 1] and labels (n,) from a pair of IDX files (gzip-compressed or not), e.g.
    the full MNIST training set ``train-images-idx3-ubyte.gz`` / ``train-labels-idx1-ubyte.gz``."""
    def read(path, magic):
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            if gz:
                with gzip.GzipFile(fileobj=raw) as stream:
                    return read_idx(stream, magic, str(path))
            return read_idx(raw, magic, str(path))

    images, labels = read(images_path, IMAGES_MAGIC), read(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(f"{images_path} has {len(images)} images but {labels_path} {len(labels)} labels")
    return images.reshape(len(images), -1).astype(np.float64) / 255.0, labels.astype(np.int64)


#: the embedded split: the first EMBEDDED_TRAIN digits train, the rest are held out
EMBEDDED_TRAIN = 8000


def load_split(n_train=None, n_test=None, train_files=None, test_files=None):
    """``(train_images, train_labels, test_images, test_labels)``, images as (n, 784) vectors in [0, 1].

    Default: the embedded digits, the first 8,000 to train and the last 2,000
    held out. ``train_files`` / ``test_files``: pairs of IDX files (images,
    labels), e.g. the full 60k/10k MNIST (without ``test_files`` the embedded
    digits are the test set). ``n_train`` / ``n_test`` keep the first so many.
    """
    if train_files:
        x_train, y_train = load_idx_pair(*train_files)
        x_test, y_test = load_idx_pair(*test_files) if test_files else load_mnist()
    else:
        x, y = load_mnist()
        x_train, y_train, x_test, y_test = x[:EMBEDDED_TRAIN], y[:EMBEDDED_TRAIN], x[EMBEDDED_TRAIN:], y[EMBEDDED_TRAIN:]
    if (n_train or 0) > len(y_train) or (n_test or 0) > len(y_test):
        raise ValueError(f"parameters 'n_train' <= {len(y_train)} and 'n_test' <= {len(y_test)} for this data, got "
                         f"{n_train} and {n_test}")
    return x_train[:n_train], y_train[:n_train], x_test[:n_test], y_test[:n_test]
