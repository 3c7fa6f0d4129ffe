"""Trace once, train a batch at NumPy speed: :func:`compile`.

The scalar engine builds the same graph again for every example of a batch. ``compile(fn)`` runs
``fn`` once, on one example made of Values (the *trace*), and keeps the graph it built as a *tape*:
the ops of :mod:`microgradx.ops` in the order they ran. The tape is then run over NumPy arrays that
hold a whole batch, one row per example, by the same forward and derivative rules the scalar engine
uses (they accept arrays, see :mod:`microgradx.ops`). There is no second set of formulas, so a new
op of the table, or one made with :func:`~microgradx.define_op`, runs compiled at once.

**What is fused.** Nodes of the tape that do the same thing side by side run as one array
operation: nodes of the same op whose inputs come, position by position, from the same earlier
array operation (or from parameters and constants) become the columns of one ``(batch, width)``
array. For a neural network that means, per layer:

- the ``dot`` of every neuron (its weights with the layer's inputs) is one matrix product
  ``X @ W.T``, and its backward pass the two transposed products: the table's rule for ``dot``
  (d/dw_i = x_i, d/dx_i = w_i) summed by the chain rule over the batch;
- the ``+ b`` of every neuron is one addition, the activation one elementwise op;
- a ``sum`` over a whole row (the softmax's denominator) is one sum along the rows, and a ``dot``
  of two rows (one-hot targets with logits) one elementwise product summed along the rows.

Nodes that compute the same op of the same inputs are computed once. Everything else stays one
array operation per node of the trace, which is correct, only slower.

**In the graph.** ``compiled(X, y)`` returns the mean of ``fn`` over the batch as one ``Value``,
whose parents are the parameters the trace captured (every Value ``fn`` used that it did not make:
the model's weights) and whose local partials are the gradient of that mean. So

    loss = compiled(X, y) + 1e-4 * losses.l2(model.parameters())
    loss.backward()

gives every parameter the ``.grad`` the scalar path gives, and ``draw_graph(loss)`` shows the batch
as one node named after ``fn``. ``compiled.graph`` is the traced one-example graph, for drawing.
``compiled.forward(X)`` returns the per-example outputs as an array, without any graph.

**What cannot be compiled**, refused with :class:`CompileError`:

- a Python choice made on a traced Value (``if v > 0``, ``max(values)``, ``bool(v)``,
  ``v.item()``): it would be decided once, for the traced example, and reused for every other;
- an input that ``fn`` turns into a number (``v.data``, an index such as ``logits[label]``)
  instead of using it as a Value: that number would be the traced example's for every example;
- ``backward(create_graph=True)`` through a compiled node (its partials are numbers, not a graph);
- an op whose rules do not accept NumPy arrays (``math.exp`` in a ``define_op`` rule): write the
  rules with arithmetic, :func:`microgradx.ops.where` instead of ``if``, and ``ops.exp``,
  ``ops.tanh``, ... instead of ``math``; compile runs every rule once on the traced example, as
  arrays and as floats, and names the op whose two answers differ.

When a model that ``fn`` uses gets new parameters (one replaced, a layer added), the next call
traces ``fn`` again. A number ``fn`` computes from a Value's ``.data`` while tracing is a constant
of the tape (logsumexp's shift is one: harmless, its result does not depend on the shift).

>>> from microgradx import losses
>>> from microgradx.nn import MLP
>>> model = MLP(2, [4, 1], seed=0)
>>> hinge = compile(lambda x, y: losses.hinge(model(x), y))
>>> X, y = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0]]), np.array([1.0, -1.0, 1.0])
>>> loss = hinge(X, y)
>>> loss.backward()
>>> scalar = losses.hinge([model(x) for x in X.tolist()], y.tolist())
>>> abs(loss.data - scalar.data) < 1e-12
True
>>> hinge.forward(X, y).shape      # the loss of each example, no graph
(3,)
"""

from __future__ import annotations

import contextlib
import inspect
import math
import reprlib
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np

from . import ops
from .engine import DomainError, Value, is_grad_enabled
from .modes import Trace
from .nn import Module
from .ops import Op, RuleError

__all__ = ["compile", "Compiled", "CompileError"]

Array = np.ndarray
LEAVES = -1  # the "group" of parameters and constants: they sit in one flat vector, theta
Loc = tuple[int, int]  # where a traced node's values live: (group, column), or (LEAVES, index in theta)


class CompileError(RuntimeError):
    """``compile`` cannot record or run this function faithfully; the message says why and what to do."""


# -- tracing: Python choices on traced Values are refused ------------------------------------------

class _Trace(Trace):
    """The engine's trace hook, refusing a Python choice on a traced Value with a CompileError."""

    def refuse(self, value: Value, choice: str, other: Any = None) -> NoReturn:
        raise CompileError(_branch_message(self.name, value, choice, other))


def _short(v: Value) -> str:
    return f"Value({v.data:.6g}" + (f", label={v.label!r})" if v.label else ")")


def _branch_message(who: str, v: Value, symbol: str, other: Any) -> str:
    if symbol == "bool":
        what = f"bool({_short(v)}), as in `if v:`"
    elif symbol == "item":
        what = f"{_short(v)}.item()"
    else:
        what = f"{_short(v)} {symbol} {_short(other) if isinstance(other, Value) else reprlib.repr(other)}"
    return (f"compile({who}): the function makes a Python choice on a Value while it is traced ({what}). "
            "The choice would be made once, for the traced example, and reused for every example of every "
            "batch, so results and gradients would be wrong. Write it with an op instead (relu, abs, "
            "leaky_relu, or a define_op whose rules choose with ops.where), or make it outside the "
            "compiled function.")


# -- the models fn uses: traced again when their parameters change -----------------------------------


def _captured_objects(fn: Callable[..., Any]) -> list[Any]:
    """The models (and lists of Values) that ``fn`` reaches directly: itself, its ``self``, its
    closure and the globals it names."""
    found = [fn, getattr(fn, "__self__", None)]
    for cell in getattr(fn, "__closure__", None) or ():
        with contextlib.suppress(ValueError):  # a cell not filled yet
            found.append(cell.cell_contents)
    code, names = getattr(fn, "__code__", None), getattr(fn, "__globals__", {})
    if code is not None:
        found += [names[name] for name in code.co_names if name in names]
    return [obj for obj in found if isinstance(obj, Module)
            or (isinstance(obj, (list, tuple)) and any(isinstance(item, (Value, Module)) for item in obj))]


class _Guard:
    """Cheap checks that the models ``fn`` uses still hold the same parameters.

    Parameters live where :meth:`~microgradx.nn.Module.named_parameters` finds them: in public
    attributes and lists of modules. The guard remembers each attribute and list as it was; a
    parameter replaced, a layer added or removed, makes :meth:`holds` false.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._sizes: list[tuple[dict[str, Any], int]] = []
        self._attributes: list[tuple[dict[str, Any], str, Any]] = []
        self._lists: list[tuple[list[Any], tuple[Any, ...]]] = []
        seen: set[int] = set()
        stack = _captured_objects(fn)
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if isinstance(obj, Module):
                attributes = vars(obj)
                self._sizes.append((attributes, len(attributes)))
                for key, item in attributes.items():
                    if not key.startswith("_") and isinstance(item, (Value, Module, list, tuple)):
                        self._attributes.append((attributes, key, item))
                        stack.append(item)
            elif isinstance(obj, (list, tuple)):
                if isinstance(obj, list):
                    self._lists.append((obj, tuple(obj)))
                stack.extend(item for item in obj if isinstance(item, (Module, list, tuple)))

    def holds(self) -> bool:
        return (all(len(attributes) == n for attributes, n in self._sizes)
                and all(attributes.get(key) is item for attributes, key, item in self._attributes)
                and all(tuple(items) == before for items, before in self._lists))


# -- the trace -------------------------------------------------------------------------------------


def _nest(flat: list[Any], shape: tuple[int, ...]) -> Any:
    """``flat`` as nested lists of the given shape (a single item for shape ())."""
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0]
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def _flatten(out: Any, where: str) -> tuple[list[Value], tuple[int, ...]]:
    """fn's output as a flat list of Values and its shape: () for one Value, (k,) for a list of k."""
    if isinstance(out, Value):
        return [out], ()
    if isinstance(out, (int, float)) and not isinstance(out, bool):
        return [Value(out)], ()
    if isinstance(out, (list, tuple)) and out:
        parts = [_flatten(item, where) for item in out]
        shapes = {shape for _, shape in parts}
        if len(shapes) == 1:
            return [v for values, _ in parts for v in values], (len(out), *shapes.pop())
    raise CompileError(f"{where}: the function must return a Value, or a list of Values (one per output), "
                       f"got {reprlib.repr(out)}")


def _topological(roots: list[Value]) -> list[Value]:
    """Every node the roots depend on, parents before children (an iterative depth-first walk)."""
    order: list[Value] = []
    visited: set[Value] = set()
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        path = [(root, iter(root._prev))]
        while path:
            node, parents = path[-1]
            for parent in parents:
                if parent not in visited:
                    visited.add(parent)
                    path.append((parent, iter(parent._prev)))
                    break
            else:
                path.pop()
                order.append(node)
    return order


def _split_leaves(order: list[Value], inputs: set[Value], made: set[Value]) -> tuple[list[Value], list[Value]]:
    """The leaves of the trace that are parameters (captured) and those that are constants.

    A leaf made while ``fn`` was traced (the ``1`` of ``1 - y * s``, or a constant the engine kept
    unboxed until the walk gave it a node) can never change and nobody can read its gradient: it is
    a constant of the tape. A leaf ``fn`` found already made (a model's weight, a Value in its
    closure) is captured: read again at every call and given its gradient. The engine's trace hook
    (:class:`microgradx.modes.Trace`) lists the leaves made during the trace.
    """
    leaves: dict[Value, None] = {}  # in the order the ops first use them: a model's own order
    for node in order:
        for v in node._prev:
            if not v._prev and v not in inputs:
                leaves[v] = None
    for v in order:  # a leaf that no op uses (fn returned it as it is)
        if not v._prev and v not in inputs:
            leaves.setdefault(v, None)
    return [v for v in leaves if v not in made], [v for v in leaves if v in made]


def _check_node(node: Value, who: str) -> None:
    """Refuse a node compile cannot run over a batch: a compiled node, or one built by hand."""
    op = node._op
    if isinstance(getattr(op.forward, "__self__", None), _BatchResult):
        raise CompileError(f"compile({who}): the function calls a compiled function ({op.name!r}); compile "
                           "only the outer function, which then records the inner one's ops too")
    try:  # the rule ran on these inputs while tracing; a hand-built node's op has none and says so
        op.forward(*[p.data for p in node._prev])
    except RuleError:
        raise CompileError(f"compile({who}): node {_short(node)} was made by hand (Value(data, children, "
                           f"{op.name!r}), micrograd's way), so its op has no rules in the table: compile "
                           "can only record ops with forward and derivative rules; make it with define_op") from None
    except Exception:  # any other failure is the rule's own, and running the batch reports it
        pass


# -- where the arrays of one step come from ------------------------------------------------------------


class _Source:
    """One input of a step: how to read its array, and how to hand a gradient back to it."""

    needs_grad = False

    def get(self, values: list[Any], theta: Array) -> Array:
        raise NotImplementedError

    def add(self, values: list[Any], grads: list[Any], dtheta: Array, c: Array) -> None:
        raise NotImplementedError


def _into_group(values: list[Any], grads: list[Any], g: int) -> Array:
    """The gradient array of group ``g``, made (zeros) on first use."""
    if grads[g] is None:
        grads[g] = np.zeros(values[g].shape)
    return grads[g]  # type: ignore[no-any-return]


def _rows_like(values: list[Any], g: int, c: Array) -> Array:
    """``c`` summed over the batch when group ``g`` holds one row for all examples (the chain rule)."""
    return c.sum(axis=0, keepdims=True) if c.shape[0] != values[g].shape[0] else c


class _Whole(_Source):
    """Every column of an earlier step, in order: no copy."""

    def __init__(self, g: int, needs_grad: bool) -> None:
        self.g, self.needs_grad = g, needs_grad

    def get(self, values: list[Any], theta: Array) -> Array:
        return values[self.g]  # type: ignore[no-any-return]

    def add(self, values: list[Any], grads: list[Any], dtheta: Array, c: Array) -> None:
        c = _rows_like(values, self.g, c)
        if grads[self.g] is None:
            grads[self.g] = c if c.flags.writeable else c.copy()
        else:
            grads[self.g] += c


class _Slice(_Source):
    """A run of consecutive columns of an earlier step (one column: broadcast along the width)."""

    def __init__(self, g: int, start: int, stop: int, needs_grad: bool) -> None:
        self.g, self.start, self.stop, self.needs_grad = g, start, stop, needs_grad

    def get(self, values: list[Any], theta: Array) -> Array:
        return values[self.g][:, self.start : self.stop]  # type: ignore[no-any-return]

    def add(self, values: list[Any], grads: list[Any], dtheta: Array, c: Array) -> None:
        c = _rows_like(values, self.g, c)
        if self.stop - self.start == 1 and c.shape[1] != 1:  # one column, read by every member
            c = c.sum(axis=1, keepdims=True)
        _into_group(values, grads, self.g)[:, self.start : self.stop] += c


class _Columns(_Source):
    """Any columns of an earlier step (a gather); ``cols`` is 1-D, or 2-D for a dot or a sum."""

    def __init__(self, g: int, cols: Array, needs_grad: bool) -> None:
        self.g, self.cols, self.needs_grad = g, cols, needs_grad
        self.unique = len(set(cols.ravel().tolist())) == cols.size

    def get(self, values: list[Any], theta: Array) -> Array:
        return values[self.g][:, self.cols]  # type: ignore[no-any-return]

    def add(self, values: list[Any], grads: list[Any], dtheta: Array, c: Array) -> None:
        c = _rows_like(values, self.g, c)
        target = _into_group(values, grads, self.g)
        if self.unique:
            target[:, self.cols] += c
        else:  # a column read twice gets both contributions
            np.add.at(target, (slice(None), self.cols), c)  # type: ignore[arg-type]


class _Rows(_Source):
    """An earlier step's columns cut into equal consecutive pieces, one per member (no copy)."""

    def __init__(self, g: int, width: int, size: int, needs_grad: bool) -> None:
        self.g, self.width, self.size, self.needs_grad = g, width, size, needs_grad

    def get(self, values: list[Any], theta: Array) -> Array:
        v = values[self.g]
        return v.reshape(v.shape[0], self.width, self.size)  # type: ignore[no-any-return]

    def add(self, values: list[Any], grads: list[Any], dtheta: Array, c: Array) -> None:
        c = _rows_like(values, self.g, c)
        flat = c.reshape(c.shape[0], -1)
        if grads[self.g] is None:
            grads[self.g] = flat if flat.flags.writeable else flat.copy()
        else:
            grads[self.g] += flat


class _Leaves(_Source):
    """Parameters and constants, read from theta; ``index`` is 1-D, or 2-D for a weight matrix."""

    def __init__(self, index: Array, n_params: int) -> None:
        self.index = index
        self.needs_grad = bool((index < n_params).any())  # constants need no gradient
        self.unique = len(set(index.ravel().tolist())) == index.size

    def get(self, values: list[Any], theta: Array) -> Array:
        return theta[self.index]

    def add(self, values: list[Any], grads: list[Any], dtheta: Array, c: Array) -> None:
        while c.ndim > self.index.ndim:  # one value for every example: the gradient sums over the batch
            c = c.sum(axis=0)
        if self.unique:
            dtheta[self.index] += c
        else:  # a parameter used twice in one step (shared weights, p * p)
            np.add.at(dtheta, self.index, c)


# -- the steps of a tape ---------------------------------------------------------------------------


class _Step:
    """One array operation: ``op`` for ``width`` traced nodes side by side, writing group ``group``."""

    kind = ""
    sources: list[_Source]

    def __init__(self, op: Op, group: int, nodes: list[Value], needs_grad: bool) -> None:
        self.op, self.group, self.nodes, self.needs_grad = op, group, nodes, needs_grad

    def forward(self, values: list[Any], theta: Array) -> Array:
        raise NotImplementedError

    def backward(self, values: list[Any], theta: Array, grads: list[Any], dtheta: Array) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.op.name} x{len(self.nodes)}: {self.kind}"


class _Map(_Step):
    """The op's own rules applied element by element to the arrays of its inputs, position by position."""

    kind = "elementwise"

    def __init__(self, op: Op, group: int, nodes: list[Value], sources: list[_Source]) -> None:
        super().__init__(op, group, nodes, any(s.needs_grad for s in sources))
        self.sources = sources

    def forward(self, values: list[Any], theta: Array) -> Array:
        args = [s.get(values, theta) for s in self.sources]
        out: Any = self.op.forward(*args)
        if type(out) is not np.ndarray or out.dtype != np.float64 or out.ndim != 2 or out.shape[1] != len(self.nodes):
            # a number (x ** 0 gives 1.0), ints, or a column: spread over the (rows, width) of the step
            shape = np.broadcast_shapes(*(np.shape(a) for a in args), (1, len(self.nodes)))
            out = np.array(np.broadcast_to(np.asarray(out, dtype=np.float64), shape))
        return out  # type: ignore[no-any-return]

    def backward(self, values: list[Any], theta: Array, grads: list[Any], dtheta: Array) -> None:
        g = grads[self.group]
        args = [s.get(values, theta) for s in self.sources]
        partials = self.op.derivative(*args, values[self.group])
        if len(partials) != len(args):
            raise CompileError(f"the derivative rule of op {self.op.name!r} returned {len(partials)} partial(s) "
                               f"for {len(args)} input(s)")
        for source, partial in zip(self.sources, partials):
            if source.needs_grad:
                source.add(values, grads, dtheta, partial * g)


class _MatMul(_Step):
    """The dots of a layer's neurons, ``sum_i W[j, i] x_i``, as one matrix product ``X @ W.T``."""

    kind = "matrix product"

    def __init__(self, op: Op, group: int, nodes: list[Value], weights: _Leaves, shared: _Source) -> None:
        super().__init__(op, group, nodes, weights.needs_grad or shared.needs_grad)
        self.weights, self.shared = weights, shared
        self.sources = [weights, shared]

    def forward(self, values: list[Any], theta: Array) -> Array:
        return self.shared.get(values, theta) @ self.weights.get(values, theta).T  # type: ignore[no-any-return]

    def backward(self, values: list[Any], theta: Array, grads: list[Any], dtheta: Array) -> None:
        # dot's rule, d/dw_i = x_i and d/dx_i = w_i, summed over the batch by the chain rule.
        g = grads[self.group]
        if self.weights.needs_grad:
            self.weights.add(values, grads, dtheta, g.T @ self.shared.get(values, theta))
        if self.shared.needs_grad:
            self.shared.add(values, grads, dtheta, g @ self.weights.get(values, theta))

    def describe(self) -> str:
        n = self.weights.index.shape[1]
        return f"dot x{len(self.nodes)}: matrix product (batch x {n}) @ ({n} x {len(self.nodes)})"


class _Contract(_Step):
    """Dots whose two halves both change from member to member: products summed along the rows."""

    kind = "products summed along each row"

    def __init__(self, op: Op, group: int, nodes: list[Value], a: _Source, b: _Source) -> None:
        super().__init__(op, group, nodes, a.needs_grad or b.needs_grad)
        self.a, self.b = a, b
        self.sources = [a, b]

    def forward(self, values: list[Any], theta: Array) -> Array:
        out = (self.a.get(values, theta) * self.b.get(values, theta)).sum(axis=-1)
        return out if out.ndim == 2 else out.reshape(1, -1)  # type: ignore[no-any-return]

    def backward(self, values: list[Any], theta: Array, grads: list[Any], dtheta: Array) -> None:
        g = grads[self.group][..., None]
        if self.a.needs_grad:
            self.a.add(values, grads, dtheta, g * self.b.get(values, theta))
        if self.b.needs_grad:
            self.b.add(values, grads, dtheta, g * self.a.get(values, theta))


class _Reduce(_Step):
    """Sums of the members' inputs, along the rows (sum's rule: every partial is 1)."""

    kind = "sum along each row"

    def __init__(self, op: Op, group: int, nodes: list[Value], source: _Source) -> None:
        super().__init__(op, group, nodes, source.needs_grad)
        self.source = source
        self.sources = [source]

    def forward(self, values: list[Any], theta: Array) -> Array:
        out = self.source.get(values, theta).sum(axis=-1)
        return out if out.ndim == 2 else out.reshape(1, -1)  # type: ignore[no-any-return]

    def backward(self, values: list[Any], theta: Array, grads: list[Any], dtheta: Array) -> None:
        g = grads[self.group]
        k = self.source.get(values, theta).shape[-1]
        self.source.add(values, grads, dtheta, np.broadcast_to(g[..., None], (*g.shape, k)))


# -- the tape --------------------------------------------------------------------------------------


class _Tape:
    """The trace of ``fn`` on one example, planned as array steps over a batch."""

    def __init__(self, fn: Callable[..., Any], batch: list[Array], names: list[str], who: str) -> None:
        self.who = who
        rows = [a[0] for a in batch]  # the traced example
        flat_inputs = []
        example = []
        for row, name in zip(rows, names):
            labels = [f"{name}[{', '.join(map(str, i))}]" for i in np.ndindex(row.shape)] if row.ndim else [name]
            values = [Value(float(x), label=label) for x, label in zip(row.ravel().tolist(), labels)]
            flat_inputs.append(values)
            example.append(_nest(values, row.shape))
        with _Trace(who) as trace:
            out = fn(*example)
            outputs, self.shape = _flatten(out, f"compile({who})")
            order = _topological(outputs)  # inside the trace: constants given nodes now count as made in it
        self.graph = out  # the one-example graph, for drawing
        inputs = {v: (g, i) for g, values in enumerate(flat_inputs) for i, v in enumerate(values)}
        self.params, constants = _split_leaves(order, set(inputs), set(trace.made))
        for node in order:
            if node._prev:
                _check_node(node, who)
        used = set(order)
        for values in flat_inputs:
            for v in values:
                if v not in used:
                    raise CompileError(_unused_input_message(who, v))
        del used
        self.n_nodes = len(order)
        leaves = self.params + constants
        self.theta = np.array([v.data for v in leaves], dtype=np.float64)  # constants stay as traced
        self.widths = [len(values) for values in flat_inputs]
        self.batched = [True] * len(flat_inputs)
        self.group_needs_grad = [False] * len(flat_inputs)
        loc: dict[Value, Loc] = dict(inputs)
        loc.update({v: (LEAVES, i) for i, v in enumerate(leaves)})
        self.steps = self._plan(order, loc)
        self.outputs = [loc[v] for v in outputs]
        self._check_rules(batch)

    # -- grouping side-by-side nodes into steps

    def _plan(self, order: list[Value], loc: dict[Value, Loc]) -> list[_Step]:
        keys: dict[tuple[Any, ...], int] = {}
        members: list[list[Value]] = []
        member_parents: list[list[tuple[Loc, ...]]] = []
        seen: dict[tuple[Any, ...], Loc] = {}
        first_group = len(self.widths)
        for node in order:
            if node in loc:
                continue
            parents = tuple(loc[p] for p in node._prev)
            same = (id(node._op), parents)
            if same in seen:  # the same op of the same inputs: computed once
                loc[node] = seen[same]
                continue
            key = (id(node._op), len(parents), tuple(g for g, _ in parents))
            k = keys.get(key)
            if k is None:
                k = keys[key] = len(members)
                members.append([])
                member_parents.append([])
            loc[node] = seen[same] = (first_group + k, len(members[k]))
            members[k].append(node)
            member_parents[k].append(parents)
        steps = []
        for k, nodes in enumerate(members):
            g = first_group + k
            step = self._step(nodes[0]._op, g, nodes, member_parents[k])  # type: ignore[arg-type]
            self.widths.append(len(nodes))
            self.batched.append(any(self._batched(s) for s in step.sources))
            self.group_needs_grad.append(step.needs_grad)
            steps.append(step)
        return steps

    def _batched(self, source: _Source) -> bool:
        return not isinstance(source, _Leaves) and self.batched[source.g]  # type: ignore[attr-defined]

    def _source(self, g: int, cols: list[int], broadcast: bool = True) -> _Source:
        """Columns ``cols`` of group ``g``; with ``broadcast``, one column repeated may be read once."""
        if g == LEAVES:
            return _Leaves(np.array(cols, dtype=np.intp), len(self.params))
        needs_grad, width = self.group_needs_grad[g], self.widths[g]
        if cols == list(range(width)):
            return _Whole(g, needs_grad)
        if cols == list(range(cols[0], cols[0] + len(cols))):
            return _Slice(g, cols[0], cols[0] + len(cols), needs_grad)
        if broadcast and len(set(cols)) == 1:
            return _Slice(g, cols[0], cols[0] + 1, needs_grad)
        return _Columns(g, np.array(cols, dtype=np.intp), needs_grad)

    def _source2d(self, g: int, cols: list[list[int]]) -> _Source:
        matrix = np.array(cols, dtype=np.intp)
        if g == LEAVES:
            return _Leaves(matrix, len(self.params))
        if matrix.size == self.widths[g] and (matrix.ravel() == np.arange(matrix.size)).all():
            return _Rows(g, matrix.shape[0], matrix.shape[1], self.group_needs_grad[g])
        return _Columns(g, matrix, self.group_needs_grad[g])

    def _step(self, op: Op, g: int, nodes: list[Value], parents: list[tuple[Loc, ...]]) -> _Step:
        arity = len(parents[0])
        groups = [loc[0] for loc in parents[0]]  # the same for every member: they share the key
        if op is ops.DOT and arity >= 2:
            n = arity // 2
            ws, xs = groups[:n], groups[n:]
            if len(set(ws)) == 1 and len(set(xs)) == 1:
                w_cols = [[c for _, c in p[:n]] for p in parents]
                x_cols = [[c for _, c in p[n:]] for p in parents]
                for (wg, wc), (xg, xc) in (((ws[0], w_cols), (xs[0], x_cols)), ((xs[0], x_cols), (ws[0], w_cols))):
                    if wg == LEAVES and xg != LEAVES and all(c == xc[0] for c in xc):
                        weights = _Leaves(np.array(wc, dtype=np.intp), len(self.params))
                        return _MatMul(op, g, nodes, weights, self._source(xg, xc[0], broadcast=False))
                return _Contract(op, g, nodes, self._source2d(ws[0], w_cols), self._source2d(xs[0], x_cols))
        if op is ops.SUM and len(set(groups)) == 1:
            return _Reduce(op, g, nodes, self._source2d(groups[0], [[c for _, c in p] for p in parents]))
        sources = [self._source(groups[k], [p[k][1] for p in parents]) for k in range(arity)]
        return _Map(op, g, nodes, sources)

    # -- running the tape

    def current_theta(self) -> Array:
        """The leaves' values now: the parameters' current data, then the constants."""
        theta = self.theta.copy()
        theta[: len(self.params)] = [p.data for p in self.params]
        return theta

    def run(self, arrays: list[Array], n: int, backward: bool) -> tuple[list[Any], Array, Array | None]:
        """The value of every step over a batch of ``n`` examples, the leaves' values, and (with
        ``backward``) the gradient of the mean of the (single) output with respect to the leaves."""
        theta = self.current_theta()
        values: list[Any] = [a.reshape(n, -1) for a in arrays] + [None] * len(self.steps)
        with _OneBlasThread(), np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            for step in self.steps:
                try:
                    values[step.group] = step.forward(values, theta)
                except (ArithmeticError, ValueError) as error:
                    raise DomainError(self._failure(step, values, theta, "forward")) from error
            if not backward:
                return values, theta, None
            grads: list[Any] = [None] * len(values)
            dtheta = np.zeros(len(theta))
            g, col = self.outputs[0]
            if g == LEAVES:
                dtheta[col] += 1.0
            else:
                seed = grads[g] = np.zeros(values[g].shape)
                seed[:, col] = 1.0 / n if self.batched[g] else 1.0  # d mean / d example
            for step in reversed(self.steps):
                if step.needs_grad and grads[step.group] is not None:
                    try:
                        step.backward(values, theta, grads, dtheta)
                    except (ArithmeticError, ValueError) as error:
                        raise DomainError(self._failure(step, values, theta, "derivative")) from error
        return values, theta, dtheta

    def output_columns(self, values: list[Any], theta: Array, n: int) -> Array:
        """The outputs of every example, shape ``(n, *shape)``."""
        out = np.empty((n, len(self.outputs)))
        for j, (g, col) in enumerate(self.outputs):
            out[:, j] = theta[col] if g == LEAVES else values[g][:, col]
        return out.reshape((n, *self.shape))

    def _failure(self, step: _Step, values: list[Any], theta: Array, which: str) -> str:
        """Which op failed on which example, in the scalar engine's words."""
        args = [np.asarray(s.get(values, theta), dtype=np.float64) for s in step.sources]
        if isinstance(step, _Map):
            shape = np.broadcast_shapes(*(a.shape for a in args), (1, len(step.nodes)))
            args = [np.broadcast_to(a, shape) for a in args]
            for row, col in np.ndindex(shape):
                xs = [float(a[row, col]) for a in args]
                try:
                    out = step.op.forward(*xs)
                    if which == "derivative":
                        out = sum(abs(p) for p in step.op.derivative(*xs, out))
                    if math.isfinite(out):
                        continue
                except (ArithmeticError, ValueError):
                    pass
                return _domain_text(step.op, xs, which) + f" (example {row} of the batch)"
        return (f"the batch overflowed in the {step.describe()}: an intermediate result is not a finite "
                "number (lower the learning rate, or scale the inputs)")

    # -- checking the rules on arrays against the rules on floats, on the traced example

    def _check_rules(self, batch: list[Array]) -> None:
        """Run every step on the traced example (a batch of two copies of it) and compare each op's
        answers, forward and derivative, with its answers on floats in the trace. Then, when the batch
        has a second example, run the first two examples together: the traced example's row must
        come out the same, or some rule mixes the examples of a batch (a mean over the array)."""
        example = [np.stack([a[0], a[0]]) for a in batch]
        values = self._checked_forward(example, derivatives=True)
        if all(len(a) > 1 for a in batch):
            try:
                values = self._checked_forward([a[:2] for a in batch], derivatives=False)
            except (ArithmeticError, ValueError, TypeError):  # the second example is out of an op's domain
                return
            for step in self.steps:
                traced = np.array([v.data for v in step.nodes])
                if not _close(values[step.group][0], traced):
                    raise CompileError(_disagree_message(self.who, step, "forward rule", values[step.group][0],
                                                         traced, mixes=True))

    def _checked_forward(self, arrays: list[Array], derivatives: bool) -> list[Any]:
        theta = self.current_theta()
        values: list[Any] = [a.reshape(2, -1) for a in arrays] + [None] * len(self.steps)
        with np.errstate(all="ignore"):
            for step in self.steps:
                try:
                    values[step.group] = out = step.forward(values, theta)
                except (TypeError, ValueError, AttributeError) as error:
                    if not derivatives:
                        raise
                    raise CompileError(_array_rule_message(self.who, step.op, "forward", error)) from error
                if derivatives:
                    traced = np.array([v.data for v in step.nodes])
                    if not _close(out[0], traced):
                        raise CompileError(_disagree_message(self.who, step, "forward rule", out[0], traced))
                    if isinstance(step, _Map):
                        self._check_derivative(step, values, theta)
        return values

    def _check_derivative(self, step: _Map, values: list[Any], theta: Array) -> None:
        args = [s.get(values, theta) for s in step.sources]
        try:
            partials = step.op.derivative(*args, values[step.group])
            by_array = [np.broadcast_to(np.asarray(p, dtype=np.float64), values[step.group].shape)[0]
                        for p in partials]
        except (TypeError, ValueError, AttributeError) as error:
            raise CompileError(_array_rule_message(self.who, step.op, "derivative", error)) from error
        for col, node in enumerate(step.nodes):
            try:
                by_float = step.op.derivative(*[p.data for p in node._prev], node.data)
            except (ArithmeticError, ValueError):  # not differentiable here: the batch will say so too
                continue
            got = np.array([p[col] for p in by_array])
            if len(by_array) != len(by_float) or not _close(got, np.array(by_float, dtype=np.float64)):
                raise CompileError(_disagree_message(self.who, step, "derivative rule", got, by_float))

    def describe(self) -> list[str]:
        return [f"{i + 1:>3}. {step.describe()}" for i, step in enumerate(self.steps)]


def _close(a: Array, b: Any) -> bool:
    # NumPy's exp, tanh, ... may differ from the math module's in the last bit: far below 1e-9.
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))


def _unused_input_message(who: str, v: Value) -> str:
    return (f"compile({who}): the function does not use the input {v.label} as a Value. Either it reads its "
            "number (v.data, float(v), an index such as logits[label]), which would then be the traced "
            "example's for every example, or it does not need it. Use it in arithmetic (for class labels, "
            "pass one-hot rows: cross_entropy(logits, one_hot_row)), or leave it out of the batch.")


def _array_rule_message(who: str, op: Op, rule: str, error: BaseException) -> str:
    return (f"compile({who}): the {rule} rule of op {op.name!r} cannot take NumPy arrays, which compile passes "
            "it (one number per example): write it with arithmetic, microgradx.ops.where instead of `if`, and "
            f"ops.exp, ops.tanh, ... instead of math ({type(error).__name__}: {error})")


def _disagree_message(who: str, step: _Step, rule: str, by_array: Any, by_float: Any, mixes: bool = False) -> str:
    where = "in a batch of two examples" if mixes else "on an array"
    return (f"compile({who}): the {rule} of op {step.op.name!r} gives {reprlib.repr(np.asarray(by_array).tolist())} "
            f"for the traced example {where} but {reprlib.repr(np.asarray(by_float).tolist())} on its floats; "
            "a rule must compute each element of an array as it computes one float, from that element alone")


def _domain_text(op: Op, xs: list[float], which: str) -> str:
    names = ["x"] if len(xs) == 1 else ["a", "b"] if len(xs) == 2 else [f"x{i}" for i in range(len(xs))]
    got = ", ".join(f"{name} = {x!r}" for name, x in zip(names, xs))
    call = f"{op.name}({', '.join(names)})"
    if which == "derivative":
        return f"the derivative of {call} is not finite at {got}: the op is not differentiable there"
    return f"{call} needs {op.domain}, got {got}" if op.domain else f"{call} is not a finite number for {got}"


# -- BLAS on one thread while a tape runs --------------------------------------------------------------

_blas: list[Any] | None = None


def _blas_libraries() -> list[Any]:
    """The BLAS libraries loaded in this process, found once (threadpoolctl)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _blas


class _OneBlasThread:
    """The matrix products of a tape are small (a layer at a time): BLAS threads cost far more to
    wake and join than they save, and on a busy machine they wait for each other. So a tape runs
    its products on one thread, then gives BLAS its thread count back."""

    def __enter__(self) -> None:
        self._saved = [(lib, lib.get_num_threads()) for lib in _blas_libraries()]
        for lib, n in self._saved:
            if n != 1:
                lib.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        for lib, n in self._saved:
            if n != 1:
                lib.set_num_threads(n)


# -- the compiled function and its node in the graph ---------------------------------------------------


class _BatchResult:
    """The forward and derivative rules of one compiled node: the batch mean and its gradient."""

    __slots__ = ("mean", "partials", "name")

    def __init__(self, mean: float, partials: tuple[float, ...], name: str) -> None:
        self.mean, self.partials, self.name = mean, partials, name

    def forward(self, *params: float) -> float:
        return self.mean

    def derivative(self, *params_and_out: Any) -> tuple[float, ...]:
        if type(params_and_out[-1]) is not float:  # create_graph=True hands the rules Values
            raise CompileError(f"backward(create_graph=True) cannot go through the compiled node {self.name!r}: its "
                               "partials are numbers computed by NumPy, not a graph. For second derivatives, "
                               "call the function on Values (the scalar path) instead of the compiled one")
        return self.partials


def _arg_names(fn: Callable[..., Any], n: int) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [names[i] if i < len(names) else f"arg{i}" for i in range(n)]


class Compiled:
    """A function traced once and run over batches with NumPy; made by :func:`compile`.

    Call it with one array per argument of ``fn``, each holding one row per example (``X`` of
    shape ``(n, 2)`` gives each example as a list of 2 Values; ``y`` of shape ``(n,)`` gives a
    single Value). ``compiled(*batch)`` returns the mean over the batch as a Value in the graph;
    ``compiled.forward(*batch)`` the per-example outputs as an array of shape ``(n, *output)``.
    """

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.fn, self.name = fn, name
        self._tapes: dict[tuple[tuple[int, ...], ...], _Tape] = {}
        self._guard: _Guard | None = None
        self._last: _Tape | None = None

    def __call__(self, *batch: Any) -> Value:
        arrays, n = self._arrays(batch)
        tape = self._tape(arrays)
        if tape.shape:
            raise CompileError(f"compiled {self.name} returns {len(tape.outputs)} numbers per example; a compiled "
                               "call makes one graph node from one number per example (their mean over the batch): "
                               "compile a loss instead, or call .forward() for the outputs of each example")
        differentiate = is_grad_enabled() and bool(tape.params)
        values, theta, dtheta = tape.run(arrays, n, backward=differentiate)
        mean = float(tape.output_columns(values, theta, n).sum()) * (1.0 / n)
        if not math.isfinite(mean):
            raise DomainError(f"compiled {self.name}: the mean over the batch is not a finite number ({mean})")
        label = f"mean over {n} example{'s' if n != 1 else ''}"
        if not differentiate or dtheta is None:
            return Value(mean, label=label)
        partials = dtheta[: len(tape.params)]
        if not math.isfinite(float(partials.sum())):
            raise DomainError(f"compiled {self.name}: a gradient over the batch is not finite; an intermediate "
                              "result overflowed")
        result = _BatchResult(mean, tuple(partials.tolist()), f"compiled {self.name}")
        op = Op(f"compiled {self.name}", result.forward, result.derivative, arity=len(tape.params))
        return Value(mean, tape.params, op, label=label)  # an n-ary node of that op, as micrograd builds one

    def forward(self, *batch: Any) -> Array:
        """The output of every example: an array of shape ``(n,)`` for one output, ``(n, k)`` for k.

        No graph is built and no gradient is touched.
        """
        arrays, n = self._arrays(batch)
        tape = self._tape(arrays)
        values, theta, _ = tape.run(arrays, n, backward=False)
        return tape.output_columns(values, theta, n)

    def trace(self, *batch: Any) -> Any:
        """Trace ``fn`` on the first example of ``batch`` (if not done yet) and return its output: the
        one-example graph, for :func:`~microgradx.viz.draw_graph`."""
        arrays, _ = self._arrays(batch)
        return self._tape(arrays).graph

    @property
    def graph(self) -> Any:
        """The output of the last trace (a Value, or a list of Values): the one-example graph."""
        if self._last is None:
            raise CompileError(f"compiled {self.name} has not been traced yet: call it on a batch, or .trace(X, ...)")
        return self._last.graph

    @property
    def parameters(self) -> list[Value]:
        """The Values the last trace captured (the compiled node's parents), in order."""
        return list(self._last.params) if self._last is not None else []

    def describe(self) -> str:
        """The steps of the last trace, one line per array operation (what was fused)."""
        if self._last is None:
            return repr(self)
        return "\n".join([repr(self), *self._last.describe()])

    def __repr__(self) -> str:
        if self._last is None:
            return f"<compiled {self.name}: not traced yet>"
        t = self._last
        return (f"<compiled {self.name}: {t.n_nodes} traced nodes -> {len(t.steps)} array operations, "
                f"{len(t.params)} parameters>")

    # -- helpers

    def _tape(self, arrays: list[Array]) -> _Tape:
        key = tuple(a.shape[1:] for a in arrays)
        tape = self._tapes.get(key)
        if tape is not None and self._guard is not None and not self._guard.holds():
            self._tapes.clear()  # a model changed its parameters: trace again
            tape = None
        if tape is None:
            names = _arg_names(self.fn, len(arrays))
            tape = _Tape(self.fn, arrays, names, self.name)
            self._tapes[key] = tape
            self._guard = _Guard(self.fn)
        self._last = tape
        return tape

    def _arrays(self, batch: Sequence[Any]) -> tuple[list[Array], int]:
        who = f"compiled {self.name}"
        if not batch:
            raise TypeError(f"{who} needs the batch: one array per argument of the function, one row per example")
        arrays = []
        for i, item in enumerate(batch):
            if isinstance(item, Value) or (isinstance(item, (list, tuple)) and item and isinstance(item[0], Value)):
                raise TypeError(f"{who}: argument {i} holds Values; pass the numbers of the batch as an array "
                                "(compiled functions take data; call the function itself on Values)")
            try:
                a = np.asarray(item, dtype=np.float64)
            except (TypeError, ValueError) as error:
                raise TypeError(f"{who}: argument {i} must be numbers with one row per example, got "
                                f"{reprlib.repr(item)} ({error})") from None
            if a.ndim == 0:
                raise ValueError(f"{who}: argument {i} is a single number; pass one row per example "
                                 "(an array whose first axis is the batch)")
            if not np.isfinite(a).all():
                row = int(np.argwhere(~np.isfinite(a))[0][0])
                raise ValueError(f"{who}: argument {i} holds a number that is not finite, in row {row}")
            arrays.append(a)
        n = len(arrays[0])
        if n == 0:
            raise ValueError(f"{who}: the batch is empty; pass at least one example")
        for i, a in enumerate(arrays):
            if len(a) != n:
                raise ValueError(f"{who}: argument 0 has {n} rows but argument {i} has {len(a)}; they must match")
        return arrays, n


def compile(fn: Callable[..., Any], *, name: str | None = None) -> Compiled:
    """Trace ``fn`` once on one example and run it over whole batches with NumPy.

    ``fn`` takes one example as Values (one argument per array of the batch: a row of ``X`` as a
    list of Values, an entry of ``y`` as one Value) and returns a Value (a loss) or a list of them
    (a model's outputs). ``name`` names the node in graphs (default: ``fn``'s name). The result is
    a :class:`Compiled`: call it on a batch for the mean as a Value in the graph, or use its
    ``forward`` for the per-example outputs. Raises :class:`CompileError` at the first call when
    ``fn`` cannot be recorded faithfully (see the module's documentation).

    >>> from microgradx import Value
    >>> w = Value(0.5, label="w")
    >>> f = compile(lambda x: (w * x).tanh())
    >>> loss = f(np.array([1.0, 2.0, 3.0]))
    >>> loss.backward()
    >>> round(loss.data, 6), round(w.grad, 6)   # mean of tanh(w x), and its derivative in w
    (0.70962, 0.722839)
    """
    if not callable(fn):
        raise TypeError(f"compile() needs a function, got {reprlib.repr(fn)}")
    if name is None:
        name = getattr(fn, "__name__", type(fn).__name__)
        name = "fn" if name == "<lambda>" else name
    return Compiled(fn, name)

