"""The backward pass, step by step: a standalone web page with one SVG frame per step.

:func:`backward_steps` replays what ``backward()`` does, one node at a time, in the same reverse
topological order: the node's gradient is complete, so it multiplies it by the local derivative of
each input (the op's rule from :mod:`microgradx.ops`) and adds the product to that input's
gradient. :func:`animate_backward` draws the graph after each step (the node passing its gradient
highlighted, its inputs marked, unknown gradients shown as ``?`` and partial sums in italics) and
writes all frames into one HTML file with play and step controls. The file needs no network: its
SVG, style and script are all inline. In Jupyter the returned :class:`Animation` shows itself.

>>> from microgradx import Value
>>> x = Value(3.0, label="x")
>>> steps = backward_steps(x * x + 1)
>>> [s.node._op.name for s in steps], steps[-1].grads[x]
(['+', '*'], 6.0)
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import NamedTuple

from . import viz
from ._checks import whole_number
from ._files import write_atomic
from .engine import Value, grad
from .viz import Graph, fmt, html_text

__all__ = ["MAX_NODES", "Animation", "Step", "animate_backward", "backward_steps"]

MAX_NODES = 150  # one SVG per step: the page grows with nodes x steps
CURRENT = "#facc15"  # the node passing its gradient back, and its op
RECEIVING = "#fde68a"  # its inputs, which receive a contribution
FLOW = "#b45309"  # the edges the gradient flows back along


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


def backward_steps(root: Value) -> list[Step]:
    """The backward pass from ``root``, one :class:`Step` per op node, without touching ``.grad``.

    Each step keeps its own copy of the gradients, so this is meant for the small graphs one
    animates, not for training.

    >>> from microgradx import Value
    >>> a, b = Value(2.0, label="a"), Value(-1.0, label="b")
    >>> steps = backward_steps(a * b)
    >>> len(steps), steps[0].partials, steps[0].grads[a]
    (1, (-1.0, 2.0), -1.0)
    """
    nodes, edges = viz.trace(root)
    grad(root, nodes)  # the engine's own pass first: its errors name the op that fails
    uses = dict.fromkeys(nodes, 0)  # how many contributions each gradient still waits for
    for parent, _ in edges:
        uses[parent] += 1
    grads: dict[Value, float] = {root: 1.0}
    final = {root}
    steps = []
    for node in reversed(nodes):  # reverse topological: every consumer before the node it uses
        if not node._prev:
            continue
        parents = node._prev
        partials = tuple(node._op.derivative(*[p.data for p in parents], node.data))
        for parent, partial in zip(parents, partials):  # the chain rule, as in the engine
            grads[parent] = grads.get(parent, 0.0) + partial * grads[node]
            uses[parent] -= 1
            if uses[parent] == 0:
                final.add(parent)
        steps.append(Step(node, dict(grads), frozenset(final), partials))
    return steps


class Animation:
    """A backward-pass animation: the page as ``html``, its number of ``frames``.

    ``save(path)`` writes the page (``path`` then says where); in Jupyter the object displays
    itself inline, in an iframe, so its script and ids cannot clash with the notebook's.

    >>> Animation("<!DOCTYPE html><title>one step</title>", frames=1, height=300)
    <Animation of the backward pass: 1 frame>
    """

    def __init__(self, page: str, frames: int, height: int) -> None:
        self.html = page
        self.frames = frames
        self.height = height
        self.path: Path | None = None

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (UTF-8) and return the path."""
        self.path = write_atomic(path, self.html, who="Animation.save()")
        return self.path

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" sandbox="allow-scripts" '
                f'style="width:100%;height:{self.height}px;border:0" title="backward pass"></iframe>')

    def __repr__(self) -> str:
        where = f", saved to {str(self.path)!r}" if self.path else ""
        frames = f"{self.frames} frame" + ("" if self.frames == 1 else "s")
        return f"<Animation of the backward pass: {frames}{where}>"


def animate_backward(
    root: Value, path: str | Path | None = None, *, rankdir: str = "LR", interval_ms: int = 1200,
    max_nodes: int = MAX_NODES,
) -> Animation:
    """Animate the backward pass from ``root``: one SVG frame per step, with play/step controls.

    Writes the page to ``path`` when given; returns the :class:`Animation` (shown inline in
    Jupyter). ``interval_ms`` is the time per frame when playing. The graph is laid out once per
    frame with the same node sizes, so nothing moves between frames but the highlight and the
    numbers. ``.grad`` is left as it was.

    >>> from microgradx import Value
    >>> x = Value(0.5, label="x")
    >>> animate_backward((2 * x).tanh()).frames
    2
    """
    viz.check_rankdir(rankdir)
    whole_number(interval_ms, "interval_ms (milliseconds per frame)")
    whole_number(max_nodes, "max_nodes")
    nodes, _ = viz.trace(root)
    drawn = viz.drawn_node_count(nodes)
    if drawn > max_nodes:
        raise viz.GraphTooLarge(f"the graph has {drawn} nodes, more than max_nodes={max_nodes} for an animation "
                                "(one drawing per backward step): animate a smaller piece, such as one neuron on "
                                "one example, or raise max_nodes=")
    steps = backward_steps(root)
    if not steps:
        raise ValueError("nothing to animate: the root is a leaf (a Value no op made), so backward has no steps; "
                         "pass the output of a computation")
    frames, height = _frames(steps, nodes, rankdir)
    title = root.label or (root._op.name if root._op else "")
    animation = Animation(_page(frames, title, interval_ms), len(frames), height=min(height + 190, 900))
    if path is not None:
        animation.save(path)
    return animation


def _frames(steps: list[Step], nodes: list[Value], rankdir: str) -> tuple[list[str], int]:
    """Each step drawn as inline SVG in its ``<div class="frame">``, and the tallest frame's height in pixels."""
    index = {v: i for i, v in enumerate(nodes)}
    texts = [[_grad_text(v, step)[0] for v in nodes] for step in steps]
    # Each grad cell is as wide as its widest text in any frame, so the layout never moves.
    widths = [max(len(t[i]) for t in texts) * 9 + 12 for i in range(len(nodes))]  # < 9 pt per char at 14 pt
    frames, heights = [], []
    for k, step in enumerate(steps):
        svg = _clean_svg(_frame(k, step, nodes, index, widths, rankdir).pipe(format="svg", encoding="utf-8"))
        match = re.search(r'height="([\d.]+)pt"', svg)
        heights.append(float(match.group(1)) * 4 / 3 if match else 400.0)  # points to CSS pixels
        frames.append(f'<div class="frame" id="frame-{k}" data-caption="{html.escape(_caption(k, steps), quote=True)}" '
                      f"hidden>{svg}</div>")
    return frames, int(max(heights))


def _page(frames: list[str], title: str, interval_ms: int) -> str:
    """The standalone page around the frames: title, controls, key and script."""
    fields = {
        "title": html.escape(f"Backward pass of {title}" if title else "Backward pass", quote=False),
        "frames": "\n".join(frames),
        "count": str(len(frames)),
        "last": str(len(frames) - 1),
        "interval": str(interval_ms),
        "current": CURRENT, "receiving": RECEIVING,
    }
    # One pass with a function: text put in (labels in the SVG) is never scanned for {{...}} again,
    # and backslashes in it are not read as regex escapes.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: fields[m.group(1)], _PAGE)


def _grad_text(v: Value, step: Step) -> tuple[str, bool]:
    """What a Value's grad cell shows after ``step``, and whether it is a partial sum."""
    if v not in step.grads:
        return "grad ?", False
    return f"grad {fmt(step.grads[v])}", v not in step.final


def _frame(k: int, step: Step, nodes: list[Value], index: dict[Value, int], widths: list[int],
           rankdir: str) -> Graph:
    """The graph after step ``k``; SVG ids carry the frame number, so frames can share a page."""
    graph = Graph(name=f"step{k}", graph_attr={"rankdir": rankdir, "fontname": viz.FONT, "id": f"f{k}"},
                  node_attr={"fontname": viz.FONT}, edge_attr={"arrowsize": "0.7", "color": "#9ca3af"})
    receiving = set(step.node._prev)
    for v in nodes:
        i = index[v]
        text, partial = _grad_text(v, step)
        cell = f"<I>{html_text(text)}</I>" if partial else html_text(text)
        if text == "grad ?":
            cell = f'<FONT COLOR="#9ca3af">{cell}</FONT>'
        state = "current" if v is step.node else "receiving" if v in receiving else ""
        fill = CURRENT if state == "current" else RECEIVING if state == "receiving" else None
        label = viz.value_table(v.label, [f"data {fmt(v.data)}", cell], fill=fill, widths=[0, widths[i]],
                                color=FLOW if state else "black")  # one border width in all frames: one size
        graph.node(f"v{i}", label, _attributes=viz.VALUE_NODE, id=f"f{k}-v{i}", **{"class": f"value {state}".strip()})
        if v._prev:
            op_style = {"fillcolor": CURRENT, "color": FLOW, "penwidth": "2"} if state == "current" else {}
            graph.node(f"op{i}", viz.op_label(v), _attributes={**viz.OP_NODE, **op_style}, id=f"f{k}-op{i}")
    current_op = f"op{index[step.node]}"
    for e, ((tail, head), count) in enumerate(viz.drawn_edges(nodes, index, {}).items()):
        flowing = {"color": FLOW, "penwidth": "2.5"} if current_op in (tail, head) else {}
        graph.edge(tail, head, label=f"×{count}" if count > 1 else None, id=f"f{k}-e{e}", **flowing)
    return graph


def _name(v: Value) -> str:
    if v.label:
        return v.label
    if v._prev:
        return f"the {v._op.name} result"
    return f"the constant {fmt(v.data)}"


def _caption(k: int, steps: list[Step]) -> str:
    """Step ``k`` in words: which gradient is complete and what it adds to each input."""
    step = steps[k]
    node, g = step.node, step.grads[step.node]
    intro = "The output's gradient is 1 (d out / d out). " if k == 0 else ""
    adds = "; ".join(f"grad({_name(p)}) += {fmt(g)} × {fmt(d)} = {fmt(g * d)}"
                     for p, d in zip(node._prev, step.partials))
    return (f"{intro}Step {k + 1} of {len(steps)}: {_name(node)} has its full gradient {fmt(g)} and passes "
            f"it back through {node._op.name} (gradient × local derivative): {adds}.")  # type: ignore[union-attr]


def _clean_svg(svg: str) -> str:
    """Graphviz's SVG made fit to inline in HTML: no XML prolog, doctype, comments or namespace URLs."""
    svg = re.sub(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->", "", svg, flags=re.S)
    for namespace in (' xmlns="http://www.w3.org/2000/svg"', ' xmlns:xlink="http://www.w3.org/1999/xlink"'):
        svg = svg.replace(namespace, "")  # HTML puts <svg> in the SVG namespace by itself
    return svg.strip()


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<link rel="icon" href="data:,">
<style>
  body { font-family: Helvetica, Arial, sans-serif; margin: 1em; color: #111827; }
  h1 { font-size: 1.2em; margin: 0 0 .5em; }
  #controls { display: flex; gap: .4em; align-items: center; flex-wrap: wrap; }
  #controls button { font-size: 1em; padding: .3em .7em; cursor: pointer; }
  #slider { flex: 1; min-width: 8em; }
  #caption { min-height: 3em; margin: .6em 0; }
  .key { font-size: .85em; color: #4b5563; }
  .swatch { display: inline-block; width: .9em; height: .9em; border: 1px solid #b45309; vertical-align: middle; }
  .frame svg { max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>{{title}}</h1>
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
grad ? = not reached yet &nbsp; <i>italic</i> = partial sum, more to come</p>
{{frames}}
<script>
"use strict";
(function () {
  var frames = Array.prototype.slice.call(document.querySelectorAll(".frame"));
  var play = document.getElementById("play"), slider = document.getElementById("slider");
  var counter = document.getElementById("counter"), caption = document.getElementById("caption");
  var current = 0, timer = null, interval = {{interval}};
  function show(i) {
    i = Math.max(0, Math.min(frames.length - 1, i));
    frames[current].hidden = true;
    frames[i].hidden = false;
    current = i;
    slider.value = String(i);
    counter.textContent = "step " + (i + 1) + " of " + frames.length;
    caption.textContent = frames[i].getAttribute("data-caption");
  }
  function pause() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    play.textContent = "\\u25B6 play";
    play.setAttribute("aria-pressed", "false");
  }
  function start() {
    if (current === frames.length - 1) { show(0); }
    timer = setInterval(function () {
      if (current >= frames.length - 1) { pause(); } else { show(current + 1); }
    }, interval);
    play.textContent = "\\u25AE\\u25AE pause";
    play.setAttribute("aria-pressed", "true");
  }
  function toggle() { if (timer === null) { start(); } else { pause(); } }
  function stepTo(i) { pause(); show(i); }
  play.addEventListener("click", toggle);
  document.getElementById("prev").addEventListener("click", function () { stepTo(current - 1); });
  document.getElementById("next").addEventListener("click", function () { stepTo(current + 1); });
  document.getElementById("first").addEventListener("click", function () { stepTo(0); });
  document.getElementById("last").addEventListener("click", function () { stepTo(frames.length - 1); });
  slider.addEventListener("input", function () { stepTo(Number(slider.value)); });
  document.addEventListener("keydown", function (event) {
    if (event.target === slider) { return; }
    var keys = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: frames.length - 1 };
    if (event.key === " ") { event.preventDefault(); toggle(); }
    else if (event.key in keys) { event.preventDefault(); stepTo(keys[event.key]); }
  });
  show(0);
})();
</script>
</body>
</html>
"""
