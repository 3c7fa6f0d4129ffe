"""micrograd's users arrive with micrograd's notebooks: they run here with only their imports changed.

Each test below is an equivalent of one of micrograd's notebooks (written for this suite, not
copied), with ``micrograd`` replaced by ``microgradx`` in the imports, and compares what it prints
with the figures micrograd published:

- ``demo.ipynb`` (karpathy/micrograd): ``np.random.seed(1337); random.seed(1337)``, the moons data
  (scikit-learn's ``make_moons`` there, :func:`microgradx.data.make_moons` here), ``MLP(2, [16, 16, 1])``
  and 100 steps of SGD on the hinge loss + 1e-4 L2, printing the loss and accuracy of every step.
- ``trace_graph.ipynb`` (karpathy/micrograd): its ``draw_dot`` helper, which names op nodes
  ``str(id(n)) + n._op`` and labels them ``n._op``, on ``relu(x * 2 + 1)`` and on a 2-input neuron
  after ``random.seed(1337)``; the neuron's figures are those of micrograd's ``gout.svg``.
- micrograd's lecture (karpathy/nn-zero-to-hero, lectures/micrograd): ops written the way micrograd's
  engine writes them, ``out = Value(math.exp(x.data), (x,), 'exp')`` and ``out._backward = closure``,
  on the lecture's neuron tanh(x1 w1 + x2 w2 + b), whose published gradients are shown in its graphs.
"""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import numpy as np
import pytest
from graphviz import Digraph

from microgradx import nn
from microgradx.data import make_moons  # in micrograd's notebook: from sklearn.datasets import make_moons
from microgradx.engine import Value
from microgradx.nn import MLP

# demo.ipynb's printed output, "step k loss L, accuracy A%", for k = 0 ... 99: (L, A) per step.
PUBLISHED_DEMO = [
    tuple(map(float, pair.split()))
    for pair in """
    0.8958441028683222 50.0  1.7235905336972022 81.0  0.7429006313851131 77.0  0.7705641260584198 82.0
    0.3692793385976538 84.0  0.313545481918522 86.0  0.2814234349772435 89.0  0.26888733313983904 91.0
    0.2567147286057417 91.0  0.2704862551637922 91.0  0.24507023853658053 91.0  0.2509905529791503 92.0
    0.21560951851922952 91.0  0.23090378446402726 93.0  0.20152151227899445 92.0  0.22574506279282217 93.0
    0.19447987596204114 92.0  0.21089496199246363 93.0  0.159830773563036 94.0  0.1845374874688392 93.0
    0.18977522856087634 91.0  0.19072704042579647 93.0  0.11733695088756485 97.0  0.12173524408232454 95.0
    0.1261571261277045 95.0  0.16049097780801674 95.0  0.18747197705245805 92.0  0.16741837891059408 95.0
    0.09586583491455399 97.0  0.0877878370742091 96.0  0.11731297569011848 95.0  0.09340146460619836 97.0
    0.12454454903103446 95.0  0.07984002652777272 97.0  0.07727519232921673 97.0  0.07661250143094483 98.0
    0.10610492379198365 96.0  0.09062808429265976 99.0  0.10671887043036932 95.0  0.05225659921975849 98.0
    0.06016009895234464 100.0  0.08596724533333942 96.0  0.051121079431796 99.0  0.052401424016428284 97.0
    0.045306841790015734 100.0  0.07211073370655095 97.0  0.03334238651310234 99.0  0.03143222795751122 100.0
    0.03658536747111507 99.0  0.04829139382390309 99.0  0.09875114765619622 96.0  0.05449063965875453 99.0
    0.03392679435708309 100.0  0.05261517263568441 97.0  0.03250295251424923 99.0  0.02888327387207822 100.0
    0.04139151104027239 98.0  0.018987407426128502 100.0  0.0252383352388374 100.0  0.02079656521341895 100.0
    0.0325971115781023 99.0  0.017863351693480307 100.0  0.023008717832211683 100.0  0.022079325463581503 100.0
    0.029432917853529684 99.0  0.01625151464409193 100.0  0.02846853448326446 99.0  0.013994365546208731 100.0
    0.015552344843651405 100.0  0.0338911994616017 99.0  0.014229870065926908 100.0  0.013255281583285504 100.0
    0.012300277590022063 100.0  0.012676052498355976 100.0  0.020593811955954763 100.0  0.011845398205364453 100.0
    0.016012697472883086 100.0  0.025458360239222128 100.0  0.014382930289661911 100.0  0.011698962425817985 100.0
    0.012318500800515763 100.0  0.014121117031464233 100.0  0.011664591962446225 100.0  0.011589314549188726 100.0
    0.010990299347735226 100.0  0.01098922672069161 100.0  0.010988193757655071 100.0  0.010987200447388707 100.0
    0.010986246779084925 100.0  0.010985332742365272 100.0  0.010984458327280174 100.0  0.010983623524308862 100.0
    0.010982828324359073 100.0  0.010982072718767003 100.0  0.010981356699297042 100.0  0.010980680258141723 100.0
    0.010980043387921506 100.0  0.010979446081684675 100.0  0.010978888332907229 100.0  0.010978370135492717 100.0
    """.replace("  ", "\n").split("\n")
    if pair.strip()
]
# demo.ipynb's decision-boundary cell ends with plt.ylim(yy.min(), yy.max()) and shows the pair:
# a function of the data alone (its smallest second coordinate), to the last digit.
PUBLISHED_YLIM = (-1.548639298268643, 1.951360701731357)
# micrograd's gout.svg, the 2-input neuron of trace_graph.ipynb: "data | grad" of its leaves and output.
PUBLISHED_NEURON = {"w0": (0.2355, 1.0), "w1": (0.0665, -2.0), "x0": (1.0, 0.2355), "x1": (-2.0, 0.0665),
                    "b": (0.0, 1.0), "out": (0.1024, 1.0)}


def test_the_published_figures_were_read_whole() -> None:
    assert len(PUBLISHED_DEMO) == 100 and PUBLISHED_DEMO[0] == (0.8958441028683222, 50.0)


# -- demo.ipynb ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_notebook_prints_micrographs_numbers() -> None:
    np.random.seed(1337)
    random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    y = y * 2 - 1  # make y be -1 or 1

    model = MLP(2, [16, 16, 1])  # 2-layer neural network
    assert str(model).startswith("MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2)")
    assert len(model.parameters()) == 337

    def loss() -> tuple[Value, float]:
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]  # svm "max-margin" loss
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())  # L2 regularization
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
        return data_loss + reg_loss, sum(accuracy) / len(accuracy)

    printed = []
    for k in range(100):
        total_loss, acc = loss()
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        printed.append((total_loss.data, acc * 100))

    assert printed[0] == (0.8958441028683222, 50.0)  # the very first figure, to the last digit
    for k, ((loss_k, acc_k), (published_loss, published_acc)) in enumerate(zip(printed, PUBLISHED_DEMO)):
        # Sums are added in another order here (a neuron's w . x is one dot node), so the last digits
        # may differ after a few steps; every accuracy is the same.
        assert loss_k == pytest.approx(published_loss, rel=1e-12), f"step {k}"
        assert acc_k == published_acc, f"step {k}"

    h = 0.25  # the decision-boundary cell's grid
    y_min, y_max = X[:, 1].min() - 1, X[:, 1].max() + 1
    _, yy = np.meshgrid(np.arange(X[:, 0].min() - 1, X[:, 0].max() + 1, h), np.arange(y_min, y_max, h))
    assert (yy.min(), yy.max()) == PUBLISHED_YLIM


def test_seed_none_draws_from_the_global_generators_as_micrograd_and_scikit_learn_do() -> None:
    random.seed(1337)
    expected = [random.uniform(-1, 1) for _ in range(2 * 16 + 16 * 16 + 16)]  # micrograd's order
    random.seed(1337)
    weights = [p.data for p in MLP(2, [16, 16, 1]).parameters() if not p.label.endswith(".b")]
    assert weights == expected
    np.random.seed(7)
    first = make_moons(10, noise=0.1)
    np.random.seed(7)
    again = make_moons(10, noise=0.1)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    same = make_moons(10, noise=0.1, seed=np.random.RandomState(7))  # scikit-learn's random_state=7
    assert np.array_equal(first[0], same[0])


# -- trace_graph.ipynb -------------------------------------------------------------------------------


def trace(root: Value) -> tuple[set[Value], set[tuple[Value, Value]]]:
    """trace_graph.ipynb's walk: every node and edge behind root, recursively, into sets."""
    nodes: set[Value] = set()
    edges: set[tuple[Value, Value]] = set()

    def build(v: Value) -> None:
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)

    build(root)
    return nodes, edges


def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR") -> Digraph:
    """trace_graph.ipynb's helper, as tutorials copy it: a record per Value, a node per op named id + op."""
    assert rankdir in ["LR", "TB"]
    nodes, edges = trace(root)
    dot = Digraph(format=format, graph_attr={"rankdir": rankdir})
    for n in nodes:
        dot.node(name=str(id(n)), label="{ data %.4f | grad %.4f }" % (n.data, n.grad), shape="record")  # noqa: UP031
        if n._op:
            dot.node(name=str(id(n)) + n._op, label=n._op)
            dot.edge(str(id(n)) + n._op, str(id(n)))
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot


def records(dot: Digraph) -> list[str]:
    return re.findall(r'label="\{ (data [^"]*) \}"', dot.source)


def test_trace_graph_notebook_simple_example() -> None:
    x = Value(1.0)
    y = (x * 2 + 1).relu()
    y.backward()
    dot = draw_dot(y)
    assert (y.data, x.grad) == (3.0, 2.0)
    assert {"data 1.0000 | grad 2.0000", "data 3.0000 | grad 1.0000"} <= set(records(dot))
    ops = [v._op for v in trace(y)[0] if v._op]
    assert sorted(ops) == ["*", "+", "relu"]  # strings: concatenated into names, used as labels
    assert not x._op and x._op == ""
    svg = dot.pipe(format="svg", encoding="utf-8")
    assert svg.count('class="node"') == len(trace(y)[0]) + 3  # each Value, and one node per op


def test_trace_graph_notebook_neuron_matches_gout_svg(tmp_path: Path) -> None:
    random.seed(1337)
    n = nn.Neuron(2)
    x = [Value(1.0), Value(-2.0)]
    y = n(x)
    y.backward()
    dot = draw_dot(y)
    shown = set(records(dot))
    for name, (data, grad) in PUBLISHED_NEURON.items():
        assert f"data {data:.4f} | grad {grad:.4f}" in shown, name
    dot.render(tmp_path / "gout")  # the notebook's last cell writes gout and gout.svg
    assert "0.1024" in (tmp_path / "gout.svg").read_text()


# -- micrograd's lecture: ops with their own _backward closure ----------------------------------------


def exp(x: Value) -> Value:
    """exp written the way micrograd's engine writes an op: a node, then its backward closure."""
    out = Value(math.exp(x.data), (x,), "exp")

    def _backward() -> None:
        x.grad += out.data * out.grad

    out._backward = _backward
    return out


def tanh(x: Value) -> Value:
    t = (math.exp(2 * x.data) - 1) / (math.exp(2 * x.data) + 1)
    out = Value(t, (x,), "tanh")

    def _backward() -> None:
        x.grad += (1 - t**2) * out.grad

    out._backward = _backward
    return out


def lecture_neuron() -> tuple[Value, ...]:
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    return x1, x2, w1, w2, b, n


def test_lecture_style_ops_run_their_own_backward() -> None:
    x1, x2, w1, w2, b, n = lecture_neuron()
    o = tanh(n)
    o.backward()
    assert o._op == "tanh" and o._prev == (n,)
    # The lecture's graph: o 0.7071, and x1 -1.5, w1 1.0, x2 0.5, w2 0.0, b 0.5, n 0.5.
    assert o.data == pytest.approx(math.sqrt(0.5))
    assert [x1.grad, w1.grad, x2.grad, w2.grad, b.grad, n.grad] == pytest.approx([-1.5, 1.0, 0.5, 0.0, 0.5, 0.5])


def test_lecture_style_exp_inside_table_ops() -> None:
    x1, x2, w1, w2, b, n = lecture_neuron()
    e = exp(2 * n)  # a closure node between nodes whose rules come from the table
    o = (e - 1) / (e + 1)
    o.backward()
    # The lecture's graph of the same neuron with tanh spelled out: e 5.8284 (grad 0.0429).
    assert f"{e.data:.4f} {e.grad:.4f}" == "5.8284 0.0429"
    assert [x1.grad, w1.grad, x2.grad, w2.grad, b.grad] == pytest.approx([-1.5, 1.0, 0.5, 0.0, 0.5])
    assert e.grad == pytest.approx(2 / (e.data + 1) ** 2)  # d/de (e - 1)/(e + 1)


def test_value_keeps_micrographs_constructor() -> None:
    a = Value(2.0)
    v = Value(4.0, (a,), "square", label="sq")
    assert v.label == "sq" and v._prev == (a,) and v._op == "square"
    assert Value(4.0, label="x").label == "x"
