"""microgradx.compile: the tape of one example, run over NumPy batches, against the scalar engine.

The reference everywhere is the scalar path, the same function called on Values one example at a
time, whose gradients the rest of the suite checks against finite differences. Compiled and scalar
must agree on every output and every parameter gradient to 1e-10 (relative), for random models,
activations, losses, batch sizes and user-defined ops; what compile cannot do faithfully it must
refuse with a message that names the problem.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import microgradx
from microgradx import MLP, CompileError, DomainError, Value, define_op, losses, no_grad, ops
from microgradx import functional as F
from microgradx.data import make_moons, one_hot
from microgradx.nn import ACTIVATIONS, Layer
from microgradx.viz import draw_graph, trace

compile = microgradx.compile
RTOL = 1e-10


def assert_close(got: float | list[float], expected: float | list[float], what: str = "") -> None:
    got_, expected_ = np.atleast_1d(np.asarray(got, dtype=float)), np.atleast_1d(np.asarray(expected, dtype=float))
    # Relative, and absolute (1e-14) below 1e-4: a gradient whose per-example terms of order 1 cancel
    # to zero (a bias under the hinge loss, with labels that balance) is only their rounding, ~1e-16
    # each, whose sign the two paths need not share. Found by hypothesis: nin=1, elu, hinge, batch 6.
    scale = np.maximum(np.abs(expected_), 1e-4)
    worst = float(np.max(np.abs(got_ - expected_) / scale)) if got_.size else 0.0
    assert got_.shape == expected_.shape and worst <= RTOL, f"{what}: off by {worst:.2e} relative"


def scalar_mean_and_grads(fn, params: list[Value], *batch: np.ndarray) -> tuple[float, list[float]]:
    """The reference: the mean of fn over the examples, built as one scalar graph, and its gradients."""
    for p in params:
        p.grad = 0.0
    examples = zip(*(a.tolist() for a in batch))
    loss = F.mean([fn(*(_values(item) for item in example)) for example in examples])
    loss.backward()
    grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    return loss.data, grads


def _values(item):
    return [_values(x) for x in item] if isinstance(item, list) else Value(item)


def compiled_mean_and_grads(compiled, params: list[Value], *batch: np.ndarray) -> tuple[float, list[float]]:
    for p in params:
        p.grad = 0.0
    loss = compiled(*batch)
    loss.backward()
    grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    return loss.data, grads


# -- the table's rules take arrays ----------------------------------------------------------------

RULES = [op for op in ops.PRIMITIVES.values() if op.arity is not None] + [
    ops.pow_op(n) for n in (2.0, 3.0, -1.0, 0.5, 1.5, 0.0)
] + [ops.leaky_relu_op(0.1), ops.elu_op(1.0), ops.elu_op(0.5)]


@pytest.mark.parametrize("op", RULES, ids=lambda op: f"{op.name}/{op.arity}")
@given(data=st.data())
def test_every_rule_gives_on_an_array_what_it_gives_on_each_float(op: ops.Op, data: st.DataObject) -> None:
    columns = []
    for _ in range(op.arity):
        columns.append(data.draw(st.lists(st.floats(-5, 5, allow_nan=False), min_size=3, max_size=3)))
    rows = list(zip(*columns))
    rows = [r for r in rows if (op.valid is None or op.valid(*r)) and all(abs(x) > 1e-3 for x in r)]
    if not rows:
        return
    arrays = [np.array([[r[k] for r in rows]]) for k in range(op.arity)]
    out = np.broadcast_to(op.forward(*arrays), arrays[0].shape)
    partials = [np.broadcast_to(p, arrays[0].shape) for p in op.derivative(*arrays, out)]
    for i, r in enumerate(rows):
        expected = op.forward(*r)
        # (NumPy's tanh, exp, ... may differ from the math module's in the last bit: 1e-10 is the bar.)
        assert math.isclose(out[0, i], expected, rel_tol=1e-10, abs_tol=1e-14), (op.name, r)
        for k, partial in enumerate(op.derivative(*r, expected)):
            assert math.isclose(partials[k][0, i], partial, rel_tol=1e-10, abs_tol=1e-14), (op.name, r, k)


def test_where_chooses_element_by_element_and_like_if_for_a_float() -> None:
    assert ops.where(True, 1.0, 2.0) == 1.0 and ops.where(False, 1.0, 2.0) == 2.0
    assert ops.where(np.array([1.0, -1.0]) > 0, 1.0, 2.0).tolist() == [1.0, 2.0]


# -- compiled and scalar paths agree ----------------------------------------------------------------

LOSSES = ["mse", "hinge", "binary_cross_entropy", "cross_entropy"]


def _targets(loss: str, n_out: int, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets as the compiled loss takes them, and as the scalar loss takes them."""
    if loss == "cross_entropy":
        labels = rng.integers(0, n_out, size=n)
        return one_hot(labels, n_out), labels
    if loss == "hinge":
        y = rng.choice([-1.0, 1.0], size=(n, n_out))
    elif loss == "binary_cross_entropy":
        y = rng.uniform(0, 1, size=(n, n_out))
    else:
        y = rng.normal(size=(n, n_out))
    y = y[:, 0] if n_out == 1 else y
    return y, y


@settings(max_examples=40)
@given(
    nin=st.integers(1, 4),
    widths=st.lists(st.integers(1, 5), min_size=0, max_size=2),
    n_out=st.integers(1, 3),
    activation=st.sampled_from(sorted(set(ACTIVATIONS) - {"linear"})),
    loss=st.sampled_from(LOSSES),
    batch=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
@example(nin=1, widths=[], n_out=2, activation="elu", loss="hinge", batch=6, seed=42104)  # a bias gradient of 0
def test_compiled_loss_and_every_gradient_match_the_scalar_path(
    nin: int, widths: list[int], n_out: int, activation: str, loss: str, batch: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    if loss == "cross_entropy":
        n_out = max(n_out, 2)
    model = MLP(nin, [*widths, n_out], activation, seed=seed)
    params = model.parameters()
    X = rng.normal(size=(batch, nin))
    y_compiled, y_scalar = _targets(loss, n_out, rng, batch)
    loss_fn = getattr(losses, loss)
    compiled = compile(lambda x, t: loss_fn(model(x), t))
    got, got_grads = compiled_mean_and_grads(compiled, params, X, y_compiled)
    for p in params:
        p.grad = 0.0
    scalar = loss_fn([model(x) for x in X.tolist()], y_scalar.tolist())
    scalar.backward()
    assert_close(got, scalar.data, "loss")
    assert_close(got_grads, [p.grad for p in params], "gradients")
    outputs = compile(model).forward(X)
    assert_close(outputs.ravel(), [v.data for x in X.tolist() for v in np.atleast_1d(model(x))], "outputs")


def test_the_moons_step_matches_the_scalar_step_with_l2_outside() -> None:
    X, labels = make_moons(100, noise=0.1, seed=1)
    y = 2.0 * labels - 1
    model = MLP(2, [16, 16, 1], seed=1)
    params = model.parameters()
    batch_hinge = compile(lambda x, t: losses.hinge(model(x), t), name="hinge_loss")
    loss = batch_hinge(X, y) + 1e-4 * losses.l2(params)
    loss.backward()
    compiled_grads = [p.grad for p in params]
    model.zero_grad()
    scalar = losses.hinge([model(x) for x in X.tolist()], y.tolist()) + 1e-4 * losses.l2(params)
    scalar.backward()
    assert_close(loss.data, scalar.data, "loss")
    assert_close(compiled_grads, [p.grad for p in params], "gradients")
    assert len(batch_hinge.parameters) == len(params)  # the 1 of 1 - y s is a constant, not a parameter


def test_a_layer_is_one_matrix_product_and_the_tape_says_what_was_fused() -> None:
    model = MLP(3, [8, 8, 2], seed=0)
    f = compile(model)
    f.forward(np.ones((4, 3)))
    steps = f.describe().splitlines()[1:]
    assert sum("matrix product" in s for s in steps) == 3  # one per layer, not one per neuron
    assert len(steps) == 8  # per layer: dot, + b, activation (the last layer is linear)


def test_user_defined_ops_run_compiled_when_their_rules_take_arrays() -> None:
    swish = define_op("swish", lambda x: x * ops.sigmoid(x),
                      lambda x, out: (ops.sigmoid(x) + out * (1 - ops.sigmoid(x)),))
    clip = define_op("clip1", lambda x: ops.where(x > 1, 1.0, x), lambda x, out: (ops.where(x > 1, 0.0, 1.0),))
    w = [Value(0.3, label="w0"), Value(-1.2, label="w1")]

    def fn(x):
        return clip(swish(w[0] * x[0] + w[1] * x[1])) ** 2

    X = np.random.default_rng(0).normal(size=(7, 2)) * 2
    got = compiled_mean_and_grads(compile(fn), w, X)
    expected = scalar_mean_and_grads(fn, w, X)
    assert_close(got[0], expected[0], "value")
    assert_close(got[1], expected[1], "gradients")


def test_a_rule_that_cannot_take_arrays_is_named() -> None:
    mexp = define_op("math_exp", lambda x: math.exp(x), lambda x, out: (out,))
    with pytest.raises(CompileError, match="forward rule of op 'math_exp' cannot take NumPy arrays"):
        compile(lambda x: mexp(x))(np.array([1.0, 2.0]))
    step = define_op("step_if", lambda x: x if x > 0 else 0.0, lambda x, out: (1.0 if x > 0 else 0.0,))
    with pytest.raises(CompileError, match=r"op 'step_if' cannot take NumPy arrays.*ops.where"):
        compile(lambda x: step(x))(np.array([1.0, -2.0]))


def test_a_rule_whose_array_answer_differs_is_named() -> None:
    # A rule written with a reduction over the whole array mixes the examples of a batch.
    centred = define_op("centred", lambda x: x - np.mean(x), lambda x, out: (1.0,))
    with pytest.raises(CompileError, match=r"forward rule of op 'centred' gives \[-0.5\] for the traced example in "
                                           r"a batch of two examples but \[0.0\] on its floats"):
        compile(lambda x: centred(x) + x)(np.array([1.0, 2.0, 3.0]))


# -- refusals ----------------------------------------------------------------------------------------

model = MLP(2, [3, 1], seed=0)
X2 = np.array([[1.0, 2.0], [-1.0, 0.5]])


@pytest.mark.parametrize(("fn", "words"), [
    (lambda x: model(x) if model(x) > 0 else -model(x), "compares a Value|Python choice"),
    (lambda x: model(x) * 2 if model(x) else model(x), "bool"),
    (lambda x: max(x[0], x[1]), "Python choice"),
    (lambda x: model(x) * x[0].item(), "item"),
])
def test_a_python_choice_on_a_traced_value_is_refused(fn, words: str) -> None:
    with pytest.raises(CompileError, match=words):
        compile(fn)(X2)
    assert Value(2.0) > 1 and bool(Value(0.0))  # and Values compare as usual again afterwards


def test_an_input_read_as_a_number_is_refused() -> None:
    with pytest.raises(CompileError, match=r"does not use the input t as a Value.*one-hot"):
        compile(lambda x, t: (model(x) - t.data) ** 2)(X2, np.array([1.0, 2.0]))
    with pytest.raises(CompileError, match="does not use the input t"):  # a class index picks a logit
        compile(lambda x, t: -model(x) * 0 - x[int(t.data)])(X2, np.array([0.0, 1.0]))


def test_create_graph_through_a_compiled_node_is_refused_and_leaves_the_gradients() -> None:
    loss = compile(lambda x: model(x) ** 2)(X2)
    params = model.parameters()
    model.zero_grad()
    with pytest.raises(CompileError, match=r"create_graph=True\) cannot go through the compiled node"):
        loss.backward(create_graph=True)
    assert all(p.grad == 0.0 for p in params)
    with pytest.raises(CompileError, match="create_graph=True"):
        microgradx.grad(loss, params, create_graph=True)


def test_replaced_or_added_parameters_are_traced_again() -> None:
    net = MLP(2, [3, 1], seed=0)
    f = compile(lambda x: net(x) ** 2)
    f(X2)
    net.layers[0].neurons[1].w[0] = Value(5.0, label="new")  # a parameter replaced
    got = compiled_mean_and_grads(f, net.parameters(), X2)
    expected = scalar_mean_and_grads(lambda x: net(x) ** 2, net.parameters(), X2)
    assert_close(got[0], expected[0], "replaced: value")
    assert_close(got[1], expected[1], "replaced: gradients")
    net.layers.append(Layer(1, 1, "linear", seed=0))  # a layer added
    assert_close(f.forward(X2), [net(x).data ** 2 for x in X2.tolist()], "added layer")
    assert len(f.parameters) == len(net.parameters())


def test_changed_data_of_the_same_parameters_is_read_at_every_call() -> None:
    w = Value(1.0)
    f = compile(lambda x: w * x)
    assert f.forward(np.array([2.0])).tolist() == [2.0]
    w.data = 3.0
    assert f.forward(np.array([2.0])).tolist() == [6.0]


def test_a_domain_error_names_the_op_and_the_example() -> None:
    f = compile(lambda x: x.log())
    with pytest.raises(DomainError, match=r"log\(x\) needs x > 0, got x = -1.0 \(example 2 of the batch\)"):
        f(np.array([1.0, 2.0, -1.0]))


def test_bad_batches_get_clear_errors() -> None:
    f = compile(lambda x, t: (model(x) - t) ** 2)
    with pytest.raises(ValueError, match="argument 0 has 2 rows but argument 1 has 3"):
        f(X2, np.zeros(3))
    with pytest.raises(ValueError, match="not finite, in row 1"):
        f(np.array([[1.0, 2.0], [np.nan, 1.0]]), np.zeros(2))
    with pytest.raises(TypeError, match="argument 0 holds Values"):
        f([Value(1.0), Value(2.0)], np.zeros(2))
    with pytest.raises(CompileError, match=r"returns 2 numbers per example.*forward"):
        compile(lambda x: [x[0], x[1]])(X2)
    with pytest.raises(CompileError, match="not been traced yet"):
        compile(model).graph


# -- in the graph ---------------------------------------------------------------------------------


def test_the_batch_is_one_named_node_and_the_traced_example_can_be_drawn() -> None:
    net = MLP(2, [4, 1], seed=0)
    params = net.parameters()
    f = compile(lambda x, t: losses.hinge(net(x), t), name="hinge_loss")
    loss = f(X2, np.array([1.0, -1.0])) + 1e-4 * losses.l2(params)
    node = loss._prev[0]
    assert node._op.name == "compiled hinge_loss" and list(node._prev) == params
    source = draw_graph(loss, collapse="neuron").source
    assert source.count("compiled hinge_loss") == 1 and "mean over 2 examples" in source
    labels = {v.label for v in trace(f.graph)[0]}
    assert {"x[0]", "x[1]", "t", "layers.0.neurons.0.w.0"} <= labels
    assert "compiled" not in draw_graph(f.graph).source  # one example's own graph, op by op
    with no_grad():
        assert f(X2, np.array([1.0, -1.0]))._prev == ()


# -- fit and evaluate: both paths, step by step ----------------------------------------------------

OPTIMIZERS = [
    lambda ps: microgradx.SGD(ps, lr=0.1),
    lambda ps: microgradx.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: microgradx.Adam(ps, lr=0.02),
    lambda ps: microgradx.AdamW(ps, lr=0.02, weight_decay=0.01),
    lambda ps: microgradx.RMSProp(ps, lr=0.01),
]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=["sgd", "nesterov", "adam", "adamw", "rmsprop"])
def test_fit_gives_the_same_parameters_step_by_step_on_both_paths(loss: str, make_optimizer) -> None:
    X, labels = make_moons(40, noise=0.2, seed=3)
    n_out = 2 if loss == "cross_entropy" else 1
    y = {"hinge": 2 * labels - 1, "mse": labels * 1.5 - 0.5}.get(loss, labels)
    runs = []
    for compiled in (False, True):
        model = MLP(2, [6, n_out], "tanh", seed=4)
        optimizer = make_optimizer(model.parameters())
        steps = []
        for _ in range(3):  # epochs one at a time, to compare the parameters after each
            history = microgradx.fit(model, X, y, loss=loss, optimizer=optimizer, batch_size=16, l2=1e-3,
                                     seed=5, progress=False, compile=compiled)
            steps.append(([p.data for p in model.parameters()], history))
        runs.append((steps, microgradx.evaluate(model, X, y, loss=loss, compile=compiled)))
    (scalar, scalar_eval), (fast, fast_eval) = runs
    for (params_a, history_a), (params_b, history_b) in zip(scalar, fast):
        assert_close(history_b.step_loss, history_a.step_loss, "loss of each step")
        assert_close(params_b, params_a, "parameters")
        assert history_b.accuracy == history_a.accuracy
    assert_close(fast_eval[0], scalar_eval[0], "evaluate: loss")
    assert fast_eval[1] == scalar_eval[1]


def test_fit_compiled_checks_the_targets_before_the_first_step() -> None:
    X, labels = make_moons(10, seed=0)
    model = MLP(2, [3, 1], seed=0)
    before = [p.data for p in model.parameters()]
    with pytest.raises(ValueError, match="hinge\\(\\) needs labels -1 or \\+1, got 0"):
        microgradx.fit(model, X, labels, loss="hinge", optimizer=microgradx.SGD(model.parameters(), lr=0.1),
                       progress=False, compile=True)
    assert [p.data for p in model.parameters()] == before


def test_fit_compiled_scores_a_users_accuracy_rule_like_the_scalar_path() -> None:
    X, labels = make_moons(30, noise=0.1, seed=1)
    results = []
    for compiled in (False, True):
        model = MLP(2, [5, 1], seed=2)
        history = microgradx.fit(model, X, labels, loss="mse", accuracy=lambda p, t: float((p.data > 0.5) == t),
                                 optimizer=microgradx.SGD(model.parameters(), lr=0.1), epochs=3, seed=0,
                                 progress=False, compile=compiled)
        results.append(history.accuracy)
    assert results[0] == results[1] and len(results[0]) == 3


def test_a_node_built_by_hand_is_refused_by_name() -> None:
    def by_hand(x):
        out = Value(math.exp(x.data), (x,), "my_exp")  # micrograd's lecture style: a closure, no rule

        def step() -> None:
            x.grad += out.data * out.grad

        out._backward = step
        return out

    with pytest.raises(CompileError, match=r"made by hand \(Value\(data, children, 'my_exp'\)"):
        compile(by_hand)(np.array([1.0, 2.0]))


def test_calling_a_compiled_function_inside_one_is_refused() -> None:
    w = Value(0.5)
    inner = compile(lambda x: w * x)
    with pytest.raises(CompileError, match="calls a compiled function"):
        compile(lambda x: inner(np.array([1.0, 3.0])) * x)(np.array([1.0, 2.0]))


def test_constants_and_parameters_are_told_apart_under_anomaly_mode_too() -> None:
    net = MLP(2, [4, 1], seed=0)
    for mode in (microgradx.enable_grad, microgradx.detect_anomaly):
        with mode():
            f = compile(lambda x, t: losses.hinge(net(x), t))
            f(X2, np.array([1.0, -1.0]))
        assert f.parameters == net.parameters()  # the 1 of 1 - y s and the 1/n of the mean are constants


def test_the_compiled_gradient_matches_central_differences_of_the_compiled_loss() -> None:
    # Independent of the scalar path: nudge each parameter, re-run the compiled loss.
    from reference import central_differences_at

    net = MLP(3, [4, 2], "tanh", seed=7)
    params = net.parameters()
    X = np.random.default_rng(1).normal(size=(6, 3))
    Y = np.random.default_rng(2).normal(size=(6, 2))
    f = compile(lambda x, t: losses.mse(net(x), t))
    _, analytic = compiled_mean_and_grads(f, params, X, Y)
    numeric = central_differences_at(lambda: f(X, Y).data, params)
    assert np.allclose(analytic, numeric, rtol=1e-5, atol=1e-7)
