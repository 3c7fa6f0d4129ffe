"""Compiled-path benchmark: microgradx.compile against micrograd 0.1.0, the scalar engine, PyTorch and NumPy.

Everything runs in one process, interleaved (each round times every contender once), and the best
round of each is reported, so a noisy moment on a shared machine hits all alike. Printed:

1. micrograd's moons step: MLP(2, [16, 16, 1]), 100 points, hinge loss + 1e-4 L2, backward, one
   SGD step, written as a user writes it, ``loss = compiled(X, y) + 1e-4 * losses.l2(params)``.
   Against micrograd 0.1.0 (its demo notebook's step), microgradx's scalar path, the same step in
   vectorized PyTorch (float64, one thread) and written out by hand in NumPy (the floor).
2. The cross-entropy step of MLP(64, [32, 10]) on the full 1,797 digits (SGD), against PyTorch.
3. Batch sizes 10 to 10,000 (moons points): time per step and per example, scalar and compiled,
   and the time to trace.

Every contender starts from the same weights; the script checks that their losses agree. micrograd
and PyTorch are optional, installed for this only (``pip install micrograd==0.1.0 torch==2.13.0``).

    python benchmarks/bench_compile.py
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable

import numpy as np

import microgradx
from microgradx import losses
from microgradx.data import load_digits, make_moons, one_hot
from microgradx.engine import Value
from microgradx.nn import MLP
from microgradx.optim import SGD

Step = Callable[[], float]


def layer_matrices(model: MLP) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each layer's weights (out x in) and biases, for the vectorized contenders."""
    return [(np.array([[w.data for w in n.w] for n in layer.neurons]), np.array([n.b.data for n in layer.neurons]))
            for layer in model.layers]


def training_step(loss_of_batch: Callable[[], Value], optimizer: SGD) -> Step:
    """One microgradx training step: the loss, its gradients, the update; returns the loss."""

    def step() -> float:
        loss = loss_of_batch()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.data

    return step


# -- the moons step, five ways ------------------------------------------------------------------------


def compiled_moons(X: np.ndarray, y: np.ndarray, seed: int, l2_inside: bool = False) -> tuple[Step, MLP]:
    """The step as the issue writes it, ``compiled(X, y) + 1e-4 * losses.l2(params)``; or with the
    penalty inside the compiled function (its mean over the batch is itself), as ``fit`` does."""
    model = MLP(2, [16, 16, 1], seed=seed)
    params = model.parameters()
    optimizer = SGD(params, lr=0.05)
    if l2_inside:
        hinge = microgradx.compile(lambda x, t: losses.hinge(model(x), t) + 1e-4 * losses.l2(params))
    else:
        hinge = microgradx.compile(lambda x, t: losses.hinge(model(x), t), name="hinge_loss")

    return training_step(lambda: hinge(X, y) if l2_inside else hinge(X, y) + 1e-4 * losses.l2(params),
                         optimizer), model


def scalar_moons(X: np.ndarray, y: np.ndarray, seed: int) -> Step:
    model = MLP(2, [16, 16, 1], seed=seed)
    params = model.parameters()
    optimizer = SGD(params, lr=0.05)
    rows, labels = X.tolist(), y.tolist()

    return training_step(lambda: losses.hinge([model(x) for x in rows], labels) + 1e-4 * losses.l2(params),
                         optimizer)


def micrograd_moons(X: np.ndarray, y: np.ndarray, seed: int) -> Step:
    from micrograd.engine import Value
    from micrograd.nn import MLP as MicroMLP

    random.seed(seed)  # microgradx's uniform init with the same seed draws the same weights
    model = MicroMLP(2, [16, 16, 1])
    rows, labels = X.tolist(), y.tolist()

    def step() -> float:
        inputs = [list(map(Value, row)) for row in rows]
        scores = list(map(model, inputs))
        data_loss = sum((1 + -yi * si).relu() for yi, si in zip(labels, scores)) * (1.0 / len(scores))
        loss = data_loss + 1e-4 * sum(p * p for p in model.parameters())
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad
        return float(loss.data)

    return step


def torch_moons(X: np.ndarray, y: np.ndarray, model: MLP) -> Step:
    import torch

    torch.set_num_threads(1)
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for pair in layer_matrices(model) for a in pair]

    def step() -> float:
        W1, b1, W2, b2, W3, b3 = params
        scores = (torch.relu(torch.relu(Xt @ W1.T + b1) @ W2.T + b2) @ W3.T + b3)[:, 0]
        loss = torch.relu(1 - yt * scores).mean() + 1e-4 * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.05 * p.grad
        return float(loss.item())

    return step


def numpy_moons(X: np.ndarray, y: np.ndarray, model: MLP) -> Step:
    """The same step with the chain rule worked out by hand: the floor of what NumPy can do."""
    params = [a.copy() for pair in layer_matrices(model) for a in pair]
    n = len(X)

    def step() -> float:
        W1, b1, W2, b2, W3, b3 = params
        z1 = X @ W1.T + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ W2.T + b2
        h2 = np.maximum(z2, 0)
        s = (h2 @ W3.T + b3)[:, 0]
        margin = 1 - y * s
        loss = np.maximum(margin, 0).mean() + 1e-4 * sum((p * p).sum() for p in params)
        ds = (-y * (margin > 0) / n)[:, None]
        dz2 = (ds @ W3) * (z2 > 0)
        dz1 = (dz2 @ W2) * (z1 > 0)
        grads = [dz1.T @ X, dz1.sum(0), dz2.T @ h1, dz2.sum(0), ds.T @ h2, ds.sum(0)]
        for p, g in zip(params, grads):
            p -= 0.05 * (g + 2e-4 * p)
        return float(loss)

    return step


# -- the digits step ------------------------------------------------------------------------------


def compiled_digits(X: np.ndarray, Y: np.ndarray, seed: int) -> tuple[Step, MLP]:
    model = MLP(64, [32, 10], seed=seed)
    optimizer = SGD(model.parameters(), lr=0.1)
    loss_fn = microgradx.compile(lambda x, t: losses.cross_entropy(model(x), t), name="cross_entropy")

    return training_step(lambda: loss_fn(X, Y), optimizer), model


def torch_digits(X: np.ndarray, labels: np.ndarray, model: MLP) -> Step:
    import torch

    torch.set_num_threads(1)
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(labels)
    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for pair in layer_matrices(model) for a in pair]

    def step() -> float:
        W1, b1, W2, b2 = params
        loss = torch.nn.functional.cross_entropy(torch.relu(Xt @ W1.T + b1) @ W2.T + b2, yt)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= 0.1 * p.grad
        return float(loss.item())

    return step


# -- timing -----------------------------------------------------------------------------------------


def race(contenders: dict[str, Step], rounds: int, repeats: dict[str, int]) -> dict[str, tuple[float, float]]:
    """Best seconds per step of each contender over ``rounds`` interleaved rounds, and its first loss."""
    first = {name: step() for name, step in contenders.items()}  # warm up (and trace)
    best = {name: float("inf") for name in contenders}
    for _ in range(rounds):
        for name, step in contenders.items():
            k = repeats.get(name, 1)
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(k):
                step()
            best[name] = min(best[name], (time.perf_counter() - t0) / k)
    return {name: (best[name], first[name]) for name in contenders}


def optional(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        print(f"  ({name} is not installed: pip install {'micrograd==0.1.0' if name == 'micrograd' else 'torch'}"
              " to compare)")
        return False
    return True


def report(results: dict[str, tuple[float, float]], reference: str) -> None:
    for name, (seconds, loss) in results.items():
        ratio = results[reference][0] / seconds
        text = f"{ratio:8.1f}x faster" if ratio >= 1 else f"{1 / ratio:8.2f}x slower"
        print(f"  {name:>22}: {seconds * 1e3:10.3f} ms/step  first loss {loss:.10f}  {text} than {reference}"
              if name != reference else f"  {name:>22}: {seconds * 1e3:10.3f} ms/step  first loss {loss:.10f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; the best of each is kept")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--skip-table", action="store_true", help="leave out the batch-size table")
    args = parser.parse_args()
    sys.setrecursionlimit(10_000)  # micrograd's topological sort is recursive

    X, labels = make_moons(100, noise=0.1, seed=args.seed)
    y = 2.0 * labels - 1
    print("1. moons step: MLP(2, [16, 16, 1]), 100 points, hinge + 1e-4 L2, backward, SGD; gc on; "
          f"best of {args.rounds} interleaved rounds")
    compiled_step, model = compiled_moons(X, y, args.seed)
    moons: dict[str, Step] = {"microgradx compiled": compiled_step,
                              "compiled, l2 inside": compiled_moons(X, y, args.seed, l2_inside=True)[0],
                              "microgradx scalar": scalar_moons(X, y, args.seed),
                              "numpy by hand": numpy_moons(X, y, model)}
    if optional("micrograd"):
        moons["micrograd 0.1.0"] = micrograd_moons(X, y, args.seed)
    if optional("torch"):
        moons["pytorch (1 thread)"] = torch_moons(X, y, model)
    results = race(moons, args.rounds, {"microgradx compiled": 50, "compiled, l2 inside": 50, "numpy by hand": 200,
                                        "pytorch (1 thread)": 50})
    report(results, "microgradx compiled")
    losses_seen = [loss for _, loss in results.values()]
    print(f"  the contenders' first losses differ by at most {max(losses_seen) - min(losses_seen):.1e}")
    for ours in ("microgradx compiled", "compiled, l2 inside"):
        for peer in ("micrograd 0.1.0", "pytorch (1 thread)", "numpy by hand", "microgradx scalar"):
            if peer in results:
                mine, theirs = results[ours][0], results[peer][0]
                print(f"  {ours} vs {peer}: " + (f"{theirs / mine:.1f}x faster" if theirs > mine
                                                  else f"{mine / theirs:.2f}x the time"))

    Xd, yd = load_digits()
    Xd = Xd / 16.0
    Yd = one_hot(yd, 10)
    print("\n2. digits step: MLP(64, [32, 10]), all 1,797 images, cross-entropy, backward, SGD")
    digits_step, digits_model = compiled_digits(Xd, Yd, args.seed)
    digits: dict[str, Step] = {"microgradx compiled": digits_step}
    if optional("torch"):
        digits["pytorch (1 thread)"] = torch_digits(Xd, yd, digits_model)
    results = race(digits, args.rounds, {"microgradx compiled": 10, "pytorch (1 thread)": 10})
    report(results, "microgradx compiled")
    if "pytorch (1 thread)" in results:
        print(f"  compiled vs pytorch: {results['microgradx compiled'][0] / results['pytorch (1 thread)'][0]:.2f}x "
              "the time")

    if not args.skip_table:
        batch_table(args.seed)


def batch_table(seed: int) -> None:
    print("\n3. batch size: the moons step (hinge + L2, SGD) on n points; scalar and compiled, per step and "
          "per example")
    print(f"  {'n':>6} {'scalar ms/step':>15} {'us/example':>11} {'compiled ms/step':>17} {'us/example':>11} "
          f"{'speed-up':>9}")
    for n in (10, 100, 1_000, 10_000):
        X, labels = make_moons(n, noise=0.1, seed=seed)
        y = 2.0 * labels - 1
        compiled_step, _ = compiled_moons(X, y, seed)
        contenders = {"compiled": compiled_step, "scalar": scalar_moons(X, y, seed)}
        rounds = 5 if n < 1_000 else 3 if n < 10_000 else 1  # the scalar step at 10,000 takes seconds
        results = race(contenders, rounds, {"compiled": max(5, 5_000 // n), "scalar": 1})
        scalar, compiled = results["scalar"][0], results["compiled"][0]
        print(f"  {n:>6} {scalar * 1e3:>15.3f} {scalar / n * 1e6:>11.2f} {compiled * 1e3:>17.3f} "
              f"{compiled / n * 1e6:>11.2f} {scalar / compiled:>8.0f}x")
    model = MLP(2, [16, 16, 1], seed=seed)
    times = []
    for _ in range(5):
        f = microgradx.compile(lambda x, t: losses.hinge(model(x), t))
        t0 = time.perf_counter()
        f.trace(np.zeros((2, 2)), np.ones(2))
        times.append(time.perf_counter() - t0)
    print(f"  trace (once per compiled function and input shape, MLP(2, [16, 16, 1]) + hinge): "
          f"{min(times) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()


