"""Gradient flow: how large the gradients are, layer by layer, the standard picture of vanishing and
exploding gradients.

After ``loss.backward()``, :func:`grad_flow` sums up each layer's parameter gradients as the mean and
the largest |grad| (a table that prints as text), and :func:`plot_grad_flow` draws them as bars on a
log axis, one pair per layer from the input to the output. Gradients that shrink by orders of
magnitude towards the input are vanishing (deep sigmoid or tanh networks, Glorot & Bengio 2010);
gradients that grow are exploding. The plot needs matplotlib (the ``plot`` extra), imported only when
a plot is drawn, so ``import microgradx`` never needs it.

>>> from microgradx.nn import MLP
>>> model = MLP(2, [3, 1], seed=0)
>>> model([1.0, -1.0]).backward()
>>> flow = grad_flow(model)
>>> [row.layer for row in flow.rows], [row.parameters for row in flow.rows]
(['layers.0', 'layers.1'], [9, 4])
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from .engine import Value
from .fold import natural_key

__all__ = ["GradFlow", "LayerGradients", "grad_flow", "plot_grad_flow"]

_LAYER = re.compile(r"(?:.*\.)?layers\.\d+")  # nn's names: layers.0.neurons.3.w.1 belongs to layers.0


class LayerGradients(NamedTuple):
    """One layer's gradients: its name, how many parameters it has, and the mean and largest |grad|."""

    layer: str
    parameters: int
    mean: float
    max: float


class GradFlow:
    """The gradients of a model, layer by layer (``rows``, from the input to the output).

    ``str()`` gives the table; in Jupyter it shows the plot when one was drawn (``figure``), else the
    table. ``figure`` and ``ax`` are matplotlib's, for saving or changing the plot.
    """

    def __init__(self, rows: list[LayerGradients], figure: Any = None, ax: Any = None) -> None:
        self.rows = rows
        self.figure = figure
        self.ax = ax

    def table(self) -> str:
        """The figures as a small text table (what ``str()`` and ``print()`` show).

        >>> print(GradFlow([LayerGradients("layers.0", 9, 0.0125, 0.5)]).table())
        layer     parameters  mean |grad|  max |grad|
        layers.0  9           0.0125       0.5
        """
        header = ("layer", "parameters", "mean |grad|", "max |grad|")
        lines = [header] + [(r.layer, str(r.parameters), f"{r.mean:.3g}", f"{r.max:.3g}") for r in self.rows]
        widths = [max(len(line[i]) for line in lines) for i in range(4)]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": self.table()}
        if self.figure is not None:
            import base64
            import io

            buffer = io.BytesIO()
            self.figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
            bundle["image/png"] = base64.b64encode(buffer.getvalue()).decode("ascii")
        return bundle


def _layer_of(name: str) -> str:
    """The layer a parameter belongs to, from its dotted name: ``layers.0`` for nn's names, else the
    name without its last part (``w.1`` belongs to ``w``), or the name itself."""
    match = _LAYER.match(name)
    if match:
        return match.group()
    return name.rsplit(".", 1)[0] if "." in name else name


def grad_flow(model: Any) -> GradFlow:
    """The mean and largest |grad| of each layer's parameters, from the input to the output.

    ``model`` is an ``nn`` Module (its ``named_parameters()``), or ``(name, Value)`` pairs. Layers are
    named as nn names them (``layers.0``) and come in numeric order. Call it after ``backward()``.
    Raises TypeError for anything else, ValueError for a model without parameters.

    >>> from microgradx import Value
    >>> w, b = Value(1.0), Value(2.0)
    >>> w.grad, b.grad = 0.5, -0.25
    >>> grad_flow([("layers.0.neurons.0.w.0", w), ("layers.0.neurons.0.b", b)]).rows
    [LayerGradients(layer='layers.0', parameters=2, mean=0.375, max=0.5)]
    """
    named = _named_parameters(model)
    layers: dict[str, list[float]] = {}
    for name, p in named:
        g = p.grad
        g = g if type(g) is float else float(getattr(g, "data", g or 0.0))  # a Value after create_graph=True
        layers.setdefault(_layer_of(name), []).append(abs(g))
    rows = [LayerGradients(layer, len(mags), math.fsum(mags) / len(mags), _largest(mags))
            for layer, mags in sorted(layers.items(), key=lambda item: natural_key(item[0]))]
    return GradFlow(rows)


def _largest(magnitudes: list[float]) -> float:
    """The largest |grad|, a nan above every number (``max`` would keep or drop it by position)."""
    return max(magnitudes, key=lambda m: m if m == m else math.inf)


def _named_parameters(model: Any) -> list[tuple[str, Value]]:
    if hasattr(model, "named_parameters"):
        named = list(model.named_parameters())
    elif isinstance(model, Iterable) and not isinstance(model, (str, bytes)):
        named = list(model)
    else:
        raise TypeError(f"grad_flow() needs a model (an nn Module) or (name, Value) pairs, got {type(model).__name__}")
    if not named:
        raise ValueError("grad_flow(): the model has no parameters, so there is no gradient to show")
    for item in named:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], Value)):
            raise TypeError(f"grad_flow() needs (name, Value) pairs, such as model.named_parameters(); got {item!r}")
    return named


def plot_grad_flow(model: Any, ax: Any = None) -> GradFlow:
    """Draw the mean and largest |grad| of each layer as bars on a log axis (needs matplotlib).

    ``model`` as for :func:`grad_flow`; ``ax`` is a matplotlib Axes to draw into (a new figure of
    its own by default). Returns the :class:`GradFlow`: its ``figure`` and ``ax``, and the same
    figures as a table (``print(flow)``). A gradient of exactly 0 cannot sit on a log axis: its bar
    is drawn down to the bottom of the axis, hatched, and labelled 0. Raises ImportError naming the
    ``plot`` extra when matplotlib is missing.

    >>> from microgradx.nn import MLP
    >>> model = MLP(2, [4, 4, 1], activation="tanh", seed=0)
    >>> model([0.5, -1.0]).backward()
    >>> flow = plot_grad_flow(model)
    >>> flow.ax.get_yscale(), len(flow.rows)
    ('log', 3)
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plot_grad_flow() needs matplotlib: pip install 'microgradx[plot]' (or pip install "
                          "matplotlib); grad_flow(model) gives the same figures as a table without it") from None
    flow = grad_flow(model)
    if ax is None:
        figure = Figure(figsize=(max(4.0, 1.1 * len(flow.rows) + 2.0), 3.6), layout="constrained")
        ax = figure.add_subplot()
    else:
        figure = ax.figure
    finite = [v for row in flow.rows for v in (row.mean, row.max) if 0 < v < math.inf]
    floor = 10 ** math.floor(math.log10(min(finite))) / 10 if finite else 1e-3  # where a 0 bar ends
    top = 10 ** math.ceil(math.log10(max(finite))) if finite else 1.0
    x = list(range(len(flow.rows)))
    width = 0.38
    for offset, key, color, label in ((-width / 2, "max", "#fdae6b", "max |grad|"),
                                      (width / 2, "mean", "#d94801", "mean |grad|")):
        values = [getattr(row, key) for row in flow.rows]
        shown = [v if 0 < v < math.inf else (top if v == math.inf else floor) for v in values]
        bars = ax.bar([i + offset for i in x], [s - floor for s in shown], width, bottom=floor, color=color,
                      label=label, edgecolor="#7f2704", linewidth=0.6)
        for bar, v in zip(bars, values):
            if not 0 < v < math.inf:  # 0, inf or nan: off the log scale, said in words
                bar.set_hatch("//")
                ax.annotate("0" if v == 0 else str(v), (bar.get_x() + bar.get_width() / 2, floor),
                            xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylim(floor, top * 1.5)
    ax.set_xticks(x, [f"{row.layer}\n{row.parameters} params" for row in flow.rows])
    ax.set_xlabel("layer (input → output)")
    ax.set_ylabel("|grad| (log scale)")
    ax.set_title("Gradient flow: |grad| of each layer's parameters")
    ax.grid(axis="y", which="major", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.legend(loc="best", frameon=False)
    if not finite:
        ax.text(0.5, 0.5, "every gradient is 0: call backward() first", transform=ax.transAxes, ha="center")
    flow.figure, flow.ax = figure, ax
    return flow
