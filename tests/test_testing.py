"""The public hypothesis strategies of microgradx.testing, and assert_grads_match."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from microgradx import Value, define_op, ops
from microgradx.gradcheck import GradcheckError
from microgradx.testing import Expression, assert_grads_match, expressions, mlps, values


@given(values(-2.5, 4.0))
def test_values_are_leaves_within_bounds(x: Value) -> None:
    assert isinstance(x, Value) and not x._prev and x._op == ""
    assert -2.5 <= x.data <= 4.0 and math.isfinite(x.data)


def test_values_reach_both_bounds() -> None:
    assert find(values(-2.5, 4.0), lambda x: x.data >= 4.0).data == 4.0
    assert find(values(-2.5, 4.0), lambda x: x.data <= -2.5).data == -2.5


# -- expressions ------------------------------------------------------------------------------------


def replay(e: Expression) -> list[tuple[object, list[float], float]]:
    """Each step's op, the floats it was fed and its result, recomputed here from the op table."""
    data = list(e.inputs)
    seen = []
    for op, args in e.steps:
        xs = [data[k] for k in args]
        data.append(op.forward(*xs))
        seen.append((op, xs, data[-1]))
    return seen


@given(expressions(max_depth=3))
def test_every_op_is_fed_points_of_its_domain(e: Expression) -> None:
    for op, xs, out in replay(e):
        assert op.valid is None or op.valid(*xs), (op, xs)
        assert math.isfinite(out)
    out = e(*[Value(x) for x in e.inputs])
    assert out.data == pytest.approx(replay(e)[-1][2] if e.steps else e.inputs[-1])


@given(expressions(max_depth=2, max_inputs=2))
def test_depth_and_inputs_are_bounded(e: Expression) -> None:
    depth = [0] * len(e.inputs)
    for _, args in e.steps:
        depth.append(1 + max(depth[k] for k in args))
    last_is_join = len(e.steps) > 1 and e.steps[-1][0] is ops.SUM
    assert max(depth) <= 2 + last_is_join  # the final join of unused results adds one
    assert 1 <= len(e.inputs) <= 2


@given(expressions(max_depth=3))
def test_every_step_counts(e: Expression) -> None:
    used = {k for _, args in e.steps for k in args}
    results = range(len(e.inputs), len(e.inputs) + len(e.steps) - 1)
    assert all(k in used for k in results)  # each step but the last feeds a later one


def graph_of(e: Expression) -> list[Value]:
    """Every node of the Values that ``e`` builds (not its own description of them), parents first."""
    order: list[Value] = []
    seen: set[int] = set()

    def visit(v: Value) -> None:
        if id(v) not in seen:
            seen.add(id(v))
            for p in v._prev:
                visit(p)
            order.append(v)

    visit(e(*[Value(x) for x in e.inputs]))
    return order


def test_expressions_reuse_results() -> None:
    # A DAG, not a tree: in the graph an expression builds, some op's result feeds two uses.
    def reuses(e: Expression) -> bool:
        args = [k for _, step_args in e.steps for k in step_args if k >= len(e.inputs)]
        return len(args) > len(set(args))

    e = find(expressions(max_depth=3), reuses)  # what the strategy says it made ...
    uses: dict[int, int] = {}
    for node in graph_of(e):  # ... is what the Values show
        for parent in node._prev:
            if parent._prev:  # an op's result, not an input or a constant
                uses[id(parent)] = uses.get(id(parent), 0) + 1
    assert max(uses.values()) >= 2


def test_expressions_reach_every_op_of_the_table() -> None:
    for op in ops.PRIMITIVES.values():
        e = find(expressions(max_depth=2), lambda e, op=op: op in e.ops, settings=settings(max_examples=2000))
        assert any(node._op is op for node in graph_of(e)), op  # the graph really applies it


def test_domains_are_respected_where_they_are_narrow() -> None:
    # log, sqrt and a ** b need positive inputs; the strategy must still produce them, at valid points.
    for name in ("log", "sqrt", "**"):
        e = find(expressions(max_depth=1, ops=[name]), lambda e: len(e.steps) > 0)
        for op, xs, _ in replay(e):
            assert op.valid(*xs)
            assert all(x > 0 for x in xs[:1])


my_softplus = define_op("my_softplus", lambda x: math.log1p(math.exp(x)), lambda x, out: (ops.sigmoid(x),))
bad_softplus = define_op("bad_softplus", lambda x: math.log1p(math.exp(x)), lambda x, out: (ops.sigmoid(-x),))


@given(expressions(max_depth=2, ops=[my_softplus, "*", "tanh"]))
def test_expressions_take_user_ops_and_names(e: Expression) -> None:
    assert {op.name for op in e.ops} <= {"my_softplus", "*", "tanh", "sum"}
    assert_grads_match(e, e.inputs, order=2)


def test_expressions_over_a_wrong_op_are_caught() -> None:
    @settings(database=None)
    @given(expressions(max_depth=2, ops=[bad_softplus, "+"]))
    def prop(e: Expression) -> None:
        assert_grads_match(e, e.inputs)

    with pytest.raises(GradcheckError, match="bad_softplus"):
        prop()


def test_expression_calls_and_reads_like_a_program() -> None:
    e = Expression((2.0, 3.0), [(ops.MUL, (0, 1)), (ops.TANH, (2,)), (ops.pow_op(2.0), (2,)), (ops.SUM, (3, 4))])
    assert repr(e) == "Expression(t0 = x0 * x1; t1 = tanh(t0); t2 = t0 ** 2; t3 = sum(t1, t2); at x0 = 2, x1 = 3)"
    assert e(Value(2.0), Value(3.0)).data == pytest.approx(math.tanh(6.0) + 36.0)
    with pytest.raises(TypeError, match="takes 2 input"):
        e(Value(1.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ops": ["nope"]}, "no op named 'nope'"),
        ({"ops": [42]}, "Ops, names from the table, or functions made by define_op"),
        ({"ops": []}, "ops is empty"),
        ({"max_depth": 0}, "max_depth"),
        ({"min_value": 2.0, "max_value": 1.0}, "min_value"),
    ],
)
def test_expressions_refuse_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        expressions(**kwargs)


# -- assert_grads_match -----------------------------------------------------------------------------


@given(values(-5, 5))
def test_assert_grads_match_passes_a_right_op(x: Value) -> None:
    assert_grads_match(my_softplus, [x], order=2)


def test_assert_grads_match_fails_a_wrong_op_with_the_table() -> None:
    @settings(database=None)
    @given(values(-5, 5))
    def prop(x: Value) -> None:
        assert_grads_match(bad_softplus, [x])

    with pytest.raises(AssertionError) as caught:
        prop()
    assert isinstance(caught.value, GradcheckError)
    assert "likely culprit" in str(caught.value) and "bad_softplus" in str(caught.value)


def test_assert_grads_match_checks_second_order_only_when_asked() -> None:
    flat = define_op("flat_sin", math.sin, lambda x, out: (math.cos(x.data if isinstance(x, Value) else x),))
    assert_grads_match(lambda v: flat(v) * v, [0.7])
    with pytest.raises(GradcheckError, match="flat_sin"):
        assert_grads_match(lambda v: flat(v) * v, [0.7], order=2)
    with pytest.raises(ValueError, match="order"):
        assert_grads_match(lambda v: v, [0.7], order=0)


def test_assert_grads_match_lets_kinks_pass() -> None:
    assert_grads_match(lambda v: v.relu(), [0.0])


# -- mlps -------------------------------------------------------------------------------------------

@settings(max_examples=25)
@given(mlps(max_inputs=3, max_layers=2, max_width=3), st.data())
def test_mlps_have_the_drawn_shape_and_right_gradients(model, data) -> None:
    nin = len(model.layers[0].neurons[0].w)
    assert 1 <= nin <= 3 and 1 <= len(model.layers) <= 3
    assert all(1 <= len(layer.neurons) <= 3 for layer in model.layers[:-1])
    assert len(model.layers[-1].neurons) == 1
    x = data.draw(st.lists(st.floats(-2, 2), min_size=nin, max_size=nin))

    def loss(*_: Value) -> Value:  # reads the model's own parameters, which gradcheck nudges in place
        return model(x) ** 2

    assert_grads_match(loss, model.parameters())


def test_mlps_are_reproducible_and_use_the_given_activations() -> None:
    model = find(mlps(max_layers=1, activations=["tanh"]), lambda m: len(m.layers) == 2)
    again = find(mlps(max_layers=1, activations=["tanh"]), lambda m: len(m.layers) == 2)
    assert [p.data for p in model.parameters()] == [p.data for p in again.parameters()]
    assert "Tanh" in repr(model)


# -- hypothesis stays a test dependency -------------------------------------------------------------


def test_importing_microgradx_does_not_need_hypothesis() -> None:
    code = textwrap.dedent("""
        import sys
        sys.modules["hypothesis"] = None  # make `import hypothesis` fail, as where it is not installed
        import microgradx, microgradx.gradcheck
        assert "microgradx.testing" not in sys.modules
        try:
            import microgradx.testing
        except ImportError:
            print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
