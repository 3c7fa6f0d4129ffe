"""Hypothesis strategies and an assertion for property tests of gradients (needs ``hypothesis``).

Import this module explicitly: ``import microgradx`` does not import it, so the library itself does
not need hypothesis, which is a test dependency (``pip install microgradx[test]``).

- :func:`values` draws Values; :func:`expressions` draws random expression DAGs over the op table
  (or over your own ops), each op fed only points of its valid domain; :func:`mlps` draws small
  networks.
- :func:`assert_grads_match` runs :func:`microgradx.gradcheck.check` and fails with its table.

A property test of your own op, run by pytest:

>>> import math
>>> from hypothesis import given
>>> from microgradx import define_op, ops
>>> softplus = define_op("my_softplus", lambda x: math.log1p(math.exp(x)), lambda x, out: (ops.sigmoid(x),))
>>> @given(values(-5, 5))
... def test_softplus(x):
...     assert_grads_match(softplus, [x], order=2)
>>> test_softplus()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

from hypothesis import assume
from hypothesis import strategies as st

from . import nn, ops
from .engine import Value, apply_op
from .gradcheck import GradcheckError, Inputs, check
from .ops import Op

__all__ = ["Expression", "assert_grads_match", "expressions", "mlps", "values"]

OpLike = Union[Op, str, Callable[..., Value]]

# Every op of the table, with representative constants for the ops made per constant.
DEFAULT_OPS: tuple[Op, ...] = (
    *ops.PRIMITIVES.values(),
    ops.pow_op(2.0), ops.pow_op(3.0), ops.pow_op(-1.0), ops.pow_op(0.5),
    ops.leaky_relu_op(0.1), ops.elu_op(1.0),
)


def values(min_value: float = -10.0, max_value: float = 10.0) -> st.SearchStrategy[Value]:
    """Leaf Values whose data is a finite float in [min_value, max_value].

    >>> from hypothesis import find
    >>> find(values(-1, 1), lambda x: x.data > 0.5)  # the simplest Value that is > 0.5
    Value(data=1, grad=0)
    """
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False).map(Value)


def assert_grads_match(
    f: Callable[..., Value], inputs: Inputs, *, order: int = 1, eps: float = 1e-6, atol: float = 1e-5,
    rtol: float = 1e-3,
) -> None:
    """Fail (with gradcheck's table) unless the gradients of ``f`` at ``inputs`` match central differences.

    For use inside a hypothesis test. ``order=2`` also checks the second derivatives. Inputs on a
    kink pass: no derivative exists there to check. Raises :class:`~microgradx.gradcheck.GradcheckError`,
    an AssertionError.

    >>> assert_grads_match(lambda x, y: x * y.exp(), [2.0, 0.5], order=2)
    """
    if order not in (1, 2):
        raise ValueError(f"assert_grads_match(order=...) must be 1 or 2, got {order!r}")
    for k in range(1, order + 1):
        report = check(f, inputs, order=k, eps=eps, atol=atol, rtol=rtol)
        if not report.passed:
            raise GradcheckError(report)


# -- random expressions -----------------------------------------------------------------------------


class Expression:
    """A random expression DAG drawn by :func:`expressions`: call it with Values, check it at ``inputs``.

    ``inputs`` are the floats it was drawn at; ``steps`` lists the ops, each with the positions of its
    arguments among the inputs and the results before it (so a result can be used more than once);
    the last step is the output. ``repr`` shows it as a program.

    >>> e = Expression((2.0, 3.0), [(ops.PRIMITIVES["*"], (0, 1)), (ops.PRIMITIVES["tanh"], (2,))])
    >>> e
    Expression(t0 = x0 * x1; t1 = tanh(t0); at x0 = 2, x1 = 3)
    >>> round(e(*[Value(x) for x in e.inputs]).data, 6)
    0.999988
    """

    def __init__(self, inputs: Sequence[float], steps: Sequence[tuple[Op, tuple[int, ...]]]) -> None:
        self.inputs = tuple(float(x) for x in inputs)
        self.steps = tuple(steps)

    def __call__(self, *xs: Value | float) -> Value:
        if len(xs) != len(self.inputs):
            raise TypeError(f"this expression takes {len(self.inputs)} input(s), got {len(xs)}")
        results: list[Any] = list(xs)
        for op, args in self.steps:
            results.append(apply_op(op, *[results[k] for k in args]))
        out = results[-1]
        return out if isinstance(out, Value) else Value(out)

    @property
    def ops(self) -> tuple[Op, ...]:
        """The op of each step."""
        return tuple(op for op, _ in self.steps)

    def __repr__(self) -> str:
        names = [f"x{k}" for k in range(len(self.inputs))] + [f"t{k}" for k in range(len(self.steps))]
        lines = [f"t{k} = {_call_text(op, [names[a] for a in args])}" for k, (op, args) in enumerate(self.steps)]
        at = ", ".join(f"x{k} = {x:g}" for k, x in enumerate(self.inputs))
        output = "; ".join(lines) if lines else f"x{len(self.inputs) - 1}"  # no steps: the last input
        return f"Expression({output}; at {at})"


def _call_text(op: Op, args: list[str]) -> str:
    if op.name.startswith("**") and len(args) == 1:
        return f"{args[0]} ** {op.name[2:]}"
    if not op.name[:1].isalnum() and len(args) == 2:
        return f"{args[0]} {op.name} {args[1]}"
    return f"{op.name}({', '.join(args)})"


def _as_op(item: OpLike) -> Op:
    if isinstance(item, Op):
        return item
    if isinstance(item, str):
        if item not in ops.PRIMITIVES:
            raise ValueError(f"no op named {item!r}; the table has {', '.join(ops.PRIMITIVES)}")
        return ops.PRIMITIVES[item]
    op = getattr(item, "op", None)
    if isinstance(op, Op):  # a function made by define_op
        return op
    raise TypeError(f"ops must be Ops, names from the table, or functions made by define_op; got {item!r}")


def _fits(op: Op, xs: list[float], bound: float) -> bool:
    """Whether op at xs is safe to check: valid and bounded nearby, with bounded local derivatives."""
    points = [xs]
    for k, x in enumerate(xs):  # a margin around the point: finite differences step off it
        for step in (-1e-3, 1e-3):
            moved = list(xs)
            moved[k] = x + step * max(1.0, abs(x))
            points.append(moved)
    try:
        for point in points:
            if op.valid is not None and not op.valid(*point):
                return False
            out = float(op.forward(*point))
            if not (math.isfinite(out) and abs(out) <= bound):
                return False
        partials = op.derivative(*xs, float(op.forward(*xs)))
        return len(partials) == len(xs) and all(math.isfinite(p) and abs(p) <= bound for p in partials)
    except (ArithmeticError, ValueError, TypeError):
        return False


def _arity(draw: Callable[..., Any], op: Op) -> int:
    if op.arity is not None:
        return op.arity
    if op is ops.DOT:  # weights then inputs: an even count
        return 2 * int(draw(st.integers(1, 2)))
    return int(draw(st.integers(1, 4)))


@st.composite
def _expressions(
    draw: Callable[..., Any], max_depth: int, ops_: tuple[Op, ...], max_inputs: int, max_steps: int,
    min_value: float, max_value: float, bound: float,
) -> Expression:
    inputs = draw(st.lists(st.floats(min_value, max_value, allow_nan=False), min_size=1, max_size=max_inputs))
    data = list(inputs)
    depth = [0] * len(inputs)
    steps: list[tuple[Op, tuple[int, ...]]] = []
    used: set[int] = set()
    for _ in range(draw(st.integers(1, max_steps))):
        pool = [k for k, d in enumerate(depth) if d < max_depth]
        for _attempt in range(4):  # a few tries to find an op and arguments in its domain
            op = draw(st.sampled_from(ops_))
            args = tuple(draw(st.sampled_from(pool)) for _ in range(_arity(draw, op)))
            if _fits(op, [data[k] for k in args], bound):
                steps.append((op, args))
                data.append(float(op.forward(*[data[k] for k in args])))
                depth.append(1 + max(depth[k] for k in args))
                used.update(args)
                break
    unused = [k for k in range(len(inputs), len(data)) if k not in used]
    if len(unused) > 1:  # join the results nobody used, so that every step counts
        steps.append((ops.SUM, tuple(unused)))
    expression = Expression(inputs, steps)
    assume(_defined_nearby(expression))
    return expression


def _defined_nearby(expression: Expression, step: float = 1e-5) -> bool:
    """Whether the expression is defined when each input moves by ± step (gradcheck moves them by eps)."""
    for k in range(len(expression.inputs)):
        for sign in (-1, 1):
            moved = list(expression.inputs)
            moved[k] += sign * step
            try:
                expression(*[Value(x) for x in moved])
            except (ArithmeticError, ValueError):
                return False
    return True


def expressions(
    max_depth: int = 3, ops: Iterable[OpLike] | None = None, *, max_inputs: int = 3, max_steps: int | None = None,
    min_value: float = -3.0, max_value: float = 3.0, bound: float = 100.0,
) -> st.SearchStrategy[Expression]:
    """Random expression DAGs over ``ops``, drawn with their inputs: check them with ``gradcheck(e, e.inputs)``.

    Each step applies an op to inputs or earlier results (a result may be used more than once), at
    most ``max_depth`` ops deep; results left unused are added up at the end (one more step). Every
    op is fed only points of its valid domain (``Op.valid``), with a small margin, where its value
    and local derivatives stay within ``± bound``; that keeps finite differences accurate. ``ops``
    takes Ops, names from the table (``"tanh"``, ``"*"``), or functions made by ``define_op``; by
    default every op of the table.

    >>> from hypothesis import find
    >>> find(expressions(max_depth=2, ops=["*", "sin"]), lambda e: "sin" in [op.name for op in e.ops])
    Expression(t0 = sin(x0); at x0 = 0)
    """
    if not isinstance(max_depth, int) or max_depth < 1:
        raise ValueError(f"max_depth must be an integer >= 1, got {max_depth!r}")
    chosen = DEFAULT_OPS if ops is None else tuple(_as_op(item) for item in ops)
    if not chosen:
        raise ValueError("ops is empty: pass at least one op")
    if not min_value <= max_value:
        raise ValueError(f"min_value ({min_value}) must not exceed max_value ({max_value})")
    steps = max_steps if max_steps is not None else 2 * max_depth
    return _expressions(max_depth, chosen, max_inputs, steps, min_value, max_value, bound)


# -- networks ---------------------------------------------------------------------------------------


def mlps(
    *, max_inputs: int = 3, max_layers: int = 2, max_width: int = 4, nout: int = 1,
    activations: Sequence[str] | None = None,
) -> st.SearchStrategy[Any]:
    """Small :class:`microgradx.nn.MLP` networks with a drawn shape, activation and seed.

    ``nin`` up to ``max_inputs``, up to ``max_layers`` hidden layers of up to ``max_width`` neurons,
    then ``nout`` outputs. ``activations`` are names from ``microgradx.nn.ACTIVATIONS`` (default: all
    of them). Each network is made with a drawn ``seed``, so an example always has the same weights.

    >>> from hypothesis import find
    >>> find(mlps(max_layers=1, activations=["tanh"]), lambda model: len(model.layers) == 2)
    MLP of [Layer of [TanhNeuron(1)], Layer of [LinearNeuron(1)]]
    """

    @st.composite
    def draw_mlp(draw: Callable[..., Any]) -> Any:
        nin = draw(st.integers(1, max_inputs))
        hidden = draw(st.lists(st.integers(1, max_width), min_size=0, max_size=max_layers))
        activation = draw(st.sampled_from(tuple(nn.ACTIVATIONS if activations is None else activations)))
        seed = draw(st.integers(0, 2**16))
        return nn.MLP(nin, [*hidden, nout], activation=activation, seed=seed)

    return draw_mlp()
