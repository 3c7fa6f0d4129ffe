"""microgradx.data: the geometry of each data set, determinism, splitting and batching."""

import math

import numpy as np
import pytest

from microgradx.data import (
    make_blobs,
    make_circles,
    make_moons,
    make_sine,
    make_spirals,
    make_xor,
    minibatches,
    train_test_split,
)

GENERATORS = [make_moons, make_circles, make_xor, make_spirals, make_blobs, make_sine]


@pytest.mark.parametrize("make", GENERATORS)
def test_shapes_and_determinism(make):
    X, y = make(37, seed=3)
    assert X.shape[0] == y.shape[0] == 37 and X.ndim == 2 and y.ndim == 1
    assert np.all(np.isfinite(X)) and X.dtype == float
    X2, y2 = make(37, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    X3, _ = make(37, seed=4)
    assert not np.array_equal(X, X3)
    X4, y4 = make(37, seed=np.random.default_rng(3))  # a Generator works like its seed
    assert np.array_equal(X, X4) and np.array_equal(y, y4)


@pytest.mark.parametrize("make", GENERATORS)
def test_bad_arguments(make):
    with pytest.raises(ValueError, match="n_samples must be a whole number >= 1, got 0"):
        make(0)
    with pytest.raises(TypeError, match=r"seed must be an int, a numpy\.random\.Generator or None"):
        make(10, seed=1.5)
    if make is make_blobs:  # its noise is the spread of each blob
        with pytest.raises(ValueError, match=r"std \(the standard deviation .*\) must be a finite number >= 0"):
            make(10, std=-0.1)
    else:
        with pytest.raises(ValueError, match=r"noise \(the standard deviation .*\) must be a finite number >= 0"):
            make(10, noise=-0.1)


def test_moons_lie_on_two_half_circles():
    X, y = make_moons(101, seed=0)
    upper, lower = X[y == 0], X[y == 1]
    assert len(upper) == 50 and len(lower) == 51
    assert np.allclose(np.hypot(upper[:, 0], upper[:, 1]), 1) and np.all(upper[:, 1] >= -1e-12)
    assert np.allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1) and np.all(lower[:, 1] <= 0.5 + 1e-12)
    noisy, _ = make_moons(101, noise=0.1, seed=0)
    assert 0.05 < np.std(noisy - X) < 0.15  # the same shuffle, plus N(0, 0.1^2) noise


def test_circles_xor_spirals_blobs_sine():
    X, y = make_circles(40, factor=0.3, seed=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(radius[y == 0], 1) and np.allclose(radius[y == 1], 0.3)

    X, y = make_xor(200, seed=0)
    assert np.all(np.abs(X) <= 1) and set(y.tolist()) == {0, 1}
    assert np.array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))

    X, y = make_spirals(100, n_classes=3, seed=0)
    assert np.bincount(y).tolist() == [34, 33, 33]
    assert np.all(np.hypot(X[:, 0], X[:, 1]) <= 1 + 1e-12)

    centers = [[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]]
    X, y = make_blobs(400, centers=centers, std=0.5, seed=0)
    for k, center in enumerate(centers):
        assert np.allclose(X[y == k].mean(axis=0), center, atol=0.15)
        assert X[y == k].std() == pytest.approx(0.5, rel=0.1)
    X, y = make_blobs(30, centers=5, seed=0)
    assert np.bincount(y).tolist() == [6] * 5
    with pytest.raises(ValueError, match="centers must be a number of clusters or a list of points"):
        make_blobs(10, centers=[1.0, 2.0])

    X, y = make_sine(50, low=0, high=1, seed=0)
    assert X.shape == (50, 1) and np.all((X >= 0) & (X <= 1)) and np.allclose(y, np.sin(X[:, 0]))
    with pytest.raises(ValueError, match="needs low < high"):
        make_sine(5, low=1, high=0)


def test_train_test_split():
    X, y = np.arange(40).reshape(20, 2), np.arange(20)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
    assert len(X_test) == 5 and len(X_train) == 15
    assert sorted(y_train.tolist() + y_test.tolist()) == list(range(20))  # a partition
    assert np.array_equal(X_train[:, 0] // 2, y_train) and np.array_equal(X_test[:, 0] // 2, y_test)  # rows stay paired
    again = train_test_split(X, y, test_size=0.25, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(again, (X_train, X_test, y_train, y_test)))
    assert len(train_test_split(X, y, test_size=3, seed=0)[1]) == 3
    assert len(train_test_split(X, y, test_size=0.01, seed=0)[1]) == 1  # rounds up: never an empty test set
    for bad in (0, 20, 1.0, -0.5, "half"):
        with pytest.raises(ValueError, match="test_size"):
            train_test_split(X, y, test_size=bad)
    with pytest.raises(ValueError, match="X has 20 rows but y has 19 entries"):
        train_test_split(X, y[:-1])


def test_minibatches_cover_every_example_once():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    batches = list(minibatches(X, y, batch_size=4, seed=0))
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    assert all(np.array_equal(Xb[:, 0] // 2, yb) for Xb, yb in batches)
    (one,) = [yb.tolist() for _, yb in minibatches(X, y, seed=0)]  # batch_size None: all, shuffled
    assert sorted(one) == list(range(10))
    whole = list(minibatches(X, y, shuffle=False))
    assert len(whole) == 1 and whole[0][1].tolist() == list(range(10))
    rng = np.random.default_rng(0)
    first = [yb.tolist() for _, yb in minibatches(X, y, 5, seed=rng)]
    second = [yb.tolist() for _, yb in minibatches(X, y, 5, seed=rng)]
    assert first != second  # one Generator: a new order each epoch
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1, got 0"):
        list(minibatches(X, y, batch_size=0))
    with pytest.raises(ValueError, match="X and y must be lists or arrays"):
        list(minibatches(1.0, 2.0))


def test_moons_are_learnable_but_not_linearly_separable():
    # A sanity check on the geometry: the best line through moons misclassifies some points.
    X, y = make_moons(200, seed=0)
    A = np.column_stack([X, np.ones(len(X))])
    w, *_ = np.linalg.lstsq(A, 2 * y - 1, rcond=None)
    accuracy = np.mean((A @ w > 0) == (y == 1))
    assert 0.7 < accuracy < 1.0
    assert math.isclose(np.mean(y), 0.5, abs_tol=0.01)


def test_numpy_scalars_are_accepted_and_bad_factors_named():
    X, _ = make_moons(6, noise=np.float32(0.1), seed=0)
    assert X.shape == (6, 2)
    for factor in ("x", 0.0, 1.0, None):
        with pytest.raises(ValueError, match="factor is the inner radius over the outer one"):
            make_circles(6, factor=factor, seed=0)
