"""The main job: train a small model with the engine and write what it learned.

This first version fits a single tanh neuron to a toy rule with plain gradient descent and writes
the final graph as Graphviz DOT text. The neural-network and visualizer modules replace it with the
two-moons MLP, its rendered graph and its plots.
"""

from __future__ import annotations

import random
from pathlib import Path

from .engine import Value


def run_demo(out: str | Path, seed: int = 0) -> Path:
    """Train, then write ``neuron.dot`` and ``loss.txt`` into ``out``; returns the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    w1, w2, b = (Value(rng.uniform(-1, 1), label=name) for name in ("w1", "w2", "b"))
    points = [(rng.uniform(-1, 1), rng.uniform(-1, 1)) for _ in range(32)]
    targets = [1.0 if x1 + x2 > 0 else -1.0 for x1, x2 in points]
    losses = []
    for _ in range(100):
        loss = sum(((w1 * x1 + w2 * x2 + b).tanh() - t) ** 2 for (x1, x2), t in zip(points, targets)) / len(points)
        for p in (w1, w2, b):
            p.grad = 0.0
        loss.backward()
        for p in (w1, w2, b):
            p.data -= 0.5 * p.grad
        losses.append(loss.data)
    (out / "loss.txt").write_text("\n".join(f"{step}\t{value:.6f}" for step, value in enumerate(losses)) + "\n")
    print(f"trained a tanh neuron: loss {losses[0]:.4f} -> {losses[-1]:.4f}; outputs in {out}")
    return out
