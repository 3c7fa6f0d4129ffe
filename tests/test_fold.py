"""Folding a batch for drawing: node counts at model scale, what folds and what does not, the numbers shown."""

from __future__ import annotations

import html
import re
import shutil
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest

from microgradx import Value, losses
from microgradx import functional as F
from microgradx.data import make_moons
from microgradx.fold import fold, natural_key, trace_nodes
from microgradx.nn import MLP
from microgradx.viz import HeatScale, draw_graph

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
LOSSES = ["hinge", "bce", "cross_entropy"]


def batch_loss(n: int, loss: str, l2: bool, widths: tuple[int, ...] = (16, 16)) -> Value:
    """The README's training step on ``n`` moons points: ``MLP(2, [*widths, 1])`` (2 outputs for
    cross-entropy), the loss over the batch, plus 1e-4 * L2 when ``l2``; after backward()."""
    X, y = make_moons(n, noise=0.1, seed=0)
    model = MLP(2, [*widths, 2 if loss == "cross_entropy" else 1], seed=0)
    outputs = [model(x) for x in X]
    if loss == "hinge":
        total = losses.hinge(outputs, 2 * y - 1)
    elif loss == "bce":
        total = losses.binary_cross_entropy(outputs, y)
    else:
        total = losses.cross_entropy(outputs, [int(t) for t in y])
    if l2:
        total = total + 1e-4 * losses.l2(model.parameters())
    total.backward()
    return total


def node_lines(source: str) -> list[str]:
    return [line for line in source.splitlines() if re.match(r"\s*p\d+ \[", line)]


def titles(source: str) -> list[str]:
    """The bold title of every box, in the order of the DOT text."""
    return re.findall(r"^\s*p\d+ \[label=<<TABLE[^\n]*?<B>([^<]*)</B>", source, flags=re.M)


def shape(source: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The boxes and the edges between them (by title), without the numbers that depend on the batch
    size or the order in which the examples come: what must not change with the batch size."""
    def strip(text: str) -> str:
        return re.sub(r"×\d+|-?\d+\.\d+(e[-+]\d+)?|\d+ nodes", "#", text)

    boxes = {name: strip(line) for name, line in re.findall(r"^\s*(p\d+) (\[label=<<TABLE.*)$", source, flags=re.M)}
    edges = [(boxes[a], boxes[b]) for a, b in re.findall(r"^\s*(p\d+) -> (p\d+)", source, flags=re.M)]
    return sorted(boxes.values()), sorted(edges)


# -- the README's batch at model scale ---------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize("l2", [True, False], ids=["l2", "no-l2"])
@pytest.mark.parametrize("loss", LOSSES)
def test_the_moons_batch_folds_to_a_picture_of_one_example(loss: str, l2: bool) -> None:
    total = batch_loss(100, loss, l2)
    for collapse, limit in (("layer", 30), ("neuron", 80)):
        graph = draw_graph(total, collapse=collapse)
        drawn = svg_node_count(graph.pipe(format="svg"))
        assert drawn == len(node_lines(graph.source)) and drawn <= limit, (collapse, drawn)
        assert {"x0 ×100", "x1 ×100"} <= set(titles(graph.source))


def svg_node_count(svg: bytes) -> int:
    root = ET.fromstring(svg)
    return len([g for g in root.iter(f"{SVG}g") if "node" in (g.get("class") or "").split()])


@pytest.mark.slow
@pytest.mark.parametrize("l2", [True, False], ids=["l2", "no-l2"])
@pytest.mark.parametrize("loss", LOSSES)
def test_ten_thousand_examples_draw_the_same_picture_as_one_hundred(loss: str, l2: bool) -> None:
    small, large = batch_loss(100, loss, l2, widths=(3,)), batch_loss(10_000, loss, l2, widths=(3,))
    for collapse in ("layer", "neuron"):
        a, b = draw_graph(small, collapse=collapse).source, draw_graph(large, collapse=collapse).source
        assert len(node_lines(a)) == len(node_lines(b))
        assert shape(a) == shape(b)
        assert "x0 ×10000" in b


@pytest.mark.slow
def test_the_readme_model_on_ten_thousand_examples_folds_to_the_same_counts() -> None:
    total = batch_loss(10_000, "hinge", True)
    counts = {c: len(node_lines(draw_graph(total, collapse=c).source)) for c in ("layer", "neuron")}
    expected = {c: len(node_lines(draw_graph(batch_loss(100, "hinge", True), collapse=c).source))
                for c in ("layer", "neuron")}
    assert counts == expected and counts["layer"] <= 30 and counts["neuron"] <= 80


def test_what_the_folded_moons_batch_shows() -> None:
    source = draw_graph(batch_loss(100, "hinge", True), collapse="layer").source
    shown = titles(source)
    # the per-example ops of the hinge loss, one box each, constants written into the op; the targets
    # (numbers, given to the loss) as the loss's leaves named 'target'
    for title in ("x0 ×100", "x1 ×100", "target ×100", "* ×100", "* -1 ×100", "+ 1 ×100", "relu ×100", "sum",
                  "* 0.01", "dot", "* 0.0001", "+", "layers.0", "layers.1", "layers.2"):
        assert title in shown, title
    assert len(shown) == len(set(shown))  # every role once
    box = {name: title for name, title in re.findall(r"^\s*(p\d+) \[label=<<TABLE[^\n]*?<B>([^<]*)</B>",
                                                     source, flags=re.M)}
    edges = {(box[a], box[b]): label for a, b, label in
             re.findall(r'^\s*(p\d+) -> (p\d+)(?: \[label="([^"]*)")?', source, flags=re.M)}
    assert edges[("x0 ×100", "layers.0")] == "×1600"  # 16 neurons x 100 examples
    assert edges[("layers.0", "layers.1")] == "×25600"  # every neuron to every neuron, per example
    assert edges[("layers.2", "* ×100")] == "×100" and edges[("target ×100", "* ×100")] == "×100"  # score * target
    assert edges[("layers.0", "dot")] == "×96"  # the L2 term: 48 parameters, twice each (p . p)
    assert edges[("relu ×100", "sum")] == "×100"


def test_cross_entropy_keeps_the_two_classes_apart_when_neurons_are_drawn() -> None:
    source = draw_graph(batch_loss(100, "cross_entropy", False), collapse="neuron").source
    picks = [int(n) for n in re.findall(r"<B>\* -1 ×(\d+)</B>", source)]  # - logits[target], per target class
    assert len(picks) == 2 and sum(picks) == 100
    _, y = make_moons(100, noise=0.1, seed=0)
    assert sorted(picks) == sorted([int(np.sum(y == 0)), int(np.sum(y == 1))])


# -- the numbers of a folded node ------------------------------------------------------------------------


def test_a_folded_node_shows_its_data_range_and_the_max_and_mean_of_its_gradients() -> None:
    w = Value(0.5, label="w")
    xs = [Value(float(x)) for x in (1, 2, 3, 4)]
    loss = F.mean([(w * x) ** 2 for x in xs])
    loss.backward()
    # d loss / d(w x_i) = 2 w x_i / 4 = x_i / 4; d loss / d x_i = that times w = x_i / 8
    assert [x.grad for x in xs] == [0.125, 0.25, 0.375, 0.5]
    source = draw_graph(loss, collapse="layer").source
    rows = dict(re.findall(r"<B>([^<]*)</B></TD></TR>(.*?)</TABLE>", source))
    assert re.findall(r"<TD>([^<]*)</TD>", rows["×4"]) == [
        "data 1.0000 … 4.0000", "|grad| max 0.5000", "mean 0.3125"]  # max x/8 = 4/8, mean 2.5/8
    assert re.findall(r"<TD>([^<]*)</TD>", rows["* ×4"]) == [
        "data 0.5000 … 2.0000", "|grad| max 1.0000", "mean 0.6250"]  # max 4/4, mean 2.5/4
    assert re.findall(r"<TD>([^<]*)</TD>", rows["w"]) == ["data 0.5000", "grad 7.5000"]  # sum 2 w x_i^2 / 4


def test_the_heat_map_colours_a_folded_node_by_its_largest_gradient() -> None:
    w = Value(0.5, label="w")
    xs = [Value(float(x)) for x in (1, 2, 3, 4)]
    loss = F.mean([(w * x) ** 2 for x in xs])
    loss.backward()
    source = draw_graph(loss, collapse="layer", heatmap=True).source
    fills = {title: color for color, title in re.findall(r'BGCOLOR="(#[0-9a-f]{6})"[^\n]*?<B>([^<]*)</B>', source)}
    scale = HeatScale.of([1.0, 0.5, 7.5, 0.3, 1.0, 0.25])  # the largest |grad| of each box
    assert scale is not None
    assert fills["* ×4"] == scale.color(1.0) and fills["×4"] == scale.color(0.5) and fills["w"] == scale.color(7.5)
    assert "|grad|, log scale" in source


# -- graphs built without nn -----------------------------------------------------------------------------


def hand_written(n: int, label_inputs: bool = False) -> Value:
    """A neuron written by hand over a list of rows, micrograd-lecture style, with a squared error."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(n, 2)), rng.choice([-1.0, 1.0], size=n)
    w = [Value(0.3, label="w0"), Value(-0.2, label="w1")]
    b = Value(0.1, label="b")
    rows = [[Value(float(v), label=f"x{i}_{j}") for j, v in enumerate(row)] if label_inputs else row for i, row in
            enumerate(X)]
    outs = [(sum(wi * xi for wi, xi in zip(w, x)) + b).tanh() for x in rows]
    loss = sum((o - y) ** 2 for o, y in zip(outs, Y))
    loss.backward()
    return loss  # type: ignore[return-value]


def test_a_hand_written_neuron_over_a_list_folds_by_structure() -> None:
    ten, fifty = draw_graph(hand_written(10), collapse="layer").source, draw_graph(hand_written(50),
                                                                                      collapse="layer").source
    assert shape(ten) == shape(fifty)
    shown = titles(fifty)
    assert {"w0", "w1", "b", "tanh ×50", "**2 ×50"} <= set(shown)
    assert shown.count("* ×50") == 2  # w0 * x0 and w1 * x1: two roles
    assert "+ 0" in shown  # Python's sum(): one + over the whole chain, its start 0 written into it
    assert len(shown) == 13


def test_inputs_with_a_label_per_example_do_not_fold() -> None:
    shown = titles(draw_graph(hand_written(10, label_inputs=True), collapse="layer", max_nodes=1000).source)
    assert "x3_1" in shown and "tanh" in shown and not any("×10" in t for t in shown)


def test_a_sum_chain_is_one_node_and_its_terms_keep_their_order() -> None:
    xs = [Value(float(i), label="x") for i in range(5)]
    total = sum(x * x for x in xs)
    nodes = trace_nodes(total)  # type: ignore[arg-type]
    folding = fold(nodes, {})
    assert [(p.kind, p.name or p.op, len(p.members)) for p in folding.parts] == [
        ("leaf", "x", 5), ("op", "*", 5), ("op", "+", 1)]
    assert folding.parts[-1].marks == ((-1, 0.0),)  # sum() starts from 0
    assert folding.edges == {(0, 1): 10, (1, 2): 5}  # x * x: each x twice


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["layers.10.neurons.2", "layers.2.neurons.11", "layers.2.neurons.2", "layers.1"]
    assert sorted(names, key=natural_key) == ["layers.1", "layers.2.neurons.2", "layers.2.neurons.11",
                                              "layers.10.neurons.2"]


@needs_dot
@pytest.mark.parametrize("rankdir", ["TB", "LR", "BT", "RL"])
def test_neurons_are_drawn_in_numeric_order_four_to_a_row(rankdir: str) -> None:
    model = MLP(2, [12, 1], seed=0)
    loss = (model([0.5, -1.0]) - 1.0) ** 2
    loss.backward()
    graph = draw_graph(loss, collapse="neuron", rankdir=rankdir)
    layer0 = re.search(r"subgraph cluster_0 \{(.*?)\n\t\}", graph.source, flags=re.S)
    assert layer0 and "<B>layers.0</B>" in layer0.group(1)
    names = re.findall(r"^\s*(p\d+) \[label=<<TABLE[^\n]*?<B>neurons\.(\d+)</B>", layer0.group(1), flags=re.M)
    root = ET.fromstring(graph.pipe(format="svg"))
    position = {}
    for g in root.iter(f"{SVG}g"):
        title, text = g.find(f"{SVG}title"), g.find(f"{SVG}text")
        if title is not None and text is not None:
            position[title.text] = (float(text.get("x")), float(text.get("y")))  # type: ignore[arg-type]
    sideways = rankdir in ("LR", "RL")
    flow = -1 if rankdir in ("BT", "RL") else 1  # rows follow the flow of the graph: the first row meets the inputs
    placed = [position[name] for name, _ in sorted(names, key=lambda pair: int(pair[1]))]
    across = [p[1] if sideways else p[0] for p in placed]  # along a row: left to right, or top to bottom
    along = [flow * (p[0] if sideways else p[1]) for p in placed]  # from row to row
    # read like text, in rows of four: 0 1 2 3 / 4 5 6 7 / 8 9 10 11 (rows as columns when the layers run sideways)
    assert len(placed) == 12
    rows = [along[4 * row : 4 * row + 4] for row in range(3)]
    for row in range(3):
        assert across[4 * row : 4 * row + 4] == sorted(across[4 * row : 4 * row + 4])
    assert max(rows[0]) + 20 < min(rows[1]) and max(rows[1]) + 20 < min(rows[2])  # one row after the other
    assert all(abs(a - b) < 20 for a, b in zip(across[:4], across[4:8]))  # the columns line up


# -- the components of one vector: one box, as TensorBoard groups a numbered series ---------------------


def box_rows(source: str) -> dict[str, list[str]]:
    """{the box's title: its rows under the title}, markup entities read back as text."""
    rows = re.findall(r"<B>([^<]*)</B></TD></TR>(.*?)</TABLE>", source)
    return {html.unescape(title): [html.unescape(r) for r in re.findall(r"<TD>([^<]*)</TD>", cells)]
            for title, cells in rows}


def digit_like(n_inputs: int, batch: int = 1, label: Any = "x[{i}]") -> tuple[Value, list[list[Value]]]:
    """An ``MLP(n_inputs, [4, 3])`` with cross-entropy on ``batch`` rows of inputs labelled ``label``
    (None: unlabelled floats), after backward(); returns the loss and the input Values."""
    rng = np.random.default_rng(1)
    model = MLP(n_inputs, [4, 3], seed=0)
    X = rng.random((batch, n_inputs))
    rows = [[Value(float(v), label=label.format(i=i)) for i, v in enumerate(row)] if label else list(row) for row in X]
    loss = losses.cross_entropy([model(row) for row in rows], [k % 3 for k in range(batch)])
    loss.backward()
    return loss, rows  # type: ignore[return-value]


@pytest.mark.parametrize("collapse", ["layer", "neuron"])
def test_the_components_of_an_input_vector_are_one_box_with_their_range_and_gradients(collapse: str) -> None:
    loss, (xs,) = digit_like(12)
    source = draw_graph(loss, collapse=collapse).source
    rows = box_rows(source)
    assert not any(re.fullmatch(r"x\[\d+\]", t) for t in rows)  # no box per component
    grads = [abs(x.grad) for x in xs]
    data = [x.data for x in xs]
    assert rows["x[0:12]"] == ["12 inputs", f"data {min(data):.4f} … {max(data):.4f}",
                               f"|grad| max {max(grads):.4f}", f"mean {sum(grads) / 12:.4f}"]
    box = {name: html.unescape(t) for name, t in re.findall(r"^\s*(p\d+) \[label=<<TABLE[^\n]*?<B>([^<]*)</B>",
                                                            source, flags=re.M)}
    into = [(box[b], label) for a, b, label in re.findall(r'^\s*(p\d+) -> (p\d+)(?: \[label="([^"]*)")?', source,
                                                         flags=re.M) if box[a] == "x[0:12]"]
    assert into == ([("layers.0", "×48")] if collapse == "layer" else [(into[0][0], "×48")])  # 12 inputs x 4 neurons


def test_a_batch_of_labelled_vectors_is_one_box_counted_per_example() -> None:
    loss, rows = digit_like(12, batch=10)
    shown = box_rows(draw_graph(loss, collapse="layer").source)
    data = [x.data for row in rows for x in row]
    assert shown["x[0:12] ×10"][:2] == ["12 inputs", f"data {min(data):.4f} … {max(data):.4f}"]


def test_a_models_unlabelled_inputs_are_one_vector_and_two_inputs_stay_apart() -> None:
    loss, _ = digit_like(12, batch=3, label=None)
    assert "x[0:12] ×3" in box_rows(draw_graph(loss, collapse="layer").source)
    assert {"x0 ×100", "x1 ×100"} <= set(titles(draw_graph(batch_loss(100, "hinge", True), collapse="layer").source))


def test_a_grid_of_components_and_runs_with_gaps() -> None:
    loss, _ = digit_like(12, label="img[{i}]")
    assert "img[0:12]" in box_rows(draw_graph(loss, collapse="layer").source)
    model = MLP(12, [4, 3], seed=0)

    def drawn(labels: list[str]) -> set[str]:
        loss = losses.cross_entropy(model([Value(0.1 * k, label=t) for k, t in enumerate(labels)]), 1)
        return set(box_rows(draw_graph(loss, collapse="layer").source))

    assert "img[0:3, 0:4]" in drawn([f"img[{k // 4}, {k % 4}]" for k in range(12)])
    # a gap cuts the vector into runs; a run shorter than 5 (TensorBoard's series minimum) stays apart
    assert {"x[0:6]", "x[7:13]"} <= drawn([f"x[{k if k < 6 else k + 1}]" for k in range(12)])
    assert {"x[0]", "x[1]", "x[2]", "x[5:14]"} <= drawn([f"x[{k if k < 3 else k + 2}]" for k in range(12)])


def test_a_component_used_outside_the_model_stays_its_own_box() -> None:
    model = MLP(6, [3, 1], seed=0)
    xs = [Value(0.1 * k, label=f"x[{k}]") for k in range(6)]
    loss = (model(xs) - xs[5]) ** 2  # x[5] is also the target: it is not just one of the model's inputs
    loss.backward()
    shown = set(box_rows(draw_graph(loss, collapse="layer").source))
    assert {"x[0:5]", "x[5]"} <= shown


@needs_dot
def test_the_digits_network_on_one_example_fits_a_notebook() -> None:
    from microgradx.htmlview import natural_size

    model = MLP(64, [32, 10], seed=0)
    xs = [Value(float(v), label=f"x[{i}]") for i, v in enumerate(np.linspace(0.0, 1.0, 64))]
    loss = losses.cross_entropy(model(xs), 3)
    loss.backward()
    graph = draw_graph(loss, collapse="layer")
    width, _ = natural_size(graph.svg())
    assert width < 800 and graph.shown_as() == "fit"  # was 9,950 px: 64 input boxes side by side
    assert "x[0:64]" in box_rows(graph.source)
