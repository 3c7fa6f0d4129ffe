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


def whole_number(n: object, what: str, least: int = 1) -> int:
    """``n`` as an int if it is a whole number >= ``least``, else a ValueError naming ``what``.

    ``True`` is not a whole number here, although Python counts it as 1.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < least:
        raise ValueError(f"{what} must be a whole number >= {least}, got {reprlib.repr(n)}")
    return int(n)


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
