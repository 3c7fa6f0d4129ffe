"""Gradient checking: compare the engine's gradients with central differences, and say which op is wrong.

The exercise loop: write an op's derivative (:func:`microgradx.define_op`), run :func:`gradcheck`,
read the table it prints when something is off, fix the rule. Each input x is nudged by a step
``h = eps * max(1, |x|)`` and ``f`` evaluated again; the slope ``(f(x + h) - f(x - h)) / 2h`` must
match the gradient the backward pass computes. When a gradient does not match, the check looks at
every op on the path from that input to the output and compares the op's derivative rule with a
finite difference of its own forward rule: the op whose two rules disagree is named as the likely
culprit.

**The step scales with the input**, as in SciPy's ``approx_derivative``: a fixed ``eps`` is lost
in rounding once ``|x|`` is large (``1e17 + 1e-6 == 1e17``), while ``eps * |x|`` always moves x by
the same fraction of its size. Where ``f`` changes on a shorter scale than ``|x|`` (``sin(x)`` at
``x = 1e6``), a row that does not match at that step is tried again at smaller steps, down to
``eps`` itself, before it fails.

**Rounding.** Each float operation may be off by one unit in the last place, and a finite
difference divides those errors by the step. From the backward pass the check knows how much each
intermediate result moves the output, so it bounds the rounding error of every finite difference
(first-order error analysis, as in Higham's *Accuracy and Stability of Numerical Algorithms*,
ch. 3). A row whose finite difference cannot be told from rounding noise (``x + 1e12`` at
``x = 1``: floats near 1e12 are 1.2e-4 apart, the step is 1e-6) has status ``unresolved``: not a
failure, no culprit named, nothing checked. The per-op probe that names culprits allows for the
same noise, so no op is blamed for rounding.

**Inputs** are numbers or Values. A number becomes a new leaf Value. A Value is used as it is: ``f``
receives it, and the finite differences nudge its ``.data`` and put it back afterwards, so ``f`` may
also ignore its arguments and read Values it closes over (a model's parameters). No ``.grad`` is
ever touched. ``f`` takes one Value per input and returns one Value.

Where an input sits on a kink (relu at 0, or a branch such as ``if x > 0`` in ``f``) the
derivative jumps, central differences straddle the jump, and there is nothing to check: such rows
are reported with status ``kink``, not as failures. A report in which no row could be checked says
so in its first line.

>>> from microgradx import define_op
>>> square = define_op("square", lambda x: x * x, lambda x, out: (2 * x,))
>>> gradcheck(lambda x: square(x), [3.0])
True
>>> half = define_op("half_square", lambda x: x * x, lambda x, out: (x,))  # a factor 2 forgotten
>>> print(check(lambda x: half(x), [3.0]))  # doctest: +NORMALIZE_WHITESPACE
gradcheck failed: 1 of 1 gradients differ from central differences (eps=1e-06, atol=1e-05, rtol=0.001)
input      analytic  numeric  abs error  rel error  status  likely culprit
inputs[0]  3         6        3          0.5        FAIL    half_square
inputs[0]: op 'half_square' at its input 3: its derivative rule gives 3, but its forward rule
changes at the rate 6 (off by a factor of 2: is a factor missing?)
"""

from __future__ import annotations

import html
import math
import reprlib
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Union, cast

from ._text import visible
from .engine import Value, _is_real, apply_op, enable_grad, grad
from .ops import DomainError, Op, RuleError

__all__ = [
    "GradcheckError", "GradcheckReport", "GradcheckWarning", "Row",
    "check", "gradcheck", "gradgradcheck", "numerical_grad",
]

Inputs = Union[Value, float, Sequence[Union[Value, float]]]

_LOCAL_STEP = 1e-6  # step of the finite differences that test one op's rules, relative to max(1, |x|)
_ULP = 2.0**-52  # how far one float operation may be off, relative to its result (one unit in the last place)
_OP_ROUNDING = 4 * _ULP  # the same for one op's forward rule, which may take a few operations
_MAX_REFINEMENTS = 12  # smaller steps tried before a row fails (each one tenth of the last)


class GradcheckError(AssertionError):
    """A gradient differs from central differences; the message is the report's table.

    The full :class:`GradcheckReport` is in ``.report``.

    >>> try:
    ...     gradcheck(lambda x: x * x.data, [3.0])  # .data cuts the graph: d/dx comes out as 3, not 6
    ... except GradcheckError as error:
    ...     row = error.report.rows[0]
    >>> row.analytic, round(row.numeric, 6), row.status
    (3.0, 6.0, 'FAIL')
    """

    def __init__(self, report: GradcheckReport) -> None:
        super().__init__(report.text)
        self.report = report


class GradcheckWarning(UserWarning):
    """gradcheck passed, but some rows were not checked: their input sits on a kink, or their finite
    difference is below float resolution.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     gradcheck(lambda x: x.relu(), [0.0])
    True
    >>> caught[0].category.__name__
    'GradcheckWarning'
    """


@dataclass(frozen=True)
class Row:
    """One checked derivative: which input(s), the two values, the errors, the verdict.

    ``status`` is ``"ok"``, ``"FAIL"``, ``"kink"`` (the derivative jumps here: not checked) or
    ``"unresolved"`` (the finite difference is below float resolution: not checked); ``culprit``
    names the ops whose derivative rule disagrees with their forward rule (empty when none stands
    out); ``note`` says why in one sentence.

    >>> check(lambda x: x * x, [3.0]).rows[0].status
    'ok'
    """

    input: str
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float
    status: str
    culprit: str = ""
    note: str = ""


class GradcheckReport:
    """The result of :func:`check`: one :class:`Row` per derivative, as a text or HTML table.

    ``passed`` (also the report's truth value) is False when any row failed; rows that could not be
    checked (``kink``, ``unresolved``) do not fail, and the headline says when no row was checked.
    ``str(report)`` is the text table, and Jupyter shows the HTML one.

    >>> report = check(lambda x, y: x * y, [2.0, 5.0])
    >>> report.passed, [row.input for row in report.rows], round(report.rows[0].numeric, 6)
    (True, ['inputs[0]', 'inputs[1]'], 5.0)
    """

    def __init__(self, rows: Sequence[Row], *, order: int, eps: float, atol: float, rtol: float) -> None:
        self.rows = tuple(rows)
        self.order = order
        self.eps, self.atol, self.rtol = eps, atol, rtol

    @property
    def failures(self) -> tuple[Row, ...]:
        """The rows whose analytic and numeric values differ."""
        return tuple(row for row in self.rows if row.status == "FAIL")

    @property
    def kinks(self) -> tuple[Row, ...]:
        """The rows whose input sits on a kink: reported, not checked."""
        return tuple(row for row in self.rows if row.status == "kink")

    @property
    def unresolved(self) -> tuple[Row, ...]:
        """The rows whose finite difference is below float resolution: reported, not checked."""
        return tuple(row for row in self.rows if row.status == "unresolved")

    @property
    def checked(self) -> tuple[Row, ...]:
        """The rows where the two values were compared: ``ok`` or ``FAIL``."""
        return tuple(row for row in self.rows if row.status in ("ok", "FAIL"))

    @property
    def passed(self) -> bool:
        """True when no row failed."""
        return not self.failures

    def __bool__(self) -> bool:
        return self.passed

    def headline(self) -> str:
        """One line: the verdict, how many rows failed or could not be checked, and the settings."""
        what = "gradgradcheck" if self.order == 2 else "gradcheck"
        kind = "second derivatives" if self.order == 2 else "gradients"
        settings = f"(eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g})"
        n = len(self.rows)
        reasons = [(len(rows), reason) for rows, reason in (
            (self.kinks, "on a kink"), (self.unresolved, "below float resolution")) if rows]
        why = " and ".join(f"{count} {reason}" for count, reason in reasons)
        if not self.checked:
            if n == 1:
                return f"{what} could not check anything: the one {kind[:-1]} is {reasons[0][1]} {settings}"
            return f"{what} could not check anything: of its {n} {kind}, {why} {settings}"
        unchecked = f"; {why}, not checked" if why else ""
        if self.passed:
            return f"{what} passed: {len(self.checked)} of {n} {kind} match central differences{unchecked} {settings}"
        return (f"{what} failed: {len(self.failures)} of {n} {kind} differ from central differences{unchecked} "
                f"{settings}")

    def _cells(self) -> tuple[list[str], list[list[str]]]:
        header = ["inputs (i, j)" if self.order == 2 else "input", "analytic", "numeric", "abs error",
                  "rel error", "status", "likely culprit"]
        body = [[row.input, f"{row.analytic:.6g}", f"{row.numeric:.6g}", f"{row.abs_error:.3g}",
                 f"{row.rel_error:.3g}", row.status, row.culprit] for row in self.rows]
        return header, body

    @property
    def text(self) -> str:
        """The report as plain text: headline, aligned table, then one line per note."""
        header, body = self._cells()
        widths = [max(len(line[c]) for line in [header, *body]) for c in range(len(header))]
        lines = [self.headline()]
        for line in [header, *body]:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
        lines += [f"{inputs}: {note}" for inputs, note in self._notes()]
        return "\n".join(lines)

    def _notes(self) -> list[tuple[str, str]]:
        """Each distinct note once, with the rows it explains (one wrong op often fails several)."""
        notes: dict[str, list[str]] = {}
        for row in self.rows:
            if row.note:
                notes.setdefault(row.note, []).append(row.input)
        return [("; ".join(inputs), note) for note, inputs in notes.items()]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        # Every colour is set, text and background, on every cell: a notebook's theme (dark ones set
        # light text, and stripe table rows) never leaves light text on the pink of a FAIL row.
        header, body = self._cells()
        looks = {"ok": ("#111827", "#ffffff"), "FAIL": ("#7f1d1d", "#fee2e2"), "kink": ("#713f12", "#fef9c3"),
                 "unresolved": ("#713f12", "#fef9c3")}  # not checked, as a kink
        cell = "padding:2px 8px;border:1px solid #d1d5db;text-align:left;color:{};background:{}"
        heads = "".join(f'<th style="{cell.format("#111827", "#f3f4f6")}">{html.escape(h)}</th>' for h in header)
        rows = [f"<tr>{heads}</tr>"]
        for row, line in zip(self.rows, body):
            style = cell.format(*looks.get(row.status, looks["ok"]))
            rows.append("<tr>" + "".join(f'<td style="{style}">{html.escape(c)}</td>' for c in line) + "</tr>")
        ink = "color:#111827"
        notes = "".join(f'<li style="{ink}"><b style="{ink}">{html.escape(inputs)}</b>: {html.escape(note)}</li>'
                        for inputs, note in self._notes())
        box = "color:#111827;background:#ffffff;padding:6px 8px;border-radius:4px;display:inline-block"
        return (f'<div class="microgradx-gradcheck" style="{box}"><p style="margin:0 0 .4em;color:#111827">'
                f"{html.escape(self.headline())}</p>"
                f'<table style="border-collapse:collapse;color:#111827;background:#ffffff">{"".join(rows)}</table>'
                + (f'<ul style="margin:.4em 0 0;color:#111827">{notes}</ul>' if notes else "") + "</div>")


# -- the public checks ------------------------------------------------------------------------------


def numerical_grad(f: Callable[..., Value], inputs: Inputs, eps: float = 1e-6) -> tuple[float, ...]:
    """The gradient of ``f`` at ``inputs`` by central differences: (f(x + h) - f(x - h)) / 2h.

    One float per input. The step is ``h = eps * max(1, |x|)`` for each input x (see the module
    docstring). Inputs are numbers or Values. Raises DomainError where ``f`` is not defined at
    ``x ± h``, and ValueError where ``x ± h`` rounds back to x (an ``eps`` below float resolution).

    >>> [round(g, 6) for g in numerical_grad(lambda x, y: x * x * y, [3.0, 2.0])]  # (2xy, x^2)
    [12.0, 9.0]
    >>> numerical_grad(lambda x: 2 * x, [1e17])  # a step of 1e11 here, where 1e17 + 1e-6 == 1e17
    (2.0,)
    """
    _check_settings(eps, 0.0, 0.0)
    leaves = _leaves(inputs)
    names = _names(leaves)
    return tuple(
        _central(lambda: (_call(f, leaves).data,), leaves, i, _step(leaves[i].data, eps), names[i])[0]
        for i in range(len(leaves))
    )


def check(
    f: Callable[..., Value], inputs: Inputs, *, order: int = 1, eps: float = 1e-6, atol: float = 1e-5,
    rtol: float = 1e-3,
) -> GradcheckReport:
    """Compare the gradients of ``f`` at ``inputs`` with central differences; return the report.

    ``order=1`` checks the gradient (one row per input); ``order=2`` checks every second derivative
    d²f / dx_i dx_j, computed through ``create_graph=True`` (one row per pair). Each input x is
    moved by ``eps * max(1, |x|)``. A row fails when ``|analytic - numeric| > atol + rtol * |numeric|``
    and the difference is more than float rounding can explain. Raises ValueError for settings
    out of range or an ``eps`` whose step rounds to nothing.

    >>> report = check(lambda x: x.relu(), [0.0])
    >>> report.passed, report.rows[0].status
    (True, 'kink')
    """
    if order not in (1, 2):
        raise ValueError(f"check(order=...) must be 1 (gradients) or 2 (second derivatives), got {order!r}")
    _check_settings(eps, atol, rtol)
    leaves = _leaves(inputs)
    checker = _Checker(f, leaves, eps, atol, rtol)
    rows = checker.first_order_rows() if order == 1 else checker.second_order_rows()
    return GradcheckReport(rows, order=order, eps=eps, atol=atol, rtol=rtol)


def gradcheck(
    f: Callable[..., Value], inputs: Inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """True if the gradients of ``f`` at ``inputs`` match central differences, else raise (or False).

    On a mismatch it raises :class:`GradcheckError` whose message is the report's table, naming
    the likely culprit op; with ``raise_exception=False`` it returns False instead. Rows that
    cannot be checked (an input on a kink, a finite difference below float resolution) are not
    failures: it returns True and warns (:class:`GradcheckWarning`) that they were not checked.
    Use :func:`check` for the report itself.

    >>> gradcheck(lambda x, y: (x * y).tanh() + x.exp(), [0.5, -1.0])
    True
    """
    return _verdict(check(f, inputs, order=1, eps=eps, atol=atol, rtol=rtol), raise_exception)


def gradgradcheck(
    f: Callable[..., Value], inputs: Inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Like :func:`gradcheck`, for the second derivatives that ``create_graph=True`` computes.

    Each second derivative d²f / dx_i dx_j from the graph of the gradient is compared with a central
    difference of the gradient itself. This checks that derivative rules are differentiable: written
    with Value arithmetic and the ``microgradx.ops`` helpers (``ops.exp``, ``ops.tanh``, ...).

    >>> gradgradcheck(lambda x, y: x * x * y + y.sin(), [1.5, 0.3])
    True
    """
    return _verdict(check(f, inputs, order=2, eps=eps, atol=atol, rtol=rtol), raise_exception)


def _verdict(report: GradcheckReport, raise_exception: bool) -> bool:
    if not report.passed:
        if raise_exception:
            raise GradcheckError(report)
        return False
    if report.kinks or report.unresolved:
        warnings.warn(report.text, GradcheckWarning, stacklevel=3)
    return True


# -- inputs, evaluation and finite differences ------------------------------------------------------


def _check_settings(eps: float, atol: float, rtol: float) -> None:
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if not _is_real(value) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if eps == 0:
        raise ValueError("eps must be > 0: it is the step of the central differences (1e-6 is a good start)")


def _leaves(inputs: Inputs) -> list[Value]:
    """The inputs as Values: a Value is kept as it is, a number becomes a new leaf."""
    items: Any = [inputs] if isinstance(inputs, Value) or _is_real(inputs) else inputs
    try:
        items = list(items)
    except TypeError:
        raise TypeError(f"inputs must be a number, a Value, or a list of them, got {reprlib.repr(inputs)}") from None
    if not items:
        raise ValueError("there is nothing to check: pass at least one input")
    leaves = []
    for i, x in enumerate(items):
        if isinstance(x, Value):
            leaves.append(x)
        elif _is_real(x):
            leaves.append(Value(x))
        else:
            raise TypeError(f"inputs must be numbers or Values, got {reprlib.repr(x)} at position {i}")
    return leaves


def _names(leaves: Sequence[Value]) -> list[str]:
    """How each input reads in the table: its label (control characters shown escaped), else its
    position in ``inputs``."""
    labels = [visible(v.label) for v in leaves]
    return [
        f"inputs[{i}]" if not label else label if labels.count(label) == 1 else f"{label} (inputs[{i}])"
        for i, label in enumerate(labels)
    ]


def _call(f: Callable[..., Value], leaves: Sequence[Value]) -> Value:
    with enable_grad():  # a check inside no_grad() still needs the graph
        out = f(*leaves)
    if not isinstance(out, Value):
        hint = ""
        if isinstance(out, (list, tuple)):
            hint = "; check one output at a time (lambda *xs: f(*xs)[0]) or combine them into one"
        elif _is_real(out):
            hint = "; build it from the Values f receives, not from their .data"
        raise TypeError(f"f must return a single Value, got {reprlib.repr(out)}{hint}")
    return out


def _step(x: float, eps: float) -> float:
    """The finite-difference step at x: ``eps`` relative to |x|, and ``eps`` itself where |x| < 1."""
    return eps * max(1.0, abs(x))


def _smaller_steps(h: float, floor: float) -> list[float]:
    """h / 10, h / 100, ... while not below ``floor``: the steps tried after h, for an f that changes
    on a shorter scale than |x| (sin(x) at x = 1e6, where h = 1)."""
    steps: list[float] = []
    while len(steps) < _MAX_REFINEMENTS and h / 10 >= floor:
        h /= 10
        steps.append(h)
    return steps


def _central(
    evaluate: Callable[[], Sequence[float]], leaves: Sequence[Value], i: int, h: float, name: str
) -> list[float]:
    """Central differences of ``evaluate()`` (a tuple of floats) as input ``i`` moves by ± h."""
    x = leaves[i]
    x0 = x.data
    up, down = x0 + h, x0 - h
    if not (math.isfinite(up) and math.isfinite(down)):
        raise ValueError(f"{name} = {x0!r} ± {h:g} is beyond the largest float: use a smaller eps")
    if up == x0 or down == x0:
        raise ValueError(
            f"the step {h:g} at {name} = {x0!r} is below float resolution (x ± step rounds back to x), so there "
            f"is no finite difference to take: eps must be at least 1e-15 (1e-6 is a good start)"
        )
    try:
        x.data = up
        plus = evaluate()
        x.data = down
        minus = evaluate()
    except DomainError as error:
        raise DomainError(
            f"f is not defined at {name} = {x0!r} ± {h:g}, where the central differences evaluate it "
            f"({error}): check at a point at least that far inside the domain"
        ) from error
    finally:
        x.data = x0
    step = up - down  # the exact distance between the two points, not the rounded 2h
    return [(p - m) / step for p, m in zip(plus, minus)]


def _is_close(analytic: float, numeric: float, atol: float, rtol: float) -> bool:
    return abs(analytic - numeric) <= atol + rtol * abs(numeric)  # False for nan


def _errors(analytic: float, numeric: float) -> tuple[float, float]:
    error = abs(analytic - numeric)
    if numeric != 0:
        return error, error / abs(numeric)
    return error, 0.0 if error == 0 else math.inf


def _grad(out: Value, leaves: Sequence[Value], create_graph: bool = False) -> tuple[Any, ...]:
    """:func:`microgradx.grad`, with a rule that returns the wrong shape named when it fails (a
    :class:`RuleError`, as ``backward()`` raises for it, saying where the check met it)."""
    try:
        return grad(out, leaves, create_graph=create_graph)
    except TypeError as error:
        for node in _topological([out]):
            op = node._op
            if not node._prev or _hand_built(op):
                continue
            xs = [p.data for p in node._prev]
            try:
                problem = _as_partials(op.derivative(*xs, node.data), len(xs))
            except Exception:  # the rule fails in another way: the engine's own error says more
                continue
            if isinstance(problem, str):
                raise RuleError(f"{_at(op, xs)}: {problem}") from error
        raise


# -- the checker: rows, and the diagnosis of a failing row ------------------------------------------


class _Graph:
    """One evaluation's graph, nodes listed parents first, with each node's data as evaluated."""

    def __init__(self, roots: Sequence[Value]) -> None:
        self.nodes = _topological(roots)
        position = {id(node): k for k, node in enumerate(self.nodes)}
        self.shape = [(n._op.name if n._prev else None, tuple(position[id(p)] for p in n._prev)) for n in self.nodes]
        self.data = [n.data for n in self.nodes]  # inputs are put back after nudging: keep what f saw


def _topological(roots: Sequence[Value]) -> list[Value]:
    """Every node the roots depend on, each after its parents; iterative, so depth is no limit."""
    order: list[Value] = []
    seen: set[int] = set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root._prev))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append((parent, iter(parent._prev)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _depends_on(nodes: Sequence[Value], sources: Sequence[Value]) -> list[Value]:
    """The nodes (listed parents first) that depend on any of ``sources``, sources excluded."""
    reached = {id(s) for s in sources}
    found = []
    for node in nodes:
        if id(node) not in reached and any(id(p) in reached for p in node._prev):
            reached.add(id(node))
            found.append(node)
    return found


class _Checker:
    def __init__(self, f: Callable[..., Value], leaves: list[Value], eps: float, atol: float, rtol: float) -> None:
        self.f, self.leaves, self.eps, self.atol, self.rtol = f, leaves, eps, atol, rtol
        self.names = _names(leaves)
        self.steps = [_step(x.data, eps) for x in leaves]
        self._verdicts: dict[tuple[int, int], str] = {}  # (node id, order) -> complaint about its rules
        self._around: dict[tuple[int, int], tuple[_Graph, _Graph, _Graph]] = {}  # (input, order) -> graphs
        self._total_rounding: dict[int, float] = {}  # id(root) -> sum of |d root / d v| |v| over its ops

    def first_order_rows(self) -> list[Row]:
        out = _call(self.f, self.leaves)
        analytic = _grad(out, self.leaves)
        rows = []
        for i, name in enumerate(self.names):
            (numeric,) = self._first_order_column(i, self.steps[i])
            rows.append(self._row(name, analytic[i], numeric, out, [], i, i))
        return rows

    def second_order_rows(self) -> list[Row]:
        out = _call(self.f, self.leaves)
        grads = _grad(out, self.leaves, create_graph=True)
        hessian = [_grad(g, self.leaves) for g in grads]  # hessian[i][j] = d/dx_j (df/dx_i)
        # columns[j][i] = the central difference of df/dx_i as x_j moves
        columns = [self._second_order_column(j, self.steps[j]) for j in range(len(self.leaves))]
        return [
            self._row(f"{name_i}, {name_j}", hessian[i][j], columns[j][i], out, [grads[i]], i, j)
            for i, name_i in enumerate(self.names)
            for j, name_j in enumerate(self.names)
        ]

    def _first_order_column(self, j: int, h: float) -> list[float]:
        return _central(lambda: (_call(self.f, self.leaves).data,), self.leaves, j, h, self.names[j])

    def _second_order_column(self, j: int, h: float) -> list[float]:
        return _central(self._gradient_data, self.leaves, j, h, self.names[j])

    def _gradient_data(self) -> list[float]:
        out = _call(self.f, self.leaves)
        return [g.data for g in grad(out, self.leaves, create_graph=True)]

    def _tolerance(self, numeric: float) -> float:
        return self.atol + self.rtol * abs(numeric)

    def _row(self, name: str, analytic: float, numeric: float, out: Value, grads: list[Value], i: int,
             j: int) -> Row:
        """The verdict on d(out, or grads[0])/dx_j: ``i`` is the input whose gradient is checked (the
        same as ``j`` for first order).

        Agreement within the tolerance is a pass where rounding cannot fake it: where the step is lost
        in rounding, both evaluations come out the same and 0 "agrees" with any zero gradient. A
        disagreement is a failure only if it stays where rounding cannot explain it and smaller
        steps do not remove it.
        """
        order = 2 if grads else 1
        h, tolerance = self.steps[j], self._tolerance(numeric)
        close = _is_close(analytic, numeric, self.atol, self.rtol)
        if close and self._rough_noise(grads[0] if grads else out, h) <= tolerance:
            return Row(name, analytic, numeric, *_errors(analytic, numeric), "ok")
        kink = self._kink_or_branch(j, order)
        if kink:
            return Row(name, analytic, numeric, *_errors(analytic, numeric), "kink", "", kink)
        rounding = self._rounding(i, j, order)
        noise = rounding.slope_error(h)
        if close and noise <= tolerance:
            return Row(name, analytic, numeric, *_errors(analytic, numeric), "ok")
        if noise > tolerance and _is_close(analytic, numeric, self.atol + noise, self.rtol):
            # rounding alone may exceed the tolerance, and it explains the difference (or the agreement)
            note = rounding.explain(h, "f" if order == 1 else f"df/d{self.names[i]}")
            return Row(name, analytic, numeric, *_errors(analytic, numeric), "unresolved", "", note)
        x0 = self.leaves[j].data
        for smaller in _smaller_steps(h, self.eps):  # f may change on a shorter scale than |x|
            if rounding.slope_error(smaller) > tolerance or x0 + smaller == x0 or x0 - smaller == x0:
                break
            column = self._first_order_column(j, smaller) if order == 1 else self._second_order_column(j, smaller)
            numeric = column[i if order == 2 else 0]  # a smaller step, as free of rounding: more accurate
            if _is_close(analytic, numeric, self.atol, self.rtol):
                return Row(name, analytic, numeric, *_errors(analytic, numeric), "ok")
        culprit, note = self._diagnose(out, grads, i, j)
        return Row(name, analytic, numeric, *_errors(analytic, numeric), "FAIL", culprit, note)

    def _rough_noise(self, root: Value, h: float) -> float:
        """A quick upper bound on the rounding in a finite difference of ``root`` over the step h:
        every op counted, moving with the input or not (one backward pass per root, then free)."""
        if id(root) not in self._total_rounding:
            nodes = [node for node in _topological([root]) if node._prev]
            adjoints = grad(root, nodes) if nodes else ()
            self._total_rounding[id(root)] = math.fsum(abs(a) * abs(n.data) for a, n in zip(adjoints, nodes))
        return _ULP * self._total_rounding[id(root)] / h

    def _diagnose(self, out: Value, grads: list[Value], i: int, j: int) -> tuple[str, str]:
        """Why d(out or grads)/dx_j failed: a cut, or an op whose rules disagree. (culprit, note)"""
        order = 2 if grads else 1
        nodes = _topological([out, *grads])
        sources = [self.leaves[i], self.leaves[j]]
        suspects: dict[str, str] = {}
        for node in _depends_on(nodes, sources):  # every op on the path, first-order rules
            complaint = self._verdict(node, 1)
            if complaint:
                suspects.setdefault(visible(node._op.name), complaint)
        if order == 2:
            for node in _depends_on(_topological([out]), sources):  # f's ops: are their rules differentiable?
                complaint = self._verdict(node, 2)
                if complaint:
                    suspects.setdefault(visible(node._op.name), complaint)
        if suspects:
            return ", ".join(suspects), next(iter(suspects.values()))
        closures = sorted({node._op.name for node in _depends_on(nodes, sources) if _hand_built(node._op)})
        if closures:  # their derivative is code, not a rule: nothing to compare it with
            names = ", ".join(repr(name) for name in closures)
            return "", (f"the op(s) {names} on the path were built by hand with a _backward closure (micrograd's "
                        "way), which gradcheck cannot test on its own; check that closure first, or make the op "
                        "with define_op(name, forward, derivative) so its rule can be tested")
        cut = self._cut(j, order)
        if cut:
            return "", cut
        return "", (
            "no single op stands out: every derivative rule on the path agrees with its forward rule here; "
            "check that f builds its result from the Values it receives"
        )

    def _evaluate_graph(self, order: int) -> _Graph:
        out = _call(self.f, self.leaves)
        if order == 1:
            return _Graph([out])
        return _Graph([out, *grad(out, self.leaves, create_graph=True)])

    def _rounding(self, i: int, j: int, order: int) -> _Rounding:
        """The rounding in the finite difference of f (order 1) or df/dx_i (order 2) as x_j moves,
        from the two evaluations it takes, at x_j - h and x_j + h."""
        x = self.leaves[j]
        x0 = x.data
        terms = []
        try:
            for step in (-self.steps[j], self.steps[j]):
                x.data = x0 + step  # the adjoints below read the inputs' data: keep x moved meanwhile
                out = _call(self.f, self.leaves)
                root = out if order == 1 else grad(out, self.leaves, create_graph=True)[i]
                terms += _rounding_terms(root, x)
        finally:
            x.data = x0
        return _Rounding(terms)

    def _graphs_around(self, j: int, order: int) -> tuple[_Graph, _Graph, _Graph]:
        """The graphs of f (and of its gradient, for order 2) at x_j - h, x_j and x_j + h."""
        if (j, order) not in self._around:
            x = self.leaves[j]
            x0 = x.data
            try:
                graphs = []
                for step in (-self.steps[j], 0.0, self.steps[j]):
                    x.data = x0 + step
                    graphs.append(self._evaluate_graph(order))
            finally:
                x.data = x0
            self._around[j, order] = (graphs[0], graphs[1], graphs[2])
        return self._around[j, order]

    def _kink_or_branch(self, j: int, order: int) -> str:
        minus, center, plus = self._graphs_around(j, order)
        name = self.names[j]
        if not minus.shape == center.shape == plus.shape:
            return (f"f builds a different graph at {name} - h and {name} + h (it branches on the data, "
                    "as in `if x > 0`): the derivative jumps here, so central differences cannot check it; "
                    "move the input away from the branch point")
        for k, node in enumerate(center.nodes):
            op = node._op
            if not node._prev or not op.kinks or len(center.shape[k][1]) != 1:  # type: ignore[union-attr]
                continue
            p = center.shape[k][1][0]
            args = (minus.data[p], center.data[p], plus.data[p])
            if args[0] == args[1] == args[2]:
                continue  # this op's input does not move with x_j
            for point in op.kinks:  # type: ignore[union-attr]
                if min(args) <= point <= max(args):
                    return (f"{op.name} has a kink at {point:g} and its input is {args[1]:.6g} here, within the "  # type: ignore[union-attr]
                            f"reach of {name} ± h: the derivative jumps, so central differences cannot check "
                            "it; move the input away from the kink")
        return ""

    def _cut(self, j: int, order: int) -> str:
        """A leaf inside the graph, not an input, whose value moves with x_j: a Value made from .data."""
        minus, center, plus = self._graphs_around(j, order)
        if not minus.shape == center.shape == plus.shape:
            return ""
        inputs = {id(v) for v in self.leaves}
        for k, node in enumerate(center.nodes):
            if not node._prev and id(node) not in inputs and minus.data[k] != plus.data[k]:
                what = f"Value {node.label!r}" if node.label else f"a constant ({node.data:.6g})"
                return (f"{what} inside the graph changes with {self.names[j]} but carries no gradient: it was "
                        "made from a number (e.g. Value(x.data), or a derivative rule computing with floats), "
                        "which cuts the graph; build it from the Values themselves")
        return ""

    def _verdict(self, node: Value, order: int) -> str:
        key = (id(node), order)
        if key not in self._verdicts:
            op, xs = node._op, [p.data for p in node._prev]
            verdict = ""
            if node._prev and not _hand_built(op):
                check_rules = _check_first_order_rule if order == 1 else _check_second_order_rule
                verdict = check_rules(op, xs, self.atol, self.rtol)
            self._verdicts[key] = verdict
        return self._verdicts[key]


def _hand_built(op: Op) -> bool:
    """Whether the op was built by hand, micrograd-style: a ``_backward`` closure instead of a rule."""
    return getattr(op, "backward", None) is not None


def _rounding_terms(root: Value, x: Value) -> list[tuple[Value, float]]:
    """Each op of root's graph that depends on x, with ``|d root / d v| * |v|``, its value v times
    how much root moves with it: one unit of rounding in v moves root by ``ulp`` times that."""
    nodes = _depends_on(_topological([root]), [x])
    if not nodes:
        return []
    return [(node, abs(adjoint) * abs(node.data)) for node, adjoint in zip(nodes, grad(root, nodes))]


class _Rounding:
    """How much float rounding can move a finite difference of an output as one input moves.

    Each op's result may be off by one unit in the last place, ``ulp * |v|``; the output then moves
    by that times ``d output / d v``, the adjoint the backward pass computes. Summed over the ops
    that depend on the input (the others come out the same on both sides and cancel), this bounds
    the rounding error of an evaluation (first-order error analysis); a central difference over
    the step h divides the errors of its two evaluations, at x - h and x + h, by 2h.
    """

    def __init__(self, terms: list[tuple[Value, float]]) -> None:
        self.nodes = [node for node, _ in terms]
        self.terms = [term for _, term in terms]

    def slope_error(self, h: float) -> float:
        """The bound on the rounding error of (f(x + h) - f(x - h)) / 2h."""
        return _ULP * math.fsum(self.terms) / (2 * h)

    def explain(self, h: float, what: str) -> str:
        """Which op's rounding dominates, and what it does to the slope: the note of an unresolved row."""
        k = max(range(len(self.terms)), key=self.terms.__getitem__)
        node = self.nodes[k]
        op = node._op.name  # type: ignore[union-attr]
        return (f"the finite difference is below float resolution: op {op!r} computes {node.data:.6g} here, where "
                f"floats are {math.ulp(node.data):.3g} apart, so over a step of ± {h:.3g} the slope of {what} is "
                f"only known to ± {self.slope_error(h):.3g}; nothing can be checked at this point")


# -- testing one op's rules against its own forward rule --------------------------------------------


def _at(op: Op, xs: Sequence[float]) -> str:
    """``op 'exp' at its input -1``: the op's own inputs, by value, so they are not confused with
    the names of the variables in the learner's f."""
    if len(xs) == 1:
        return f"op {op.name!r} at its input {xs[0]:.6g}"
    values = [f"{x:.6g}" for x in xs]
    return f"op {op.name!r} at its inputs " + (" and ".join(values) if len(xs) == 2 else f"({', '.join(values)})")


def _which(k: int, n: int) -> str:
    """How the partial for the op's input k of n is named: ``""`` (one input), ``" for its first input"``."""
    if n == 1:
        return ""
    return f" for its {('first', 'second')[k]} input" if n == 2 else f" for its input {k + 1}"


def _forward(op: Op, xs: Sequence[float]) -> float | None:
    """The op's forward value at ``xs``, or None where it is undefined there."""
    if op.valid is not None and not op.valid(*xs):
        return None
    try:
        out = float(op.forward(*xs))
    except (ArithmeticError, ValueError, TypeError):
        return None
    return out if math.isfinite(out) else None


@dataclass(frozen=True)
class _Slope:
    """Finite differences of one rule in one input: central, left and right, and their rounding error."""

    central: float
    left: float
    right: float
    noise: float  # the rounding error of the one-sided slopes; half of it for the central one


def _slope(rule: Callable[[list[float]], float | None], xs: Sequence[float], k: int, kinks: Sequence[float],
           h: float) -> _Slope | None:
    """Finite differences of ``rule`` in input ``k`` over a step h; None if it cannot tell here."""
    below, x, above = xs[k] - h, xs[k], xs[k] + h
    if below == x or above == x or any(below <= point <= above for point in kinks):
        return None
    values = []
    for point in (below, x, above):
        moved = list(xs)
        moved[k] = point
        value = rule(moved)
        if value is None:
            return None
        values.append(value)
    low, mid, high = values
    noise = 2 * _OP_ROUNDING * max(abs(low), abs(mid), abs(high)) / h
    return _Slope((high - low) / (above - below), (mid - low) / (x - below), (high - mid) / (above - x), noise)


def _agreeing_slope(partial: float, rule: Callable[[list[float]], float | None], xs: Sequence[float], k: int,
                    kinks: Sequence[float], atol: float, rtol: float) -> tuple[_Slope | None, bool]:
    """The finite difference of ``rule`` in input k and whether ``partial`` agrees with it.

    The step is ``_LOCAL_STEP * max(1, |x_k|)``, then smaller ones down to ``_LOCAL_STEP`` (as in
    the check itself); rounding noise counts in the op's favour. (None, True) where it cannot tell.
    """
    h = _LOCAL_STEP * max(1.0, abs(xs[k]))
    best = _slope(rule, xs, k, kinks, h)
    if best is None:
        return None, True
    for step in [h, *_smaller_steps(h, _LOCAL_STEP)]:
        slope = best if step == h else _slope(rule, xs, k, kinks, step)  # None once x + step rounds to x
        if slope is None:
            break
        if _is_close(partial, slope.central, atol + slope.noise / 2, rtol):
            return slope, True
        if slope.noise / 2 > atol + rtol * abs(slope.central):  # smaller steps only add noise
            break
        best = slope  # the smallest step so far whose slope rounding cannot blur: the most accurate
    return best, False


def _as_partials(result: object, n: int) -> tuple[Any, ...] | str:
    """The rule's result as a tuple of n partials, or a sentence saying what is wrong with it."""
    if isinstance(result, Value) or _is_real(result):
        return f"its derivative rule returned {result!r}, a bare number: return a tuple, e.g. ({result!r},)"
    try:
        partials = tuple(cast(Iterable[Any], result))
    except TypeError:
        return f"its derivative rule returned {reprlib.repr(result)}: return a tuple with one partial per input"
    if len(partials) != n:
        return f"its derivative rule returned {len(partials)} partial(s) for {n} input(s): return one per input"
    return partials


def _check_first_order_rule(op: Op, xs: list[float], atol: float, rtol: float) -> str:
    """A sentence saying how op's derivative rule disagrees with its forward rule at xs, or ''."""
    out = _forward(op, xs)
    if out is None:
        return ""
    try:
        partials = _as_partials(op.derivative(*xs, out), len(xs))
    except (ArithmeticError, ValueError, TypeError):
        return ""  # the backward pass reports rules that raise; here only wrong numbers are looked for
    if isinstance(partials, str):
        return f"{_at(op, xs)}: {partials}"
    analytic, numeric, wrong, kinky = [], [], [], []
    for k, partial in enumerate(partials):
        if not _is_real(partial):
            return ""
        slope, agrees = _agreeing_slope(float(partial), lambda moved: _forward(op, moved), xs, k, op.kinks,
                                        atol, rtol)
        if slope is None:
            return ""  # too close to a kink or the domain's edge to tell
        analytic.append(float(partial))
        numeric.append(slope.central)
        if not agrees:
            wrong.append(k)
            if not _is_close(slope.left, slope.right, 10 * atol + slope.noise, 10 * rtol):
                kinky.append((k, slope.left, slope.right))
    if not wrong:
        return ""
    said = " and ".join(f"{analytic[k]:.6g}{_which(k, len(xs))}" for k in wrong)
    rates = " and ".join(f"{numeric[k]:.6g}" for k in wrong)
    text = f"{_at(op, xs)}: its derivative rule gives {said}, but its forward rule changes at the rate {rates}"
    if kinky:
        k, left, right = kinky[0]
        return (f"{text}; its forward rule has a kink here (slope {left:.4g} on the left, {right:.4g} on the "
                "right), where no derivative exists: move the input, or declare the point in Op(kinks=...)")
    hint = _mismatch_hint(analytic, numeric, wrong, atol, rtol)
    return f"{text} ({hint})" if hint else text


def _check_second_order_rule(op: Op, xs: list[float], atol: float, rtol: float) -> str:
    """A sentence saying how the graph of op's derivative rule, differentiated, disagrees with
    finite differences of the rule itself at xs, or ''."""
    n = len(xs)
    if _forward(op, xs) is None:
        return ""
    leaves = [Value(x) for x in xs]
    try:
        with enable_grad():
            partials = _as_partials(op.derivative(*leaves, apply_op(op, *leaves)), n)
    except TypeError as error:
        if "Value" not in str(error):
            return ""
        return (f"{_at(op, xs)}: its derivative rule cannot take Values ({error}); write it with arithmetic and "
                "microgradx.ops functions (ops.exp, ops.tanh, ...) instead of math")
    except (ArithmeticError, ValueError):
        return ""
    if isinstance(partials, str):
        return f"{_at(op, xs)}: {partials}"

    def rule(k: int) -> Callable[[list[float]], float | None]:
        def partial_k(moved: list[float]) -> float | None:
            out = _forward(op, moved)
            if out is None:
                return None
            try:
                value = tuple(op.derivative(*moved, out))[k]
                return float(value) if _is_real(value) else None
            except (ArithmeticError, ValueError, TypeError, IndexError):
                return None
        return partial_k

    for k, partial in enumerate(partials):
        second = grad(partial, leaves) if isinstance(partial, Value) else (0.0,) * n
        for j in range(n):
            slope, agrees = _agreeing_slope(second[j], rule(k), xs, j, op.kinks, atol, rtol)
            if slope is None or agrees:
                continue
            why = ("it returns a plain number when given Values, so nothing flows through it"
                   if not isinstance(partial, Value) else "it is not written in terms of the Values it gets")
            which = f"the partial{_which(k, n)}, differentiated{_which(j, n).replace(' for', ' by')}, is"
            if n == 1:
                which = "the partial, differentiated again, is"
            return (f"{_at(op, xs)}: in its derivative rule {which} {second[j]:.6g} through the graph, but the rule "
                    f"changes at the rate {slope.central:.6g}: {why}; use Value arithmetic and microgradx.ops "
                    "functions (ops.exp, ops.cos, ...), not math or .data")
    return ""


def _mismatch_hint(analytic: list[float], numeric: list[float], wrong: list[int], atol: float, rtol: float) -> str:
    """A guess at the mistake: swapped partials, a flipped sign, or a missing factor."""
    def close(a: float, b: float) -> bool:
        return _is_close(a, b, atol, rtol)

    if len(wrong) >= 2 and all(any(close(analytic[k], numeric[m]) for m in wrong if m != k) for k in wrong):
        return "the partials look swapped: return them in the order of the inputs"
    if all(close(-analytic[k], numeric[k]) for k in wrong):
        return "the sign is flipped"
    if all(analytic[k] == 0 for k in wrong):
        return "it says 0 where the forward rule changes"
    ratios = [numeric[k] / analytic[k] for k in wrong if analytic[k] != 0]
    if len(ratios) == len(wrong) and all(close(r, ratios[0]) for r in ratios) and _simple(ratios[0]):
        return f"off by a factor of {ratios[0]:.4g}: is a factor missing?"
    return ""


def _simple(ratio: float) -> bool:
    """Whether ratio is ±n or ±1/n for a small n: the factor a forgotten exponent or 1/2 leaves."""
    return any(math.isclose(abs(ratio), n, rel_tol=1e-4) or math.isclose(abs(ratio), 1 / n, rel_tol=1e-4)
               for n in range(2, 11))
