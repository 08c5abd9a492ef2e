"""Data for the examples, all offline: MNIST from IDX files you already have, scikit-learn's
bundled 8x8 digits, and small generated sets (logic gates, XOR, two moons, blobs, consecutive
ones). Nothing is ever downloaded.

Inputs come back as arrays of the requested float dtype (float32 by default), labels as int64.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

# IDX element types (the third byte of the magic number) and their big-endian numpy dtypes
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MNIST_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
               "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file (the MNIST format), gzip-compressed or raw.

    The header is two zero bytes, a type code, the number of dimensions, then each dimension
    as a big-endian 32-bit integer; the data follows in row-major order, big-endian.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (its header is {raw[:4].hex()}, expected "
                         f"0000 then a type code in {[hex(t) for t in _IDX_TYPES]})")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path}: the header announces shape {shape} ({expected} bytes), but "
                         f"the file has {len(raw)} bytes")
    data = np.frombuffer(raw, dtype, offset=offset).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def mnist_directories() -> list[Path]:
    """Where MNIST is looked for: $GRAPHNN_MNIST_DIR, then ~/.cache/graphnn/mnist."""
    places = [Path(os.environ["GRAPHNN_MNIST_DIR"])] if os.environ.get("GRAPHNN_MNIST_DIR") \
        else []
    return places + [Path.home() / ".cache" / "graphnn" / "mnist"]


def _find(directory: Path, name: str) -> Path | None:
    dotted = name.replace("-idx", ".idx")      # some copies are named train-images.idx3-ubyte
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        if (directory / candidate).is_file():
            return directory / candidate
    return None


def mnist_files(directory: str | os.PathLike | None = None) -> dict[str, Path] | None:
    """The four MNIST files in `directory` (or the first standard place holding all four)."""
    for place in [Path(directory)] if directory is not None else mnist_directories():
        found = {key: _find(place, name) for key, name in MNIST_FILES.items()}
        if all(found.values()):
            return found
    return None


def load_mnist(directory: str | os.PathLike | None = None, dtype: str = "float32",
               flatten: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) from the four standard MNIST IDX files.

    Pixels are scaled to [0, 1]; images are flattened to 784 values, or kept as (n, 1, 28, 28)
    with `flatten=False`. The files (gzip or raw) are looked for in `directory`, else in
    $GRAPHNN_MNIST_DIR, else in ~/.cache/graphnn/mnist; nothing is downloaded.
    """
    files = mnist_files(directory)
    if files is None:
        places = [str(directory)] if directory is not None else \
            [str(p) for p in mnist_directories()]
        raise FileNotFoundError(
            "MNIST files not found. Put " + ", ".join(MNIST_FILES.values()) + " (each may be "
            ".gz) in one of: " + ", ".join(places) + " (or set GRAPHNN_MNIST_DIR)")
    arrays = {key: read_idx(path) for key, path in files.items()}
    shape = (-1, 784) if flatten else (-1, 1, 28, 28)

    def images(key: str) -> np.ndarray:
        return (arrays[key].reshape(shape) / 255.0).astype(dtype)

    return (images("train_images"), arrays["train_labels"].astype(np.int64),
            images("test_images"), arrays["test_labels"].astype(np.int64))


def load_digits(dtype: str = "float32", images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 handwritten digits: 1797 examples, 10 classes, offline.

    Pixels (0..16) are scaled to [0, 1]; x is (1797, 64), or (1797, 1, 8, 8) with `images`.
    Needs scikit-learn, graphnn's `digits` extra: pip install ".[digits]" in the checkout.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError('the digits dataset comes with scikit-learn, which is not installed: '
                          'run pip install ".[digits]" in the graphnn checkout (or pip install '
                          'scikit-learn)') from None
    bunch = sklearn_digits()
    x = (bunch.data / 16.0).astype(dtype)
    return (x.reshape(-1, 1, 8, 8) if images else x), bunch.target.astype(np.int64)


def train_test_split(x: np.ndarray, y: np.ndarray, test_fraction: float = 0.2,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): a seeded random split, `test_fraction` held out.

    >>> x_train, y_train, x_test, y_test = train_test_split(np.zeros((10, 2)), np.arange(10))
    >>> len(x_train), len(x_test)
    (8, 2)
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(x))
    cut = len(x) - int(round(len(x) * test_fraction))
    train, test = order[:cut], order[cut:]
    return x[train], y[train], x[test], y[test]


def logic_gate(gate: str, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """The truth table of "and", "or", "nand" or "xor" over two inputs: x (4, 2), y (4,).

    >>> logic_gate("and")[1]
    array([0, 0, 0, 1])
    """
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    rules = {"and": x[:, 0] & x[:, 1], "or": x[:, 0] | x[:, 1],
             "nand": 1 - (x[:, 0] & x[:, 1]), "xor": x[:, 0] ^ x[:, 1]}
    if gate not in rules:
        raise ValueError(f"unknown gate {gate!r}; use one of {sorted(rules)}")
    return x.astype(dtype), rules[gate].astype(np.int64)


def xor(dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """XOR's truth table, the classic set no single perceptron separates: x (4, 2), y (4,)."""
    return logic_gate("xor", dtype)


def two_moons(n: int = 200, noise: float = 0.1, seed: int = 0,
              dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (class 0 above, class 1 below), with Gaussian noise."""
    rng = np.random.default_rng(seed)
    upper = n // 2
    angles = np.concatenate([np.linspace(0, np.pi, upper), np.linspace(0, np.pi, n - upper)])
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x[upper:] = np.stack([1 - np.cos(angles[upper:]), 0.5 - np.sin(angles[upper:])], axis=1)
    x += rng.normal(scale=noise, size=x.shape)
    y = np.concatenate([np.zeros(upper), np.ones(n - upper)]).astype(np.int64)
    order = rng.permutation(n)
    return x[order].astype(dtype), y[order]


def blobs(n: int = 200, centers: int = 2, std: float = 0.5, seed: int = 0,
          dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters in the plane, centered on a circle of radius 2, one class each.

    >>> x, y = blobs(6, centers=3)
    >>> x.shape, sorted(set(y.tolist()))
    ((6, 2), [0, 1, 2])
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % centers
    angles = 2 * np.pi * y / centers
    x = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x += rng.normal(scale=std, size=x.shape)
    order = rng.permutation(n)
    return x[order].astype(dtype), y[order].astype(np.int64)


def consecutive_ones(bits: int = 8, n: int | None = None, seed: int = 0,
                     dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """Binary strings of `bits` bits, labelled 1 when they contain two consecutive 1s.

    All 2^bits strings by default (in counting order), or `n` drawn at random. A pattern that
    no single linear threshold detects, but a small hidden layer does.

    >>> x, y = consecutive_ones(3)
    >>> [("".join(str(int(b)) for b in row), int(label)) for row, label in zip(x, y)][:4]
    [('000', 0), ('001', 0), ('010', 0), ('011', 1)]
    """
    codes = np.arange(2 ** bits) if n is None else \
        np.random.default_rng(seed).integers(0, 2 ** bits, size=n)
    x = (codes[:, None] >> np.arange(bits - 1, -1, -1)) & 1
    y = np.any(x[:, 1:] & x[:, :-1], axis=1)
    return x.astype(dtype), y.astype(np.int64)


def remember_first(n: int = 1000, steps: int = 30, symbols: int = 8, seed: int = 0,
                   dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """A memory task: `steps` random symbols (one-hot, plus a marker feature that is 1 at the
    first step only); the label is the first symbol, to be recalled after the last step.
    x (n, steps, symbols + 1), y (n,). Every later step is noise the network must keep from
    overwriting what it stored: the answer is `steps - 1` steps back.

    >>> x, y = remember_first(2, steps=4, symbols=3)
    >>> x.shape, bool((x[:, 0, :3].argmax(-1) == y).all()), x[:, :, 3].tolist()
    ((2, 4, 4), True, [[1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    """
    tokens = np.random.default_rng(seed).integers(0, symbols, size=(n, steps))
    x = np.zeros((n, steps, symbols + 1), dtype)
    x[:, :, :symbols] = np.eye(symbols, dtype=dtype)[tokens]
    x[:, 0, symbols] = 1.0
    return x, tokens[:, 0].astype(np.int64)


def reversed_digits(n: int = 1000, length: int = 8, seed: int = 0) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """A sequence-to-sequence task: random digit strings x (n, length) of ids 0..9 and the
    same strings reversed, y (n, length), for per-step labels.

    >>> x, y = reversed_digits(1, length=5, seed=1)
    >>> bool((y == x[:, ::-1]).all()), x.dtype.name
    (True, 'int64')
    """
    x = np.random.default_rng(seed).integers(0, 10, size=(n, length)).astype(np.int64)
    return x, np.ascontiguousarray(x[:, ::-1])
