"""Composite helpers over lists of Values: sums, means, dot products and the softmax family.

Each is algebra over the primitive ops of :mod:`microgradx.ops`, so its gradient comes for free.
``sum`` and ``dot`` are single n-ary nodes (one node, not a chain of ``n`` additions), which keeps
graphs small and backward fast. The softmax family subtracts the largest input first: softmax is
unchanged by a shift, and e^(x - max) cannot overflow. The shift is a constant, so no gradient
flows through it and none is needed (the identity holds for every constant).

>>> from microgradx import Value
>>> xs = [Value(1.0), Value(2.0), Value(3.0)]
>>> round(logsumexp(xs).data, 6)
3.407606
>>> [round(p.data, 4) for p in softmax(xs)]
[0.09, 0.2447, 0.6652]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from . import ops
from .engine import Value, _apply, _operand

__all__ = ["sum", "mean", "dot", "logsumexp", "softmax", "log_softmax"]

_builtin_sum = sum


def _values(xs: Iterable[Value | float], where: str) -> tuple[Value, ...]:
    values = tuple(xs)
    if all(isinstance(v, Value) for v in values):  # the common case: nothing to convert
        return values  # type: ignore[return-value]
    converted = []
    for i, x in enumerate(values):
        v = _operand(x)
        if v is None:
            raise TypeError(f"{where} expects Values or numbers, got {x!r} at position {i}")
        converted.append(v)
    return tuple(converted)


def sum(xs: Iterable[Value | float]) -> Value:  # mirrors builtins.sum on purpose
    """x_0 + x_1 + ... as one node (d/dx_i = 1). The sum of nothing is 0.

    >>> sum([Value(1.0), 2, Value(3.0)]).data
    6.0
    """
    values = _values(xs, "sum()")
    return _apply(ops.SUM, values) if values else Value(0.0)


def mean(xs: Iterable[Value | float]) -> Value:
    """The average of the inputs.

    >>> mean([Value(1.0), Value(2.0)]).data
    1.5
    """
    values = _values(xs, "mean()")
    if not values:
        raise ValueError("mean() of an empty list is undefined; pass at least one value")
    return sum(values) / len(values)


def dot(ws: Sequence[Value | float], xs: Sequence[Value | float]) -> Value:
    """sum_i w_i x_i as one node (d/dw_i = x_i, d/dx_i = w_i).

    >>> dot([Value(1.0), Value(2.0)], [3.0, 4.0]).data
    11.0
    """
    ws_, xs_ = _values(ws, "dot()"), _values(xs, "dot()")
    if len(ws_) != len(xs_):
        raise ValueError(f"dot() needs two lists of the same length, got {len(ws_)} and {len(xs_)}")
    return _apply(ops.DOT, ws_ + xs_) if ws_ else Value(0.0)


def logsumexp(xs: Iterable[Value | float]) -> Value:
    """log(sum_i e^(x_i)), stable for large inputs: m + log(sum_i e^(x_i - m)) with m = max x_i.

    >>> round(logsumexp([Value(1000.0), Value(1000.0)]).data, 6)
    1000.693147
    """
    values = _values(xs, "logsumexp()")
    if not values:
        raise ValueError("logsumexp() of an empty list is -inf; pass at least one value")
    m = max(v.data for v in values)
    return sum([(v - m).exp() for v in values]).log() + m


def softmax(xs: Iterable[Value | float]) -> list[Value]:
    """e^(x_i) / sum_j e^(x_j), computed as e^(x_i - m) / sum_j e^(x_j - m) with m = max x_j.

    >>> [round(p.data, 3) for p in softmax([Value(0.0), Value(0.0)])]
    [0.5, 0.5]
    """
    values = _values(xs, "softmax()")
    if not values:
        return []
    m = max(v.data for v in values)
    exps = [(v - m).exp() for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def log_softmax(xs: Iterable[Value | float]) -> list[Value]:
    """x_i - logsumexp(x): the log of softmax without ever taking the log of a tiny number.

    >>> round(log_softmax([Value(0.0), Value(0.0)])[0].data, 6)
    -0.693147
    """
    values = _values(xs, "log_softmax()")
    if not values:
        return []
    lse = logsumexp(values)
    return [v - lse for v in values]
