"""Datasets for the course: scikit-learn's 8x8 digits, real MNIST, a mini-batch iterator, and the
two-dimensional toy data sets of module 01 (AND, OR, XOR, blobs, circles, moons, spirals).

Images come back as float32 arrays in NCHW layout, (N, 1, H, W), with pixels in [0, 1];
labels as int64 arrays of shape (N,). Only numpy is imported at module level; scikit-learn
is imported inside digits(), urllib only when MNIST is downloaded.
"""
import gzip
import hashlib
import math
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["Dataset", "digits", "mnist", "mnist_cache_dir", "read_idx", "DataLoader",
           "MNISTNotFoundError", "MNIST_MIRRORS",
           "BOX", "DATASETS", "make_dataset", "train_test_split", "FEATURES", "features"]


class Dataset(NamedTuple):
    """A train/test split. x_*: float32 (N, 1, H, W) in [0, 1]; y_*: int64 (N,)."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def digits(test_size=0.2, seed=0, normalize=True):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, no network needed).

    Inputs:
    - test_size: fraction of the images held out for testing (or a count, as in scikit-learn).
    - seed: seed of the split; the same seed always gives the same split.
    - normalize: if True scale pixels from 0..16 to [0, 1]; if False keep 0..16.

    Returns a Dataset (x_train, y_train, x_test, y_test) with
    - x_train: float32 (N_train, 1, 8, 8), x_test: float32 (N_test, 1, 8, 8)
    - y_train: int64 (N_train,), y_test: int64 (N_test,), digits 0..9.
    The split is stratified: every digit keeps its share in both parts.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split as split_stratified

    bunch = load_digits()
    x = bunch.images.astype(np.float32)[:, None]  # (1797, 1, 8, 8), values 0..16
    if normalize:
        x /= 16.0
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = split_stratified(
        x, y, test_size=test_size, random_state=seed, stratify=y)
    return Dataset(x_train, y_train, x_test, y_test)


# ---------------------------------------------------------------------------------------------
# IDX, the file format MNIST ships in

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _decompress_if_gzip(raw, source):
    # Detect gzip by its magic bytes, not by the name: browsers sometimes unpack a .gz and keep the name.
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{source}: damaged gzip data ({e}). Delete the file and fetch it again.") from e


def read_idx(path):
    """Read an IDX file, gzipped or not.

    An IDX file starts with a magic number of 4 bytes (two zero bytes, a type code such as 0x08
    for uint8, the number of dimensions), then one big-endian uint32 per dimension, then the
    values, big-endian, in C order.

    Inputs:
    - path: str or Path of the file.

    Returns an array of shape (d_1, ..., d_k) in native byte order, dtype from the type code.
    Raises ValueError naming the file if the magic number is wrong or the file is truncated
    or longer than its header says.
    """
    path = Path(path)
    raw = _decompress_if_gzip(path.read_bytes(), path)
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated, only {len(raw)} bytes; an IDX header needs at least 4.")
    code, ndim = raw[2], raw[3]
    if raw[:2] != b"\0\0" or code not in _IDX_TYPES:
        raise ValueError(
            f"{path}: wrong magic number 0x{raw[:4].hex()}; an IDX file starts with two zero bytes, "
            f"a type code (0x08 for uint8) and the number of dimensions. Is this an IDX file?")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated inside the header ({len(raw)} bytes, the header "
                         f"of a {ndim}-dimensional array needs {header}).")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[code])
    expected, found = math.prod(shape) * dtype.itemsize, len(raw) - header
    if found < expected:
        raise ValueError(f"{path}: truncated: the header announces shape {shape} ({expected} bytes) "
                         f"but only {found} bytes follow. Delete the file and fetch it again.")
    if found > expected:
        raise ValueError(f"{path}: {found - expected} unexpected bytes after the {expected} bytes "
                         f"of the announced shape {shape}; the file is damaged.")
    values = np.frombuffer(raw, dtype, count=math.prod(shape), offset=header)
    return values.reshape(shape).astype(dtype.newbyteorder("="))


# ---------------------------------------------------------------------------------------------
# MNIST

# MD5 of each file's *decompressed* content, so a mirror that recompressed the .gz still verifies.
_MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
_SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/",
                 "http://yann.lecun.com/exdb/mnist/")
DOWNLOAD_TIMEOUT = 30  # seconds per connection attempt


class MNISTNotFoundError(FileNotFoundError):
    """MNIST is neither in the folder nor downloadable; the message says what to do."""


def mnist_cache_dir():
    """Where mnist() looks by default: $COURSE_DATA/mnist, else ~/.cache/course/mnist."""
    root = os.environ.get("COURSE_DATA")
    return Path(root).expanduser() / "mnist" if root else Path.home() / ".cache" / "course" / "mnist"


def _find(folder, name):
    # Standard names, gzipped or not, and the dotted variant some copies use (train-images.idx3-ubyte).
    dotted = name.replace("-idx", ".idx")
    for candidate in (name + ".gz", name, dotted + ".gz", dotted):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _have(folder, split):
    return all(_find(folder, name) for name in _SPLIT_FILES[split]) or (folder / "mnist.npz").is_file()


def _how_to_get(folder, missing):
    names = [name + ".gz" for split in missing for name in _SPLIT_FILES[split]]
    sets = " and ".join({"train": "training", "test": "test"}[s] for s in missing)
    lines = [f"MNIST {sets} set not found in {folder}.",
             "To fix it, do one of these:",
             f"  - put these files (gzipped or not) in {folder}: " + ", ".join(names),
             f"  - or put an mnist.npz with arrays x_train, y_train, x_test, y_test in {folder}",
             "  - or call mnist(..., download=True) to fetch and cache the files (needs a network)",
             "  - or pass path='folder/with/the/files'"
             " (or set COURSE_DATA so that $COURSE_DATA/mnist holds them)"]
    if missing == ["train"] and _have(folder, "test"):
        lines.append("The test set is there: mnist(split='test') loads it.")
    return "\n".join(lines)


def _fetch(url, target, md5):
    """Download url, check the MD5 of its decompressed content, then move it to target in one step."""
    import urllib.request

    fd, part = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
            shutil.copyfileobj(response, out)
        content = _decompress_if_gzip(Path(part).read_bytes(), url)
        got = hashlib.md5(content, usedforsecurity=False).hexdigest()
        if got != md5:
            raise ValueError(f"checksum mismatch: MD5 {got}, expected {md5}")
        os.replace(part, target)  # atomic: the cache never holds half a file
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise


def _download(folder, split):
    folder.mkdir(parents=True, exist_ok=True)
    for name in _SPLIT_FILES[split]:
        if _find(folder, name):
            continue
        failures = []
        for mirror in MNIST_MIRRORS:
            url = mirror + name + ".gz"
            try:
                _fetch(url, folder / (name + ".gz"), _MNIST_MD5[name])
                break
            except (OSError, ValueError) as e:  # URLError, HTTPError and timeouts are OSErrors
                failures.append(f"  {url}: {e}")
        else:
            raise MNISTNotFoundError(_how_to_get(folder, [split]) + f"\nDownloading {name}.gz failed:\n"
                                     + "\n".join(failures))


def _checked(x, y, x_source, y_source):
    """Check MNIST images (N, 28, 28) uint8 and labels (N,) 0..9; return float32 NCHW and int64."""
    if x.dtype != np.uint8 or x.ndim != 3:
        raise ValueError(f"{x_source}: expected uint8 images of shape (N, 28, 28) (IDX magic number 2051), "
                         f"found {x.dtype} of shape {x.shape}. Is it a labels file or another data set?")
    if x.shape[1:] != (28, 28):
        raise ValueError(f"{x_source}: expected 28x28 images, found {x.shape[1]}x{x.shape[2]}.")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{y_source}: expected integer labels of shape (N,) (IDX magic number 2049), "
                         f"found {y.dtype} of shape {y.shape}. Is it an images file?")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{y_source}: labels must be digits 0..9, found values from {y.min()} to {y.max()}.")
    if len(x) != len(y):
        raise ValueError(f"{x_source} has {len(x)} images but {y_source} has {len(y)} labels; "
                         "the files belong to different sets or one of them is incomplete.")
    images = x.reshape(len(x), 1, 28, 28).astype(np.float32)
    images /= 255.0
    return images, y.astype(np.int64)


def _load(folder, split):
    image_file, label_file = (_find(folder, name) for name in _SPLIT_FILES[split])
    if image_file and label_file:
        return _checked(read_idx(image_file), read_idx(label_file), image_file, label_file)
    npz, keys = folder / "mnist.npz", (f"x_{split}", f"y_{split}")
    try:
        arrays = np.load(npz)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{npz}: not a readable .npz archive ({e}).") from e
    if not hasattr(arrays, "files"):
        raise ValueError(f"{npz}: holds a single array; expected an .npz archive "
                         "of x_train, y_train, x_test, y_test.")
    with arrays:
        absent = [k for k in keys if k not in arrays.files]
        if absent:
            raise ValueError(f"{npz}: has no array {', '.join(absent)} (it holds {', '.join(arrays.files)}); "
                             "expected x_train, y_train, x_test, y_test as in Keras' mnist.npz.")
        x, y = arrays[keys[0]], arrays[keys[1]]
    return _checked(x, y, f"{npz}[{keys[0]}]", f"{npz}[{keys[1]}]")


def mnist(path=None, download=False, split="both"):
    """Real MNIST: 28x28 handwritten digits, 60,000 for training and 10,000 for testing.

    Looks in `path` (default: mnist_cache_dir()) for the four IDX files under their standard
    names (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    t10k-labels-idx1-ubyte, each gzipped with .gz or not), else for an mnist.npz holding
    x_train, y_train, x_test, y_test.

    Inputs:
    - path: folder holding the files, or None for the cache folder.
    - download: if the files are missing, fetch them from a list of mirrors, check their MD5
      checksums and store them in the folder.
    - split: "both", "train" or "test". Only the files of the requested sets are needed.

    Returns
    - split="both": a Dataset (x_train, y_train, x_test, y_test);
    - split="train" or "test": a pair (x, y),
    where x is float32 (N, 1, 28, 28) in [0, 1] and y is int64 (N,).
    Raises MNISTNotFoundError (a FileNotFoundError) saying what to do if the data is missing,
    ValueError naming the file if a file is malformed.
    """
    if split not in ("both", "train", "test"):
        raise ValueError(f"split must be 'both', 'train' or 'test', not {split!r}.")
    folder = Path(path).expanduser() if path is not None else mnist_cache_dir()
    wanted = ["train", "test"] if split == "both" else [split]
    missing = [s for s in wanted if not _have(folder, s)]
    if missing and not download:
        raise MNISTNotFoundError(_how_to_get(folder, missing))
    for s in missing:
        _download(folder, s)
    parts = [_load(folder, s) for s in wanted]
    return Dataset(*parts[0], *parts[1]) if split == "both" else parts[0]


# ---------------------------------------------------------------------------------------------
# Mini-batches

class DataLoader:
    """Iterate over (x, y) in mini-batches, e.g. `for xb, yb in DataLoader(x, y, 64): ...`.

    Inputs:
    - x: array of shape (N, ...), e.g. images (N, C, H, W).
    - y: array of shape (N, ...), e.g. labels (N,) or target images.
    - batch_size: examples per batch; the last batch may be smaller (see drop_last).
    - shuffle: visit the examples in a new random order in every epoch.
    - seed: seed of those orders: the same seed gives the same sequence of epochs; None: unseeded.
    - drop_last: leave out the last batch if it has fewer than batch_size examples.

    Each iteration (epoch) yields pairs (x_batch, y_batch) of shapes (B, ...) with B <= batch_size;
    len(loader) is the number of batches per epoch.
    """

    def __init__(self, x, y, batch_size=64, shuffle=True, seed=0, drop_last=False):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
            raise ValueError(f"x and y need the same number of examples along axis 0, "
                             f"got shapes {x.shape} and {y.shape}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def __iter__(self):
        order = self._rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.x[idx], self.y[idx]


# ---------------------------------------------------------------------------------------------
# Two-dimensional toy data sets (the decision-boundary and perceptron playgrounds draw them).
# All live in the box [-BOX, BOX]^2 (before noise), have labels 0 and 1, and are reproducible
# from their seed.

BOX = 3.0  # the playgrounds draw the square [-BOX, BOX]^2

# Corners of the logic data sets: a coordinate > 0 reads as "true", < 0 as "false".
_CORNER = 1.5
_LOGIC_RULES = {
    "AND": lambda a, b: a & b,
    "OR": lambda a, b: a | b,
    "XOR": lambda a, b: a ^ b,
}

DATASETS = ("AND", "OR", "XOR", "blobs", "circles", "moons", "spirals")


def _class_sizes(n_points, n_groups):
    """Split n_points into n_groups sizes that differ by at most one."""
    base, extra = divmod(n_points, n_groups)
    return [base + (1 if i < extra else 0) for i in range(n_groups)]


def _logic(rule, n_points, rng):
    points, labels = [], []
    corners = [(a, b) for a in (False, True) for b in (False, True)]
    for (a, b), size in zip(corners, _class_sizes(n_points, 4)):
        centre = np.array([_CORNER if a else -_CORNER, _CORNER if b else -_CORNER])
        points.append(np.tile(centre, (size, 1)))
        labels.append(np.full(size, int(rule(a, b))))
    return np.concatenate(points), np.concatenate(labels)


def _blobs(n_points, rng):
    n0, n1 = _class_sizes(n_points, 2)
    X0 = rng.normal(loc=(-1.2, -1.2), scale=0.5, size=(n0, 2))
    X1 = rng.normal(loc=(1.2, 1.2), scale=0.5, size=(n1, 2))
    return np.concatenate([X0, X1]), np.repeat([0, 1], [n0, n1])


def _circles(n_points, rng):
    # Class 1: a disc of radius 1 in the middle; class 0: a ring between radii 1.8 and 2.6.
    n0, n1 = _class_sizes(n_points, 2)
    radius = np.concatenate([rng.uniform(1.8, 2.6, n0), rng.uniform(0.0, 1.0, n1)])
    angle = rng.uniform(0.0, 2 * np.pi, n_points)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return X, np.repeat([0, 1], [n0, n1])


def _moons(n_points, rng):
    # Two interleaving half circles of radius 1, centred and scaled by 1.5.
    n0, n1 = _class_sizes(n_points, 2)
    t0 = rng.uniform(0.0, np.pi, n0)
    t1 = rng.uniform(0.0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    X = 1.5 * (np.concatenate([upper, lower]) - np.array([0.5, 0.25]))
    return X, np.repeat([0, 1], [n0, n1])


def _spirals(n_points, rng):
    # Two arms, the second one the first rotated by pi; radius grows linearly with the angle.
    sizes = _class_sizes(n_points, 2)
    points = []
    for label, size in enumerate(sizes):
        s = np.linspace(0.0, 1.0, size, endpoint=False) if size else np.zeros(0)
        radius = 0.2 + 2.5 * s
        angle = 1.75 * 2 * np.pi * s + label * np.pi
        points.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
    return np.concatenate(points), np.repeat([0, 1], sizes)


def make_dataset(name, n_points=200, noise=0.0, seed=0):
    """Make one of the playground data sets.

    Inputs:
    - name: one of DATASETS: "AND", "OR", "XOR" (four clusters at the corners (+-1.5, +-1.5);
      a positive coordinate means "true"), "blobs", "circles", "moons", "spirals".
    - n_points: number of points N (>= 2), split as evenly as possible between the groups.
    - noise: standard deviation of the Gaussian noise added to every coordinate (>= 0).
    - seed: seed of the random generator; the same arguments give the same points.

    Returns a tuple of:
    - X: array of shape (N, 2), float64, the points (x1, x2).
    - y: array of shape (N,), int64, the labels 0 or 1.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if int(n_points) != n_points or n_points < 2:
        raise ValueError(f"n_points must be an integer >= 2, got {n_points!r}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise is a standard deviation and must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    n_points = int(n_points)
    if name in _LOGIC_RULES:
        X, y = _logic(_LOGIC_RULES[name], n_points, rng)
    else:
        X, y = {"blobs": _blobs, "circles": _circles, "moons": _moons, "spirals": _spirals}[name](
            n_points, rng
        )
    X = X + noise * rng.standard_normal(X.shape)
    return X.astype(np.float64), y.astype(np.int64)


def train_test_split(X, y, test_fraction=0.5, seed=0):
    """Shuffle the points and split them into a training and a test part.

    Inputs:
    - X: array of shape (N, D); y: array of shape (N,).
    - test_fraction: share of the points that go to the test part, in (0, 1).
    - seed: seed of the shuffle.

    Returns (X_train, y_train, X_test, y_test), with N - round(test_fraction * N) training points.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


# The input features of the decision-boundary playground, in the order the UI shows them.
FEATURES = {
    "x1": lambda X: X[:, 0],
    "x2": lambda X: X[:, 1],
    "x1*x2": lambda X: X[:, 0] * X[:, 1],
    "x1^2": lambda X: X[:, 0] ** 2,
    "x2^2": lambda X: X[:, 1] ** 2,
    "sin x1": lambda X: np.sin(X[:, 0]),
    "sin x2": lambda X: np.sin(X[:, 1]),
}


def features(X, names):
    """Map points to the chosen input features.

    Inputs:
    - X: array of shape (N, 2), the points (x1, x2).
    - names: sequence of F feature names, each a key of FEATURES
      ("x1", "x2", "x1*x2", "x1^2", "x2^2", "sin x1", "sin x2").

    Returns an array of shape (N, F), float64, column j holding feature names[j].
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2), got {X.shape}")
    names = list(names)
    if not names:
        raise ValueError("choose at least one feature, e.g. features(X, ['x1', 'x2'])")
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; choose from {list(FEATURES)}")
    return np.stack([FEATURES[name](X) for name in names], axis=1)
