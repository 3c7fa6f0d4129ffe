"""Pictures at model scale: drawn node counts, folding and rendering times, page sizes.

The README's training step (two moons, ``MLP(2, [16, 16, 1])``, hinge loss + 1e-4 L2) on 100 and
10,000 examples, drawn with ``collapse="layer"`` and ``collapse="neuron"``; the backward-pass
animation of a 2-4-4-1 MLP; the notebook output of each. Targets (issue 8): at most 30 and 80 drawn
nodes, the same at 10,000 examples, each rendered to SVG in under 2 s; the animation page under
300 KB. Run: ``.venv/bin/python benchmarks/bench_viz.py`` (``--quick`` skips the 10,000 examples).
"""

from __future__ import annotations

import sys
import time

from microgradx import losses
from microgradx.animate import animate_backward
from microgradx.data import make_moons
from microgradx.fold import fold, trace_nodes
from microgradx.nn import MLP
from microgradx.viz import draw_graph, natural_size, neuron_groups


def moons_loss(n: int):  # type: ignore[no-untyped-def]
    X, y = make_moons(n, noise=0.1, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    loss = losses.hinge([model(x) for x in X], 2 * y - 1) + 1e-4 * losses.l2(model.parameters())
    loss.backward()
    return loss


def best_of(runs: int, work):  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    sizes = [100] if "--quick" in sys.argv else [100, 10_000]
    print(f"{'examples':>9} {'collapse':>8} {'graph nodes':>12} {'drawn':>6} {'fold s':>7} {'draw+SVG s':>10} "
          f"{'SVG KB':>7} {'width px':>9} {'notebook view':>14} {'output KB':>10}")
    for n in sizes:
        loss = moons_loss(n)
        nodes = trace_nodes(loss)
        groups = neuron_groups(nodes)
        for collapse in ("layer", "neuron"):
            names = {v: getattr(g, collapse) for v, g in groups.items()}
            fold_s, folding = best_of(1 if n > 1000 else 3, lambda: fold(nodes, names))  # noqa: B023
            if n > 1000:  # the drawing itself is the same as at 100 examples: time the folding alone
                print(f"{n:>9} {collapse:>8} {len(nodes):>12} {len(folding.parts):>6} {fold_s:>7.2f}")
                continue
            render_s, graph = best_of(3, lambda: _render(loss, collapse))  # noqa: B023
            svg = graph.svg()
            bundle = graph._repr_mimebundle_()
            output_kb = sum(len(v) for v in bundle.values()) / 1000
            print(f"{n:>9} {collapse:>8} {len(nodes):>12} {len(folding.parts):>6} {fold_s:>7.2f} {render_s:>10.2f} "
                  f"{len(svg) / 1000:>7.1f} {natural_size(svg)[0]:>9.0f} {graph.shown_as():>14} {output_kb:>10.1f}")
    model = MLP(2, [4, 4, 1], seed=0)
    loss = (model([0.5, -1.2]) - 1.0) ** 2
    loss.label = "loss"
    for collapse in (None, "neuron", "layer"):
        seconds, animation = best_of(3, lambda: animate_backward(loss, collapse=collapse))  # noqa: B023
        print(f"animation of the 2-4-4-1 MLP, collapse={collapse!s:>6}: {animation.frames:>2} steps, page "
              f"{len(animation.html.encode()) / 1000:.1f} KB (target < 300 KB), notebook output "
              f"{len(animation._repr_html_().encode()) / 1000:.1f} KB, made in {seconds:.2f} s")


def _render(loss, collapse):  # type: ignore[no-untyped-def]
    graph = draw_graph(loss, collapse=collapse, heatmap=True)
    graph.svg()
    return graph


if __name__ == "__main__":
    main()
