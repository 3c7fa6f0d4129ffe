"""The main job: micrograd's two-moons demo, trained with microgradx, and what it learned, drawn.

``python -m microgradx demo --out out/demo`` (or ``python3 scripts/dev.py demo``) trains
``MLP(2, [16, 16, 1])`` on 100 noisy two-moons points with the hinge loss, 1e-4 L2 and SGD whose
learning rate falls from 1.0 to 0.1 over 100 steps, then writes into the output folder:

- ``model.json``: the trained weights (``microgradx.load`` reads them back);
- ``history.csv``: loss and accuracy per step;
- ``decision_boundary.png`` and ``training.png``: the learned regions and the training curves
  (needs matplotlib, the ``plot`` extra);
- ``neuron.svg``: the computation graph of one neuron on one input, coloured by gradient;
- ``mlp.svg``: the whole network on one input, each neuron drawn as one node;
- ``backprop.html``: the backward pass of a small expression, one frame per step.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._files import write_atomic
from .data import make_moons
from .engine import Value, no_grad
from .nn import MLP
from .optim import SGD, LinearLR
from .serialization import save
from .train import History, fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def run_demo(out: str | Path, seed: int = 0, steps: int = 100, progress: bool = True) -> Path:
    """Train the two-moons MLP and write its weights, curves, plots and graphs into ``out``.

    Returns the output folder. Everything is seeded, so the same seed gives the same files.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X, labels = make_moons(100, noise=0.1, seed=seed)
    y = 2 * labels - 1  # the hinge loss wants -1 / +1
    model = MLP(2, [16, 16, 1], seed=seed)
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=steps)
    history = fit(model, X, y, loss="hinge", l2=1e-4, optimizer=optimizer, schedule=schedule,
                  epochs=steps, progress=progress)
    save(model, out / "model.json")
    written = [out / "model.json", _write_history(history, out / "history.csv")]
    written += _plots(model, X, labels, history, out)
    written += _graphs(model, X, out)
    print(f"trained MLP(2, [16, 16, 1]) on two moons: {history}")
    for path in written:
        print(f"  wrote {path}")
    return out


def _write_history(history: History, path: Path) -> Path:
    rows = ["epoch,loss,accuracy"]
    rows += [f"{i},{loss:.10g},{acc:.6g}" for i, (loss, acc) in enumerate(zip(history.loss, history.accuracy))]
    return write_atomic(path, "\n".join(rows) + "\n", who="demo")


def _predict_grid(model: MLP, X: np.ndarray, n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's score on an n x n grid around the data (no graph is built)."""
    (x0, x1), (y0, y1) = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    xx, yy = np.meshgrid(np.linspace(x0, y0, n), np.linspace(x1, y1, n))
    with no_grad():
        scores = np.array([_score(model, [a, b]) for a, b in zip(xx.ravel(), yy.ravel())])
    return xx, yy, scores.reshape(xx.shape)


def _output(model: MLP, x: list[Any]) -> Value:
    """The model's single output (the demo's MLP ends in one unit)."""
    out = model(x)
    assert isinstance(out, Value)
    return out


def _score(model: MLP, x: list[float]) -> float:
    return _output(model, x).data


def _plots(model: MLP, X: np.ndarray, labels: np.ndarray, history: History, out: Path) -> list[Path]:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("  (matplotlib is not installed, so no plots: pip install 'microgradx[plot]')")
        return []
    xx, yy, scores = _predict_grid(model, X)
    fig = Figure(figsize=(5, 4.5))
    ax = fig.subplots()
    ax.contourf(xx, yy, scores > 0, levels=1, colors=["#f4c7c3", "#c6dbef"], alpha=0.8)
    ax.contour(xx, yy, scores, levels=[0.0], colors="#444444", linewidths=1)
    ax.scatter(X[:, 0], X[:, 1], c=np.where(labels > 0, "#1f77b4", "#d62728"), s=18, edgecolors="white",
               linewidths=0.5)
    ax.set_title("MLP(2, [16, 16, 1]) on two moons: decision boundary")
    boundary = _save_png(fig, out / "decision_boundary.png", bbox_inches="tight")

    fig = Figure(figsize=(7, 3))
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(history.loss, color="#d62728")
    loss_ax.set(title="loss (hinge + L2)", xlabel="step", yscale="log")
    acc_ax.plot(np.asarray(history.accuracy) * 100, color="#1f77b4")
    acc_ax.set(title="training accuracy (%)", xlabel="step", ylim=(0, 101))
    fig.tight_layout()
    curves = _save_png(fig, out / "training.png")
    return [boundary, curves]


def _save_png(fig: Figure, path: Path, **options: Any) -> Path:
    """Render the figure to PNG bytes in memory, then write them whole (a failed render touches no file)."""
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=120, **options)
    return write_atomic(path, png.getvalue(), who="demo")


def _graphs(model: MLP, X: np.ndarray, out: Path) -> list[Path]:
    """Draw one neuron, the whole network (collapsed by neuron) and a backward-pass animation."""
    from . import viz
    from .animate import animate_backward

    point = [Value(float(v), label=f"x{i}") for i, v in enumerate(X[0])]
    neuron = model.layers[0].neurons[0]
    score = neuron(point)
    model.zero_grad()
    score.backward()
    neuron_svg = viz.save(viz.draw_graph(score, heatmap=True), out / "neuron.svg")

    output = _output(model, point)
    model.zero_grad()
    output.backward()
    mlp_svg = viz.save(viz.draw_graph(output, collapse="neuron"), out / "mlp.svg")

    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    y: Any = (x * w + b).tanh()
    y.label = "y"
    animate_backward(y, out / "backprop.html")
    return [Path(neuron_svg), Path(mlp_svg), out / "backprop.html"]
