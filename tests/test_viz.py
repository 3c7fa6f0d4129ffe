"""The graph visualizer: structure of the DOT text, real SVG from `dot`, escaping, heat map, clusters, limits."""

from __future__ import annotations

import base64
import math
import re
import shutil
import xml.etree.ElementTree as ET

import graphviz
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx import Value, define_op, grad
from microgradx import functional as F
from microgradx.viz import (
    Graph,
    GraphTooLarge,
    GraphvizNotFound,
    HeatScale,
    draw_dot,
    draw_graph,
    fmt,
    neuron_groups,
    save,
    trace,
)

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def neuron_expr() -> tuple[Value, dict[str, Value]]:
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    y = (x * w + b).tanh()
    y.backward()
    return y, {"x": x, "w": w, "b": b}


def nodes_of(source: str) -> list[str]:
    """The node statements of a DOT text (name first), without graph/node/edge defaults."""
    return [n for n in re.findall(r"^\s*(\w+) \[", source, flags=re.M) if n not in ("graph", "node", "edge")]


def edges_of(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+)", source, flags=re.M)


def svg_of(graph: graphviz.Digraph) -> ET.Element:
    return ET.fromstring(graph.pipe(format="svg"))


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()).replace("\xa0", " ") for t in root.iter(f"{SVG}text")]


def svg_nodes(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if "node" in g.get("class", "").split()]


# -- trace ----------------------------------------------------------------------------------------------


def test_trace_lists_parents_before_children_and_edges_in_argument_order() -> None:
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    y = (a * b + a).tanh()
    nodes, edges = trace(y)
    assert nodes[-1] is y
    position = {v: i for i, v in enumerate(nodes)}
    assert all(position[p] < position[c] for p, c in edges)
    assert len(nodes) == 5 and len(edges) == 5
    mul = nodes[2]
    assert [p for p, c in edges if c is mul] == [a, b]  # argument order


def test_trace_keeps_both_uses_of_a_repeated_input() -> None:
    x = Value(3.0, label="x")
    nodes, edges = trace(x * x)
    assert len(nodes) == 2 and edges == [(x, nodes[1]), (x, nodes[1])]


def test_an_input_used_twice_is_one_edge_labelled_x2() -> None:
    x = Value(3.0, label="x")
    source = draw_graph(x * x + x).source
    assert edges_of(source).count(("v0", "op1")) == 1 and 'v0 -> op1 [label="×2"]' in source
    assert ("v0", "op2") in edges_of(source)


def test_trace_walks_deep_graphs_without_recursion() -> None:
    y = Value(0.0)
    for _ in range(20_000):
        y = y + 1.0
    nodes, edges = trace(y)
    assert len(nodes) == 40_001 and len(edges) == 40_000


def test_trace_rejects_what_is_not_a_value() -> None:
    with pytest.raises(TypeError, match="several outputs"):
        trace([Value(1.0), Value(2.0)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a Value"):
        trace(3.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("label", [None, 3, b"x"])
def test_a_label_reassigned_to_something_else_than_text_is_named(label: object) -> None:
    x = Value(1.0)
    y = x * 2
    x.label = label  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"a label must be text, got .*use label='' for none"):
        draw_graph(y)


# -- the DOT text ----------------------------------------------------------------------------------------


def test_one_box_per_value_one_node_per_op_and_edges_the_way_data_flows() -> None:
    y, leaves = neuron_expr()
    source = draw_graph(y).source
    names = nodes_of(source)
    assert sorted(n for n in names if n.startswith("v")) == [f"v{i}" for i in range(6)]
    assert sorted(n for n in names if n.startswith("op")) == ["op2", "op4", "op5"]  # *, +, tanh
    edges = edges_of(source)
    assert len(edges) == 8
    assert ("v0", "op2") in edges and ("v1", "op2") in edges and ("op2", "v2") in edges  # x, w -> * -> x*w
    assert edges.index(("v0", "op2")) < edges.index(("v1", "op2"))  # parents in argument order
    assert ("op5", "v5") in edges  # tanh -> output
    for name in ("x", "w", "b"):
        assert f"<B>{name}</B>" in source
    assert leaves["x"].grad == pytest.approx(-3 * (1 - math.tanh(0.88) ** 2))  # w * dtanh: -1.50288...
    assert "data 2.0000" in source and "grad -1.5029" in source
    for op in ("*", "+", "tanh"):
        assert f"label=<{op}>" in source


def test_show_grad_false_and_rankdir() -> None:
    y, _ = neuron_expr()
    g = draw_graph(y, rankdir="TB", show_grad=False)
    assert "rankdir=TB" in g.source and "grad " not in g.source and g.source.count("data ") == 6
    with pytest.raises(ValueError, match="rankdir must be 'LR'"):
        draw_graph(y, rankdir="XY")


def test_the_same_graph_gives_the_same_dot_text() -> None:
    first, _ = neuron_expr()
    second, _ = neuron_expr()  # built again: other objects, other ids, same structure
    assert draw_graph(first).source == draw_graph(second).source
    assert draw_graph(first).source == draw_graph(first).source
    assert str(id(first)) not in draw_graph(first).source


def test_draw_dot_is_micrograds_signature() -> None:
    y, _ = neuron_expr()
    g = draw_dot(y, format="png", rankdir="TB")
    assert isinstance(g, graphviz.Digraph) and g.format == "png" and "rankdir=TB" in g.source
    assert draw_dot(y).source == draw_graph(y).source


def test_create_graph_gradients_are_shown_by_their_value() -> None:
    x = Value(3.0, label="x")
    y = x**3
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value)
    assert "grad 27.0000" in draw_graph(y).source
    (dy,) = grad(y, [x], create_graph=True)
    assert draw_graph(dy).source.count("label=<") > 3  # the derivative's own graph draws too


def test_user_ops_show_under_their_name() -> None:
    cube = define_op("cube", lambda x: x**3, lambda x, out: (3 * x * x,))
    assert "label=<cube>" in draw_graph(cube(Value(2.0))).source


def test_numbers_switch_to_scientific_when_tiny_or_huge() -> None:
    assert fmt(1.5e-9) == "1.500e-09" and fmt(-2e7) == "-2.000e+07" and fmt(12.25) == "12.2500"


@needs_dot
def test_rendered_svg_is_xml_with_one_group_per_node() -> None:
    y, _ = neuron_expr()
    root = svg_of(draw_graph(y))
    assert len(svg_nodes(root)) == 9  # 6 values + 3 ops
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]) == 8
    shown = texts(root)
    assert {"x", "w", "b", "tanh", "data 6.8800"} <= set(shown)


# -- escaping --------------------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    '"quoted" and \'single\'',
    "a & b &amp; &#60; &lt;",
    "{record|fields} <port> |",
    "line one\nline two\r\ttab",
    "back\\slash \\N \\G \\L \\",
    "üñíçødé ✓ 🙂 λx.x² ∂y/∂x",
    "]]> <!-- --> <![CDATA[ x ]]>",
    "</TD></TR></TABLE>><b>bold</b>",
    "\x00\x07\x1b[31m\x7f\x85",
    "]",  # Graphviz 2.43 chokes on a cell that is only "]" unless it is an entity
    "]]",
]


def shown_as(label: str) -> str:
    """What a label shows as: control characters and line separators as their escapes, whitespace runs
    as one space."""
    visible = "".join(repr(c)[1:-1] if ord(c) < 32 or 127 <= ord(c) < 160 or c in "\u2028\u2029" else c
                      for c in label)
    return " ".join(visible.split())


def check_escaped(label: str, graph: graphviz.Digraph) -> None:
    root = svg_of(graph)  # parses: the SVG is well-formed XML
    assert not [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in ("script", "b", "foreignObject")]
    shown = [" ".join(t.split()) for t in texts(root)]
    if shown_as(label):  # an empty or blank label has no cell
        assert shown_as(label) in shown, (shown_as(label), shown)


@needs_dot
@pytest.mark.parametrize("label", HOSTILE)
def test_hostile_labels_show_as_text(label: str) -> None:
    x = Value(1.0, label=label)
    y = x * 2.0
    y.backward()
    graph = draw_graph(y)
    assert "<script>" not in graph.source and "<b>" not in graph.source
    check_escaped(label, graph)


@needs_dot
def test_hostile_op_names_and_cluster_names_show_as_text() -> None:
    evil = define_op("<img src=x onerror=alert(1)>", lambda x: 2 * x, lambda x, out: (2.0,))
    w = Value(0.5, label="<script>.layers.0.neurons.0.w.0")
    y = evil(w)
    y.backward()
    graph = draw_graph(y)
    assert "<img" not in graph.source and "<script>" not in graph.source
    root = svg_of(graph)
    shown = texts(root)
    assert "<img src=x onerror=alert(1)>" in shown
    assert "<script>.layers.0" in shown  # the layer cluster's label
    assert not [e for e in root.iter() if e.tag.endswith("img") or e.tag.endswith("script")]


@needs_dot
@settings(max_examples=40)
@given(st.text(max_size=30))
def test_any_label_shows_as_text(label: str) -> None:
    y = Value(1.0, label=label) + Value(2.0, label=label[::-1])
    y.backward()
    check_escaped(label, draw_graph(y))


@needs_dot
@settings(max_examples=40)
@given(st.text("<>&\"'\\][{}|\n \tNGLa;#x0-!\u00a0\u2028\u200b\ufeff", max_size=30))
def test_labels_made_of_markup_and_escape_characters_show_as_text(label: str) -> None:
    y = Value(1.0, label=label) * 3.0
    y.backward()
    check_escaped(label, draw_graph(y))


# -- heat map --------------------------------------------------------------------------------------------


def fills(source: str) -> dict[str, str]:
    return dict(re.findall(r'^\s*(v\d+) \[label=<<TABLE[^>]*BGCOLOR="(#[0-9a-f]{6})"', source, flags=re.M))


def darkness(color: str) -> int:
    return -sum(int(color[i : i + 2], 16) for i in (1, 3, 5))


def test_heatmap_colours_grow_darker_with_the_gradient_and_a_legend_explains_them() -> None:
    scales = [1e-6, 1e-3, 1.0, 1e3]
    ps = [Value(1.0, label=f"p{i}") for i in range(4)]
    dead = Value(1.0, label="dead")
    y = F.sum([p * c for p, c in zip(ps, scales)] + [dead * 0.0])
    y.backward()
    assert [p.grad for p in ps] == scales and dead.grad == 0.0
    source = draw_graph(y, heatmap=True).source
    colors = fills(source)
    index = {v: i for i, v in enumerate(trace(y)[0])}
    shades = [darkness(colors[f"v{index[p]}"]) for p in ps]
    assert shades == sorted(shades) and len(set(shades)) == 4
    assert colors[f"v{index[dead]}"] == "#e5e7eb"  # grad 0: grey, off the scale
    assert "legend [" in source and "log scale" in source and ">1e-6<" in source and ">1e2<" in source


def test_no_heatmap_no_colours_no_legend() -> None:
    y, _ = neuron_expr()
    source = draw_graph(y).source
    assert "BGCOLOR" not in source.replace('fillcolor="#f3f4f6"', "") and "legend" not in source


def test_infinite_and_nan_gradients_get_their_own_colour_and_legend_entry() -> None:
    # backward() refuses to produce a non-finite gradient, but .grad is a plain attribute that code
    # may set: the heat map is where a learner looks for such a gradient, so it must draw it.
    x, w = Value(1.0, label="x"), Value(2.0, label="w")
    y = x * 1e308 + w
    y.backward()
    x.grad, w.grad = math.inf, math.nan
    source = draw_graph(y, heatmap=True, highlight_below=1e-3).source
    colors = fills(source)
    index = {v: i for i, v in enumerate(trace(y)[0])}
    assert colors[f"v{index[x]}"] == colors[f"v{index[w]}"] == "#4c1d95"
    assert "grad inf" in source and "grad nan" in source and ">inf/nan<" in source
    assert colors[f"v{index[y]}"] not in ("#4c1d95", "#e5e7eb")  # grad 1: on the scale
    assert ">inf/nan<" not in draw_graph(hand_built_mlp(), heatmap=True).source  # only when there is one


def test_a_collapsed_neuron_with_a_nan_gradient_shows_it() -> None:
    loss = hand_built_mlp()
    params = [v for v in trace(loss)[0] if v.label.startswith("layers.1.")]
    params[-1].grad = math.nan  # max() would keep or drop a nan by its position
    source = draw_graph(loss, collapse="neuron", heatmap=True).source
    assert "|grad| max nan" in source and "mean nan" in source
    assert 'BGCOLOR="#4c1d95"><TR><TD><FONT COLOR="white"><B>neurons.0' in source


def test_a_heatmap_before_backward_says_so_instead_of_doing_nothing() -> None:
    x = Value(2.0, label="x")
    y = (x * 3.0).tanh()
    source = draw_graph(y, heatmap=True).source
    assert set(fills(source).values()) == {"#e5e7eb"} and len(fills(source)) == 4
    assert "every gradient is 0: call backward() first" in source and ">1e0<" not in source
    y.backward()
    assert "call backward() first" not in draw_graph(y, heatmap=True).source


def test_heat_scale_spans_whole_decades() -> None:
    assert HeatScale.of([0.0, 0.0]) is None and HeatScale.of([math.inf, math.nan]) is None
    assert HeatScale.of([5.0]) == HeatScale(0, 1)
    scale = HeatScale.of([1e-12, 1e3])
    assert scale == HeatScale(-12, 3) and len(scale.ticks()) <= 8
    assert scale.color(1e-30) == scale.color(1e-12) and scale.color(1e9) == scale.color(1e3)


def test_highlight_below_frames_the_small_gradients() -> None:
    a, b, c = Value(1.0, label="a"), Value(1.0, label="b"), Value(3.0, label="c")
    y = a * 1e-9 + b * 2.0 + c * 0.0
    y.backward()
    source = draw_graph(y, highlight_below=1e-6).source
    below = re.findall(r'^\s*v\d+ \[label=<<TABLE BORDER="3".*<B>(\w)</B>.*class="value below"', source, flags=re.M)
    assert below == ["a", "c"]  # grad 1e-9 and grad 0; every other |grad| is 1 or more
    assert "|grad| &lt; 1e-06" in source
    with pytest.raises(ValueError, match="highlight_below must be a positive number"):
        draw_graph(y, highlight_below=-1.0)


# -- clusters and collapse -------------------------------------------------------------------------------


def hand_built_mlp() -> Value:
    """Two layers by hand, with the nn module's parameter names: 2 inputs -> 2 relu neurons -> 1 linear."""
    xs = [Value(1.0), Value(-2.0)]
    hidden = []
    for j in range(2):
        w = [Value(0.1 * (i + j + 1), label=f"layers.0.neurons.{j}.w.{i}") for i in range(2)]
        b = Value(0.0, label=f"layers.0.neurons.{j}.b")
        hidden.append((F.dot(w, xs) + b).relu())
    w = [Value(0.5, label=f"layers.1.neurons.0.w.{i}") for i in range(2)]
    out = F.dot(w, hidden) + Value(0.1, label="layers.1.neurons.0.b")
    loss = (out - 1.0) ** 2
    loss.backward()
    return loss


def clusters_of(source: str) -> list[tuple[str, str]]:
    return re.findall(r"subgraph (cluster_[\d_]+) \{\n[^\n]*label=<(?:<B>)?([^<>]*)", source)


def test_parameters_nodes_group_by_neuron_inside_layers() -> None:
    loss = hand_built_mlp()
    source = draw_graph(loss).source
    assert clusters_of(source) == [  # in numeric order, whatever order the graph walk found them in
        ("cluster_0", "layers.0"), ("cluster_0_0", "neurons.0"), ("cluster_0_1", "neurons.1"),
        ("cluster_1", "layers.1"), ("cluster_1_0", "neurons.0"),
    ]
    groups = neuron_groups(trace(loss)[0])
    hidden = [v for v, g in groups.items() if g.neuron == "layers.0.neurons.1"]
    assert sorted(v._op.name if v._op else "param" for v in hidden) == ["+", "dot", "param", "param", "param", "relu"]
    assert {g.layer for g in groups.values()} == {"layers.0", "layers.1"}
    assert "<B>w.0</B>" in source  # inside its neuron's box a parameter shows its short name
    assert draw_graph(loss, clusters=False).source.count("subgraph") == 0


def test_the_loss_and_the_inputs_stay_outside_the_clusters() -> None:
    loss = hand_built_mlp()
    nodes, _ = trace(loss)
    groups = neuron_groups(nodes)
    assert loss not in groups and loss._prev[0] not in groups  # (out - 1) ** 2 and out - 1
    assert not any(v in groups for v in nodes if not v._prev and not v.label)


def boxes_of(source: str) -> dict[str, str]:
    """{node name: its bold title} for the boxes of a DOT text."""
    return dict(re.findall(r"^\s*(\w+) \[label=<<TABLE[^\n]*?<B>([^<]*)</B>", source, flags=re.M))


def test_collapse_draws_each_neuron_or_layer_as_one_node() -> None:
    loss = hand_built_mlp()
    by_neuron = draw_graph(loss, collapse="neuron").source
    neurons = re.findall(r'class="group neuron"', by_neuron)
    assert len(neurons) == 3 and "3 parameters" in by_neuron and "layers.0" in by_neuron
    assert sorted(label for _, label in clusters_of(by_neuron)) == ["layers.0", "layers.1"]  # neurons inside layers
    by_layer = draw_graph(loss, collapse="layer").source
    assert len(re.findall(r'class="group layer"', by_layer)) == 2 and "subgraph" not in by_layer
    titles = boxes_of(by_layer)
    named = [(titles.get(a, a), titles.get(b, b)) for a, b in edges_of(by_layer)]
    assert ("layers.0", "layers.1") in named and ("layers.1", "layers.0") not in named
    assert 'label="×2"' in by_layer  # the two hidden outputs, one edge
    assert ("layers.1", "+ -1") in named and ("+ -1", "**2") in named  # (out - 1) ** 2: constants are marks


def test_a_real_mlp_is_clustered_and_collapsed() -> None:
    from microgradx import nn  # a plain import: a skip here would hide a broken nn
    model = nn.MLP(2, [4, 3, 1], seed=0)
    out = model([1.0, -2.0])
    loss = (out - 1.0) ** 2
    loss.backward()
    source = draw_graph(loss).source
    names = [label for _, label in clusters_of(source)]
    assert sorted(n for n in names if n.startswith("layers")) == ["layers.0", "layers.1", "layers.2"]
    assert len([n for n in names if n.startswith("neurons")]) == 4 + 3 + 1
    groups = neuron_groups(trace(loss)[0])
    assert {p for p in model.parameters()} <= set(groups)
    for neuron_key in {g.neuron for g in groups.values()}:  # 1 per parameter + dot, +, activation
        members = [v for v, g in groups.items() if g.neuron == neuron_key]
        params = [v for v in members if not v._prev]
        assert len(members) - len(params) in (2, 3)  # the linear output neuron has no activation node
    collapsed = draw_graph(loss, collapse="neuron").source
    assert len(re.findall(r'class="group neuron"', collapsed)) == 8
    assert {"x0", "x1"} <= set(boxes_of(collapsed).values())  # the model's inputs, named by position


def test_a_batch_through_an_mlp_needs_collapse_and_then_draws() -> None:
    from microgradx import nn  # a plain import: a skip here would hide a broken nn
    model = nn.MLP(2, [16, 16, 1], seed=0)
    loss = F.mean([(model([0.1 * i, -0.2 * i]) - 1.0) ** 2 for i in range(8)])
    loss.backward()
    with pytest.raises(GraphTooLarge, match=r"collapse='neuron' or collapse='layer'.*max_nodes="):
        draw_graph(loss)
    layer_view = draw_graph(loss, collapse="layer")
    assert len(nodes_of(layer_view.source)) < 20
    if shutil.which("dot"):
        assert len(svg_nodes(svg_of(layer_view))) == len(nodes_of(layer_view.source))


# -- node limit ------------------------------------------------------------------------------------------


def test_above_the_node_limit_a_clear_error_instead_of_minutes_in_dot() -> None:
    y = Value(0.0)
    for i in range(300):
        y = y * 1.0 + i
    with pytest.raises(GraphTooLarge, match=r"would have 1801 nodes, more than max_nodes=500.*max_nodes="):
        draw_graph(y)
    assert len(nodes_of(draw_graph(y, max_nodes=2000).source)) == 1801
    with pytest.raises(GraphTooLarge, match="max_nodes=10"):
        draw_graph(y, max_nodes=10)
    with pytest.raises(ValueError, match="max_nodes must be a whole number >= 1"):
        draw_graph(y, max_nodes=0)
    with pytest.raises(ValueError, match="collapse must be None, 'neuron' or 'layer'"):
        draw_graph(y, collapse="neurons")


# -- saving, and Graphviz missing ------------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize(("name", "magic"), [("g.svg", b"<?xml"), ("g.png", b"\x89PNG"), ("g.pdf", b"%PDF"),
                                             ("g.dot", b"digraph"), ("g.gv", b"digraph")])
def test_save_picks_the_format_from_the_extension(tmp_path, name: str, magic: bytes) -> None:
    y, _ = neuron_expr()
    path = save(y, tmp_path / name)
    assert path.read_bytes().startswith(magic)
    assert save(draw_graph(y), tmp_path / f"again-{name}").read_bytes().startswith(magic)


def test_save_errors_name_the_fix(tmp_path) -> None:
    y, _ = neuron_expr()
    with pytest.raises(ValueError, match=r"use a \.svg, \.png, \.pdf, \.dot or \.html path"):
        save(y, tmp_path / "graph.jpeg2000")
    with pytest.raises(TypeError, match="pass them to draw_graph"):
        save(draw_graph(y), tmp_path / "g.svg", heatmap=True)
    with pytest.raises(TypeError, match="needs a Value or a graph"):
        save("y", tmp_path / "g.svg")  # type: ignore[arg-type]
    assert save(y, tmp_path / "noext", format="dot").read_text().startswith("digraph")


def test_without_dot_the_error_says_how_to_install_it_and_the_source_still_works(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot anywhere
    y, _ = neuron_expr()
    graph = draw_graph(y)
    assert graph.source.startswith("digraph")
    with pytest.raises(GraphvizNotFound, match=r"apt-get install graphviz.*brew install graphviz.*\.source"):
        graph.pipe(format="svg")
    with pytest.raises(graphviz.ExecutableNotFound):  # still the exception graphviz users catch
        save(y, tmp_path / "g.svg")
    with pytest.raises(GraphvizNotFound):
        save(graphviz.Digraph(), tmp_path / "plain.svg")  # a graph drawn elsewhere gets the advice too
    assert save(y, tmp_path / "g.dot").read_text() == graph.source
    bundle = graph._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "install" in bundle["text/plain"]


@needs_dot
def test_jupyter_display_is_a_picture_that_survives_an_untrusted_notebook() -> None:
    y, _ = neuron_expr()
    graph = draw_graph(y)
    bundle = graph._repr_mimebundle_()
    assert list(bundle) == ["text/html", "image/png", "text/plain"] and isinstance(graph, Graph)
    # the picture is an <img> of the SVG: a sanitizer keeps an image where it strips an inline <svg>
    images = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)"', bundle["text/html"])
    assert len(images) == 1 and "<svg" not in bundle["text/html"]
    assert ET.fromstring(base64.b64decode(images[0])).tag == f"{SVG}svg"
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")  # a raster for viewers without either
    assert "Graph of" in bundle["text/plain"] and "0x" not in bundle["text/plain"]
    svg = graph._repr_mimebundle_(include=["image/svg+xml"])["image/svg+xml"]  # on request, as graphviz gives it
    assert ET.fromstring(svg.encode()).tag == f"{SVG}svg"


def test_a_format_that_contradicts_the_extension_is_refused_and_nothing_is_written(tmp_path, capsys) -> None:
    from microgradx.animate import animate_backward
    from microgradx.cli import main

    y = (Value(1.0, label="x") * 2).tanh()
    with pytest.raises(ValueError, match=r"format='png' does not match the extension of .*a\.svg"):
        save(y, tmp_path / "a.svg", format="png")
    with pytest.raises(ValueError, match=r"the animation is a web page: save it as \.html"):
        animate_backward(y, tmp_path / "b.svg")
    assert main(["draw", "x*2", "--set", "x=1", "--format", "png", "-o", str(tmp_path / "c.svg")]) == 2
    assert "does not match the extension" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert save(y, tmp_path / "d", format="png").read_bytes().startswith(b"\x89PNG")  # no extension: format decides


def test_the_repr_counts_what_the_picture_shows_not_the_legend() -> None:
    x = Value(2.0, label="x")
    y = (x * 3).tanh()
    y.label = "y"
    y.backward()
    # x, the constant 3, x * 3 and y are boxes; * and tanh are op circles; the heat map's legend is neither
    assert repr(draw_graph(y, heatmap=True)).startswith("<Graph of y: 4 boxes and 2 op nodes;")
    assert repr(draw_graph(y)).startswith("<Graph of y: 4 boxes and 2 op nodes;")
    from microgradx.nn import MLP

    model = MLP(2, [3, 1], seed=0)
    out = model([1.0, 2.0])
    out.backward()
    # the inputs x0 and x1 and the two layers
    assert repr(draw_graph(out, collapse="layer", heatmap=True)).startswith("<Graph of the output: 4 boxes;")
