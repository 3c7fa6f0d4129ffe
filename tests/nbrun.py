"""Execute the notebooks in ``notebooks/`` and compare a fresh run's text outputs with the committed ones.

    .venv/bin/python tests/nbrun.py              # run every notebook; say which cells drifted
    .venv/bin/python tests/nbrun.py --write      # run them and save them with their outputs
    .venv/bin/python tests/nbrun.py --write 03   # only the notebooks whose name starts with 03

``--write`` (with no notebook named) also redraws ``docs/tour.png``, the picture of the README's tour.

The suite (``tests/test_notebooks.py``) uses the same functions. Notebooks run with nbclient, the
Jupyter project's own executor, in a fresh kernel each, from the ``notebooks/`` folder, top to bottom;
any error stops the run and names the cell. The kernel runs as it would on a machine without
ipywidgets, so ``fit``'s progress bar is tqdm's text bar wherever this runs (a widget would need
the notebook front end's state to show at all).

Comparing outputs: the text of each output (a stream's text, the ``text/plain`` of a result or a
display, an error's name and message) plus the kinds of the other outputs (``[image/png]``), with
what changes from run to run masked: object addresses (``at 0x7f...``) and timings (tqdm's
elapsed time and rate, "took 1.2 s").
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
TOUR_PICTURE = ROOT / "docs" / "tour.png"
CELL_TIMEOUT = 300  # seconds: a cell that runs this long is stuck (a notebook takes well under 60 s)

# Run the kernel as if ipywidgets were not installed, whatever this environment has.
NO_WIDGETS = "import sys; sys.modules['ipywidgets'] = None"

_MASKS = [
    (re.compile(r"\bat 0x[0-9a-fA-F]+"), "at 0x…"),
    # tqdm's elapsed<remaining and rate: "[00:03<00:00, 30.1epoch/s"
    (re.compile(r"\[\d+:\d\d(?::\d\d)?<[\d:?]+(?:, *[\d.?]+ *[a-zA-Z]*/s)?"), "[time]"),
    (re.compile(r"\b(took|in) \d+(?:\.\d+)? ?(?:s|ms|µs|seconds)\b"), r"\1 (time)"),
    # tqdm pads a line with spaces to cover a longer one before it: how many depends on the rates shown
    (re.compile(r" +$", re.M), ""),
]


def notebook_paths(prefix: str = "") -> list[Path]:
    """The numbered notebooks (``01_...ipynb`` to ``08_...ipynb``), in order."""
    return sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if p.name.startswith(prefix))


def kernel_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # plots go inline, as in Jupyter, whatever the shell asked for
    env["PYTHONHASHSEED"] = "0"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # the debugger's note about frozen modules
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    return env


def execute(path: Path) -> tuple[NotebookNode, float]:
    """Run the notebook at ``path`` in a fresh kernel; return it with its outputs, and the seconds taken.

    Raises nbclient's ``CellExecutionError`` (which shows the cell and its traceback) on an error.
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,  # no timestamps in the saved cells
        coalesce_streams=True,  # one stream per cell and name, carriage returns applied (a bar's final state)
        store_widget_state=False,
        extra_arguments=[f"--IPKernelApp.exec_lines={NO_WIDGETS}"],
    )
    start = time.perf_counter()
    client.execute(env=kernel_environment())
    return nb, time.perf_counter() - start


def kernelspec() -> dict[str, str]:
    """The notebook's ``kernelspec`` as JupyterLab writes it when it opens the notebook: the name we run
    it with and the display name and language of ipykernel's own kernel.json ("Python 3 (ipykernel)").
    Anything else, and JupyterLab marks the notebook modified the moment it is opened."""
    from ipykernel.kernelspec import get_kernel_dict

    spec = get_kernel_dict()
    return {"display_name": spec["display_name"], "language": spec["language"], "name": "python3"}


def save(nb: NotebookNode, path: Path) -> None:
    """Write an executed notebook with the metadata JupyterLab would write: the kernelspec (see
    :func:`kernelspec`) and ``language_info`` as the kernel reported it when it ran (nbclient keeps
    the kernel's reply, Python's version included), so opening it changes nothing."""
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = kernelspec()
    if "version" not in nb.metadata.get("language_info", {}):
        raise ValueError(f"{path.name}: no language_info from the kernel; save a notebook that execute() ran")
    nbformat.validate(nb)
    tmp = path.with_suffix(".ipynb.tmp")
    tmp.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    tmp.replace(path)


def mask(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def output_text(output: NotebookNode) -> str:
    """What a reader sees of one output as text, with the run-to-run noise masked."""
    kind = output.output_type
    if kind == "stream":
        text = f"[{output.name}]\n{output.text}"
    elif kind == "error":
        text = f"[error] {output.ename}: {output.evalue}"
    else:
        data = output.get("data", {})
        others = sorted(m for m in data if m != "text/plain")
        text = (f"[{', '.join(others)}]\n" if others else "") + data.get("text/plain", "")
    return mask(text).rstrip()


def cell_texts(nb: NotebookNode) -> list[tuple[int, str, str]]:
    """``(index, first line of source, outputs as text)`` for every code cell."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            found.append((i, first, "\n".join(output_text(o) for o in cell.outputs)))
    return found


@dataclass
class Drift:
    cell: int
    source: str
    diff: str

    def __str__(self) -> str:
        return f"cell {self.cell} ({self.source!r}) drifted:\n{self.diff}"


def drift(committed: NotebookNode, fresh: NotebookNode) -> list[Drift]:
    """The code cells whose fresh outputs differ, as text, from the committed ones."""
    found = []
    for (i, source, old), (_, _, new) in zip(cell_texts(committed), cell_texts(fresh)):
        if old != new:
            diff = "\n".join(difflib.unified_diff(old.splitlines(), new.splitlines(), "committed", "fresh run",
                                                  lineterm="", n=1))
            found.append(Drift(i, source, diff))
    return found


def tour_code() -> tuple[str, str]:
    """The README tour's Python block, as (the statements, the last line's expression: the drawing)."""
    found = re.search(r"^## A 30-second tour\n.*?```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S | re.M)
    if found is None:
        raise LookupError("README.md has no '## A 30-second tour' section with a python block")
    *body, last = found.group(1).strip().splitlines()
    return "\n".join(body), last.split("#")[0].strip()


def tour_graph() -> object:
    """The graph the README's tour draws, made by running the tour's own code (the project's README)."""
    body, last = tour_code()
    namespace: dict[str, object] = {}
    exec(compile(body, "README.md tour", "exec"), namespace)
    return eval(compile(last, "README.md tour", "eval"), namespace)


def write_tour_picture() -> Path:
    from microgradx.viz import save as save_graph

    return Path(save_graph(tour_graph(), TOUR_PICTURE))  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    write = "--write" in argv
    prefixes = [a for a in argv if not a.startswith("--")] or [""]
    paths = [p for prefix in prefixes for p in notebook_paths(prefix)]
    if not paths:
        print(f"no notebook matches {prefixes}", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        committed = nbformat.read(path, as_version=4)
        nb, seconds = execute(path)
        changes = drift(committed, nb)
        size = len(nbformat.writes(nb).encode()) / 1e6
        print(f"{path.name}: ran in {seconds:.1f} s, {size:.2f} MB, "
              f"{len(changes)} cell(s) differ from the committed outputs", flush=True)
        for change in changes:
            print(f"  {change}".replace("\n", "\n  "))
        if write:
            save(nb, path)
            print(f"  saved {path.relative_to(ROOT)}")
        elif changes:
            status = 1
    if write and prefixes == [""]:
        print(f"drew {write_tour_picture().relative_to(ROOT)}")
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
