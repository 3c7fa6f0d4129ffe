"""Loss functions: one number that says how wrong the predictions are, to be made smaller.

Each loss takes the model's predictions and the targets, pairs them up and returns the mean over
the pairs as a ``Value``, so ``loss.backward()`` gives every parameter its gradient. A prediction
is a ``Value`` (or a list of them, for a model with several outputs); pass one prediction and one
target, or a batch as two lists of the same length. Each loss is algebra over the engine's ops.
A target may be a ``Value`` too: it then takes part in the arithmetic (and gets a gradient), which
is how :func:`microgradx.compile` traces a loss whose targets change from example to example.

>>> from microgradx import Value
>>> scores = [Value(2.0), Value(-0.5)]
>>> hinge(scores, [1, 1]).data        # (max(0, 1 - 2) + max(0, 1 + 0.5)) / 2
0.75
>>> round(binary_cross_entropy(Value(0.0), 1).data, 4)   # log 2: a logit of 0 is a coin toss
0.6931
"""

from __future__ import annotations

import numbers
import reprlib
from collections.abc import Iterable
from typing import Any, Union

from . import functional as F
from .engine import Value

__all__ = ["mse", "hinge", "binary_cross_entropy", "cross_entropy", "l2"]


Target = Union[float, Value]


def _pairs(preds: Any, targets: Any, where: str) -> list[tuple[Value, Target]]:
    """Match predictions with targets (nested lists of the same shape) as (prediction, target) pairs."""
    if isinstance(preds, (Value, numbers.Real)):
        if not isinstance(targets, (Value, numbers.Real)):
            raise ValueError(f"{where}: one prediction needs one target, got {reprlib.repr(targets)}")
        target = targets if isinstance(targets, Value) else float(targets)
        return [(preds if isinstance(preds, Value) else Value(float(preds)), target)]
    if isinstance(preds, str) or isinstance(targets, str):  # a str is a list of strs: it would never end
        raise TypeError(f"{where}: predictions and targets must be numbers or lists of numbers, got "
                        f"{reprlib.repr(preds)} and {reprlib.repr(targets)}")
    try:
        n, m = len(preds), len(targets)
    except TypeError:
        raise TypeError(f"{where}: predictions and targets must both be numbers or both be lists, got "
                        f"{reprlib.repr(preds)} and {reprlib.repr(targets)}") from None
    if n != m:
        raise ValueError(f"{where}: got {n} predictions but {m} targets; pass one target per prediction")
    if n == 0:
        raise ValueError(f"{where}: the loss of no predictions is undefined; pass at least one")
    return [pair for p, t in zip(preds, targets) for pair in _pairs(p, t, where)]


def _leaf(target: Target) -> Value:
    """A target given as a number, as a leaf labelled ``target``: a drawing of the loss names it (a
    folded batch shows ``target ×100``), where an unboxed constant would be a nameless box."""
    return target if isinstance(target, Value) else Value(target, label="target")


def mse(preds: Any, targets: Any) -> Value:
    """Mean squared error, mean of (prediction - target)^2: regression's usual loss.

    >>> mse([Value(1.0), Value(3.0)], [0.0, 1.0]).data     # (1 + 4) / 2
    2.5
    """
    return F.mean([(p - _leaf(t)) ** 2 for p, t in _pairs(preds, targets, "mse()")])


def hinge(scores: Any, labels: Any) -> Value:
    """The max-margin (SVM) loss of micrograd's demo, mean of max(0, 1 - label * score).

    Labels are -1 or +1 (for 0/1 labels pass ``2 * y - 1``). A score on the right side by a margin
    of at least 1 costs nothing; the prediction is the sign of the score.

    >>> hinge(Value(0.5), -1).data
    1.5
    """
    pairs = _pairs(scores, labels, "hinge()")
    for _, y in pairs:
        if not isinstance(y, Value) and y not in (-1.0, 1.0):
            raise ValueError(f"hinge() needs labels -1 or +1, got {y:g}; for 0/1 labels pass 2 * y - 1")
    return F.mean([(1 - _leaf(y) * s).relu() for s, y in pairs])


def binary_cross_entropy(logits: Any, targets: Any) -> Value:
    """-[y log p + (1 - y) log(1 - p)] with p = sigmoid(logit), computed from the logit.

    Written as softplus(z) - y z, which is the same number but never takes the log of a p that
    rounded to 0 or 1, so it stays finite and accurate for logits of +-1000. Targets are in [0, 1];
    its gradient is sigmoid(z) - y.

    >>> round(binary_cross_entropy(Value(-1000.0), 1).data, 6)
    1000.0
    """
    pairs = _pairs(logits, targets, "binary_cross_entropy()")
    for _, y in pairs:
        if not isinstance(y, Value) and not 0.0 <= y <= 1.0:
            raise ValueError(f"binary_cross_entropy() needs targets between 0 and 1, got {y:g}")
    return F.mean([z.softplus() - _leaf(y) * z for z, y in pairs])


def cross_entropy(logits: Any, target: Any) -> Value:
    """-sum_k p_k log softmax(logits)_k, for classification.

    ``logits`` is one list of scores, one per class. ``target`` is the index of the right class
    (the loss is logsumexp(logits) - logits[target]), or, as PyTorch also allows, the probability
    of each class: a list with one number (or Value) per class, such as a one-hot row or smoothed
    labels (the loss is logsumexp(logits) * sum(p) - p . logits, the same number for a one-hot row).
    A batch is a list of such lists with a list of targets; the mean is returned. logsumexp
    subtracts the largest logit first, so logits of +-1000 are fine; the gradient is softmax * sum(p) - p.

    >>> round(cross_entropy([Value(1000.0), Value(-1000.0)], 1).data, 6)
    2000.0
    >>> round(cross_entropy([[0.0, 0.0], [0.0, 0.0]], [0, 1]).data, 4)   # log 2 each
    0.6931
    >>> round(cross_entropy([Value(0.0), Value(1.0)], [0.25, 0.75]).data, 6)   # soft labels
    0.563262
    """
    if isinstance(target, numbers.Integral) or _is_row(logits):
        return _cross_entropy_one(logits, target)
    try:
        n, m = len(logits), len(target)
    except TypeError:
        raise TypeError("cross_entropy() takes a list of logits and a class index, or a batch: a list of "
                        f"lists of logits and a list of indices; got target {reprlib.repr(target)}") from None
    if n != m:
        raise ValueError(f"cross_entropy(): got {n} rows of logits but {m} targets; pass one class index per row")
    if n == 0:
        raise ValueError("cross_entropy(): the loss of no predictions is undefined; pass at least one")
    return F.mean([_cross_entropy_one(row, t) for row, t in zip(logits, target)])


def _is_row(logits: Any) -> bool:
    """Whether ``logits`` is one example's list of scores (rather than a batch of lists)."""
    return isinstance(logits, (list, tuple)) and bool(logits) and isinstance(logits[0], (Value, numbers.Real))


def _cross_entropy_one(logits: Any, target: Any) -> Value:
    if isinstance(logits, (Value, numbers.Real)):
        raise TypeError("cross_entropy() needs a list of logits, one per class (a single logit is "
                        "binary_cross_entropy's job)")
    if isinstance(target, (list, tuple)) and not isinstance(target, str):
        return _cross_entropy_soft(logits, target)
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        hint = ""
        if isinstance(target, Value):
            hint = "; a Value cannot pick a logit: pass the class probabilities instead, e.g. a one-hot row"
        raise TypeError(f"cross_entropy() needs the target as a class index (an int), got {reprlib.repr(target)}, "
                        f"or as class probabilities (a list with one number per class){hint}")
    index = int(target)
    if not 0 <= index < len(logits):
        raise ValueError(f"cross_entropy(): class index {index} is out of range for {len(logits)} logits "
                         f"(valid: 0 to {len(logits) - 1})")
    return F.logsumexp(logits) - logits[index]  # type: ignore[no-any-return]


def _cross_entropy_soft(logits: Any, probabilities: Any) -> Value:
    # -sum_k p_k (z_k - logsumexp(z)) = logsumexp(z) sum_k p_k - sum_k p_k z_k
    if len(probabilities) != len(logits):
        raise ValueError(f"cross_entropy(): got {len(logits)} logits but {len(probabilities)} class probabilities; "
                         "pass one probability per class (or the class index)")
    for p in probabilities:
        if not isinstance(p, Value) and not (isinstance(p, numbers.Real) and 0.0 <= float(p) <= 1.0):
            raise ValueError(f"cross_entropy(): class probabilities must be numbers between 0 and 1, got "
                             f"{reprlib.repr(p)}")
    return F.logsumexp(logits) * F.sum(probabilities) - F.dot(probabilities, logits)


def l2(params: Iterable[Value]) -> Value:
    """The sum of squared parameters, p . p, as one node. Add ``alpha * l2(model.parameters())`` to a
    loss to prefer small weights (micrograd's demo uses alpha = 1e-4).

    >>> l2([Value(3.0), Value(-4.0)]).data
    25.0
    """
    ps = list(params)
    return F.dot(ps, ps)
