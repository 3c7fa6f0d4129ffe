"""The derivative rules: every primitive op, its forward value and its local derivative, side by side.

An :class:`Op` pairs ``forward(*xs) -> out`` with ``derivative(*xs, out) -> (d out/d x_i, ...)``,
one local partial per input. The backward pass multiplies each partial by the gradient arriving
at ``out`` (the chain rule) and adds it to the input's gradient.

One table serves every path. For an ordinary backward pass the rules receive floats; with
``create_graph=True`` they receive the :class:`~microgradx.engine.Value` nodes themselves, so the
partials they return are Values recorded in the graph and can be differentiated again; and
:func:`microgradx.compile` hands them NumPy arrays holding a whole batch, one number per example.
That is why the rules below are written with plain arithmetic, the small helpers (``exp``,
``tanh``, ...) that accept a float, a Value or an array, and :func:`where` in place of
``a if condition else b`` (Python's ``if`` cannot look at an array one element at a time).

Adding an op is one entry here plus a method (or function) in :mod:`microgradx.engine` that applies it.

>>> EXP.forward(0.0), EXP.derivative(0.0, 1.0)
(1.0, (1.0,))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = [
    "Op", "LEAF", "hand_built", "PRIMITIVES", "DomainError", "RuleError", "pow_op", "leaky_relu_op", "elu_op",
    "exp", "log", "sqrt", "tanh", "sigmoid", "sin", "cos", "where",
]


class DomainError(ValueError, ArithmeticError):
    """An op was applied outside its domain (log of 0, sqrt of a negative, 0 ** -1, exp overflow).

    >>> from microgradx import Value
    >>> Value(0.0).log()
    Traceback (most recent call last):
    ...
    microgradx.ops.DomainError: log(x) needs x > 0, got x = 0.0
    """


class RuleError(TypeError):
    """A derivative rule broke its contract: it must return one local partial per input, as a tuple."""


class Op(str):
    """A primitive operation: its name, forward rule, local derivative and valid domain.

    ``forward(*xs)`` computes the output from the input floats. ``derivative(*xs, out)`` returns a
    tuple with one local partial ``d out / d x_i`` per input. ``domain`` is a short text such as
    ``"x > 0"`` for error messages; ``valid(*xs)`` says the same as a predicate (None: every finite
    input), for tools that pick points to test. ``kinks`` lists the inputs of a one-input op where
    its derivative jumps (relu and abs at 0): finite differences straddle the jump there.

    An Op is also a string, its name, because micrograd keeps ``_op`` as a string (``'+'``,
    ``'**2'``): code written for micrograd, such as a ``draw_dot`` that does ``str(id(n)) + n._op``,
    keeps working, and ``node._op == "+"`` is true. Two Ops with the same name are therefore equal;
    tell them apart with ``is``.

    A node built by hand the way micrograd's lectures do (``Value(data, (x,), "exp")`` and then
    ``out._backward = closure``) gets an Op of its own from :func:`hand_built`: the closure is in
    ``backward``, and its ``forward``/``derivative`` refuse with a message that says why. A leaf's
    op is :data:`LEAF`, the empty name, as micrograd's leaves have ``_op == ''``.

    >>> square = Op("square", lambda x: x * x, lambda x, out: (2 * x,), domain="any x")
    >>> square.forward(3.0), square.derivative(3.0, 9.0)
    (9.0, (6.0,))
    >>> square == "square", "node" + square
    (True, 'nodesquare')
    """

    # A str subclass cannot have __slots__ of its own; an Op is one object per op kind, not per node.
    name: str
    forward: Callable[..., Any]
    derivative: Callable[..., tuple[Any, ...]]
    domain: str
    arity: int | None
    valid: Callable[..., bool] | None
    kinks: tuple[float, ...]
    backward: Callable[[], None] | None
    user: bool

    def __new__(
        cls,
        name: str,
        forward: Callable[..., Any],
        derivative: Callable[..., tuple[Any, ...]],
        *,
        domain: str = "",
        arity: int | None = None,
        valid: Callable[..., bool] | None = None,
        kinks: tuple[float, ...] = (),
        backward: Callable[[], None] | None = None,
        user: bool = False,
    ) -> Op:
        op = super().__new__(cls, name)
        op.name = name
        op.forward = forward
        op.derivative = derivative
        op.domain = domain
        op.arity = arity  # None: any number of inputs (sum, dot)
        op.valid = valid
        op.kinks = kinks
        op.backward = backward  # nodes built by hand, micrograd-style: the closure that replaces the rule
        op.user = user  # made by define_op: its rules are the user's code, so their own errors are shown too
        return op

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __copy__(self) -> Op:  # an op is shared by every node it made: copies share it too
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Op:
        return self


def hand_built(name: str, arity: int | None, backward: Callable[[], None] | None = None) -> Op:
    """The op of a node built by hand, ``Value(data, children, name)``: no rule, maybe a closure.

    The backward pass calls ``backward`` (a closure that adds to the parents' ``.grad``, as in
    micrograd) instead of a rule. Whatever needs the rule itself (a backward pass without the
    closure, ``create_graph=True``, gradient checking's culprit finder, the animation, compile)
    gets a RuleError naming the op and the fix.

    >>> op = hand_built("exp", 1)
    >>> op == "exp", op.backward is None
    (True, True)
    """

    def no_rule(*args: Any) -> Any:
        has = "a _backward closure, which works on floats only" if backward else "no _backward closure"
        raise RuleError(f"the op {name!r} was built by hand (Value(data, children, {name!r})) and has {has}, "
                        "not a rule of the derivative table: set node._backward to a function that adds to the "
                        "parents' .grad (micrograd's way), or make the op with define_op() so every tool knows "
                        "its derivative")

    return Op(name, no_rule, no_rule, arity=arity, backward=backward)


LEAF = hand_built("", 0)  # the op of every leaf: the empty name, as micrograd's ''


# Math that works on a float (first-order backward), on a Value (create_graph=True) and on a NumPy
# array (compile: one number per example of a batch). A Value's methods apply the table's ops again,
# so second derivatives come from this same table. Derivative rules of user-defined ops use these
# too (see define_op) to be differentiable twice and to run compiled. The float case is tested
# first: the scalar engine calls these once per node.

_ndarray = np.ndarray


def exp(x: Any) -> Any:
    """e^x of a float, a Value or an array. ``exp(0.0) == 1.0``"""
    if type(x) is float:
        return math.exp(x)
    return np.exp(x) if type(x) is _ndarray else x.exp()


def log(x: Any) -> Any:
    """Natural log of a float, a Value or an array."""
    if type(x) is float:
        return math.log(x)
    return np.log(x) if type(x) is _ndarray else x.log()


def sqrt(x: Any) -> Any:
    """Square root of a float, a Value or an array."""
    if type(x) is float:
        return math.sqrt(x)
    return np.sqrt(x) if type(x) is _ndarray else x.sqrt()


def tanh(x: Any) -> Any:
    """tanh of a float, a Value or an array."""
    if type(x) is float:
        return math.tanh(x)
    return np.tanh(x) if type(x) is _ndarray else x.tanh()


def sigmoid(x: Any) -> Any:
    """1 / (1 + e^-x) of a float, a Value or an array."""
    if type(x) is float or type(x) is _ndarray:
        return _sigmoid_forward(x)
    return x.sigmoid()


def sin(x: Any) -> Any:
    """Sine of a float, a Value or an array."""
    if type(x) is float:
        return math.sin(x)
    return np.sin(x) if type(x) is _ndarray else x.sin()


def cos(x: Any) -> Any:
    """Cosine of a float, a Value or an array."""
    if type(x) is float:
        return math.cos(x)
    return np.cos(x) if type(x) is _ndarray else x.cos()


def where(condition: Any, if_true: Any, if_false: Any) -> Any:
    """``if_true if condition else if_false``, element by element when ``condition`` is an array.

    Both sides are computed before the choice (it is a function call): keep them cheap and finite
    for every input, as in leaky relu's ``where(x > 0, x, slope * x)``.

    >>> where(2.0 > 0, 1.0, 0.0), where(np.array([2.0, -1.0]) > 0, 1.0, 0.0).tolist()
    (1.0, [1.0, 0.0])
    """
    if type(condition) is _ndarray:
        return np.where(condition, if_true, if_false)
    return if_true if condition else if_false


def _log1p(x: Any) -> Any:  # forward rules only ever see floats and arrays
    return math.log1p(x) if type(x) is float else np.log1p(x)


# Forward rules that need more than one line, written to stay finite for large |x|.


def _relu(x: Any) -> Any:
    # The scalar engine's hottest rule, so a float takes the plain conditional rather than a where()
    # call (the call costs 2-3% of building and differentiating a relu-heavy graph).
    if type(x) is _ndarray:
        return np.where(x > 0, x, 0.0)
    return x if x > 0 else 0.0


def _relu_derivative(x: Any, out: Any) -> tuple[Any]:
    if type(x) is _ndarray:
        return (np.where(x > 0, 1.0, 0.0),)
    return (1.0 if x > 0 else 0.0,)  # a float, or a Value with create_graph=True (compared by its data)


def _sigmoid_forward(x: Any) -> Any:
    # 1 / (1 + e^-x) overflows e^-x for x << 0; with z = e^-|x| <= 1, the mirrored form
    # e^x / (1 + e^x) = z / (1 + z) for x < 0 never does.
    z = exp(-abs(x))
    return where(x >= 0, 1.0, z) / (1.0 + z)


def _softplus_forward(x: Any) -> Any:
    # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|): no overflow for large x, no cancellation.
    return where(x > 0, x, 0.0) + _log1p(exp(-abs(x)))


_GELU_C = math.sqrt(2.0 / math.pi)  # gelu(x) ~ x/2 (1 + tanh(c (x + 0.044715 x^3)))


def _gelu_forward(x: Any) -> Any:
    return 0.5 * x * (1.0 + tanh(_GELU_C * (x + 0.044715 * x**3)))


def _gelu_derivative(x: Any, out: Any) -> tuple[Any]:
    # Product rule on x/2 * (1 + t), t = tanh(u): d/dx = (1 + t)/2 + x/2 * (1 - t^2) * u'.
    t = tanh(_GELU_C * (x + 0.044715 * x * x * x))
    du = _GELU_C * (1.0 + 3 * 0.044715 * x * x)
    return (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du,)


def _pow_values_forward(base: Any, exponent: Any) -> Any:
    if type(base) is float:
        if base <= 0:  # b ** e with a Value exponent needs log(b), so b > 0
            raise ValueError("non-positive base")
        return math.pow(base, exponent)
    if (base <= 0).any():
        raise ValueError("non-positive base")
    return base**exponent


def _ones(*xs_and_out: Any) -> tuple[float, ...]:
    return (1.0,) * (len(xs_and_out) - 1)


def _dot_forward(*ws_then_xs: Any) -> Any:
    n = len(ws_then_xs) // 2
    return sum(w * x for w, x in zip(ws_then_xs[:n], ws_then_xs[n:]))


def _dot_derivative(*ws_then_xs_and_out: Any) -> tuple[Any, ...]:
    # d(sum w_i x_i)/dw_i = x_i and d/dx_i = w_i: the two halves swap places.
    n = (len(ws_then_xs_and_out) - 1) // 2
    return ws_then_xs_and_out[n : 2 * n] + ws_then_xs_and_out[:n]


# The table. Each entry: name, forward, local derivative(s) given the inputs and the output.
ADD = Op("+", lambda a, b: a + b, lambda a, b, out: (1.0, 1.0), arity=2)
MUL = Op("*", lambda a, b: a * b, lambda a, b, out: (b, a), arity=2)
POW = Op(  # a ** b with b a Value: d/da = b a^(b-1), d/db = a^b log a
    "**", _pow_values_forward, lambda a, b, out: (b * a ** (b - 1.0), out * log(a)),
    domain="a > 0", valid=lambda a, b: a > 0, arity=2,
)
SUM = Op("sum", lambda *xs: sum(xs), _ones)
DOT = Op("dot", _dot_forward, _dot_derivative)
EXP = Op(
    "exp", exp, lambda x, out: (out,),
    domain="x <= 709.78 (above, e^x overflows a float)", valid=lambda x: x <= 709.78, arity=1,
)
LOG = Op("log", log, lambda x, out: (1.0 / x,), domain="x > 0", valid=lambda x: x > 0, arity=1)
SQRT = Op(  # d sqrt(x) = 1 / (2 sqrt(x)), infinite at 0
    "sqrt", sqrt, lambda x, out: (0.5 / out,), domain="x >= 0", valid=lambda x: x >= 0, arity=1,
)
ABS = Op("abs", abs, lambda x, out: (where(x > 0, 1.0, where(x < 0, -1.0, 0.0)),), arity=1, kinks=(0.0,))
TANH = Op("tanh", tanh, lambda x, out: (1.0 - out * out,), arity=1)
SIGMOID = Op("sigmoid", _sigmoid_forward, lambda x, out: (out * (1.0 - out),), arity=1)
RELU = Op("relu", _relu, _relu_derivative, arity=1, kinks=(0.0,))
GELU = Op("gelu", _gelu_forward, _gelu_derivative, arity=1)
SOFTPLUS = Op("softplus", _softplus_forward, lambda x, out: (sigmoid(x),), arity=1)
SIN = Op("sin", sin, lambda x, out: (cos(x),), arity=1)
COS = Op("cos", cos, lambda x, out: (-sin(x),), arity=1)


@lru_cache(maxsize=256)
def pow_op(n: float) -> Op:
    """``x ** n`` for a constant exponent ``n``: d/dx = n x^(n-1).

    >>> pow_op(2.0).derivative(3.0, 9.0)
    (6.0,)
    """
    if n == 0:  # x ** 0 = 1 everywhere, so its derivative is 0 even at x = 0, where x ** -1 fails
        return Op("**0", lambda x: 1.0, lambda x, out: (0.0,), arity=1)
    if n == int(n):  # integer powers: any base, but 0 ** negative divides by zero
        domain, valid = ("x != 0", lambda x: x != 0) if n < 0 else ("", None)
    else:  # fractional powers of a negative number are complex
        domain, valid = ("x > 0", lambda x: x > 0) if n < 1 else ("x >= 0", lambda x: x >= 0)
    return Op(
        # math.pow raises ValueError for a negative base and a fractional n (a DomainError to the
        # engine), where x ** n on a float would give a complex number; an array takes NumPy's power.
        f"**{n:g}", lambda x: math.pow(x, n) if type(x) is float else x**n, lambda x, out: (n * x ** (n - 1.0),),
        domain=domain, valid=valid, arity=1,
    )


@lru_cache(maxsize=64)
def leaky_relu_op(slope: float) -> Op:
    """``x if x > 0 else slope * x``: the slope keeps a small gradient alive for x < 0."""
    return Op(
        "leaky_relu",
        lambda x: where(x > 0, x, slope * x),
        lambda x, out: (where(x > 0, 1.0, slope),),
        arity=1,
        kinks=(0.0,),
    )


@lru_cache(maxsize=64)
def elu_op(alpha: float) -> Op:
    """``x if x > 0 else alpha (e^x - 1)``; for x <= 0 its slope alpha e^x equals out + alpha."""
    def forward(x: Any) -> Any:
        if type(x) is _ndarray:  # where() computes both sides: keep e^x - 1 finite where x > 0
            return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
        return x if x > 0 else alpha * math.expm1(x)

    return Op(
        "elu",
        forward,
        lambda x, out: (where(x > 0, 1.0, out + alpha),),
        arity=1,
        kinks=(0.0,),  # the slope is continuous at 0 only for alpha = 1, the curvature never
    )


# The fixed primitives by name, for tests and tools that walk the table. pow_op, leaky_relu_op and
# elu_op make one Op per constant; the tests cover them with representative constants.
PRIMITIVES: dict[str, Op] = {
    op.name: op
    for op in (ADD, MUL, POW, SUM, DOT, EXP, LOG, SQRT, ABS, TANH, SIGMOID, RELU, GELU, SOFTPLUS, SIN, COS)
}
