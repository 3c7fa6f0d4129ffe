"""microgradx: a scalar reverse-mode autograd engine, a small neural-network library and a graph visualizer.

>>> from microgradx import Value
>>> x = Value(2.0)
>>> y = x * x + 3 * x
>>> y.backward()
>>> x.grad
7.0
"""

from . import functional, ops
from .engine import DomainError, Value, apply_op, define_op, enable_grad, grad, is_grad_enabled, no_grad

__version__ = "0.1.0"

__all__ = [
    "Value", "grad", "no_grad", "enable_grad", "is_grad_enabled", "apply_op", "define_op", "DomainError",
    "functional", "ops",
]
