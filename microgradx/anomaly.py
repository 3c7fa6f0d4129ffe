"""Anomaly mode: every node remembers the line of your code that made it, so errors can point there.

An error in ``backward()`` happens far from its cause: the op that cannot be differentiated was
made many lines earlier. Inside ``with detect_anomaly():`` each new node remembers where the user's
code made it (file, line, function: the first frame outside microgradx), and any error in the
forward or backward pass that names a node then also says where it was made, as PyTorch's anomaly
mode shows the "traceback of forward call that caused the error".

It is off by default and free when off: the engine reads one number per node either way. When on,
building a graph is a few times slower (a frame lookup and a weak reference per node). The sites
are kept beside the nodes, not in them, and vanish with the nodes.

>>> from microgradx import Value, DomainError
>>> with detect_anomaly():
...     x = Value(0.0, label="x")
...     y = x.sqrt()
>>> try:
...     (y * 2).backward()
... except DomainError as error:
...     print(str(error).splitlines()[1].split(",")[-1])
 in <module>: y = x.sqrt()
"""

from __future__ import annotations

import linecache
import os
import sys
import weakref
from types import CodeType
from typing import Any, NamedTuple

from .modes import ANOMALY, Mode, _mode

__all__ = ["detect_anomaly", "is_anomaly_enabled", "Site", "site_of"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class Site(NamedTuple):
    """Where user code made a node: the file, the line number and the function (``<module>`` at top level)."""

    filename: str
    lineno: int
    function: str

    def __str__(self) -> str:
        code = linecache.getline(self.filename, self.lineno).strip()
        return f"{self.filename}:{self.lineno}, in {self.function}" + (f": {code}" if code else "")


# Where each node was made, keyed by a weak reference to it: the entry goes when the node goes. (A
# WeakKeyDictionary does the same with more Python code per entry; recording is on the hot path.)
_sites: dict[weakref.ref[Any], tuple[CodeType, int]] = {}


def _forget(ref: weakref.ref[Any]) -> None:
    _sites.pop(ref, None)


class detect_anomaly(Mode):
    """Make every node remember where it was made, for error messages (context manager or decorator).

    Per thread and per async task, like ``no_grad``. Inside it, a ``DomainError``, a ``RuleError``
    or a gradient that is not finite names the op, its inputs with their labels, and the line of
    your code that made each of them.

    >>> from microgradx import Value
    >>> with detect_anomaly():
    ...     y = Value(1.0) * 2
    >>> site_of(y).function
    '<module>'
    """

    @staticmethod
    def _switch(mode: int) -> int:
        return mode | ANOMALY


def is_anomaly_enabled() -> bool:
    """Whether new nodes remember where they were made (True inside ``detect_anomaly()``)."""
    return bool(_mode.get() & ANOMALY)


def record(node: Any) -> None:
    """Remember the first frame outside microgradx as the place ``node`` was made."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    _sites[weakref.ref(node, _forget)] = (frame.f_code, frame.f_lineno)


def site_of(node: Any) -> Site | None:
    """Where ``node`` was made, if it was made in anomaly mode (None otherwise)."""
    found = _sites.get(weakref.ref(node))
    if found is None:
        return None
    code, lineno = found
    return Site(code.co_filename, lineno, code.co_name)


def made_at(what: str, node: Any) -> str:
    """A line saying where ``node`` (called ``what``) was made, or "" when it is not known."""
    site = site_of(node)
    return f"\n  {what} was made at {site}" if site is not None else ""

