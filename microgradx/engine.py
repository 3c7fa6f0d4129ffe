"""The engine: a scalar :class:`Value` that records every op into a DAG, and reverse-mode autodiff.

Each Value keeps its parents in argument order (``_prev``) and the :class:`~microgradx.ops.Op` that
made it (``_op``). Nothing else: no closure per node, so there are no reference cycles and a graph
the user drops is freed at once by reference counting. The parents of a one- or two-input op sit in
two slots rather than in a tuple, and a constant operand (the 0.5 in ``x * 0.5``) stays a plain
float in its slot until someone asks for ``_prev``: every object the garbage collector tracks costs
time while a graph grows, so an op makes one such object, its node. The derivative rules live in
:mod:`microgradx.ops`; the backward pass below walks the graph iteratively (no recursion limit) in
reverse topological order and applies the chain rule with them.

>>> x, w = Value(2.0, label="x"), Value(-3.0, label="w")
>>> y = x * w + x          # dy/dx = w + 1, dy/dw = x
>>> y.backward()
>>> x.grad, w.grad
(-2.0, 2.0)
"""

from __future__ import annotations

import contextlib
import inspect
import math
import numbers
import reprlib
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, NoReturn, Union

import numpy as np

from . import anomaly, ops
from .anomaly import detect_anomaly, made_at
from .modes import ANOMALY, RECORD, TRACE, current_mode, current_trace, enable_grad, is_grad_enabled, no_grad
from .ops import LEAF, DomainError, Op, RuleError, hand_built

__all__ = [
    "Value", "grad", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly", "apply_op", "define_op",
    "DomainError", "RuleError",
]

Number = Union[int, float]

_isfinite = math.isfinite
_REAL_TYPES = (numbers.Real, np.bool_)  # int, float, bool, Fraction, numpy real scalars
_FLOAT_MAX = 1.7976931348623157e308


def _is_real(x: object) -> bool:
    return isinstance(x, _REAL_TYPES) and not isinstance(x, np.ndarray)


def _to_float(x: object, where: str) -> float:
    """Check that ``x`` is a finite real number and return it as a float, or say what is wrong."""
    if type(x) is not float:
        if not _is_real(x):
            hint = ""
            if isinstance(x, Value):
                hint = "; it is already a Value (use it directly, or v.detach() for a copy)"
            elif isinstance(x, (list, tuple, np.ndarray)):
                hint = "; make one Value per number, e.g. [Value(v) for v in xs]"
            elif isinstance(x, complex):
                hint = "; complex numbers are not supported"
            raise TypeError(f"{where} expects a real number, got {reprlib.repr(x)}{hint}")
        try:
            x = float(x)  # type: ignore[arg-type]
        except OverflowError:  # a huge int or Fraction: exact in Python, beyond any float
            raise ValueError(f"{where} expects a number a float can hold (|x| <= {_FLOAT_MAX:.4g}), "
                             f"got {reprlib.repr(x)}") from None
    if not _isfinite(x):  # type: ignore[arg-type]
        raise ValueError(f"{where} expects a finite number, got {x}")
    return x  # type: ignore[return-value]


class Value:
    """A scalar that remembers how it was computed, so gradients can flow back through it.

    ``data`` is the float value, ``grad`` the derivative of the ``backward()`` root with respect
    to it (accumulated, like PyTorch), ``label`` an optional name for graphs and errors, ``_op``
    the :class:`~microgradx.ops.Op` that made it (``""`` for a leaf, as in micrograd) and ``_prev``
    its parents as a tuple in argument order (empty for a leaf).

    The constructor is micrograd's, ``Value(data, _children=(), _op='', label='')``: pass the label
    by keyword. Giving ``_children`` builds a node by hand, as micrograd's lectures do; give it a
    ``_backward`` closure that adds to its parents' ``.grad`` (see :attr:`_backward`).

    >>> a = Value(3.0, label="a")
    >>> b = a * a + 1
    >>> b.backward()
    >>> b.data, a.grad
    (10.0, 6.0)
    """

    __slots__ = ("data", "grad", "label", "_op", "_a", "_b", "__weakref__")

    data: float
    grad: Any  # a float; a Value after backward(create_graph=True)
    label: str
    _op: Op  # ops.LEAF, the empty name, for a leaf
    # The parents: _a and _b for an op with one or two inputs (None where absent); an op with more
    # inputs (sum, dot) keeps all of them as a tuple in _a. A constant second operand stays a float
    # in _b until _prev gives it a node. Read the parents through _prev.
    _a: Any
    _b: Any

    def __init__(self, data: Number, _children: Iterable[Value] = (), _op: str = "", label: str = "") -> None:
        self.data = _to_float(data, "Value()")
        self.grad = 0.0
        self.label = label if isinstance(label, str) else str(label)
        self._op, self._a, self._b = LEAF, None, None
        if _op or type(_children) is not tuple or _children:
            _build_by_hand(self, _children, _op)
        if current_mode() != RECORD:
            _note_new(self)

    @property
    def _prev(self) -> tuple[Value, ...]:
        """The parents in argument order, as micrograd's ``_prev`` (but ordered): () for a leaf."""
        a, b = self._a, self._b
        if a is None:
            return ()
        if b is None:
            return a if type(a) is tuple else (a,)
        if type(b) is float:  # a constant kept unboxed: it gets its node now, once, for whoever asks
            b = self._b = _constant_node(self, b)
        return (a, b)

    @property
    def _backward(self) -> Callable[[], None]:
        """micrograd's step of the chain rule at this node: calling it adds ``self.grad`` times each
        local derivative to the parents' ``.grad``.

        ``backward()`` is this step node by node, in reverse topological order, with the rules of
        the op table. As in micrograd's lectures you may call it by hand, or assign a closure to a
        node built by hand: ``out = Value(math.exp(x.data), (x,), "exp")``, then
        ``out._backward = step`` where ``step()`` does ``x.grad += out.data * out.grad``.

        >>> x = Value(3.0)
        >>> y = x * x
        >>> y.grad = 1.0
        >>> y._backward()
        >>> x.grad
        6.0
        """
        if self._a is None:
            return _nothing  # a leaf: no parents to pass a gradient to
        closure = self._op.backward
        return closure if closure is not None else partial(_step, self)

    @_backward.setter
    def _backward(self, step: Callable[[], None]) -> None:
        if not callable(step):
            raise TypeError("_backward must be a function of no arguments that adds to the parents' .grad, "
                            f"got {reprlib.repr(step)}")
        self._op = hand_built(self._op.name, len(self._prev), step)  # this node's own op

    # -- arithmetic: each applies one primitive op from the table, or is algebra over them --------

    def __add__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            return _apply2(ops.ADD, self, other)
        c = _constant(other, "Value + number")
        return NotImplemented if c is None else _apply2(ops.ADD, self, c)

    def __mul__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            return _apply2(ops.MUL, self, other)
        c = _constant(other, "Value * number")
        return NotImplemented if c is None else _apply2(ops.MUL, self, c)

    def __pow__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            return _apply2(ops.POW, self, other)
        n = _constant(other, "Value ** exponent")
        return NotImplemented if n is None else _apply1(ops.pow_op(n), self)

    def __rpow__(self, other: Number) -> Value:  # other ** self
        base = _operand(other)
        return NotImplemented if base is None else _apply2(ops.POW, base, self)

    def __neg__(self) -> Value:  # -self
        return self * -1.0

    def __sub__(self, other: Value | Number) -> Value:  # self - other
        if isinstance(other, Value):
            return self + (-other)
        c = _constant(other, "Value - number")
        return NotImplemented if c is None else self + (-c)

    def __truediv__(self, other: Value | Number) -> Value:  # self / other
        if isinstance(other, Value):
            if other.data == 0:  # said as the learner wrote it, not as the ** -1 it becomes
                raise DomainError(f"a / b needs b != 0, got {_inputs_text((self, other))}"
                                  + _inputs_made_at((self, other)))
            return self * other**-1.0
        c = _constant(other, "Value / number")
        if c is None:
            return NotImplemented
        if c == 0:
            raise DomainError(f"a / b needs b != 0, got a = {self.data!r}{_label_note(self)}, b = 0"
                              + _inputs_made_at((self,)))
        return self * (1.0 / c)

    def __radd__(self, other: Number) -> Value:  # other + self
        return self + other

    def __rmul__(self, other: Number) -> Value:  # other * self
        return self * other

    def __rsub__(self, other: Number) -> Value:  # other - self
        return -self + other

    def __rtruediv__(self, other: Number) -> Value:  # other / self
        if self.data == 0 and _is_real(other):
            raise DomainError(f"a / b needs b != 0, got a = {other!r}, b = 0.0{_label_note(self)}"
                              + _inputs_made_at((other, self)))
        return self**-1.0 * other

    def __abs__(self) -> Value:
        return _apply1(ops.ABS, self)

    def abs(self) -> Value:
        """|x|; its derivative is the sign of x (0 at the kink x = 0)."""
        return _apply1(ops.ABS, self)

    def exp(self) -> Value:
        """e^x. Raises DomainError above x = 709.78, where a float overflows."""
        return _apply1(ops.EXP, self)

    def log(self) -> Value:
        """Natural logarithm, for x > 0."""
        return _apply1(ops.LOG, self)

    def sqrt(self) -> Value:
        """Square root, for x >= 0."""
        return _apply1(ops.SQRT, self)

    def tanh(self) -> Value:
        """Hyperbolic tangent; d tanh = 1 - tanh^2."""
        return _apply1(ops.TANH, self)

    def sigmoid(self) -> Value:
        """1 / (1 + e^-x), computed without overflow for large |x|."""
        return _apply1(ops.SIGMOID, self)

    def relu(self) -> Value:
        """max(x, 0); the derivative at the kink x = 0 is taken as 0, like PyTorch."""
        return _apply1(ops.RELU, self)

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """x for x > 0, slope * x otherwise."""
        return _apply1(ops.leaky_relu_op(_to_float(slope, "leaky_relu(slope)")), self)

    def elu(self, alpha: float = 1.0) -> Value:
        """x for x > 0, alpha (e^x - 1) otherwise."""
        return _apply1(ops.elu_op(_to_float(alpha, "elu(alpha)")), self)

    def gelu(self) -> Value:
        """Gaussian error linear unit, tanh approximation (as in GPT-2 and PyTorch's approximate='tanh')."""
        return _apply1(ops.GELU, self)

    def softplus(self) -> Value:
        """log(1 + e^x), computed without overflow; its derivative is sigmoid(x)."""
        return _apply1(ops.SOFTPLUS, self)

    def sin(self) -> Value:
        """Sine (radians)."""
        return _apply1(ops.SIN, self)

    def cos(self) -> Value:
        """Cosine (radians)."""
        return _apply1(ops.COS, self)

    # -- comparisons look at data; == stays identity, so Values can be dict keys and set members --

    def __lt__(self, other: Value | Number) -> bool:
        o = _data_of(other)
        if current_mode() & TRACE:
            current_trace().refuse(self, "<", other)
        return NotImplemented if o is None else self.data < o

    def __le__(self, other: Value | Number) -> bool:
        o = _data_of(other)
        if current_mode() & TRACE:
            current_trace().refuse(self, "<=", other)
        return NotImplemented if o is None else self.data <= o

    def __gt__(self, other: Value | Number) -> bool:
        o = _data_of(other)
        if current_mode() & TRACE:
            current_trace().refuse(self, ">", other)
        return NotImplemented if o is None else self.data > o

    def __ge__(self, other: Value | Number) -> bool:
        o = _data_of(other)
        if current_mode() & TRACE:
            current_trace().refuse(self, ">=", other)
        return NotImplemented if o is None else self.data >= o

    def __bool__(self) -> bool:  # always true, as any object, except where a tracer must know
        if current_mode() & TRACE:
            current_trace().refuse(self, "bool")
        return True

    __hash__ = object.__hash__

    # -- gradients ------------------------------------------------------------------------------

    def backward(self, gradient: float = 1.0, *, create_graph: bool = False) -> None:
        """Add ``gradient`` times d self / d node to ``node.grad`` for every node ``self`` depends on.

        ``gradient`` is the gradient arriving at ``self`` from outside (PyTorch's name): 1, d self /
        d self, unless ``self`` is part of a larger computation done elsewhere. Gradients accumulate
        across calls, as in PyTorch: call ``zero_grad()`` (or set ``.grad = 0.0``) between steps.
        With ``create_graph=True`` (keyword only) the gradients are Values in the graph, so they can
        be differentiated again. Nothing is written if an error is raised.

        >>> x = Value(3.0)
        >>> (x * x).backward()
        >>> x.grad
        6.0
        >>> (x * x).backward(0.5)   # adds 0.5 * 6
        >>> x.grad
        9.0
        """
        if isinstance(gradient, (bool, np.bool_)):
            raise TypeError(f"backward(gradient) takes the gradient arriving at the output, a number, got "
                            f"{gradient!r}; for differentiable gradients pass create_graph={gradient!r} by keyword")
        order, saved = _run_backward(self, create_graph, _to_float(gradient, "backward(gradient)"))
        if saved is None:  # every .grad was 0.0 before: the new gradients are the result
            return
        try:
            for node, old in zip(order, saved):  # accumulate: new gradient + what was there
                if node.grad is None:
                    node.grad = old
                elif not (type(old) is float and old == 0.0):
                    node.grad = total = old + node.grad
                    if type(total) is float and not _isfinite(total):
                        raise DomainError(f"the accumulated gradient at {node!r} overflowed; call zero_grad() "
                                          "(or set .grad = 0.0) between backward() calls")
        except BaseException:
            _restore(order, saved)
            raise

    def detach(self) -> Value:
        """A new leaf with the same data and label, cut off from the graph.

        >>> y = (Value(2.0) * 3).detach()
        >>> y.data, y._prev
        (6.0, ())
        """
        return Value(self.data, label=self.label)

    def item(self) -> float:
        """The data as a Python float (like ``tensor.item()``)."""
        if current_mode() & TRACE:
            current_trace().refuse(self, "item")
        return self.data

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)

    def __repr__(self) -> str:
        grad = self.grad if type(self.grad) is float else getattr(self.grad, "data", self.grad)
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={grad:.6g}{label})"


def _operand(other: object) -> Value | None:
    """The other side of an op as a Value (a number becomes a constant leaf), or None if it is no number."""
    if isinstance(other, Value):
        return other
    c = _constant(other, "Value()")
    return None if c is None else _leaf(c)


def _constant(x: object, where: str) -> float | None:
    """A number operand as a float, or None when it is not a number (so Python tries the other side)."""
    if type(x) is float:
        if _isfinite(x):
            return x
        raise ValueError(f"{where} expects a finite number, got {x}")
    return _to_float(x, where) if _is_real(x) else None


def _leaf(data: float) -> Value:
    """A constant leaf for a float known to be finite, without Value()'s checks."""
    node = _new_value(Value)
    node.data, node.grad, node.label, node._op, node._a, node._b = data, 0.0, "", LEAF, None, None
    if current_mode() != RECORD:
        _note_new(node)
    return node


def _constant_node(node: Value, c: float) -> Value:
    """The node of ``node``'s unboxed constant operand ``c``, with the gradient backward would have given it.

    The backward pass skips a constant kept as a float (nothing needs its gradient), but a drawing
    shows one, as micrograd does. A constant has one consumer, ``node``, whose gradient is complete
    after ``backward()``: so its gradient is the local derivative d node / d c times ``node.grad``.
    """
    leaf = _leaf(c)
    g = node.grad
    g = g if type(g) is float else getattr(g, "data", 0.0)  # a Value after create_graph: its number
    if g:
        with contextlib.suppress(ArithmeticError, ValueError, TypeError, IndexError):  # backward reports these
            leaf.grad = node._op.derivative(node._a.data, c, node.data)[1] * g
    return leaf


def _note_new(leaf: Value) -> None:
    """Tell anomaly mode where a leaf was made, and a trace under way that it was made during it."""
    mode = current_mode()
    if mode & ANOMALY:
        anomaly.record(leaf)
    if mode & TRACE:
        current_trace().made.append(leaf)


def _data_of(other: object) -> Any:
    """What a comparison compares with: the data of a Value, or the number itself.

    A number is compared as it is, not as a float, so ``Value(1.0) < 10**400`` is True as in
    Python, where ``float(10**400)`` would overflow.
    """
    if isinstance(other, Value):
        return other.data
    return other if _is_real(other) else None


def _build_by_hand(node: Value, children: Any, op: Any) -> None:
    """micrograd's ``Value(data, _children, _op)``: a node whose parents and op the caller names.

    ``op`` is a name such as ``"exp"`` (the node then needs a ``_backward`` closure, as in
    micrograd's lectures) or an Op of the table (whose rule then applies).
    """
    if isinstance(children, str):
        raise TypeError(f"Value(data, _children, _op, label): the second argument is micrograd's tuple of "
                        f"parent Values, got the text {children!r}; pass a label by keyword: "
                        f"Value({node.data!r}, label={children!r})")
    try:
        parents = tuple(children)
    except TypeError:
        raise TypeError(f"Value(data, _children): _children must be a tuple of Values, got "
                        f"{reprlib.repr(children)}") from None
    for i, p in enumerate(parents):
        if not isinstance(p, Value):
            raise TypeError(f"Value(data, _children): every child must be a Value, got {reprlib.repr(p)} "
                            f"at position {i}")
    if not isinstance(op, str):
        raise TypeError(f"Value(data, _children, _op): _op must be text naming the op, such as 'exp', "
                        f"got {reprlib.repr(op)}")
    if not isinstance(op, Op):
        op = hand_built(op, len(parents))
    elif op.arity is not None and op.arity != len(parents):
        raise TypeError(f"Value(data, _children, _op): op {op.name!r} takes {op.arity} input(s), "
                        f"got {len(parents)} children")
    if not parents or not current_mode() & RECORD:  # no parents, or no_grad(): a leaf (named, as micrograd's)
        node._op = op if parents == () else LEAF
        return
    node._op = op
    if len(parents) == 1:
        node._a = parents[0]
    elif len(parents) == 2:
        node._a, node._b = parents
    else:
        node._a = parents


def _nothing() -> None:
    """The backward step of a leaf: it has no parents to pass a gradient to."""


def apply_op(op: Op, *inputs: Value | Number) -> Value:
    """Apply ``op`` to Values or numbers and return the output node (for ops defined outside).

    >>> from microgradx.ops import TANH
    >>> apply_op(TANH, 0.0)
    Value(data=0, grad=0)
    """
    parents = tuple(x if isinstance(x, Value) else Value(x) for x in inputs)
    if op.arity is not None and len(parents) != op.arity:
        raise TypeError(f"{op.name} takes {op.arity} input(s), got {len(parents)}")
    return _apply(op, parents)


def define_op(
    name: str,
    forward: Callable[..., float],
    derivative: Callable[..., Sequence[Any]],
    *,
    arity: int | None = None,
    domain: str = "",
    valid: Callable[..., bool] | None = None,
    kinks: Sequence[float] = (),
) -> Callable[..., Value]:
    """Make a new primitive op from its forward rule and its local derivative.

    ``forward(*xs) -> float`` computes the output from the input floats; ``derivative(*xs, out)``
    returns one local partial d out / d x_i per input. The result is a function that takes Values
    or numbers and returns a Value; the op appears in graphs under ``name`` and works with
    ``backward`` and ``grad``. For second derivatives (``create_graph=True``) the derivative rule is
    called with Values instead of floats: write it with arithmetic and the float-or-Value functions
    of :mod:`microgradx.ops` (``ops.exp``, ``ops.tanh``, ``ops.sigmoid``, ...), not with ``math``.
    ``arity`` defaults to the number of ``forward``'s parameters; ``domain`` (text) and ``valid``
    (a predicate) describe where the op is defined; ``kinks`` lists inputs of a one-input op where
    its derivative jumps, so gradient checks report them instead of failing there.

    >>> from microgradx import ops
    >>> swish = define_op("swish", lambda x: x * ops.sigmoid(x),
    ...                   lambda x, out: (ops.sigmoid(x) + out * (1 - ops.sigmoid(x)),))
    >>> y = swish(Value(1.0))
    >>> y.backward()
    >>> round(y.data, 4), y._op.name
    (0.7311, 'swish')
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"define_op() needs a non-empty name, got {name!r}")
    if not callable(forward) or not callable(derivative):
        raise TypeError(f"define_op({name!r}): forward and derivative must be functions")
    arity = arity if arity is not None else _positional_arity(forward)
    if arity is not None:
        try:  # the rule gets the inputs, then the output
            inspect.signature(derivative).bind(*range(arity + 1))
        except TypeError as error:
            args = ", ".join([*_input_names(arity), "out"])
            raise TypeError(f"define_op({name!r}): the derivative must take the {arity} input(s) and the "
                            f"output, as derivative({args}) ({error})") from None
        except ValueError:  # a builtin without a signature: it will be called and checked then
            pass

    def checked_derivative(*xs_and_out: Any) -> Any:
        partials = derivative(*xs_and_out)
        if not isinstance(partials, (tuple, list)):
            raise RuleError(f"the derivative rule of op {name!r} returned {reprlib.repr(partials)}; return a tuple "
                            f"with one local partial per input, e.g. ({reprlib.repr(partials)},)")
        return partials

    op = Op(name, forward, checked_derivative, arity=arity, domain=domain, valid=valid, kinks=tuple(kinks), user=True)

    def apply(*inputs: Value | Number) -> Value:
        return apply_op(op, *inputs)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"The user-defined op {name!r}: takes Values or numbers, returns a Value."
    apply.op = op  # type: ignore[attr-defined]
    return apply


def _positional_arity(func: Callable[..., Any]) -> int | None:
    """How many inputs ``func`` takes, or None when it takes any number (``*xs``)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: any number
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in params)


def _apply1(op: Op, x: Value) -> Value:
    """op(x): run the forward rule on x's data and record the op in the graph."""
    try:
        out = op.forward(x.data)  # type: ignore[misc]
    except (ArithmeticError, ValueError) as error:
        _forward_failed(op, (x,), error)
    if type(out) is not float or not _isfinite(out):
        out = _checked_output(op, out, (x,))
    return _node(out, op, x, None)


def _apply2(op: Op, a: Value, b: Value | float) -> Value:
    """op(a, b): run the forward rule on the inputs' data and record the op in the graph.

    ``b`` may be a float: a constant operand, kept unboxed in the node (see ``_prev``).
    """
    try:
        out = op.forward(a.data, b if type(b) is float else b.data)  # type: ignore[misc, union-attr]
    except (ArithmeticError, ValueError) as error:
        _forward_failed(op, (a, b), error)
    if type(out) is not float or not _isfinite(out):
        out = _checked_output(op, out, (a, b))
    return _node(out, op, a, b)


def _apply(op: Op, parents: tuple[Value, ...]) -> Value:
    """op(*parents) for any number of inputs (sum, dot, user-defined ops)."""
    if len(parents) == 1:
        return _apply1(op, parents[0])
    if len(parents) == 2:
        return _apply2(op, *parents)
    if not parents:
        raise TypeError(f"{op.name} needs at least one input")
    try:
        out = op.forward(*[p.data for p in parents])  # type: ignore[misc]
    except (ArithmeticError, ValueError) as error:
        _forward_failed(op, parents, error)
    if type(out) is not float or not _isfinite(out):
        out = _checked_output(op, out, parents)
    return _node(out, op, parents, None)


def _forward_failed(op: Op, parents: Sequence[Value | float], error: Exception) -> NoReturn:
    """Raise the DomainError for a forward rule that failed on these inputs.

    A table op's own error ("math domain error") says less than the message, so it is not
    chained; a user-defined op's error may point at a bug in its rule, so it is kept.
    """
    _raise_domain_error(_domain_message(op, parents, isinstance(error, OverflowError)), op, error)


def _raise_domain_error(message: str, op: Op, error: Exception) -> NoReturn:
    """A table op's own error ("math domain error", "float division by zero") says less than the
    message, so it is not chained; a user-defined op's error may point at a bug in its rule, so it is."""
    if op.user:
        raise DomainError(message) from error
    raise DomainError(message) from None


def _checked_output(op: Op, out: object, parents: Sequence[Value | float]) -> float:
    """The forward rule's result as a float, or an error if it is not a finite real number."""
    if type(out) is not float:  # user-defined ops may return ints or numpy scalars
        if not _is_real(out):
            raise TypeError(f"the forward rule of op {op.name!r} returned {reprlib.repr(out)}; "
                            "it must return a real number")
        try:
            out = float(out)  # type: ignore[arg-type]
        except OverflowError:
            raise DomainError(_domain_message(op, parents, overflow=True)) from None
    if not _isfinite(out):  # type: ignore[arg-type]
        raise DomainError(_domain_message(op, parents, overflow=math.isinf(out)))  # type: ignore[arg-type]
    return out  # type: ignore[return-value]


def _node(data: float, op: Op, a: Any, b: Any) -> Value:
    """A new node holding ``data``, made by ``op`` from parents ``a`` (and ``b``).

    Under ``no_grad()`` the node is a leaf: no op, no parents, nothing kept alive. In anomaly mode
    it also remembers where the user's code made it.
    """
    node = _new_value(Value)
    node.data = data
    node.grad = 0.0
    node.label = ""
    mode = current_mode()
    if mode == RECORD:
        node._op, node._a, node._b = op, a, b
    elif mode & RECORD:
        node._op, node._a, node._b = op, a, b
        if mode & ANOMALY:
            anomaly.record(node)
    else:
        node._op, node._a, node._b = LEAF, None, None
    return node


_new_value = object.__new__


# -- messages: what went wrong, at which op, with which inputs --------------------------------------


def _input_names(n: int) -> list[str]:
    return ["x"] if n == 1 else ["a", "b"] if n == 2 else [f"x{i}" for i in range(n)]


def _call_text(op: Op, n: int) -> str:
    """How the op reads in a message: ``log(x)``, ``a * b``, ``x ** -1``."""
    names = _input_names(n)
    if op.name.startswith("**") and n == 1:
        return f"x ** {op.name[2:]}"
    if not op.name[:1].isalnum() and n == 2:
        return f"a {op.name} b"
    return f"{op.name}({', '.join(names)})"


def _label_note(p: Value | float) -> str:
    """`` ('h')`` after an input's number when the input has a label, so the learner knows which it is."""
    return f" ({p.label!r})" if isinstance(p, Value) and p.label else ""


def _inputs_text(parents: Sequence[Value | float]) -> str:
    """``x = 0.0 ('h')``, or ``a = 1.0, b = 2.0``: each input's name in the op, number and label."""
    return ", ".join(f"{name} = {_data(p)!r}{_label_note(p)}"
                     for name, p in zip(_input_names(len(parents)), parents))


def _data(p: Value | float) -> float:
    return p if type(p) is float else p.data  # type: ignore[union-attr, return-value]


def _inputs_made_at(parents: Sequence[Value | float]) -> str:
    """In anomaly mode: where each input was made (nothing for inputs made outside it)."""
    names = _input_names(len(parents))
    return "".join(made_at(f"its input {name}", p) for name, p in zip(names, parents) if isinstance(p, Value))


def _domain_message(op: Op, parents: Sequence[Value | float], overflow: bool = False) -> str:
    """Why the op has no finite result here: an input outside its domain, a result too large for a
    float (``overflow``), or, for an op that states no domain, no result at all."""
    call = _call_text(op, len(parents))
    got = _inputs_text(parents)
    if op.domain and not _inside(op, parents):
        text = f"{call} needs {op.domain}, got {got}"
    elif overflow:  # inside the domain (1e-300 ** -2, 1e200 * 1e200): the number itself is beyond a float
        text = f"{call} is not a finite number for {got}: the result is beyond the largest float (1.8e308)"
    else:
        text = f"{call} is not a finite number for {got}"
    return text + _inputs_made_at(parents)


def _inside(op: Op, parents: Sequence[Value | float]) -> bool:
    """Whether the inputs lie in the op's stated domain (False when the op cannot say)."""
    if op.valid is None:
        return False
    try:
        return bool(op.valid(*[_data(p) for p in parents]))
    except (ArithmeticError, ValueError, TypeError):
        return False


def _name(node: Value) -> str:
    """A node as a message names it: its label, or its op and number."""
    if node.label:
        return repr(node.label)
    op = node._op.name
    return f"'{op}' (data {node.data:.6g})" if op else f"Value(data={node.data:.6g})"


def _node_made_at(node: Value) -> str:
    """Where a node and its inputs were made, in anomaly mode."""
    return made_at(f"the {node._op.name or 'node'}", node) + _inputs_made_at(node._prev)


def _partials_message(node: Value, partials: object) -> str:
    op = node._op
    return (
        f"the derivative rule of op {op.name!r} returned {reprlib.repr(partials)}, but the op has "  # type: ignore[union-attr]
        f"{len(node._prev)} input(s): return one local partial per input, as a tuple" + _node_made_at(node)
    )


def _derivative_message(node: Value) -> str:
    op = node._op
    where = f" (at node {node.label!r})" if node.label else ""
    return (
        f"the derivative of {_call_text(op, len(node._prev))} is not finite at {_inputs_text(node._prev)}{where}: "  # type: ignore[arg-type]
        "the op is not differentiable there" + _node_made_at(node)
    )


# -- the backward pass ------------------------------------------------------------------------------


def _reverse_topological(root: Value, constants: bool = False) -> list[Value]:
    """Every node ``root`` depends on, each before the nodes it depends on (root first).

    An iterative depth-first search (no recursion limit), parents in argument order: a node is
    emitted once all its parents are, which is a topological order; reversed, the chain rule can
    run from the root to the leaves. The walk reads the parent slots directly and allocates
    nothing per node, because the backward pass runs it on every call. Unboxed constants need no
    gradient and are skipped, unless ``constants`` asks for them as nodes (to draw the graph).
    """
    order: list[Value] = []
    state: dict[Value, bool] = {}  # False: its parents are being walked; True: emitted
    stack = [root]
    push, pop, get = stack.append, stack.pop, state.get
    while stack:
        node = stack[-1]
        done = get(node)
        if done is None:  # first visit: push the parents not seen yet, the first on top
            state[node] = False
            a = node._a
            if a is not None:
                b = node._b
                if b is None:
                    if type(a) is not tuple:
                        if a not in state:
                            push(a)
                    else:
                        for p in reversed(a):
                            if p not in state:
                                push(p)
                else:
                    if type(b) is float and constants:
                        b = node._prev[1]  # the constant's node
                    if type(b) is not float and b not in state:
                        push(b)
                    if a not in state:
                        push(a)
            continue
        pop()
        if done is False:  # every parent emitted: emit the node (a later copy on the stack is skipped)
            state[node] = True
            order.append(node)
    order.reverse()
    return order


def _run_backward(root: Value, create_graph: bool, seed: float = 1.0) -> tuple[list[Value], list[Any] | None]:
    """Run the chain rule from ``root``, leaving ``seed`` times d root / d node in ``node.grad``.

    Every node's ``.grad`` starts from zero (None with ``create_graph``, so a first contribution is
    stored as it is instead of adding a needless ``0 + ...`` node to the gradient's graph). Returns
    the nodes, root first, and the ``.grad`` values they had before, which the caller merges or
    restores (None when they were all 0.0: nothing to merge). On an error every ``.grad`` is
    restored before the error is raised.
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward needs a Value, got {reprlib.repr(root)}")
    order = _reverse_topological(root)
    saved = [node.grad for node in order]
    had_grads = create_graph or any(saved)  # after zero_grad() on a new graph they are all 0.0
    if had_grads:
        start = None if create_graph else 0.0
        for node in order:
            node.grad = start
    root.grad = seed
    try:
        if create_graph:
            with enable_grad():
                _chain_rule_graph(order)
        else:
            _chain_rule(order)
        _check_finite(order, create_graph)
    except BaseException:
        _restore(order, saved)
        raise
    return order, saved if had_grads else None


def _check_finite(order: list[Value], create_graph: bool) -> None:
    """Raise if a gradient overflowed; a float sum is finite only if every term is (or one fails)."""
    if not create_graph and _isfinite(sum([node.grad for node in order])):
        return
    for node in order:
        g = node.grad
        if g is not None and not _isfinite(g if type(g) is float else g.data):
            raise DomainError(_overflow_message(order, node))


def _overflow_message(order: list[Value], bad: Value) -> str:
    """Which op made a gradient overflow: the first, from the root, whose contribution is not finite.

    Only runs on the error path: it recomputes each node's contributions to find the culprit.
    """
    for node in order:
        g = node.grad
        g = g if type(g) is float else getattr(g, "data", 0.0)
        op = node._op
        if not _isfinite(g) or not node._prev or op.backward is not None:
            continue
        parents = node._prev
        partials = op.derivative(*[p.data for p in parents], node.data)
        for name, d in zip(_input_names(len(parents)), partials):
            d = d if type(d) is float else getattr(d, "data", d)
            if not _isfinite(d * g):
                return (f"the gradient overflowed at {_call_text(op, len(parents))} with {_inputs_text(parents)}: "
                        f"its local derivative d/d{name} = {d:.6g} times the gradient arriving there, {g:.6g}, "
                        "is not a finite float; rescale the computation (smaller numbers) or look at this op"
                        + _node_made_at(node))
    return (f"the gradient at {_name(bad)} is not finite: the contributions flowing into it add up to more "
            "than a float holds" + made_at("it", bad))


def _restore(order: list[Value], saved: list[Any]) -> None:
    for node, old in zip(order, saved):
        node.grad = old


def _chain_rule(order: list[Value]) -> None:
    """The backward pass on floats: each node hands partial * (its gradient) to each parent.

    A node's gradient is complete once every node that uses it has been visited, which the reverse
    topological order guarantees. The parents are read from the slots directly (see Value).
    """
    node = order[0]
    try:
        for node in order:
            a = node._a
            if a is None:  # a leaf
                continue
            b, g, op = node._b, node.grad, node._op
            if op.backward is not None:  # a node built by hand, micrograd-style: its own closure
                op.backward()
                continue
            rule = op.derivative
            if b is not None:  # two inputs
                if type(b) is float:  # a constant: it needs no gradient
                    partials = rule(a.data, b, node.data)
                    if len(partials) != 2:
                        raise RuleError(_partials_message(node, partials))
                    a.grad += partials[0] * g
                    continue
                partials = rule(a.data, b.data, node.data)
                if len(partials) != 2:
                    raise RuleError(_partials_message(node, partials))
                a.grad += partials[0] * g
                b.grad += partials[1] * g
            elif type(a) is not tuple:  # one input
                partials = rule(a.data, node.data)
                if len(partials) != 1:
                    raise RuleError(_partials_message(node, partials))
                a.grad += partials[0] * g
            else:  # any number of inputs
                _step(node)
    except (ArithmeticError, ValueError) as error:
        _raise_domain_error(_derivative_message(node), node._op, error)


def _step(node: Value) -> None:
    """One node's share of the chain rule: its gradient times each local derivative, added to its parents'.

    An unboxed constant stays a float here: it gets its gradient when it gets its node (see _prev).
    """
    a, b = node._a, node._b
    parents = a if type(a) is tuple else (a,) if b is None else (a, b)
    partials = node._op.derivative(*[_data(p) for p in parents], node.data)
    if len(partials) != len(parents):
        raise RuleError(_partials_message(node, partials))
    g = node.grad
    for parent, partial_ in zip(parents, partials):
        if type(parent) is not float:
            parent.grad += partial_ * g


def _chain_rule_graph(order: list[Value]) -> None:
    """The backward pass on Values (create_graph): the same rules, fed the nodes themselves.

    Gradients start as None rather than 0.0, so the first contribution is stored as it is instead
    of adding a needless ``0 + ...`` node to the gradient's graph.
    """
    node = order[0]
    try:
        for node in order:
            parents = node._prev
            if not parents or node.grad is None:
                continue
            g = node.grad
            op = node._op
            try:  # a node built by hand has no rule, only a closure on floats: its op refuses, naming itself
                partials = op.derivative(*parents, node)
            except RuleError:
                raise
            except TypeError as error:
                if "Value" not in str(error):
                    raise
                raise TypeError(
                    f"the derivative rule of op {op.name!r} cannot take Values, which "  # type: ignore[union-attr]
                    "create_graph=True passes it: write it with arithmetic and microgradx.ops functions "
                    f"(ops.exp, ops.tanh, ...) instead of math ({error})"
                ) from error
            if len(partials) != len(parents):
                raise RuleError(_partials_message(node, partials))
            for parent, partial_ in zip(parents, partials):
                contribution = partial_ * g
                parent.grad = contribution if parent.grad is None else parent.grad + contribution
    except (ArithmeticError, ValueError) as error:
        _raise_domain_error(_derivative_message(node), node._op, error)


def grad(
    output: Value, inputs: Value | Iterable[Value], create_graph: bool = False
) -> tuple[Any, ...]:
    """The gradients of ``output`` with respect to ``inputs``, without touching any ``.grad``.

    Returns a tuple of floats, one per input (0.0 for an input ``output`` does not depend on).
    With ``create_graph=True`` it returns Values connected to the graph, so they can be
    differentiated again: Hessian-vector products, Newton's method.

    >>> x = Value(3.0)
    >>> y = x ** 3
    >>> (dy,) = grad(y, [x], create_graph=True)
    >>> (d2y,) = grad(dy, [x])
    >>> dy.data, d2y
    (27.0, 18.0)
    """
    xs = [inputs] if isinstance(inputs, Value) else list(inputs)
    for i, x in enumerate(xs):
        if not isinstance(x, Value):
            raise TypeError(f"grad() inputs must be Values, got {reprlib.repr(x)} at position {i}")
    order, saved = _run_backward(output, create_graph)
    in_graph = set(order)
    result = [x.grad if x in in_graph and x.grad is not None else 0.0 for x in xs]
    _restore(order, saved if saved is not None else [0.0] * len(order))
    if create_graph:
        result = [g if isinstance(g, Value) else Value(g) for g in result]
    return tuple(result)
