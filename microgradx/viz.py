"""Draw computation graphs with Graphviz: one box per Value, one small node per op.

:func:`draw_graph` turns the graph behind a Value into a :class:`graphviz.Digraph`. Each Value is a
box (label, data, grad), each op a small ellipse between its inputs and its output, and the edges
point the way data flows, parents in argument order. In Jupyter the result shows itself as SVG; in
a script, :func:`save` writes svg, png, pdf or the DOT text.

Options, each aimed at one question a learner asks:

- ``heatmap=True`` colours every Value by |grad| on a log scale, with a legend: vanishing
  gradients fade to pale yellow, large ones glow dark red. ``highlight_below=1e-6`` frames the
  Values whose |grad| is below that threshold.
- Parameters named like the nn module names them (``layers.0.neurons.3.w.1``) are grouped, with
  the nodes of their neuron, in one labelled box per neuron inside one box per layer.
  ``collapse="neuron"`` or ``"layer"`` draws each neuron or layer as a single node, so a model on
  a batch of inputs still fits on a screen.
- Above ``max_nodes`` (default 500) it refuses with a message that says what to do, instead of
  handing Graphviz a graph it would take minutes to lay out.

Every text that comes from the user (labels, op names) is escaped, so it is shown as it is and
never read as markup; the output is deterministic (nodes are numbered in traversal order).

>>> from microgradx import Value
>>> x, w = Value(2.0, label="x"), Value(-3.0, label="w")
>>> y = (x * w).tanh()
>>> y.backward()
>>> g = draw_graph(y)
>>> print(g.source.count("->"), "edges")
5 edges
"""

from __future__ import annotations

import base64
import itertools
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import graphviz

from ._checks import whole_number
from ._files import write_atomic
from ._text import visible
from .engine import Value
from .fold import Folding, Part, fold, natural_key, trace_nodes
from .htmlview import natural_size, notebook_html, page

__all__ = [
    "MAX_NODES", "Graph", "GraphTooLarge", "GraphvizNotFound", "draw_dot", "draw_graph", "save", "trace",
]

AUTO_INTERACTIVE_PX = 2000  # wider than this, text scaled to a ~1000 px notebook output is under half size
PNG_PIXELS = 1_000_000  # the PNG beside the SVG in a notebook: enough for a code host, small in the file
STILL_NOTE = ("A still picture: run the cell (or trust the notebook) to pan and zoom, "
              "or save(graph, 'graph.html') and open that.")
MAX_NODES = 500  # above this, dot can take minutes (a random 750-node graph: 11 s, 1500: 3 min)
RANKDIRS = ("LR", "TB", "RL", "BT")
COLLAPSE_MODES = ("neuron", "layer")
SAVE_FORMATS = ("svg", "png", "pdf", "dot", "html")
VIEWS = ("auto", "fit", "natural", "interactive")
FONT = "Helvetica"

# -- errors --------------------------------------------------------------------------------------------

INSTALL_DOT = (
    "Graphviz's `dot` program was not found on PATH; it is needed to render graphs to svg/png/pdf. "
    "Install it (Debian/Ubuntu: sudo apt-get install graphviz; Fedora: sudo dnf install graphviz; "
    "macOS: brew install graphviz; conda: conda install -c conda-forge graphviz; "
    "Windows: winget install graphviz, then add it to PATH). "
    "Without it the DOT text is still there: graph.source, or save(graph, 'graph.dot')."
)


class GraphvizNotFound(graphviz.ExecutableNotFound):
    """Graphviz's ``dot`` program is missing; the message says how to install it."""

    def __init__(self, message: str = INSTALL_DOT) -> None:
        RuntimeError.__init__(self, message)  # skip ExecutableNotFound's own one-size message


class GraphTooLarge(ValueError):
    """The graph has more nodes than ``max_nodes``; the message suggests ``collapse=`` or ``max_nodes=``."""


class Graph(graphviz.Digraph):
    """A :class:`graphviz.Digraph` that shows itself well in notebooks and explains how to install Graphviz.

    Everything of graphviz's is there: ``.source`` (the DOT text, which needs no ``dot``),
    ``.pipe()``, ``.render()``. In Jupyter it shows as a picture that fits the output (see
    ``view`` in :func:`draw_graph`; set ``graph.view`` to change it), with a PNG beside it for
    viewers that show no HTML. ``.render()`` writes graphviz's way, the DOT source beside the
    picture and each file in place; :func:`save` writes the one file you name whole or not at all,
    keeping an existing file's permissions (see :mod:`microgradx._files`); ``.html`` gives the
    pan-and-zoom page.

    >>> g = Graph()
    >>> g.node("a")
    >>> print(g.source.strip())
    digraph {
        a
    }
    """

    view = "auto"
    title = "Computation graph"
    start: tuple[str, ...] = ()  # the nodes (by name) the pan-and-zoom page opens on when it cannot show it all

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound as error:
            raise GraphvizNotFound() from error

    def render(self, *args: Any, **kwargs: Any) -> str:
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound as error:
            raise GraphvizNotFound() from error

    def svg(self) -> str:
        """The drawing as SVG text (laid out once per DOT text: asked again, it is not redrawn)."""
        cache = getattr(self, "_svg_cache", None)
        if cache is None or cache[0] != self.source:
            cache = (self.source, self.pipe(format="svg", encoding="utf-8"))
            self._svg_cache = cache
        return cache[1]

    def png(self, max_pixels: int = PNG_PIXELS) -> bytes:
        """The drawing as a PNG of at most ``max_pixels`` pixels (96 dpi, or less for a large drawing)."""
        width, height = natural_size(self.svg())  # at 96 dpi
        dpi = 96 * min(1.0, math.sqrt(max_pixels / max(width * height, 1.0)))
        copy = self.copy()
        copy.graph_attr["dpi"] = f"{max(dpi, 12):.1f}"
        return copy.pipe(format="png")  # type: ignore[no-any-return]

    def shown_as(self) -> str:
        """How a notebook shows it: ``view``, with "auto" settled ("fit", or "interactive" when
        scaled to a notebook's width its text would be too small to read)."""
        if self.view != "auto":
            return self.view
        width, height = natural_size(self.svg())
        return "interactive" if width > AUTO_INTERACTIVE_PX or height > 2 * AUTO_INTERACTIVE_PX else "fit"

    def page(self) -> str:
        """The standalone pan-and-zoom page of the drawing (what ``save(graph, "g.html")`` writes)."""
        return page(self.svg(), title=self.title, header=f"<h1>{html_text(self.title)}</h1>", start=self.start)

    def _repr_mimebundle_(self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None,
                          **_: Any) -> dict[str, Any]:
        try:
            svg = self.svg()
        except GraphvizNotFound as error:  # in a notebook: the advice instead of a traceback
            return {"text/plain": str(error)}
        view = self.shown_as()
        bundle: dict[str, Any] = {
            "text/html": notebook_html(svg, view=view, page_html=self.page() if view == "interactive" else None,
                                       alt=self.title, note=STILL_NOTE),
            "image/png": base64.b64encode(self.png()).decode("ascii"),  # for viewers that show no HTML or SVG
            "text/plain": repr(self),
        }
        if include is not None and "image/svg+xml" in include:
            bundle["image/svg+xml"] = svg
        wanted = set(bundle) if include is None else set(include)
        return {kind: data for kind, data in bundle.items() if kind in wanted and kind not in set(exclude or ())}

    def __repr__(self) -> str:
        # What the picture shows: its boxes (Values, folded parts, neurons, layers) and op circles; the
        # legend is not a node of the graph.
        kinds = re.findall(r"^\s*(?!graph |node |edge )\w+ \[.*?\bclass=\"?(\w+)", self.source, flags=re.M)
        boxes = sum(kind in ("value", "group") for kind in kinds)
        ops = f" and {kinds.count('op')} op nodes" if "op" in kinds else ""
        return f"<{self.title}: {boxes} boxes{ops}; shown as a picture in Jupyter, or save(graph, 'graph.svg')>"


# -- walking the graph -------------------------------------------------------------------------------


def trace(root: Value) -> tuple[list[Value], list[tuple[Value, Value]]]:
    """All nodes of the graph behind ``root`` and its edges ``(parent, child)``, in a stable order.

    Nodes come in topological order (every node after its parents, ``root`` last), found by the
    engine's iterative depth-first walk, so the order depends only on how the graph was built.
    Edges are listed child by child, each child's parents in argument order (``x * x`` gives two).

    >>> from microgradx import Value
    >>> a, b = Value(1.0, label="a"), Value(2.0, label="b")
    >>> nodes, edges = trace(a * b + a)
    >>> [n.label or n._op.name for n in nodes]
    ['a', 'b', '*', '+']
    >>> len(edges)
    4
    """
    nodes = traced_nodes(root)
    return nodes, [(parent, node) for node in nodes for parent in node._prev]


def traced_nodes(root: Value) -> list[Value]:
    """The nodes of :func:`trace` without the edges, after checking that ``root`` and the labels can be drawn."""
    if not isinstance(root, Value):
        hint = "; to draw several outputs, draw one Value that uses them (e.g. their sum or the loss)"
        raise TypeError(f"expected a Value (the output of a computation), got {type(root).__name__}"
                        + (hint if isinstance(root, (list, tuple)) else ""))
    nodes = trace_nodes(root)
    for v in nodes:  # Value() makes every label text, but .label can be reassigned to anything
        if type(v.label) is not str and not isinstance(v.label, str):
            raise TypeError(f"a label must be text, got {v.label!r} ({type(v.label).__name__}) on {v!r}; "
                            "use label='' for none, or str() for a number")
    return nodes


# -- numbers, text and colours -------------------------------------------------------------------------


def _grad_of(v: Value) -> float:
    """The gradient as a float (after ``backward(create_graph=True)`` it is a Value)."""
    g = v.grad
    return g if type(g) is float else 0.0 if g is None else float(getattr(g, "data", g))


def fmt(x: float) -> str:
    """A number the way the graphs show it: 4 decimals, or scientific when tiny or huge.

    >>> fmt(0.5), fmt(-1234.5), fmt(3e-7), fmt(-0.0)
    ('0.5000', '-1234.5000', '3.000e-07', '0.0000')
    """
    x += 0.0  # -0.0 becomes 0.0: a gradient of "-0.0000" would read as a tiny negative number
    return f"{x:.4f}" if x == 0 or 1e-3 <= abs(x) < 1e5 else f"{x:.3e}"


def html_text(text: str) -> str:
    r"""``text`` as literal text inside a Graphviz HTML-like label (and so in SVG and HTML).

    Markup characters become entities; control characters are shown as their escapes (a label
    with a newline shows ``\n``); backslashes are doubled, because Graphviz reads ``\N``, ``\G``
    ... as escapes even inside HTML-like labels.

    >>> print(html_text('<script>alert("1")</script> & \\N\n'))
    &lt;script&gt;alert(&quot;1&quot;)&lt;/script&gt; &amp; \\N\\n
    """
    text = visible(text)  # "\n" -> "\\n", "\x07" -> "\\x07": nothing that breaks a line or the file
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    text = text.replace("]", "&#93;")  # Graphviz 2.43 rejects a cell whose text is only "]"
    return text.replace("\\", "\\\\")


# ColorBrewer's YlOrRd: pale yellow for tiny |grad|, dark red for large ones.
HEAT_COLORS = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026")
ZERO_COLOR = "#e5e7eb"  # grad exactly 0: grey, off the scale
NONFINITE_COLOR = "#4c1d95"  # inf or nan (left by a backward pass that overflowed): off the scale too
BELOW_COLOR = "#2563eb"  # the frame of a node below highlight_below


class HeatScale(NamedTuple):
    """The log10 range ``[lo, hi]`` (whole decades) that the heat-map colours span."""

    lo: int
    hi: int

    @classmethod
    def of(cls, magnitudes: Iterable[float]) -> HeatScale | None:
        """The smallest range of whole decades holding every nonzero finite magnitude (None: none).

        >>> HeatScale.of([0.0, 0.02, 3.0, math.inf])
        HeatScale(lo=-2, hi=1)
        """
        logs = [math.log10(m) for m in magnitudes if 0 < m < math.inf]  # nan fails both tests
        if not logs:
            return None
        lo, hi = math.floor(min(logs)), math.ceil(max(logs))
        return cls(lo, max(hi, lo + 1))

    def color(self, magnitude: float) -> str:
        """The fill colour for ``magnitude`` (an |grad|): grey for 0, violet for inf or nan, else along
        HEAT_COLORS.

        >>> s = HeatScale(-2, 1)
        >>> s.color(0.01), s.color(10.0), s.color(0.0), s.color(math.nan)
        ('#ffffcc', '#800026', '#e5e7eb', '#4c1d95')
        """
        if not math.isfinite(magnitude):
            return NONFINITE_COLOR
        if magnitude <= 0:
            return ZERO_COLOR
        t = (math.log10(magnitude) - self.lo) / (self.hi - self.lo)
        t = min(max(t, 0.0), 1.0) * (len(HEAT_COLORS) - 1)
        i = min(int(t), len(HEAT_COLORS) - 2)
        a, b = _rgb(HEAT_COLORS[i]), _rgb(HEAT_COLORS[i + 1])
        return "#" + "".join(f"{round(x + (y - x) * (t - i)):02x}" for x, y in zip(a, b))

    def ticks(self) -> list[int]:
        """The decades the legend labels: at most 8 of them."""
        step = max(1, math.ceil((self.hi - self.lo) / 7))
        return list(range(self.lo, self.hi + 1, step))


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def text_color(fill: str) -> str:
    """Black or white, whichever reads better on ``fill`` (by its luma).

    >>> text_color("#ffffcc"), text_color("#800026")
    ('black', 'white')
    """
    r, g, b = _rgb(fill)
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 140 else "black"


# -- node labels (Graphviz HTML-like tables) ------------------------------------------------------------


def value_table(
    title: str, cells: Iterable[str], *, fill: str | None = None, border: int = 1,
    color: str = "black", widths: Iterable[int | None] = (), vertical: bool = False, rounded: bool = False,
) -> str:
    """The HTML-like label of a Value's box: an optional bold title cell, then the ``cells``.

    ``title`` is the user's text (escaped here); ``cells`` are escaped already. ``widths`` fixes
    the width of the cells (in points) so that frames of an animation keep their layout.
    ``vertical=True`` stacks the cells in rows (a folded node's longer lines), else they sit in one
    row; ``rounded=True`` rounds the corners (an op's box in a folded graph).
    """
    font_open, font_close = "", ""
    if fill:
        font_open, font_close = f'<FONT COLOR="{text_color(fill)}">', "</FONT>"
    row = [f"<TD>{font_open}<B>{html_text(title)}</B>{font_close}</TD>"] if title else []
    widths = list(widths)
    for i, cell in enumerate(cells):
        width = widths[i] if i < len(widths) else None
        size = f' WIDTH="{width}" HEIGHT="26" FIXEDSIZE="TRUE"' if width else ""
        row.append(f"<TD{size}>{font_open}{cell}{font_close}</TD>")
    bg = f' BGCOLOR="{fill}"' if fill else ""
    rows = "".join(f"<TR>{cell}</TR>" for cell in row) if vertical else f'<TR>{"".join(row)}</TR>'
    shape = ' STYLE="ROUNDED"' if rounded else ""
    cells_look = 'CELLBORDER="0" ROWS="*"' if vertical else 'CELLBORDER="1"'  # rows: a rule between them
    return (f'<<TABLE BORDER="{border}" COLOR="{color}" {cells_look} CELLSPACING="0" CELLPADDING="4"{bg}{shape}>'
            f"{rows}</TABLE>>")


def number_cells(v: Value, show_grad: bool) -> list[str]:
    """The ``data ...`` and ``grad ...`` cells of a Value's box.

    >>> number_cells(Value(2.0), show_grad=True)
    ['data 2.0000', 'grad 0.0000']
    """
    cells = [f"data {fmt(v.data)}"]
    if show_grad:
        cells.append(f"grad {fmt(_grad_of(v))}")
    return cells


def op_label(v: Value) -> str:
    """The HTML-like label of the op node that made ``v`` (op names can be user text too).

    >>> op_label(Value(1.0) * 2)
    '<*>'
    """
    return f"<{html_text(v._op.name)}>"  # type: ignore[union-attr]


VALUE_NODE = {"shape": "plaintext", "margin": "0"}
EDGE = {"arrowsize": "0.7", "color": "#4b5563", "fontname": FONT, "fontsize": "11"}
OP_NODE = {"shape": "ellipse", "style": "filled", "fillcolor": "#f3f4f6", "color": "#6b7280",
           "fontsize": "11", "margin": "0.02", "height": "0.3", "width": "0.3", "class": "op"}


# -- neurons and layers from the parameters' dotted names ---------------------------------------------

# layers.0.neurons.3.w.1, layers.0.neurons.3.b, or the same under a prefix (model.layers.0...)
_PARAMETER = re.compile(r"(?P<layer>(?:.*\.)?layers\.\d+)\.(?P<neuron>neurons\.\d+)\.(?P<name>.+)")


class Group(NamedTuple):
    """Where a node sits in a model: its layer (``layers.0``) and neuron (``layers.0.neurons.3``)."""

    layer: str
    neuron: str


def neuron_groups(nodes: Iterable[Value]) -> dict[Value, Group]:
    """The layer and neuron each node belongs to, read from the parameters' dotted names.

    A parameter (a leaf labelled ``layers.<i>.neurons.<j>.<name>``) belongs to its neuron. So does
    every op that takes parameters of that one neuron as inputs (the ``dot`` of the weights and the
    ``+ b``), and a one-input op applied to such an op (the activation). Everything else (inputs,
    the loss, ops that mix parameters of several neurons) belongs to none. ``nodes`` must list
    parents before children, as :func:`trace` does.

    >>> from microgradx import Value
    >>> w, b = Value(0.5, label="layers.0.neurons.1.w.0"), Value(0.1, label="layers.0.neurons.1.b")
    >>> y = (w * 2.0 + b).relu()
    >>> loss = (y - 1.0) ** 2
    >>> nodes, _ = trace(loss)
    >>> sum(1 for n in nodes if n in neuron_groups(nodes))
    5
    """
    owner: dict[Value, Group] = {}
    weighted_sums: set[Value] = set()  # ops that take a neuron's parameters: its activation may follow
    for v in nodes:
        parents = v._prev
        if not parents:
            match = _PARAMETER.fullmatch(v.label)
            if match:
                owner[v] = Group(match["layer"], f"{match['layer']}.{match['neuron']}")
            continue
        used = {owner[p] for p in parents if not p._prev and p in owner}
        if len(used) == 1:
            owner[v] = used.pop()
            weighted_sums.add(v)
        elif len(parents) == 1 and parents[0] in weighted_sums:
            owner[v] = owner[parents[0]]
    return owner


# -- drawing -------------------------------------------------------------------------------------------


def draw_graph(
    root: Value,
    rankdir: str | None = None,
    show_grad: bool = True,
    *,
    format: str = "svg",
    heatmap: bool = False,
    highlight_below: float | None = None,
    clusters: bool = True,
    collapse: str | None = None,
    max_nodes: int = MAX_NODES,
    view: str = "auto",
) -> Graph:
    """The computation graph behind ``root`` as a Graphviz digraph (shown as a picture in Jupyter).

    ``rankdir`` is "LR" (left to right), "TB" (top to bottom), "RL" or "BT"; by default "LR" (as
    micrograd draws), and "TB" with ``collapse`` (a model reads top down, and a tall picture fits a
    notebook's width). ``show_grad=False`` leaves the gradients out. ``heatmap=True`` colours each
    Value by |grad| on a log scale and adds a legend; ``highlight_below=t`` frames the Values whose
    |grad| < t. Parameters of an nn model are grouped by neuron and layer (``clusters=False`` turns
    that off). ``collapse="neuron"`` or
    ``"layer"`` draws each neuron or layer as one node and folds a batch: what repeats once per
    example (inputs, targets, the loss's ops) is one node per role, ``x0 ×100``, and the inputs
    ``x[0]`` ... ``x[63]`` of one vector are one node ``x[0:64]`` (see :mod:`microgradx.fold` for
    what folds). ``max_nodes`` caps the size of the drawing (raises
    :class:`GraphTooLarge` above it). ``view`` says how Jupyter shows it: "fit" (scaled down to the
    output's width, never up; click for the natural size), "natural", "interactive" (pan and zoom),
    or "auto": "fit" unless the text would be too small to read, then "interactive".

    >>> from microgradx import Value
    >>> y = Value(2.0, label="x") * 3
    >>> g = draw_graph(y, show_grad=False)
    >>> g.source.count("data "), g.source.count("grad ")
    (3, 0)
    """
    _check_options(rankdir, collapse, max_nodes, highlight_below, view)
    rankdir = rankdir or ("TB" if collapse else "LR")
    nodes = traced_nodes(root)
    groups = neuron_groups(nodes) if clusters or collapse else {}
    folding = fold(nodes, {v: getattr(g, collapse) for v, g in groups.items()}) if collapse else None
    drawn = folded_node_count(folding) if folding else drawn_node_count(nodes)
    if drawn > max_nodes:
        raise GraphTooLarge(_too_large_message(drawn, max_nodes, bool(groups), collapse))

    graph = Graph(format=format, graph_attr={"rankdir": rankdir, "fontname": FONT, "bgcolor": "white"},
                  node_attr={"fontname": FONT}, edge_attr=EDGE)
    graph.view = view
    graph.title = f"Graph of {root.label or 'the output'}"
    last = len(nodes) - 1  # the root: the output end, where a page too big to read whole opens
    root_part = folding.part_of[last] if folding else -1
    graph.start = (f"p{root_part}",) if root_part >= 0 else (f"v{last}", f"op{last}")
    stats = _part_stats(folding, nodes) if folding else []
    magnitudes: list[float] = []
    if heatmap:  # the colours span what is coloured: each Value, or each folded node's max |grad|
        magnitudes = [s.max for s in stats] if folding else [abs(_grad_of(v)) for v in nodes]
    # With no nonzero finite gradient (say, before backward()) there is no range to span: the boxes
    # are still coloured (grey for 0) and the legend says why, rather than the option doing nothing.
    scale = (HeatScale.of(magnitudes) or HeatScale(0, 1)) if heatmap else None

    def style(magnitude: float) -> dict[str, Any]:
        below = highlight_below is not None and magnitude < highlight_below
        return {"fill": scale.color(magnitude) if scale else None, "border": 3 if below else 1,
                "color": BELOW_COLOR if below else "black"}

    if folding:
        _draw_folded(graph, nodes, folding, stats, groups, collapse == "neuron" and clusters, show_grad, style)
    else:
        _draw_full(graph, nodes, groups, show_grad, style)
    if scale or highlight_below is not None:
        graph.node("legend", _legend(scale, highlight_below, magnitudes), _attributes=VALUE_NODE,
                   **{"class": "legend"})
    return graph


Style = Callable[[float], dict[str, Any]]


def _draw_full(graph: Graph, nodes: list[Value], groups: dict[Value, Group], show_grad: bool, style: Style) -> None:
    """Every Value a box and every op a node; an nn model's nodes in one box per neuron and layer."""
    graph.attr(ranksep="0.3")  # a small op node between two boxes needs less room: the picture is narrower
    index = {v: i for i, v in enumerate(nodes)}

    def add_value(target: graphviz.Digraph, v: Value, title: str) -> None:
        s = style(abs(_grad_of(v)))
        target.node(f"v{index[v]}", value_table(title, number_cells(v, show_grad), **s), _attributes=VALUE_NODE,
                    **{"class": "value below" if s["border"] > 1 else "value"})
        if v._prev:
            target.node(f"op{index[v]}", op_label(v), _attributes=OP_NODE)

    for v in nodes:
        if v not in groups:
            add_value(graph, v, v.label)
    add_clusters(graph, nodes, groups, add_value)
    for (tail, head), count in drawn_edges(nodes, index, {}).items():
        graph.edge(tail, head, label=f"×{count}" if count > 1 else None)


class PartStats(NamedTuple):
    """The |grad| of a folded node: the largest and the mean over its Values (a group: its parameters)."""

    max: float
    mean: float


def _part_stats(folding: Folding, nodes: list[Value]) -> list[PartStats]:
    stats = []
    for part in folding.parts:
        members = [nodes[i] for i in part.members]
        if part.kind == "group":
            members = [v for v in members if not v._prev] or members
        magnitudes = [abs(_grad_of(v)) for v in members]
        stats.append(PartStats(_largest(magnitudes), math.fsum(magnitudes) / len(magnitudes)))
    return stats


def _draw_folded(graph: Graph, nodes: list[Value], folding: Folding, stats: list[PartStats],
                 groups: dict[Value, Group], layer_boxes: bool, show_grad: bool, style: Style) -> None:
    """One box per part (a group, or a role such as ``relu ×100``), neurons inside one box per layer.

    An op and its result are one box here (the op names the box), which halves the depth of the
    drawing. Edges say how many real edges they stand for.
    """
    def add(target: graphviz.Digraph, k: int, name: str) -> None:
        _add_part(target, k, folding.parts[k], nodes, stats[k], show_grad, style, name)

    layout_folded(graph, folding, layer_box_members(folding, groups) if layer_boxes else {}, add)


def layer_box_members(folding: Folding, groups: dict[Value, Group]) -> dict[str, list[int]]:
    """{layer name: the parts of its neurons}, for drawing the neurons inside one box per layer."""
    layer_of = {g.neuron: g.layer for g in groups.values()}
    boxes: dict[str, list[int]] = {}
    for k, part in enumerate(folding.parts):
        if part.kind == "group" and part.name in layer_of:
            boxes.setdefault(layer_of[part.name], []).append(k)
    return boxes


def layout_folded(graph: graphviz.Digraph, folding: Folding, boxes: dict[str, list[int]],
                  add: Callable[[graphviz.Digraph, int, str], None],
                  edge_attributes: Callable[[int, DrawnEdge], dict[str, str]] | None = None) -> list[DrawnEdge]:
    """Lay out a folded graph: ``add(target, k, name)`` draws part k's box (named ``p<k>``) in
    ``target``; the parts listed in ``boxes`` go inside one box per layer, side by side in order
    (with their short names); then the edges, bundled (:func:`bundled_edges`), with
    ``edge_attributes(n, edge)`` added to the n-th. Returns the drawn edges."""
    graph.attr(nodesep="0.15")  # boxes side by side, closer than Graphviz's 0.25 in: 16 neurons fit a screen
    in_box = {k for members in boxes.values() for k in members}
    for k, part in enumerate(folding.parts):
        if k not in in_box:
            add(graph, k, part.name)
    clusters = {}
    sideways = graph.graph_attr.get("rankdir", "TB") in ("LR", "RL")
    for j, (layer, members) in enumerate(boxes.items()):
        clusters[layer] = f"cluster_{j}"
        with graph.subgraph(name=f"cluster_{j}") as box:
            box.attr(label=f"<<B>{html_text(layer)}</B>>", labeljust="l", style="rounded,filled",
                     fillcolor="#f3f4f6", color="#9ca3af", fontname=FONT)
            rows = grid_rows(members)
            for members_of_row in rows:
                with box.subgraph() as row:  # side by side, in order: invisible edges within a rank keep it
                    row.attr(rank="same")
                    for k in members_of_row:
                        add(row, k, folding.parts[k].name[len(layer) + 1:])
                    # A flat edge puts its tail first across the page, which with ranks running sideways is
                    # bottom to top: chain them backwards there, so neuron 0 is on top.
                    chain = members_of_row[::-1] if sideways else members_of_row
                    for a, b in itertools.pairwise(chain):
                        row.edge(f"p{a}", f"p{b}", style="invis")
            for above, below in itertools.pairwise(rows):  # each row one rank after the last, columns aligned
                for a, b in zip(above, below):
                    box.edge(f"p{a}", f"p{b}", style="invis", weight="10")
    if boxes:
        graph.attr(compound="true")  # edges may end at a layer box's border
    edges = bundled_edges(folding.edges, boxes)
    for n, edge in enumerate(edges):
        ends = {}
        if edge.from_box:
            ends["ltail"] = clusters[edge.from_box]
        if edge.to_box:
            ends["lhead"] = clusters[edge.to_box]
        extra = edge_attributes(n, edge) if edge_attributes else {}
        graph.edge(f"p{edge.tail}", f"p{edge.head}", label=f"×{edge.uses}" if edge.uses > 1 else None,
                   **ends, **extra)
    return edges


class DrawnEdge(NamedTuple):
    """An edge of a folded drawing: from part ``tail`` to part ``head``, standing for ``count`` real
    edges (``uses``), clipped at the layer box ``from_box``/``to_box`` ("" for none) when it bundles
    the edges ``pairs`` (the (tail, head) pairs of parts it stands for)."""

    tail: int
    head: int
    uses: int
    from_box: str
    to_box: str
    pairs: tuple[tuple[int, int], ...]


GRID_COLUMNS = (4, 8)  # a layer's neurons: 4 to a row up to 16 of them, then about a square, at most 8 to a row


def grid_rows(members: list[int]) -> list[list[int]]:
    """A layer box's neurons in rows, in order: a layer of 16 neurons is four rows of four, so the
    drawing stays about as wide as a screen (16 side by side are 3,000 px wide) and reads like text.

    >>> [len(row) for row in grid_rows(list(range(16)))], [len(row) for row in grid_rows(list(range(3)))]
    ([4, 4, 4, 4], [3])
    >>> [len(row) for row in grid_rows(list(range(40)))]
    [7, 7, 7, 7, 7, 5]
    """
    least, most = GRID_COLUMNS
    columns = min(max(least, math.ceil(math.sqrt(len(members)))), most)
    return [members[i : i + columns] for i in range(0, len(members), columns)]


def bundled_edges(edges: dict[tuple[int, int], int], boxes: dict[str, list[int]]) -> list[DrawnEdge]:
    """The edges to draw between parts, bundled along layer boxes, as TensorBoard bundles edges
    along clusters: a dense layer is one line from box to box, not a mesh of 256.

    ``boxes`` maps a box's name to its parts. All the edges between two units (a box, or a part
    outside every box) become one when they connect every part of the one to every part of the
    other; it runs from the middle of a box's last row (:func:`grid_rows`) to the middle of the
    other's first row, and is clipped at the boxes' borders.

    >>> [(e.tail, e.head, e.uses, e.to_box) for e in bundled_edges({(0, 1): 100, (0, 2): 100, (3, 4): 1},
    ...                                                              {"layers.0": [1, 2]})]
    [(0, 2, 200, 'layers.0'), (3, 4, 1, '')]
    """
    box_of = {k: name for name, members in boxes.items() for k in members}
    between: dict[tuple[str, str], list[tuple[tuple[int, int], int]]] = {}
    for (tail, head), count in edges.items():
        key = (box_of.get(tail, f"#{tail}"), box_of.get(head, f"#{head}"))  # "#k": part k, in no box
        between.setdefault(key, []).append(((tail, head), count))
    drawn = []
    for (tail_unit, head_unit), group in between.items():
        tails, heads = boxes.get(tail_unit, [group[0][0][0]]), boxes.get(head_unit, [group[0][0][1]])
        complete = len(group) == len(tails) * len(heads)  # every part of the one to every part of the other
        if tail_unit != head_unit and complete and (tail_unit in boxes or head_unit in boxes):
            last, first = grid_rows(tails)[-1], grid_rows(heads)[0]  # leave from the last row, enter at the first
            drawn.append(DrawnEdge(last[len(last) // 2], first[len(first) // 2], sum(count for _, count in group),
                                   tail_unit if tail_unit in boxes else "", head_unit if head_unit in boxes else "",
                                   tuple(pair for pair, _ in group)))
        else:
            drawn.extend(DrawnEdge(*pair, count, "", "", (pair,)) for pair, count in group)
    return drawn


def part_title(part: Part, name: str) -> str:
    """The title of a folded node's box: the group's or the leaf's name, or the op (with its label
    and constants), then ``×k`` when it stands for k copies (examples): ``relu ×100``, ``x0 ×100``,
    ``* -1``, ``x[0:64] ×100`` (a vector of 64 inputs, 100 times)."""
    if part.kind == "group":
        return name
    title = name
    if part.kind == "op":
        op = _op_with_marks(part)
        title = f"{name} ({op})" if name else op
    return f"{title} ×{part.copies}".strip() if part.copies > 1 else title


def part_rows(part: Part, nodes: list[Value]) -> list[str]:
    """The rows under the title (before the gradients): a group's size, a vector's length, the data
    (a range when folded)."""
    members = [nodes[i] for i in part.members]
    if part.kind == "group":
        params = sum(1 for v in members if not v._prev)
        return [f"{params} parameter{'' if params == 1 else 's'}", f"{len(members)} nodes"]
    lo, hi = min(v.data for v in members), max(v.data for v in members)
    size = [f"{part.series} inputs"] if part.series > 1 else []
    return [*size, f"data {fmt(lo)}" if lo == hi else f"data {fmt(lo)} … {fmt(hi)}"]


def _add_part(target: graphviz.Digraph, k: int, part: Part, nodes: list[Value], stats: PartStats,
              show_grad: bool, style: Style, name: str) -> None:
    """A folded node's box: its title, its rows (:func:`part_rows`) and its |grad| (max and mean when folded)."""
    s = style(stats.max)
    rows = part_rows(part, nodes)
    if show_grad and len(part.members) == 1:
        rows.append(f"grad {fmt(_grad_of(nodes[part.members[0]]))}")
    elif show_grad:
        rows += [f"|grad| max {fmt(stats.max)}", f"mean {fmt(stats.mean)}"]
    kind = ("group neuron" if ".neurons." in part.name else "group layer") if part.kind == "group" else \
        "value op" if part.kind == "op" else "value"
    if s["border"] > 1:
        kind += " below"
    target.node(f"p{k}", value_table(part_title(part, name), [html_text(r) for r in rows], vertical=True,
                                     rounded=part.kind == "op", **s), _attributes=VALUE_NODE, **{"class": kind})


def _op_with_marks(part: Part) -> str:
    """An op's name with the constants it uses: ``* -1``, ``+ 1``, ``2 **``.

    >>> p = Part("op", op="*"); p.marks = ((1, -1.0),)
    >>> _op_with_marks(p)
    '* -1'
    """
    if not part.marks:
        return part.op
    shown = ", ".join(f"{value:g}" for _, value in part.marks[:3]) + (", …" if len(part.marks) > 3 else "")
    if len(part.marks) == 1 and part.marks[0][0] == 0:
        return f"{shown} {part.op}"
    return f"{part.op} {shown}"


def drawn_node_count(values: Iterable[Value]) -> int:
    """How many Graphviz nodes drawing ``values`` takes: a box per Value, and an op node per op result.

    >>> drawn_node_count(trace(Value(1.0) * 2)[0])
    4
    """
    return sum(2 if v._prev else 1 for v in values)


def folded_node_count(folding: Folding) -> int:
    """How many Graphviz nodes a folded graph takes: one box per part (an op and its result are one box)."""
    return len(folding.parts)


def _largest(magnitudes: Iterable[float]) -> float:
    """The largest |grad|, inf and nan above every number (``max`` keeps or drops a nan by position)."""
    return max(magnitudes, key=lambda m: m if m == m else math.inf)


def drawn_edges(nodes: list[Value], index: dict[Value, int], box: dict[Value, str]) -> dict[tuple[str, str], int]:
    """The drawn edges and how many times each is used: Value -> op node -> the op's output Value.

    A Value listed in ``box`` is drawn as that node; edges inside one such node vanish. An input
    used twice (``x * x``) is one edge, labelled ×2.

    >>> x = Value(3.0, label="x")
    >>> nodes, _ = trace(x * x)
    >>> drawn_edges(nodes, {v: i for i, v in enumerate(nodes)}, {})
    {('v0', 'op1'): 2, ('op1', 'v1'): 1}
    """
    edges: dict[tuple[str, str], int] = {}
    for v in nodes:
        if not v._prev:
            continue
        op = box.get(v, f"op{index[v]}")
        pairs = [(box.get(p, f"v{index[p]}"), op) for p in v._prev] + [(op, box.get(v, f"v{index[v]}"))]
        for pair in pairs:
            if pair[0] != pair[1]:
                edges[pair] = edges.get(pair, 0) + 1
    return edges


def add_clusters(graph: graphviz.Digraph, nodes: list[Value], groups: dict[Value, Group],
                  add_value: Callable[[graphviz.Digraph, Value, str], None]) -> None:
    """One box per layer with one box per neuron inside, in natural order (2 before 10), each holding
    its nodes in traversal order."""
    layers: dict[str, dict[str, list[Value]]] = {}
    for v in nodes:
        if v in groups:
            layer, neuron = groups[v]
            layers.setdefault(layer, {}).setdefault(neuron, []).append(v)
    for k, layer in enumerate(sorted(layers, key=natural_key)):
        neurons = layers[layer]
        with graph.subgraph(name=f"cluster_{k}") as box:
            box.attr(label=f"<<B>{html_text(layer)}</B>>", labeljust="l", style="rounded,filled",
                     fillcolor="#f3f4f6", color="#9ca3af", fontname=FONT)
            for j, neuron in enumerate(sorted(neurons, key=natural_key)):
                with box.subgraph(name=f"cluster_{k}_{j}") as inner:
                    inner.attr(label=f"<{html_text(neuron[len(layer) + 1:])}>", labeljust="l",
                               style="rounded,dashed,filled", fillcolor="white", color="#9ca3af")
                    for v in neurons[neuron]:  # the cluster's label already says which neuron: show w.1, b
                        title = v.label[len(neuron) + 1:] if v.label.startswith(neuron + ".") else v.label
                        add_value(inner, v, title)


def _legend(scale: HeatScale | None, highlight_below: float | None, magnitudes: list[float]) -> str:
    """The key: the heat map's decades, 0 and (if any) inf/nan, then the frame of ``highlight_below``."""
    rows, cells = [], []
    if scale:
        if any(0 < m < math.inf for m in magnitudes):  # else the decades would stand for nothing
            cells = [(f"1e{d}", scale.color(10.0**d)) for d in scale.ticks()]
        cells.append(("0", ZERO_COLOR))
        if not all(map(math.isfinite, magnitudes)):
            cells.append(("inf/nan", NONFINITE_COLOR))
        shown = "".join(f'<TD BGCOLOR="{c}"><FONT COLOR="{text_color(c)}">{t}</FONT></TD>' for t, c in cells)
        rows += [f'<TR><TD COLSPAN="{len(cells)}" BORDER="0"><B>|grad|, log scale</B></TD></TR>', f"<TR>{shown}</TR>"]
        if not any(magnitudes):
            rows.append(f'<TR><TD COLSPAN="{len(cells)}" BORDER="0">every gradient is 0: '
                        "call backward() first</TD></TR>")
    if highlight_below is not None:
        rows.append(f'<TR><TD COLSPAN="{max(len(cells), 1)}" BORDER="3" COLOR="{BELOW_COLOR}">|grad| &lt; '
                    f"{highlight_below:g}</TD></TR>")
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">{"".join(rows)}</TABLE>>'


def check_rankdir(rankdir: object) -> None:
    """Refuse a ``rankdir`` Graphviz does not know, naming the two most used.

    >>> check_rankdir("left")
    Traceback (most recent call last):
    ...
    ValueError: rankdir must be 'LR' (left to right) or 'TB' (top to bottom), got 'left'
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be 'LR' (left to right) or 'TB' (top to bottom), got {rankdir!r}")


def _check_options(rankdir: object, collapse: object, max_nodes: object, highlight_below: object,
                   view: object) -> None:
    if rankdir is not None:
        check_rankdir(rankdir)
    if view not in VIEWS:
        raise ValueError(f"view must be 'auto', 'fit' (scaled to the output's width), 'natural' or 'interactive' "
                         f"(pan and zoom), got {view!r}")
    if collapse is not None and collapse not in COLLAPSE_MODES:
        raise ValueError(f"collapse must be None, 'neuron' or 'layer', got {collapse!r}")
    whole_number(max_nodes, "max_nodes")
    if highlight_below is not None and (
        isinstance(highlight_below, bool) or not isinstance(highlight_below, (int, float))
        or not 0 < highlight_below < math.inf
    ):
        raise ValueError(f"highlight_below must be a positive number (a |grad| threshold such as 1e-6), "
                         f"got {highlight_below!r}")


def _too_large_message(drawn: int, max_nodes: int, has_groups: bool, collapse: str | None) -> str:
    if has_groups and collapse != "layer":
        fix = "pass collapse='layer'" if collapse == "neuron" else "pass collapse='neuron' or collapse='layer'"
        fix += " to draw each neuron or layer as one node, or raise max_nodes="
    else:
        fix = "draw a smaller graph (e.g. one example instead of a batch), or raise max_nodes="
    return (f"the graph would have {drawn} nodes, more than max_nodes={max_nodes}; Graphviz would take "
            f"minutes to lay it out and the picture would be unreadable: {fix} (at your own risk)")


def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR") -> Graph:
    """micrograd's ``draw_dot``: the same as ``draw_graph(root, rankdir=rankdir, format=format)``.

    >>> from microgradx import Value
    >>> draw_dot(Value(1.0) + 2, format="png").format
    'png'
    """
    return draw_graph(root, rankdir=rankdir, format=format)


def _file_format(path: Path, format: str | None) -> str:
    """The format to write ``path`` in: ``format``, or the extension's; a format that contradicts a
    known extension (PNG bytes in ``graph.svg``) is refused, since every viewer would then fail on it.

    >>> _file_format(Path("g.gv"), None), _file_format(Path("g"), "png")
    ('dot', 'png')
    """
    extension = {"gv": "dot", "htm": "html"}.get(path.suffix[1:].lower(), path.suffix[1:].lower())
    fmt_ = {"gv": "dot", "htm": "html"}.get((format or extension).lower(), (format or extension).lower())
    if fmt_ not in SAVE_FORMATS:
        raise ValueError(f"cannot save a graph as {fmt_ or 'a file without an extension'!r} ({str(path)!r}): "
                         "use a .svg, .png, .pdf, .dot or .html path, or pass format='svg'")
    if format is not None and extension in SAVE_FORMATS and extension != fmt_:
        raise ValueError(f"format={format!r} does not match the extension of {str(path)!r}: a .{extension} file "
                         f"holds {extension}; name the file .{fmt_}, or drop format=")
    return fmt_


def save(root_or_graph: Value | graphviz.Digraph, path: str | Path, format: str | None = None,
         **options: Any) -> Path:
    """Write a graph to ``path``; the extension (.svg, .png, .pdf, .dot, .html) picks the format.

    ``root_or_graph`` is a Value (drawn with :func:`draw_graph` and ``options``) or a graph that
    :func:`draw_graph` returned. ``format`` overrides the extension. A .dot file needs no Graphviz;
    .html is a self-contained page to pan and zoom the drawing in a browser (no network needed).
    Returns the path written; the file is replaced whole or not at all.

    >>> import tempfile, os
    >>> from microgradx import Value
    >>> path = save(Value(1.0, label="x") * 2, os.path.join(tempfile.mkdtemp(), "g.dot"))
    >>> path.read_text().startswith("digraph")
    True
    """
    path = Path(path)
    fmt_ = _file_format(path, format)
    if isinstance(root_or_graph, Value):
        graph = draw_graph(root_or_graph, **options)
    elif isinstance(root_or_graph, graphviz.Digraph):
        if options:
            raise TypeError(f"save() got drawing options {sorted(options)} with a graph that is drawn "
                            "already: pass them to draw_graph(), or pass the Value to save()")
        graph = root_or_graph
    else:
        raise TypeError(f"save() needs a Value or a graph from draw_graph(), got {type(root_or_graph).__name__}")
    if fmt_ == "dot":
        data = graph.source.encode("utf-8")
    elif fmt_ == "html":
        if not isinstance(graph, Graph):  # a plain graphviz.Digraph: give it the page too
            graph = Graph(body=graph.body, graph_attr=graph.graph_attr, node_attr=graph.node_attr,
                          edge_attr=graph.edge_attr, name=graph.name)
        data = graph.page().encode("utf-8")
    else:
        try:
            data = graph.pipe(format=fmt_)
        except graphviz.ExecutableNotFound as error:  # a plain graphviz.Digraph says less
            raise error if isinstance(error, GraphvizNotFound) else GraphvizNotFound() from error
    return write_atomic(path, data)
