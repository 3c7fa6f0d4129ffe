"""The main job: micrograd's two-moons demo, trained with microgradx, and what it learned, drawn.
``microgradx demo --dataset digits`` does the same on real data: see :func:`run_digits_demo`.

``python -m microgradx demo --out out/demo`` (or ``python3 scripts/dev.py demo``) trains
``MLP(2, [16, 16, 1])`` on 100 noisy two-moons points with the hinge loss, 1e-4 L2 and SGD whose
learning rate falls from 1.0 to 0.1 over 100 steps, then writes into the output folder:

- ``model.json``: the trained weights (``microgradx.load`` reads them back);
- ``history.csv``: loss and accuracy per step;
- ``decision_boundary.png`` and ``training.png``: the learned regions and the training curves
  (needs matplotlib, the ``plot`` extra);
- ``batch.svg``: the first training step's graph, the whole batch of 100 folded into one picture
  with a box per layer, coloured by |grad| (the README's ``draw_graph(loss, collapse="layer",
  heatmap=True)``), and ``grad_flow.png``: the same step's mean and largest |grad| per layer
  (``plot_grad_flow``, needs matplotlib);
- ``neuron.svg``: the computation graph of one neuron on one input, coloured by gradient;
- ``mlp.svg``: the trained network on one input, each neuron drawn as one node, coloured by gradient;
- ``backprop.html``: the backward pass of a small expression, one frame per step.

Every picture fits a 1280-pixel-wide screen with its text at least 12 px high.
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

    from .viz import Graph


def run_demo(out: str | Path, seed: int = 0, steps: int = 100, progress: bool = True) -> Path:
    """Train the two-moons MLP and write its weights, curves, plots and graphs into ``out``.

    Returns the output folder. Everything is seeded, so the same seed gives the same files.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X, labels = make_moons(100, noise=0.1, seed=seed)
    y = 2 * labels - 1  # the hinge loss wants -1 / +1
    model = MLP(2, [16, 16, 1], seed=seed)
    first_step = _first_step(model, X, y, out)  # drawn before training: step 1's gradients
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=steps)
    history = fit(model, X, y, loss="hinge", l2=1e-4, optimizer=optimizer, schedule=schedule,
                  epochs=steps, progress=progress)
    save(model, out / "model.json")
    written = [out / "model.json", _write_history(history, out / "history.csv")]
    written += _plots(model, X, labels, history, out)
    written += first_step
    written += _graphs(model, X, out)
    print(f"trained MLP(2, [16, 16, 1]) on two moons: {history}")
    for path in written:
        print(f"  wrote {path}")
    return out


def _write_history(history: History, path: Path) -> Path:
    rows = ["epoch,loss,accuracy"]
    rows += [f"{i},{loss:.10g},{acc:.6g}" for i, (loss, acc) in enumerate(zip(history.loss, history.accuracy))]
    return write_atomic(path, "\n".join(rows) + "\n")


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
    return write_atomic(path, png.getvalue())


SCREEN_PX = 1280  # the pictures' widest: a laptop screen (CSS pixels)


def _fit_screen(graph: Graph) -> Graph:
    """Scale a drawing wider than the screen down to its width, with Graphviz's own ``size`` (inches,
    72 points each; a CSS pixel is 3/4 of a point); narrower drawings keep their size. The smallest
    text, op names and edge labels of 11 pt (14.7 px at natural size), stays at least 12 px high for
    drawings up to 1,565 px wide (the demo's widest, one neuron, is 1,476 px)."""
    graph.graph_attr["size"] = f"{SCREEN_PX * 0.75 / 72:.3f},1000"
    return graph


def _first_step(model: MLP, X: np.ndarray, y: np.ndarray, out: Path) -> list[Path]:
    """The README's picture of a model on a batch: the first training step's loss (hinge + 1e-4 L2,
    as ``fit`` computes it) on all 100 points, folded by layer and coloured by |grad|, and its
    gradient flow per layer. Leaves the gradients at zero, for training."""
    from . import viz
    from .losses import hinge, l2

    loss = hinge([_output(model, [Value(float(v)) for v in x]) for x in X], y) + 1e-4 * l2(model.parameters())
    loss.label = "loss"
    model.zero_grad()
    loss.backward()
    written = [Path(viz.save(_fit_screen(viz.draw_graph(loss, collapse="layer", heatmap=True)), out / "batch.svg"))]
    try:
        from .plots import plot_grad_flow
        flow = plot_grad_flow(model)
    except ImportError:  # _plots says so
        pass
    else:
        flow.ax.set_title("Gradient flow at the first training step")
        written.append(_save_png(flow.figure, out / "grad_flow.png"))
    model.zero_grad()
    return written


def _graphs(model: MLP, X: np.ndarray, out: Path) -> list[Path]:
    """Draw one neuron, the whole network (collapsed by neuron) and a backward-pass animation."""
    from . import viz
    from .animate import animate_backward

    point = [Value(float(v), label=f"x{i}") for i, v in enumerate(X[0])]
    neuron = model.layers[0].neurons[0]
    score = neuron(point)
    model.zero_grad()
    score.backward()
    neuron_svg = viz.save(_fit_screen(viz.draw_graph(score, heatmap=True)), out / "neuron.svg")

    output = _output(model, point)
    model.zero_grad()
    output.backward()
    mlp_svg = viz.save(_fit_screen(viz.draw_graph(output, collapse="neuron", heatmap=True)), out / "mlp.svg")

    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    y: Any = (x * w + b).tanh()
    y.label = "y"
    animate_backward(y, out / "backprop.html")
    return [Path(neuron_svg), Path(mlp_svg), out / "backprop.html"]


# -- the same job on real data: handwritten digits, through the compiled path --------------------------


def run_digits_demo(out: str | Path, seed: int = 0, epochs: int = 30, progress: bool = True) -> Path:
    """Train ``MLP(64, [32, 10])`` on the UCI handwritten digits and write what it learned into ``out``.

    The 1,797 images (pixels scaled from 0-16 to 0-1) are split 80/20 with ``seed``; the model
    trains on the 1,437 training images with cross-entropy and Adam (lr 0.01, batches of 64, 30 epochs),
    through :func:`microgradx.compile`, and is scored on the 360 it never saw. Writes
    ``model.json``, ``history.csv`` (loss and training accuracy per epoch),
    ``confusion_matrix.csv`` and, with matplotlib, ``loss_curve.png``, ``confusion_matrix.png`` and
    ``misclassified.png`` (the held-out digits it got wrong). Returns the output folder.
    """
    from .data import load_digits, train_test_split
    from .optim import Adam
    from .train import evaluate

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.2, seed=seed)
    model = MLP(64, [32, 10], seed=seed)
    optimizer = Adam(model.parameters(), lr=0.01)
    history = fit(model, X_train, y_train, loss="cross_entropy", optimizer=optimizer, epochs=epochs,
                  batch_size=64, seed=seed, progress=progress, compile=True)
    test_loss, test_accuracy = evaluate(model, X_test, y_test, loss="cross_entropy", compile=True)
    assert test_accuracy is not None
    predicted = _predict_classes(model, X_test)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y_test, predicted), 1)
    save(model, out / "model.json")
    written = [out / "model.json", _write_history(history, out / "history.csv"),
               _write_confusion(confusion, out / "confusion_matrix.csv")]
    written += _digit_plots(history, confusion, X_test, y_test, predicted, out)
    right = int(np.trace(confusion))
    print(f"trained MLP(64, [32, 10]) on {len(X_train)} handwritten digits: {history}")
    print(f"test accuracy {test_accuracy:.1%} ({right} of {len(y_test)} held-out digits), test loss {test_loss:.4f}")
    for path in written:
        print(f"  wrote {path}")
    return out


def _predict_classes(model: MLP, X: np.ndarray) -> np.ndarray:
    from .compiler import compile

    return np.asarray(compile(model).forward(X).argmax(axis=1))


def _write_confusion(confusion: np.ndarray, path: Path) -> Path:
    rows = ["true\\predicted," + ",".join(str(k) for k in range(10))]
    rows += [f"{k}," + ",".join(str(int(c)) for c in row) for k, row in enumerate(confusion)]
    return write_atomic(path, "\n".join(rows) + "\n")


def _write_png(fig: Any, path: Path) -> Path:
    """Render a matplotlib figure to PNG bytes, then write them all or nothing."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    return write_atomic(path, buffer.getvalue())


def _digit_plots(history: History, confusion: np.ndarray, X: np.ndarray, y: np.ndarray, predicted: np.ndarray,
                 out: Path) -> list[Path]:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("  (matplotlib is not installed, so no plots: pip install 'microgradx[plot]')")
        return []
    fig = Figure(figsize=(8, 3))
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(history.step_loss, color="#d62728", linewidth=0.8, label="each step")
    steps_per_epoch = len(history.step_loss) / max(len(history.loss), 1)
    epoch_ends = (np.arange(len(history.loss)) + 1) * steps_per_epoch
    loss_ax.plot(epoch_ends, history.loss, color="#111111", marker="o", markersize=3, label="epoch mean")
    loss_ax.set(title="cross-entropy loss", xlabel="step", yscale="log")
    loss_ax.legend(frameon=False)
    acc_ax.plot(np.arange(1, len(history.accuracy) + 1), np.asarray(history.accuracy) * 100, color="#1f77b4")
    acc_ax.set(title="training accuracy (%)", xlabel="epoch", ylim=(0, 101))
    fig.tight_layout()
    curve = _write_png(fig, out / "loss_curve.png")

    fig = Figure(figsize=(5.2, 4.6))
    ax = fig.subplots()
    ax.imshow(confusion, cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        if i == j:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=10,
                    color="white" if count > confusion.max() / 2 else "black")
        elif count:  # the mistakes, the reason to look: in red
            ax.text(j, i, str(count), ha="center", va="center", fontsize=10, color="#b91c1c", fontweight="bold")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit", ylabel="true digit",
           title=f"held-out digits: {int(np.trace(confusion))} of {int(confusion.sum())} right")
    matrix = _write_png(fig, out / "confusion_matrix.png")

    wrong = np.flatnonzero(predicted != y)[:24]
    columns = 8
    rows = max(1, -(-len(wrong) // columns))
    fig = Figure(figsize=(columns * 1.1, rows * 1.35 + 0.4))
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, wrong):
        ax.imshow(X[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{y[i]} as {predicted[i]}", fontsize=9, color="#b91c1c")
    fig.suptitle(f"misclassified held-out digits ({len(np.flatnonzero(predicted != y))}): true as predicted")
    mistakes = _write_png(fig, out / "misclassified.png")
    return [curve, matrix, mistakes]
