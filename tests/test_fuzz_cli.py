"""The command line on arbitrary text and arguments: exit 0 or 2, one line per mistake, nothing run,
nothing written but the output it names.

Most examples run ``main()`` in this process, each in a fresh folder, with every way to run code
guarded (eval, exec, compile beyond parsing, os.system, any program but Graphviz's ``dot``). A few
run the real command in a subprocess, with arguments no Python string literal can hold (bytes that
are not UTF-8, which Python hands over as lone surrogates).
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from fuzzing import examples
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

# Imported before the guard below replaces exec: main() imports these lazily, and dataclasses run
# exec when a module defines them.
import microgradx.animate
import microgradx.demo
import microgradx.expr
import microgradx.viz  # noqa: F401
from microgradx.cli import main
from microgradx.expr import FUNCTIONS

ROOT = Path(__file__).resolve().parent.parent

# -- what the fuzzer types ----------------------------------------------------------------------------

NAMES = ["x", "y", "w", "b", "x1", "_", "ﬁ", "fi", "é", "if", "tanh", "__import__", "__class__", "open", "eval"]
NUMBERS = ["0", "1", "-1", "2.5", "1e308", "1e309", "1e-320", "nan", "inf", "0x1f", "1_000", "1j", "9**9**9"]
SYMBOLS = ["+", "-", "*", "/", "**", "(", ")", "[", "]", ",", " ", "//", "%", "@", ".", "=", ":=", "'", '"',
           "\\", "\n", "\t", "\x00", "\x1b[2J", "\ud800", "lambda", " if ", " else ", " for ", " in ", "1if", "#"]
tokens = st.sampled_from(NAMES + NUMBERS + SYMBOLS + sorted(FUNCTIONS))
expressions = st.one_of(
    st.text(max_size=30),  # anything at all
    st.lists(tokens, max_size=14).map("".join),  # text that parses more often, and reaches the evaluator
)
# Only relative paths inside the test's own folder: an argument such as "-o/x.svg" would write at the root.
WORDS = ["--set", "-o", "--output", "--format", "--rankdir", "--heatmap", "--max-nodes", "-h", "--help", "--version",
         "--", "-x", "svg", "dot", "html", "png", "pdf", "gif", "LR", "TB", "RL", "0", "3", "-1", "1e3", "x=1", "y=2",
         "ﬁ=1", "fi=1", "x=nan", "x=1e400", "x=", "=1", "x==1", "g.dot", "g.svg", "g.html", "g.png", "sub/g.dot",
         "g", "g.DOT", "g.dot.svg", ".", "", "keep.txt", "--out", "--seed", "out", "demo", "draw", "--dataset",
         "digits", "moons"]
safe_text = st.text(max_size=10).filter(lambda t: "/" not in t and "\\" not in t and not t.startswith("-o"))
arguments = st.lists(st.one_of(st.sampled_from(WORDS), safe_text), max_size=8)
# Commands that mostly work, so the drawing and writing code is reached as often as the parser.
UNARY = ["abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "gelu", "softplus", "sin", "cos"]
plausible_expressions = st.recursive(
    st.sampled_from(["x", "y", "1", "2.5", "0", "-x"]),
    lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"({a} {op} {b})", inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner),
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(UNARY), inner),
        st.builds(lambda a, b: f"dot([{a}, {b}], [{b}, 1])", inner, inner),
    ),
    max_leaves=6,
)
plausible = st.builds(
    lambda e, values, out, extra: ["draw", e, "--set", *values, *out, *extra],
    plausible_expressions,
    st.sampled_from([["x=1"], ["x=0.5", "y=-2"], ["x=1", "y=0"], ["x=0"], ["x=1e200", "y=1e200"]]),
    st.sampled_from([[], ["-o", "g.dot"], ["-o", "g.svg"], ["-o", "g.html"], ["-o", "sub/g.dot"], ["--format", "dot"],
                     ["-o", "keep.txt", "--format", "dot"], ["-o", "sub"], ["-o", "missing/g.dot"]]),
    st.one_of(st.just([]), st.sampled_from([["--heatmap"], ["--rankdir", "TB"], ["--max-nodes", "5"]]),
              st.lists(st.sampled_from(["--heatmap", "--rankdir", "TB", "--max-nodes", "5", "--format", "dot"]),
                       max_size=3)),
)
argvs = st.one_of(
    plausible,
    plausible.map(lambda argv: [word.replace("y", "x") for word in argv]),  # every --set name used more often
    st.builds(lambda e, rest: ["draw", e, *rest], expressions, arguments),
    st.builds(lambda rest: ["demo", *rest], arguments),
    arguments,
)


# -- running main() with everything that could run code guarded --------------------------------------


def _forbidden(*args: object, **kwargs: object) -> None:
    raise AssertionError("the command line must never run code")


_real_compile = builtins.compile
_real_popen = subprocess.Popen


def _parse_only(source: object, filename: object, mode: str, flags: int = 0, *args: object, **kw: object) -> object:
    import ast

    assert flags & ast.PyCF_ONLY_AST, "compile() may only parse (ast.parse), never make code"
    return _real_compile(source, filename, mode, flags, *args, **kw)  # type: ignore[call-overload]


class _OnlyDot(_real_popen):  # type: ignore[misc, valid-type]
    def __init__(self, args: object, *rest: object, **kw: object) -> None:
        program = args[0] if isinstance(args, (list, tuple)) else args
        assert Path(str(program)).name == "dot", f"only Graphviz's dot may run, not {program!r}"
        super().__init__(args, *rest, **kw)


@contextlib.contextmanager
def guarded() -> Iterator[list[tuple[object, int]]]:
    """eval, exec, code compilation, os.system and programs other than dot all fail the test; the
    demos' training is replaced by a record of its arguments (parsing them is what is fuzzed)."""
    demos: list[tuple[object, int]] = []
    with contextlib.ExitStack() as stack:
        for target, value in [("builtins.eval", _forbidden), ("builtins.exec", _forbidden),
                              ("builtins.compile", _parse_only), ("os.system", _forbidden),
                              ("os.execv", _forbidden), ("os.execve", _forbidden), ("subprocess.Popen", _OnlyDot),
                              ("microgradx.demo.run_demo", lambda out, seed=0: demos.append((out, seed))),
                              ("microgradx.demo.run_digits_demo", lambda out, seed=0: demos.append((out, seed)))]:
            stack.enter_context(mock.patch(target, value))
        yield demos


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (relative), with a file's bytes (None for a folder)."""
    found: dict[str, bytes | None] = {}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = None if path.is_dir() else path.read_bytes()
    return found


def run_main(argv: list[str], folder: Path) -> tuple[int, str, str, list[warnings.WarningMessage], list]:
    out, err = io.StringIO(), io.StringIO()
    before = os.getcwd()
    os.chdir(folder)
    try:
        with guarded() as demos, warnings.catch_warnings(record=True) as caught, \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            warnings.simplefilter("always")
            try:
                code = main(argv)
            except SystemExit as exit_:  # argparse: --help, --version, usage errors
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        os.chdir(before)
    return code, out.getvalue(), err.getvalue(), list(caught), demos


def may_write(argv: list[str]) -> set[str]:
    """The paths the command may create: the outputs it was given, or its defaults, and their folders."""
    named = {a for a in argv if a} | {f"graph.{kind}" for kind in ("svg", "png", "pdf", "dot", "html")}
    named |= {"out/demo", "out/digits", "out"}
    for word in list(named):
        named |= {str(parent) for parent in Path(word).parents if str(parent) != "."}
    return {str(Path(word)) for word in named}


@settings(max_examples=examples(250), suppress_health_check=[HealthCheck.too_slow])
@given(argv=argvs)
@example(argv=["draw", "1if x else 2", "--set", "x=1"])  # Python's parser warns before the whitelist refuses it
@example(argv=["draw", "x\ud800", "--set", "x=1"])
@example(argv=["draw", "(x\n+ 1)", "--set", "x=1", "-o", "g.dot"])
@example(argv=["draw", "x", "--set", "x=1", "--", "a\nb"])
@example(argv=["draw", "x", "--set", "x=1\x1b[2J"])
@example(argv=["draw", "ﬁ * 2", "--set", "fi=1", "-o", "g.dot"])
@example(argv=["demo", "--seed", "-1"])
@example(argv=["demo", "--out", "keep.txt"])
@example(argv=["draw", "x", "--set", "x=1", "-o", "keep.txt", "--format", "dot"])
def test_any_command_line_ends_in_0_or_one_line_and_2(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "keep.txt").write_text("the user's own file")
        (folder / "sub").mkdir()
        before = snapshot(folder)
        code, out, err, caught, demos = run_main(argv, folder)
        after = snapshot(folder)
    assert code in (0, 2), (argv, code, out, err)
    assert not caught, [str(w.message) for w in caught]  # no warning reaches the user either
    assert "Traceback" not in err
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("microgradx"), (argv, err)
        assert err.endswith("\n") and out == ""
        assert after == before, argv  # a mistake changes nothing
        assert not demos  # and starts no training
        return
    assert err == "", (argv, err)
    changed = {path for path in after if before.get(path, b"<none>") != after[path]}
    assert changed <= may_write(argv), (argv, changed)  # nothing but the named output
    if changed & {"keep.txt"}:  # the user's file was named as the output: it now holds the drawing
        assert argv[argv.index("keep.txt") - 1] in ("-o", "--output")


# -- a few runs of the real command --------------------------------------------------------------------


def run(args: list[bytes], cwd: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "microgradx", *args], cwd=cwd, env=environment,
                          capture_output=True, timeout=120)


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])  # PYTHONIOENCODING: strict, as some terminals are
def test_bytes_that_are_not_utf8_in_arguments(tmp_path: Path, encoding: str) -> None:
    ok = run([b"draw", b"x * 2", b"--set", b"x=1", b"-o", b"g\xff\xe9.dot"], tmp_path, PYTHONIOENCODING=encoding)
    assert ok.returncode == 0 and ok.stderr == b"", ok
    assert ok.stdout.startswith(b"wrote g\\udcff\\udce9.dot: x * 2 = 2.0000")
    assert (tmp_path / os.fsdecode(b"g\xff\xe9.dot")).read_text().startswith("digraph")
    for args in ([b"draw", b"x\xff", b"--set", b"x=1"], [b"draw", b"x", b"--set", b"x\xff=1"],
                 [b"draw", b"x", b"--set", b"x=1\xff"], [b"demo", b"--seed", b"\xff"]):
        result = run(args, tmp_path, PYTHONIOENCODING=encoding)
        assert result.returncode == 2 and result.stdout == b"", result
        assert len(result.stderr.splitlines()) == 1 and b"Traceback" not in result.stderr, result
    assert sorted(p.name for p in tmp_path.iterdir()) == [os.fsdecode(b"g\xff\xe9.dot")]


def test_a_python_warning_never_reaches_the_terminal(tmp_path: Path) -> None:
    # In a subprocess Python shows warnings as it does for users (pytest would record them instead).
    for expression in (b"1if x else 2", b"x is 1", b"'\\d' + x", b"(1)(x)"):
        result = run([b"draw", expression, b"--set", b"x=1"], tmp_path, PYTHONWARNINGS="default")
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result
