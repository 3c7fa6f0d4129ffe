"""Value from arbitrary objects: a Value, or a clear TypeError or ValueError, never another exception.

The objects come from hypothesis (instances of many standard types, numbers at every edge,
NumPy scalars and arrays of every dtype) and from a few classes written to misbehave the ways
real number types do: float() returning a string, NaN, a huge int, or raising OverflowError.
An exception that the object's own ``__float__`` or ``__str__`` raises (a RuntimeError in the
user's class) is that code's own error and passes through, as it does from ``float()`` itself.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import math
import numbers
import pathlib
import uuid

import numpy as np
import pytest
from fuzzing import examples
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from microgradx import Value

fuzz = settings(max_examples=examples(300), suppress_health_check=[HealthCheck.too_slow])


class BadFloat:
    """Claims to be a real number (numbers.Real.register), then misbehaves in float()."""

    def __init__(self, result: object) -> None:
        self.result = result

    def __float__(self) -> object:
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    def __repr__(self) -> str:
        return f"BadFloat({self.result!r})"


numbers.Real.register(BadFloat)


class BadStr:
    """A label whose str() fails or returns something else than text."""

    def __init__(self, result: object) -> None:
        self.result = result

    def __str__(self) -> str:
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result  # type: ignore[return-value]


STANDARD_TYPES = [int, float, bool, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset, type(None),
                  fractions.Fraction, decimal.Decimal, range, slice, datetime.date, datetime.datetime,
                  datetime.timedelta, uuid.UUID]
plain_objects = st.one_of(st.sampled_from(STANDARD_TYPES).flatmap(st.from_type),
                          st.builds(pathlib.PurePosixPath, st.text(max_size=5)))
edge_numbers = st.one_of(
    st.integers(), st.integers(min_value=2**1000, max_value=2**2000).flatmap(lambda n: st.sampled_from([n, -n])),
    st.floats(), st.fractions(), st.decimals(), st.complex_numbers(),
    st.sampled_from([10**400, -(10**400), fractions.Fraction(10**400, 3), fractions.Fraction(1, 10**400),
                     decimal.Decimal("sNaN"), decimal.Decimal("1e400"), 2**1024, math.nan, -math.inf]),
)
numpy_objects = st.one_of(
    hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=2, max_side=2)),
    hnp.from_dtype(np.dtype("float16")), hnp.from_dtype(np.dtype("longdouble")), hnp.from_dtype(np.dtype("uint64")),
    hnp.scalar_dtypes().flatmap(hnp.from_dtype),
    st.sampled_from([np.longdouble("1e4000"), np.float32("inf"), np.timedelta64(3, "D"), np.datetime64("2020-01-01"),
                     np.bool_(True), np.int8(-128), np.uint64(2**64 - 1), np.complex128(1 + 0j), np.str_("1.5")]),
)
misbehaving = st.one_of(
    st.builds(BadFloat, st.sampled_from([OverflowError(), ValueError("v"), "1.5", None, math.nan, 1e400, 1.5,
                                         10**400, Value(2.0)])),
    st.builds(Value, st.floats(-10, 10)),
)
anything = st.one_of(plain_objects, edge_numbers, numpy_objects, misbehaving)
CLEAR = (TypeError, ValueError)  # DomainError is a ValueError


@fuzz
@given(obj=anything)
@example(obj=BadFloat(OverflowError()))
def test_value_of_anything_is_a_value_or_a_clear_error(obj: object) -> None:
    try:
        v = Value(obj)  # type: ignore[arg-type]
    except CLEAR as error:
        assert str(error), "an error must say what is wrong"
        if not isinstance(obj, (numbers.Real, np.number)):  # refused by Value itself: the message names it
            assert "Value()" in str(error), str(error)
        return
    assert isinstance(v, Value) and type(v.data) is float and math.isfinite(v.data)
    assert v.data == float(obj)  # type: ignore[arg-type]  # what Python itself makes of it
    assert isinstance(obj, (numbers.Real, np.bool_, np.number))  # only numbers become Values (BadFloat claims so)


@fuzz
@given(label=st.one_of(anything, st.builds(BadStr, st.sampled_from([5, None, "ok"]))))
def test_a_label_of_anything_is_text_or_a_clear_error(label: object) -> None:
    try:
        v = Value(1.0, label=label)  # type: ignore[arg-type]
    except CLEAR as error:
        assert str(error)
        return
    assert isinstance(v.label, str)


@fuzz
@given(obj=anything, op=st.sampled_from(["+", "-", "*", "/", "**", "r+", "r-", "r*", "r/", "r**", "<", "<=", ">",
                                          ">="]))
def test_arithmetic_and_comparison_with_anything(obj: object, op: str) -> None:
    # An operand Value cannot use gives NotImplemented, so Python raises TypeError (or the other
    # operand handles it, as a NumPy array does); a number gives a Value, or a clear error.
    v = Value(1.5)
    operations = {
        "+": lambda: v + obj, "-": lambda: v - obj, "*": lambda: v * obj, "/": lambda: v / obj, "**": lambda: v ** obj,
        "r+": lambda: obj + v, "r-": lambda: obj - v, "r*": lambda: obj * v, "r/": lambda: obj / v,
        "r**": lambda: obj ** v, "<": lambda: v < obj, "<=": lambda: v <= obj, ">": lambda: v > obj,
        ">=": lambda: v >= obj,
    }
    try:
        result = operations[op]()
    except CLEAR:
        return
    except (ArithmeticError, decimal.DecimalException, OverflowError):
        # the other operand's own arithmetic (Decimal, NumPy, Python ints) may fail in its own way
        assert not isinstance(obj, (float, int, fractions.Fraction, Value, BadFloat)) or op.startswith("r"), (obj, op)
        return
    if op in ("<", "<=", ">", ">="):
        assert isinstance(result, (bool, np.bool_, np.ndarray)), result
    elif isinstance(result, Value):
        assert math.isfinite(result.data)


def test_the_misbehaving_numbers_are_refused_clearly() -> None:
    for result, error in [("1.5", TypeError), (math.nan, ValueError), (10**400, TypeError),
                          (OverflowError(), ValueError)]:
        with pytest.raises(error):
            Value(BadFloat(result))  # type: ignore[arg-type]
