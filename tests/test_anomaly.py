"""Anomaly mode: errors name the op, its inputs and the line of user code that made each node."""

from __future__ import annotations

import threading

import pytest

from microgradx import DomainError, Value, define_op
from microgradx.anomaly import detect_anomaly, is_anomaly_enabled, site_of
from microgradx.ops import RuleError


def _line_of(text: str) -> int:
    """The line number of ``text`` in this file (so the test does not hard-code numbers)."""
    with open(__file__, encoding="utf-8") as f:
        return next(i for i, line in enumerate(f, 1) if text in line and "_line_of" not in line)


def test_a_backward_error_points_at_the_line_that_made_the_node() -> None:
    with detect_anomaly():
        x = Value(0.0, label="x")
        y = x.sqrt()  # the culprit: sqrt has no derivative at 0
    with pytest.raises(DomainError) as info:
        (y * 2).backward()
    message = str(info.value)
    assert message.startswith("the derivative of sqrt(x) is not finite at x = 0.0 ('x')")
    assert f"the sqrt was made at {__file__}:{_line_of('y = x.sqrt()  # the culprit')}" in message
    assert "in test_a_backward_error_points_at_the_line_that_made_the_node: y = x.sqrt()" in message
    assert f"its input x was made at {__file__}:{_line_of('x = Value(0.0, label=')}" in message
    assert x.grad == 0.0 and y.grad == 0.0  # nothing written


def test_a_forward_error_names_the_inputs_labels_and_where_they_were_made() -> None:
    with detect_anomaly():
        h = Value(2.0, label="h") - 2.0  # made here
        with pytest.raises(DomainError) as info:
            h.log()
    message = str(info.value)
    assert message.splitlines()[0] == "log(x) needs x > 0, got x = 0.0"
    assert f"its input x was made at {__file__}:{_line_of('- 2.0  # made here')}" in message
    assert info.value.__suppress_context__  # no chained "math domain error" traceback above it


def test_a_broken_rule_and_an_overflow_name_their_op_and_site() -> None:
    bad = define_op("bad", lambda x: 2 * x, lambda x, out: (2.0, 3.0))
    with detect_anomaly():
        y = bad(Value(1.0))  # a rule with two partials for one input
        tiny = Value(1e-160, label="tiny")
        big = (tiny * 1e160) * 1e160  # d big / d tiny = 1e320 overflows
    with pytest.raises(RuleError, match=r"returned \(2.0, 3.0\).*\n  the bad was made at .*: y = bad\(Value\(1.0\)\)"):
        y.backward()
    with pytest.raises(DomainError) as info:
        big.backward()
    message = str(info.value)
    assert message.startswith("the gradient overflowed at a * b with a = 1e-160 ('tiny'), b = 1e+160")
    assert "big = (tiny * 1e160) * 1e160" in message
    assert tiny.grad == 0.0


def test_off_by_default_no_sites_and_no_site_lines() -> None:
    x = Value(0.0)
    y = x.sqrt()
    assert not is_anomaly_enabled() and site_of(y) is None
    with pytest.raises(DomainError) as info:
        y.backward()
    assert "was made at" not in str(info.value)


def test_as_a_decorator_and_per_thread() -> None:
    @detect_anomaly()
    def build() -> Value:
        return Value(1.0) * 2

    seen = {}

    def other_thread() -> None:
        seen["other"] = site_of(Value(1.0) * 3)

    with detect_anomaly():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert site_of(build()) is not None and site_of(build()).function == "build"  # type: ignore[union-attr]
    assert seen == {"other": None}


def test_sites_go_away_with_their_nodes() -> None:
    from microgradx import anomaly

    with detect_anomaly():
        before = len(anomaly._sites)
        y = Value(1.0) * 2 + 1
        assert len(anomaly._sites) > before
    del y
    assert len(anomaly._sites) == before
