"""The vendored MNIST test set loads with the official contents."""
import io

import numpy as np
import pytest

from compsim.data.mnist import LABELS_MAGIC, load_mnist, read_idx


def test_full_test_set():
    images, labels = load_mnist()
    assert images.shape == (10000, 784) and images.dtype == np.float64
    assert labels.shape == (10000,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert set(np.unique(labels)) == set(range(10))
    assert labels[0] == 7  # first digit of the official test set


def test_subset_and_image_shape():
    flat, labels = load_mnist(20)
    square, labels2 = load_mnist(20, flatten=False)
    assert square.shape == (20, 28, 28) and flat.shape == (20, 784)
    np.testing.assert_array_equal(flat, square.reshape(20, -1))  # row-major
    np.testing.assert_array_equal(labels, labels2)
    flat[:] = -1  # callers get copies; the cache is untouched
    assert load_mnist(1)[0].min() == 0.0


@pytest.mark.parametrize("n", [0, 10001, 2.5, "10"])
def test_bad_n(n):
    with pytest.raises(ValueError, match="'n'"):
        load_mnist(n)


def test_bad_magic():
    header = np.array([2051, 3], dtype=">u4").tobytes() + bytes(3)
    with pytest.raises(ValueError, match="magic number 2051 .* expected 2049"):
        read_idx(io.BytesIO(header), LABELS_MAGIC, "labels")
    truncated = np.array([2049, 5], dtype=">u4").tobytes() + bytes(3)
    with pytest.raises(ValueError, match="5 bytes"):
        read_idx(io.BytesIO(truncated), LABELS_MAGIC)
