"""gradcheck, gradgradcheck, numerical_grad and their reports.

Expected numbers come from closed forms written here (d/dx x^3 = 3x^2, ...), never from the code
under test. Wrong derivative rules are made on purpose with define_op, each with one classic mistake.
"""

from __future__ import annotations

import math
import re
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx import DomainError, Value, define_op, grad, no_grad, ops, viz
from microgradx.engine import apply_op
from microgradx.gradcheck import (
    GradcheckError,
    GradcheckReport,
    GradcheckWarning,
    check,
    gradcheck,
    gradgradcheck,
    numerical_grad,
)
from microgradx.ops import Op, RuleError
from microgradx.testing import expressions

# -- every op of the table passes -------------------------------------------------------------------

TABLE = [
    *ops.PRIMITIVES.values(),
    ops.pow_op(2.0), ops.pow_op(3.0), ops.pow_op(-1.0), ops.pow_op(-2.0), ops.pow_op(0.5), ops.pow_op(1.5),
    ops.pow_op(0.0), ops.leaky_relu_op(0.1), ops.elu_op(1.0), ops.elu_op(0.5),
]
CANDIDATES = [-1.7, -0.6, 0.3, 0.8, 1.9]  # none is a kink or an edge of a domain


def points(op: Op) -> list[list[float]]:
    """A few points inside op's domain: each candidate value (shifted per input) for every input."""
    arity = op.arity or 4  # sum and dot: four inputs
    found = []
    for shift in range(len(CANDIDATES)):
        xs = [CANDIDATES[(shift + k) % len(CANDIDATES)] for k in range(arity)]
        if op.valid is None or op.valid(*xs):
            found.append(xs)
    assert found, f"no candidate point fits the domain of {op.name}"
    return found


@pytest.mark.parametrize("op", TABLE, ids=lambda op: op.name)
def test_every_op_passes_gradcheck_and_gradgradcheck(op: Op) -> None:
    for xs in points(op):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # none of the points is on a kink
            assert gradcheck(lambda *vs: apply_op(op, *vs), xs)
            assert gradgradcheck(lambda *vs: apply_op(op, *vs), xs)


@settings(max_examples=60)
@given(expressions(max_depth=3))
def test_random_expressions_pass(e) -> None:
    first, second = check(e, e.inputs), check(e, e.inputs, order=2)
    assert first.passed, first.text
    assert second.passed, second.text


def test_composite_functions_pass() -> None:
    from microgradx import functional as F

    def loss(a: Value, b: Value, c: Value) -> Value:
        probs = F.softmax([a, b * 2, c - a])
        return -probs[1].log() + F.logsumexp([a, b, c]) * 0.5 + (a / (b * b + 1)).sqrt()

    assert gradcheck(loss, [0.3, -1.2, 2.0])
    assert gradgradcheck(loss, [0.3, -1.2, 2.0])


# -- numerical_grad ---------------------------------------------------------------------------------


def test_numerical_grad_matches_closed_forms() -> None:
    x, y = 3.0, 2.0
    got = numerical_grad(lambda a, b: a * a * b + b.sin(), [x, y])
    assert got == pytest.approx((2 * x * y, x * x + math.cos(y)), rel=1e-8)
    (one,) = numerical_grad(lambda a: a.exp(), 0.5)  # a single input needs no list
    assert one == pytest.approx(math.exp(0.5), rel=1e-8)


def test_numerical_grad_near_the_edge_of_a_domain_says_so() -> None:
    with pytest.raises(DomainError, match=r"not defined at inputs\[0\] = 5e-07 ± 1e-06.*inside the domain"):
        numerical_grad(lambda x: x.log(), [5e-7])


# -- deliberately wrong derivatives are caught, and the op is named ---------------------------------

cube_missing_factor = define_op("cube", lambda x: x**3, lambda x, out: (x * x,))  # forgot the 3
cos_wrong_sign = define_op("my_cos", math.cos, lambda x, out: (ops.sin(x),))  # d cos = -sin
ab2_swapped = define_op("a_b_squared", lambda a, b: a * b * b, lambda a, b, out: (2 * a * b, b * b))


def test_forgotten_factor_is_caught_and_named() -> None:
    x = 2.0
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda v: cube_missing_factor(v), [x])
    message = str(caught.value)
    assert "'cube'" in message and "factor of 3" in message
    (row,) = caught.value.report.rows
    assert row.status == "FAIL" and row.culprit == "cube"
    assert row.analytic == pytest.approx(x * x)  # what the wrong rule says
    assert row.numeric == pytest.approx(3 * x * x, rel=1e-6)  # the truth


def test_wrong_sign_is_caught_and_named() -> None:
    with pytest.raises(GradcheckError, match=r"(?s)my_cos.*sign is flipped"):
        gradcheck(lambda v: cos_wrong_sign(v) * 2.0, [0.7])


def test_swapped_partials_are_caught_and_named() -> None:
    a, b = Value(1.5, label="a"), Value(-0.5, label="b")
    report = check(lambda p, q: ab2_swapped(p, q).tanh(), [a, b])
    assert not report.passed
    assert [row.input for row in report.rows] == ["a", "b"]
    assert all(row.status == "FAIL" and row.culprit == "a_b_squared" for row in report.rows)
    assert "swapped" in report.text
    d = 1 - math.tanh(a.data * b.data**2) ** 2  # d tanh(u) = 1 - tanh(u)^2, u = a b^2
    assert report.rows[0].numeric == pytest.approx(d * b.data**2, rel=1e-6)
    assert report.rows[1].numeric == pytest.approx(d * 2 * a.data * b.data, rel=1e-6)


def test_the_culprit_is_found_deep_inside_a_larger_graph() -> None:
    report = check(lambda x, y: (x * y).exp() + cube_missing_factor(x.tanh() + y) * y.sigmoid(), [0.4, 0.9])
    assert {row.culprit for row in report.failures} == {"cube"}
    assert "op 'cube' at its input " in report.text


def test_no_mistake_is_guessed_where_none_fits_and_shared_notes_are_shown_once() -> None:
    # softplus with sigmoid(-x) as its derivative: the ratio to the truth is e^x, no simple factor.
    slip = define_op("slip", lambda x: math.log1p(math.exp(x)), lambda x, out: (1 / (1 + ops.exp(x)),))
    report = check(lambda x, y: slip(x * y) + y, [Value(0.5, label="x"), Value(-2.0, label="y")])
    assert [row.culprit for row in report.rows] == ["slip", "slip"]
    assert "factor" not in report.text and "sign" not in report.text
    notes = [line for line in report.text.splitlines() if "op 'slip' at its input -1:" in line]
    assert len(notes) == 1 and notes[0].startswith("x; y: ")


def test_the_culprit_note_names_the_ops_own_inputs_not_the_learners_variables() -> None:
    # The learner's x is 0.5 and y is -2; the op sees x * y = -1. Saying "at x = -1" would read as
    # the learner's x.
    slip = define_op("slip", lambda x: math.log1p(math.exp(x)), lambda x, out: (1 / (1 + ops.exp(x)),))
    report = check(lambda x, y: slip(x * y) + y, [Value(0.5, label="x"), Value(-2.0, label="y")])
    note = report.rows[0].note
    assert note.startswith("op 'slip' at its input -1: its derivative rule gives 0.731059, but its forward rule "
                           "changes at the rate 0.268941"), note
    a, b = 1.5, -0.5  # a b^2: the partials are b^2 = 0.25 and 2ab = -1.5; the rule swaps them
    note = check(lambda p, q: ab2_swapped(p, q), [Value(a, label="a"), Value(b, label="b")]).rows[0].note
    assert note.startswith("op 'a_b_squared' at its inputs 1.5 and -0.5: its derivative rule gives -1.5 for its "
                           "first input and 0.25 for its second input, but its forward rule changes at the rate "
                           "0.25 and -1.5"), note
    three = define_op("three", lambda p, q, r: p * q * r, lambda p, q, r, out: (q * r, p * r, p * q * 2))
    note = check(lambda p, q, r: three(p, q, r), [1.0, 2.0, 3.0]).rows[2].note
    assert note.startswith("op 'three' at its inputs (1, 2, 3): its derivative rule gives 4 for its input 3"), note


def test_a_report_where_nothing_could_be_checked_says_so() -> None:
    report = check(lambda x: x.relu(), [0.0])
    assert report.passed and not report.checked
    assert report.headline().startswith("gradcheck could not check anything: the one gradient is on a kink")
    report = check(lambda x, y: x.relu() + y.relu() * 2.0, [0.0, 0.0])
    assert report.headline().startswith("gradcheck could not check anything: of its 2 gradients, 2 on a kink")
    assert "passed" not in report.text
    with pytest.warns(GradcheckWarning, match="could not check anything"):
        assert gradcheck(lambda x: x.relu(), [0.0]) is True
    assert check(lambda x, y: x.relu() * y, [0.0, 2.0]).headline().startswith(
        "gradcheck passed: 1 of 2 gradients match central differences; 1 on a kink, not checked")


def hand_built_exp(factor: float):
    """exp built micrograd's way, by hand, with a _backward closure that multiplies by ``factor``."""
    def apply(x: Value) -> Value:
        out = Value(math.exp(x.data), (x,), "hand_exp")

        def step() -> None:
            x.grad += out.grad * out.data * factor

        out._backward = step
        return out
    return apply


def test_an_op_built_by_hand_is_checked_but_not_blamed_blindly() -> None:
    assert gradcheck(lambda v: hand_built_exp(1.0)(v) * 3, [0.5])  # its closure runs in the backward pass
    (row,) = check(lambda v: hand_built_exp(2.0)(v) * 3, [0.5]).rows
    assert row.status == "FAIL" and row.culprit == ""  # no rule to test it by
    assert "'hand_exp'" in row.note and "_backward closure" in row.note and "define_op" in row.note
    with pytest.raises(TypeError, match=r"'hand_exp'.*built by hand"):  # second order needs a rule
        gradgradcheck(lambda v: hand_built_exp(1.0)(v), [0.5])


def test_raise_exception_false_returns_false() -> None:
    assert gradcheck(lambda v: cube_missing_factor(v), [2.0], raise_exception=False) is False


def test_a_cut_graph_is_explained() -> None:
    # x * x.data: the second factor is a constant, so the graph says d/dx = x while the truth is 2x.
    report = check(lambda x: x * x.data, [3.0])
    (row,) = report.rows
    assert row.status == "FAIL" and row.analytic == 3.0
    assert row.numeric == pytest.approx(6.0)
    assert "cuts the graph" in row.note


def test_a_derivative_rule_that_returns_a_bare_number_is_named() -> None:
    bare = define_op("bare", lambda x: x * x, lambda x, out: 2 * x)  # should be (2 * x,)
    with pytest.raises(RuleError, match=r"op 'bare'.*return a tuple"):  # as backward() says it
        gradcheck(lambda v: bare(v), [1.0])
    with pytest.raises(RuleError, match=r"'bare'"):
        bare(Value(1.0)).backward()


def test_a_rule_with_too_few_partials_is_the_same_error_in_gradcheck_as_in_backward() -> None:
    bad_mul = define_op("bad_mul", lambda a, b: a * b, lambda a, b, out: (b,))  # one partial, two inputs
    with pytest.raises(RuleError, match=r"op 'bad_mul'.*1 partial\(s\) for 2 input"):
        gradcheck(lambda a, b: bad_mul(a, b), [1.0, 2.0])
    with pytest.raises(RuleError, match=r"'bad_mul'"):
        bad_mul(Value(1.0), Value(2.0)).backward()


# -- second order -----------------------------------------------------------------------------------


def test_gradgradcheck_catches_a_wrong_second_derivative_and_names_the_op() -> None:
    # sin's rule is right, but it is written with my_cos, whose own rule has the wrong sign: first
    # derivatives are right, second derivatives are wrong.
    my_sin = define_op("my_sin", math.sin, lambda x, out: (cos_wrong_sign(x) if isinstance(x, Value) else math.cos(x),))
    assert gradcheck(lambda v: my_sin(v), [0.7])
    with pytest.raises(GradcheckError) as caught:
        gradgradcheck(lambda v: my_sin(v), [0.7])
    (row,) = caught.value.report.rows
    assert row.analytic == pytest.approx(math.sin(0.7))  # what the wrong rule makes of it
    assert row.numeric == pytest.approx(-math.sin(0.7), rel=1e-6)  # d2 sin = -sin
    assert "my_cos" in row.culprit


def test_gradgradcheck_names_a_rule_that_reads_data() -> None:
    # The rule is right in value but computes with floats, so no second derivative flows through it.
    flat = define_op("flat_sin", math.sin, lambda x, out: (math.cos(x.data if isinstance(x, Value) else x),))
    assert gradcheck(lambda v: flat(v) * v, [0.7])
    report = check(lambda v: flat(v) * v, [0.7], order=2)
    (row,) = report.rows
    x = 0.7
    assert row.numeric == pytest.approx(2 * math.cos(x) - x * math.sin(x), rel=1e-6)  # d2 (x sin x)
    assert row.status == "FAIL" and row.culprit == "flat_sin"
    assert "plain number" in row.note


def test_gradgradcheck_rows_are_every_pair_of_inputs() -> None:
    x, y = 1.5, 0.3
    report = check(lambda a, b: a * a * b + b.sin(), [Value(x, label="x"), Value(y, label="y")], order=2)
    assert [row.input for row in report.rows] == ["x, x", "x, y", "y, x", "y, y"]
    expected = [2 * y, 2 * x, 2 * x, -math.sin(y)]  # the Hessian of x^2 y + sin y
    assert [row.analytic for row in report.rows] == pytest.approx(expected)
    assert [row.numeric for row in report.rows] == pytest.approx(expected, rel=1e-6)


def test_a_rule_written_with_math_gets_the_engines_hint() -> None:
    mathy = define_op("mathy", math.sin, lambda x, out: (math.cos(x),))
    with pytest.raises(TypeError, match=r"'mathy'.*microgradx.ops"):
        gradgradcheck(lambda v: mathy(v), [0.7])


# -- kinks are reported, not failed -----------------------------------------------------------------


def test_relu_at_zero_is_a_kink_not_a_failure() -> None:
    report = check(lambda x: x.relu() * 3.0, [0.0])
    (row,) = report.rows
    assert report.passed and row.status == "kink"
    assert "relu has a kink at 0" in row.note
    assert row.numeric == pytest.approx(1.5)  # (3 eps - 0) / 2 eps: the average of the two slopes
    with pytest.warns(GradcheckWarning, match="on a kink"):
        assert gradcheck(lambda x: x.relu() * 3.0, [0.0]) is True


def test_a_kink_reached_through_other_ops_is_found() -> None:
    # relu(x^2 - 1) has a kink at x = 1; in second order relu(t) at t = 0 too.
    assert check(lambda x: (x * x - 1.0).relu(), [1.0]).rows[0].status == "kink"
    assert check(lambda x: (x * x).relu().exp(), [0.0], order=2).rows[0].status == "kink"


def test_abs_at_zero_agrees_with_its_symmetric_difference() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(lambda x: abs(x), [0.0])  # (eps - eps) / 2 eps = 0 = the rule's value at 0


def test_a_branch_in_f_is_a_kink() -> None:
    report = check(lambda x: x if x.data > 0 else -x, [0.0])  # abs written with an if
    (row,) = report.rows
    assert row.status == "kink" and "branches on the data" in row.note


def test_an_op_declaring_its_kink_is_reported_as_a_kink() -> None:
    hard = Op("hard_clip", lambda x: min(max(x, -1.0), 1.0), lambda x, out: (1.0 if -1 < x < 1 else 0.0,),
              arity=1, kinks=(-1.0, 1.0))
    assert check(lambda x: apply_op(hard, x), [1.0]).rows[0].status == "kink"
    assert check(lambda x: apply_op(hard, x), [0.5]).rows[0].status == "ok"


def test_an_undeclared_kink_fails_with_an_explanation() -> None:
    my_relu = define_op("my_relu", lambda x: max(x, 0.0), lambda x, out: (1.0 if x > 0 else 0.0,))
    (row,) = check(lambda x: my_relu(x), [0.0]).rows
    assert row.status == "FAIL" and row.culprit == "my_relu"
    assert "kink here" in row.note and "Op(kinks=" in row.note


# -- any scale: the step follows the input, rounding is told apart from a wrong rule ---------------

magnitudes = st.floats(0, 300).map(lambda e: 10.0**e)  # 1 to 1e300, every scale equally often
signs = st.sampled_from([-1.0, 1.0])


@given(x=st.floats(-1e300, 1e300), c=st.floats(-4, 4).filter(lambda c: abs(c) > 1e-3))
def test_the_step_scales_with_the_input(x: float, c: float) -> None:
    # An absolute step is lost in rounding once |x| is large (1e17 + 1e-6 == 1e17): 0 / 0, or noise.
    assert gradcheck(lambda v: c * v, [x])
    (slope,) = numerical_grad(lambda v: c * v, [x])
    assert slope == pytest.approx(c, rel=1e-9)


@given(x=st.floats(-1e100, 1e100))  # x^3 stays a float
def test_a_curved_function_is_checked_at_any_scale(x: float) -> None:
    assert check(lambda v: v * v * 0.5, [x]).passed
    report = check(lambda v: v * v * v, [x], order=2)  # d2 x^3 = 6x, checked through create_graph
    assert report.passed and report.rows[0].status == "ok", report.text


@given(x=st.floats(-10, 10), c=magnitudes, sign=signs)
def test_rounding_is_never_reported_as_a_failure(x: float, c: float, sign: float) -> None:
    # Right gradients next to a large constant: the finite difference may be below float resolution
    # (then the row says so), but no row fails and no op is blamed.
    c *= sign
    for f in (lambda v: v + c, lambda v: (v + c) - c, lambda v: v * v + c, lambda v: (v * c + 1.0) * v):
        for order in (1, 2):
            report = check(f, [x], order=order)
            assert report.passed, report.text
            assert all(row.status in ("ok", "unresolved", "kink") and not row.culprit for row in report.rows)


def test_a_finite_difference_below_float_resolution_is_reported_as_such() -> None:
    report = check(lambda x: x + 1e12, [1.0])  # floats near 1e12 are 1.2e-4 apart; the step is 1e-6
    (row,) = report.rows
    assert row.status == "unresolved" and row.culprit == "" and report.passed
    assert "below float resolution" in row.note and "op '+' computes 1e+12" in row.note
    assert report.headline().startswith("gradcheck could not check anything: the one gradient is below float")
    with pytest.warns(GradcheckWarning, match="below float resolution"):
        assert gradcheck(lambda x: x + 1e12, [1.0]) is True
    assert check(lambda x: x + 1e12, [1.0], eps=1.0).rows[0].status == "ok"  # a step the floats resolve


def test_a_resolved_agreement_is_needed_for_ok() -> None:
    # A rule that wrongly says 0, next to 1e12: the step of 1e-6 is lost in rounding, both evaluations
    # are the same, and the finite difference 0 "agrees". That is no check, whatever the numbers say.
    forgot = define_op("forgot", lambda x: x * x, lambda x, out: (0.0,))
    (row,) = check(lambda x: forgot(x) + 1e12, [0.3]).rows
    assert (row.analytic, row.numeric, row.status) == (0.0, 0.0, "unresolved")
    (row,) = check(lambda x: (x + 0.5).relu() + 1e12, [1.0]).rows  # the same where they differ
    assert row.status == "unresolved"
    assert check(lambda x: forgot(x) + 1.0, [0.3]).rows[0].status == "FAIL"  # resolved: caught


@given(c=st.floats(8, 300).map(lambda e: 10.0**e), x=st.floats(0.5, 3))
def test_the_culprit_probe_allows_for_rounding(c: float, x: float) -> None:
    # '+' adds x to a huge c: its own finite difference is below float resolution, so it cannot be
    # blamed; the wrong rule of cube is found all the same.
    report = check(lambda v: cube_missing_factor(v) + (v + c) * (1 / c), [x])
    (row,) = report.rows
    assert row.status == "FAIL" and row.culprit == "cube", report.text


@given(x=st.floats(0.1, 1e100), sign=signs)  # below 0.1, 3x^2 and x^2 are within atol
def test_a_wrong_rule_is_caught_at_any_scale(x: float, sign: float) -> None:
    (row,) = check(lambda v: cube_missing_factor(v), [sign * x]).rows
    assert row.status == "FAIL" and row.culprit == "cube" and "factor of 3" in row.note


@given(x=st.floats(-1e9, 1e9).filter(lambda x: abs(math.sin(x)) > 0.1))
def test_a_function_faster_than_its_input_is_checked_with_a_smaller_step(x: float) -> None:
    # At x = 1e6 the step eps * |x| is 1, far too coarse for sin: smaller steps are tried before a row
    # fails, so sin passes and a wrong rule still fails, with the culprit named.
    assert gradcheck(lambda v: v.sin(), [x])
    (row,) = check(lambda v: cos_wrong_sign(v), [x]).rows
    assert row.status == "FAIL" and row.culprit == "my_cos"
    assert row.numeric == pytest.approx(-math.sin(x), rel=1e-3, abs=1e-5)


def test_a_step_that_rounds_to_nothing_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"step 1e-17 at inputs\[0\] = 1.0 is below float resolution.*at least"):
        check(lambda x: 2 * x, [1.0], eps=1e-17)
    with pytest.raises(ValueError, match=r"beyond the largest float"):
        numerical_grad(lambda x: 2 * x, [1e300], eps=1e10)
    assert gradcheck(lambda x: 2 * x, [0.0], eps=1e-17)  # at 0 the step is eps itself: fine


# -- inputs -----------------------------------------------------------------------------------------


def test_values_are_used_in_place_and_left_as_they_were() -> None:
    w = Value(0.5, label="w")
    w.grad = 7.0
    b = Value(-0.25, label="b")
    x = 1.3

    def loss(*_: Value) -> Value:  # ignores its arguments: reads w and b like a model would
        return (w * x + b).tanh()

    report = check(loss, [w, b])
    assert report.passed
    assert [row.input for row in report.rows] == ["w", "b"]
    d = 1 - math.tanh(0.5 * x - 0.25) ** 2
    assert [row.analytic for row in report.rows] == pytest.approx([d * x, d])
    assert (w.data, w.grad, b.data, b.grad) == (0.5, 7.0, -0.25, 0.0)


def test_numbers_become_new_leaves_labelled_by_position() -> None:
    report = check(lambda a, b: a * b, [2, 5.0])
    assert [row.input for row in report.rows] == ["inputs[0]", "inputs[1]"]
    same = check(lambda a, b: a * b, [Value(1.0, label="v"), Value(2.0, label="v")])
    assert [row.input for row in same.rows] == ["v (inputs[0])", "v (inputs[1])"]


def test_works_inside_no_grad() -> None:
    with no_grad():
        assert gradcheck(lambda x: x * x * x, [2.0])


@pytest.mark.parametrize(
    ("f", "inputs", "error", "match"),
    [
        (lambda x: [x], [1.0], TypeError, "single Value.*one output at a time"),
        (lambda x: x.data * 2, [1.0], TypeError, "single Value.*not from their .data"),
        (lambda x: x, ["a"], TypeError, "numbers or Values.*position 0"),
        (lambda x: x, [], ValueError, "at least one input"),
        (lambda x: x, object(), TypeError, "a number, a Value, or a list of them"),
    ],
)
def test_misuse_gets_a_clear_error(f, inputs, error, match) -> None:
    with pytest.raises(error, match=match):
        gradcheck(f, inputs)


@pytest.mark.parametrize(("setting", "value"), [("eps", 0.0), ("eps", -1e-6), ("atol", math.nan), ("rtol", -1.0)])
def test_bad_settings_are_refused(setting: str, value: float) -> None:
    with pytest.raises(ValueError, match=setting):
        gradcheck(lambda x: x, [1.0], **{setting: value})
    with pytest.raises(ValueError, match="order"):
        check(lambda x: x, [1.0], order=3)


# -- the report -------------------------------------------------------------------------------------


def test_report_text_is_a_table_with_every_column() -> None:
    report = check(lambda v: cube_missing_factor(v), [Value(2.0, label="x")])
    lines = report.text.splitlines()
    assert lines[0].startswith("gradcheck failed: 1 of 1 gradients differ")
    assert lines[1].split() == ["input", "analytic", "numeric", "abs", "error", "rel", "error", "status",
                                "likely", "culprit"]
    cells = lines[2].split()
    assert cells[0] == "x" and float(cells[1]) == 4.0 and float(cells[2]) == pytest.approx(12.0)
    assert float(cells[3]) == pytest.approx(8.0, rel=1e-3) and float(cells[4]) == pytest.approx(8 / 12, rel=1e-3)
    assert cells[5:] == ["FAIL", "cube"]
    assert str(report) == repr(report) == report.text
    assert not report and isinstance(report, GradcheckReport)


def test_report_html_escapes_labels() -> None:
    report = check(lambda v: v * v, [Value(1.0, label="<b>x&y</b>")])
    page = report._repr_html_()
    assert re.search(r"<table[^>]*>", page) and re.search(r"<th[^>]*>analytic</th>", page)
    assert "&lt;b&gt;x&amp;y&lt;/b&gt;" in page and "<b>x&y" not in page


def test_reports_are_deterministic() -> None:
    def f(x: Value, y: Value) -> Value:
        return cube_missing_factor(x * y) + y.relu()

    assert check(f, [0.7, 0.0]).text == check(f, [0.7, 0.0]).text


# -- user-defined ops: backward, higher order, the visualizer ---------------------------------------

swish = define_op(
    "swish",
    lambda x: x / (1.0 + math.exp(-x)),
    lambda x, out: (ops.sigmoid(x) + out * (1.0 - ops.sigmoid(x)),),  # written with ops.*: twice differentiable
)


def test_a_user_op_works_with_backward_grad_and_higher_order() -> None:
    def s(t: float) -> float:
        return 1 / (1 + math.exp(-t))

    x = Value(0.8)
    y = swish(x)
    y.backward()
    assert y._op.name == "swish"
    assert x.grad == pytest.approx(s(0.8) + 0.8 * s(0.8) * (1 - s(0.8)))
    (dy,) = grad(swish(x), [x], create_graph=True)
    (d2y,) = grad(dy, [x])
    # d2/dx2 x s(x) = 2 s' + x s'', s' = s (1 - s), s'' = s' (1 - 2 s)
    sp = s(0.8) * (1 - s(0.8))
    assert d2y == pytest.approx(2 * sp + 0.8 * sp * (1 - 2 * s(0.8)))
    assert gradcheck(lambda v: swish(v), [0.8]) and gradgradcheck(lambda v: swish(v), [0.8])


def test_a_user_op_with_the_wrong_number_of_partials_is_named() -> None:
    two = define_op("two_partials", lambda x: 2 * x, lambda x, out: (2.0, 0.0))
    with pytest.raises(TypeError, match="'two_partials'"):
        two(Value(1.0)).backward()


def test_a_user_op_shows_in_the_graph_drawing() -> None:
    x = Value(0.5, label="x")
    y = swish(x) * 2.0
    y.backward()
    source = viz.draw_graph(y).source
    assert re.search(r"label=<?\"?swish\b", source), source  # the op node carries the op's name
    (dy,) = grad(swish(x), [x], create_graph=True)
    assert "sigmoid" in viz.draw_graph(dy).source  # the derivative's graph is drawable too, built from ops.sigmoid
