"""The training loop: forward, loss, backward, step, over the data, epoch after epoch.

``fit`` runs the loop you would write by hand, keeps a :class:`History` (loss and accuracy per
epoch, loss per step) and shows a progress bar of the optimizer steps (tqdm's, a widget in Jupyter
with ipywidgets) unless ``progress=False``. Ctrl-C (or Jupyter's stop button) ends training cleanly
after the current step: the model, the optimizer and the history all stop at the same completed step.
With ``compile=True`` each batch runs through :func:`microgradx.compile` (one trace, then NumPy)
instead of one scalar graph per example: the same parameters step by step, much faster.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import numpy as np

from . import losses
from ._checks import whole_number
from ._progress import progress_bar
from .compiler import Compiled, compile
from .data import Seed, _check_xy, _rng, minibatches, one_hot
from .engine import Value, no_grad
from .nn import Module
from .optim import LRSchedule, Optimizer

__all__ = ["History", "fit", "evaluate", "LOSSES", "ACCURACY"]

LossFn = Callable[[Any, Any], Value]
AccuracyFn = Callable[[Any, Any], float]  # (one prediction, its target) -> fraction right, 0 to 1

LOSSES: dict[str, LossFn] = {
    name: getattr(losses, name) for name in ("mse", "hinge", "binary_cross_entropy", "cross_entropy")
}


# How many examples of a batch are right, from the outputs (an array of shape (n,) or (n, k)) and the
# targets: the sign of a hinge score, the sign of a logit, the largest of the class logits. With k
# outputs and k targets each, an example counts the fraction of its outputs that are right.
def _sign_right(out: np.ndarray, y: np.ndarray) -> float:
    return _examples_right((out > 0) == (y > 0))


def _logit_right(out: np.ndarray, y: np.ndarray) -> float:
    return _examples_right((out > 0) == (y > 0.5))


def _argmax_right(out: np.ndarray, y: np.ndarray) -> float:
    # A target is a class index, or a row of class probabilities (one-hot or smoothed), whose class is its largest.
    classes = y.argmax(axis=-1) if y.ndim == out.ndim else y
    return float((out.argmax(axis=-1) == classes).sum())


def _examples_right(right: np.ndarray) -> float:
    return float(right.reshape(len(right), -1).mean(axis=1).sum())


def _numbers(pred: Any) -> np.ndarray:
    """One prediction (a Value, or a list of them) as a batch of one: an array of shape (1,) or (1, k)."""
    return np.array([pred.data if isinstance(pred, Value) else [p.data for p in pred]])


# The accuracy of one example, for the scalar path, from the same rules.
def _sign_accuracy(score: Any, label: Any) -> float:
    return _sign_right(_numbers(score), np.array([label]))


def _logit_accuracy(logit: Any, target: Any) -> float:
    return _logit_right(_numbers(logit), np.array([target]))


def _argmax_accuracy(logits: Any, target: Any) -> float:
    return _argmax_right(_numbers(logits), np.array([target]))


BATCH_ACCURACY: dict[AccuracyFn, Callable[[np.ndarray, np.ndarray], float]] = {
    _sign_accuracy: _sign_right,
    _logit_accuracy: _logit_right,
    _argmax_accuracy: _argmax_right,
}


# How to tell a right prediction, for the losses of classification: the sign of a hinge score, the
# sign of a logit, the largest of the class logits.
ACCURACY: dict[LossFn, AccuracyFn] = {
    losses.hinge: _sign_accuracy,
    losses.binary_cross_entropy: _logit_accuracy,
    losses.cross_entropy: _argmax_accuracy,
}


@dataclass
class History:
    """What ``fit`` recorded: ``loss`` and ``accuracy`` per epoch (accuracy stays empty for a loss
    without one, such as mse), ``step_loss`` per optimizer step, and whether Ctrl-C stopped it.

    The epoch figures are the means over the epoch's examples, as measured during the epoch
    (before each step's update). After an interruption the last epoch entry covers only the steps
    that ran.

    >>> History(loss=[0.9, 0.2], accuracy=[0.5, 1.0], step_loss=[0.9, 0.2])
    History(2 epochs, 2 steps, loss 0.9 -> 0.2, accuracy 50.0% -> 100.0%)
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    interrupted: bool = False

    def __repr__(self) -> str:
        if not self.loss:
            return "History(no epochs)"
        text = f"History({len(self.loss)} epochs, {len(self.step_loss)} steps"
        text += f", loss {self.loss[0]:.4g} -> {self.loss[-1]:.4g}"
        if self.accuracy:
            text += f", accuracy {self.accuracy[0]:.1%} -> {self.accuracy[-1]:.1%}"
        return text + (", interrupted)" if self.interrupted else ")")


class _StopOnInterrupt:
    """Turns the first Ctrl-C into a request to stop after the current step; a second one stops at once.

    Python delivers signals to the main thread only, so elsewhere nothing is installed (and no
    Ctrl-C can arrive there anyway).
    """

    def __enter__(self) -> _StopOnInterrupt:
        self.requested = False
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.default_int_handler)


def _loss_function(loss: str | LossFn) -> LossFn:
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}, or pass a function")
        return LOSSES[loss]
    if not callable(loss):
        raise TypeError(f"loss must be a loss name or a function (predictions, targets) -> Value, got {loss!r}")
    return loss


def fit(
    model: Callable[[Any], Any],
    X: Any,
    y: Any,
    *,
    loss: str | LossFn,
    optimizer: Optimizer,
    epochs: int = 1,
    batch_size: int | None = None,
    schedule: LRSchedule | None = None,
    l2: float = 0.0,
    accuracy: AccuracyFn | None = None,
    shuffle: bool = True,
    seed: Seed = None,
    progress: bool = True,
    compile: bool = False,
) -> History:
    """Train ``model`` on ``(X, y)`` and return the :class:`History`.

    Each step takes a batch (``batch_size`` rows, or all of them for None), computes
    ``loss(predictions, targets)`` plus ``l2 * losses.l2(parameters)``, zeroes the gradients,
    runs ``backward()`` and ``optimizer.step()``. ``loss`` is a function of :mod:`microgradx.losses`
    or its name. ``schedule`` steps once per epoch. ``accuracy(prediction, target)`` scores one
    example; by default it is chosen from the loss (the sign for hinge and binary cross-entropy,
    the largest logit for cross-entropy; none for mse). ``seed`` fixes the order of the batches.

    ``compile=True`` traces the loss of one example once (:func:`microgradx.compile`) and runs each
    batch through NumPy: the same losses, gradients and parameters, step by step (to rounding), as
    ``compile=False``, which builds one scalar graph per example. It needs a loss that is the mean
    of per-example losses, as those of :mod:`microgradx.losses` are; class labels for
    cross-entropy reach the compiled loss as one-hot rows. Errors in the targets (a hinge label of
    0) are found before the first step, as on the scalar path.

    Ctrl-C ends training after the current step and returns the History (``interrupted`` set). An
    exception raised by a step propagates with the History of the completed steps as its
    ``.history`` attribute (on Python 3.11+ a note under the traceback says so).

    >>> from microgradx.nn import MLP
    >>> from microgradx.optim import SGD
    >>> from microgradx.data import make_blobs
    >>> X, y = make_blobs(40, centers=[[-2, -2], [2, 2]], std=0.5, seed=0)
    >>> model = MLP(2, [8, 1], seed=0)
    >>> fit(model, X, 2 * y - 1, loss="hinge", optimizer=SGD(model.parameters(), lr=0.05),
    ...     epochs=20, batch_size=10, seed=0, progress=False)
    History(20 epochs, 80 steps, loss ... -> ..., accuracy ... -> 100.0%)
    """
    loss_fn = _loss_function(loss)
    accuracy_fn = accuracy if accuracy is not None else ACCURACY.get(loss_fn)
    X, y = _check_xy(X, y, "fit()")
    if len(X) == 0:
        raise ValueError("fit() got no examples to train on")
    epochs = whole_number(epochs, "epochs")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an optimizer of microgradx.optim, got {optimizer!r}")
    if isinstance(l2, bool) or not (isinstance(l2, (int, float)) and 0 <= l2 < math.inf):
        raise ValueError(f"l2 is the weight of the L2 penalty, a number >= 0; got {l2!r}")
    params = model.parameters() if isinstance(model, Module) else list(optimizer.params)
    if isinstance(model, Module) and not set(optimizer.params) <= set(params):
        raise ValueError("the optimizer's parameters are not this model's: make it with model.parameters()")
    size = len(X) if batch_size is None else whole_number(batch_size, "batch_size")
    steps = epochs * -(-len(X) // size)  # every epoch takes ceil(n / batch_size) steps
    rng = _rng(seed)
    compiled = _CompiledLoss(model, loss_fn, X, y, params, l2) if compile else None
    history = History()
    # The bar counts steps, as the Ctrl-C message does: an interrupted epoch shows as far as it went.
    bar = progress_bar(range(steps), desc="fit", unit="step", disable=not progress)  # moved by bar.update()
    try:  # nothing the user trained is lost: should a step fail, the completed steps ride on the error
        with _StopOnInterrupt() as stop, bar:
            for epoch in range(epochs):
                total = right = 0.0
                seen = 0
                for X_batch, y_batch in minibatches(X, y, batch_size, shuffle, rng):
                    if stop.requested:  # Ctrl-C came during the last step, which has completed
                        break
                    if compiled is not None:
                        value = compiled.loss(X_batch, compiled.targets(y_batch))
                        if accuracy_fn is not None:  # the outputs before this step's update, as below
                            right += compiled.right(X_batch, y_batch, accuracy_fn)
                    else:
                        preds = [model(x) for x in X_batch]
                        targets = y_batch.tolist()
                        value = loss_fn(preds, targets)
                        if l2:
                            value = value + l2 * losses.l2(params)
                        if accuracy_fn is not None:
                            right += sum(accuracy_fn(p, t) for p, t in zip(preds, targets))
                    optimizer.zero_grad()
                    value.backward()
                    optimizer.step()
                    history.step_loss.append(value.data)
                    bar.update()
                    total += value.data * len(X_batch)
                    seen += len(X_batch)
                if seen:
                    history.loss.append(total / seen)
                    postfix = {"epoch": f"{epoch + 1}/{epochs}", "loss": f"{history.loss[-1]:.4g}"}
                    if accuracy_fn is not None:
                        history.accuracy.append(right / seen)
                        postfix["accuracy"] = f"{history.accuracy[-1]:.1%}"
                    bar.set_postfix(postfix, refresh=False)
                if stop.requested:
                    history.interrupted = True
                    if progress:
                        bar.write(f"fit: stopped by Ctrl-C after {len(history.step_loss)} of {steps} steps (in epoch "
                                  f"{epoch + 1} of {epochs}); the model and the history include every completed step",
                                  file=sys.stderr)
                    break
                if schedule is not None:
                    schedule.step()
    except Exception as error:
        _keep_history(error, history)
        raise
    return history


def _keep_history(error: Exception, history: History) -> None:
    """Put ``history`` (the steps completed before ``error``) on the error as ``.history``, and say so."""
    try:
        error.history = history  # type: ignore[attr-defined]
    except AttributeError:  # an exception type that takes no attributes: nothing to keep it on
        return
    if hasattr(error, "add_note"):  # Python 3.11+: shown under the traceback
        error.add_note(f"fit: the History of the {len(history.step_loss)} completed steps is on this error "
                       "as .history")


def evaluate(
    model: Callable[[Any], Any], X: Any, y: Any, *, loss: str | LossFn, accuracy: AccuracyFn | None = None,
    compile: bool = False,
) -> tuple[float, float | None]:
    """The loss and the accuracy (None for a loss without one) of ``model`` on ``(X, y)``, without
    building a graph or touching any gradient. ``compile=True`` runs the whole set through
    :func:`microgradx.compile` (the same numbers, to rounding, much faster for many examples).

    >>> from microgradx.nn import MLP
    >>> model = MLP(1, [1], seed=0)
    >>> model.load_state_dict({"layers.0.neurons.0.w.0": 2.0, "layers.0.neurons.0.b": 0.0})
    IncompatibleKeys(missing=[], unexpected=[])
    >>> evaluate(model, [[1.0], [-1.0]], [1, 1], loss="hinge")   # scores 2 and -2
    (1.5, 0.5)
    """
    loss_fn = _loss_function(loss)
    accuracy_fn = accuracy if accuracy is not None else ACCURACY.get(loss_fn)
    X, y = _check_xy(X, y, "evaluate()")
    if compile:
        compiled = _CompiledLoss(model, loss_fn, X, y, [], 0.0)
        with no_grad():
            value = compiled.loss(X, compiled.targets(y)).data
        if accuracy_fn is None:
            return value, None
        return value, compiled.right(X, y, accuracy_fn) / len(X)
    with no_grad():
        preds = [model(x) for x in X]
        targets = y.tolist()
        value = loss_fn(preds, targets).data
    if accuracy_fn is None:
        return value, None
    return value, sum(accuracy_fn(p, t) for p, t in zip(preds, targets)) / len(preds)


class _CompiledLoss:
    """The compiled path of ``fit`` and ``evaluate``: the loss of one example (plus the L2 penalty,
    whose mean over a batch is itself), and the model's outputs for the accuracy, each traced once.
    """

    def __init__(self, model: Callable[[Any], Any], loss_fn: LossFn, X: np.ndarray, y: np.ndarray,
                 params: list[Value], l2: float) -> None:
        self.model = compile(model, name=getattr(model, "__name__", type(model).__name__))
        outputs = self.model.forward(X)  # the model on every example, once: for the checks below
        # Class indices pick a logit, which a trace cannot do per example: they go in as one-hot rows.
        self.classes = outputs.shape[1] if loss_fn is losses.cross_entropy and outputs.ndim == 2 \
            and y.ndim == 1 and np.issubdtype(y.dtype, np.integer) else 0
        _check_targets(loss_fn, outputs, y)

        def example_loss(x: Any, target: Any) -> Value:
            value = loss_fn(model(x), target)
            return value + l2 * losses.l2(params) if l2 else value

        self.loss: Compiled = compile(example_loss, name=getattr(loss_fn, "__name__", "loss"))

    def targets(self, y: np.ndarray) -> np.ndarray:
        """The targets as the compiled loss takes them: numbers, or one-hot rows for class indices."""
        return one_hot(y, self.classes) if self.classes else y

    def right(self, X: np.ndarray, y: np.ndarray, accuracy_fn: AccuracyFn) -> float:
        """How many of the examples the model gets right (fractions for several outputs)."""
        out = self.model.forward(X)
        rule = BATCH_ACCURACY.get(accuracy_fn)
        if rule is not None:
            return rule(out, y)
        return sum(accuracy_fn(_as_values(row), t) for row, t in zip(out.tolist(), y.tolist()))  # a user's rule


def _as_values(row: Any) -> Any:
    """One example's outputs as the scalar path gives them: a Value, or (nested) lists of Values."""
    return [_as_values(item) for item in row] if isinstance(row, list) else Value(row)


def _check_targets(loss_fn: LossFn, outputs: np.ndarray, y: np.ndarray) -> None:
    """Run the loss once on the scalar path, on the model's outputs as numbers: its own checks of the
    targets (hinge labels -1 or +1, class indices in range, ...) then see every target once."""
    preds = [_as_values(row) for row in outputs.tolist()]
    with no_grad():
        loss_fn(preds, y.tolist())
