"""Training-step benchmark: micrograd's moons demo, microgradx against micrograd 0.1.0.

Both train MLP(2, [16, 16, 1]) on the same 100 moons (noise 0.1) with the demo's step: hinge loss
plus 1e-4 L2 over the whole set, backward, SGD with the learning rate going 1.0 -> 0.1 over 100
steps. Same data, same seed, hence the same initial weights (the script checks), in one process,
with the garbage collector on. It prints seconds per step, the speed-up, and how far apart the two
loss curves are (they compute the same thing, so only rounding should separate them). micrograd is
installed only for this: ``pip install micrograd==0.1.0``.

    python benchmarks/bench_moons.py --steps 10
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from microgradx import losses
from microgradx.data import make_moons
from microgradx.nn import MLP
from microgradx.optim import SGD, LinearLR

Rows = list[list[float]]


def microgradx_trainer(X: Rows, y: list[int], seed: int) -> tuple[Callable[[], float], list[float]]:
    """One training step of the demo with microgradx, as a user writes it; and the initial weights."""
    model = MLP(2, [16, 16, 1], seed=seed)
    params = model.parameters()
    optimizer = SGD(params, lr=1.0)
    schedule = LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=100)

    def step() -> float:
        loss = losses.hinge([model(x) for x in X], y) + 1e-4 * losses.l2(params)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        return loss.data

    return step, [p.data for p in params]


def micrograd_trainer(X: Rows, y: list[int], seed: int) -> tuple[Callable[[], float], list[float]]:
    """The same step, written as micrograd's demo notebook writes it."""
    from micrograd.engine import Value
    from micrograd.nn import MLP as MicroMLP

    random.seed(seed)
    model = MicroMLP(2, [16, 16, 1])
    k = 0

    def step() -> float:
        nonlocal k
        inputs = [list(map(Value, row)) for row in X]
        scores = list(map(model, inputs))
        data_loss = sum((1 + -yi * si).relu() for yi, si in zip(y, scores)) * (1.0 / len(scores))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        loss = data_loss + reg_loss
        model.zero_grad()
        loss.backward()
        lr = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= lr * p.grad
        k += 1
        return float(loss.data)

    return step, [p.data for p in model.parameters()]


def measure(name: str, step: Callable[[], float], steps: int) -> dict[str, Any]:
    gc.collect()
    times, curve = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        curve.append(step())
        times.append(time.perf_counter() - t0)
    mean = statistics.mean(times)
    print(f"{name:>11}: {mean:7.4f} s/step (mean of {steps}; best {min(times):.4f} s)  "
          f"loss {curve[0]:.6f} -> {curve[-1]:.6f}")
    return {"mean": mean, "best": min(times), "curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="training steps per engine (micrograd: ~1 s each)")
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args()
    X_array, y_array = make_moons(100, noise=0.1, seed=args.seed)
    X, y = X_array.tolist(), (2 * y_array - 1).tolist()
    print(f"moons demo: MLP(2, [16, 16, 1]), 100 points, hinge + 1e-4 L2, SGD; {args.steps} steps, gc enabled")

    ours_step, ours_init = microgradx_trainer(X, y, args.seed)
    ours = measure("microgradx", ours_step, args.steps)
    try:
        import micrograd  # noqa: F401
    except ImportError:
        print("micrograd is not installed: pip install micrograd==0.1.0 to compare")
        return
    sys.setrecursionlimit(10_000)  # micrograd's topological sort is recursive
    theirs_step, theirs_init = micrograd_trainer(X, y, args.seed)
    assert theirs_init == ours_init, "the two networks should start from the same weights"
    theirs = measure("micrograd", theirs_step, args.steps)
    gap = max(abs(a - b) for a, b in zip(ours["curve"], theirs["curve"]))
    print(f"speed-up per step: {theirs['mean'] / ours['mean']:.1f}x (best vs best: "
          f"{theirs['best'] / ours['best']:.1f}x); same initial weights; loss curves differ by at most {gap:.1e}")


if __name__ == "__main__":
    main()
