"""Recording modes: whether ops are recorded into the graph, and whether nodes remember where they were made.

The engine reads one small number, the mode, each time it makes a node: bit ``RECORD`` says
whether the node keeps its op and parents (off inside :class:`no_grad`), bit ``ANOMALY`` whether it
also remembers the line of user code that made it (on inside
:class:`~microgradx.anomaly.detect_anomaly`). Reading one number keeps the common case, recording
without anomaly detection, as cheap as it can be.

The mode lives in a :class:`contextvars.ContextVar`, so it is per thread and per async task: a
``no_grad()`` block in one thread never turns gradients off in another. Every mode is a context
manager and a decorator, in all the forms PyTorch accepts: ``with no_grad():``, ``@no_grad``,
``@no_grad()``, on functions, methods, generator functions (the mode holds while the generator's
own code runs, and not between its ``yield``\\s) and ``async def`` functions.

>>> is_grad_enabled()
True
>>> with no_grad():
...     is_grad_enabled()
False
>>> @no_grad
... def evaluate(x):
...     "No graph in here."
...     return is_grad_enabled()
>>> evaluate(1), evaluate.__name__, evaluate.__doc__
(False, 'evaluate', 'No graph in here.')
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from contextvars import ContextVar
from functools import wraps
from typing import Any, NoReturn

__all__ = [
    "RECORD", "ANOMALY", "TRACE", "Mode", "Trace", "no_grad", "enable_grad", "is_grad_enabled", "current_mode",
    "current_trace",
]

RECORD = 1  # ops are recorded into the graph
ANOMALY = 2  # recorded nodes remember where the user's code made them
TRACE = 4  # a function is being traced (microgradx.compile): see Trace

_mode: ContextVar[int] = ContextVar("microgradx_mode", default=RECORD)
# The modes that enclosing blocks replaced, innermost last. Per context like the mode itself, so a
# block entered in two threads at once (one instance, two with-statements) restores each thread's own.
_outer: ContextVar[tuple[int, ...]] = ContextVar("microgradx_outer_modes", default=())

current_mode = _mode.get  # the engine calls this for every node it makes


def is_grad_enabled() -> bool:
    """Whether new ops are recorded into the graph (False inside ``no_grad()``)."""
    return bool(_mode.get() & RECORD)


class Mode:
    """A change of mode for the length of a ``with`` block or a decorated function's run.

    A subclass says how it changes the mode in ``_switch(mode) -> mode``. Used bare on a function
    (``@no_grad``) the class returns the decorated function itself, so it binds as a method like
    any function; ``@no_grad()`` does the same through the instance.
    """

    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        if func is None:
            return super().__new__(cls)
        return _decorate(cls, func)  # bare @no_grad: the wrapped function

    @staticmethod
    def _switch(mode: int) -> int:
        raise NotImplementedError

    def __enter__(self) -> None:
        mode = _mode.get()
        _outer.set((*_outer.get(), mode))
        _mode.set(self._switch(mode))

    def __exit__(self, *exc: object) -> None:
        outer = _outer.get()
        _mode.set(outer[-1])
        _outer.set(outer[:-1])

    def __call__(self, func: Callable[..., Any]) -> Any:  # @no_grad(): wrap the function
        return _decorate(type(self), func)


def _decorate(mode: type[Mode], func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` running inside ``mode``, keeping its name, docstring and signature."""
    if not callable(func):
        raise TypeError(f"{mode.__name__} decorates a function; use `with {mode.__name__}():` for a block "
                        f"of code (got {func!r})")
    if inspect.isasyncgenfunction(func):
        raise TypeError(f"{mode.__name__} cannot decorate an async generator function ({func.__qualname__}); "
                        f"use `with {mode.__name__}():` inside its body")
    if inspect.iscoroutinefunction(func):

        @wraps(func)
        async def run_coroutine(*args: Any, **kwargs: Any) -> Any:
            with mode():  # the task's own context: other tasks are not affected while this one awaits
                return await func(*args, **kwargs)

        return run_coroutine
    if inspect.isgeneratorfunction(func):

        @wraps(func)
        def run_generator(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            return (yield from _each_step_in(mode, func(*args, **kwargs)))

        return run_generator

    @wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        with mode():
            return func(*args, **kwargs)

    return run


def _each_step_in(mode: type[Mode], gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    """Drive ``gen``, entering ``mode`` for each of its steps and leaving it at each ``yield``.

    A generator's body runs piecemeal, interleaved with its caller: the mode must hold while the
    body runs and not while the caller's code between two ``next()`` calls runs.
    """
    try:
        with mode():
            value = gen.send(None)
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                with mode():
                    gen.close()
                raise
            except BaseException as error:  # thrown in by the caller: pass it to the body
                with mode():
                    value = gen.throw(error)
            else:
                with mode():
                    value = gen.send(sent)
    except StopIteration as stop:
        return stop.value


class Trace:
    """While a function is traced to be run over whole batches (:func:`microgradx.compile`), the
    engine tells the tracer two things.

    - Which leaves were made during the trace (``made``): numbers the function turned into Values
      (the ``1`` of ``1 - y * s``) are constants of the trace, while the leaves it found already
      made (a model's weights) are its parameters.
    - When the function makes a Python choice on a Value (``v < 0``, ``bool(v)``, ``v.item()``):
      the choice would be made once, for the traced example, so :meth:`refuse` raises. A tracer
      subclasses Trace to say why in its own words.

    Entered like a mode (per thread and task); ops are recorded inside it.

    >>> from microgradx import Value
    >>> w = Value(2.0)
    >>> with Trace("f") as trace:
    ...     y = w * Value(3.0)
    >>> [v.data for v in trace.made]
    [3.0]
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.made: list[Any] = []

    def __enter__(self) -> Trace:
        self._outer = (_mode.get(), _trace.get())
        _mode.set(_mode.get() | RECORD | TRACE)
        _trace.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        mode, trace = self._outer
        _mode.set(mode)
        _trace.set(trace)

    def refuse(self, value: Any, choice: str, other: Any = None) -> NoReturn:
        """Raise for a Python ``choice`` (``"<"``, ``"bool"``, ``"item"``) made on ``value`` while tracing."""
        raise TypeError(f"{self.name}: a Python choice ({choice}) on a Value while it is traced would be "
                        "made once, for the traced example only")


_trace: ContextVar[Trace | None] = ContextVar("microgradx_trace", default=None)


def current_trace() -> Trace:
    """The trace under way (only called when the mode has the TRACE bit)."""
    trace = _trace.get()
    assert trace is not None, "the TRACE bit is set only by Trace, which sets the trace"
    return trace


class no_grad(Mode):
    """Build no graph: Values made inside are leaves. A context manager and a decorator.

    Per thread and per async task. Decorate functions, methods, generator functions or ``async
    def`` functions, bare (``@no_grad``) or called (``@no_grad()``).

    >>> from microgradx import Value
    >>> with no_grad():
    ...     y = Value(2.0) * 3
    >>> y._prev
    ()
    """

    @staticmethod
    def _switch(mode: int) -> int:
        return mode & ~RECORD


class enable_grad(Mode):
    """Record ops again inside a ``no_grad()`` block (a context manager and a decorator).

    >>> with no_grad():
    ...     with enable_grad():
    ...         is_grad_enabled()
    True
    """

    @staticmethod
    def _switch(mode: int) -> int:
        return mode | RECORD
