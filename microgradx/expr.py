"""Arithmetic expressions as text, turned into a graph of Values without ever running Python code.

``evaluate("tanh(w*x + b)", {"x": 1, "w": 2, "b": 0.5})`` parses the text with :mod:`ast` and
walks the tree, allowing only a short whitelist: numbers, variable names, ``+ - * / **``, unary
minus, parentheses, and calls of the engine's functions (:data:`FUNCTIONS`), some of which take a
list (``dot([w1, w2], [x1, x2])``). Anything else (attributes, strings, subscripts, other calls
such as ``__import__('os')``) is refused with an :class:`ExprError` that names it. ``eval`` is
never called. Each variable becomes one leaf Value labelled with its name, so the graph shows it.

>>> y = evaluate("tanh(w*x + b)", {"x": 1, "w": 2, "b": 0.5})
>>> round(y.data, 4)
0.9866
>>> evaluate("__import__('os').system('ls')", {})
Traceback (most recent call last):
...
microgradx.expr.ExprError: column 1: only the functions abs, cos, dot, ... can be called, written by name ...
"""

from __future__ import annotations

import ast
import difflib
import inspect
import keyword
import math
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, Union

from . import functional
from .engine import Value
from .ops import DomainError

__all__ = ["FUNCTIONS", "ExprError", "evaluate", "normalize_name", "parse"]

Result = Union[Value, float, list[Any]]

# The functions an expression may call: the Value methods (one Value in, one out, some with a
# number as a second argument) and the functional helpers that take lists.
_METHODS = ("abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "leaky_relu", "elu", "gelu", "softplus",
            "sin", "cos")
_LIST_FUNCTIONS: dict[str, Callable[..., Value]] = {
    "sum": functional.sum, "mean": functional.mean, "logsumexp": functional.logsumexp, "dot": functional.dot,
}
FUNCTIONS: dict[str, Callable[..., Value]] = {
    **{name: getattr(Value, name) for name in _METHODS}, **_LIST_FUNCTIONS,
}
_FUNCTION_LIST = ", ".join(sorted(FUNCTIONS))
_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b,
}
_OPERATOR_TEXT = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
                  ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Not: "not", ast.Invert: "~"}
MAX_LENGTH = 10_000


class ExprError(ValueError):
    """An expression that cannot be evaluated: the message says where, what is wrong and what is allowed."""


def normalize_name(name: str) -> str:
    """A variable name as Python reads it in source code: in Unicode normal form NFKC (PEP 3131).

    So ``ﬁ`` (one ligature character) and ``fi`` are the same name, in an expression and in the
    values given for it.

    >>> normalize_name("ﬁ"), normalize_name("x")
    ('fi', 'x')
    """
    return unicodedata.normalize("NFKC", name)


def parse(text: str) -> ast.Expression:
    """Parse ``text`` as one Python expression (syntax only: nothing is evaluated or checked yet).

    Python's parser warns about some text (``1if x else 2``: "invalid decimal literal"); those
    warnings are not shown, as the whitelist refuses such expressions with its own one-line error.

    >>> type(parse("x * 2").body).__name__
    'BinOp'
    """
    if not isinstance(text, str):
        raise ExprError(f"an expression must be text, got {type(text).__name__}")
    if not text.strip():
        raise ExprError("the expression is empty; write one such as 'tanh(w*x + b)'")
    if len(text) > MAX_LENGTH:
        raise ExprError(f"the expression is {len(text)} characters long, more than {MAX_LENGTH}")
    source = text.strip()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning, DeprecationWarning: one error is all we say
            return ast.parse(source, mode="eval")
    except SyntaxError as error:
        message = _syntax_message(text, source, error)
    except UnicodeEncodeError as error:  # a lone surrogate: how Python passes on bytes that are not UTF-8
        message = (f"column {error.start + 1}: {source[error.start]!r} is not a character (bytes that are not "
                   "UTF-8?); write the expression as plain text")
    except ValueError as error:  # null bytes, on Python 3.10
        message = f"cannot parse the expression: {error}"
    except (RecursionError, MemoryError):  # thousands of terms or brackets
        message = "the expression is nested too deeply to parse; split it, or build the graph in Python"
    raise ExprError(message)


def evaluate(text: str, variables: Mapping[str, float] | None = None) -> Value:
    """Build the graph of the expression ``text``, with ``variables`` giving each name a number.

    Each variable is one leaf Value labelled with its name (``x*x`` uses the same leaf twice);
    numbers are constants. Names are compared as Python compares identifiers, after NFKC
    normalization (:func:`normalize_name`). Raises :class:`ExprError` for anything outside the
    whitelist, an unknown name, a variable with no value, or math that fails (``log(0)``).

    >>> evaluate("x ** 2 + 1", {"x": 3.0}).data
    10.0
    >>> evaluate("y + 1", {"x": 3.0})
    Traceback (most recent call last):
    ...
    microgradx.expr.ExprError: column 1: unknown name 'y': not a function, and no value was given for it ...
    """
    tree = parse(text)
    leaves: dict[str, Value] = {}
    for given, value in (variables or {}).items():
        if not isinstance(given, str) or not given.isidentifier() or keyword.iskeyword(normalize_name(given)):
            raise ExprError(f"{given!r} is not a valid variable name: use letters, digits and _ (e.g. x1)")
        name = normalize_name(given)
        if name in FUNCTIONS:
            raise ExprError(f"{name!r} is the name of a function, so it cannot be a variable; pick another name")
        if name in leaves:
            raise ExprError(f"{given!r} and another variable are both {name!r} as Python reads names; give it once")
        try:
            leaves[name] = Value(value, label=name)
        except (TypeError, ValueError) as error:
            raise ExprError(f"the value of {name!r}: {error}") from error
    try:
        result = _Evaluator(text, leaves).value(tree.body)
    except RecursionError:
        raise ExprError("the expression is nested too deeply to evaluate") from None
    if isinstance(result, list):
        raise ExprError("the expression is a list; it must give one number, e.g. sum([a, b])")
    return result if isinstance(result, Value) else Value(result)


class _Evaluator:
    """Evaluates a parsed expression node by node; anything not handled here is refused."""

    def __init__(self, text: str, leaves: dict[str, Value]) -> None:
        self.text_given = text  # as written: the columns in messages count from its start
        self.source = text.strip()  # as parsed
        self.leaves = leaves

    def fail(self, node: ast.AST, message: str) -> NoReturn:
        where = _where(self.text_given, getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1)
        raise ExprError(f"{where}: {message}")

    def text(self, node: ast.AST) -> str:
        segment = ast.get_source_segment(self.source, node) or type(node).__name__
        return segment if len(segment) <= 40 else segment[:37] + "..."

    def value(self, node: ast.AST) -> Result:
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return self.math(node, _OPERATORS[type(node.op)], self.value(node.left), self.value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.value(node.operand)
            return self.math(node, lambda a, _: -a, operand, 0) if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.BinOp, ast.UnaryOp)):
            op = _OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)
            return self.fail(node, f"the operator {op} is not allowed; use + - * / ** and unary minus")
        if isinstance(node, ast.Attribute):
            return self.fail(node, f"attribute access ({self.text(node)!r}) is not allowed; call a function "
                                   f"instead, e.g. tanh(x)")
        if isinstance(node, (ast.List, ast.Tuple)):
            return self.fail(node, "a list may only be the argument of sum, mean, logsumexp or dot")
        return self.fail(node, f"{self.text(node)!r} is not allowed in an expression; use numbers, variable names, "
                               f"+ - * / **, unary minus and the functions {_FUNCTION_LIST}")

    def number(self, node: ast.Constant) -> float:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self.fail(node, f"{self.text(node)!r} is not a number; only numbers and variable names are "
                                   "allowed as values")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            return self.fail(node, f"the number {self.text(node)} is too large for a float")
        return number  # always a float: 9**9**9 overflows at once instead of computing a huge integer

    def name(self, node: ast.Name) -> Value:
        if node.id in self.leaves:
            return self.leaves[node.id]
        if node.id in FUNCTIONS:
            return self.fail(node, f"{node.id} is a function; call it, e.g. {node.id}(x)")
        close = difflib.get_close_matches(node.id, [*self.leaves, *FUNCTIONS], n=1)  # a typo, most likely
        problem = f"did you mean {close[0]}? Otherwise give it a value" if close else \
            "not a function, and no value was given for it"
        return self.fail(node, f"unknown name {node.id!r}: {problem} (e.g. --set {node.id}=1.0 on the command line)")

    def math(self, node: ast.AST, operation: Callable[[Any, Any], Any], a: Result, b: Result) -> Result:
        if isinstance(a, list) or isinstance(b, list):
            return self.fail(node, "arithmetic on a list is not allowed; a list may only be the argument of "
                                   "sum, mean, logsumexp or dot")
        try:
            result = operation(a, b)
        except (ArithmeticError, ValueError) as error:  # DomainError, 1/0, 10.0**400
            return self.fail(node, f"{self.text(node)!r} cannot be computed: {_reason(error)}")
        if isinstance(result, complex):  # (-8) ** 0.5 on plain numbers
            return self.fail(node, f"{self.text(node)!r} is not a real number")
        return result

    def call(self, node: ast.Call) -> Value:
        if not isinstance(node.func, ast.Name):
            return self.fail(node, f"only the functions {_FUNCTION_LIST} can be called, written by name "
                                   f"(e.g. tanh(x)); {self.text(node.func)!r} is not one")
        name = node.func.id
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            fix = f"did you mean {close[0]}?" if close else f"the functions are {_FUNCTION_LIST}"
            return self.fail(node, f"unknown function {name!r}; {fix}")
        if node.keywords:
            return self.fail(node, f"keyword arguments are not supported; pass them in order: {_usage(name)}")
        args: list[Any]
        if name in _LIST_FUNCTIONS:
            args = [self.list_argument(name, arg) for arg in node.args]
        else:
            args = [self.value(arg) for arg in node.args]
            if args and isinstance(args[0], float):  # tanh(2): the engine's method needs a Value
                args[0] = Value(args[0])
            if any(isinstance(a, Value) for a in args[1:]):
                return self.fail(node, f"the extra arguments of {name} must be plain numbers: {_usage(name)}")
        low, high = _arity(name)
        if not low <= len(args) <= high:
            return self.fail(node, f"{name}() takes {_count(low, high)}, got {len(args)}: {_usage(name)}")
        try:
            return FUNCTIONS[name](*args)
        except (ArithmeticError, ValueError, TypeError) as error:
            return self.fail(node, f"{self.text(node)!r} cannot be computed: {_reason(error)}")

    def list_argument(self, name: str, node: ast.AST) -> list[Any]:
        if not isinstance(node, (ast.List, ast.Tuple)):
            return self.fail(node, f"{name}() takes a list in brackets: {_usage(name)}")
        return [self.value(item) for item in node.elts]  # an item that is a list is refused by value()


def _where(text: str, line: int | None, column: int | None) -> str:
    r"""``column 3``, or ``line 2, column 3`` in an expression written over several lines (in brackets).

    ``line`` and ``column`` count in ``text.strip()``, which is what is parsed; the place is said in
    ``text`` as the user wrote it, leading spaces and blank lines included.

    >>> _where("  x + y", 1, 5), _where("\n(x +\n y)", 2, 2)
    ('column 7', 'line 3, column 2')
    """
    line, column = line or 1, column or 1
    before = text[:len(text) - len(text.lstrip())]  # what strip() took from the start
    if line == 1:  # the spaces before the first character, on its line
        column += len(before) - (before.rfind("\n") + 1)
    line += before.count("\n")
    return f"column {column}" if line == 1 else f"line {line}, column {column}"


def _syntax_message(text: str, source: str, error: SyntaxError) -> str:
    """Where Python's parser stopped, what it saw there, and what it said.

    Python 3.11 gives column 0 for an error at the end of the text; that is said as the column just
    after the last character.

    >>> _syntax_message("x**", "x**", SyntaxError("invalid syntax", ("<unknown>", 1, 0, "x**", 1, 0)))
    "column 4, at the end: the expression stops before it is complete (a number, a name or ')' missing?)"
    """
    lines = source.split("\n")
    if not error.offset or error.offset < 1 or (error.lineno or 1) > len(lines):
        end = _where(text, len(lines), len(lines[-1]) + 1)
        return f"{end}, at the end: the expression stops before it is complete (a number, a name or ')' missing?)"
    line, column = error.lineno or 1, error.offset
    seen = ""
    if error.end_lineno == line and error.end_offset and error.end_offset > column:
        seen = f" at {lines[line - 1][column - 1:error.end_offset - 1]!r}"
    said = error.msg.removeprefix("invalid syntax").lstrip(". ")  # "invalid syntax. Perhaps you forgot a comma?"
    detail = f" ({said})" if said else ""
    return f"{_where(text, line, column)}: invalid syntax{seen}{detail}; write e.g. 'tanh(w*x + b)'"


def _reason(error: BaseException) -> str:
    if isinstance(error, ZeroDivisionError):
        return "division by zero"
    if isinstance(error, OverflowError):
        return "the result is too large for a float"
    return str(error) if isinstance(error, (DomainError, ValueError, TypeError)) else type(error).__name__


def _arity(name: str) -> tuple[int, int]:
    """How many arguments the function takes: (at least, at most)."""
    params = list(inspect.signature(FUNCTIONS[name]).parameters.values())
    return sum(p.default is p.empty for p in params), len(params)


def _count(low: int, high: int) -> str:
    n = f"{low}" if low == high else f"{low} to {high}"
    return f"{n} argument" + ("" if high == 1 else "s")


def _usage(name: str) -> str:
    """How a call of the function is written, e.g. ``leaky_relu(x, slope=0.01)`` or ``sum([a, b, ...])``."""
    if name == "dot":
        return "dot([w1, w2, ...], [x1, x2, ...])"
    if name in _LIST_FUNCTIONS:
        return f"{name}([a, b, ...])"
    params = list(inspect.signature(FUNCTIONS[name]).parameters.values())[1:]  # after self
    extra = "".join(f", {p.name}={p.default!r}" for p in params)
    return f"{name}(x{extra})"
