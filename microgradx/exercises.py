"""Gradient-checking exercises: write an op's derivative rule, let :func:`~microgradx.gradcheck.check` judge it.

Each :class:`Exercise` gives an op's forward rule (floats in, a float out) and a point to check it
at; you write the derivative rule, ``derivative(*xs, out) -> (d out/d x_1, ...)``, and
``exercise.check(derivative)`` turns the pair into an op with :func:`~microgradx.define_op` and
compares its gradient with central differences: a table that says ``FAIL`` and names the op until
the rule is right. ``order=2`` checks second derivatives too, which needs the rule written with
arithmetic and the float-or-Value helpers of :mod:`microgradx.ops` (``ops.exp``, ``ops.sigmoid``,
...), not ``math``.

The exercises come in rising difficulty (:data:`EXERCISES`, by name); notebook 06 walks through
them. Each one's ``blank`` is the rule an exercise cell ships with (every partial 0: wrong
everywhere the true derivative is not 0) and ``solution`` a rule that passes both orders; read it
with ``print(exercise.solution_source())`` once you have tried.

>>> cube = EXERCISES["cube"]
>>> cube.check(cube.blank).passed
False
>>> cube.check(lambda x, out: (3 * x * x,)).passed
True
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import ops
from .engine import Value, define_op
from .gradcheck import GradcheckReport, check

__all__ = ["Exercise", "EXERCISES"]

Rule = Callable[..., Any]


@dataclass(frozen=True)
class Exercise:
    """One op to differentiate: its name, formula, forward rule, the point to check at, a hint, a solution.

    ``inputs`` names the op's inputs (``("x",)`` or ``("a", "b")``) and ``point`` gives their values
    at the check. ``check(derivative, order=1)`` returns the :class:`~microgradx.gradcheck.GradcheckReport`.
    """

    name: str
    formula: str
    forward: Callable[..., float]
    inputs: tuple[str, ...]
    point: tuple[float, ...]
    hint: str
    solution: Rule

    def op(self, derivative: Rule) -> Callable[..., Value]:
        """The op made from the forward rule and ``derivative`` (a function of Values or numbers)."""
        return define_op(self.name, self.forward, derivative, arity=len(self.inputs))

    def blank(self, *xs_and_out: Any) -> tuple[float, ...]:
        """The rule an exercise starts from: every partial 0."""
        return (0.0,) * (len(xs_and_out) - 1)

    def check(self, derivative: Rule, order: int = 1) -> GradcheckReport:
        """Check ``derivative`` at :attr:`point` against central differences of the forward rule.

        ``order=2`` also checks the second derivatives, for which ``derivative`` must be written
        with arithmetic and :mod:`microgradx.ops` helpers.

        >>> EXERCISES["hypot"].check(lambda a, b, out: (a / out, b / out), order=2).passed
        True
        """
        if not callable(derivative):
            raise TypeError(f"{self.name}: pass the derivative rule, a function "
                            f"({', '.join([*self.inputs, 'out'])}) -> tuple of partials, got {derivative!r}")
        op = self.op(derivative)
        leaves = [Value(x, label=name) for name, x in zip(self.inputs, self.point)]
        return check(lambda *xs: op(*xs), leaves, order=order)

    def solution_source(self) -> str:
        """The source of the solution's rule, to compare with yours."""
        return inspect.getsource(self.solution)

    def __repr__(self) -> str:
        at = ", ".join(f"{n} = {x:g}" for n, x in zip(self.inputs, self.point))
        partials = ", ".join(f"d out/d {n}" for n in self.inputs) + ("," if len(self.inputs) == 1 else "")
        return (f"Exercise {self.name!r}: out = {self.formula}. Write derivative({', '.join(self.inputs)}, out) "
                f"returning ({partials}); it is checked at {at}. Hint: {self.hint}")


# -- the forward rules (floats in, a float out), written to stay finite -------------------------


def _cube(x: float) -> float:
    return x * x * x


def _softplus(x: float) -> float:  # log(1 + e^x) without overflow: max(x, 0) + log(1 + e^-|x|)
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _swish(x: float) -> float:  # x sigmoid(x), also called SiLU
    return x * ops.sigmoid(x)


def _hypot(a: float, b: float) -> float:
    return math.hypot(a, b)


def _logaddexp(a: float, b: float) -> float:  # log(e^a + e^b) = max + log(1 + e^-(|a - b|))
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


# -- the solutions: differentiable twice, so written with ops helpers, never math or .data -------


def _cube_derivative(x: Any, out: Any) -> tuple[Any]:
    return (3 * x * x,)  # the power rule


def _softplus_derivative(x: Any, out: Any) -> tuple[Any]:
    return (ops.sigmoid(x),)  # e^x / (1 + e^x) = 1 / (1 + e^-x)


def _swish_derivative(x: Any, out: Any) -> tuple[Any]:
    s = ops.sigmoid(x)
    return (s + x * s * (1 - s),)  # product rule, with sigmoid' = s (1 - s)


def _hypot_derivative(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    return (a / out, b / out)  # d sqrt(a^2 + b^2)/da = a / sqrt(a^2 + b^2): the output is reused


def _logaddexp_derivative(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    return (ops.exp(a - out), ops.exp(b - out))  # e^a / (e^a + e^b): the softmax of (a, b)


EXERCISES: dict[str, Exercise] = {
    ex.name: ex
    for ex in (
        Exercise("cube", "x^3", _cube, ("x",), (1.3,), "the power rule.", _cube_derivative),
        Exercise("softplus", "log(1 + e^x)", _softplus, ("x",), (0.5,),
                 "the chain rule through log, then simplify; ops.sigmoid may help.", _softplus_derivative),
        Exercise("swish", "x * sigmoid(x)", _swish, ("x",), (0.7,),
                 "the product rule, and sigmoid'(x) = sigmoid(x) (1 - sigmoid(x)).", _swish_derivative),
        Exercise("hypot", "sqrt(a^2 + b^2)", _hypot, ("a", "b"), (3.0, -4.0),
                 "two partials; each can reuse out, the output.", _hypot_derivative),
        Exercise("logaddexp", "log(e^a + e^b)", _logaddexp, ("a", "b"), (0.3, -1.2),
                 "two partials that add up to 1; write them with ops.exp and out.", _logaddexp_derivative),
    )
}
"""The exercises by name, in rising difficulty: one input, then the chain rule, the product rule, two inputs."""
