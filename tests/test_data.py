"""Tests of course.data: digits(), the MNIST/IDX loader and DataLoader.

No test touches the network: urllib's urlopen is replaced in every test, by a function that
fails unless a test installs its own fake server. The IDX files are written here with struct,
independently of the reader under test.
"""
import collections
import gzip
import hashlib
import io
import math
import os
import struct
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from course import data

TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B,
             np.dtype("i4"): 0x0C, np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}


def idx_bytes(array):
    """The IDX encoding of array: zero, zero, type code, ndim, big-endian dims, big-endian values."""
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    return header + dims + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, content):
    path = Path(path)
    path.write_bytes(gzip.compress(content) if path.suffix == ".gz" else content)
    return path


def write_mnist(folder, files, n=12, gz=True, seed=0):
    """Write random MNIST-shaped images and labels under the given names; return (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write(folder / (files[0] + suffix), idx_bytes(images))
    write(folder / (files[1] + suffix), idx_bytes(labels))
    return images, labels


@pytest.fixture(autouse=True)
def offline_and_private_cache(monkeypatch, tmp_path):
    """Point the cache at a temporary folder and make any network access fail loudly."""
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "course_data"))

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError(f"network disabled in tests ({url})")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


# --- digits -----------------------------------------------------------------------------------

def test_digits_shapes_dtypes_and_ranges():
    d = data.digits()
    assert isinstance(d, data.Dataset)
    assert len(d.x_train) + len(d.x_test) == 1797
    assert len(d.x_test) == math.ceil(0.2 * 1797)
    assert d.x_train.shape[1:] == d.x_test.shape[1:] == (1, 8, 8)
    assert d.x_train.dtype == d.x_test.dtype == np.float32
    assert d.y_train.dtype == d.y_test.dtype == np.int64
    assert d.y_train.shape == (len(d.x_train),) and d.y_test.shape == (len(d.x_test),)
    x = np.concatenate([d.x_train, d.x_test])
    assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(d.y_train)) == set(range(10))


def test_digits_unnormalized_keeps_sklearn_scale():
    d, raw = data.digits(), data.digits(normalize=False)
    assert raw.x_train.max() == 16.0
    np.testing.assert_array_equal(raw.x_train / 16, d.x_train)
    np.testing.assert_array_equal(raw.y_test, d.y_test)


def test_digits_split_is_a_partition_of_sklearns_images():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    bunch = sklearn_datasets.load_digits()
    d = data.digits(normalize=False)

    def multiset(images, labels):
        return collections.Counter((im.astype(np.float32).tobytes(), int(t))
                                   for im, t in zip(images.reshape(len(images), 8, 8), labels))

    ours = multiset(d.x_train, d.y_train) + multiset(d.x_test, d.y_test)
    assert ours == multiset(bunch.images, bunch.target)


def test_digits_split_is_deterministic_and_depends_on_seed():
    a, b, c = data.digits(seed=0), data.digits(seed=0), data.digits(seed=1)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.y_test, c.y_test)


@pytest.mark.parametrize("test_size", [0.2, 0.5])
def test_digits_split_is_stratified(test_size):
    d = data.digits(test_size=test_size, seed=3)
    total = np.bincount(np.concatenate([d.y_train, d.y_test]), minlength=10)
    held_out = np.bincount(d.y_test, minlength=10)
    assert np.all(np.abs(held_out - test_size * total) <= 1), held_out


# --- read_idx ----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(array=hnp.arrays(dtype=st.sampled_from(list(IDX_CODES)),
                        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)),
       gz=st.booleans())
def test_idx_round_trip(array, gz):
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / ("a.idx.gz" if gz else "a.idx"), idx_bytes(array))
        back = data.read_idx(path)
    assert back.shape == array.shape and back.dtype == array.dtype
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_idx_gzip_is_detected_by_content_not_name(tmp_path):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    plain_named_gz = tmp_path / "unpacked-by-browser.gz"
    plain_named_gz.write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(data.read_idx(plain_named_gz), array)


@pytest.mark.parametrize("content, words", [
    (b"\x01\x02\x08\x01" + struct.pack(">I", 3) + b"abc", ["magic number", "0x01020801"]),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 3) + b"abc", ["magic number"]),
    (b"\x00\x00", ["truncated"]),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 3), ["truncated", "header"]),
    (idx_bytes(np.zeros((4, 5), np.uint8))[:-3], ["truncated", "(4, 5)"]),
    (idx_bytes(np.zeros(4, np.uint8)) + b"\x00", ["1 unexpected bytes"]),
])
def test_idx_malformed_files_raise_value_error_naming_the_file(tmp_path, content, words):
    path = write(tmp_path / "bad-idx1-ubyte", content)
    with pytest.raises(ValueError) as info:
        data.read_idx(path)
    assert str(path) in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_idx_damaged_gzip_raises_value_error(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 28, 28), np.uint8)))[:-40])
    with pytest.raises(ValueError, match="damaged gzip"):
        data.read_idx(path)


# --- mnist: loading ------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_mnist_loads_idx_files(tmp_path, gz):
    images, labels = write_mnist(tmp_path, TEST_FILES, n=7, gz=gz)
    x, y = data.mnist(tmp_path, split="test")
    assert x.shape == (7, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (7,) and y.dtype == np.int64
    np.testing.assert_allclose(x[:, 0] * 255, images, atol=1e-4)
    np.testing.assert_array_equal(y, labels)


def test_mnist_both_splits_and_dotted_names(tmp_path):
    train_images, train_labels = write_mnist(tmp_path, TRAIN_FILES, n=9, seed=1)
    test_images, test_labels = write_mnist(
        tmp_path, [name.replace("-idx", ".idx") for name in TEST_FILES], n=4, gz=False, seed=2)
    d = data.mnist(str(tmp_path))
    assert isinstance(d, data.Dataset)
    assert d.x_train.shape == (9, 1, 28, 28) and d.x_test.shape == (4, 1, 28, 28)
    np.testing.assert_array_equal(d.y_train, train_labels)
    np.testing.assert_array_equal(d.y_test, test_labels)
    np.testing.assert_allclose(d.x_test[:, 0] * 255, test_images, atol=1e-4)
    x, y = data.mnist(tmp_path, split="train")
    np.testing.assert_array_equal(x, d.x_train)


def test_mnist_loads_npz(tmp_path):
    rng = np.random.default_rng(5)
    arrays = {"x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, 6, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, 3, dtype=np.uint8)}
    np.savez(tmp_path / "mnist.npz", **arrays)
    d = data.mnist(tmp_path)
    np.testing.assert_allclose(d.x_train[:, 0] * 255, arrays["x_train"], atol=1e-4)
    np.testing.assert_array_equal(d.y_test, arrays["y_test"])
    assert d.x_test.dtype == np.float32 and d.y_test.dtype == np.int64


def test_mnist_npz_without_the_split_names_the_missing_keys(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.zeros(2, np.uint8))
    assert len(data.mnist(tmp_path, split="test")[0]) == 2
    with pytest.raises(ValueError, match="x_train, y_train"):
        data.mnist(tmp_path, split="train")


def test_mnist_garbage_npz(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"this is not a zip archive")
    with pytest.raises(ValueError, match="mnist.npz"):
        data.mnist(tmp_path, split="test")


def test_mnist_default_folder_is_course_data_mnist(tmp_path):
    write_mnist(Path(os.environ["COURSE_DATA"]) / "mnist", TEST_FILES, n=3)
    assert data.mnist_cache_dir() == Path(os.environ["COURSE_DATA"]) / "mnist"
    x, y = data.mnist(split="test")
    assert x.shape == (3, 1, 28, 28)


def test_mnist_default_folder_without_env_is_home_cache(monkeypatch):
    monkeypatch.delenv("COURSE_DATA")
    assert data.mnist_cache_dir() == Path.home() / ".cache" / "course" / "mnist"


def test_mnist_rejects_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="'both', 'train' or 'test'"):
        data.mnist(tmp_path, split="validation")


# --- mnist: missing data -----------------------------------------------------------------------

def test_mnist_missing_folder_says_what_to_do(tmp_path):
    folder = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        data.mnist(folder)
    assert isinstance(info.value, data.MNISTNotFoundError)
    message = str(info.value)
    assert str(folder) in message
    for name in TRAIN_FILES + TEST_FILES:
        assert name + ".gz" in message
    assert "download=True" in message and "mnist.npz" in message and "COURSE_DATA" in message


def test_mnist_only_test_set_present(tmp_path):
    write_mnist(tmp_path, TEST_FILES, n=2)
    assert data.mnist(tmp_path, split="test")[0].shape == (2, 1, 28, 28)
    with pytest.raises(data.MNISTNotFoundError) as info:
        data.mnist(tmp_path)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and "t10k" not in message
    assert "split='test'" in message


def test_mnist_one_file_of_a_pair_missing(tmp_path):
    write_mnist(tmp_path, TEST_FILES, n=2)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.MNISTNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        data.mnist(tmp_path, split="test")


# --- mnist: malformed files --------------------------------------------------------------------

def test_mnist_images_and_labels_swapped(tmp_path):
    images, labels = write_mnist(tmp_path, TEST_FILES[::-1], n=3)
    with pytest.raises(ValueError) as info:
        data.mnist(tmp_path, split="test")
    assert "t10k-images-idx3-ubyte.gz" in str(info.value) and "2051" in str(info.value)


def test_mnist_wrong_magic_number(tmp_path):
    write_mnist(tmp_path, TEST_FILES, n=3)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    write(path, b"\x12\x34" + gzip.decompress(path.read_bytes())[2:])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: wrong magic number 0x12340801"):
        data.mnist(tmp_path, split="test")


def test_mnist_truncated_images(tmp_path):
    write_mnist(tmp_path, TEST_FILES, n=3, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte: truncated"):
        data.mnist(tmp_path, split="test")


def test_mnist_label_count_mismatch(tmp_path):
    write_mnist(tmp_path, TEST_FILES, n=5)
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.arange(4, dtype=np.uint8)))
    with pytest.raises(ValueError) as info:
        data.mnist(tmp_path, split="test")
    message = str(info.value)
    assert "5 images" in message and "4 labels" in message and "t10k-labels-idx1-ubyte.gz" in message


def test_mnist_wrong_image_size(tmp_path):
    write_mnist(tmp_path, TEST_FILES, n=2)
    write(tmp_path / "t10k-images-idx3-ubyte.gz", idx_bytes(np.zeros((2, 27, 28), np.uint8)))
    with pytest.raises(ValueError, match="28x28 images, found 27x28"):
        data.mnist(tmp_path, split="test")


def test_mnist_wrong_image_dims(tmp_path):
    write_mnist(tmp_path, TEST_FILES, n=2)
    write(tmp_path / "t10k-images-idx3-ubyte.gz", idx_bytes(np.zeros((2, 784), np.uint8)))
    with pytest.raises(ValueError, match=r"shape \(2, 784\)"):
        data.mnist(tmp_path, split="test")


def test_mnist_label_out_of_range(tmp_path):
    write_mnist(tmp_path, TEST_FILES, n=3)
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.array([1, 10, 2], np.uint8)))
    with pytest.raises(ValueError, match="digits 0..9"):
        data.mnist(tmp_path, split="test")


# --- mnist: download (with fake servers) -------------------------------------------------------

def fake_mnist_contents(n=4):
    rng = np.random.default_rng(7)
    return {TEST_FILES[0]: idx_bytes(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
            TEST_FILES[1]: idx_bytes(rng.integers(0, 10, n, dtype=np.uint8))}


def install_server(monkeypatch, contents, down=()):
    """Serve gzipped contents[name] at every mirror except those listed in `down`; log the URLs."""
    requested = []

    def urlopen(url, timeout=None):
        requested.append(url)
        assert timeout is not None, "downloads must use a timeout"
        if any(url.startswith(mirror) for mirror in down):
            raise urllib.error.URLError("connection refused")
        name = url.rsplit("/", 1)[1].removesuffix(".gz")
        return io.BytesIO(gzip.compress(contents[name]))

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return requested


def test_download_without_network_says_what_to_do(tmp_path):
    with pytest.raises(data.MNISTNotFoundError) as info:
        data.mnist(tmp_path / "cache", download=True, split="test")
    message = str(info.value)
    for mirror in data.MNIST_MIRRORS:
        assert mirror + "t10k-images-idx3-ubyte.gz" in message
    assert "network disabled in tests" in message and "mnist.npz" in message
    assert list((tmp_path / "cache").iterdir()) == []  # no partial files left behind


def test_download_verifies_caches_atomically_and_reuses_the_cache(tmp_path, monkeypatch):
    contents = fake_mnist_contents()
    monkeypatch.setattr(data, "_MNIST_MD5", {n: hashlib.md5(c).hexdigest() for n, c in contents.items()})
    requested = install_server(monkeypatch, contents)
    folder = tmp_path / "cache"
    x, y = data.mnist(folder, download=True, split="test")
    assert x.shape == (4, 1, 28, 28) and len(requested) == 2
    assert sorted(p.name for p in folder.iterdir()) == sorted(name + ".gz" for name in TEST_FILES)
    assert gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes()) == contents[TEST_FILES[1]]
    np.testing.assert_array_equal(data.mnist(folder, download=True, split="test")[1], y)
    assert len(requested) == 2  # the second call used the cache


def test_download_falls_back_to_the_next_mirror(tmp_path, monkeypatch):
    contents = fake_mnist_contents()
    monkeypatch.setattr(data, "_MNIST_MD5", {n: hashlib.md5(c).hexdigest() for n, c in contents.items()})
    requested = install_server(monkeypatch, contents, down=data.MNIST_MIRRORS[:1])
    x, y = data.mnist(tmp_path, download=True, split="test")
    assert len(y) == 4
    assert requested[0].startswith(data.MNIST_MIRRORS[0]) and requested[1].startswith(data.MNIST_MIRRORS[1])


def test_download_with_wrong_checksum_is_rejected_and_not_cached(tmp_path, monkeypatch):
    requested = install_server(monkeypatch, fake_mnist_contents())  # real checksums, fake content
    folder = tmp_path / "cache"
    with pytest.raises(data.MNISTNotFoundError) as info:
        data.mnist(folder, download=True, split="test")
    assert "checksum mismatch" in str(info.value) and data._MNIST_MD5[TEST_FILES[0]] in str(info.value)
    assert len(requested) == len(data.MNIST_MIRRORS)  # every mirror was tried
    assert list(folder.iterdir()) == []


def test_download_of_a_non_gzip_page_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(b"\x1f\x8b<html>"))
    with pytest.raises(data.MNISTNotFoundError, match="damaged gzip"):
        data.mnist(tmp_path, download=True, split="test")
    assert list(tmp_path.iterdir()) == []


# --- mnist: the real test set --------------------------------------------------------------------

def real_mnist_dir():
    if os.environ.get("COURSE_MNIST_DIR"):
        return Path(os.environ["COURSE_MNIST_DIR"])
    return Path(__file__).resolve().parents[2] / "shared/data/mnist"


def test_real_mnist_test_set():
    folder = real_mnist_dir()
    if not all(data._find(folder, name) for name in TEST_FILES):
        pytest.skip(f"the real MNIST test files are not in {folder} (set COURSE_MNIST_DIR to their folder)")
    for name in TEST_FILES:  # the checksums the downloader trusts match the real files
        content = gzip.decompress(data._find(folder, name).read_bytes())
        assert hashlib.md5(content).hexdigest() == data._MNIST_MD5[name]
    x, y = data.mnist(folder, split="test")
    assert x.shape == (10_000, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (10_000,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert 0.10 < x.mean() < 0.16  # MNIST digits cover about 13% of the frame
    assert list(y[:8]) == [7, 2, 1, 0, 4, 1, 4, 9]  # the famous first test digits
    counts = np.bincount(y, minlength=10)
    assert counts.sum() == 10_000 and counts.min() > 800 and counts.max() < 1200


# --- DataLoader ----------------------------------------------------------------------------------

@settings(max_examples=80, deadline=None)
@given(n=st.integers(0, 40), batch_size=st.integers(1, 12), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_dataloader_covers_every_example_once(n, batch_size, shuffle, drop_last, seed):
    x = np.arange(n * 2).reshape(n, 2)
    y = np.arange(n)
    loader = data.DataLoader(x, y, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    batches = list(loader)
    assert len(batches) == len(loader)
    assert all(len(xb) == batch_size for xb, _ in batches[:-1])
    assert all(len(xb) == len(yb) and np.array_equal(xb[:, 0], 2 * yb) for xb, yb in batches)
    seen = np.concatenate([yb for _, yb in batches]) if batches else np.array([], int)
    if drop_last:
        assert len(seen) == n - n % batch_size
        assert len(set(seen)) == len(seen)
    else:
        assert sorted(seen) == list(range(n))
    if not shuffle:
        assert list(seen) == list(range(len(seen)))


def test_dataloader_reshuffles_each_epoch_reproducibly():
    x = np.arange(100)
    a, b = data.DataLoader(x, x, 10, seed=3), data.DataLoader(x, x, 10, seed=3)
    epochs_a = [np.concatenate([yb for _, yb in a]) for _ in range(3)]
    epochs_b = [np.concatenate([yb for _, yb in b]) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    assert not np.array_equal(epochs_a[0], x)
    other = np.concatenate([yb for _, yb in data.DataLoader(x, x, 10, seed=4)])
    assert not np.array_equal(other, epochs_a[0])


def test_dataloader_len_and_last_batch():
    x = np.zeros((10, 1, 8, 8), np.float32)
    y = np.arange(10)
    assert len(data.DataLoader(x, y, 4)) == 3
    assert len(data.DataLoader(x, y, 4, drop_last=True)) == 2
    assert [len(yb) for _, yb in data.DataLoader(x, y, 4, shuffle=False)] == [4, 4, 2]
    assert next(iter(data.DataLoader(x, y, 4)))[0].shape == (4, 1, 8, 8)


@pytest.mark.parametrize("kwargs, match", [
    (dict(x=np.zeros((3, 2)), y=np.zeros(4)), "same number of examples"),
    (dict(x=np.zeros(3), y=np.zeros(3), batch_size=0), "positive integer"),
    (dict(x=np.zeros(3), y=np.zeros(3), batch_size=2.5), "positive integer"),
])
def test_dataloader_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.DataLoader(**kwargs)


# --- imports -----------------------------------------------------------------------------------

def test_import_course_data_loads_neither_sklearn_nor_plotting():
    code = ("import sys, course.data\n"
            "heavy = [m for m in ('sklearn', 'matplotlib', 'torch', 'urllib.request') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]" and out.stderr == ""
