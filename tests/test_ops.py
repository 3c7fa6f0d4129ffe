"""Every op in the derivative table, tested the moment it is added.

The cases are generated from ``ops.PRIMITIVES`` plus representative constants of the parametrized
ops, so a new entry in the table is picked up here without touching this file. For each op,
hypothesis draws points from the op's valid domain (``Op.valid``, away from ``Op.kinks``) and checks:

- the forward rule matches an independent closed form (Python's math module or the definition);
- the analytic first derivative (backward) equals a central finite difference of the forward rule;
- the second derivative (grad with create_graph=True, then grad again) equals a central finite
  difference of the first derivative.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from reference import central_differences

from microgradx import Value, grad, ops
from microgradx.engine import apply_op

EPS = 1e-6  # central difference step: truncation error ~ EPS^2 f''', rounding ~ 1e-16 |f| / EPS
RTOL, ATOL = 1e-5, 1e-6
MARGIN = 0.05  # distance kept from the edge of an op's domain

# Ops with constants, as the engine makes them: one case per constant.
PARAMETRIZED = [ops.pow_op(n) for n in (2.0, 3.0, -1.0, -2.0, 0.5, 1.5, 0.0, 1.0)] + [
    ops.leaky_relu_op(0.01),
    ops.leaky_relu_op(0.2),
    ops.elu_op(1.0),
    ops.elu_op(0.5),
]
FIXED_ARITY = [op for op in ops.PRIMITIVES.values() if op.arity is not None]
VARIADIC = [op for op in ops.PRIMITIVES.values() if op.arity is None]
ALL_OPS = FIXED_ARITY + PARAMETRIZED


def _gelu(x: float) -> float:
    return 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


# Independent closed forms for the forward rules, written from the definitions.
CLOSED_FORMS = {
    "+": lambda a, b: a + b,
    "*": lambda a, b: a * b,
    "**": lambda a, b: math.exp(b * math.log(a)),
    "exp": math.exp,
    "log": math.log,
    "sqrt": lambda x: x**0.5,
    "abs": lambda x: x if x >= 0 else -x,
    "tanh": lambda x: (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1),
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)),
    "relu": lambda x: max(x, 0.0),
    "gelu": _gelu,
    "softplus": lambda x: math.log(1 + math.exp(x)),
    "sin": math.sin,
    "cos": math.cos,
    "leaky_relu": None,  # depends on the slope: checked through the derivative tests
    "elu": None,
}


def _sample(data: st.DataObject, op: ops.Op, n: int, lo: float = -4.0, hi: float = 4.0) -> list[float]:
    """n points where op is valid and smooth, with a margin from the domain's edge.

    Near a singularity (log at 0+) the finite difference itself is wrong: its truncation error
    EPS^2 f'''(x) / 6 grows like x^-3. The margin keeps the reference honest, not the engine.
    """
    xs = [data.draw(st.floats(lo, hi, allow_nan=False), label=f"x{i}") for i in range(n)]
    for shift in (-MARGIN, 0.0, MARGIN):
        for i in range(n):
            shifted = list(xs)
            shifted[i] += shift
            assume(op.valid is None or op.valid(*shifted))
    # Every domain edge in the table sits at 0 (log, sqrt, x ** -n, a ** b): keep away from it too,
    # so that an interval around x cannot straddle a pole the endpoints do not see.
    for i in range(n):
        at_zero = list(xs)
        at_zero[i] = 0.0
        if op.valid is not None and not op.valid(*at_zero):
            assume(abs(xs[i]) > MARGIN)
    for kink in op.kinks:
        assume(all(abs(x - kink) > 1e-3 for x in xs))
    return xs


def _partials_by_differences(f, xs: list[float]) -> list[float]:
    return central_differences(lambda point: f(*point), xs, EPS)


def _analytic_partials(op: ops.Op, xs: list[float]) -> list[float]:
    inputs = [Value(x) for x in xs]
    out = apply_op(op, *inputs)
    out.backward()
    return [v.grad for v in inputs]


def _close(a: float, b: float, rtol: float = RTOL, atol: float = ATOL) -> bool:
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_first_derivative_matches_central_difference(op: ops.Op, data: st.DataObject) -> None:
    xs = _sample(data, op, op.arity)
    analytic = _analytic_partials(op, xs)
    numeric = _partials_by_differences(op.forward, xs)
    for a, n in zip(analytic, numeric):
        assert _close(a, n), f"{op.name} at {xs}: analytic {analytic} vs numeric {numeric}"


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_second_derivative_matches_difference_of_first(op: ops.Op, data: st.DataObject) -> None:
    xs = _sample(data, op, op.arity, -3.0, 3.0)
    inputs = [Value(x) for x in xs]
    out = apply_op(op, *inputs)
    firsts = grad(out, inputs, create_graph=True)
    for i, first in enumerate(firsts):
        analytic = grad(first, inputs)  # row i of the Hessian

        def first_partial(*point: float, i: int = i) -> float:
            return _analytic_partials(op, list(point))[i]

        numeric = _partials_by_differences(first_partial, xs)
        for a, n in zip(analytic, numeric):
            assert _close(a, n, rtol=1e-4, atol=1e-5), f"{op.name} at {xs}: d2 {analytic} vs {numeric}"


@pytest.mark.parametrize("op", [op for op in FIXED_ARITY if CLOSED_FORMS.get(op.name)], ids=lambda op: op.name)
@given(data=st.data())
def test_forward_matches_closed_form(op: ops.Op, data: st.DataObject) -> None:
    xs = _sample(data, op, op.arity)
    expected = CLOSED_FORMS[op.name](*xs)
    assert _close(apply_op(op, *xs).data, expected, rtol=1e-9, atol=1e-12)


def test_every_fixed_op_has_a_closed_form_entry() -> None:
    """A new op needs an independent forward formula above, so its forward rule is checked too."""
    assert {op.name for op in FIXED_ARITY} <= set(CLOSED_FORMS)


@pytest.mark.parametrize("op", VARIADIC, ids=lambda op: op.name)
@given(data=st.data(), n=st.integers(1, 4))
def test_variadic_ops_first_and_second_derivatives(op: ops.Op, data: st.DataObject, n: int) -> None:
    count = 2 * n if op is ops.DOT else n  # dot takes the ws then the xs
    xs = _sample(data, op, count)
    analytic = _analytic_partials(op, xs)
    numeric = _partials_by_differences(op.forward, xs)
    assert all(_close(a, b) for a, b in zip(analytic, numeric)), (analytic, numeric)
    inputs = [Value(x) for x in xs]
    firsts = grad(apply_op(op, *inputs), inputs, create_graph=True)
    hessian_row = grad(firsts[0], inputs)
    numeric_row = _partials_by_differences(lambda *p: _analytic_partials(op, list(p))[0], xs)
    assert all(_close(a, b, 1e-4, 1e-5) for a, b in zip(hessian_row, numeric_row))


@pytest.mark.parametrize(
    ("op", "x"), [(ops.RELU, 2.0), (ops.RELU, -2.0), (ops.ABS, -1.5), (ops.leaky_relu_op(0.1), -3.0)]
)
def test_piecewise_linear_ops_have_zero_curvature(op: ops.Op, x: float) -> None:
    v = Value(x)
    (first,) = grad(apply_op(op, v), [v], create_graph=True)
    assert grad(first, [v]) == (0.0,)


def test_kink_conventions_match_pytorch() -> None:
    # At x = 0: relu' = 0 and abs' = 0 (the subgradient PyTorch picks), leaky_relu' = slope.
    for op, expected in ((ops.RELU, 0.0), (ops.ABS, 0.0), (ops.leaky_relu_op(0.1), 0.1)):
        assert _analytic_partials(op, [0.0]) == [expected]
