"""Initializers: where a network's weights start, chosen so signals neither vanish nor explode.

Each initializer draws the ``fan_in`` incoming weights of one neuron in a layer of ``fan_out``
neurons from a ``random.Random``. Seed it (``seed=0`` or your own ``random.Random``) and the same
seed gives the same network. Biases start at zero.

- ``uniform``: U(-1, 1), micrograd's choice. ``MLP(2, [16, 16, 1], seed=s)`` has the very weights
  micrograd's ``MLP`` gets after ``random.seed(s)``: same draws, same order. With no seed the
  weights come from Python's global ``random``, as micrograd's do, so ``random.seed(1337);
  MLP(2, [16, 16, 1])`` is micrograd's demo model, weight for weight.
- ``xavier_*`` (Glorot & Bengio, 2010): variance 2 / (fan_in + fan_out), keeps the variance of
  signals and gradients steady through tanh and sigmoid layers.
- ``kaiming_*`` (He et al., 2015): variance 2 / fan_in, which makes up for ReLU zeroing half of
  its inputs.

A uniform U(-a, a) has variance a^2 / 3, which is where the sqrt(3) in the bounds comes from.

>>> rng = make_rng(0)
>>> [round(w, 3) for w in kaiming_uniform(4, 3, rng)]
[0.844, 0.632, -0.195, -0.591]
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

__all__ = [
    "INITIALIZERS", "make_rng", "uniform", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
]

Initializer = Callable[[int, int, random.Random], list[float]]
Seed = int | random.Random | None


def make_rng(seed: Seed) -> random.Random:
    """A ``random.Random`` from a seed: an int seeds a new one, a Random is used as it is.

    ``None`` gives Python's global generator itself (the one behind ``random.uniform``), so a
    model built without a seed draws exactly what micrograd's ``random.uniform(-1, 1)`` calls
    would draw, and ``random.seed(1337)`` before building it makes it reproducible, as in
    micrograd's demo.

    >>> make_rng(7).random() == make_rng(7).random()
    True
    >>> random.seed(1); a = make_rng(None).random()
    >>> random.seed(1); a == random.random()
    True
    """
    if isinstance(seed, random.Random):
        return seed
    if seed is None:
        # The module-level functions of ``random`` are bound methods of one hidden Random instance.
        return random.random.__self__  # type: ignore[attr-defined, no-any-return]
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, a random.Random or None, got {seed!r}")
    return random.Random(seed)


def uniform(fan_in: int, fan_out: int, rng: random.Random) -> list[float]:
    """U(-1, 1) for every weight, as micrograd does (whatever the layer size).

    >>> rng = random.Random(1337)
    >>> uniform(2, 1, make_rng(1337)) == [rng.uniform(-1, 1), rng.uniform(-1, 1)]
    True
    """
    return [rng.uniform(-1.0, 1.0) for _ in range(fan_in)]


def xavier_uniform(fan_in: int, fan_out: int, rng: random.Random, gain: float = 1.0) -> list[float]:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)); variance 2 gain^2 / (fan_in + fan_out).

    >>> bound = math.sqrt(6 / (3 + 2))
    >>> all(-bound <= w <= bound for w in xavier_uniform(3, 2, make_rng(0)))
    True
    """
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return [rng.uniform(-bound, bound) for _ in range(fan_in)]


def xavier_normal(fan_in: int, fan_out: int, rng: random.Random, gain: float = 1.0) -> list[float]:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    >>> len(xavier_normal(5, 3, make_rng(0)))
    5
    """
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return [rng.gauss(0.0, std) for _ in range(fan_in)]


def kaiming_uniform(fan_in: int, fan_out: int, rng: random.Random, gain: float = math.sqrt(2.0)) -> list[float]:
    """U(-a, a) with a = gain * sqrt(3 / fan_in); the default gain sqrt(2) suits ReLU.

    >>> bound = math.sqrt(6 / 4)
    >>> all(-bound <= w <= bound for w in kaiming_uniform(4, 1, make_rng(0)))
    True
    """
    bound = gain * math.sqrt(3.0 / fan_in)
    return [rng.uniform(-bound, bound) for _ in range(fan_in)]


def kaiming_normal(fan_in: int, fan_out: int, rng: random.Random, gain: float = math.sqrt(2.0)) -> list[float]:
    """N(0, std^2) with std = gain / sqrt(fan_in); the default gain sqrt(2) suits ReLU.

    >>> len(kaiming_normal(4, 1, make_rng(0)))
    4
    """
    std = gain / math.sqrt(fan_in)
    return [rng.gauss(0.0, std) for _ in range(fan_in)]


INITIALIZERS: dict[str, Initializer] = {
    "uniform": uniform,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "kaiming_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal,
}
