"""microgradx: a scalar reverse-mode autograd engine, a small neural-network library and a graph visualizer.

>>> from microgradx import Value
>>> x = Value(2.0)
>>> y = x * x + 3 * x
>>> y.backward()
>>> x.grad
7.0
"""

from . import (
    animate,
    anomaly,
    compiler,
    data,
    functional,
    init,
    losses,
    modes,
    nn,
    ops,
    optim,
    serialization,
    train,
    viz,
)
from .animate import animate_backward
from .anomaly import detect_anomaly
from .compiler import Compiled, CompileError
from .compiler import compile as compile  # the redundant alias re-exports it without listing it in __all__
from .engine import DomainError, RuleError, Value, apply_op, define_op, enable_grad, grad, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_grad
from .nn import MLP, Layer, Module, Neuron, Perceptron
from .optim import SGD, Adam, AdamW, RMSProp
from .plots import plot_grad_flow
from .serialization import SaveFileError, load, save
from .train import History, evaluate, fit
from .viz import draw_dot, draw_graph, trace

__version__ = "0.1.0"

__all__ = [
    # the engine
    "Value", "grad", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly", "apply_op", "define_op",
    "DomainError", "RuleError",
    # gradient checking (microgradx.gradcheck.check gives the report object; the hypothesis
    # strategies are an explicit import: microgradx.testing)
    "gradcheck", "gradgradcheck", "numerical_grad", "GradcheckError",
    # neural networks
    "Module", "Neuron", "Layer", "MLP", "Perceptron", "SGD", "Adam", "AdamW", "RMSProp",
    "fit", "evaluate", "History", "save", "load", "SaveFileError",
    # trace once, run batches with NumPy: microgradx.compile (not listed, so that `from microgradx
    # import *` cannot shadow the builtin compile)
    "Compiled", "CompileError",
    # graphs (microgradx.viz.save writes a drawing to a file)
    "draw_graph", "draw_dot", "trace", "animate_backward", "plot_grad_flow",
    # modules
    "functional", "ops", "modes", "anomaly", "nn", "init", "losses", "optim", "data", "train", "serialization",
    "viz", "animate", "compiler",
]
