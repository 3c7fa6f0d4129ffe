"""Data sets to train on: toy ones made with numpy, two real ones shipped with the package, and the
tools to split them, encode their labels and walk them in batches.

Every generator and loader returns ``(X, y)``: ``X`` a float array with one row per point, ``y``
the labels (ints 0, 1, ...) or, for regression, the targets (floats). Generated points come
shuffled. Randomness comes from ``seed``, an int or a ``numpy.random.Generator`` (or a legacy
``numpy.random.RandomState``), so the same seed gives the same data. With no seed the draws come
from NumPy's global random state, as scikit-learn's do with ``random_state=None``:
``np.random.seed(s)`` first makes them repeatable. Nothing here needs scikit-learn; the shapes
follow its ``make_*`` and ``load_*``, and :func:`make_moons` draws in its order, so
``np.random.seed(1337); make_moons(100, noise=0.1)`` is the very data of micrograd's demo notebook
(which calls scikit-learn's ``make_moons`` after ``np.random.seed(1337)``). The real data sets
(:func:`load_digits`, :func:`load_iris`) are read offline from files inside the package;
``microgradx/datasets/README.md`` gives their sources and license (CC BY 4.0).

>>> X, y = make_moons(100, noise=0.1, seed=0)
>>> X.shape, y.shape, sorted(set(y.tolist()))
((100, 2), (100,), [0, 1])
"""

from __future__ import annotations

import gzip
import math
import reprlib
from collections.abc import Iterator
from importlib import resources
from typing import Any, Union

import numpy as np

from ._checks import real_number, whole_number

__all__ = [
    "make_moons", "make_circles", "make_xor", "make_spirals", "make_blobs", "make_sine",
    "load_digits", "load_iris", "one_hot", "train_test_split", "minibatches",
]

Seed = Union[int, np.random.Generator, np.random.RandomState, None]
Array = np.ndarray
RNG = Union[np.random.Generator, np.random.RandomState]  # both draw with permutation, uniform, normal


def _rng(seed: Seed) -> RNG:
    """The generator to draw from: a Generator or RandomState as given, a new Generator for an int,
    and for None NumPy's global RandomState (the one ``np.random.seed`` seeds), as scikit-learn does."""
    if isinstance(seed, (np.random.Generator, np.random.RandomState)):
        return seed
    if seed is None:
        return _global_random_state()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, a numpy.random.Generator or None, got {seed!r}")
    return np.random.default_rng(seed)


def _global_random_state() -> np.random.RandomState:
    # np.random.permutation, np.random.normal, ... are bound methods of this one RandomState.
    return np.random.permutation.__self__  # type: ignore[attr-defined, no-any-return]


def _noise(noise: object, what: str = "noise") -> float:
    return real_number(noise, f"{what} (the standard deviation of the added noise)", low=0.0)


def _finish(X: Array, y: Array, noise: float, rng: RNG) -> tuple[Array, Array]:
    """Shuffle the points, then add Gaussian noise of standard deviation ``noise`` to them.

    The order of the draws is scikit-learn's: one permutation of the rows, then the noise for
    every coordinate, row by row (none drawn when ``noise`` is 0).
    """
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    if noise:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, y


def make_moons(n_samples: int = 100, noise: float = 0.0, seed: Seed = None) -> tuple[Array, Array]:
    """Two interleaved half circles, classes 0 (the upper one) and 1: the data of micrograd's demo.

    The upper moon is (cos t, sin t), the lower one (1 - cos t, 1 - sin t - 0.5), for t evenly
    spaced in [0, pi]: ``n_samples // 2`` points up, the rest down (scikit-learn's
    ``make_moons``, whose points and order of random draws this follows, so with a
    ``RandomState``, or with no seed after ``np.random.seed``, it gives scikit-learn's data).

    >>> X, y = make_moons(4, seed=0)
    >>> X.round(2).tolist(), y.tolist()
    ([[0.0, 0.5], [1.0, 0.0], [-1.0, 0.0], [2.0, 0.5]], [1, 0, 0, 1])
    >>> np.random.seed(1337)
    >>> make_moons(100, noise=0.1)[0][:2].round(4).tolist()    # micrograd's demo data begins
    [[1.1221, 0.0815], [-0.8188, 0.0588]]
    """
    n_samples, noise, rng = whole_number(n_samples, "n_samples"), _noise(noise), _rng(seed)
    n_upper = n_samples // 2
    t_upper, t_lower = np.linspace(0, math.pi, n_upper), np.linspace(0, math.pi, n_samples - n_upper)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    # (1 - sin t) - 0.5 rather than 0.5 - sin t: the same number, but rounded as scikit-learn rounds
    # it, so the points agree to the last bit (a handful differ in the last bit otherwise).
    lower = np.column_stack([1 - np.cos(t_lower), (1 - np.sin(t_lower)) - 0.5])
    y = np.repeat([0, 1], [n_upper, n_samples - n_upper])
    return _finish(np.vstack([upper, lower]), y, noise, rng)


def make_circles(
    n_samples: int = 100, noise: float = 0.0, factor: float = 0.5, seed: Seed = None
) -> tuple[Array, Array]:
    """A circle of radius 1 (class 0) around a circle of radius ``factor`` (class 1).

    >>> X, y = make_circles(8, factor=0.5, seed=0)
    >>> sorted(np.hypot(X[:, 0], X[:, 1]).round(6).tolist()) == [0.5] * 4 + [1.0] * 4
    True
    """
    n_samples, noise, rng = whole_number(n_samples, "n_samples"), _noise(noise), _rng(seed)
    if not (isinstance(factor, (int, float, np.floating)) and 0 < factor < 1):
        raise ValueError(f"factor is the inner radius over the outer one, between 0 and 1; got {factor!r}")
    n_outer = n_samples // 2
    t_outer = np.linspace(0, 2 * math.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0, 2 * math.pi, n_samples - n_outer, endpoint=False)
    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = factor * np.column_stack([np.cos(t_inner), np.sin(t_inner)])
    y = np.repeat([0, 1], [n_outer, n_samples - n_outer])
    return _finish(np.vstack([outer, inner]), y, noise, rng)


def make_xor(n_samples: int = 100, noise: float = 0.0, seed: Seed = None) -> tuple[Array, Array]:
    """Points in the square [-1, 1]^2, class 1 where exactly one coordinate is positive: no line separates them.

    >>> X, y = make_xor(50, seed=0)
    >>> bool(np.all(y == ((X[:, 0] > 0) != (X[:, 1] > 0))))
    True
    """
    n_samples, noise, rng = whole_number(n_samples, "n_samples"), _noise(noise), _rng(seed)
    X = rng.uniform(-1, 1, size=(n_samples, 2))
    y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(int)
    return _finish(X, y, noise, rng)


def make_spirals(
    n_samples: int = 100, n_classes: int = 2, noise: float = 0.0, turns: float = 1.0, seed: Seed = None
) -> tuple[Array, Array]:
    """``n_classes`` spiral arms winding out from the centre, one class per arm (as in CS231n).

    Arm k at ``t`` in [0, 1] is at radius ``0.1 + 0.9 t`` and angle ``2 pi (turns t + k / n_classes)``.

    >>> X, y = make_spirals(90, n_classes=3, seed=0)
    >>> np.bincount(y).tolist()
    [30, 30, 30]
    """
    n_samples, n_classes = whole_number(n_samples, "n_samples"), whole_number(n_classes, "n_classes")
    noise, rng = _noise(noise), _rng(seed)
    sizes = [n_samples // n_classes + (k < n_samples % n_classes) for k in range(n_classes)]
    arms = []
    for k, n in enumerate(sizes):
        t = np.linspace(0, 1, n)
        radius, angle = 0.1 + 0.9 * t, 2 * math.pi * (turns * t + k / n_classes)
        arms.append(np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]))
    return _finish(np.vstack(arms), np.repeat(np.arange(n_classes), sizes), noise, rng)


def make_blobs(
    n_samples: int = 100, centers: int | Any = 3, std: float = 1.0, seed: Seed = None
) -> tuple[Array, Array]:
    """Gaussian clusters of standard deviation ``std``, one class per centre.

    ``centers`` is a number of clusters (their centres drawn in the square [-10, 10]^2) or the
    centres themselves, one row each (in any dimension).

    >>> X, y = make_blobs(6, centers=[[0, 0], [5, 5]], std=0.0, seed=0)
    >>> sorted(map(tuple, X.tolist())), np.bincount(y).tolist()
    ([(0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (5.0, 5.0), (5.0, 5.0), (5.0, 5.0)], [3, 3])
    """
    n_samples, std, rng = whole_number(n_samples, "n_samples"), _noise(std, "std"), _rng(seed)
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        middles = rng.uniform(-10, 10, size=(whole_number(centers, "centers"), 2))
    else:
        middles = np.asarray(centers, dtype=float)
        if middles.ndim != 2 or len(middles) == 0:
            raise ValueError(f"centers must be a number of clusters or a list of points, got {centers!r}")
    k = len(middles)
    sizes = [n_samples // k + (i < n_samples % k) for i in range(k)]
    X, y = np.repeat(middles, sizes, axis=0), np.repeat(np.arange(k), sizes)
    return _finish(X, y, std, rng)


def make_sine(
    n_samples: int = 100, noise: float = 0.0, low: float = -math.pi, high: float = math.pi, seed: Seed = None
) -> tuple[Array, Array]:
    """A 1-D regression set: x uniform in [low, high] (X has one column), y = sin(x) plus noise.

    >>> X, y = make_sine(5, seed=0)
    >>> X.shape, bool(np.allclose(y, np.sin(X[:, 0])))
    ((5, 1), True)
    """
    n_samples, noise, rng = whole_number(n_samples, "n_samples"), _noise(noise), _rng(seed)
    if not low < high:
        raise ValueError(f"make_sine() needs low < high, got low={low!r}, high={high!r}")
    x = rng.uniform(low, high, size=n_samples)
    return x[:, None], np.sin(x) + noise * rng.normal(size=n_samples)


def _data_file(name: str) -> Any:
    return resources.files("microgradx").joinpath("datasets").joinpath(name)


def load_digits() -> tuple[Array, Array]:
    """The UCI handwritten digits: 1,797 images of 8 x 8 pixels, each pixel 0-16, and their digits.

    Returns ``X``, floats of shape ``(1797, 64)`` (each row an image, row by row: reshape to
    ``(8, 8)`` to look at it), and ``y``, ints 0-9 of shape ``(1797,)``, about 180 of each digit.
    Source: E. Alpaydin and C. Kaynak, Optical Recognition of Handwritten Digits, UCI Machine
    Learning Repository (1998), https://doi.org/10.24432/C50P49, its test set; license CC BY 4.0.

    >>> X, y = load_digits()
    >>> X.shape, y.shape, float(X.min()), float(X.max()), np.bincount(y).tolist()[:3]
    ((1797, 64), (1797,), 0.0, 16.0, [178, 182, 177])
    """
    with _data_file("digits.csv.gz").open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    return table[:, :64].astype(np.float64), table[:, 64]


def load_iris() -> tuple[Array, Array]:
    """Fisher's irises: 150 flowers, 4 measurements in cm, 3 species (50 of each).

    Returns ``X``, floats of shape ``(150, 4)`` (sepal length, sepal width, petal length, petal
    width), and ``y``, ints of shape ``(150,)``: 0 setosa, 1 versicolor, 2 virginica. Source:
    R. A. Fisher (1936), via the UCI Machine Learning Repository, https://doi.org/10.24432/C56C76
    (with the two rows its notes correct); license CC BY 4.0.

    >>> X, y = load_iris()
    >>> X.shape, X[0].tolist(), np.bincount(y).tolist()
    ((150, 4), [5.1, 3.5, 1.4, 0.2], [50, 50, 50])
    """
    with _data_file("iris.csv").open("r", encoding="ascii") as text:
        table = np.loadtxt(text, delimiter=",", skiprows=1)
    return table[:, :4], table[:, 4].astype(np.int64)


def one_hot(y: Any, num_classes: int | None = None) -> Array:
    """Class labels as one-hot rows: label k becomes a row of zeros with a 1.0 at position k.

    ``num_classes`` defaults to the largest label + 1. This is how class labels reach a compiled
    loss: ``cross_entropy(logits, row)`` with a row of class probabilities (see
    :func:`microgradx.compile`).

    >>> one_hot([0, 2, 1]).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    labels = np.asarray(y)
    whole = np.issubdtype(labels.dtype, np.integer) or (
        np.issubdtype(labels.dtype, np.floating) and bool(np.all(labels == np.round(labels))))
    if labels.ndim != 1 or not whole:
        raise ValueError(f"one_hot() needs a list of class labels (whole numbers), got {reprlib.repr(y)}")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"one_hot(): class labels start at 0, got {int(labels.min())}")
    k = int(labels.max()) + 1 if labels.size else 0
    if num_classes is not None:
        num_classes = whole_number(num_classes, "one_hot(num_classes)")
        if k > num_classes:
            raise ValueError(f"one_hot(): label {k - 1} needs num_classes >= {k}, got {num_classes}")
        k = num_classes
    return np.eye(k)[labels]


def _check_xy(X: Any, y: Any, where: str) -> tuple[Array, Array]:
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{where}: X and y must be lists or arrays with one entry per example")
    if len(X) != len(y):
        raise ValueError(f"{where}: X has {len(X)} rows but y has {len(y)} entries; they must match")
    return X, y


def train_test_split(
    X: Any, y: Any, test_size: float | int = 0.25, seed: Seed = None
) -> tuple[Array, Array, Array, Array]:
    """Shuffle, then hold out ``test_size`` of the examples (a fraction, or a count) for testing.

    Returns ``X_train, X_test, y_train, y_test``, in scikit-learn's order.

    >>> X, y = make_moons(100, seed=0)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    >>> len(X_train), len(X_test)
    (80, 20)
    """
    X, y = _check_xy(X, y, "train_test_split()")
    n = len(X)
    if isinstance(test_size, float) and 0 < test_size < 1:
        n_test = math.ceil(test_size * n)
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        n_test = int(test_size)
    else:
        raise ValueError(f"test_size must be a fraction between 0 and 1 or a number of examples, got {test_size!r}")
    if not 0 < n_test < n:
        raise ValueError(f"test_size={test_size!r} leaves {n_test} of {n} examples for testing; "
                         "both the training and the test set need at least one")
    order = _rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def minibatches(
    X: Any, y: Any, batch_size: int | None = None, shuffle: bool = True, seed: Seed = None
) -> Iterator[tuple[Array, Array]]:
    """Yield ``(X_batch, y_batch)`` pairs that together cover the data once (one epoch).

    ``batch_size=None`` gives the whole set as one batch; the last batch may be smaller. With
    ``shuffle`` the order is drawn from ``seed`` (pass one Generator to get a new order each epoch).

    >>> X, y = np.arange(10).reshape(5, 2), np.arange(5)
    >>> [yb.tolist() for _, yb in minibatches(X, y, batch_size=2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """
    X, y = _check_xy(X, y, "minibatches()")
    n = len(X)
    size = n if batch_size is None else whole_number(batch_size, "batch_size")
    order = _rng(seed).permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, size):
        batch = order[start : start + size]
        yield X[batch], y[batch]
