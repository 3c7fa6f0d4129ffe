"""Engine benchmark: build + backward of a layered random DAG, microgradx against micrograd 0.1.0.

Both engines build the same graph (same seed, same ops) in one process; the script prints seconds,
bytes per node (tracemalloc, graph alive) and the ratios. micrograd is installed only for this:
``pip install micrograd==0.1.0``.

    python benchmarks/bench_engine.py --ops 200000
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from microgradx import Value as XValue
from microgradx import detect_anomaly

# The mix of node kinds (issue 9): 35% (a + b) * 0.5, 35% a * b, 15% relu(a), 15% a ** 2.
MIX = {"add_half": 0.35, "mul": 0.35, "relu": 0.15, "square": 0.15}
OPS_PER_KIND = {"add_half": 2, "mul": 1, "relu": 1, "square": 1}  # (a + b) * 0.5 is two ops


def plan_dag(n_ops: int, width: int, seed: int) -> list[list[tuple[str, int, int]]]:
    """A layered DAG as data: each layer lists (kind, i, j) over the previous layer's nodes.

    Every node takes its inputs from the layer before, so values stay in (-1, 1): a * b, a ** 2
    and relu shrink them, (a + b) / 2 averages them. Nodes are reused by several consumers.
    """
    rng = random.Random(seed)
    layers, ops = [], 0
    while ops < n_ops:
        layer = []
        for _ in range(width):
            (kind,) = rng.choices(list(MIX), weights=list(MIX.values()))
            layer.append((kind, rng.randrange(width), rng.randrange(width)))
            ops += OPS_PER_KIND[kind]
        layers.append(layer)
    return layers


Plan = list[list[tuple[str, int, int]]]


def build(value_cls: Callable[[float], Any], plan: Plan, width: int, seed: int) -> tuple[Any, list[Any]]:
    rng = random.Random(seed + 1)
    leaves = [value_cls(rng.uniform(-1, 1)) for _ in range(width)]
    prev = leaves
    for layer in plan:
        nodes = []
        for kind, i, j in layer:
            a, b = prev[i], prev[j]
            if kind == "add_half":
                nodes.append((a + b) * 0.5)
            elif kind == "mul":
                nodes.append(a * b)
            elif kind == "square":
                nodes.append(a**2)
            else:
                nodes.append(a.relu())
        prev = nodes
    root = prev[0]
    for node in prev[1:]:
        root = root + node
    return root, leaves


def time_once(value_cls: Callable[[float], Any], plan: Plan, width: int, seed: int) -> tuple[float, float]:
    """Seconds to build the graph, and to run backward on it, from a freshly collected heap."""
    gc.collect()
    t0 = time.perf_counter()
    root, _leaves = build(value_cls, plan, width, seed)
    t1 = time.perf_counter()
    root.backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def bytes_per_node(value_cls: Callable[[float], Any], plan: Plan, width: int, seed: int) -> float:
    """Memory the graph holds while alive (tracemalloc), divided by its number of nodes."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    root, _leaves = build(value_cls, plan, width, seed)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count_nodes(root)


def count_nodes(root: Any) -> int:
    seen, stack = {id(root)}, [root]
    while stack:
        for p in stack.pop()._prev:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--width", type=int, default=1000, help="nodes per layer (micrograd recurses per layer)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    plan = plan_dag(args.ops, args.width, args.seed)
    sys.setrecursionlimit(max(10_000, 4 * len(plan) + 4 * args.width))  # micrograd's topo sort is recursive
    print(f"layered random DAG: {args.ops} ops in {len(plan)} layers of {args.width}, "
          f"gc enabled, best of {args.repeats} interleaved runs")
    engines = {"microgradx": XValue}
    try:
        from micrograd.engine import Value as MValue

        engines["micrograd"] = MValue
    except ImportError:
        print("micrograd is not installed: pip install micrograd==0.1.0 to compare")
    # Interleave the engines' runs, so that a noisy moment on a shared machine hits both alike; microgradx
    # also runs in anomaly mode (every node remembers where it was made), to show what that costs.
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in engines}
    anomaly_runs: list[float] = []
    for _ in range(args.repeats):
        for name, cls in engines.items():
            runs[name].append(time_once(cls, plan, args.width, args.seed))
        with detect_anomaly():
            anomaly_runs.append(sum(time_once(XValue, plan, args.width, args.seed)))
    best = {}
    for name, cls in engines.items():
        build_s, backward_s = min(b for b, _ in runs[name]), min(w for _, w in runs[name])
        memory = bytes_per_node(cls, plan, args.width, args.seed)
        best[name] = (build_s, backward_s, build_s + backward_s, memory)
        print(f"{name:>11}: build {build_s:6.3f} s  backward {backward_s:6.3f} s  "
              f"total {build_s + backward_s:6.3f} s  {memory:6.0f} bytes/node")
    off = sorted(sum(run) for run in runs["microgradx"])
    print(f"microgradx in detect_anomaly(): total {min(anomaly_runs):6.3f} s, {min(anomaly_runs) / off[0]:.1f}x "
          "its time with anomaly mode off (best vs best)")
    if "micrograd" in best:
        (b1, w1, t1, m1), (b2, w2, t2, m2) = best["microgradx"], best["micrograd"]
        per_run = sorted((mb + mw) / (xb + xw) for (xb, xw), (mb, mw) in zip(runs["microgradx"], runs["micrograd"]))
        print(f"speed-up (build + backward): {t2 / t1:.1f}x best vs best (build {b2 / b1:.1f}x, "
              f"backward {w2 / w1:.1f}x); run by run {per_run[0]:.1f}x to {per_run[-1]:.1f}x")
        print(f"memory per node: {m1 / m2:.2f} of micrograd's")

if __name__ == "__main__":
    main()
