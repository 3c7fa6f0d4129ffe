"""Code written for micrograd runs on microgradx: its constructor, `_op` strings and `_backward` closures."""

from __future__ import annotations

import copy
import math

import graphviz
import pytest

from microgradx import Value, grad, no_grad
from microgradx.ops import RuleError


def _micrograd_style_exp(x: Value) -> Value:
    """The op as micrograd's lecture writes it: a node built by hand with a closure."""
    out = Value(math.exp(x.data), (x,), "exp")

    def _backward() -> None:
        x.grad += out.data * out.grad

    out._backward = _backward
    return out


def _micrograd_style_mul(a: Value, b: Value) -> Value:
    out = Value(a.data * b.data, (a, b), "*")

    def _backward() -> None:
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad

    out._backward = _backward
    return out


def test_op_strings_work_where_micrograds_do() -> None:
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    y = (a * b + 1).relu() ** 2
    ops_seen = {n._op for n in [y, y._prev[0], y._prev[0]._prev[0], a]}
    assert ops_seen == {"**2", "relu", "+", ""}
    assert a._op == "" and not a._op  # a leaf, as micrograd's: falsy and equal to ''
    assert (a * b)._op == "*" and (a * b)._op  # an op node: truthy, equal to its symbol
    assert str(id(y)) + y._op == f"{id(y)}**2"  # concatenation, as micrograd's draw_dot does
    dot = graphviz.Digraph()
    dot.node(name=str(id(y)) + y._op, label=y._op)  # a Graphviz label
    assert 'label="**2"' in dot.source


def test_micrograd_constructor_builds_nodes_by_hand_and_backward_calls_their_closures() -> None:
    x, w = Value(0.5, label="x"), Value(-1.5, label="w")
    y = _micrograd_style_exp(_micrograd_style_mul(x, w))
    assert y._op == "exp" and y._prev[0]._prev == (x, w)
    y.backward()
    expected = math.exp(0.5 * -1.5)
    assert y.data == pytest.approx(expected)
    assert x.grad == pytest.approx(expected * -1.5) and w.grad == pytest.approx(expected * 0.5)


def test_hand_built_nodes_mix_with_table_ops_in_one_graph() -> None:
    x = Value(0.3)
    y = _micrograd_style_exp(x * 2.0).tanh() + x
    y.backward()
    e = math.exp(0.6)
    assert x.grad == pytest.approx((1 - math.tanh(e) ** 2) * e * 2.0 + 1.0)


def test_calling_backward_steps_by_hand_as_in_the_lecture() -> None:
    a, b = Value(2.0), Value(-3.0)
    c = a * b
    d = c + 10.0
    d.grad = 1.0
    d._backward()  # the + node passes 1 to c (and to its constant)
    c._backward()  # the * node: a gets b, b gets a
    a._backward()  # a leaf: nothing to do
    assert (c.grad, a.grad, b.grad) == (1.0, -3.0, 2.0)
    assert d._prev[1].grad == 1.0  # the constant is a node too, as in micrograd


def test_a_table_op_can_be_given_to_the_constructor() -> None:
    from microgradx import ops

    x = Value(0.2)
    y = Value(math.tanh(0.2), (x,), ops.TANH)
    y.backward()
    assert x.grad == pytest.approx(1 - math.tanh(0.2) ** 2)


def test_a_hand_built_node_without_a_closure_is_a_clear_error_not_a_silent_zero() -> None:
    x = Value(1.0)
    y = Value(2.0 * x.data, (x,), "double")
    with pytest.raises(RuleError, match=r"the op 'double' was built by hand .* no _backward closure"):
        y.backward()
    assert x.grad == 0.0
    with pytest.raises(RuleError, match="no _backward closure"):
        y._backward()


def test_create_graph_refuses_a_closure_and_names_the_op() -> None:
    x = Value(0.5)
    y = _micrograd_style_exp(x)
    with pytest.raises(RuleError, match=r"the op 'exp' was built by hand .* works on floats only"):
        grad(y, [x], create_graph=True)
    assert x.grad == 0.0


def test_constructor_mistakes_say_what_to_do() -> None:
    with pytest.raises(TypeError, match=r"pass a label by keyword: Value\(2.0, label='x'\)"):
        Value(2.0, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="every child must be a Value, got 3 at position 1"):
        Value(1.0, (Value(1.0), 3))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="_op must be text naming the op"):
        Value(1.0, (Value(1.0),), 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="_backward must be a function"):
        Value(1.0, (Value(1.0),), "f")._backward = 3  # type: ignore[assignment]


def test_hand_built_nodes_follow_no_grad() -> None:
    x = Value(1.0)
    with no_grad():
        y = Value(x.data * 2, (x,), "double")
    assert y._prev == () and y._op == ""


def test_copies_of_a_graph_share_its_ops() -> None:
    y = Value(1.0) * 2.0
    assert copy.deepcopy(y)._op is y._op and copy.copy(y._op) is y._op


def test_constants_get_the_gradients_micrograd_gives_them_once_drawn() -> None:
    from microgradx.viz import trace

    x = Value(1.0, label="x")
    y = (x * 2 + 1).relu()  # micrograd: the 2 gets d y / d 2 = x = 1, the 1 gets 1
    y.backward()
    nodes, _ = trace(y)
    constants = [n for n in nodes if not n._prev and n is not x]
    assert [(c.data, c.grad) for c in constants] == [(2.0, 1.0), (1.0, 1.0)]
    y.backward()  # a second pass accumulates into them, as into every node
    assert [c.grad for c in constants] == [2.0, 2.0] and x.grad == 4.0


def test_backward_takes_the_outside_gradient_as_pytorch_does() -> None:
    x = Value(3.0)
    (x * x).backward(0.5)
    assert x.grad == 3.0
    with pytest.raises(TypeError, match="pass create_graph=True by keyword"):
        (x * x).backward(True)
    assert x.grad == 3.0


def test_division_by_zero_names_both_sides_as_written() -> None:
    x, y = Value(1.0, label="x"), Value(0.0, label="y")
    with pytest.raises(ValueError, match=r"a / b needs b != 0, got a = 1.0 \('x'\), b = 0.0 \('y'\)"):
        x / y
