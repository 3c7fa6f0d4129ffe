"""The backward pass, step by step: a standalone web page that plays it on the graph.

:func:`backward_steps` replays what ``backward()`` does, one node at a time, in the same reverse
topological order: the node's gradient is complete, so it multiplies it by the local derivative of
each input (the op's rule from :mod:`microgradx.ops`) and adds the product to that input's
gradient. :func:`animate_backward` draws the graph once and records, for each step, what changes:
the node passing its gradient back (highlighted), its inputs (marked) and their gradients (``?``
until reached, italic while a partial sum). The page replays those changes on the one drawing, so
its size grows with nodes + steps, not nodes x steps. It follows the active node, panning and
zooming so that its text stays readable: framed with its inputs when their text can stay at least
12 px high, else slid toward them, with a button at the window's edge pointing to those out of
view (where along the edge it covers no part of the drawing). The reader can pan and zoom by hand. With
``collapse="neuron"`` or ``"layer"`` a whole model steps neuron by neuron or layer by layer, on the
folded drawing of :func:`microgradx.viz.draw_graph`. The page needs no network: its SVG, style
and script are inline. In Jupyter the returned :class:`Animation` shows itself.

>>> from microgradx import Value
>>> x = Value(3.0, label="x")
>>> steps = backward_steps(x * x + 1)
>>> [s.node._op.name for s in steps], steps[-1].grads[x]
(['+', '*'], 6.0)
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from . import viz
from ._checks import whole_number
from ._files import write_atomic
from ._text import visible
from .engine import Value, grad
from .fold import Folding, Part, fold
from .htmlview import json_for_script, notebook_html, page, srcdoc
from .ops import RuleError
from .viz import Graph, fmt, html_text

__all__ = ["MAX_NODES", "Animation", "Step", "animate_backward", "backward_steps"]

MAX_NODES = 500  # drawn once: the limit is Graphviz's layout time, as for draw_graph
CURRENT = "#facc15"  # the node passing its gradient back
RECEIVING = "#fde68a"  # its inputs, which receive a contribution
FLOW = "#b45309"  # the edges the gradient flows back along
UNKNOWN = "#9ca3af"  # the colour of "grad ?"
FIRST_STEP = "The output's gradient is 1 (d out / d out). "  # how both walks' first caption begins
STILL_NOTE = ("A still of the first step: run the cell (or trust the notebook) to play the backward pass, "
              "or save it with .save('backprop.html') and open that in a browser.")


class Step(NamedTuple):
    """One step of the backward pass: ``node`` passes its gradient back to its inputs.

    ``grads`` holds every gradient known after the step (partial sums included), ``final`` the
    nodes whose gradient is complete, and ``partials`` the local derivative d node / d input of
    each input, in argument order.
    """

    node: Value
    grads: dict[Value, float]
    final: frozenset[Value]
    partials: tuple[float, ...]


class _Pass:
    """The chain rule one node at a time, as the engine runs it: gradients known so far, and how
    many contributions each still waits for."""

    def __init__(self, nodes: list[Value]) -> None:
        self.nodes = nodes
        self.index = {v: i for i, v in enumerate(nodes)}
        self.grads: list[float | None] = [None] * len(nodes)  # None: not reached yet
        self.waiting = [0] * len(nodes)
        for v in nodes:
            for p in v._prev:
                self.waiting[self.index[p]] += 1
        self.grads[-1] = 1.0  # d root / d root; the root is last in the traced order

    def step(self, i: int) -> tuple[float, ...]:
        """Pass node ``i``'s gradient to its inputs: grad(input) += grad(node) × d node / d input."""
        node = self.nodes[i]
        parents = node._prev
        partials = tuple(node._op.derivative(*[p.data for p in parents], node.data))  # type: ignore[union-attr]
        g = self.grads[i]
        assert g is not None and self.waiting[i] == 0, "a node passes its gradient back once it is complete"
        for parent, partial in zip(parents, partials):
            j = self.index[parent]
            self.grads[j] = (self.grads[j] or 0.0) + partial * g
            self.waiting[j] -= 1
        return partials

    def known(self, i: int) -> bool:
        return self.grads[i] is not None

    def final(self, i: int) -> bool:
        return self.grads[i] is not None and self.waiting[i] == 0


def _check_rules(nodes: Sequence[Value]) -> None:
    """Refuse a node whose op has no derivative rule in the table (built by hand, micrograd-style):
    the steps need the rule, and a ``_backward`` closure only adds to ``.grad``, it tells nothing."""
    for v in nodes:
        op = v._op
        if v._prev and (getattr(op, "derivative", None) is None or getattr(op, "backward", None) is not None):
            what = v.label or op_result(str(getattr(op, "name", op)))
            raise RuleError(f"cannot animate {what}: its op {str(getattr(op, 'name', op))!r} was built by hand "
                            "(Value(data, children, op) with a _backward closure) and has no rule in the derivative "
                            "table, so its steps cannot be shown; make the op with microgradx.define_op(name, "
                            "forward, derivative)")


def backward_steps(root: Value) -> list[Step]:
    """The backward pass from ``root``, one :class:`Step` per op node, without touching ``.grad``.

    Each step keeps its own copy of the gradients, so this is meant for the small graphs one
    looks at step by step (:func:`animate_backward` records only what changes).

    >>> from microgradx import Value
    >>> a, b = Value(2.0, label="a"), Value(-1.0, label="b")
    >>> steps = backward_steps(a * b)
    >>> len(steps), steps[0].partials, steps[0].grads[a]
    (1, (-1.0, 2.0), -1.0)
    """
    nodes = viz.traced_nodes(root)
    _check_rules(nodes)
    grad(root, nodes)  # the engine's own pass first: its errors name the op that fails
    walk = _Pass(nodes)
    steps = []
    for i in range(len(nodes) - 1, -1, -1):  # reverse topological: every consumer before the node it uses
        if not nodes[i]._prev:
            continue
        partials = walk.step(i)
        grads = {nodes[j]: g for j, g in enumerate(walk.grads) if g is not None}
        final = frozenset(nodes[j] for j in range(len(nodes)) if walk.final(j))
        steps.append(Step(nodes[i], grads, final, partials))
    return steps


class Animation:
    """A backward-pass animation: the page as ``html``, its number of ``frames``, the first frame as ``still`` (SVG).

    ``save(path)`` writes the page (``path`` then says where); in Jupyter the object shows itself
    inline, in an iframe (its script and ids cannot clash with the notebook's); an untrusted
    notebook, which runs no script, shows the still picture of the first step and says how to play it.

    >>> Animation("<!DOCTYPE html><title>one step</title>", frames=1, height=300)
    <Animation of the backward pass: 1 frame>
    """

    def __init__(self, page: str, frames: int, height: int, still: str = "") -> None:
        self.html = page
        self.frames = frames
        self.height = height
        self.still = still
        self.path: Path | None = None

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (UTF-8, replaced whole or not at all) and return the path.

        The page is HTML: a path ending in an extension of another format (``.svg``, ``.png``) is
        refused, since the file would not open as one.
        """
        extension = Path(path).suffix[1:].lower()
        if extension in viz.SAVE_FORMATS and extension != "html":
            raise ValueError(f"the animation is a web page: save it as .html, not {str(path)!r} (a .{extension} "
                             "file); for a still picture of the graph use microgradx.viz.save")
        self.path = write_atomic(path, self.html)
        return self.path

    def _repr_html_(self) -> str:
        if not self.still:
            return (f"<iframe srcdoc='{srcdoc(self.html)}' sandbox=\"allow-scripts\" "
                    f'style="width:100%;height:{self.height}px;border:0" title="backward pass"></iframe>')
        return notebook_html(self.still, view="interactive", page_html=self.html, height=self.height,
                             alt="the backward pass, step 1", note=STILL_NOTE)

    def __repr__(self) -> str:
        where = f", saved to {str(self.path)!r}" if self.path else ""
        frames = f"{self.frames} frame" + ("" if self.frames == 1 else "s")
        return f"<Animation of the backward pass: {frames}{where}>"


def animate_backward(
    root: Value, path: str | Path | None = None, *, rankdir: str | None = None, collapse: str | None = None,
    interval_ms: int = 1200, max_nodes: int = MAX_NODES, title: str | None = None,
) -> Animation:
    """Animate the backward pass from ``root`` on its graph, with play and step controls.

    Writes the page to ``path`` when given; returns the :class:`Animation` (shown inline in
    Jupyter). ``collapse="neuron"`` or ``"layer"`` steps a model neuron by neuron or layer by layer
    on the folded drawing (see :func:`microgradx.viz.draw_graph`); without it every op node is a
    step. ``rankdir`` as in ``draw_graph`` (by default "LR", "TB" with ``collapse``).
    ``interval_ms`` is the time per step when playing; ``max_nodes`` caps the drawing's size
    (:class:`~microgradx.viz.GraphTooLarge` above it). ``title`` heads the page (by default
    "Backward pass of" the root's label, or of "the output"). ``.grad`` is left as it was. Raises
    ValueError when the root is a leaf (nothing to animate), and ``microgradx.ops.RuleError`` (a
    TypeError) when a node's op has no derivative rule in the table (built by hand, micrograd-style).

    >>> from microgradx import Value
    >>> x = Value(0.5, label="x")
    >>> animate_backward((2 * x).tanh()).frames
    2
    """
    viz._check_options(rankdir, collapse, max_nodes, None, "auto")
    whole_number(interval_ms, "interval_ms (milliseconds per frame)")
    rankdir = rankdir or ("TB" if collapse else "LR")
    nodes = viz.traced_nodes(root)
    if not root._prev:
        raise ValueError("nothing to animate: the root is a leaf (a Value no op made), so backward has no steps; "
                         "pass the output of a computation")
    _check_rules(nodes)
    if collapse:
        groups = viz.neuron_groups(nodes)
        folding = fold(nodes, {v: getattr(g, collapse) for v, g in groups.items()})
        drawing: _Drawing = _FoldedDrawing(nodes, folding, groups, collapse)
    else:
        drawing = _FullDrawing(nodes)
    if drawing.size() > max_nodes:
        raise viz.GraphTooLarge(f"the graph has {drawing.size()} nodes, more than max_nodes={max_nodes} for an "
                                "animation: pass collapse='neuron' or 'layer' to step a model neuron by neuron or "
                                "layer by layer, animate a smaller piece (one example), or raise max_nodes=")
    grad(root, nodes)  # the engine's own pass first: its errors name the op that fails
    frames = drawing.frames()
    svg = drawing.graph(rankdir, frames).svg()
    title = title or f"Backward pass of {root.label or 'the output'}"
    page_html = _page(svg, frames, drawing.initial, title, interval_ms)
    animation = Animation(page_html, len(frames), height=640, still=svg)
    if path is not None:
        animation.save(path)
    return animation


# -- what the page shows: one drawing, and per frame what changes ------------------------------------


class Frame(NamedTuple):
    """One step as the page plays it: the unit passing its gradient back, its inputs, the edges
    the gradient flows along, the text of every unit whose gradient changed, and a caption."""

    node: str
    inputs: list[str]
    edges: list[str]
    texts: dict[str, tuple[list[str], bool]]  # unit -> (its grad lines, partial?)
    caption: str


class _Drawing:
    """What the full and the folded animation share: units (drawn nodes), their grad lines, frames."""

    nodes: list[Value]
    initial: dict[str, tuple[list[str], bool]]

    def size(self) -> int:
        raise NotImplementedError

    def frames(self) -> list[Frame]:
        raise NotImplementedError

    def graph(self, rankdir: str, frames: list[Frame]) -> Graph:
        raise NotImplementedError


def _grad_lines(g: float | None) -> list[str]:
    return ["grad ?"] if g is None else [f"grad {fmt(g)}"]


def _grad_cell(line: str, partial: bool, width: int) -> str:
    text = html_text(line)
    if line.endswith("?"):
        text = f'<FONT COLOR="{UNKNOWN}">{text}</FONT>'
    elif partial:
        text = f"<I>{text}</I>"
    return f'<TD WIDTH="{width}" HEIGHT="26" FIXEDSIZE="TRUE" ALIGN="LEFT">{text}</TD>'


def _box(title: str, cells: list[str], grad_cells: list[str], vertical: bool, state: str, rounded: bool) -> str:
    """A unit's table: every box has a background (white, or the highlight of the first frame),
    so the page can recolour it; the grad cells have fixed widths."""
    fill = CURRENT if state == "current" else RECEIVING if state == "receiving" else "white"
    head = [f"<TD><B>{html_text(title)}</B></TD>"] if title else []
    body = head + [f"<TD>{html_text(c)}</TD>" for c in cells] + grad_cells
    rows = "".join(f"<TR>{c}</TR>" for c in body) if vertical else f"<TR>{''.join(body)}</TR>"
    look = 'CELLBORDER="0" ROWS="*"' if vertical else 'CELLBORDER="1"'
    shape = ' STYLE="ROUNDED"' if rounded else ""
    border = FLOW if state else "black"
    return (f'<<TABLE BORDER="1" COLOR="{border}" {look} CELLSPACING="0" CELLPADDING="4" BGCOLOR="{fill}"{shape}>'
            f"{rows}</TABLE>>")


class _FullDrawing(_Drawing):
    """Every Value a box and every op a node; one step per op node, in the engine's order."""

    def __init__(self, nodes: list[Value]) -> None:
        self.nodes = nodes
        self.index = {v: i for i, v in enumerate(nodes)}
        self.edges = viz.drawn_edges(nodes, self.index, {})
        self.edge_id = {pair: f"e{k}" for k, pair in enumerate(self.edges)}
        self.initial = {f"v{i}": (_grad_lines(1.0 if i == len(nodes) - 1 else None), False) for i in range(len(nodes))}

    def size(self) -> int:
        return viz.drawn_node_count(self.nodes)

    def frames(self) -> list[Frame]:
        walk, frames = _Pass(self.nodes), []
        order = [i for i in range(len(self.nodes) - 1, -1, -1) if self.nodes[i]._prev]
        for k, i in enumerate(order):
            g = walk.grads[i]
            partials = walk.step(i)
            node = self.nodes[i]
            inputs = [self.index[p] for p in node._prev]
            texts = {f"v{j}": (_grad_lines(walk.grads[j]), not walk.final(j)) for j in [i, *inputs]}
            flowing = [e for (tail, head), e in self.edge_id.items() if f"op{i}" in (tail, head)]
            name, *input_names = names([node, *node._prev])
            adds = "; ".join(f"grad({n}) += {fmt(g or 0.0)} × {fmt(d)} = {fmt((g or 0.0) * d)}"
                             for n, d in zip(input_names, partials))
            intro = FIRST_STEP if k == 0 else ""
            caption = (f"{intro}Step {k + 1} of {len(order)}: {_capital(name)} has its full gradient {fmt(g or 0.0)} "
                       f"and passes it back through its op {node._op.name} (gradient × local derivative): {adds}.")  # type: ignore[union-attr]
            frames.append(Frame(f"v{i}", [f"v{j}" for j in inputs], flowing, texts, caption))
        return frames

    def graph(self, rankdir: str, frames: list[Frame]) -> Graph:
        first, graph = frames[0], _blank_graph(rankdir)
        cells_of = _first_frame_cells(self.initial, frames)

        def add(target: Any, v: Value, title: str) -> None:
            i = self.index[v]
            unit = f"v{i}"
            mark, cells = cells_of(unit)
            label = _box(title, [f"data {fmt(v.data)}"], cells, False, mark, False)
            target.node(unit, label, _attributes=viz.VALUE_NODE, id=unit, **{"class": f"value {mark}".strip()})
            if v._prev:
                op_style = {"fillcolor": CURRENT, "color": FLOW, "penwidth": "2"} if mark == "current" else {}
                op_class = "op current" if mark == "current" else "op"
                target.node(f"op{i}", viz.op_label(v), _attributes={**viz.OP_NODE, **op_style, "class": op_class},
                            id=f"op{i}")

        groups = viz.neuron_groups(self.nodes)  # an nn model: its nodes in one box per neuron, as draw_graph does
        for v in self.nodes:
            if v not in groups:
                add(graph, v, v.label)
        viz.add_clusters(graph, self.nodes, groups, add)
        for (tail, head), count in self.edges.items():
            e = self.edge_id[tail, head]
            flowing = {"color": FLOW, "penwidth": "2.5"} if e in first.edges else {}
            graph.edge(tail, head, label=f"×{count}" if count > 1 else None, id=e,
                       **{"class": "flow" if flowing else ""}, **flowing)
        return graph


# What a caption calls the result of an op that has no label, by the op's name.
_RESULTS = {"+": "the sum", "sum": "the sum", "*": "the product", "dot": "the dot product", "**": "the power",
            "**2": "the square", "**-1": "the reciprocal"}


def op_result(op: str) -> str:
    """How captions and messages name the unlabelled result of the op ``op``, in words.

    >>> [op_result(op) for op in ("+", "*", "**3", "tanh", "my op")]
    ['the sum', 'the product', 'the power', "tanh's output", 'the my op node']
    """
    if op in _RESULTS:
        return _RESULTS[op]
    if op.startswith("**"):
        return "the power"
    return f"{op}'s output" if op.isidentifier() else f"the {op} node"


def name(v: Value) -> str:
    """A node as captions name it: its label, the result of its op in words, or the constant it is.

    >>> from microgradx import Value
    >>> x = Value(2.0, label="x")
    >>> name(x), name(x * 3), name((x * 3).tanh()), name(Value(0.5))
    ('x', 'the product', "tanh's output", 'the constant 0.5000')
    """
    if v.label:
        return v.label
    if v._prev:
        return op_result(v._op.name)  # type: ignore[union-attr]
    return f"the constant {fmt(v.data)}"


def names(values: Sequence[Value]) -> list[str]:
    """The :func:`name` of each Value, with its data added where two different Values would read alike
    (two unlabelled products in one caption: ``the product (data 6.0000)``, ``the product (data -1.0000)``)."""
    plain = [name(v) for v in values]
    return [f"{n} (data {fmt(v.data)})" if not v.label and any(other is not v and plain[j] == n
                                                                 for j, other in enumerate(values)) else n
            for v, n in zip(values, plain)]


def _capital(text: str) -> str:
    """The first letter made a capital, to start a sentence (a label is kept as written)."""
    return text[0].upper() + text[1:] if text.startswith(("the ", "a ")) else text


class _FoldedDrawing(_Drawing):
    """The folded drawing of ``draw_graph(root, collapse=...)``: one step per part with ops (a
    group, or a role such as ``relu ×100``), all of its nodes passing their gradients back, in an
    order where every part comes after the parts that use its values: that keeps the chain rule
    valid part by part, since a node passes its gradient back only once it is complete."""

    def __init__(self, nodes: list[Value], folding: Folding, groups: dict[Value, viz.Group], collapse: str) -> None:
        self.nodes, self.folding = nodes, folding
        self.boxes = viz.layer_box_members(folding, groups) if collapse == "neuron" else {}
        self.edges = viz.bundled_edges(folding.edges, self.boxes)
        parts = folding.parts
        self.ops: list[list[int]] = [[] for _ in parts]  # each part's op nodes, the inner links of a + chain too
        for i, k in enumerate(folding.part_of):
            if k >= 0 and nodes[i]._prev:
                self.ops[k].append(i)
        # What a box sums up: a group's parameters (their gradients are what training uses), else its Values.
        self.shown = [[i for i in part.members if not nodes[i]._prev] or part.members if part.kind == "group"
                      else part.members for part in parts]
        start = _Pass(nodes)
        self.initial = {f"p{k}": self._lines(k, start) for k in range(len(parts))}

    def _lines(self, k: int, walk: _Pass) -> tuple[list[str], bool]:
        """Part k's gradient lines and whether they are partial: a single Value's gradient, or the
        largest and the mean |grad| of what is known so far (``?`` before anything is)."""
        shown = self.shown[k]
        partial = not all(walk.final(i) for i in shown)
        if len(shown) == 1:
            return _grad_lines(walk.grads[shown[0]]), partial
        known = [abs(g) for g in (walk.grads[i] for i in shown) if g is not None]
        if not known:
            return ["|grad| max ?", "mean ?"], False
        return [f"|grad| max {fmt(max(known))}", f"mean {fmt(sum(known) / len(known))}"], partial

    def size(self) -> int:
        return viz.folded_node_count(self.folding)

    def order(self) -> list[int]:
        """The parts with ops, each after every part that uses its values (Kahn's algorithm, from the
        root; among parts ready together, the one nearest the root first)."""
        parts = self.folding.parts
        users: list[set[int]] = [set() for _ in parts]
        inputs: list[set[int]] = [set() for _ in parts]
        for tail, head in self.folding.edges:
            users[tail].add(head)
            inputs[head].add(tail)
        with_ops = [k for k in range(len(parts)) if self.ops[k]]
        waiting = {k: len(users[k]) for k in with_ops}
        nearest = {k: max(self.ops[k]) for k in with_ops}
        ready = [k for k in with_ops if waiting[k] == 0]
        order = []
        while ready:
            ready.sort(key=lambda m: nearest[m])
            k = ready.pop()
            order.append(k)
            for j in inputs[k]:
                if j in waiting:
                    waiting[j] -= 1
                    if waiting[j] == 0:
                        ready.append(j)
        if len(order) < len(with_ops):
            stuck = [_part_name(parts[k]) for k in with_ops if k not in order][:2]
            raise ValueError(f"cannot step this folded graph part by part: {' and '.join(stuck)} feed each other "
                             "(a neuron or layer used on its own output?); animate it without collapse=")
        return order

    def frames(self) -> list[Frame]:
        walk, frames, parts, part_of = _Pass(self.nodes), [], self.folding.parts, self.folding.part_of
        order = self.order()
        for n, k in enumerate(order):
            touched = {k}
            for i in sorted(self.ops[k], reverse=True):  # inside the part, the engine's order
                walk.step(i)
                touched.update(part_of[walk.index[p]] for p in self.nodes[i]._prev)
            touched.discard(-1)  # constants, shown inside their op
            inputs = sorted(touched - {k})
            flowing = [f"e{m}" for m, edge in enumerate(self.edges) if any(head == k for _, head in edge.pairs)]
            count = len(self.ops[k])
            what = f"its {count} nodes pass their gradients" if count > 1 else "it passes its gradient"
            receivers = _listed([_part_name(parts[j]) for j in inputs]) or "no other node"
            caption = (f"Step {n + 1} of {len(order)}: {_capital(_part_name(parts[k]))} has its full gradient, and "
                       f"{what} back (gradient × local derivative) to {receivers}.")
            if n == 0:
                caption = FIRST_STEP + caption
            texts = {f"p{j}": self._lines(j, walk) for j in sorted(touched)}
            frames.append(Frame(f"p{k}", [f"p{j}" for j in inputs], flowing, texts, caption))
        return frames

    def graph(self, rankdir: str, frames: list[Frame]) -> Graph:
        first, graph = frames[0], _blank_graph(rankdir)
        cells_of = _first_frame_cells(self.initial, frames)

        def add(target: Any, k: int, name: str) -> None:
            part, unit = self.folding.parts[k], f"p{k}"
            mark, cells = cells_of(unit)
            label = _box(viz.part_title(part, name), viz.part_rows(part, self.nodes), cells, True, mark,
                         part.kind == "op")
            target.node(unit, label, _attributes=viz.VALUE_NODE, id=unit, **{"class": f"value {mark}".strip()})

        def edge_attributes(n: int, edge: viz.DrawnEdge) -> dict[str, str]:
            flowing = f"e{n}" in first.edges
            return {"id": f"e{n}", **({"class": "flow", "color": FLOW, "penwidth": "2.5"} if flowing else {})}

        viz.layout_folded(graph, self.folding, self.boxes, add, edge_attributes)
        return graph


def _part_name(part: Part) -> str:
    """A folded node as captions name it: a neuron's, layer's or input's name (``layers.0``, ``x0 ×100``),
    else the box by its title (``the relu ×100 box``, ``the + box``)."""
    title = viz.part_title(part, part.name)
    if part.kind in ("op", "leaf") and not part.name:
        return f"the {title} box" if title else "an unlabelled leaf"
    return title


def _listed(items: list[str], most: int = 5) -> str:
    """``a``, ``a and b``, ``a, b and c``; beyond ``most`` items, the first two, the last and the count.

    >>> _listed(["x0", "x1"]), _listed([f"n{i}" for i in range(9)])
    ('x0 and x1', '9 boxes: n0, n1, …, n8')
    """
    if len(items) > most:
        return f"{len(items)} boxes: {items[0]}, {items[1]}, …, {items[-1]}"
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def _first_frame_cells(initial: dict[str, tuple[list[str], bool]],
                       frames: list[Frame]) -> Callable[[str], tuple[str, list[str]]]:
    """How the drawing (the first frame) shows a unit: its mark (current, receiving or neither) and
    its grad cells, each as wide as the unit's widest text in any frame."""
    widths, first = _widths(initial, frames), frames[0]
    state = {**initial, **first.texts}

    def cells_of(unit: str) -> tuple[str, list[str]]:
        texts, partial = state[unit]
        mark = "current" if unit == first.node else "receiving" if unit in first.inputs else ""
        return mark, [_grad_cell(t, partial, widths[unit]) for t in texts]

    return cells_of


def _blank_graph(rankdir: str) -> Graph:
    return Graph(graph_attr={"rankdir": rankdir, "fontname": viz.FONT, "bgcolor": "white"},
                 node_attr={"fontname": viz.FONT}, edge_attr={**viz.EDGE, "color": "#9ca3af"})


def _widths(initial: dict[str, tuple[list[str], bool]], frames: list[Frame]) -> dict[str, int]:
    """Each unit's grad cells as wide as its widest text in any frame, so the layout never moves."""
    longest = {unit: max(len(line) for line in texts) for unit, (texts, _) in initial.items()}
    for frame in frames:
        for unit, (texts, _) in frame.texts.items():
            longest[unit] = max(longest[unit], *(len(line) for line in texts))
    return {unit: n * 9 + 12 for unit, n in longest.items()}  # < 9 pt per character at 14 pt Helvetica


# -- the page ------------------------------------------------------------------------------------------


def _page(svg: str, frames: list[Frame], initial: dict[str, tuple[list[str], bool]], title: str,
          interval_ms: int) -> str:
    """The standalone page: the drawing once (in the state of step 1), each step's changes as data, and the player."""
    title = visible(title)  # labels are the user's text: no lone surrogate (unsavable) or control character
    data = {
        "initial": initial,
        "frames": [{"node": f.node, "inputs": f.inputs, "edges": f.edges, "texts": f.texts,
                    "caption": visible(f.caption)} for f in frames],
        "interval": interval_ms,
    }
    header = _HEADER.replace("{{title}}", html.escape(title, quote=False)).replace("{{count}}", str(len(frames)))
    header = header.replace("{{last}}", str(len(frames) - 1)).replace("{{current}}", CURRENT)
    header = header.replace("{{receiving}}", RECEIVING)
    style = _STYLE.replace("CURRENT", CURRENT).replace("RECEIVING", RECEIVING).replace("FLOW", FLOW)
    script = "var DATA = " + json_for_script(data) + ";\n" + _PLAYER.replace("UNKNOWN", UNKNOWN)
    return page(svg, title=title, header=header, style=style, script=script, keys=["← → step", "space plays"])


_HEADER = """<h1>{{title}}</h1>
<div id="controls">
  <button id="first" title="first step (Home)">&#xAB; first</button>
  <button id="prev" title="previous step (&#x2190;)">&#x25C0; step</button>
  <button id="play" title="play or pause (space)" aria-pressed="false">&#x25B6; play</button>
  <button id="next" title="next step (&#x2192;)">step &#x25B6;</button>
  <button id="last" title="last step (End)">last &#xBB;</button>
  <input id="slider" type="range" min="0" max="{{last}}" value="0" aria-label="step">
  <span id="counter">step 1 of {{count}}</span>
</div>
<p id="caption"></p>
<p class="key"><span class="swatch" style="background:{{current}}"></span> passes its gradient back &nbsp;
<span class="swatch" style="background:{{receiving}}"></span> its inputs receive a share &nbsp;
grad ? = not reached yet &nbsp; <i>italic</i> = partial sum, more to come</p>"""

# Colours by class, so one drawing serves every step; CSS overrides the colours Graphviz wrote for step 1.
_STYLE = """  #controls { display: flex; gap: .4em; align-items: center; flex-wrap: wrap; }
  #slider { flex: 1; min-width: 8em; }
  #caption { min-height: 2.6em; max-height: 5.4em; overflow-y: auto; margin: .4em 0 .2em; }
  .key { font-size: .85em; color: #4b5563; margin: 0; }
  .swatch { display: inline-block; width: .9em; height: .9em; border: 1px solid FLOW; vertical-align: middle; }
  #stage g.node.value > :not(title):not(text) { stroke: #000000; }
  #stage g.node.value > :nth-child(2) { fill: #ffffff; stroke: none; }
  #stage g.node.value.current > :nth-child(2) { fill: CURRENT; }
  #stage g.node.value.receiving > :nth-child(2) { fill: RECEIVING; }
  #stage g.node.value.current > :not(title):not(text):not(:nth-child(2)),
  #stage g.node.value.receiving > :not(title):not(text):not(:nth-child(2)) { stroke: FLOW; }
  #stage g.node.op > ellipse { fill: #f3f4f6; stroke: #6b7280; stroke-width: 1; }
  #stage g.node.op.current > ellipse { fill: CURRENT; stroke: FLOW; stroke-width: 2; }
  #stage g.edge > path { stroke: #9ca3af; stroke-width: 1; }
  #stage g.edge > polygon { fill: #9ca3af; stroke: #9ca3af; }
  #stage g.edge.flow > path { stroke: FLOW; stroke-width: 2.5; }
  #stage g.edge.flow > polygon { fill: FLOW; stroke: FLOW; }
  #elsewhere { position: absolute; transform: translate(-50%, -50%); background: RECEIVING; border-color: FLOW;
               white-space: nowrap; box-shadow: 0 1px 3px rgba(0, 0, 0, .25); }
  #elsewhere:hover { background: CURRENT; }"""

_PLAYER = r"""(function () {
  var frames = DATA.frames, units = {};
  Object.keys(DATA.initial).forEach(function (id) {  // each unit: its box, its op node, its gradient's lines
    var g = document.getElementById(id), texts = g.querySelectorAll("text"), n = DATA.initial[id][0].length;
    units[id] = { g: g, lines: Array.prototype.slice.call(texts, texts.length - n),
                  op: document.getElementById("op" + id.slice(1)) };
  });
  var play = document.getElementById("play"), slider = document.getElementById("slider");
  var counter = document.getElementById("counter"), caption = document.getElementById("caption");
  var current = 0, timer = null;
  function write(id, entry) {
    var unit = units[id];
    entry[0].forEach(function (line, j) {
      var text = unit.lines[j], unknown = line.slice(-1) === "?";
      text.textContent = line;
      text.setAttribute("font-style", entry[1] && !unknown ? "italic" : "normal");
      text.setAttribute("fill", unknown ? "UNKNOWN" : "#000000");
    });
  }
  function mark(element, name, on) { if (element) { element.classList.toggle(name, on); } }
  function show(i, ms) {
    i = Math.max(0, Math.min(frames.length - 1, i));
    Object.keys(DATA.initial).forEach(function (id) { write(id, DATA.initial[id]); });
    for (var k = 0; k <= i; k++) {
      Object.keys(frames[k].texts).forEach(function (id) { write(id, frames[k].texts[id]); });
    }
    var frame = frames[i], inputs = {};
    frame.inputs.forEach(function (id) { inputs[id] = true; });
    Object.keys(units).forEach(function (id) {
      mark(units[id].g, "current", id === frame.node);
      mark(units[id].op, "current", id === frame.node);
      mark(units[id].g, "receiving", inputs[id] === true);
    });
    var flowing = {};
    frame.edges.forEach(function (id) { flowing[id] = true; });
    document.querySelectorAll("#stage g.edge").forEach(function (e) { mark(e, "flow", flowing[e.id] === true); });
    current = i;
    slider.value = String(i);
    counter.textContent = "step " + (i + 1) + " of " + frames.length;
    caption.textContent = frame.caption;
    var focus = [units[frame.node].g].concat(units[frame.node].op ? [units[frame.node].op] : []);
    view.show(focus, frame.inputs.map(function (id) { return units[id].g; }), ms);
    point();
  }
  // Where the view cannot show them too, a button at the stage's edge points toward the nodes receiving
  // the gradient, and takes the view there. It slides along the edge to a spot where it covers no part of
  // the drawing (a node, an edge, its arrow or label) and none of the page's controls.
  var stage = document.getElementById("stage"), elsewhere = document.createElement("button");
  var ARROWS = ["\u2192", "\u2198", "\u2193", "\u2199", "\u2190", "\u2196", "\u2191", "\u2197"];
  elsewhere.id = "elsewhere";
  elsewhere.hidden = true;
  stage.appendChild(elsewhere);
  var drawing = stage.querySelector("svg g.graph"), lines = [];  // points along the edges, in the drawing's units
  stage.querySelectorAll("svg g.edge > path").forEach(function (path) {
    var length = path.getTotalLength();
    for (var d = 0; d <= length; d += 6) { lines.push(path.getPointAtLength(d)); }
  });
  // What the button must not cover, in client pixels: the drawing's nodes, arrows, labels and edges, and the controls.
  // Only those in the band along the stage's edges where it can go (`band` pixels wide) matter.
  function obstacles(box, band) {
    function inBand(x0, y0, x1, y1) {
      return x1 > box.left && x0 < box.right && y1 > box.top && y0 < box.bottom &&
        (x0 < box.left + band || x1 > box.right - band || y0 < box.top + band || y1 > box.bottom - band);
    }
    var boxes = Array.prototype.map.call(stage.querySelectorAll(
      "svg g.node, svg g.edge > polygon, svg g.edge > text, svg g.cluster > text, #zoom, #hint"),
      function (el) { return el.getBoundingClientRect(); }).filter(function (b) {
      return inBand(b.left, b.top, b.right, b.bottom);
    });
    var m = drawing.getScreenCTM();
    var points = lines.map(function (p) { return [m.a * p.x + m.c * p.y + m.e, m.b * p.x + m.d * p.y + m.f]; });
    return { boxes: boxes, points: points.filter(function (p) { return inBand(p[0], p[1], p[0], p[1]); }) };
  }
  function covered(r, seen) {  // how much of them a box would cover (an edge's point counts as a little area)
    var grow = 4, x0 = r.left - grow, x1 = r.right + grow, y0 = r.top - grow, y1 = r.bottom + grow, n = 0;
    seen.boxes.forEach(function (b) {
      n += Math.max(0, Math.min(x1, b.right) - Math.max(x0, b.left)) *
           Math.max(0, Math.min(y1, b.bottom) - Math.max(y0, b.top));
    });
    seen.points.forEach(function (p) { if (p[0] > x0 && p[0] < x1 && p[1] > y0 && p[1] < y1) { n += 20; } });
    return n;
  }
  function arrow(x, y) { return ARROWS[(Math.round(Math.atan2(y, x) / (Math.PI / 4)) + 8) % 8]; }
  function receivers() { return frames[current].inputs.map(function (id) { return units[id].g; }); }
  function point() {
    var box = stage.getBoundingClientRect(), x = 0, y = 0;
    var away = receivers().map(function (g) { return g.getBoundingClientRect(); }).filter(function (r) {
      return r.right < box.left || r.left > box.right || r.bottom < box.top || r.top > box.bottom;
    });
    elsewhere.hidden = away.length === 0;
    if (!away.length) { return; }
    away.forEach(function (r) {  // their centre, from the stage's top left corner
      x += ((r.left + r.right) / 2 - box.left) / away.length;
      y += ((r.top + r.bottom) / 2 - box.top) / away.length;
    });
    var all = frames[current].inputs.length;
    var words = away.length === all ? (all === 1 ? "its input" : "its " + all + " inputs")
      : away.length + " of its inputs";
    elsewhere.textContent = arrow(x - box.width / 2, y - box.height / 2) + " " + words;
    elsewhere.title = "bring them into view";
    // The places for its centre: a loop around the stage, inside it by half the button and a margin.
    var w = elsewhere.offsetWidth / 2 + 8, h = elsewhere.offsetHeight / 2 + 8;
    var across = Math.max(0, box.width - 2 * w), down = Math.max(0, box.height - 2 * h), loop = 2 * (across + down);
    function at(t) {  // the place t pixels along the loop, clockwise from the top left
      t = ((t % loop) + loop) % loop;
      if (t < across) { return [w + t, h]; }
      if ((t -= across) < down) { return [w + across, h + t]; }
      if ((t -= down) < across) { return [w + across - t, h + down]; }
      return [w, h + down - (t - across)];
    }
    // Start where the line from the middle toward them leaves the stage; look both ways, up to a quarter round.
    var angle = Math.atan2(y - box.height / 2, x - box.width / 2);
    var reach = Math.min(Math.abs((box.width / 2 - w) / (Math.cos(angle) || 1e-9)),
                         Math.abs((box.height / 2 - h) / (Math.sin(angle) || 1e-9)));
    var ex = box.width / 2 + reach * Math.cos(angle) - w, ey = box.height / 2 + reach * Math.sin(angle) - h;
    var start = ey <= 0.5 ? ex : ex >= across - 0.5 ? across + ey : ey >= down - 0.5 ? across + down + across - ex
      : 2 * across + down + down - ey;
    var best = null, least = Infinity, half = elsewhere.offsetWidth / 2, tall = elsewhere.offsetHeight / 2;
    var seen = obstacles(box, 2 * (w + h));
    for (var k = 0; k <= loop / 4 && least > 0; k += 6) {
      [start + k, start - k].forEach(function (t) {
        var c = at(t), cost = covered({ left: box.left + c[0] - half, right: box.left + c[0] + half,
                                        top: box.top + c[1] - tall, bottom: box.top + c[1] + tall }, seen);
        if (cost < least) { least = cost; best = c; }
      });
    }
    elsewhere.style.left = best[0] + "px";
    elsewhere.style.top = best[1] + "px";
    elsewhere.textContent = arrow(x - best[0], y - best[1]) + " " + words;  // from where it is, toward them
  }
  view.onchange(point);
  elsewhere.addEventListener("click", function () { pause(); view.show(receivers(), [], 300); });
  function pause() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    play.textContent = "\u25B6 play";
    play.setAttribute("aria-pressed", "false");
  }
  function start() {
    if (current === frames.length - 1) { show(0, 300); }
    timer = setInterval(function () {
      if (current >= frames.length - 1) { pause(); } else { show(current + 1, 300); }
    }, DATA.interval);
    play.textContent = "\u25AE\u25AE pause";
    play.setAttribute("aria-pressed", "true");
  }
  function toggle() { if (timer === null) { start(); } else { pause(); } }
  function stepTo(i) { pause(); show(i, 300); }
  play.addEventListener("click", toggle);
  document.getElementById("prev").addEventListener("click", function () { stepTo(current - 1); });
  document.getElementById("next").addEventListener("click", function () { stepTo(current + 1); });
  document.getElementById("first").addEventListener("click", function () { stepTo(0); });
  document.getElementById("last").addEventListener("click", function () { stepTo(frames.length - 1); });
  slider.addEventListener("input", function () { stepTo(Number(slider.value)); });
  document.addEventListener("keydown", function (event) {
    if (event.target === slider || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var keys = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: frames.length - 1 };
    if (event.key === " ") { event.preventDefault(); toggle(); }
    else if (event.key in keys) { event.preventDefault(); stepTo(keys[event.key]); }
  });
  show(0, 0);
})();"""
