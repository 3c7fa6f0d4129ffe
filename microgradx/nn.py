"""Neural networks on the engine: a neuron, neurons side by side (a layer), layers in a row (an MLP).

A :class:`Neuron` computes ``act(w . x + b)``; the weighted sum is one ``dot`` node, so a neuron
adds three nodes to the graph (dot, +, activation) however many inputs it has. The classes keep
micrograd's API and reprs: ``MLP(2, [16, 16, 1])`` has ReLU hidden layers and a linear output, and
calling it on a list of numbers gives a ``Value`` (or a list of them when the last layer is wider).

Every parameter is named by its path in the model, ``layers.0.neurons.3.w.1`` (weight 1 of neuron
3 of layer 0) or ``layers.0.neurons.3.b``, and carries that name as its ``label``, so graphs and
error messages can say which weight they mean.

>>> model = MLP(2, [16, 16, 1], seed=0)
>>> model
MLP of [Layer of [ReLUNeuron(2), ...], Layer of [ReLUNeuron(16), ...], Layer of [LinearNeuron(16)]]
>>> model([1.0, -2.0])
Value(data=..., grad=0)
>>> len(model.parameters()), model.parameters()[1].label
(337, 'layers.0.neurons.0.w.1')
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Union

from ._checks import real_number, whole_number
from .engine import Value
from .functional import dot
from .init import INITIALIZERS, Initializer, Seed, make_rng

__all__ = ["ACTIVATIONS", "Module", "Neuron", "Layer", "MLP", "Perceptron", "IncompatibleKeys"]

Inputs = Sequence[Union[Value, float]]


def _identity(x: Value) -> Value:
    return x


# Activations by name: the name a neuron shows in its repr, and the function it applies.
ACTIVATIONS: dict[str, tuple[str, Callable[[Value], Value]]] = {
    "relu": ("ReLU", Value.relu),
    "tanh": ("Tanh", Value.tanh),
    "sigmoid": ("Sigmoid", Value.sigmoid),
    "leaky_relu": ("LeakyReLU", Value.leaky_relu),
    "gelu": ("GELU", Value.gelu),
    "elu": ("ELU", Value.elu),
    "softplus": ("Softplus", Value.softplus),
    "linear": ("Linear", _identity),
}


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` skipped: the model's keys the state dict lacked,
    and the state dict's keys the model has no parameter for."""

    missing: list[str]
    unexpected: list[str]


class Module:
    """The base of every model: finds, names, zeroes, saves and loads its parameters.

    The parameters are found by walking the module's attributes in the order they were set: a
    ``Value`` is a parameter, and a ``Module`` or a list of Values and Modules is walked in turn.
    The path is the name: ``layers.0.neurons.3.w.1``. Attributes whose name starts with ``_`` are
    skipped, so keep any Values that are not parameters there. A subclass ends its ``__init__``
    with ``self._label_parameters()`` to make each parameter's label its name, as the classes
    here do.

    >>> class Line(Module):
    ...     def __init__(self):
    ...         self.slope, self.intercept = Value(2.0), Value(1.0)
    >>> Line().state_dict()
    {'slope': 2.0, 'intercept': 1.0}
    """

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Every parameter with its dotted name, in a fixed order (each shared Value once).

        >>> [name for name, _ in Layer(1, 2, seed=0).named_parameters()]
        ['neurons.0.w.0', 'neurons.0.b', 'neurons.1.w.0', 'neurons.1.b']
        """
        found: list[tuple[str, Value]] = []
        seen: set[Value] = set()
        for attr, value in vars(self).items():
            if attr.startswith("_"):
                continue
            for name, p in _walk(value, attr):
                if p not in seen:
                    seen.add(p)
                    found.append((name, p))
        return found

    def parameters(self) -> list[Value]:
        """Every parameter Value, in the order of ``named_parameters()``."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0 (gradients accumulate across ``backward()`` calls).

        >>> n = Neuron(1, seed=0)
        >>> n([2.0]).backward(); n.zero_grad()
        >>> [p.grad for p in n.parameters()]
        [0.0, 0.0]
        """
        for p in self.parameters():
            p.grad = 0.0

    def state_dict(self) -> dict[str, float]:
        """The parameters' values by name, as plain floats (what :func:`microgradx.serialization.save` writes).

        >>> Neuron(2, init=lambda fan_in, fan_out, rng: [0.5, -0.5]).state_dict()
        {'w.0': 0.5, 'w.1': -0.5, 'b': 0.0}
        """
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Set the parameters from ``state`` ({name: number}), all of them or none.

        Everything is checked before anything is written, so on an error the model is untouched.
        With ``strict=True`` (the default) the names must match exactly, and the error names the
        first key that does not; with ``strict=False`` the matching keys are loaded and the others
        are returned as ``(missing, unexpected)``.

        >>> a, b = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=1)
        >>> b.load_state_dict(a.state_dict())
        IncompatibleKeys(missing=[], unexpected=[])
        >>> b.state_dict() == a.state_dict()
        True
        """
        who = type(self).__name__
        if not isinstance(state, Mapping):
            raise TypeError(f"{who}.load_state_dict() needs a dict of {{name: number}}, got {type(state).__name__}")
        own = self.named_parameters()
        names = {name for name, _ in own}
        missing = [name for name, _ in own if name not in state]
        unexpected = [key for key in state if key not in names]
        if strict and (missing or unexpected):
            problems = []
            if missing:
                problems.append(f"missing key {missing[0]!r}" + _more(missing))
            if unexpected:
                problems.append(f"unexpected key {unexpected[0]!r}" + _more(unexpected))
            hint = "it was saved from a different model; pass strict=False to load only the keys that match"
            if "type" in state and "state" in state:
                hint = f"it looks like the state of a {state['type']!r} optimizer, not of a model"
            raise ValueError(f"{who}.load_state_dict(): the state dict does not match: {', '.join(problems)} ({hint})")
        values = {}
        for name, _ in own:
            if name in state:
                values[name] = real_number(state[name], f"{who}.load_state_dict(): the value of {name!r}")
        for name, p in own:  # every check passed: now write
            if name in values:
                p.data = values[name]
        return IncompatibleKeys(missing, unexpected)

    def _label_parameters(self) -> None:
        """Label every parameter with its dotted name (called at the end of ``__init__``)."""
        for name, p in self.named_parameters():
            p.label = name

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _walk(obj: object, name: str) -> list[tuple[str, Value]]:
    if isinstance(obj, Value):
        return [(name, obj)]
    if isinstance(obj, Module):
        return [(f"{name}.{sub}", p) for sub, p in obj.named_parameters()]
    if isinstance(obj, (list, tuple)):
        return [pair for i, item in enumerate(obj) for pair in _walk(item, f"{name}.{i}")]
    return []


def _more(keys: list[str]) -> str:
    return f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""


def _activation(name: object, nonlin: bool | None) -> str:
    if nonlin is not None:  # micrograd's Neuron(nin, nonlin=True/False)
        return "relu" if nonlin else "linear"
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return name


def _initializer(init: str | Initializer) -> Initializer:
    if callable(init):
        return init
    if init not in INITIALIZERS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITIALIZERS)}, or pass a function")
    return INITIALIZERS[init]


def _inputs(x: object, n: int, who: str) -> list[Value]:
    """The inputs as a list of ``n`` Values, or an error that says what was expected."""
    try:
        got = len(x)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{who} expects a list of {n} inputs, got {reprlib.repr(x)}; "
                        "wrap a single input in a list: model([x])") from None
    if got != n:
        hint = ""
        if (got and isinstance(x[0], (list, tuple))) or getattr(x, "ndim", 1) > 1:  # type: ignore[index]
            hint = "; that looks like a batch: call the model on each row, [model(x) for x in X]"
        raise ValueError(f"{who} expects {n} inputs, got {got}{hint}")
    try:
        return [xi if isinstance(xi, Value) else Value(xi) for xi in x]  # type: ignore[attr-defined]
    except (TypeError, ValueError) as error:
        raise type(error)(f"{who} inputs must be numbers or Values: {error}") from None


class Neuron(Module):
    """One unit: ``act(w . x + b)`` with ``nin`` weights from ``init`` and a bias that starts at 0.

    ``activation`` is one of :data:`ACTIVATIONS` (``nonlin=True/False`` is micrograd's spelling of
    relu/linear). ``seed`` is an int or a ``random.Random``; ``fan_out`` is the width of the layer
    the neuron sits in, which the xavier initializers use.

    >>> n = Neuron(2, "tanh", seed=0)
    >>> n, [p.label for p in n.parameters()]
    (TanhNeuron(2), ['w.0', 'w.1', 'b'])
    >>> n([0.0, 0.0])   # tanh(b) with b = 0
    Value(data=0, grad=0)
    """

    def __init__(
        self,
        nin: int,
        activation: str = "relu",
        *,
        init: str | Initializer = "uniform",
        seed: Seed = None,
        fan_out: int = 1,
        nonlin: bool | None = None,
    ) -> None:
        nin = whole_number(nin, "Neuron(nin)")
        self.activation = _activation(activation, nonlin)
        self.w = [Value(w) for w in _initializer(init)(nin, fan_out, make_rng(seed))]
        if len(self.w) != nin:
            raise ValueError(f"the initializer {init!r} made {len(self.w)} weights for a neuron with {nin} inputs")
        self.b = Value(0.0)
        self._act = ACTIVATIONS[self.activation][1]
        self._label_parameters()

    def __call__(self, x: Inputs) -> Value:
        return self._forward(_inputs(x, len(self.w), type(self).__name__))

    def _forward(self, xs: list[Value]) -> Value:
        # act(w . x + b), with w . x one n-ary dot node: three nodes per neuron, whatever its width.
        # The inputs were checked once, where they entered the model, so no layer checks them again.
        return self._act(dot(self.w, xs) + self.b)

    def __repr__(self) -> str:
        return f"{ACTIVATIONS[self.activation][0]}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons that see the same ``nin`` inputs; returns a Value when ``nout == 1``, else a list.

    >>> layer = Layer(3, 2, "tanh", seed=0)
    >>> layer
    Layer of [TanhNeuron(3), TanhNeuron(3)]
    >>> len(layer([1.0, 2.0, 3.0]))
    2
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        *,
        init: str | Initializer = "uniform",
        seed: Seed = None,
        nonlin: bool | None = None,
    ) -> None:
        nin, nout = whole_number(nin, "Layer(nin)"), whole_number(nout, "Layer(nout)")  # the name the user wrote
        rng = make_rng(seed)
        self.neurons = [
            Neuron(nin, activation, init=init, seed=rng, fan_out=nout, nonlin=nonlin) for _ in range(nout)
        ]
        self._label_parameters()

    def __call__(self, x: Inputs) -> Value | list[Value]:
        out = self._forward(_inputs(x, len(self.neurons[0].w), type(self).__name__))
        return out[0] if len(out) == 1 else out

    def _forward(self, xs: list[Value]) -> list[Value]:  # always a list, even of one, for the next layer
        return [n._forward(xs) for n in self.neurons]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: ``nin`` inputs, then one layer per entry of ``nouts``.

    Hidden layers use ``activation``, the last layer ``output_activation`` (linear by default, as
    in micrograd). ``init`` names an initializer of :mod:`microgradx.init` (or is a function like
    them) and ``seed`` makes the weights reproducible.

    >>> model = MLP(3, [4, 4, 1], activation="tanh", init="xavier_uniform", seed=42)
    >>> model.layers[0]
    Layer of [TanhNeuron(3), TanhNeuron(3), TanhNeuron(3), TanhNeuron(3)]
    >>> model([2.0, 3.0, -1.0])
    Value(data=..., grad=0)
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        *,
        output_activation: str = "linear",
        init: str | Initializer = "uniform",
        seed: Seed = None,
    ) -> None:
        if isinstance(nouts, int) or not nouts:
            raise ValueError(f"MLP(nin, nouts): nouts is a list of layer widths such as [16, 16, 1], got {nouts!r}")
        activation, output_activation = _activation(activation, None), _activation(output_activation, None)
        sizes = [whole_number(nin, "MLP(nin)"), *(whole_number(n, f"MLP(nouts[{i}])") for i, n in enumerate(nouts))]
        rng = make_rng(seed)
        last = len(nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], activation if i < last else output_activation, init=init, seed=rng)
            for i in range(len(nouts))
        ]
        self._label_parameters()

    def __call__(self, x: Inputs) -> Value | list[Value]:
        out = _inputs(x, len(self.layers[0].neurons[0].w), type(self).__name__)
        for layer in self.layers:
            out = layer._forward(out)
        return out[0] if len(out) == 1 else out

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


class Perceptron(Module):
    """Rosenblatt's perceptron (1958): outputs 1 if ``w . x + b > 0`` else 0, and learns without gradients.

    The perceptron rule, for each example it gets wrong: ``w += lr (y - prediction) x`` and
    ``b += lr (y - prediction)``. When a line (hyperplane) separates the classes, it stops making
    mistakes after finitely many updates (Novikoff, 1962). XOR has no such line: outputs 0, 1, 1, 0
    for (0,0), (0,1), (1,0), (1,1) would need b <= 0, w1 + b > 0, w2 + b > 0 and w1 + w2 + b <= 0,
    but the middle two add up to w1 + w2 + 2b > 0, while the outer two add up to at most 0.

    >>> AND = ([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 0, 0, 1])
    >>> p = Perceptron(2)
    >>> p.learn(*AND)    # mistakes per epoch, until an epoch without any
    [1, 3, 3, 2, 1, 0]
    >>> [p(x) for x in AND[0]]
    [0, 0, 0, 1]
    """

    def __init__(self, nin: int) -> None:
        nin = whole_number(nin, "Perceptron(nin)")
        self.w = [Value(0.0) for _ in range(nin)]  # the rule works from any start; zero is the classic one
        self.b = Value(0.0)
        self._label_parameters()

    def __call__(self, x: Inputs) -> int:
        return self._predict([v.data for v in _inputs(x, len(self.w), type(self).__name__)])

    def _predict(self, x: list[float]) -> int:  # the step function of w . x + b
        score = sum(w.data * xi for w, xi in zip(self.w, x)) + self.b.data
        if math.isnan(score):  # inf - inf: products beyond the float range with opposite signs
            raise ValueError(f"Perceptron: w . x + b overflows a float with both signs, so its sign is unknown, for "
                             f"the input {reprlib.repr(x)}; scale the inputs down")
        return 1 if score > 0 else 0

    def learn(self, X: Sequence[Inputs], y: Sequence[int], epochs: int = 100, lr: float = 1.0) -> list[int]:
        """Sweep the examples in order, applying the rule to each mistake, until an epoch has none.

        Labels are 0 or 1. Returns the number of mistakes in each epoch: it ends with 0 when the
        perceptron has learned the data, and never does when no line separates the classes.

        All or nothing: should an update make a weight overflow (huge inputs or ``lr``), it raises
        ``ValueError`` naming the epoch and the example, and the weights are as they were before
        ``learn()`` was called; so they are after any other error or Ctrl-C.
        """
        if len(X) != len(y):
            raise ValueError(f"Perceptron.learn(): X has {len(X)} rows but y has {len(y)} labels")
        bad = next((label for label in y if label not in (0, 1)), None)
        if bad is not None:
            raise ValueError(f"Perceptron.learn(): labels must be 0 or 1, got {bad!r}")
        epochs = whole_number(epochs, "Perceptron.learn(epochs)")
        lr = real_number(lr, "Perceptron.learn(lr)", 0.0)
        if lr == 0:
            raise ValueError("Perceptron.learn(lr) must be > 0: with lr = 0 the rule never moves the weights")
        rows = [[v.data for v in _inputs(x, len(self.w), "Perceptron")] for x in X]
        params = [*self.w, self.b]
        start = [p.data for p in params]
        try:
            return self._sweep(rows, y, epochs, lr)
        except BaseException:
            for p, value in zip(params, start):
                p.data = value
            raise

    def _sweep(self, rows: list[list[float]], y: Sequence[int], epochs: int, lr: float) -> list[int]:
        """The perceptron rule over ``epochs`` sweeps of the rows (checked by ``learn``)."""
        mistakes_per_epoch = []
        for epoch in range(epochs):
            mistakes = 0
            for k, (x, target) in enumerate(zip(rows, y)):
                error = target - self._predict(x)
                if error:
                    mistakes += 1
                    new = [w.data + lr * error * xi for w, xi in zip(self.w, x)] + [self.b.data + lr * error]
                    if not all(math.isfinite(v) for v in new):
                        raise ValueError(f"Perceptron.learn(): the update for example {k} in epoch {epoch} would "
                                         "make a weight overflow; scale the inputs down or lower lr. The weights "
                                         "are as they were before learn().")
                    for p, value in zip([*self.w, self.b], new):
                        p.data = value
            mistakes_per_epoch.append(mistakes)
            if mistakes == 0:
                break
        return mistakes_per_epoch

    def __repr__(self) -> str:
        return f"Perceptron({len(self.w)})"
