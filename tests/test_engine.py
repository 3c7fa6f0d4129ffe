"""The engine: Value, backward, grad, no_grad, errors, numpy interplay, memory."""

from __future__ import annotations

import gc
import math
import sys
import threading
import weakref
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import central_differences

from microgradx import DomainError, Value, enable_grad, grad, is_grad_enabled, no_grad
from microgradx.engine import Value as EngineValue
from microgradx.viz import trace

# -- construction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [3, 2.5, True, np.float64(1.5), np.float32(0.25), np.int64(7), np.bool_(True), Fraction(1, 4)]
)
def test_value_accepts_real_numbers_and_stores_a_float(data: object) -> None:
    v = Value(data)  # type: ignore[arg-type]
    assert type(v.data) is float
    assert v.data == float(data)  # type: ignore[arg-type]
    assert v.grad == 0.0 and v._prev == () and v._op == "" and v.label == ""


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("abc", "got 'abc'"),
        (None, "got None"),
        (1 + 2j, "complex"),
        ([1.0, 2.0], "one Value per number"),
        (np.array([1.0]), "one Value per number"),
        (Value(1.0), "already a Value"),
    ],
)
def test_value_rejects_non_reals_with_a_message_naming_what_it_got(bad: object, words: str) -> None:
    with pytest.raises(TypeError, match="Value\\(\\) expects a real number") as info:
        Value(bad)  # type: ignore[arg-type]
    assert words in str(info.value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_value_rejects_non_finite_numbers(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        Value(bad)


def test_repr_is_readable() -> None:
    assert repr(Value(2.0, label="x")) == "Value(data=2, grad=0, label='x')"
    assert f"{Value(1 / 3):.3f}" == "0.333"


def test_engine_value_is_the_top_level_value() -> None:
    assert EngineValue is Value


# -- arithmetic ----------------------------------------------------------------------------------


def test_operators_and_reflected_forms_compute_like_floats() -> None:
    a, b = Value(3.0), Value(-2.0)
    cases = {
        "a+b": (a + b, 1.0), "a-b": (a - b, 5.0), "a*b": (a * b, -6.0), "a/b": (a / b, -1.5),
        "a**2": (a**2, 9.0), "a**b": (a**b, 1 / 9), "-a": (-a, -3.0), "abs(b)": (abs(b), 2.0),
        "2+a": (2 + a, 5.0), "2-a": (2 - a, -1.0), "2*a": (2 * a, 6.0), "2/a": (2 / a, 2 / 3),
        "2**a": (2**a, 8.0), "a+1.5": (a + 1.5, 4.5), "a-1": (a - 1, 2.0), "a/4": (a / 4, 0.75),
    }
    for name, (value, expected) in cases.items():
        assert isinstance(value, Value), name
        assert value.data == pytest.approx(expected, rel=1e-12), name


def test_unsupported_operand_raises_type_error() -> None:
    with pytest.raises(TypeError):
        Value(1.0) + "a"  # type: ignore[operator]
    with pytest.raises(TypeError):
        None * Value(1.0)  # type: ignore[operator]


def test_comparisons_look_at_data_and_equality_is_identity() -> None:
    a, b = Value(1.0), Value(2.0)
    assert a < b and b > a and a <= 1.0 and b >= 2 and a > 0 and 0 < a  # noqa: SIM300 - reflected too
    assert a != Value(1.0)  # two distinct nodes, even with equal data
    assert len({a, b, a}) == 2
    assert max([a, b]) is b


def test_micrograd_sanity_check_closed_form() -> None:
    # micrograd's test_sanity_check expression; derivatives worked by hand.
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    # z = 3x + 2 = -10; q = z x = 40 (relu(z) = 0); h = z^2 = 100; y = h + q + q x = 100 + 40 - 160
    assert y.data == -20.0
    # dy/dx = 2 z z' + (z' x + z)(1 + x) + q = 2(-10)(3) + (3(-4) - 10)(-3) + 40 = -60 + 66 + 40
    assert x.grad == 46.0


def test_micrograd_more_ops_closed_form() -> None:
    a, b = Value(-4.0), Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    # micrograd's test checks these numbers against PyTorch; they follow from the closed form too.
    assert g.data == pytest.approx(24.70408163265306, rel=1e-12)
    assert a.grad == pytest.approx(138.83381924198252, rel=1e-12)
    assert b.grad == pytest.approx(645.5772594752186, rel=1e-12)


# -- backward ------------------------------------------------------------------------------------


def test_node_used_twice_receives_both_contributions() -> None:
    x = Value(3.0)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad == 7.0


def test_backward_twice_accumulates_like_pytorch() -> None:
    x = Value(2.0)
    y = x * x * x
    y.backward()
    y.backward()
    assert x.grad == 2 * 12.0
    # intermediate nodes accumulate in the same way: each holds the sum of d y / d node
    assert y.grad == 2.0


def test_deep_chain_of_a_million_ops_has_no_recursion_limit() -> None:
    x = Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = y.relu()
    assert sys.getrecursionlimit() < 1_000_000
    y.backward()
    assert x.grad == 1.0
    ref = weakref.ref(y)
    del y  # freeing a million-deep chain must not overflow the C stack either
    assert ref() is None


def test_dropped_graph_is_freed_by_reference_counting_at_once() -> None:
    gc.disable()  # prove that no cycle collection is needed
    try:
        x = Value(1.5)
        y = ((x * 2).tanh() + x.exp()) * x
        y.backward()
        refs = [weakref.ref(n) for n in (y, y._prev[0], y._prev[0]._prev[0])]
        del y
        assert all(r() is None for r in refs)
        assert x.grad != 0.0  # the leaf the user still holds keeps its gradient
    finally:
        gc.enable()


def test_error_in_backward_leaves_every_grad_unchanged() -> None:
    x = Value(0.0)
    w = Value(2.0)
    x.grad, w.grad = 5.0, 7.0
    y = (x.sqrt() + 1) * w  # d sqrt(x) / dx is infinite at 0
    with pytest.raises(DomainError, match="sqrt"):
        y.backward()
    assert (x.grad, w.grad, y.grad) == (5.0, 7.0, 0.0)


def test_overflowing_gradient_raises_instead_of_returning_inf() -> None:
    x = Value(1e-200)
    y = x**-1.0 * 1e100  # dy/dx = -1e100 / x^2 overflows
    with pytest.raises(DomainError, match="not finite"):
        y.backward()
    assert x.grad == 0.0


# -- higher order --------------------------------------------------------------------------------


def test_grad_returns_gradients_without_touching_grad() -> None:
    x, y, unused = Value(2.0), Value(3.0), Value(9.0)
    x.grad = 11.0
    z = x * y + x
    assert grad(z, [x, y, unused]) == (4.0, 2.0, 0.0)
    assert (x.grad, y.grad, unused.grad, z.grad) == (11.0, 0.0, 0.0, 0.0)


def test_issue_example_first_and_second_derivative_of_tanh_neuron() -> None:
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    y = (x * w + b).tanh()
    y.backward()
    t = math.tanh(2.0 * -3.0 + 6.88)
    assert x.grad == pytest.approx(-3.0 * (1 - t * t))
    assert w.grad == pytest.approx(2.0 * (1 - t * t))
    assert b.grad == pytest.approx(1 - t * t)
    (gx,) = grad(y, [x], create_graph=True)
    assert isinstance(gx, Value)
    (gxx,) = grad(gx, [x])
    # d/dx [w (1 - t^2)] = w (-2 t) (1 - t^2) w
    assert gxx == pytest.approx(-2 * t * (1 - t * t) * 9.0)


def test_hessian_vector_product_of_a_quadratic_form() -> None:
    # f(x) = 1/2 x^T A x has Hessian A, so H v = A v.
    a = [[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 4.0]]
    v = [1.0, -2.0, 0.5]
    xs = [Value(x) for x in (0.3, -0.7, 1.1)]
    f = 0.5 * sum(a[i][j] * xs[i] * xs[j] for i in range(3) for j in range(3))
    gs = grad(f, xs, create_graph=True)
    gv = sum(g * vi for g, vi in zip(gs, v))
    hv = grad(gv, xs)
    expected = [sum(a[i][j] * v[j] for j in range(3)) for i in range(3)]
    assert hv == pytest.approx(expected)


def test_newtons_method_finds_the_minimum() -> None:
    # f(x) = x^4 - 3x^2 + x; Newton steps x -= f'(x) / f''(x) from x = 2.
    x = 2.0
    for _ in range(20):
        v = Value(x)
        f = v**4 - 3 * v**2 + v
        (d1,) = grad(f, [v], create_graph=True)
        (d2,) = grad(d1, [v])
        x -= d1.data / d2
    assert 4 * x**3 - 6 * x + 1 == pytest.approx(0.0, abs=1e-12)


def test_backward_create_graph_stores_differentiable_grads() -> None:
    x = Value(1.5)
    y = x**3
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == pytest.approx(3 * 1.5**2)
    assert grad(x.grad, [x]) == (pytest.approx(6 * 1.5),)


def test_third_derivative() -> None:
    x = Value(0.7)
    (d1,) = grad(x.sin(), [x], create_graph=True)
    (d2,) = grad(d1, [x], create_graph=True)
    (d3,) = grad(d2, [x])
    assert d3 == pytest.approx(-math.cos(0.7))


# -- no_grad and detach --------------------------------------------------------------------------


def test_no_grad_builds_no_graph_and_restores_the_mode() -> None:
    x = Value(2.0)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 3 + 1
        with enable_grad():
            z = x * 2
    assert is_grad_enabled()
    assert y._prev == () and y._op == "" and y.data == 7.0
    assert z._prev == (x, z._prev[1])


def test_no_grad_as_decorator_with_and_without_parentheses() -> None:
    @no_grad()
    def f(v: Value) -> Value:
        return v * 2

    @no_grad
    def g(v: Value) -> Value:
        return v * 3

    x = Value(1.0)
    assert f(x)._prev == () and g(x)._prev == () and g(x).data == 3.0
    assert (x * 2)._prev != ()


def test_no_grad_is_per_thread() -> None:
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def worker() -> None:
        with no_grad():
            inside.set()
            release.wait(5)
            seen["worker"] = is_grad_enabled()

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(5)
    seen["main"] = is_grad_enabled()  # the worker's no_grad must not leak here
    release.set()
    thread.join()
    assert seen == {"main": True, "worker": False}


def test_detach_makes_a_leaf_with_the_same_data() -> None:
    x = Value(2.0, label="x")
    y = (x * 3).detach()
    z = y * x
    z.backward()
    assert y._prev == () and y.data == 6.0
    assert x.grad == 6.0  # only the direct path: nothing flows through the detached branch


# -- domain errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Value(0.0).log(), "log(x) needs x > 0, got x = 0.0"),
        (lambda: Value(-1.0).log(), "got x = -1.0"),
        (lambda: Value(-4.0).sqrt(), "sqrt(x) needs x >= 0"),
        (lambda: Value(0.0) ** -1, "x ** -1 needs x != 0"),
        (lambda: Value(-8.0) ** (1 / 3), "needs x > 0"),
        (lambda: Value(1000.0).exp(), "exp(x) needs x <= 709.78"),
        (lambda: Value(-2.0) ** Value(0.5), "a > 0"),
        (lambda: Value(1.0) / 0, "b != 0"),
        (lambda: 1 / Value(0.0), "a / b needs b != 0, got a = 1, b = 0.0"),
        (lambda: Value(1e200) * Value(1e200), "a * b is not a finite number"),
    ],
)
def test_domain_errors_name_the_op_and_the_input(make, words: str) -> None:
    with pytest.raises(DomainError) as info:
        make()
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_domain_error_leaves_existing_values_unchanged() -> None:
    x = Value(-1.0, label="x")
    y = x * 2
    y.backward()
    before = (x.data, x.grad, y.data, y.grad, y._prev)
    with pytest.raises(DomainError):
        y.log()
    assert (x.data, x.grad, y.data, y.grad, y._prev) == before


def test_stable_ops_do_not_overflow_for_large_inputs() -> None:
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0
    assert Value(1000.0).softplus().data == 1000.0
    assert Value(-1000.0).softplus().data == 0.0


# -- numpy interplay -----------------------------------------------------------------------------


def test_numpy_scalars_on_either_side_give_values() -> None:
    for result in (np.float64(2) * Value(3.0), Value(3.0) * np.float64(2), np.float32(2) + Value(3.0),
                   np.int64(2) - Value(3.0), Value(3.0) / np.float64(2)):
        assert isinstance(result, Value)


def test_object_arrays_of_values_support_matmul_sum_and_broadcasting() -> None:
    w = np.array([[Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)], [Value(5.0), Value(6.0)]])
    x = np.array([Value(0.5), Value(-1.0)])
    b = np.array([Value(0.1)])
    y = w @ x + b  # (3, 2) @ (2,) + (1,) broadcasts to (3,)
    assert y.shape == (3,) and all(isinstance(v, Value) for v in y)
    loss = (y * y).sum()
    assert isinstance(loss, Value)
    loss.backward()
    # d loss / d x_j = sum_i 2 y_i w_ij
    ys = [v.data for v in y]
    assert x[0].grad == pytest.approx(2 * (ys[0] * 1 + ys[1] * 3 + ys[2] * 5))
    assert (np.array([1.0, 2.0]) * Value(2.0))[1].data == 4.0


@pytest.mark.parametrize(("ufunc", "reference"), [(np.tanh, math.tanh), (np.exp, math.exp), (np.log, math.log),
                                                  (np.sqrt, math.sqrt), (np.sin, math.sin), (np.abs, abs)])
def test_numpy_ufuncs_on_object_arrays_call_the_value_methods(ufunc, reference) -> None:
    xs = np.array([Value(0.5), Value(2.0)])
    ys = ufunc(xs)
    assert all(isinstance(y, Value) for y in ys)
    assert [y.data for y in ys] == pytest.approx([reference(0.5), reference(2.0)])
    ys.sum().backward()  # and gradients flow back through them
    h = 1e-6
    assert xs[0].grad == pytest.approx((reference(0.5 + h) - reference(0.5 - h)) / (2 * h), rel=1e-6)


# -- random expression DAGs ----------------------------------------------------------------------

UNARY = {
    "tanh": (lambda v: v.tanh(), math.tanh),
    "sin": (lambda v: v.sin(), math.sin),
    "sigmoid": (lambda v: v.sigmoid(), lambda x: 1 / (1 + math.exp(-x))),
    "square": (lambda v: v**2, lambda x: x * x),
    "softplus": (lambda v: v.softplus(), lambda x: math.log1p(math.exp(x))),
    "gelu": (lambda v: v.gelu(), lambda x: 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
}
BINARY = {
    "+": (lambda a, b: a + b, lambda a, b: a + b),
    "-": (lambda a, b: a - b, lambda a, b: a - b),
    "*": (lambda a, b: a * b, lambda a, b: a * b),
    "/": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),  # a denominator that is never 0
}


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[float], list[tuple]]:
    """A program: n inputs, then steps that each combine earlier nodes (so nodes are reused)."""
    n_inputs = draw(st.integers(1, 3))
    xs = draw(st.lists(st.floats(-1.5, 1.5), min_size=n_inputs, max_size=n_inputs))
    steps = []
    for k in range(draw(st.integers(1, 8))):
        available = n_inputs + k
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, available - 1))))
        else:
            i, j = draw(st.integers(0, available - 1)), draw(st.integers(0, available - 1))
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))), i, j))
    return xs, steps


def run(program: list[tuple], inputs: list, table: int) -> object:
    """Evaluate the program on Values (table 0) or floats (table 1); the output sums every node."""
    nodes = list(inputs)
    for step in program:
        if step[0] == "u":
            nodes.append(UNARY[step[1]][table](nodes[step[2]]))
        else:
            nodes.append(BINARY[step[1]][table](nodes[step[2]], nodes[step[3]]))
    total = nodes[0]
    for node in nodes[1:]:
        total = total + node
    return total


@given(dags())
def test_random_dags_match_finite_differences(case: tuple[list[float], list[tuple]]) -> None:
    xs, program = case
    values = [Value(x) for x in xs]
    out = run(program, values, 0)
    assert out.data == pytest.approx(run(program, xs, 1), rel=1e-12, abs=1e-12)
    out.backward()
    numeric = central_differences(lambda p: run(program, p, 1), xs)
    assert [v.grad for v in values] == pytest.approx(numeric, rel=1e-5, abs=1e-6)


@given(dags())
def test_random_dags_second_derivatives_match_differences_of_first(case: tuple[list[float], list[tuple]]) -> None:
    xs, program = case
    values = [Value(x) for x in xs]
    firsts = grad(run(program, values, 0), values, create_graph=True)

    def first_derivative(i: int, point: list[float]) -> float:
        vs = [Value(p) for p in point]
        return grad(run(program, vs, 0), vs)[i]

    for i, first in enumerate(firsts):
        hessian_row = grad(first, values)
        numeric = central_differences(lambda p, i=i: first_derivative(i, p), xs)
        assert list(hessian_row) == pytest.approx(numeric, rel=1e-4, abs=1e-5)


@given(dags())
def test_random_dags_match_pytorch_when_installed(case: tuple[list[float], list[tuple]]) -> None:
    torch = pytest.importorskip("torch", reason="optional reference: PyTorch is not installed")
    xs, program = case
    values = [Value(x) for x in xs]
    run(program, values, 0).backward()
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    torch_unary = {"tanh": torch.tanh, "sin": torch.sin, "sigmoid": torch.sigmoid, "square": lambda t: t**2,
                   "softplus": torch.nn.functional.softplus,
                   "gelu": lambda t: torch.nn.functional.gelu(t, approximate="tanh")}
    nodes = list(tensors)
    for step in program:
        if step[0] == "u":
            nodes.append(torch_unary[step[1]](nodes[step[2]]))
        else:
            nodes.append(BINARY[step[1]][1](nodes[step[2]], nodes[step[3]]))
    torch.stack([n.reshape(()) for n in nodes]).sum().backward()
    assert [v.grad for v in values] == pytest.approx([t.grad.item() for t in tensors], rel=1e-9, abs=1e-12)


# -- user-defined ops ----------------------------------------------------------------------------


def test_define_op_makes_an_op_that_backward_and_grad_understand() -> None:
    from microgradx import define_op, ops

    swish = define_op("swish", lambda x: x * ops.sigmoid(x),
                      lambda x, out: (ops.sigmoid(x) + out * (1 - ops.sigmoid(x)),))
    x = Value(0.8)
    y = swish(x)
    assert y._op.name == "swish" and y._prev == (x,)
    s = 1 / (1 + math.exp(-0.8))
    (d1,) = grad(y, [x], create_graph=True)
    assert d1.data == pytest.approx(s + 0.8 * s * (1 - s))
    # d/dx [s + x s (1 - s)] = s(1-s) + s(1-s) + x s(1-s)(1-2s)
    assert grad(d1, [x]) == (pytest.approx(2 * s * (1 - s) + 0.8 * s * (1 - s) * (1 - 2 * s)),)
    assert swish(2).data == pytest.approx(2 / (1 + math.exp(-2)))  # numbers are accepted too


@pytest.mark.parametrize(
    ("derivative", "words"),
    [
        (lambda x, out: 2.0, "returned 2.0; return a tuple with one local partial per input"),
        (lambda x, out: (1.0, 2.0), "returned (1.0, 2.0), but the op has 1 input(s)"),
    ],
)
def test_define_op_names_the_op_when_its_rule_returns_the_wrong_partials(derivative, words: str) -> None:
    from microgradx import define_op

    op = define_op("mine", lambda x: 2 * x, derivative)
    x = Value(1.0)
    for run_backward in (lambda y: y.backward(), lambda y: grad(y, [x], create_graph=True)):
        with pytest.raises(TypeError, match="op 'mine'") as info:
            run_backward(op(x))
        assert words in str(info.value)
    assert x.grad == 0.0


def test_define_op_checks_signatures_and_arity_up_front() -> None:
    from microgradx import define_op

    with pytest.raises(TypeError, match=r"define_op\('f'\): the derivative must take .* derivative\(x, out\)"):
        define_op("f", lambda x: x, lambda x: (1.0,))
    g = define_op("g", lambda a, b: a - b, lambda a, b, out: (1.0, -1.0))
    with pytest.raises(TypeError, match="g takes 2 input"):
        g(Value(1.0))
    assert define_op("k", abs, lambda x, out: (1.0,), kinks=[0.0]).op.kinks == (0.0,)


def test_a_math_based_rule_says_how_to_support_second_order() -> None:
    from microgradx import define_op

    exp = define_op("myexp", math.exp, lambda x, out: (math.exp(x),), arity=1)
    x = Value(0.5)
    assert grad(exp(x), [x]) == (pytest.approx(math.exp(0.5)),)  # first order works with math
    with pytest.raises(TypeError, match=r"cannot take Values.*microgradx\.ops functions"):
        grad(exp(x), [x], create_graph=True)


def test_accumulating_into_an_overflowing_grad_raises_and_keeps_the_old_grads() -> None:
    x = Value(1.0)
    y = x * 1e308
    y.backward()
    assert x.grad == 1e308
    with pytest.raises(DomainError, match=r"accumulated gradient .* overflowed; call zero_grad"):
        y.backward()  # 1e308 + 1e308 is inf
    assert x.grad == 1e308 and y.grad == 1.0


# -- numbers Python handles exactly, floats do not ------------------------------------------------

HUGE = [10**400, -(10**400), Fraction(10**400, 3)]


@pytest.mark.parametrize("huge", HUGE, ids=["10**400", "-10**400", "Fraction"])
def test_numbers_beyond_a_float_are_a_clear_error_naming_the_value(huge: object) -> None:
    x = Value(2.0)
    makers = [lambda: Value(huge), lambda: x + huge, lambda: huge + x, lambda: x * huge, lambda: x - huge,
              lambda: x / huge, lambda: x ** huge, lambda: huge - x]
    for make in makers:
        with pytest.raises(ValueError, match=r"expects a number a float can hold .*got (Fraction\()?-?\d+"):
            make()
    assert x.grad == 0.0 and x._prev == ()


@pytest.mark.parametrize("huge", HUGE, ids=["10**400", "-10**400", "Fraction"])
def test_comparisons_with_huge_numbers_answer_as_python_does(huge: object) -> None:
    for data in (1.0, -1.0, 1e308, -1e308):
        v = Value(data)
        assert (v < huge, v <= huge, v > huge, v >= huge) == (data < huge, data <= huge, data > huge, data >= huge)
        assert (huge > v) == (huge > data)  # the reflected form
    assert max(Value(1.0), Value(3.0)).data == 3.0


# -- constants stay plain floats until someone looks ---------------------------------------------


def test_a_constant_operand_becomes_one_stable_node_when_asked_for() -> None:
    x = Value(3.0, label="x")
    y = x * 0.5 + 2.0
    product = y._prev[0]
    half = product._prev[1]
    assert isinstance(half, Value) and half.data == 0.5 and half._prev == ()
    assert product._prev[1] is half  # the same node every time
    nodes, _ = trace(y)
    assert [n.data for n in nodes if not n._prev] == [3.0, 0.5, 2.0]


def test_gradients_are_the_same_whether_constants_were_looked_at_or_not() -> None:
    def build() -> tuple[Value, Value]:
        x = Value(1.5)
        return x, ((x * 0.25 - 1.0) * (x / 4.0 + 3.0)).tanh() * -2.0

    x1, y1 = build()
    y1.backward()
    x2, y2 = build()
    trace(y2)  # makes every constant a node
    y2.backward()
    assert x1.grad == x2.grad != 0.0
    constants = [n for n in trace(y2)[0] if not n._prev and n is not x2]
    assert constants and all(c.grad != 0.0 for c in constants)  # as micrograd's constants, they get gradients


@pytest.mark.parametrize(("make", "words"), [
    (lambda: Value(5e-324) ** -1, "x ** -1 is not a finite number for x = 5e-324: the result is beyond the largest"),
    (lambda: Value(1e-300) ** Value(-800.0), "a ** b is not a finite number for a = 1e-300, b = -800.0: the result"),
    (lambda: Value(1e200) * Value(1e200), "a * b is not a finite number for a = 1e+200, b = 1e+200: the result"),
    (lambda: Value(0.0) ** -1, "x ** -1 needs x != 0, got x = 0.0"),
])
def test_an_overflow_inside_the_domain_is_not_called_a_domain_violation(make, words: str) -> None:
    with pytest.raises(DomainError) as info:
        make()
    assert str(info.value).startswith(words)
