"""Reference derivatives for the tests: central differences on plain floats, outside the engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def central_differences(f: Callable[[list[float]], float], xs: Sequence[float], eps: float = 1e-6) -> list[float]:
    """(f(x + eps e_i) - f(x - eps e_i)) / 2 eps for each i, where f takes a list of floats."""
    partials = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += eps
        down[i] -= eps
        partials.append((f(up) - f(down)) / (2 * eps))
    return partials


def central_differences_at(f: Callable[[], float], values: Sequence[Any], eps: float = 1e-6) -> list[float]:
    """The same for an f() that reads the ``.data`` of ``values``: each is nudged, then put back."""
    original = [v.data for v in values]

    def at(point: list[float]) -> float:
        for v, x in zip(values, point):
            v.data = x
        try:
            return f()
        finally:
            for v, x in zip(values, original):
                v.data = x

    return central_differences(at, original, eps)
