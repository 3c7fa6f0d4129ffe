"""The `microgradx draw` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from microgradx.cli import build_parser, main, parse_assignments
from microgradx.expr import ExprError, evaluate
from microgradx.viz import trace

ROOT = Path(__file__).resolve().parent.parent
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "microgradx", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("microgradx draw: error: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@needs_dot
def test_draw_writes_an_svg_of_the_forward_and_backward_pass(tmp_path: Path) -> None:
    result = run("draw", "tanh(w*x + b)", "--set", "x=1", "w=2", "b=0.5", "-o", "graph.svg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("wrote graph.svg: tanh(w*x + b) = 0.9866; gradients: x 0.0532, w 0.0266, b 0.0266\n")
    svg = ET.parse(tmp_path / "graph.svg").getroot()
    text = ["".join(t.itertext()) for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert {"x", "w", "b", "tanh", "*", "+", "grad 1.0000", "data 0.9866"} <= set(text)


@needs_dot
@pytest.mark.parametrize(("args", "name", "magic"), [
    (["-o", "g.png"], "g.png", b"\x89PNG"),
    (["-o", "g.dot"], "g.dot", b"digraph"),
    (["--format", "dot"], "graph.dot", b"digraph"),
    (["-o", "out.txt", "--format", "svg"], "out.txt", b"<?xml"),
    (["-o", "backprop.html"], "backprop.html", b"<!DOCTYPE html>"),
])
def test_the_extension_or_format_picks_the_output(tmp_path: Path, args: list[str], name: str, magic: bytes) -> None:
    result = run("draw", "x*x + 2*x", "--set", "x=3", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert "gradients: x 8.0000" in result.stdout


HOSTILE = [
    "__import__('os').system('touch pwned')",
    "open('pwned', 'w').write('x')",
    "eval(\"__import__('os').system('touch pwned')\")",
    "exec('import os')",
    "x.__class__.__bases__[0].__subclasses__()",
    "(lambda: __import__('os'))()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "globals()['__builtins__']",
    "tanh(x).__class__",
    "x if __import__('os').system('touch pwned') else x",
    "f'{x}'",
    "'touch pwned'",
    "x; __import__('os')",
    "(x := 2)",
    "9**9**9**9",
]


@pytest.mark.parametrize("expression", HOSTILE)
def test_hostile_expressions_are_refused_and_never_run(tmp_path: Path, expression: str) -> None:
    result = run("draw", expression, "--set", "x=1", "-o", "g.dot", cwd=tmp_path)
    assert_one_line_error(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no pwned file, no output


@pytest.mark.parametrize(("args", "words"), [
    (["x + y", "--set", "x=1"], ["unknown name 'y'", "--set y="]),
    (["x + 1"], ["unknown name 'x'"]),
    (["tanh(x", "--set", "x=1"], ["invalid syntax"]),
    (["x +* 2", "--set", "x=1"], ["invalid syntax"]),
    (["foo(x)", "--set", "x=1"], ["unknown function 'foo'", "tanh"]),
    (["log(x)", "--set", "x=0"], ["log(x) needs x > 0"]),
    (["x / 0", "--set", "x=1"], ["cannot be computed", "!= 0"]),
    (["x", "--set", "x"], ["--set expects NAME=VALUE"]),
    (["x", "--set", "x=abc"], ["'abc' is not a number"]),
    (["x", "--set", "x=nan"], ["finite"]),
    (["x", "--set", "x=1", "x=2"], ["twice"]),
    (["x", "--set", "x=1", "-o", "graph.jpeg"], ["cannot tell the format", "--format"]),
    (["x", "--set", "x=1", "-o", "missing/dir/graph.dot"], ["missing/dir", "does not exist; create it first"]),
    (["x", "--set", "x=1", "--format", "gif"], ["invalid choice: 'gif'"]),
    (["--set", "x=1", "x * 2"], ["expression", "before --set"]),
    (["-x", "--set", "x=1"], ["'-x' starts with - so it was read as an option", "'(-x)'"]),
    (["x*x*x", "--set", "x=1", "--max-nodes", "3"], ["more than max_nodes=3", "--max-nodes N"]),
    (["x*x*x", "--set", "x=1", "--max-nodes", "3", "-o", "a.html"], ["more than max_nodes=3", "--max-nodes N"]),
    (["x", "--set", "x=1", "--max-nodes", "0"], ["max_nodes must be a whole number >= 1"]),
    # Python's parser warns before it fails or succeeds: the warning must not come out as a second line
    (["1if x else 2", "--set", "x=1"], ["'1if x else 2' is not allowed"]),
    (["x is 1", "--set", "x=1"], ["'x is 1' is not allowed"]),
    (["'\\d' + x", "--set", "x=1"], ["is not a number"]),
    (["fi", "--set", "ﬁ=1", "fi=2"], ["'fi' twice", "'ﬁ' and 'fi' are the same name"]),
    (["x", "--set", "if=1", "x=1"], ["'if' is not a valid variable name"]),
])
def test_mistakes_get_a_one_line_error_and_exit_code_2(tmp_path: Path, args: list[str], words: list[str]) -> None:
    assert_one_line_error(run("draw", *args, cwd=tmp_path), *words)


def test_a_missing_dot_is_one_line_that_says_how_to_install_it(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "PYTHONPATH": str(ROOT)}  # python by its full path, dot nowhere
    result = subprocess.run([sys.executable, "-m", "microgradx", "draw", "x*2", "--set", "x=1"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert_one_line_error(result, "apt-get install graphviz")
    ok = subprocess.run([sys.executable, "-m", "microgradx", "draw", "x*2", "--set", "x=1", "-o", "g.dot"],
                        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and (tmp_path / "g.dot").read_text().startswith("digraph")


@needs_dot
def test_max_nodes_lets_a_larger_graph_through(tmp_path: Path) -> None:
    result = run("draw", "x*x*x", "--set", "x=1", "--max-nodes", "6", "-o", "g.svg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len([g for g in ET.parse(tmp_path / "g.svg").getroot().iter("{http://www.w3.org/2000/svg}g")
                if "node" in (g.get("class") or "").split()]) == 5  # x, two products and their op nodes


def test_hints_read_the_arguments_given_to_main_not_sys_argv(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["microgradx", "draw", "--set", "x=1"])  # would suggest moving --set
    with pytest.raises(SystemExit) as exit_:
        main(["draw", "-x"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "'-x' starts with -" in error and "before --set" not in error
    with pytest.raises(SystemExit):
        main(["draw", "--set", "x=1", "x * 2"])
    assert "before --set" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["ﬁ", "ｘ", "Ⅸ", "ℌ"])  # ligature, full-width, roman numeral, black-letter
def test_set_names_are_read_as_python_reads_names_in_the_expression(tmp_path: Path, name: str,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import unicodedata

    python_reads = unicodedata.normalize("NFKC", name)
    assert ast_name(name) == python_reads  # what the expression's name is, by Python's own parser
    out = tmp_path / "g.dot"
    for written in (name, python_reads):  # either spelling in the expression, either in --set
        for given in (name, python_reads):
            assert main(["draw", f"{written} * 2", "--set", f"{given}=3", "-o", str(out)]) == 0
            assert capsys.readouterr().out.endswith(f"= 6.0000; gradients: {python_reads} 2.0000\n")


def ast_name(text: str) -> str:
    import ast

    node = ast.parse(text, mode="eval").body
    assert isinstance(node, ast.Name)
    return node.id


@pytest.mark.parametrize(("args", "words"), [
    (["--seed", "-1"], ["--seed", "whole number >= 0", "'-1'"]),
    (["--seed", "1.5"], ["--seed", "whole number >= 0"]),
    (["--seed", "abc"], ["--seed", "'abc'"]),
    (["--out", "a_file"], ["'a_file' is a file, not a folder"]),
    (["--out", "a_file/sub"], ["'a_file/sub' cannot be used as the output folder"]),
    (["--out", "locked/sub"], ["'locked/sub' cannot be used as the output folder"]),
])
def test_demo_mistakes_get_one_line_and_exit_code_2_before_any_training(tmp_path: Path, args: list[str],
                                                                         words: list[str]) -> None:
    (tmp_path / "a_file").write_text("keep me")
    (tmp_path / "locked").mkdir(mode=0o500)  # no writing (root may write anyway: then made read-only below)
    if os.geteuid() == 0 and "locked/sub" in args:
        args = ["--out", "/proc/1/locked/sub"]  # a folder nobody can create, root included
        words = ["'/proc/1/locked/sub' cannot be used as the output folder"]
    result = run("demo", *args, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == "", result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("microgradx demo: error: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "fit" not in result.stderr  # refused before training started
    assert (tmp_path / "a_file").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "locked"]


def test_the_demo_command_is_still_there() -> None:
    args = build_parser().parse_args(["demo", "--out", "somewhere", "--seed", "3"])
    assert (args.command, args.out, args.seed) == ("demo", "somewhere", 3)


def test_assignments_parse_to_floats() -> None:
    assert parse_assignments(["x=1", " w = -2.5e-3 "]) == {"x": 1.0, "w": -0.0025}
    with pytest.raises(ValueError, match="put the expression before --set"):
        parse_assignments(["tanh(x)"])


# -- the expression parser behind it, in-process ---------------------------------------------------------


def test_each_variable_is_one_labelled_leaf_and_numbers_are_constants() -> None:
    y = evaluate("x*x + 2*x", {"x": 3.0})
    nodes, _ = trace(y)
    leaves = [v for v in nodes if not v._prev]
    assert [v.label for v in leaves].count("x") == 1 and y.data == 15.0
    y.backward()
    assert next(v for v in leaves if v.label == "x").grad == 8.0


@pytest.mark.parametrize(("text", "value"), [
    ("dot([w1, w2], [x1, x2]) + b", 0.5 * 1 + -1 * 2 + 0.25),
    ("sum([w1, w2, 3]) / 2", 1.25),
    ("mean([x1, x2])", 1.5),
    ("leaky_relu(-x1, 0.1)", -0.1),
    ("relu(-x1) + sigmoid(0) + abs(w2)", 1.5),
    ("2 ** x2 - x1 ** 2", 3.0),
    ("-(-x1)", 1.0),
    ("exp(log(x2))", 2.0),
])
def test_the_whitelist_covers_the_engines_functions(text: str, value: float) -> None:
    variables = {"x1": 1.0, "x2": 2.0, "w1": 0.5, "w2": -1.0, "b": 0.25}
    assert evaluate(text, variables).data == pytest.approx(value)


def test_the_parser_never_runs_code(monkeypatch: pytest.MonkeyPatch) -> None:
    import ast
    import builtins

    real_compile = builtins.compile

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval and exec must never be called")

    def parse_only(source: object, filename: object, mode: str, flags: int = 0, *args: object, **kw: object) -> object:
        assert flags & ast.PyCF_ONLY_AST, "compile() may only parse (ast.parse), never make code"
        return real_compile(source, filename, mode, flags, *args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", parse_only)
    try:
        assert evaluate("tanh(w*x + b)", {"x": 1, "w": 2, "b": 0.5}).data == pytest.approx(0.98661429)
        with pytest.raises(ExprError):
            evaluate("__import__('os')", {})
    finally:
        monkeypatch.undo()  # before pytest itself needs compile() again


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("x" * 10_001, "characters long"),
    ("+".join(["x"] * 5000), "nested too deeply"),
    ("(" * 300 + "x" + ")" * 300, "too many nested parentheses"),
    ("tanh(x, 2)", "tanh() takes 1 argument, got 2: tanh(x)"),
    ("leaky_relu(x, x)", "must be plain numbers: leaky_relu(x, slope=0.01)"),
    ("sum(x, x)", "sum() takes a list in brackets"),
    ("[x, x]", "a list may only be the argument"),
    ("sum([[x]])", "a list may only be the argument"),
    ("tanh(slope=1)", "keyword arguments are not supported"),
    ("(-8) ** 0.5", "is not a real number"),
    ("1e999", "too large for a float"),
    ("x // 2", "the operator // is not allowed"),
    ("tanh", "tanh is a function; call it"),
    ("True", "'True' is not a number"),
])
def test_expression_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ExprError) as error:
        evaluate(text, {"x": 1.0})
    assert message in str(error.value)


def test_bad_variables_are_refused() -> None:
    with pytest.raises(ExprError, match="is the name of a function"):
        evaluate("1", {"tanh": 1.0})
    with pytest.raises(ExprError, match="not a valid variable name"):
        evaluate("1", {"1x": 1.0})


def test_a_set_variable_the_expression_does_not_use_is_an_error(tmp_path: Path) -> None:
    result = run("draw", "x * 2", "--set", "x=1", "y=2", "-o", "g.dot", cwd=tmp_path)
    assert_one_line_error(result, "--set gives y, which the expression does not use (it uses x)")
    assert list(tmp_path.iterdir()) == []  # nothing written


# -- output paths the system refuses: one line naming the user's path, never the temporary file --------


@pytest.mark.parametrize(("output", "words"), [
    ("/proc/g.svg", ["cannot write '/proc/g.svg'", "the folder '/proc' does not accept new files",
                     "choose another folder"]),  # a folder nobody can create files in, root included
    ("missing/g.dot", ["cannot write 'missing/g.dot'", "the folder 'missing' does not exist; create it first"]),
])
def test_an_output_folder_that_takes_no_files_is_named_with_the_fix(tmp_path: Path, output: str,
                                                                   words: list[str]) -> None:
    result = run("draw", "x*2", "--set", "x=1", "-o", output, cwd=tmp_path)
    assert_one_line_error(result, *words)
    assert ".tmp" not in result.stderr and "Errno" not in result.stderr and "save()" not in result.stderr


@pytest.mark.parametrize("extra", [[], ["--format", "svg"], ["--format", "html"]])
def test_a_folder_as_output_is_called_a_folder_whatever_the_format(tmp_path: Path, extra: list[str]) -> None:
    (tmp_path / "out").mkdir()
    result = run("draw", "x*2", "--set", "x=1", "-o", "out", *extra, cwd=tmp_path)
    assert_one_line_error(result, "-o 'out' is a folder", "give the path of a file", "-o 'out/graph.svg'")
    assert "format" not in result.stderr


# -- misspellings: the closest correct word, and the help that lists it ----------------------------------


def assert_error_line(result: subprocess.CompletedProcess[str], start: str, *words: str) -> str:
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.mark.parametrize(("args", "words"), [
    (["draw", "x", "--set", "x=1", "--heatmp"], ["--heatmp; did you mean --heatmap?"]),
    (["draw", "x", "--set", "x=1", "--ouput=g.svg"], ["--ouput=g.svg; did you mean --output?"]),
    (["draw", "x", "--set", "x=1", "--zzz"], ["unrecognized arguments: --zzz (see"]),
    (["draw", "x", "+", "1", "--set", "x=1"], ["+ 1; put the whole expression in quotes"]),
    (["demo", "--sed", "3"], ["did you mean --seed?"]),
])
def test_an_unknown_option_of_a_subcommand_points_to_its_help_and_the_closest_option(
        tmp_path: Path, args: list[str], words: list[str]) -> None:
    command = args[0]
    line = assert_error_line(run(*args, cwd=tmp_path), f"microgradx {command}: error: unrecognized arguments: ",
                             *words)
    assert line.endswith(f"(see microgradx {command} --help)")


@pytest.mark.parametrize(("args", "start", "hint"), [
    (["drwa", "x"], "microgradx: error: ", "invalid choice: 'drwa'"),
    (["dmeo"], "microgradx: error: ", "invalid choice: 'dmeo'"),
    (["draw", "x", "--set", "x=1", "--format", "sgv"], "microgradx draw: error: ", "invalid choice: 'sgv'"),
    (["draw", "x", "--set", "x=1", "--rankdir", "lr"], "microgradx draw: error: ", "invalid choice: 'lr'"),
    (["--verson"], "microgradx: error: ", "required: command"),
])
def test_a_misspelt_subcommand_or_choice_gets_did_you_mean(tmp_path: Path, args: list[str], start: str,
                                                           hint: str) -> None:
    expected = {"drwa": "draw", "dmeo": "demo", "sgv": "svg", "lr": "LR", "--verson": "--version"}
    wrong = next(word for word in args if word in expected)
    assert_error_line(run(*args, cwd=tmp_path), start, hint, f"; did you mean {expected[wrong]}? (see ")


def test_no_did_you_mean_when_nothing_is_close(tmp_path: Path) -> None:
    line = assert_error_line(run("paint", "x", cwd=tmp_path), "microgradx: error: ", "invalid choice: 'paint'")
    assert "did you mean" not in line


@pytest.mark.parametrize(("expression", "words"), [
    ("tahn(x)", ["column 1: unknown function 'tahn'; did you mean tanh?"]),
    ("x + sigmod(x)", ["column 5: unknown function 'sigmod'; did you mean sigmoid?"]),
    ("foo(x)", ["unknown function 'foo'; the functions are abs, cos, dot", "tanh"]),
    ("xx * 2", ["column 1: unknown name 'xx': did you mean x?", "--set xx="]),
])
def test_a_misspelt_name_gets_did_you_mean_or_the_list(tmp_path: Path, expression: str, words: list[str]) -> None:
    result = run("draw", expression, "--set", "x=1", "-o", "g.dot", cwd=tmp_path)
    assert_one_line_error(result, *words)
    assert ("did you mean" in result.stderr) != ("foo" in expression)


@pytest.mark.parametrize(("expression", "words"), [
    # at the end of the text: Python 3.11 says column 0, which is just after the last character
    ("x**", ["column 4, at the end: the expression stops before it is complete"]),
    ("1 + x -", ["column 8, at the end"]),
    ("  x**", ["column 6, at the end"]),  # counted in the text as written, leading spaces included
    # in the middle: the column Python gives, and what it found there
    ("x +* 2", ["column 4: invalid syntax at '*'"]),
    ("x ** * 2", ["column 6: invalid syntax at '*'"]),
    ("x $ 2", ["column 3: invalid syntax at '$'"]),
    ("tanh(x x)", ["column 6: invalid syntax at 'x x' (Perhaps you forgot a comma?)"]),
    ("x * tanh(x", ["column 9: invalid syntax ('(' was never closed)"]),
    ("x + 1)", ["column 6: invalid syntax (unmatched ')')"]),
    ("(x +\n1 +)", ["line 2, column 4: invalid syntax at ')'"]),
    ("  x + y", ["column 7: unknown name 'y'"]),  # the evaluator's columns count the same way
])
def test_syntax_errors_give_the_column_where_python_stopped(tmp_path: Path, expression: str,
                                                            words: list[str]) -> None:
    assert_one_line_error(run("draw", expression, "--set", "x=1", "-o", "g.dot", cwd=tmp_path), *words)


@needs_dot
def test_an_animation_is_titled_with_the_expression(tmp_path: Path) -> None:
    result = run("draw", "tanh(w*x +\n b)", "--set", "x=1", "w=2", "b=0.5", "-o", "a.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "a.html").read_text()
    assert "<title>Backward pass of tanh(w*x + b)</title>" in page and "<h1>Backward pass of tanh(w*x + b)</h1>" in page


# -- scripts/dev.py: --help is a request, not a mistake ----------------------------------------------------


def run_dev(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "dev.py"), *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_dev_help_prints_the_usage_and_exits_0(flag: str) -> None:
    result = run_dev(flag)
    assert result.returncode == 0 and result.stderr == "", result
    assert result.stdout.startswith("usage: python3 scripts/dev.py demo | test")
    assert "cannot continue" not in result.stdout


@pytest.mark.parametrize(("args", "words"), [
    (["tset"], ["unknown task 'tset'; did you mean test?", "usage: python3 scripts/dev.py"]),
    (["frob"], ["unknown task 'frob'; usage: python3 scripts/dev.py"]),
    ([], ["no task given; usage: python3 scripts/dev.py"]),
])
def test_dev_with_an_unknown_task_says_so_in_one_line(args: list[str], words: list[str]) -> None:
    result = run_dev(*args)
    assert result.returncode == 2 and result.stdout == "", result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("[dev] cannot continue: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize("args", [("--help",), ("draw", "--help"), ("draw", "x * 2", "--set", "x=1", "-o", "g.dot")])
def test_a_reader_that_leaves_early_is_no_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    # `microgradx ... | head -0`: the pipe's reader has gone before anything is written
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "microgradx", *args], cwd=tmp_path, stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=120,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        os.close(write_end)
    assert result.stderr == ""  # no traceback, no "error: [Errno 32] Broken pipe"
    if "-o" in args:
        assert result.returncode == 1  # as Python's docs advise where stdout's reader has gone
        assert (tmp_path / "g.dot").read_text().startswith("digraph")  # the work itself was done
    else:  # the help goes out at exit, in one buffered write that fails quietly
        assert result.returncode in (0, 1)
