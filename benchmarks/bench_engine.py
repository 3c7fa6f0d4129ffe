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

OPS_PER_KIND = {"add_half": 2, "mul": 1, "relu": 1}  # (a + b) * 0.5 is two ops


def plan_dag(n_ops: int, width: int, seed: int) -> list[list[tuple[str, int, int]]]:
    """A layered DAG as data: each layer lists (kind, i, j) over the previous layer's nodes.

    Every node takes its inputs from the layer before, so values stay in (-1, 1): a * b and
    relu shrink them, (a + b) / 2 averages them. Nodes are reused by several consumers.
    """
    rng = random.Random(seed)
    layers, ops = [], 0
    while ops < n_ops:
        layer = []
        for _ in range(width):
            kind = rng.choice(("add_half", "mul", "relu"))
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
            else:
                nodes.append(a.relu())
        prev = nodes
    root = prev[0]
    for node in prev[1:]:
        root = root + node
    return root, leaves


def measure(
    name: str, value_cls: Callable[[float], Any], plan: Plan, width: int, seed: int, repeats: int
) -> dict[str, float]:
    best_build = best_backward = float("inf")
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        root, leaves = build(value_cls, plan, width, seed)
        t1 = time.perf_counter()
        root.backward()
        t2 = time.perf_counter()
        best_build, best_backward = min(best_build, t1 - t0), min(best_backward, t2 - t1)
        del root, leaves
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    root, _leaves = build(value_cls, plan, width, seed)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    n_nodes = count_nodes(root)
    bytes_per_node = (after - before) / n_nodes
    print(f"{name:>11}: build {best_build:6.3f} s  backward {best_backward:6.3f} s  "
          f"total {best_build + best_backward:6.3f} s  {bytes_per_node:6.0f} bytes/node  ({n_nodes} nodes)")
    total = best_build + best_backward
    return {"build": best_build, "backward": best_backward, "total": total, "bytes": bytes_per_node}


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
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    plan = plan_dag(args.ops, args.width, args.seed)
    sys.setrecursionlimit(max(10_000, 4 * len(plan) + 4 * args.width))  # micrograd's topo sort is recursive
    print(f"layered random DAG: {args.ops} ops in {len(plan)} layers of {args.width}, "
          f"gc enabled, best of {args.repeats}")
    ours = measure("microgradx", XValue, plan, args.width, args.seed, args.repeats)
    try:
        from micrograd.engine import Value as MValue
    except ImportError:
        print("micrograd is not installed: pip install micrograd==0.1.0 to compare")
        return
    theirs = measure("micrograd", MValue, plan, args.width, args.seed, args.repeats)
    print(f"speed-up (build + backward): {theirs['total'] / ours['total']:.1f}x   "
          f"(build {theirs['build'] / ours['build']:.1f}x, backward {theirs['backward'] / ours['backward']:.1f}x)")
    print(f"memory per node: {ours['bytes'] / theirs['bytes']:.2f} of micrograd's")


if __name__ == "__main__":
    main()
