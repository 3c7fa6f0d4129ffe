#!/usr/bin/env python3
"""Mutation testing on demand: make one realistic slip at a time in the code and see if a test notices.

    .venv/bin/python scripts/mutate.py                  # the op table, the engine, losses, optimizers
    .venv/bin/python scripts/mutate.py --modules data nn --max 30
    .venv/bin/python scripts/mutate.py --list           # the mutants, without running anything

Each mutant is one slip of a kind people make: an operator swapped (``+``/``-``, ``*``/``/``,
``**``/``*``), a comparison off by one (``<``/``<=``), ``and``/``or`` swapped, a ``not`` or a minus
sign dropped, a constant changed, the two partials of a rule swapped, two neighbouring arguments
of a call swapped, an update (``x += ...``) forgotten, or a safety check (``if ...: raise``) that never fires.
Slips inside messages (f-strings, ``raise`` arguments, docstrings) are not made: no test should
care about their wording.

The package and the tests are copied to a temporary folder once; each mutant is written into the
copy, the module's tests run there (stopping at the first failure), and the file is put back. A
mutant is *killed* when a test fails (or the run exceeds the time limit), and *survives* when
every test passes. Survivors are listed with their place and their diff, and the survival rate is
printed last. Not part of ``scripts/dev.py test``: a full run takes tens of minutes.

The mutants are found by walking each module's syntax tree (``ast``), so the script needs no
change when the code does; ``--seed`` picks which ones run when ``--max`` caps their number.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(os.environ.get("MICROGRADX_VENV", ROOT / ".venv")) / "bin" / "python"

# The tests that speak for each module (its own file first: it is the most likely to fail fast).
TESTS = {
    "ops": ["test_ops", "test_engine", "test_gradcheck", "test_functional", "test_compile", "test_slips"],
    "engine": ["test_engine", "test_ops", "test_anomaly", "test_modes", "test_micrograd_compat", "test_gradcheck",
               "test_functional", "test_compile", "test_slips", "test_fuzz_values"],
    "losses": ["test_losses", "test_train", "test_compile", "test_slips"],
    "optim": ["test_optim", "test_train", "test_serialization", "test_slips"],
    "data": ["test_data", "test_slips", "test_train"],
    "init": ["test_nn", "test_slips"],
    "nn": ["test_nn", "test_slips", "test_serialization"],
    "train": ["test_train", "test_slips"],
    "serialization": ["test_serialization", "test_slips"],
    "gradcheck": ["test_gradcheck", "test_testing", "test_slips"],
}
DEFAULT = ["ops", "engine", "losses", "optim"]

SWAPS: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult,
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
}
SYMBOLS: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.Lt: "<", ast.LtE: "<=",
    ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
    ast.NotIn: "not in",
}


@dataclass(frozen=True)
class Mutant:
    module: str
    line: int
    kind: str
    source: str  # the whole mutated module

    def diff(self, original: str) -> str:
        lines = difflib.unified_diff(original.splitlines(), self.source.splitlines(), lineterm="", n=0)
        return "\n".join(line for line in list(lines)[2:] if not line.startswith("@@"))


# -- finding the mutants ------------------------------------------------------------------------------------


class _Source:
    """A module's text, addressable by the (line, column) positions of its syntax tree."""

    def __init__(self, text: str, tree: ast.AST) -> None:
        self.text = text
        self.unordered = _unordered_tuples(tree)  # see below
        self.raw = text.encode("utf-8")  # ast's columns count UTF-8 bytes
        self.starts = [0]
        for line in self.raw.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def replace(self, start: int, end: int, new: str) -> str:
        return (self.raw[:start] + new.encode("utf-8") + self.raw[end:]).decode("utf-8")

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.raw[start:end].decode("utf-8")


def _quiet_nodes(tree: ast.AST) -> set[int]:
    """Nodes inside messages, docstrings and type annotations: slips there change no behaviour tests
    should pin down."""
    quiet: set[int] = set()

    def mark(node: ast.AST | None) -> None:
        if node is not None:
            quiet.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            mark(node)
        elif isinstance(node, ast.Raise):
            mark(node.exc)
        elif isinstance(node, (ast.AnnAssign, ast.arg)):
            mark(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if not isinstance(node, ast.ClassDef):
                mark(node.returns)
            for decorator in node.decorator_list:  # @lru_cache(maxsize=64): a setting, not a computation
                mark(decorator)
            wording = ("message", "text", "hint", "made_at")  # functions that only build what an error says
            shown = ("__repr__", "__str__", "__format__", "_repr_html_")
            if node.name in shown or any(w in node.name for w in wording):
                mark(node)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                mark(first)
    return quiet


def _changed_number(value: float) -> float | int:
    if isinstance(value, int):
        return value + 1
    return {0.0: 1.0, 1.0: 2.0, 0.5: 1.0, 2.0: 1.0}.get(value, value * 2)


_TYPE_NAMES = {"Union", "Optional", "Callable", "tuple", "Tuple", "dict", "Dict", "list", "List", "type"}


def _unordered_tuples(tree: ast.AST) -> set[int]:
    """Tuples whose order means nothing, so swapping two members changes nothing: the classes in
    isinstance(x, (A, B)) and except (A, B), the members in ``x in (a, b)``, and type expressions."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("isinstance",
                                                                                               "issubclass"):
            found.update(id(arg) for arg in node.args[1:])
        elif isinstance(node, ast.ExceptHandler) and node.type is not None:
            found.add(id(node.type))
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            found.update(id(c) for c in node.comparators)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in _TYPE_NAMES:
            found.update(id(n) for n in ast.walk(node.slice))
    return found


# Calls whose arguments are of different kinds, so nobody swaps them by accident (and a swap fails at once).
_NOT_SWAPPED = {"isinstance", "issubclass", "getattr", "hasattr", "setattr", "super().__new__",
                "contextlib.suppress", "suppress"}  # (the last two: a set of exception classes)


def mutants(module: str, text: str) -> Iterator[Mutant]:
    """Every single-slip mutant of the module's text, in order of place."""
    tree = ast.parse(text)
    src = _Source(text, tree)
    quiet = _quiet_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in quiet or not hasattr(node, "lineno"):
            continue
        yield from _node_mutants(module, src, node)


def _node_mutants(module: str, src: _Source, node: ast.AST) -> Iterator[Mutant]:
    line = node.lineno  # type: ignore[attr-defined]
    if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
        # The operator sits between the two operands; find its symbol there.
        _, left_end = src.span(node.left)
        right_start, _ = src.span(node.right)
        between = src.raw[left_end:right_start].decode("utf-8")
        symbol = SYMBOLS[type(node.op)]
        at = between.find(symbol)
        if at >= 0 and not (symbol == "*" and between[at : at + 2] == "**"):
            start = left_end + len(between[:at].encode("utf-8"))
            new = SYMBOLS[SWAPS[type(node.op)]]
            yield Mutant(module, line, f"{symbol} -> {new}", src.replace(start, start + len(symbol.encode()), new))
    elif isinstance(node, ast.AugAssign):
        if type(node.op) in SWAPS and type(node.op) is not ast.Pow:
            start, end = src.span(node)
            text = src.segment(node)
            symbol = SYMBOLS[type(node.op)] + "="
            at = text.find(symbol)
            if at >= 0:
                new = SYMBOLS[SWAPS[type(node.op)]] + "="
                yield Mutant(module, line, f"{symbol} -> {new}", src.replace(start, end, text.replace(symbol, new, 1)))
        start, end = src.span(node)
        yield Mutant(module, line, "update forgotten", src.replace(start, end, "pass"))
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in SWAPS:
        _, left_end = src.span(node.left)
        right_start, _ = src.span(node.comparators[0])
        between = src.raw[left_end:right_start].decode("utf-8")
        symbol, new = SYMBOLS[type(node.ops[0])], SYMBOLS[SWAPS[type(node.ops[0])]]
        at = between.find(symbol)
        if at >= 0:
            start = left_end + len(between[:at].encode("utf-8"))
            yield Mutant(module, line, f"{symbol} -> {new}", src.replace(start, start + len(symbol.encode()), new))
    elif isinstance(node, ast.BoolOp) and len(node.values) == 2:
        _, left_end = src.span(node.values[0])
        right_start, _ = src.span(node.values[1])
        between = src.raw[left_end:right_start].decode("utf-8")
        symbol, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        at = between.find(f" {symbol} ")
        if at >= 0:
            start = left_end + len(between[:at].encode("utf-8")) + 1
            yield Mutant(module, line, f"{symbol} -> {new}", src.replace(start, start + len(symbol), new))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        start, end = src.span(node)
        operand = src.segment(node.operand)
        what = "minus sign dropped" if isinstance(node.op, ast.USub) else "not dropped"
        yield Mutant(module, line, what, src.replace(start, end, f"({operand})"))
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        start, end = src.span(node)
        number = _changed_number(node.value)  # type: ignore[arg-type]
        yield Mutant(module, line, f"{node.value!r} -> {number!r}", src.replace(start, end, repr(number)))
    elif isinstance(node, ast.If) and len(node.body) == 1 and isinstance(node.body[0], ast.Raise):
        start, end = src.span(node.test)
        yield Mutant(module, line, "safety check never fires", src.replace(start, end, "False"))
    elif isinstance(node, ast.Tuple) and len(node.elts) == 2 and id(node) not in src.unordered:
        a, b = (src.segment(e) for e in node.elts)
        if a != b and not any(isinstance(e, ast.Starred) for e in node.elts):
            (a_start, a_end), (b_start, b_end) = src.span(node.elts[0]), src.span(node.elts[1])
            swapped = src.raw[:a_start] + b.encode() + src.raw[a_end:b_start] + a.encode() + src.raw[b_end:]
            yield Mutant(module, line, "pair swapped", swapped.decode("utf-8"))
    elif isinstance(node, ast.Call) and src.segment(node.func) not in _NOT_SWAPPED:
        for first, second in zip(node.args, node.args[1:]):  # each two neighbouring arguments
            a, b = src.segment(first), src.segment(second)
            if a == b or any(isinstance(e, (ast.Starred, ast.Constant, ast.Lambda)) for e in (first, second)):
                continue  # nobody swaps two constants' meaning or a rule's two functions by accident
            (a_start, a_end), (b_start, b_end) = src.span(first), src.span(second)
            swapped = src.raw[:a_start] + b.encode() + src.raw[a_end:b_start] + a.encode() + src.raw[b_end:]
            yield Mutant(module, line, f"arguments {a}, {b} of {src.segment(node.func)}() swapped",
                         swapped.decode("utf-8"))


# -- running them -----------------------------------------------------------------------------------------


def copy_repo(into: Path) -> Path:
    """The package, the tests and the settings, in a fresh folder (the mutants are written there)."""
    repo = into / "repo"
    shutil.copytree(ROOT / "microgradx", repo / "microgradx", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", repo / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, repo / name)
    return repo


def run_tests(repo: Path, module: str, timeout: float) -> tuple[str, float]:
    """'killed', 'survived' or 'timeout', and the seconds it took."""
    files = [f"tests/{name}.py" for name in TESTS[module]] + [f"microgradx/{module}.py"]  # its doctests too
    env = {**os.environ, "CI": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(repo)}
    command = [str(PYTHON), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header", "-o",
               "addopts=--doctest-modules --import-mode=importlib", *files]
    began = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=repo, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - began
    outcome = "survived" if result.returncode == 0 else "killed"
    if result.returncode not in (0, 1):  # 2: interrupted or a collection error (a mutant that cannot import)
        outcome = "killed"
    return outcome, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", nargs="+", default=DEFAULT, choices=sorted(TESTS),
                        help=f"the modules to mutate (default: {' '.join(DEFAULT)})")
    parser.add_argument("--max", type=int, default=None, help="at most this many mutants per module (a sample)")
    parser.add_argument("--seed", type=int, default=0, help="which sample --max takes (default: 0)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a mutant's run counts as "
                                                                      "killed by a hang (default: 600)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once, each in its own copy (default: 1)")
    parser.add_argument("--at", nargs="+", default=None, metavar="MODULE.py:LINE",
                        help="only the mutants at these places (to check survivors again after adding tests)")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill (and Ctrl-C) stop it the same way

    plan: list[tuple[Mutant, str]] = []
    for module in args.modules:
        original = (ROOT / "microgradx" / f"{module}.py").read_text(encoding="utf-8")
        found = list(mutants(module, original))
        if args.at is not None:
            found = [m for m in found if f"{m.module}.py:{m.line}" in args.at]
        if args.max is not None and len(found) > args.max:
            found = sorted(random.Random(f"{args.seed}:{module}").sample(found, args.max), key=lambda m: m.line)
        plan += [(m, original) for m in found]
    if args.list:
        for m, original in plan:
            print(f"{m.module}.py:{m.line}: {m.kind}\n{m.diff(original)}")
        print(f"{len(plan)} mutants")
        return 0

    with tempfile.TemporaryDirectory(prefix="microgradx-mutants-") as folder:
        repos = [copy_repo(Path(folder) / f"worker{k}") for k in range(max(1, args.jobs))]
        baseline = {module: run_tests(repos[0], module, args.timeout)[0] for module in args.modules}
        broken = [module for module, outcome in baseline.items() if outcome != "survived"]
        if broken:  # the unmutated code must pass, or every mutant looks killed
            print(f"the tests fail without any mutation for: {', '.join(broken)}; fix that first", file=sys.stderr)
            return 2
        survivors, counts = [], {"killed": 0, "survived": 0, "timeout": 0}
        todo: queue.Queue[tuple[int, Mutant, str]] = queue.Queue()
        for k, (m, original) in enumerate(plan, 1):
            todo.put((k, m, original))
        lock, stop = threading.Lock(), threading.Event()

        def work(repo: Path) -> None:
            while not stop.is_set():
                try:
                    k, m, original = todo.get_nowait()
                except queue.Empty:
                    return
                path = repo / "microgradx" / f"{m.module}.py"
                path.write_text(m.source, encoding="utf-8")
                try:
                    outcome, seconds = run_tests(repo, m.module, args.timeout)
                finally:
                    path.write_text(original, encoding="utf-8")
                with lock:
                    counts[outcome] += 1
                    if outcome == "survived":
                        survivors.append((m, original))
                    print(f"[{k}/{len(plan)}] {m.module}.py:{m.line} {m.kind}: {outcome} ({seconds:.0f} s)", flush=True)

        workers = [threading.Thread(target=work, args=(repo,)) for repo in repos]
        for worker in workers:
            worker.start()
        try:
            while any(worker.is_alive() for worker in workers):
                for worker in workers:
                    worker.join(timeout=0.5)  # a short wait, so Ctrl-C is seen here
        except KeyboardInterrupt:
            stop.set()
            print("stopping: the mutants under way finish, then the counts so far", file=sys.stderr, flush=True)
            for worker in workers:
                worker.join()
    survivors.sort(key=lambda pair: (pair[0].module, pair[0].line))
    print()
    for m, original in survivors:
        print(f"SURVIVED {m.module}.py:{m.line}: {m.kind}\n{m.diff(original)}\n")
    total = sum(counts.values())
    print(f"{total} mutants of {', '.join(args.modules)}: {counts['killed']} killed, {counts['timeout']} by a hang, "
          f"{counts['survived']} survived; survival rate {counts['survived'] / max(total, 1):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
