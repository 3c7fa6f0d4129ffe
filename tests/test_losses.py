"""microgradx.losses: values against the textbook formulas, gradients against finite differences,
stability for extreme logits, and the error messages."""

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from reference import central_differences_at

from microgradx import losses
from microgradx.engine import Value, no_grad


def check_gradients(loss_of, preds):
    """loss_of(preds).backward() gives each prediction the gradient finite differences give it."""
    loss = loss_of(preds)
    loss.backward()
    with no_grad():
        numeric = central_differences_at(lambda: loss_of(preds).data, preds)
    for p, expected in zip(preds, numeric):
        assert math.isclose(p.grad, expected, rel_tol=1e-5, abs_tol=1e-7), (p.grad, expected)


scores = st.lists(st.floats(-5, 5), min_size=1, max_size=6)


@given(scores, st.data())
def test_mse_gradient(xs, data):
    targets = data.draw(st.lists(st.floats(-5, 5), min_size=len(xs), max_size=len(xs)))
    check_gradients(lambda ps: losses.mse(ps, targets), [Value(x) for x in xs])


@given(scores, st.data())
def test_hinge_gradient(xs, data):
    labels = data.draw(st.lists(st.sampled_from([-1, 1]), min_size=len(xs), max_size=len(xs)))
    assume(all(abs(1 - y * x) > 1e-3 for x, y in zip(xs, labels)))  # the kink of max(0, .)
    check_gradients(lambda ps: losses.hinge(ps, labels), [Value(x) for x in xs])


@given(st.lists(st.floats(-30, 30), min_size=1, max_size=6), st.data())
def test_binary_cross_entropy_gradient(xs, data):
    targets = data.draw(st.lists(st.floats(0, 1), min_size=len(xs), max_size=len(xs)))
    check_gradients(lambda ps: losses.binary_cross_entropy(ps, targets), [Value(x) for x in xs])


@settings(max_examples=50)
@given(st.lists(st.lists(st.floats(-20, 20), min_size=2, max_size=5), min_size=1, max_size=4), st.data())
def test_cross_entropy_gradient(rows, data):
    targets = [data.draw(st.integers(0, len(row) - 1)) for row in rows]
    values = [[Value(x) for x in row] for row in rows]
    check_gradients(lambda _: losses.cross_entropy(values, targets), [v for row in values for v in row])


@given(st.lists(st.floats(-5, 5), min_size=1, max_size=6))
def test_l2_gradient(xs):
    check_gradients(losses.l2, [Value(x) for x in xs])


# -- values against the formulas ---------------------------------------------------------------------


def test_values_against_the_formulas():
    assert losses.mse([Value(1.0), Value(3.0)], [0.0, 1.0]).data == 2.5
    assert losses.mse(Value(2.0), 5).data == 9.0
    assert losses.mse([[Value(1.0), Value(2.0)]], [[1.0, 0.0]]).data == 2.0  # one 2-output prediction
    assert losses.hinge([Value(2.0), Value(0.5), Value(-3.0)], [1, -1, -1]).data == pytest.approx((0 + 1.5 + 0) / 3)
    for z, y in [(0.3, 1.0), (-2.0, 0.0), (1.5, 0.25)]:
        p = 1 / (1 + math.exp(-z))
        expected = -(y * math.log(p) + (1 - y) * math.log(1 - p))
        assert losses.binary_cross_entropy(Value(z), y).data == pytest.approx(expected, rel=1e-12)
    logits = [1.0, 2.0, 0.5]
    softmax_1 = math.exp(2.0) / sum(math.exp(v) for v in logits)
    assert losses.cross_entropy([Value(v) for v in logits], 1).data == pytest.approx(-math.log(softmax_1), rel=1e-12)
    assert losses.cross_entropy([logits, logits], [1, 1]).data == pytest.approx(-math.log(softmax_1), rel=1e-12)
    assert losses.l2([Value(3.0), Value(-4.0)]).data == 25.0


def test_l2_is_one_node():
    ps = [Value(float(i)) for i in range(100)]
    penalty = losses.l2(ps)
    assert penalty._op.name == "dot" and len(penalty._prev) == 200
    penalty.backward()
    assert [p.grad for p in ps] == [2.0 * p.data for p in ps]


# -- stability for large logits --------------------------------------------------------------------


@pytest.mark.parametrize("z", [-1000.0, -50.0, 50.0, 1000.0])
@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
def test_binary_cross_entropy_is_stable_for_large_logits(z, y):
    logit = Value(z)
    loss = losses.binary_cross_entropy(logit, y)
    # softplus(z) - y z, with softplus(z) = max(z, 0) + log1p(e^-|z|)
    assert loss.data == pytest.approx(max(z, 0) + math.log1p(math.exp(-abs(z))) - y * z, rel=1e-12, abs=1e-12)
    loss.backward()
    sigmoid = 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
    assert logit.grad == pytest.approx(sigmoid - y, abs=1e-12)


def test_cross_entropy_is_stable_for_large_logits():
    logits = [Value(1000.0), Value(-1000.0), Value(999.0)]
    loss = losses.cross_entropy(logits, 2)
    e = math.exp(-1.0)
    assert loss.data == pytest.approx(math.log(1 + e) + 1.0, rel=1e-12)  # logsumexp - 999
    loss.backward()
    assert [v.grad for v in logits] == pytest.approx([1 / (1 + e), 0.0, e / (1 + e) - 1], abs=1e-12)  # softmax - onehot
    assert losses.cross_entropy([Value(-1000.0), Value(1000.0)], 1).data == 0.0


# -- errors ------------------------------------------------------------------------------------------


def test_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match="mse\\(\\): got 2 predictions but 3 targets"):
        losses.mse([Value(1.0), Value(2.0)], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="hinge\\(\\) needs labels -1 or \\+1, got 0; for 0/1 labels pass 2 \\* y - 1"):
        losses.hinge([Value(1.0), Value(2.0)], [1, 0])
    with pytest.raises(ValueError, match="targets between 0 and 1, got 2"):
        losses.binary_cross_entropy(Value(1.0), 2)
    with pytest.raises(ValueError, match="class index 3 is out of range for 3 logits \\(valid: 0 to 2\\)"):
        losses.cross_entropy([Value(0.0)] * 3, 3)
    with pytest.raises(TypeError, match=r"class index \(an int\), got 1\.0"):
        losses.cross_entropy([[0.0, 1.0]], [1.0])
    with pytest.raises(TypeError, match="needs a list of logits"):
        losses.cross_entropy(Value(0.0), 0)
    with pytest.raises(ValueError, match="got 2 rows of logits but 1 targets"):
        losses.cross_entropy([[0.0, 1.0], [1.0, 0.0]], [0])
    with pytest.raises(ValueError, match="the loss of no predictions is undefined"):
        losses.mse([], [])
    with pytest.raises(ValueError, match="one prediction needs one target"):
        losses.mse(Value(1.0), [1.0, 2.0])
    with pytest.raises(TypeError, match="both be numbers or both be lists"):
        losses.mse([Value(1.0)], 1.0)
    with pytest.raises(TypeError, match="must be numbers or lists of numbers, got 'ab' and 'cd'"):
        losses.mse("ab", "cd")  # a str is a list of strs, each a str again: this used to recurse forever


@pytest.mark.parametrize(("loss", "targets"), [(losses.hinge, [1.0, -1.0, 1.0]), (losses.mse, [0.5, -2.0, 3.0]),
                                               (losses.binary_cross_entropy, [0.0, 1.0, 0.25])])
def test_number_targets_are_leaves_labelled_target(loss, targets):
    # so that a drawing of the loss names them (a folded batch shows 'target ×3')
    from microgradx.fold import trace_nodes

    preds = [Value(0.3), Value(-0.7), Value(1.1)]
    labelled = [v for v in trace_nodes(loss(preds, targets)) if v.label == "target"]
    assert sorted(v.data for v in labelled) == sorted(targets) and all(not v._prev for v in labelled)
    mine = Value(1.0, label="y")  # a target that is already a Value is used as it is
    assert mine in trace_nodes(loss([Value(0.3)], [mine]))
