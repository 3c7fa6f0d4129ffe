"""Argument checks shared by every module, so each kind of mistake gets one wording everywhere.

>>> whole_number(3, "epochs")
3
>>> whole_number(0, "epochs")
Traceback (most recent call last):
...
ValueError: epochs must be a whole number >= 1, got 0
>>> real_number(0.5, "lr", low=0.0)
0.5
"""

from __future__ import annotations

import math
import numbers
import reprlib


def whole_number(n: object, what: str, least: int = 1, most: int | None = None) -> int:
    """``n`` as an int if it is a whole number >= ``least`` (and <= ``most``), else a ValueError naming ``what``.

    ``True`` is not a whole number here, although Python counts it as 1.

    >>> whole_number(2**60, "step_count", least=0, most=2**53)
    Traceback (most recent call last):
    ...
    ValueError: step_count must be a whole number from 0 to 9007199254740992, got 1152921504606846976
    """
    if isinstance(n, numbers.Integral) and not isinstance(n, bool):
        k = int(n)
        if least <= k and (most is None or k <= most):
            return k
    limits = f">= {least}" if most is None else f"from {least} to {most}"
    raise ValueError(f"{what} must be a whole number {limits}, got {reprlib.repr(n)}")


def real_number(
    x: object, what: str, low: float = -math.inf, high: float = math.inf, *, open_high: bool = False
) -> float:
    """``x`` as a float if it is a finite real number in [low, high] (or [low, high)).

    The error names ``what``, the range and what it got.
    """
    ok = isinstance(x, numbers.Real) and not isinstance(x, bool)
    try:
        ok = ok and math.isfinite(x)  # type: ignore[arg-type]
    except OverflowError:  # an int too large for a float
        ok = False
    if ok and low <= x and (x < high if open_high else x <= high):  # type: ignore[operator]
        return float(x)  # type: ignore[arg-type]
    if high == math.inf:
        at_least = "" if low == -math.inf else f" >= {low:g}"
        raise ValueError(f"{what} must be a finite number{at_least}, got {reprlib.repr(x)}")
    bracket = ")" if open_high else "]"
    raise ValueError(f"{what} must be a number in [{low:g}, {high:g}{bracket}, got {reprlib.repr(x)}")
