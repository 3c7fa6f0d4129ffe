"""Composite helpers: closed forms, gradients against finite differences, stability, errors."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import central_differences

from microgradx import Value, grad
from microgradx import functional as F

floats = st.floats(-5, 5, allow_nan=False)
vectors = st.lists(floats, min_size=1, max_size=6)


def reference_logsumexp(xs: list[float]) -> float:
    m = max(xs)
    return m + math.log(math.fsum(math.exp(x - m) for x in xs))


CASES = {
    "sum": (lambda vs: F.sum(vs), math.fsum),
    "mean": (lambda vs: F.mean(vs), lambda xs: math.fsum(xs) / len(xs)),
    "logsumexp": (lambda vs: F.logsumexp(vs), reference_logsumexp),
    "softmax[0]": (lambda vs: F.softmax(vs)[0], lambda xs: math.exp(xs[0] - reference_logsumexp(xs))),
    "log_softmax[-1]": (lambda vs: F.log_softmax(vs)[-1], lambda xs: xs[-1] - reference_logsumexp(xs)),
    "dot(x, x[::-1])": (lambda vs: F.dot(vs, vs[::-1]), lambda xs: math.fsum(a * b for a, b in zip(xs, xs[::-1]))),
}


@pytest.mark.parametrize("name", sorted(CASES))
@given(xs=vectors)
def test_value_and_gradient_match_reference(name: str, xs: list[float]) -> None:
    build, reference = CASES[name]
    values = [Value(x) for x in xs]
    out = build(values)
    assert out.data == pytest.approx(reference(xs), rel=1e-9, abs=1e-12)
    out.backward()
    # The same Value may appear twice (dot with its reverse): each position gets both contributions.
    assert [v.grad for v in values] == pytest.approx(central_differences(reference, xs), rel=1e-5, abs=1e-6)


@given(xs=vectors)
def test_softmax_is_a_distribution_and_its_jacobian_matches_the_closed_form(xs: list[float]) -> None:
    values = [Value(x) for x in xs]
    probs = F.softmax(values)
    assert math.fsum(p.data for p in probs) == pytest.approx(1.0)
    assert all(p.data > 0 for p in probs)
    # d p_0 / d x_j = p_0 (delta_0j - p_j)
    row = grad(probs[0], values)
    p = [q.data for q in probs]
    assert list(row) == pytest.approx([p[0] * ((j == 0) - p[j]) for j in range(len(xs))], abs=1e-12)


def test_softmax_family_is_stable_for_huge_logits() -> None:
    values = [Value(1000.0), Value(-1000.0), Value(999.0)]
    assert F.logsumexp(values).data == pytest.approx(1000.0 + math.log(1 + math.exp(-1)), rel=1e-12)
    probs = [p.data for p in F.softmax(values)]
    assert probs == pytest.approx([1 / (1 + math.exp(-1)), 0.0, math.exp(-1) / (1 + math.exp(-1))])
    log_probs = F.log_softmax(values)
    assert log_probs[1].data == pytest.approx(-2000.0 - math.log(1 + math.exp(-1)), rel=1e-12)
    log_probs[1].backward()
    assert all(math.isfinite(v.grad) for v in values)


def test_sum_and_dot_are_single_nodes_with_mixed_inputs() -> None:
    a, b = Value(2.0), Value(3.0)
    s = F.sum([a, 1.0, b])
    d = F.dot([a, b], [4.0, 5.0])
    assert s._op.name == "sum" and len(s._prev) == 3 and s.data == 6.0
    assert d._op.name == "dot" and len(d._prev) == 4 and d.data == 23.0
    d.backward()
    assert (a.grad, b.grad) == (4.0, 5.0)


def test_empty_inputs() -> None:
    assert F.sum([]).data == 0.0
    assert F.dot([], []).data == 0.0
    assert F.softmax([]) == [] and F.log_softmax([]) == []
    with pytest.raises(ValueError, match="at least one"):
        F.mean([])
    with pytest.raises(ValueError, match="at least one"):
        F.logsumexp([])


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        F.dot([1.0, 2.0], [3.0])
    with pytest.raises(TypeError, match="position 1"):
        F.sum([Value(1.0), "x"])
