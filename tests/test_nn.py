"""microgradx.nn and microgradx.init: gradients of whole networks, micrograd compatibility, naming,
state dicts, seeding, the perceptron, and the error messages."""

import math
import random

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from reference import central_differences_at

from microgradx import init
from microgradx.engine import Value, no_grad
from microgradx.nn import ACTIVATIONS, MLP, Layer, Module, Neuron, Perceptron

KINKED = {"relu", "leaky_relu"}  # ops whose derivative jumps at 0


def nearest_kink(root):
    """How close the input of any relu-like node in root's graph is to its kink at 0."""
    closest, stack, seen = math.inf, [root], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node._prev and node._op.name in KINKED:
            closest = min(closest, abs(node._prev[0].data))
        stack.extend(node._prev)
    return closest


# -- gradients of whole networks against finite differences ---------------------------------------


@settings(max_examples=150)
@given(
    nin=st.integers(1, 4),
    nouts=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    output_activation=st.sampled_from(["linear", "tanh", "sigmoid"]),
    init_name=st.sampled_from(sorted(init.INITIALIZERS)),
    xs=st.lists(st.floats(-2, 2), min_size=4, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_mlp_gradients_equal_finite_differences(nin, nouts, activation, output_activation, init_name, xs, seed):
    model = MLP(nin, nouts, activation, output_activation=output_activation, init=init_name, seed=seed)
    rng = random.Random(seed)
    for p in model.parameters():  # random biases too, so no pre-activation sits at a kink by design
        if p.label.endswith(".b"):
            p.data = rng.uniform(-1, 1)
    inputs = [Value(x) for x in xs[:nin]]
    weights = [rng.uniform(-1, 1) for _ in range(nouts[-1])]  # a random direction through the outputs

    def forward():
        out = model(inputs)
        outs = [out] if isinstance(out, Value) else out
        return sum((w * o for w, o in zip(weights, outs)), Value(0.0))

    root = forward()
    assume(nearest_kink(root) > 1e-3)
    model.zero_grad()
    root.backward()
    wrt = model.parameters() + inputs
    with no_grad():
        numeric = central_differences_at(lambda: forward().data, wrt)
    for v, expected in zip(wrt, numeric):
        assert math.isclose(v.grad, expected, rel_tol=1e-5, abs_tol=1e-6), (v.label or "an input", v.grad, expected)


def test_a_gradient_check_catches_a_wrong_gradient():
    # The check above must be able to fail: spoil one gradient and it disagrees.
    model = MLP(2, [3, 1], "tanh", seed=0)
    inputs = [Value(0.3), Value(-0.7)]
    model(inputs).backward()
    p = model.parameters()[0]
    with no_grad():
        (expected,) = central_differences_at(lambda: model(inputs).data, [p])
    assert math.isclose(p.grad, expected, rel_tol=1e-5)
    assert not math.isclose(p.grad * 1.001, expected, rel_tol=1e-5)


# -- micrograd compatibility --------------------------------------------------------------------


def test_micrograd_shapes_and_reprs():
    model = MLP(2, [16, 16, 1])
    assert repr(model) == (
        "MLP of [Layer of [" + ", ".join(["ReLUNeuron(2)"] * 16) + "], Layer of ["
        + ", ".join(["ReLUNeuron(16)"] * 16) + "], Layer of [LinearNeuron(16)]]"
    )
    assert len(model.parameters()) == 16 * 3 + 16 * 17 + 17
    assert isinstance(model([1.0, 2.0]), Value)
    assert isinstance(model([Value(1.0), Value(2.0)]), Value)
    wide = MLP(3, [4, 2])(np.array([1.0, 2.0, 3.0]))
    assert isinstance(wide, list) and len(wide) == 2 and all(isinstance(v, Value) for v in wide)


def test_neuron_and_layer_like_micrograd():
    assert repr(Neuron(3)) == "ReLUNeuron(3)"
    assert repr(Neuron(3, nonlin=False)) == "LinearNeuron(3)"
    assert repr(Layer(2, 2, nonlin=False)) == "Layer of [LinearNeuron(2), LinearNeuron(2)]"
    assert isinstance(Layer(2, 1)([1.0, 2.0]), Value)
    assert [repr(Neuron(1, a)) for a in ACTIVATIONS] == [f"{ACTIVATIONS[a][0]}Neuron(1)" for a in ACTIVATIONS]


def test_uniform_init_draws_what_micrograd_draws():
    # micrograd: random.seed(s); MLP(2, [16, 16, 1]) calls random.uniform(-1, 1) per weight, neuron by
    # neuron, layer by layer, with biases 0. Same seed, same draws, same order here.
    rng = random.Random(1337)
    expected = []
    for nin, nout in [(2, 16), (16, 16), (16, 1)]:
        for _ in range(nout):
            expected += [rng.uniform(-1, 1) for _ in range(nin)] + [0.0]
    assert [p.data for p in MLP(2, [16, 16, 1], seed=1337).parameters()] == expected


def test_neuron_computes_activation_of_dot_plus_bias():
    n = Neuron(2, "tanh", seed=0)
    n.w[0].data, n.w[1].data, n.b.data = 0.5, -1.0, 0.25
    assert n([2.0, 3.0]).data == pytest.approx(math.tanh(0.5 * 2 - 3 + 0.25))
    assert Neuron(1, "linear", seed=0)([0.0]).data == 0.0


def test_a_neuron_adds_three_nodes_however_many_inputs_it_has():
    # act(w . x + b): one dot node over the weights then the inputs, then +, then the activation.
    n = Neuron(3, "tanh", seed=0)
    xs = [Value(1.0), Value(2.0), Value(3.0)]
    for out in (n(xs), MLP(3, [1], "tanh", output_activation="tanh", seed=0)(xs)):
        plus = out._prev[0]
        weighted = plus._prev[0]
        assert (out._op.name, plus._op.name, weighted._op.name) == ("tanh", "+", "dot")
        assert weighted._prev[3:] == tuple(xs)
        assert all(w.label.endswith(f"w.{k}") for k, w in enumerate(weighted._prev[:3]))
        assert plus._prev[1].label.endswith("b")


# -- names, labels, state dicts ---------------------------------------------------------------------


def test_parameter_names_and_labels():
    model = MLP(2, [4, 3, 1], seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert "layers.1.neurons.2.w.3" in names and names[-1] == "layers.2.neurons.0.b"
    assert len(set(names)) == len(names)
    assert all(p.label == name for name, p in model.named_parameters())
    assert [p.label for p in Layer(2, 2, seed=0).parameters()][-1] == "neurons.1.b"


def test_custom_modules_are_walked_in_order_and_skip_private_attributes():
    class Model(Module):
        def __init__(self):
            self.encoder = MLP(2, [2], seed=0)
            self.scale = Value(2.0)
            self.heads = [Neuron(2, seed=1), Neuron(2, seed=2)]
            self.shared = self.scale  # the same Value again: listed once
            self._cache = [Value(9.0)]
            self.note = "not a parameter"

        def __call__(self, x):
            return self.scale * self.heads[0](self.encoder(x))

    names = [name for name, _ in Model().named_parameters()]
    assert names[0] == "encoder.layers.0.neurons.0.w.0"
    assert "scale" in names and "heads.1.b" in names
    assert "shared" not in names and not any(n.startswith("_cache") for n in names)
    assert len(names) == 6 + 1 + 3 + 3


def test_zero_grad_and_state_dict():
    model = MLP(2, [3, 1], seed=0)
    model([1.0, -1.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())
    state = model.state_dict()
    assert list(state) == [name for name, _ in model.named_parameters()]
    assert all(type(v) is float for v in state.values())


def test_load_state_dict_round_trip():
    a, b = MLP(2, [3, 2], seed=0), MLP(2, [3, 2], seed=1)
    assert a.state_dict() != b.state_dict()
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()
    assert [v.data for v in a([0.5, 0.5])] == [v.data for v in b([0.5, 0.5])]


def test_load_state_dict_names_the_first_mismatch_and_changes_nothing():
    model = MLP(2, [3, 1], seed=0)
    before = model.state_dict()
    state = dict(before)
    del state["layers.0.neurons.1.w.0"], state["layers.1.neurons.0.b"]
    with pytest.raises(ValueError, match=r"missing key 'layers\.0\.neurons\.1\.w\.0' \(and 1 more\)"):
        model.load_state_dict({k: v + 1 for k, v in state.items()})
    assert model.state_dict() == before

    bigger = MLP(2, [4, 1], seed=0).state_dict()
    with pytest.raises(ValueError, match=r"unexpected key 'layers\.0\.neurons\.3\.w\.0'"):
        model.load_state_dict(bigger)
    assert model.state_dict() == before

    bad = {k: v + 1 for k, v in before.items()}
    bad["layers.1.neurons.0.b"] = "oops"  # the last key: every other one would load first if not all-or-nothing
    with pytest.raises(ValueError, match=r"'layers\.1\.neurons\.0\.b' must be a finite number, got 'oops'"):
        model.load_state_dict(bad)
    assert model.state_dict() == before
    for value in (math.nan, math.inf, True, None, [1.0], 10**400):
        bad["layers.1.neurons.0.b"] = value
        with pytest.raises(ValueError, match="must be a finite number"):
            model.load_state_dict(bad)
    assert model.state_dict() == before

    with pytest.raises(TypeError, match="needs a dict"):
        model.load_state_dict([("layers.0.neurons.0.w.0", 1.0)])
    with pytest.raises(ValueError, match="state of a 'Adam' optimizer"):
        model.load_state_dict({"type": "Adam", "hyperparameters": {}, "step_count": 0, "state": {}})


def test_load_state_dict_not_strict_loads_what_matches():
    model = MLP(2, [3, 1], seed=0)
    result = model.load_state_dict({"layers.0.neurons.0.w.0": 0.5, "extra": 1.0}, strict=False)
    assert model.layers[0].neurons[0].w[0].data == 0.5
    assert result.unexpected == ["extra"] and len(result.missing) == len(model.parameters()) - 1


# -- seeding and initializers ---------------------------------------------------------------------


def test_same_seed_same_network():
    assert MLP(3, [5, 2], seed=7).state_dict() == MLP(3, [5, 2], seed=7).state_dict()
    assert MLP(3, [5, 2], seed=7).state_dict() != MLP(3, [5, 2], seed=8).state_dict()
    a, b = random.Random(3), random.Random(3)
    assert MLP(3, [5, 2], seed=a).state_dict() == MLP(3, [5, 2], seed=b).state_dict()
    random.seed(11)
    first = MLP(2, [3], init="xavier_normal").state_dict()
    random.seed(11)
    assert MLP(2, [3], init="xavier_normal").state_dict() == first  # seed=None follows random.seed


@pytest.mark.parametrize(
    ("name", "variance"),
    [
        ("uniform", lambda fi, fo: 1 / 3),
        ("xavier_uniform", lambda fi, fo: 2 / (fi + fo)),
        ("xavier_normal", lambda fi, fo: 2 / (fi + fo)),
        ("kaiming_uniform", lambda fi, fo: 2 / fi),
        ("kaiming_normal", lambda fi, fo: 2 / fi),
    ],
)
def test_initializers_have_their_variance(name, variance):
    fan_in, fan_out = 50, 30
    rng = init.make_rng(0)
    draws = [w for _ in range(200) for w in init.INITIALIZERS[name](fan_in, fan_out, rng)]
    assert len(draws) == 200 * fan_in
    assert abs(np.mean(draws)) < 5 * math.sqrt(variance(fan_in, fan_out) / len(draws))  # 5 standard errors
    assert np.var(draws) == pytest.approx(variance(fan_in, fan_out), rel=0.05)


def test_uniform_initializers_stay_in_their_bounds():
    rng = init.make_rng(0)
    assert max(abs(w) for w in init.xavier_uniform(8, 4, rng)) <= math.sqrt(6 / 12)
    assert max(abs(w) for w in init.kaiming_uniform(8, 4, rng)) <= math.sqrt(6 / 8)
    assert max(abs(w) for w in init.uniform(8, 4, rng)) <= 1


def test_init_accepts_a_function_and_make_rng_checks_its_seed():
    model = MLP(2, [2], init=lambda fan_in, fan_out, rng: [0.5] * fan_in, seed=0)
    assert all(p.data in (0.5, 0.0) for p in model.parameters())
    with pytest.raises(TypeError, match="seed must be an int"):
        init.make_rng("0")
    with pytest.raises(ValueError, match="made 1 weights for a neuron with 2 inputs"):
        Neuron(2, init=lambda fan_in, fan_out, rng: [0.5])


# -- the perceptron -----------------------------------------------------------------------------


def test_perceptron_learns_separable_data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 2))
    margin = X @ np.array([2.0, -1.0]) + 0.3
    keep = np.abs(margin) > 0.1  # a margin makes the number of updates small (Novikoff's bound)
    X, y = X[keep], (margin[keep] > 0).astype(int)
    p = Perceptron(2)
    mistakes = p.learn(X, y, epochs=1000)
    assert mistakes[-1] == 0 and len(mistakes) < 1000
    assert [p(x) for x in X] == y.tolist()


def test_perceptron_learns_and_or_but_never_xor():
    inputs = [[0, 0], [0, 1], [1, 0], [1, 1]]
    for labels in ([0, 0, 0, 1], [0, 1, 1, 1]):  # AND, OR
        p = Perceptron(2)
        assert p.learn(inputs, labels)[-1] == 0
        assert [p(x) for x in inputs] == labels
    p = Perceptron(2)
    mistakes = p.learn(inputs, [0, 1, 1, 0], epochs=500)
    assert len(mistakes) == 500 and min(mistakes) > 0
    assert [p(x) for x in inputs] != [0, 1, 1, 0]


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_no_perceptron_computes_xor(w1, w2, b):
    p = Perceptron(2)
    p.w[0].data, p.w[1].data, p.b.data = w1, w2, b
    assert [p(x) for x in [[0, 0], [0, 1], [1, 0], [1, 1]]] != [0, 1, 1, 0]


def test_perceptron_learn_refuses_an_update_that_overflows_and_restores_the_start():
    p = Perceptron(1)
    p.w[0].data, p.b.data = 0.25, -0.5
    # Example 0 is learned (w, b += 1e308), then example 1 scores inf, is a mistake, and its update
    # w -= 1e308 * 1e308 overflows: the first update is undone too.
    with pytest.raises(ValueError, match=r"the update for example 1 in epoch 0 would make a weight overflow; scale "
                                         r"the inputs down or lower lr. The weights are as they were before learn"):
        p.learn([[1.0], [1e308]], [1, 0], lr=1e308)
    assert p.state_dict() == {"w.0": 0.25, "b": -0.5}


def test_perceptron_whose_score_has_no_sign_says_so():
    p = Perceptron(2)
    p.w[0].data = p.w[1].data = 1e300
    with pytest.raises(ValueError, match=r"w \. x \+ b overflows a float with both signs"):
        p([1e10, -1e10])  # inf + -inf: NaN > 0 would have answered 0 without a word


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e308, 1e308), st.floats(-1e308, 1e308), st.sampled_from([0, 1])),
                min_size=1, max_size=6),
       st.floats(1e-300, 1e308), st.floats(-1e308, 1e308))
def test_perceptron_learn_keeps_every_weight_finite_or_changes_nothing(rows, lr, w0):
    p = Perceptron(2)
    p.w[0].data = w0
    before = p.state_dict()
    try:
        p.learn([[a, b] for a, b, _ in rows], [label for *_, label in rows], epochs=3, lr=lr)
    except ValueError as error:
        assert "overflow" in str(error)
        assert p.state_dict() == before
    else:
        assert all(math.isfinite(v) for v in p.state_dict().values())


def test_perceptron_checks_its_data():
    p = Perceptron(2)
    with pytest.raises(ValueError, match="labels must be 0 or 1, got -1"):
        p.learn([[0, 0]], [-1])
    with pytest.raises(ValueError, match="X has 2 rows but y has 1"):
        p.learn([[0, 0], [1, 1]], [1])
    with pytest.raises(ValueError, match=r"Perceptron.learn\(lr\) must be > 0"):
        p.learn([[0, 0]], [1], lr=0)
    with pytest.raises(ValueError, match=r"Perceptron.learn\(lr\) must be a finite number >= 0, got -1"):
        p.learn([[0, 0]], [1], lr=-1)
    with pytest.raises(ValueError, match=r"Perceptron.learn\(epochs\) must be a whole number >= 1, got 0"):
        p.learn([[0, 0]], [1], epochs=0)
    assert p.state_dict() == {"w.0": 0.0, "w.1": 0.0, "b": 0.0}  # refused before any update
    assert repr(p) == "Perceptron(2)" and [n for n, _ in p.named_parameters()] == ["w.0", "w.1", "b"]


# -- errors that say what is wrong and how to fix it ---------------------------------------------


def test_wrong_number_of_inputs_says_expected_and_got():
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="MLP expects 2 inputs, got 3"):
        model([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"looks like a batch: call the model on each row"):
        model([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(ValueError, match=r"looks like a batch"):
        model(np.zeros((5, 2)))
    with pytest.raises(TypeError, match=r"expects a list of 1 inputs, got 3.0; wrap a single input in a list"):
        MLP(1, [1])(3.0)
    with pytest.raises(TypeError, match=r"MLP inputs must be numbers or Values: .*'a'"):
        model([1.0, "a"])
    with pytest.raises(ValueError, match="Layer expects 2 inputs, got 1"):
        model.layers[0]([1.0])
    with pytest.raises(ValueError, match="Neuron expects 2 inputs, got 0"):
        Neuron(2)([])


def test_bad_construction_arguments():
    with pytest.raises(ValueError, match="unknown activation 'relu6'; choose one of relu, tanh"):
        MLP(2, [3], activation="relu6")
    with pytest.raises(ValueError, match="unknown init 'he'; choose one of uniform"):
        MLP(2, [3], init="he")
    with pytest.raises(ValueError, match=r"nouts is a list of layer widths such as \[16, 16, 1\], got 16"):
        MLP(2, 16)
    # each size is named as the user wrote it, not as the class inside that received it
    with pytest.raises(ValueError, match=r"^MLP\(nin\) must be a whole number >= 1, got 0$"):
        MLP(0, [3])
    with pytest.raises(ValueError, match=r"^MLP\(nin\) must be a whole number >= 1, got 2.5$"):
        MLP(2.5, [3])
    with pytest.raises(ValueError, match=r"^MLP\(nouts\[1\]\) must be a whole number >= 1, got 0$"):
        MLP(2, [4, 0])
    with pytest.raises(ValueError, match=r"^Layer\(nin\) must be a whole number >= 1, got 0$"):
        Layer(0, 3)
    with pytest.raises(ValueError, match=r"^Layer\(nout\) must be a whole number >= 1, got 0$"):
        Layer(2, 0)
    with pytest.raises(ValueError, match=r"^Neuron\(nin\) must be a whole number >= 1, got 0$"):
        Neuron(0)
