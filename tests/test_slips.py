"""Property tests for the kinds of slip a mutation audit found that no test noticed.

Each section names a kind and tests it as a whole, over every member of its family (every
optimizer, every data generator, every initializer, every loss with an accuracy rule), so a new
member is tested the moment it is added. ``scripts/mutate.py`` re-runs the audit on demand.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import re
import signal
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from microgradx import DomainError, Value, data, grad, init, losses, ops, optim
from microgradx.engine import apply_op
from microgradx.gradcheck import check
from microgradx.nn import MLP, Layer
from microgradx.serialization import VERSION, SaveFileError, load
from microgradx.testing import expressions
from microgradx.train import ACCURACY, evaluate, fit

# -- a safety check is reached by inputs, not only through an earlier error ---------------------------


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(e=expressions(max_depth=2), scale=st.sampled_from([1.0, 1e150, 1e300]),
       old=st.lists(st.sampled_from([0.0, 1.0, -2.5, 1e308, -1e308, 1.7e308]), min_size=1, max_size=8))
def test_backward_gives_finite_gradients_added_to_the_old_ones_or_changes_nothing(e, scale, old) -> None:
    # Gradients that overflow by themselves (scale) or only when added to what .grad held (old):
    # both must raise DomainError and leave every .grad as it was; otherwise each .grad is old + new.
    xs = [Value(x) for x in e.inputs]
    try:
        y = e(*xs) * scale
    except DomainError:
        return
    nodes = [*xs, y]
    before = [old[k % len(old)] for k in range(len(nodes))]
    for node, g in zip(nodes, before):
        node.grad = g
    try:
        fresh = _fresh_gradients(y, xs)
    except DomainError:
        fresh = None
    try:
        y.backward()
    except DomainError:
        assert [node.grad for node in nodes] == before  # all or nothing
        assert fresh is None or any(not math.isfinite(b + f) for b, f in zip(before, fresh))
        return
    assert fresh is not None  # whatever overflowed on its own raised
    for node, b, f in zip(nodes, before, fresh):
        assert math.isfinite(node.grad) and node.grad == b + f


def _fresh_gradients(y: Value, xs: list[Value]) -> list[float]:
    """d y / d x for each input and d y / d y = 1, without touching any .grad (microgradx.grad)."""
    return [*grad(y, xs), 1.0]


EDGES = [-800.0, -2.0, -0.5, -1e-300, 0.0, 1e-300, 0.5, 2.0, 709.0, 710.0]
TABLE = [*ops.PRIMITIVES.values(), *(ops.pow_op(n) for n in (2.0, 3.0, -1.0, -2.0, 0.5, 1.5, 0.0)),
         ops.leaky_relu_op(0.1), ops.elu_op(1.0)]


def overflows(op: ops.Op, xs: list[float]) -> bool:
    """Whether the op's value at xs is beyond a float (a refusal inside the domain is right there)."""
    try:
        return not math.isfinite(op.forward(*xs))
    except OverflowError:
        return True
    except (ValueError, ZeroDivisionError):
        return False


@pytest.mark.parametrize("op", TABLE, ids=lambda op: op.name)
def test_every_op_refuses_exactly_the_points_outside_its_domain(op: ops.Op) -> None:
    # Each op's own domain check (``if base <= 0: raise``) must fire exactly where its declared
    # domain (Op.valid) says no, at the edges above all: 0, the smallest floats, overflow.
    arity = op.arity or 3
    points = [list(xs) for xs in itertools.product(EDGES, repeat=arity)] if arity < 3 else [[1.0, -2.0, 0.0]]
    for xs in points:
        inside = op.valid is None or op.valid(*xs)
        try:
            out = apply_op(op, *xs)
        except DomainError:
            assert not inside or overflows(op, xs), (op.name, xs, "refused inside its domain")
            continue
        assert math.isfinite(out.data)
        # x ** n with 0 < n < 1 is defined at 0 (it is 0), but its slope n x^(n-1) is infinite there:
        # its domain, which tools use to pick points to differentiate, leaves 0 out. Nowhere else may a
        # value come out of an op outside its domain.
        assert inside or steep_at_zero(op, xs), (op.name, xs, "accepted outside its domain")


def steep_at_zero(op: ops.Op, xs: list[float]) -> bool:
    if not (op.name.startswith("**") and op.arity == 1 and xs == [0.0]):
        return False
    return 0 < float(op.name[2:]) < 1


COMPARISONS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
               "<=": lambda a, b: a <= b, "!=": lambda a, b: a != b}


@pytest.mark.parametrize("op", [op for op in TABLE if op.domain], ids=lambda op: op.name)
def test_each_ops_stated_domain_is_the_one_its_predicate_checks(op: ops.Op) -> None:
    # The domain in error messages ("x > 0") and the predicate tools use (Op.valid) say the same.
    variable, comparison, bound = op.domain.split(" (")[0].split()
    names = ["x"] if op.arity == 1 else ["a", "b"]
    k = names.index(variable)
    for xs in itertools.product(EDGES, repeat=op.arity):
        assert op.valid(*xs) == COMPARISONS[comparison](xs[k], float(bound)), (op.domain, xs)


@pytest.mark.parametrize("n", [0.0, 1.0, 2.0, 3.0, -1.0, -2.0, 0.5, 1.5, 2.5, -0.5, 0.25])
def test_power_domains_follow_the_exponent(n: float) -> None:
    # x ** n: any x for whole n >= 0; x != 0 for whole n < 0; x >= 0 where the slope is finite at 0
    # (n >= 1), x > 0 where it is not (n < 1); the derivative at each edge tells which.
    op = ops.pow_op(n)
    expected = {0.0: None, 1.0: None, 2.0: None, 3.0: None, -1.0: "x != 0", -2.0: "x != 0", 0.5: "x > 0",
                1.5: "x >= 0", 2.5: "x >= 0", -0.5: "x > 0", 0.25: "x > 0"}[n]
    assert (op.domain or None) == expected


PARAMETRIZED_FORMS = [  # the forward rules of the ops made per constant, against their definitions
    *[(ops.pow_op(n), lambda x, n=n: x**n) for n in (0.0, 1.0, 2.0, 3.0, -1.0, -2.0, 0.5, 1.5)],
    *[(ops.leaky_relu_op(s), lambda x, s=s: x if x > 0 else s * x) for s in (0.01, 0.2)],
    *[(ops.elu_op(a), lambda x, a=a: x if x > 0 else a * math.expm1(x)) for a in (1.0, 0.5)],  # a (e^x - 1)
]


@pytest.mark.parametrize(("op", "form"), PARAMETRIZED_FORMS, ids=[op.name + str(i) for i, (op, _)
                                                                     in enumerate(PARAMETRIZED_FORMS)])
@given(x=st.floats(-4, 4).filter(lambda x: x == 0 or abs(x) > 1e-50))  # no overflow of x ** -2
def test_each_parametrized_forward_is_its_definition(op: ops.Op, form: Callable[[float], float], x: float) -> None:
    assume(op.valid is None or op.valid(x))
    assert apply_op(op, x).data == pytest.approx(form(x), rel=1e-12, abs=1e-300)


# -- the engine turns what a user's forward rule returns into a float ---------------------------------------


@given(value=st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6), st.booleans(),
                       st.fractions(max_denominator=100).filter(lambda f: abs(f) < 10**6),
                       st.integers(-1000, 1000).map(np.int64), st.floats(-1e6, 1e6).map(np.float64),
                       st.floats(-1e3, 1e3, width=32).map(np.float32)))
def test_a_user_ops_result_of_any_real_type_becomes_a_float(value: Any) -> None:
    from microgradx import define_op

    for arity in (1, 2, 3):  # the engine's one-, two- and n-input paths
        op = define_op("returns", lambda *xs: value, lambda *xs_and_out: (0.0,) * (len(xs_and_out) - 1), arity=arity)
        node = op(*[Value(1.0)] * arity)
        assert type(node.data) is float and node.data == float(value)


@pytest.mark.parametrize("arity", [1, 2, 3, 4])
@pytest.mark.parametrize("failure", [ValueError("bad"), ZeroDivisionError(), OverflowError()])
def test_a_user_op_whose_forward_fails_gives_a_domain_error_naming_it_and_its_inputs(arity, failure) -> None:
    # One path per number of inputs in the engine (one, two, any): each must say the same.
    from microgradx import define_op

    def forward(*xs: float) -> float:
        raise failure

    op = define_op("fails", forward, lambda *xs_and_out: (0.0,) * (len(xs_and_out) - 1), arity=arity)
    inputs = [Value(1.5 + k) for k in range(arity)]
    with pytest.raises(DomainError) as caught:
        op(*inputs)
    message = str(caught.value)
    assert "fails" in message and all(repr(v.data) in message for v in inputs), message
    assert all(v.grad == 0.0 for v in inputs)


@pytest.mark.parametrize("value", ["1.5", None, 1j, [1.0], math.nan, math.inf])
def test_a_user_ops_result_that_is_not_a_finite_real_is_refused(value: Any) -> None:
    from microgradx import define_op

    op = define_op("returns", lambda x: value, lambda x, out: (0.0,))
    with pytest.raises((TypeError, DomainError), match="returns"):
        op(Value(1.0))


# -- public helpers that derivative rules rely on: each one run on both kinds of input ------------------

HELPERS = {  # the float-or-Value functions of microgradx.ops, with their math written out here
    "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "tanh": math.tanh,
    "sigmoid": lambda x: 1 / (1 + math.exp(-x)), "sin": math.sin, "cos": math.cos,
}


def test_every_float_or_value_helper_is_listed_here() -> None:
    helpers = {name for name in ops.__all__ if name.islower() and callable(getattr(ops, name))
               and len(inspect.signature(getattr(ops, name)).parameters) == 1}  # the math of one input
    assert helpers - {"pow_op", "leaky_relu_op", "elu_op"} == set(HELPERS)


@pytest.mark.parametrize("name", sorted(HELPERS))
@given(x=st.floats(0.05, 5) | st.floats(-5, -0.05))
def test_each_helper_computes_on_floats_and_records_on_values(name: str, x: float) -> None:
    if name in ("log", "sqrt"):
        x = abs(x)
    helper, truth = getattr(ops, name), HELPERS[name]
    on_float = helper(x)
    assert type(on_float) is float and on_float == pytest.approx(truth(x), rel=1e-12)
    v = Value(x)
    on_value = helper(v)
    assert isinstance(on_value, Value) and on_value._prev == (v,)  # in the graph, so it can be differentiated
    assert on_value.data == pytest.approx(truth(x), rel=1e-12)
    h = 1e-6
    (slope,) = grad(on_value, [v])
    assert slope == pytest.approx((truth(x + h) - truth(x - h)) / (2 * h), rel=1e-5, abs=1e-8)


# -- feature combinations: every optimizer and clip_grad_norm after backward(create_graph=True) -----


def _optimizers() -> list[type[optim.Optimizer]]:
    found, todo = [], [optim.Optimizer]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls is not optim.Optimizer and cls.__module__ == optim.__name__:
            found.append(cls)
    return sorted(found, key=lambda c: c.__name__)


SETTINGS = {  # a few settings per optimizer, so every branch of its rule runs
    "SGD": [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}],
    "RMSProp": [{}, {"weight_decay": 0.1, "alpha": 0.5, "momentum": 0.9}],
    "Adam": [{}, {"weight_decay": 0.1, "betas": (0.5, 0.6)}],
    "AdamW": [{}, {"weight_decay": 0.1}],
}


def test_every_optimizer_has_settings_here() -> None:
    assert sorted(SETTINGS) == [cls.__name__ for cls in _optimizers()]


@pytest.mark.parametrize("cls", _optimizers(), ids=lambda c: c.__name__)
@given(start=st.lists(st.floats(-2, 2), min_size=2, max_size=2), steps=st.integers(1, 3))
@settings(max_examples=15)
def test_every_optimizer_steps_the_same_after_create_graph(cls, start, steps) -> None:
    for hyper in SETTINGS[cls.__name__]:
        runs = []
        for create_graph in (False, True):
            w = [Value(x) for x in start]
            opt = cls(w, lr=0.1, **hyper)
            for _ in range(steps):
                opt.zero_grad()
                ((w[0] * w[1]).tanh() + w[0] * w[0]).backward(create_graph=create_graph)
                assert isinstance(w[0].grad, Value) == create_graph
                opt.step()
            runs.append(([p.data for p in w], opt.state_dict()))
        assert runs[0] == runs[1], (cls.__name__, hyper)


def _kind(cls: type[optim.Optimizer], name: str) -> str:
    default = inspect.signature(cls).parameters[name].default
    return "flag" if isinstance(default, bool) else "pair" if isinstance(default, tuple) else "number"


BAD = {  # values no hyperparameter of each kind may take
    "number": [None, "0.1", math.nan, -math.inf, math.inf, -1.0, True, [0.1]],
    "flag": [None, "True", 1, 0.0, math.nan],
    "pair": [None, "0.9", (0.9,), (0.9, 0.999, 0.1), (0.9, 1.0), (-0.1, 0.9), (True, 0.9), (math.nan, 0.9)],
}


@pytest.mark.parametrize("cls", _optimizers(), ids=lambda c: c.__name__)
def test_every_hyperparameter_refuses_bad_values_by_name(cls: type[optim.Optimizer]) -> None:
    for name in cls.hyperparameters:
        for bad in BAD[_kind(cls, name)]:
            given = {"lr": 0.1, "momentum": 0.9, name: bad} if cls is optim.SGD else {"lr": 0.1, name: bad}
            with pytest.raises((TypeError, ValueError), match=name):
                cls([Value(1.0)], **given)


PYTORCH_DEFAULTS = {  # torch.optim's documented defaults (lr of SGD has none here: it must be given)
    "SGD": {"momentum": 0.0, "nesterov": False, "weight_decay": 0.0},
    "RMSProp": {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0},
    "Adam": {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
    "AdamW": {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01},
}


@pytest.mark.parametrize("cls", _optimizers(), ids=lambda c: c.__name__)
def test_every_optimizers_defaults_are_pytorchs(cls: type[optim.Optimizer]) -> None:
    expected = PYTORCH_DEFAULTS[cls.__name__]
    opt = cls([Value(1.0)], lr=0.1) if cls is optim.SGD else cls([Value(1.0)])
    assert {name: getattr(opt, name) for name in expected} == expected


@given(start=st.lists(st.floats(-3, 3), min_size=3, max_size=3), max_norm=st.floats(0.01, 5))
def test_clip_grad_norm_is_the_same_after_create_graph(start, max_norm) -> None:
    runs = []
    for create_graph in (False, True):
        w = [Value(x) for x in start]
        (w[0] * w[1] * w[2] + w[0] ** 2).backward(create_graph=create_graph)
        norm = optim.clip_grad_norm(w, max_norm)
        grads = [p.grad.data if isinstance(p.grad, Value) else p.grad for p in w]
        runs.append((norm, grads))
    assert runs[0] == runs[1]
    assert math.hypot(*runs[0][1]) <= max_norm * (1 + 1e-9) or runs[0][0] <= max_norm


# -- a save file's header of the wrong JSON type -------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-3, 3) | st.text(max_size=12)
    | st.sampled_from(["microgradx", "1", "state"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


def valid_header_value(key: str, value: Any) -> bool:
    """What the save format accepts for each header field, written out from its documentation."""
    if key == "format":
        return value == "microgradx" and isinstance(value, str)
    if key == "version":
        return type(value) is int and 1 <= value <= VERSION
    return isinstance(value, dict)  # "state"


@given(key=st.sampled_from(["format", "version", "state"]), value=json_values)
@example(key="version", value=True)
@example(key="version", value=1.0)
@example(key="format", value=["microgradx"])
@example(key="state", value=[])
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_header_of_the_wrong_json_type_is_refused(tmp_path: Path, key: str, value: Any) -> None:
    document = {"format": "microgradx", "version": VERSION, "state": {"w": 1.5}}
    document[key] = value
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document))
    if valid_header_value(key, value):
        assert load(path) == document["state"]
    else:
        with pytest.raises(SaveFileError, match=key):
            load(path)


# -- gradcheck's relative tolerance decides where gradients are large ---------------------------------


@given(scale=st.floats(1e2, 1e12), error=st.floats(1e-4, 1e-1), rtol=st.sampled_from([1e-4, 1e-3, 1e-2, 1e-1]))
def test_gradchecks_relative_tolerance_decides_for_large_gradients(scale: float, error: float, rtol: float) -> None:
    # A rule off by the relative error `error`, at a gradient of size `scale` (where atol=1e-5 does
    # not matter): it passes exactly when the error is within rtol.
    assume(abs(error - rtol) > 0.05 * rtol)  # clear of the boundary, where rounding could tip it
    from microgradx import define_op

    off = define_op("off", lambda x: scale * x, lambda x, out: (scale * (1 + error),))
    report = check(lambda v: off(v), [0.5], rtol=rtol)
    # |analytic - numeric| = scale * error against atol + rtol * scale: within 1e-7 of rtol itself
    assert report.passed == (error < rtol), report.text
    assert report.rows[0].status == ("ok" if error < rtol else "FAIL")


# -- data generators: no duplicate points, classes balanced ----------------------------------------------


def _generators() -> dict[str, Callable[..., Any]]:
    return {name: f for name, f in vars(data).items() if name.startswith("make_") and inspect.isfunction(f)}


def test_every_generator_is_checked() -> None:
    assert sorted(_generators()) == sorted(GENERATOR_CALLS)


GENERATOR_CALLS: dict[str, Callable[[int, float, int], tuple[np.ndarray, np.ndarray]]] = {
    "make_moons": lambda n, noise, seed: data.make_moons(n, noise=noise, seed=seed),
    "make_circles": lambda n, noise, seed: data.make_circles(n, noise=noise, factor=0.5, seed=seed),
    "make_xor": lambda n, noise, seed: data.make_xor(n, noise=noise, seed=seed),
    "make_spirals": lambda n, noise, seed: data.make_spirals(n, n_classes=3, noise=noise, seed=seed),
    "make_blobs": lambda n, noise, seed: data.make_blobs(n, centers=3, std=max(noise, 0.5), seed=seed),
    "make_sine": lambda n, noise, seed: data.make_sine(n, noise=noise, seed=seed),
}


@pytest.mark.parametrize("name", sorted(GENERATOR_CALLS))
@given(n=st.integers(2, 400), noise=st.sampled_from([0.0, 0.1]), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25)
def test_generated_points_are_distinct_and_classes_balanced(name: str, n: int, noise: float, seed: int) -> None:
    X, y = GENERATOR_CALLS[name](n, noise, seed)
    assert len(X) == len(y) == n and np.isfinite(X).all()
    # No two examples at the same point, up to rounding: a circle drawn from 0 to 2 pi inclusive would
    # put its first and last points 2e-16 apart.
    gaps = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=-1) + np.eye(n)
    assert gaps.min() > 1e-9, "two examples are the same point"
    if name != "make_sine" and name != "make_xor":  # classes by construction: as equal as n allows
        counts = np.bincount(y.astype(int))
        assert counts.max() - counts.min() <= 1, counts


# -- initializers, through the layers that call them -----------------------------------------------------

INIT_SPEC = {  # the bound (uniform) or the standard deviation (normal) each promises, from fan_in and fan_out
    "uniform": ("bound", lambda fan_in, fan_out: 1.0),
    "xavier_uniform": ("bound", lambda fan_in, fan_out: math.sqrt(6 / (fan_in + fan_out))),
    "xavier_normal": ("std", lambda fan_in, fan_out: math.sqrt(2 / (fan_in + fan_out))),
    "kaiming_uniform": ("bound", lambda fan_in, fan_out: math.sqrt(2) * math.sqrt(3 / fan_in)),
    "kaiming_normal": ("std", lambda fan_in, fan_out: math.sqrt(2) / math.sqrt(fan_in)),
}


def test_every_initializer_has_a_spec_here() -> None:
    assert sorted(INIT_SPEC) == sorted(init.INITIALIZERS)


@pytest.mark.parametrize("name", sorted(INIT_SPEC))
@pytest.mark.parametrize(("nin", "nout"), [(40, 3), (3, 60), (25, 25)])
def test_a_layer_gives_its_initializer_its_own_sizes(name: str, nin: int, nout: int) -> None:
    # The weights of a layer are drawn with fan_in = nin and fan_out = nout; swapped sizes change the
    # spread unless the layer is square (so two of the three shapes are not).
    kind, spread = INIT_SPEC[name]
    layer = Layer(nin, nout, "tanh", init=name, seed=0)
    weights = [w.data for neuron in layer.neurons for w in neuron.w]
    assert len(weights) == nin * nout and [neuron.b.data for neuron in layer.neurons] == [0.0] * nout
    expected = spread(nin, nout)
    if kind == "bound":
        assert max(abs(w) for w in weights) <= expected
        assert max(abs(w) for w in weights) > expected * 0.9  # 120+ draws come near the bound
    else:
        assert statistics.pstdev(weights) == pytest.approx(expected, rel=0.2)


@pytest.mark.parametrize("name", sorted(INIT_SPEC))
def test_an_mlp_gives_each_layer_its_sizes(name: str) -> None:
    kind, spread = INIT_SPEC[name]
    sizes = [30, 5, 80, 2]
    model = MLP(sizes[0], sizes[1:], init=name, seed=1)
    for layer, fan_in, fan_out in zip(model.layers, sizes, sizes[1:]):
        weights = [w.data for neuron in layer.neurons for w in neuron.w]
        assert len(layer.neurons) == fan_out and all(len(n.w) == fan_in for n in layer.neurons)
        if kind == "bound":
            assert max(abs(w) for w in weights) <= spread(fan_in, fan_out)
        else:
            assert statistics.pstdev(weights) == pytest.approx(spread(fan_in, fan_out), rel=0.35)


# -- the engine's public surface: every method, comparison and way to build a node ---------------------------

METHODS = {  # Value's methods, each the table op it must apply (and nothing else)
    "exp": ops.PRIMITIVES["exp"], "log": ops.PRIMITIVES["log"], "sqrt": ops.PRIMITIVES["sqrt"],
    "tanh": ops.PRIMITIVES["tanh"], "sigmoid": ops.PRIMITIVES["sigmoid"], "relu": ops.PRIMITIVES["relu"],
    "gelu": ops.PRIMITIVES["gelu"], "softplus": ops.PRIMITIVES["softplus"], "sin": ops.PRIMITIVES["sin"],
    "cos": ops.PRIMITIVES["cos"], "abs": ops.PRIMITIVES["abs"],
}


def test_every_math_method_of_value_is_checked_here() -> None:
    methods = {name for name, f in vars(Value).items() if inspect.isfunction(f) and not name.startswith("_")
               and set(inspect.signature(f).parameters) <= {"self", "slope", "alpha"}}
    assert methods - {"backward", "detach", "item"} == set(METHODS) | {"leaky_relu", "elu"}


@pytest.mark.parametrize("name", sorted(METHODS))
@given(x=st.floats(0.1, 3) | st.floats(-3, -0.1))
def test_each_method_applies_its_table_op(name: str, x: float) -> None:
    if name in ("log", "sqrt"):
        x = abs(x)
    v = Value(x)
    out = getattr(v, name)()
    assert out._op is METHODS[name] and out._prev == (v,)
    assert out.data == apply_op(METHODS[name], x).data
    assert grad(out, [v]) == grad(apply_op(METHODS[name], v), [v])


@given(x=st.floats(-3, 3), slope=st.floats(0.01, 0.5), alpha=st.floats(0.1, 2))
def test_the_methods_with_a_constant_apply_the_op_of_that_constant(x: float, slope: float, alpha: float) -> None:
    v = Value(x)
    assert v.leaky_relu(slope)._op is ops.leaky_relu_op(slope) and v.leaky_relu(slope)._prev == (v,)
    assert v.elu(alpha)._op is ops.elu_op(alpha) and v.elu(alpha)._prev == (v,)
    assert v.leaky_relu(slope).data == (x if x > 0 else slope * x)
    assert v.elu(alpha).data == pytest.approx(x if x > 0 else alpha * math.expm1(x))


values_or_numbers = st.sampled_from([-2.0, -0.0, 0.0, 0.5, 1.0, 3.0])


@given(a=values_or_numbers, b=values_or_numbers)
def test_comparisons_are_the_comparisons_of_the_data(a: float, b: float) -> None:
    va, vb = Value(a), Value(b)
    for compare in (lambda p, q: p < q, lambda p, q: p <= q, lambda p, q: p > q, lambda p, q: p >= q):
        expected = compare(a, b)
        assert compare(va, vb) == compare(va, b) == compare(a, vb) == expected  # Value, number, reflected


@pytest.mark.parametrize("children", [1, 2, 3])
def test_nodes_built_by_hand_keep_any_number_of_children_in_order(children: int) -> None:
    xs = [Value(float(k + 1), label=f"x{k}") for k in range(children)]
    out = Value(sum(x.data for x in xs), tuple(xs), "my_sum")

    def step() -> None:
        for x in xs:
            x.grad += out.grad

    out._backward = step
    assert out._prev == tuple(xs)
    (out * 2.0).backward()
    assert [x.grad for x in xs] == [2.0] * children


@pytest.mark.parametrize("op", [ops.PRIMITIVES["*"], ops.PRIMITIVES["exp"]], ids=["*", "exp"])
def test_a_table_op_given_by_hand_needs_its_number_of_children(op: ops.Op) -> None:
    wrong = [Value(1.0)] * (op.arity + 1)
    with pytest.raises(TypeError, match=f"op '{re.escape(op.name)}' takes {op.arity} input"):
        Value(1.0, tuple(wrong), op)


@pytest.mark.parametrize(("forward", "derivative"), [(1.0, lambda x, out: (1.0,)), (abs, "2x"), (None, None)])
def test_define_op_refuses_rules_that_are_not_functions(forward: Any, derivative: Any) -> None:
    from microgradx import define_op

    with pytest.raises(TypeError, match="must be functions"):
        define_op("bad", forward, derivative)


@pytest.mark.parametrize("name", ["", 5, None, b"op"])
def test_define_op_needs_a_name(name: Any) -> None:
    from microgradx import define_op

    with pytest.raises(TypeError, match="non-empty name"):
        define_op(name, lambda x: x, lambda x, out: (1.0,))


def test_the_activations_constants_default_to_pytorchs() -> None:
    # torch.nn.LeakyReLU(negative_slope=0.01), torch.nn.ELU(alpha=1.0)
    assert Value(-2.0).leaky_relu().data == -0.02
    assert Value(-1.0).elu().data == pytest.approx(math.expm1(-1.0))


def test_define_op_counts_the_inputs_a_forward_rule_needs() -> None:
    # Parameters with a default (settings of the rule) and keyword-only ones are not inputs.
    from microgradx import define_op

    def scaled(x: float, scale: float = 2.0, *, shift: float = 0.0) -> float:
        return scale * x + shift

    op = define_op("scaled", scaled, lambda x, out: (2.0,))
    assert op.op.arity == 1 and op(Value(1.5)).data == 3.0
    two = define_op("two", lambda a, b, c=1.0: a * b * c, lambda a, b, out: (b, a))
    assert two.op.arity == 2 and two(Value(2.0), Value(3.0)).data == 6.0


@pytest.mark.parametrize("inputs", [[1.0], ["x"], [None], [Value(1.0), 2]])
def test_grad_refuses_inputs_that_are_not_values(inputs: list[Any]) -> None:
    y = Value(1.0) * 2
    with pytest.raises(TypeError, match=r"grad\(\) inputs must be Values"):
        grad(y, inputs)


KINK_CONVENTIONS = [  # the derivative each op takes at its kink, as PyTorch's backward does
    (ops.PRIMITIVES["relu"], 0.0), (ops.PRIMITIVES["abs"], 0.0), (ops.leaky_relu_op(0.2), 0.2),
    (ops.elu_op(0.5), 0.5), (ops.elu_op(2.0), 2.0),
]


@pytest.mark.parametrize(("op", "slope"), KINK_CONVENTIONS, ids=lambda v: getattr(v, "name", str(v)))
def test_the_derivative_at_a_kink_is_pytorchs(op: ops.Op, slope: float) -> None:
    x = Value(0.0)
    (d,) = grad(apply_op(op, x), [x])
    assert d == slope


def test_every_op_with_a_kink_has_a_convention_here() -> None:
    with_kinks = {op.name for op in TABLE if op.kinks}
    assert with_kinks == {op.name for op, _ in KINK_CONVENTIONS}


# -- every loss refuses what it cannot score, naming itself --------------------------------------------------

LOSS_FUNCTIONS = [losses.mse, losses.hinge, losses.binary_cross_entropy, losses.cross_entropy]


@pytest.mark.parametrize("loss", LOSS_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("preds", "targets"), [("ab", [1, 1]), ([Value(1.0), Value(0.0)], "11"), ("1", "1"),
                                                ([], []), ([[]], [0])])
def test_every_loss_refuses_text_and_empty_input_by_name(loss, preds, targets) -> None:
    # A str is a list of one-character strs, each a list again: without a check it never ends.
    with pytest.raises((TypeError, ValueError), match=loss.__name__):
        loss(preds, targets)


@pytest.mark.parametrize("probabilities", [[-0.1, 1.1], [1.5, 0.0], [math.nan, 1.0], ["0.5", 0.5], [None, 1.0]])
def test_cross_entropy_refuses_class_probabilities_outside_0_to_1(probabilities: list[Any]) -> None:
    with pytest.raises((TypeError, ValueError), match="cross_entropy"):
        losses.cross_entropy([Value(0.0), Value(1.0)], probabilities)


@given(p=st.floats(0, 1), q=st.floats(0, 1))
def test_cross_entropy_takes_class_probabilities_as_numbers_or_values(p: float, q: float) -> None:
    # Any weights in [0, 1], not only ones that sum to 1 (label smoothing, soft labels, masks).
    logits = [Value(0.3), Value(-1.2)]
    as_numbers = losses.cross_entropy(logits, [p, q]).data
    as_values = losses.cross_entropy(logits, [Value(p), Value(q)]).data
    lse = math.log(math.exp(0.3) + math.exp(-1.2))
    expected = -(p * (0.3 - lse) + q * (-1.2 - lse))  # - sum_k p_k log softmax(z)_k
    assert as_numbers == pytest.approx(expected, abs=1e-12) and as_values == pytest.approx(expected, abs=1e-12)


# -- every loss's accuracy rule runs, against the rule written out here -------------------------------------


def _sign(scores: list[float], targets: list[float]) -> float:
    return float(np.mean([(s > 0) == (t > 0) for s, t in zip(scores, targets)]))


ACCURACY_SPEC: dict[Callable[..., Value], tuple[Callable[[np.random.Generator, int], Any], Callable[..., float]]] = {
    losses.hinge: (lambda rng, n: rng.choice([-1.0, 1.0], n), _sign),
    losses.binary_cross_entropy: (  # targets in [0, 1]: soft ones too, which count as class 1 above 0.5
        lambda rng, n: rng.choice([0.0, 0.2, 0.5, 0.8, 1.0], n),
        lambda scores, targets: float(np.mean([(s > 0) == (t > 0.5) for s, t in zip(scores, targets)])),
    ),
    losses.cross_entropy: (
        lambda rng, n: rng.integers(0, 3, n),
        lambda logits, targets: float(np.mean([int(np.argmax(z)) == t for z, t in zip(logits, targets)])),
    ),
}


def test_every_accuracy_rule_has_a_spec_here() -> None:
    assert set(ACCURACY) == set(ACCURACY_SPEC)


@pytest.mark.parametrize("loss", list(ACCURACY_SPEC), ids=lambda f: f.__name__)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12))
def test_each_loss_accuracy_rule_is_the_documented_one(loss: Callable[..., Value], seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    targets_of, rule = ACCURACY_SPEC[loss]
    targets = targets_of(rng, n)
    if loss is losses.cross_entropy:
        outputs = rng.choice([-1.0, 0.0, 0.5, 2.0], size=(n, 3))  # ties included: the first largest wins
        model: Callable[[Any], Any] = lambda x: [Value(float(z)) for z in x]  # noqa: E731
    else:
        outputs = rng.choice([-2.0, -0.5, 0.0, 0.5, 2.0], size=(n, 1))  # 0 included: not positive
        model = lambda x: Value(float(x[0]))  # noqa: E731
    _, accuracy = evaluate(model, outputs, targets, loss=loss.__name__)
    expected = rule(outputs[:, 0].tolist(), targets.tolist()) if outputs.shape[1] == 1 else rule(outputs, targets)
    assert accuracy == pytest.approx(expected)


# -- epoch aggregates after an interruption equal the steps they cover ----------------------------------------


@given(n=st.integers(3, 14), batch=st.integers(1, 6), epochs=st.integers(1, 3), stop_at=st.integers(1, 20),
       seed=st.integers(0, 1000))
@settings(max_examples=30, deadline=None)
def test_epoch_loss_and_accuracy_are_the_means_of_their_steps(n, batch, epochs, stop_at, seed) -> None:
    X, y = data.make_blobs(n, centers=[[-1, -1], [1, 1]], std=0.7, seed=seed)
    targets = 2 * y - 1
    per_epoch = -(-n // batch)
    steps: list[tuple[float, float, int]] = []  # (loss, examples right, batch size) per step, seen from outside

    def loss(preds: list[Value], ts: list[float]) -> Value:
        value = losses.hinge(preds, ts)
        steps.append((value.data, sum((p.data > 0) == (t > 0) for p, t in zip(preds, ts)), len(preds)))
        if len(steps) == stop_at:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C during this step: it completes, then fit stops
        return value

    model = MLP(2, [3, 1], seed=seed)
    before = signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    try:
        history = fit(model, X, targets, loss=loss, accuracy=ACCURACY[losses.hinge],
                      optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=epochs, batch_size=batch, seed=seed,
                      progress=False)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
    assert history.interrupted == (stop_at <= epochs * per_epoch)
    assert history.step_loss == [s[0] for s in steps]
    by_epoch = [steps[k : k + per_epoch] for k in range(0, len(steps), per_epoch)]
    assert len(history.loss) == len(history.accuracy) == len(by_epoch)
    for recorded_loss, recorded_accuracy, epoch in zip(history.loss, history.accuracy, by_epoch):
        seen = sum(size for _, _, size in epoch)
        assert recorded_loss == pytest.approx(sum(value * size for value, _, size in epoch) / seen)
        assert recorded_accuracy == pytest.approx(sum(right for _, right, _ in epoch) / seen)
