"""The ``microgradx`` command line: ``demo`` trains the demo model, ``draw`` renders an expression's graph.

    microgradx draw "tanh(w*x + b)" --set x=1 w=2 b=0.5 -o graph.svg

``draw`` parses the expression with :mod:`microgradx.expr` (a whitelist over Python's ``ast``,
never ``eval``), runs the forward and backward pass, and writes the graph: svg, png, pdf or dot
by the extension or ``--format``, or the backward-pass animation for ``.html``. Every mistake (a
bad expression, option, seed or output path) gives exactly one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .expr import FUNCTIONS, normalize_name
from .viz import RANKDIRS

DRAW_FORMATS = ("svg", "png", "pdf", "dot", "html")


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line (the full usage is one ``--help`` away) and, for a
    misspelt option, subcommand or choice, the closest correct one."""

    words: Sequence[str] = ()  # the arguments being parsed, for the hints in error()
    commands: Mapping[str, argparse.ArgumentParser] = {}  # the subcommands' parsers, by name

    # Typed loosely: argparse's own signatures are overloads, and these only pass them through.
    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        self.words = list(sys.argv[1:] if args is None else args)  # a subcommand's parser sees its own words
        return super().parse_known_args(args, namespace)

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:  # argparse would blame the top-level parser, whose --help does not list draw's options
            parser = self.commands.get(getattr(parsed, "command", None) or "", self)
            parser.error(f"unrecognized arguments: {' '.join(extras)}{_unrecognized_hint(parser, extras)}")
        return parsed

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as error:  # invalid choice: a subcommand, --format, --rankdir
            error.message += _did_you_mean(str(value), [str(c) for c in action.choices or ()])
            raise

    def error(self, message: str) -> NoReturn:
        if "expression" in message:
            message += _missing_expression_hint(self.words)
        elif self.commands and message.endswith("required: command"):  # e.g. only a misspelt --version
            dashed = [word for word in self.words if word.startswith("-")]
            message += _unrecognized_hint(self, dashed) or f"; give one of {', '.join(self.commands)}"
        self.exit(2, _one_line(f"{self.prog}: error: {message} (see {self.prog} --help)") + "\n")


def _missing_expression_hint(words: Sequence[str]) -> str:
    """Why argparse found no expression although the user wrote one, and how to write it.

    >>> _missing_expression_hint(["-x", "--set", "x=1"])
    " ('-x' starts with - so it was read as an option: write it in brackets, '(-x)')"
    """
    dashed = next((w for w in words if w.startswith("-") and not w.startswith("--") and w not in ("-o", "-h")), None)
    if dashed is not None:  # argparse takes a leading - for an option; a space or a bracket avoids it
        return f" ({dashed!r} starts with - so it was read as an option: write it in brackets, '({dashed})')"
    if "--set" in words:
        return " (write the expression before --set, whose values take every word after it)"
    return ""


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    """``; did you mean X?`` for the choice closest to ``word`` (case aside), or nothing.

    >>> _did_you_mean("drwa", ["demo", "draw"]), _did_you_mean("lr", ["LR", "TB"]), _did_you_mean("gif", ["svg"])
    ('; did you mean draw?', '; did you mean LR?', '')
    """
    by_lower = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
    return f"; did you mean {by_lower[close[0]]}?" if close else ""


def _unrecognized_hint(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str:
    """The closest option to the first unknown one (``--heatmp``), or, for words that are not options
    (an expression the shell split at its spaces), how to keep the expression in one piece."""
    options = [option for action in parser._actions for option in action.option_strings]
    for word in extras:
        hint = _did_you_mean(word.split("=", 1)[0], options) if word.startswith("-") else ""
        if hint:
            return hint
    if parser.prog.endswith(" draw") and not all(word.startswith("-") for word in extras):
        return "; put the whole expression in quotes, e.g. \"x + 1\""
    return ""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``microgradx`` command.

    >>> build_parser().parse_args(["draw", "x * 2", "--set", "x=1"]).values
    ['x=1']
    """
    parser = _Parser(prog="microgradx", description="microgradx: autograd from first principles.")
    parser.add_argument("--version", action="version", version=f"microgradx {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    parser.commands = commands.choices
    demo = commands.add_parser(
        "demo", help="train the demo model and write its graph and plots",
        description="Train a model and write what it learned: micrograd's two moons (the default), or the UCI "
                    "handwritten digits through the compiled path (--dataset digits).",
    )
    demo.add_argument("--dataset", choices=("moons", "digits"), default="moons",
                      help="moons: MLP(2, [16, 16, 1]) on two moons, as micrograd's demo (default); digits: "
                           "MLP(64, [32, 10]) on 1,797 handwritten digits, compiled")
    demo.add_argument("--out", default=None, help="folder for the outputs (default: out/demo, or out/digits)")
    demo.add_argument("--seed", type=_seed, default=0, help="random seed, a whole number >= 0 (default: 0)")
    draw = commands.add_parser(
        "draw", help="draw the computation graph of an expression",
        description="Evaluate an expression, run the backward pass and write its computation graph.",
        epilog='example: microgradx draw "tanh(w*x + b)" --set x=1 w=2 b=0.5 -o graph.svg',
    )
    draw.add_argument("expression", help="numbers, variable names, + - * / **, unary minus and the functions "
                                         + ", ".join(sorted(FUNCTIONS)))
    draw.add_argument("--set", dest="values", nargs="+", action="extend", default=[], metavar="NAME=VALUE",
                      help="the value of each variable, e.g. --set x=1 w=2 b=0.5")
    draw.add_argument("-o", "--output", help="the file to write (default: graph.svg); its extension picks the format")
    draw.add_argument("--format", choices=DRAW_FORMATS,
                      help="svg, png, pdf, dot (Graphviz text), or html (the backward-pass animation)")
    draw.add_argument("--rankdir", choices=RANKDIRS, default="LR",
                      help="the direction data flows: LR (left to right, the default), TB, RL or BT")
    draw.add_argument("--heatmap", action="store_true", help="colour the nodes by |grad| on a log scale")
    draw.add_argument("--max-nodes", type=int, default=None, metavar="N",
                      help="refuse graphs with more than N nodes (default: 500, or 150 for an animation)")
    return parser


def _seed(text: str) -> int:
    """``--seed``: a whole number >= 0, as NumPy's generators take it.

    >>> _seed("42")
    42
    """
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if seed < 0:
        raise argparse.ArgumentTypeError(f"the seed must be a whole number >= 0, got {text!r}")
    return seed


def _one_line(text: str) -> str:
    r"""``text`` as one printable line: runs of white space (line breaks included) become one space,
    and other control characters are shown escaped, so no text from the user can move the cursor.

    >>> _one_line("a\n  b\x1b[2J")
    'a b\\x1b[2J'
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(text.split()))


def _say(line: str, stream: Any) -> None:
    """Print one line; characters the stream cannot encode (a lone surrogate from a file name that is
    not UTF-8) are shown escaped rather than failing after the work is done."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    print(_one_line(line).encode(encoding, "backslashreplace").decode(encoding), file=stream)


def _fail(command: str, error: BaseException) -> int:
    """Print the error as one line, ``microgradx <command>: error: ...``, and return exit code 2."""
    _say(f"microgradx {command}: error: {error}", sys.stderr)
    return 2


def _usable_folder(out: str) -> Path:
    """The demo's output folder, created if needed and checked to take files, before any training.

    Raises OSError with a message that names the folder and the problem.
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--out {out!r} is a file, not a folder; give a folder for the outputs")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):  # can files be made there? (removed at once)
            pass
    except OSError as error:
        raise OSError(f"--out {out!r} cannot be used as the output folder: {error.strerror or error}") from None
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); returns the exit code (2 for an error).

    >>> import os, tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "g.dot")
    >>> main(["draw", "2 * x", "--set", "x=3", "-o", out])  # doctest: +ELLIPSIS
    wrote ...g.dot: 2 * x = 6.0000; gradients: x 2.0000
    0
    """
    try:
        return _run(argv)
    except BrokenPipeError:  # the reader stopped early (``microgradx --help | head -1``): not an error of ours
        return _reader_left()


def _reader_left() -> int:
    """Quiet exit once stdout's reader has gone, as Python's docs advise for SIGPIPE: anything still
    buffered for stdout goes to the null device, so the interpreter's exit does not fail on it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo, run_digits_demo

        run = run_digits_demo if args.dataset == "digits" else run_demo
        out = args.out or ("out/digits" if args.dataset == "digits" else "out/demo")
        try:
            run(_usable_folder(out), seed=args.seed)
        except OSError as error:  # a full disk, or a folder that changed under the demo
            return _fail("demo", error)
    elif args.command == "draw":
        from .viz import GraphTooLarge, GraphvizNotFound

        try:
            _say(draw(args.expression, args.values, args.output, args.format, args.rankdir, args.heatmap,
                      args.max_nodes), sys.stdout)
        except BrokenPipeError:  # the drawing is written; only the line about it found no reader
            raise
        except (ValueError, OSError, GraphvizNotFound) as error:  # ExprError, GraphTooLarge are ValueErrors
            if isinstance(error, GraphTooLarge):  # its advice is written for Python: say it the shell's way
                return _fail("draw", ValueError(f"{error} (here: --max-nodes N)"))
            return _fail("draw", error)
    return 0


def draw(expression: str, assignments: Sequence[str], output: str | None = None, format: str | None = None,
         rankdir: str = "LR", heatmap: bool = False, max_nodes: int | None = None) -> str:
    """Evaluate ``expression``, run backward, write its graph; returns the line the command prints.

    ``max_nodes`` (None: the default of :func:`~microgradx.viz.draw_graph` or, for ``.html``, of
    :func:`~microgradx.animate.animate_backward`) caps the size of the drawing.

    >>> import os, tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "g.dot")
    >>> print(draw("x * y", ["x=2", "y=3"], out).replace(out, "g.dot"))
    wrote g.dot: x * y = 6.0000; gradients: x 3.0000, y 2.0000
    """
    from .animate import animate_backward
    from .expr import evaluate
    from .viz import fmt, save, trace

    values = parse_assignments(assignments)
    path = Path(output or f"graph.{format or 'svg'}")
    if path.is_dir():  # before the extension: a folder's name has none, and that is not the problem
        raise IsADirectoryError(f"-o {str(path)!r} is a folder; give the path of a file to write, e.g. "
                                f"-o {str(path / 'graph.svg')!r}")
    kind = format or path.suffix[1:].lower()
    if kind not in DRAW_FORMATS:
        raise ValueError(f"cannot tell the format of {str(path)!r} from its extension: write to a .svg, .png, .pdf, "
                         ".dot or .html file, or pass --format")
    y = evaluate(expression, values)
    leaves = {v.label: v for v in trace(y)[0] if v.label and not v._prev}
    unused = [name for name in values if name not in leaves]
    if unused:  # most likely a typo in a name, which would otherwise pass unnoticed
        uses = ", ".join(sorted(leaves)) or "no variables"
        raise ValueError(f"--set gives {', '.join(unused)}, which the expression does not use (it uses {uses}); "
                         "check the spelling")
    y.backward()
    limit: dict[str, Any] = {} if max_nodes is None else {"max_nodes": max_nodes}
    if kind == "html":
        title = f"Backward pass of {' '.join(expression.split())}"  # the output's only name is its formula
        animate_backward(y, path, rankdir=rankdir, title=title, **limit)
    else:
        save(y, path, format=kind, rankdir=rankdir, heatmap=heatmap, **limit)
    grads = ", ".join(f"{name} {fmt(leaves[name].grad)}" for name in values if name in leaves)
    return f"wrote {path}: {expression.strip()} = {fmt(y.data)}" + (f"; gradients: {grads}" if grads else "")


def parse_assignments(assignments: Sequence[str]) -> dict[str, float]:
    """``["x=1", "w=2.5"]`` as ``{"x": 1.0, "w": 2.5}``, or a ValueError that says which one is wrong.

    Names are normalized as Python normalizes identifiers (NFKC), so ``ﬁ=1`` sets the ``fi`` that
    an expression written with ``ﬁ`` uses.

    >>> parse_assignments(["x=1", "w=-2.5"])
    {'x': 1.0, 'w': -2.5}
    """
    values: dict[str, float] = {}
    written: dict[str, str] = {}  # each name as the user wrote it
    for item in assignments:
        given, sep, text = item.partition("=")
        given = given.strip()
        name = normalize_name(given)  # as Python reads the name in the expression
        if not sep or not name:
            hint = "; put the expression before --set" if any(c in item for c in "()+*/") else ""
            raise ValueError(f"--set expects NAME=VALUE (e.g. x=1.5), got {item!r}{hint}")
        if name in values:
            same = f" ({written[name]!r} and {given!r} are the same name to Python)" if written[name] != given else ""
            raise ValueError(f"--set gives {name!r} twice{same}; give each variable one value")
        written[name] = given
        try:
            values[name] = float(text)
        except ValueError:
            raise ValueError(f"--set {item}: {text.strip()!r} is not a number") from None
    return values


if __name__ == "__main__":
    sys.exit(main())
