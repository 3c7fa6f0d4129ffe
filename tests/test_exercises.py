"""The exercise machinery of notebook 06: blanks fail naming the op, solutions pass both orders."""

from __future__ import annotations

import math

import pytest

from microgradx import exercises
from microgradx.exercises import EXERCISES
from microgradx.gradcheck import GradcheckError, gradcheck, numerical_grad

NAMES = list(EXERCISES)


def test_the_exercises_rise_from_one_input_to_two() -> None:
    assert NAMES == ["cube", "softplus", "swish", "hypot", "logaddexp"]
    assert [len(EXERCISES[n].inputs) for n in NAMES] == [1, 1, 1, 2, 2]


@pytest.mark.parametrize("name", NAMES)
def test_blank_fails_and_the_message_names_the_op(name: str) -> None:
    ex = EXERCISES[name]
    report = ex.check(ex.blank)
    assert not report.passed and len(report.failures) == len(ex.inputs)
    assert all(row.culprit == name for row in report.rows)
    op = ex.op(ex.blank)
    with pytest.raises(GradcheckError, match=rf"likely culprit[\s\S]*\b{name}\b[\s\S]*op '{name}'"):
        gradcheck(lambda *xs: op(*xs), list(ex.point))


@pytest.mark.parametrize("name", NAMES)
def test_solution_passes_first_and_second_order(name: str) -> None:
    ex = EXERCISES[name]
    first, second = ex.check(ex.solution), ex.check(ex.solution, order=2)
    assert first.passed and second.passed, (first.text, second.text)
    assert len(second.rows) == len(ex.inputs) ** 2  # every d2/dxi dxj was compared


@pytest.mark.parametrize("name", NAMES)
def test_forward_rules_are_the_formulas_they_claim(name: str) -> None:
    ex = EXERCISES[name]
    reference = {
        "cube": lambda x: x**3,
        "softplus": lambda x: math.log(1 + math.exp(x)),
        "swish": lambda x: x / (1 + math.exp(-x)),
        "hypot": lambda a, b: math.sqrt(a * a + b * b),
        "logaddexp": lambda a, b: math.log(math.exp(a) + math.exp(b)),
    }[name]
    for point in [ex.point, tuple(-1.7 * x + 0.4 for x in ex.point)]:
        assert ex.forward(*point) == pytest.approx(reference(*point), rel=1e-12)
    # And the solution's partials are the slopes of the reference formula itself, not only of ex.forward.
    op = ex.op(ex.solution)
    slopes = numerical_grad(lambda *xs: op(*xs), list(ex.point))
    eps = 1e-6
    for i in range(len(ex.point)):
        up = [*ex.point]
        up[i] += eps
        down = [*ex.point]
        down[i] -= eps
        assert slopes[i] == pytest.approx((reference(*up) - reference(*down)) / (2 * eps), rel=1e-6, abs=1e-9)


def test_a_wrong_rule_is_caught_even_when_close() -> None:
    ex = EXERCISES["swish"]
    forgot_product_rule = lambda x, out: (exercises.ops.sigmoid(x),)  # noqa: E731
    report = ex.check(forgot_product_rule)
    assert not report.passed and report.rows[0].culprit == "swish"


def test_a_rule_written_with_math_passes_first_order_only() -> None:
    ex = EXERCISES["softplus"]
    with_math = lambda x, out: (1 / (1 + math.exp(-x)),)  # noqa: E731
    assert ex.check(with_math).passed
    with pytest.raises(TypeError):  # create_graph hands the rule Values, which math cannot take
        ex.check(with_math, order=2)


def test_check_refuses_something_that_is_not_a_rule() -> None:
    with pytest.raises(TypeError, match=r"cube: pass the derivative rule, a function \(x, out\)"):
        EXERCISES["cube"].check((3.0,))  # type: ignore[arg-type]


def test_repr_states_the_task_and_solution_source_is_the_rule() -> None:
    text = repr(EXERCISES["hypot"])
    assert "out = sqrt(a^2 + b^2)" in text and "derivative(a, b, out)" in text and "a = 3, b = -4" in text
    assert "return (a / out, b / out)" in EXERCISES["hypot"].solution_source()
