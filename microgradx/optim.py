"""Optimizers: how to move the parameters once their gradients are known.

Each optimizer follows the update rule PyTorch documents for it, written out per parameter in its
``_update`` method (``g`` the gradient, ``p`` the parameter, ``lr`` the learning rate):

- ``SGD``:     ``g += wd p``; with momentum ``v = mu v + g`` and ``g = v`` (nesterov: ``g += mu v``); ``p -= lr g``
- ``RMSProp``: ``g += wd p``; ``s = alpha s + (1 - alpha) g^2``; ``p -= lr g / (sqrt(s) + eps)``
- ``Adam``:    ``g += wd p``; ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``;
  ``p -= lr m_hat / (sqrt(v_hat) + eps)`` with the bias corrections ``m_hat = m / (1 - b1^t)``,
  ``v_hat = v / (1 - b2^t)``
- ``AdamW``:   Adam, but the decay is decoupled from the gradient: ``p -= lr wd p`` first.

Their state (``step_count``, and per-parameter buffers in ``state``, one float per parameter) is
plain data: ``state_dict()`` and ``load_state_dict()`` save and restore it, so training can resume
exactly. Learning-rate schedules (``StepLR``, ``CosineAnnealingLR``, ``LinearLR``, ``LambdaLR``)
set ``optimizer.lr`` each time their ``step()`` is called; ``clip_grad_norm`` rescales gradients.

Every ``step()`` and ``load_state_dict()`` here is all or nothing: it raises a ``ValueError`` (naming
the parameter, the buffer or the key) and changes nothing rather than leave a parameter or any
buffer non-finite, or accept a state that a later ``step()`` could not use (a negative second moment,
a step count beyond ``MAX_STEP_COUNT``).

>>> from microgradx import Value
>>> w = Value(1.0)
>>> opt = SGD([w], lr=0.1, momentum=0.9)
>>> for _ in range(2):
...     opt.zero_grad()
...     (w * w).backward()    # g = 2w
...     opt.step()
>>> round(w.data, 6), round(opt.state["momentum_buffer"][0], 6)   # v1 = 2, w1 = 0.8, v2 = 0.9 * 2 + 1.6
(0.46, 3.4)
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from ._checks import real_number, whole_number
from .engine import Value

__all__ = [
    "Optimizer", "SGD", "RMSProp", "Adam", "AdamW",
    "LRSchedule", "StepLR", "CosineAnnealingLR", "LinearLR", "LambdaLR",
    "clip_grad_norm", "MAX_STEP_COUNT",
]

# Step counts enter float arithmetic (Adam's beta ** t, a cosine's pi t / T_max): up to 2**53 every
# whole number, and so the next step's count too, is exact as a float.
MAX_STEP_COUNT = 2**53 - 1


def _number(value: object, name: str, low: float = 0.0, high: float = math.inf, *, open_high: bool = False) -> float:
    """``value`` as a float in [low, high] (or [low, high)); rates and factors default to >= 0."""
    return real_number(value, name, low, high, open_high=open_high)


def _grad(p: Value) -> float:
    g = p.grad
    return g.data if isinstance(g, Value) else g  # a Value after backward(create_graph=True)


class Optimizer:
    """The common part: the parameter list, ``lr``, ``step()``, ``zero_grad()`` and saving state.

    A subclass names its hyperparameters and its per-parameter buffers (those that are running
    averages of g^2, and so never negative, also in ``second_moments``), checks the hyperparameters
    in ``_check`` and writes its rule for one parameter in ``_update(i, p, g)``, returning the new
    value of parameter ``i``.

    >>> class SignSGD(Optimizer):     # p -= lr sign(g)
    ...     def _update(self, i, p, g):
    ...         return p - self.lr * ((g > 0) - (g < 0))
    >>> w = Value(1.0); w.grad = -3.0
    >>> SignSGD([w], lr=0.25).step()
    >>> w.data
    1.25
    """

    hyperparameters: ClassVar[tuple[str, ...]] = ("lr",)
    buffers: ClassVar[tuple[str, ...]] = ()
    second_moments: ClassVar[tuple[str, ...]] = ()  # buffers that average g^2: >= 0, or sqrt fails
    lr: float

    def __init__(self, params: Iterable[Value], **hyperparameters: Any) -> None:
        if hasattr(params, "parameters"):
            raise TypeError(f"{type(self).__name__}() takes the parameters, not the model: pass model.parameters()")
        self.params: list[Value] = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}() got no parameters to optimize")
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"{type(self).__name__}() parameters must be Values, got {reprlib.repr(p)} at {i}")
        if len(set(self.params)) != len(self.params):
            raise ValueError(f"{type(self).__name__}() got the same parameter twice; pass each Value once")
        self.__dict__.update(self._check(hyperparameters))
        self.step_count = 0
        self.state: dict[str, list[float]] = {name: [0.0] * len(self.params) for name in self.buffers}

    def _check(self, h: dict[str, Any]) -> dict[str, Any]:
        """The hyperparameters, checked (a subclass adds its own checks)."""
        return {"lr": _number(h["lr"], "lr")}

    def _update(self, i: int, p: float, g: float) -> float:
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter from its ``.grad``, all of them or (on a non-finite result) none.

        Raises ``ValueError``, naming the parameter, when a new parameter value or a new buffer
        value (a momentum, a moment estimate) would not be finite, or when the step count is
        already ``MAX_STEP_COUNT``; the parameters, the buffers and ``step_count`` are then as
        they were.

        >>> w = Value(1.0); w.grad = 2.0
        >>> SGD([w], lr=0.5).step(); w.data
        0.0
        """
        if self.step_count >= MAX_STEP_COUNT:
            raise ValueError(f"{type(self).__name__}.step(): step_count is {self.step_count}, the most a float "
                             "counts exactly; make a new optimizer. Nothing was changed.")
        saved = {name: buffer[:] for name, buffer in self.state.items()}
        self.step_count += 1
        try:
            new = [self._checked_update(i, p) for i, p in enumerate(self.params)]
        except BaseException:  # leave the optimizer as it was before the step
            self.state, self.step_count = saved, self.step_count - 1
            raise
        for p, x in zip(self.params, new):  # every new value is finite: now write
            p.data = x

    def _checked_update(self, i: int, p: Value) -> float:
        """The new value of parameter ``i``, or an error that names it and says what to change."""
        try:
            x = self._update(i, p.data, _grad(p))
        except ZeroDivisionError:  # sqrt(average of g^2) + eps is 0: eps=0 and no gradient yet
            raise ValueError(f"{type(self).__name__}.step() divides by zero at {p.label or f'parameter {i}'}: eps "
                             "is 0 and its average squared gradient is 0; use an eps > 0 (1e-8 is usual). "
                             "Nothing was changed.") from None
        # A buffer first: an overflowing one is the cause, whether or not the step shows it. (Adam's
        # g^2 overflows for |g| > 1e154 while m_hat / sqrt(v_hat) = 0 keeps the parameter finite.)
        for name in self.buffers:
            if not math.isfinite(self.state[name][i]):
                raise ValueError(f"{type(self).__name__}.step() would make {name} of {p.label or f'parameter {i}'} "
                                 f"{self.state[name][i]} (its gradient is {_grad(p):g}), after which it could never "
                                 "move again; clip the gradients with clip_grad_norm, or scale the loss down. "
                                 "Nothing was changed.")
        if not math.isfinite(x):
            raise ValueError(f"{type(self).__name__}.step() would make {p.label or f'parameter {i}'} {x}: the step "
                             "is too large; lower lr, or clip the gradients with clip_grad_norm. Nothing was changed.")
        return x

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: type, hyperparameters, step count and buffers (JSON-ready).

        >>> SGD([Value(1.0)], lr=0.1, momentum=0.9).state_dict()["state"]
        {'momentum_buffer': [0.0]}
        """
        return {
            "type": type(self).__name__,
            "hyperparameters": {h: _jsonable(getattr(self, h)) for h in self.hyperparameters},
            "step_count": self.step_count,
            "state": {name: buffer[:] for name, buffer in self.state.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a ``state_dict()``: all of it, or (on any mismatch, named in the error) nothing.

        Everything is checked before anything is written: the type, the keys, each hyperparameter
        (as the constructor checks it), ``step_count`` (a whole number up to ``MAX_STEP_COUNT``)
        and one finite number per parameter in each buffer, never negative in a second moment.
        Raises ``TypeError`` or ``ValueError`` naming the first problem; the optimizer is then
        unchanged.
        """
        who = f"{type(self).__name__}.load_state_dict()"
        if not isinstance(state, Mapping):
            raise TypeError(f"{who} needs a dict, got {type(state).__name__}")
        _same_keys(state, ("type", "hyperparameters", "step_count", "state"), who, "state dict")
        if state["type"] != type(self).__name__:
            raise ValueError(f"{who}: this is the state of a {state['type']!r} optimizer, not of {type(self).__name__}")
        h = state["hyperparameters"]
        _same_keys(h, self.hyperparameters, who, "hyperparameters")
        hyper = self._check({k: tuple(v) if isinstance(v, list) else v for k, v in h.items()})
        steps = whole_number(state["step_count"], f"{who}: step_count", least=0, most=MAX_STEP_COUNT)
        _same_keys(state["state"], self.buffers, who, "state")
        buffers = {}
        for name in self.buffers:
            buffer = state["state"][name]
            if not isinstance(buffer, list) or len(buffer) != len(self.params):
                got = f"{len(buffer)} values" if isinstance(buffer, list) else reprlib.repr(buffer)
                raise ValueError(f"{who}: state[{name!r}] needs one number per parameter ({len(self.params)}), "
                                 f"got {got}; was it saved for a different model?")
            low = 0.0 if name in self.second_moments else -math.inf  # an average of g^2 is never negative
            buffers[name] = [_number(x, f"{who}: state[{name!r}][{i}]", low) for i, x in enumerate(buffer)]
        self.__dict__.update(hyper)  # every check passed: now write
        self.step_count = steps
        self.state = buffers

    def __repr__(self) -> str:
        args = ", ".join(f"{h}={getattr(self, h)!r}" for h in self.hyperparameters)
        return f"{type(self).__name__}({args})"


def _jsonable(x: Any) -> Any:
    return list(x) if isinstance(x, tuple) else x


def _same_keys(d: object, expected: Iterable[str], who: str, what: str) -> None:
    if not isinstance(d, Mapping):
        raise TypeError(f"{who}: {what} must be a dict, got {reprlib.repr(d)}")
    expected = list(expected)
    missing = [k for k in expected if k not in d]
    if missing:
        raise ValueError(f"{who}: {what} is missing the key {missing[0]!r}")
    unexpected = [k for k in d if k not in expected]
    if unexpected:
        raise ValueError(f"{who}: {what} has an unexpected key {unexpected[0]!r}")


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay (L2).

    PyTorch's rule: ``g += weight_decay p``; with momentum ``v = momentum v + g`` (v starts at 0,
    so v = g on the first step), then ``g = v``, or ``g = g + momentum v`` with ``nesterov``;
    finally ``p -= lr g``.

    >>> w = Value(1.0); w.grad = 0.5
    >>> SGD([w], lr=0.1).step()
    >>> w.data
    0.95
    """

    hyperparameters = ("lr", "momentum", "nesterov", "weight_decay")
    buffers = ("momentum_buffer",)
    momentum: float
    nesterov: bool
    weight_decay: float

    def __init__(
        self,
        params: Iterable[Value],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    def _check(self, h: dict[str, Any]) -> dict[str, Any]:
        checked = {**super()._check(h), "momentum": _number(h["momentum"], "momentum"),
                   "weight_decay": _number(h["weight_decay"], "weight_decay"), "nesterov": h["nesterov"]}
        if not isinstance(h["nesterov"], bool):
            raise TypeError(f"nesterov must be True or False, got {h['nesterov']!r}")
        if h["nesterov"] and checked["momentum"] == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        return checked

    def _update(self, i: int, p: float, g: float) -> float:
        if self.weight_decay:
            g += self.weight_decay * p
        if self.momentum:
            v = self.state["momentum_buffer"][i] = self.momentum * self.state["momentum_buffer"][i] + g
            g = g + self.momentum * v if self.nesterov else v
        return p - self.lr * g


class RMSProp(Optimizer):
    """Divides each step by a running root mean square of recent gradients (Hinton's RMSProp).

    PyTorch's rule: ``g += weight_decay p``; ``s = alpha s + (1 - alpha) g^2``; with momentum
    ``b = momentum b + g / (sqrt(s) + eps)`` and ``p -= lr b``, otherwise ``p -= lr g / (sqrt(s) + eps)``.

    >>> w = Value(1.0); w.grad = 2.0
    >>> RMSProp([w], lr=0.01).step()     # s = 0.01 * 4, so the step is lr * 2 / 0.2 = 0.1
    >>> round(w.data, 6)
    0.9
    """

    hyperparameters = ("lr", "alpha", "eps", "momentum", "weight_decay")
    buffers = ("square_avg", "momentum_buffer")
    second_moments = ("square_avg",)
    alpha: float
    eps: float
    momentum: float
    weight_decay: float

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, momentum=momentum, weight_decay=weight_decay)

    def _check(self, h: dict[str, Any]) -> dict[str, Any]:
        return {**super()._check(h), "alpha": _number(h["alpha"], "alpha", 0.0, 1.0),
                "eps": _number(h["eps"], "eps"), "momentum": _number(h["momentum"], "momentum"),
                "weight_decay": _number(h["weight_decay"], "weight_decay")}

    def _update(self, i: int, p: float, g: float) -> float:
        if self.weight_decay:
            g += self.weight_decay * p
        s = self.state["square_avg"][i] = self.alpha * self.state["square_avg"][i] + (1 - self.alpha) * g * g
        step = g / (math.sqrt(s) + self.eps)
        if self.momentum:
            step = self.state["momentum_buffer"][i] = self.momentum * self.state["momentum_buffer"][i] + step
        return p - self.lr * step


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): momentum on the gradient, scaled per parameter by its running RMS.

    PyTorch's rule at step t: ``g += weight_decay p``; ``m = b1 m + (1 - b1) g``;
    ``v = b2 v + (1 - b2) g^2``; ``p -= lr m_hat / (sqrt(v_hat) + eps)`` with the bias corrections
    ``m_hat = m / (1 - b1^t)`` and ``v_hat = v / (1 - b2^t)`` (m and v start at 0, biased towards it).

    >>> w = Value(1.0); w.grad = 3.0
    >>> Adam([w], lr=0.1).step()     # m_hat = 3, v_hat = 9: the first step is lr * sign(g)
    >>> round(w.data, 6)
    0.9
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    buffers = ("exp_avg", "exp_avg_sq")
    second_moments = ("exp_avg_sq",)
    betas: tuple[float, float]
    eps: float
    weight_decay: float
    decoupled = False  # AdamW: decay the parameter directly instead of adding to the gradient

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _check(self, h: dict[str, Any]) -> dict[str, Any]:
        betas = h["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {reprlib.repr(betas)}")
        betas = tuple(_number(b, f"betas[{k}]", 0.0, 1.0, open_high=True) for k, b in enumerate(betas))
        return {**super()._check(h), "betas": betas, "eps": _number(h["eps"], "eps"),
                "weight_decay": _number(h["weight_decay"], "weight_decay")}

    def _update(self, i: int, p: float, g: float) -> float:
        (b1, b2), t = self.betas, self.step_count
        if self.decoupled:
            p -= self.lr * self.weight_decay * p
        elif self.weight_decay:
            g += self.weight_decay * p
        m = self.state["exp_avg"][i] = b1 * self.state["exp_avg"][i] + (1 - b1) * g
        v = self.state["exp_avg_sq"][i] = b2 * self.state["exp_avg_sq"][i] + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        return p - self.lr * m_hat / (math.sqrt(v_hat) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): ``p -= lr weight_decay p``, then Adam.

    The decay shrinks every parameter at the same rate, whatever its gradient history, instead of
    passing through Adam's per-parameter scaling as an L2 term in the gradient would.

    >>> w = Value(1.0); w.grad = 0.0
    >>> AdamW([w], lr=0.1, weight_decay=0.5).step()   # m = v = 0: only the decay, 1 - 0.1 * 0.5
    >>> w.data
    0.95
    """

    decoupled = True

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def clip_grad_norm(params: Iterable[Value], max_norm: float) -> float:
    """Scale all gradients down together so their joint (L2) norm is at most ``max_norm``.

    Returns the norm before clipping. As in PyTorch, the scale is ``max_norm / (norm + 1e-6)``,
    applied only when it is below 1; the direction of the gradient is kept. The norm is found
    without overflow (``math.hypot``); should it exceed the float range (about 1.8e308) although
    every gradient is finite, the gradients are still clipped exactly and the norm returned is inf.

    Unlike PyTorch, a gradient that is not finite (set by hand: the engine never makes one) raises
    ``ValueError``, naming the parameter, and changes nothing. PyTorch's ``clip_grad_norm_`` by
    default (``error_if_nonfinite=False``) scales by ``max_norm / inf = 0``, which turns an inf
    gradient into NaN and every finite one into 0.

    >>> a, b = Value(0.0), Value(0.0)
    >>> a.grad, b.grad = 3.0, 4.0
    >>> clip_grad_norm([a, b], 1.0)
    5.0
    >>> round(a.grad, 4), round(b.grad, 4)
    (0.6, 0.8)
    """
    max_norm = real_number(max_norm, "max_norm (the largest gradient norm to allow; use a finite number)", low=0.0)
    ps = list(params)
    for i, p in enumerate(ps):
        if not isinstance(p, Value):
            raise TypeError(f"clip_grad_norm() takes Values (model.parameters()), got {reprlib.repr(p)} at {i}")
    grads = [_grad(p) for p in ps]
    for i, (p, g) in enumerate(zip(ps, grads)):
        if not math.isfinite(g):
            raise ValueError(f"clip_grad_norm(): the gradient of {p.label or f'parameter {i}'} is {g}; no scale "
                             "makes it finite. Nothing was changed.")
    norm = math.hypot(*grads)  # sqrt(sum g^2), without overflowing for huge g
    scale = max_norm / (norm + 1e-6)
    if scale < 1.0:
        if math.isinf(norm):  # sum g^2 is beyond the float range: measure in units of the largest |g|
            biggest = max(abs(g) for g in grads)
            ratio = max_norm / math.hypot(*(g / biggest for g in grads))
            grads = [g / biggest * ratio for g in grads]
        else:
            grads = [g * scale for g in grads]
        for p, g in zip(ps, grads):
            p.grad = g
    return norm


class LRSchedule:
    """Sets ``optimizer.lr`` to ``lr_at(t)`` after the t-th call of ``step()`` (t = 0 on creation).

    ``base_lr`` is the optimizer's lr when the schedule is made. A subclass writes ``lr_at``.
    Call ``step()`` once per epoch or once per optimizer step, whichever ``t`` should count.

    >>> class Halving(LRSchedule):
    ...     def lr_at(self, t):
    ...         return self.base_lr / 2**t
    >>> opt = SGD([Value(0.0)], lr=0.8)
    >>> schedule = Halving(opt)
    >>> schedule.step(); schedule.step(); opt.lr
    0.2
    """

    # Each hyperparameter a subclass saves in its state, with the check its constructor and
    # load_state_dict() both apply: (value, name for messages) -> the value to keep.
    checks: ClassVar[dict[str, Callable[[Any, str], Any]]] = {}

    def _checked(self, values: Mapping[str, Any], who: str = "") -> dict[str, Any]:
        """``values`` of every hyperparameter in :attr:`checks`, each checked (a ValueError names it)."""
        return {name: check(values[name], f"{who}{name}") for name, check in self.checks.items()}

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}() needs an optimizer, got {reprlib.repr(optimizer)}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.step_count = 0
        optimizer.lr = self._lr(0)

    def lr_at(self, t: int) -> float:
        raise NotImplementedError

    def _lr(self, t: int) -> float:
        """``lr_at(t)``, checked: a finite number >= 0, or a ValueError that names the step."""
        what = f"{type(self).__name__}: the learning rate at step {t}"
        try:
            lr = self.lr_at(t)
        except OverflowError:  # e.g. gamma ** k beyond the float range
            raise ValueError(f"{what} overflows a float; change the schedule (a gamma or factor > 1 grows "
                             "without bound)") from None
        return _number(lr, what)

    def _lr_with(self, settings: Mapping[str, Any], t: int) -> float:
        """``_lr(t)`` as it would be with ``settings`` (``base_lr``, hyperparameters), leaving the
        schedule as it is whatever happens."""
        old = {name: getattr(self, name) for name in settings}
        self.__dict__.update(settings)
        try:
            return self._lr(t)
        finally:
            self.__dict__.update(old)

    def step(self) -> None:
        """Advance one step and set the optimizer's learning rate.

        Raises ``ValueError`` when the learning rate of the next step would not be a finite number
        >= 0 (or the count would pass ``MAX_STEP_COUNT``); ``step_count`` and ``lr`` then stay.
        """
        if self.step_count >= MAX_STEP_COUNT:
            raise ValueError(f"{type(self).__name__}.step(): step_count is {self.step_count}, the most a float "
                             "counts exactly. Nothing was changed.")
        lr = self._lr(self.step_count + 1)  # may raise: nothing is written before it returns
        self.step_count += 1
        self.optimizer.lr = lr

    def state_dict(self) -> dict[str, Any]:
        """``{"type", "base_lr", "step_count", "hyperparameters"}``: with it the schedule resumes
        where it was, as PyTorch's schedulers save theirs (a :class:`LambdaLR`'s function is not saved).

        >>> StepLR(SGD([Value(0.0)], lr=1.0), step_size=2, gamma=0.5).state_dict()
        {'type': 'StepLR', 'base_lr': 1.0, 'step_count': 0, 'hyperparameters': {'step_size': 2, 'gamma': 0.5}}
        """
        return {"type": type(self).__name__, "base_lr": self.base_lr, "step_count": self.step_count,
                "hyperparameters": {name: getattr(self, name) for name in self.checks}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a ``state_dict()`` and set the optimizer's lr to match it, or raise and change nothing.

        ``base_lr`` must be a finite number >= 0, ``step_count`` a whole number up to
        ``MAX_STEP_COUNT``, each hyperparameter what the constructor accepts, and the learning rate
        they give a finite number >= 0. The saved hyperparameters replace the schedule's own, as in
        PyTorch; a state saved without them (by an earlier microgradx) keeps the schedule's.
        """
        who = f"{type(self).__name__}.load_state_dict()"
        keys = ("type", "base_lr", "step_count") + (("hyperparameters",) if "hyperparameters" in state else ())
        _same_keys(state, keys, who, "state dict")
        if state["type"] != type(self).__name__:
            raise ValueError(f"{who}: this is the state of a {state['type']!r} schedule, not of "
                             f"{type(self).__name__}")
        steps = whole_number(state["step_count"], f"{who}: step_count", least=0, most=MAX_STEP_COUNT)
        settings = {"base_lr": _number(state["base_lr"], f"{who}: base_lr")}
        if "hyperparameters" in state:
            _same_keys(state["hyperparameters"], self.checks, who, "hyperparameters")
            settings.update(self._checked(state["hyperparameters"], f"{who}: "))
        lr = self._lr_with(settings, steps)  # may raise: nothing is written before it returns
        self.__dict__.update(settings)
        self.step_count, self.optimizer.lr = steps, lr


class StepLR(LRSchedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps: ``base_lr gamma^(t // step_size)``.

    >>> opt = SGD([Value(0.0)], lr=1.0)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for _ in range(5):
    ...     sched.step(); lrs.append(opt.lr)
    >>> lrs
    [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    checks: ClassVar[dict[str, Callable[[Any, str], Any]]] = {"step_size": whole_number, "gamma": _number}
    step_size: int
    gamma: float

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.__dict__.update(self._checked({"step_size": step_size, "gamma": gamma}))
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRSchedule):
    """From ``base_lr`` down to ``eta_min`` along half a cosine over ``T_max`` steps.

    ``lr = eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2``.

    >>> opt = SGD([Value(0.0)], lr=1.0)
    >>> sched = CosineAnnealingLR(opt, T_max=2)
    >>> sched.step(); opt.lr     # half way: the mean of 1 and 0
    0.5
    """

    checks: ClassVar[dict[str, Callable[[Any, str], Any]]] = {"T_max": whole_number, "eta_min": _number}
    T_max: int
    eta_min: float

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.__dict__.update(self._checked({"T_max": T_max, "eta_min": eta_min}))
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LinearLR(LRSchedule):
    """Scale ``base_lr`` by a factor going linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` steps, then staying there.

    micrograd's demo, ``lr = 1.0 - 0.9 k / 100``, is ``LinearLR(SGD(ps, lr=1.0), 1.0, 0.1, 100)``.

    >>> opt = SGD([Value(0.0)], lr=1.0)
    >>> sched = LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=100)
    >>> for _ in range(50):
    ...     sched.step()
    >>> round(opt.lr, 6)
    0.55
    """

    checks: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        "start_factor": _number, "end_factor": _number, "total_iters": whole_number}
    start_factor: float
    end_factor: float
    total_iters: int

    def __init__(
        self, optimizer: Optimizer, start_factor: float = 1 / 3, end_factor: float = 1.0, total_iters: int = 5
    ) -> None:
        self.__dict__.update(self._checked({"start_factor": start_factor, "end_factor": end_factor,
                                            "total_iters": total_iters}))
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        progress = min(t, self.total_iters) / self.total_iters
        return self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class LambdaLR(LRSchedule):
    """``lr = base_lr * lr_lambda(t)`` for any function of the step number.

    >>> opt = SGD([Value(0.0)], lr=0.1)
    >>> sched = LambdaLR(opt, lambda t: 1 / (1 + t))
    >>> sched.step(); round(opt.lr, 6)
    0.05
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]) -> None:
        if not callable(lr_lambda):
            raise TypeError(f"lr_lambda must be a function of the step number, got {lr_lambda!r}")
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.lr_lambda(t)
