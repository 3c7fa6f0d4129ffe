"""The notebooks cannot rot: each runs top to bottom, and its committed outputs are what a fresh run prints.

Every numbered notebook in ``notebooks/`` is executed once per session (``nbrun.execute``, nbclient
in a fresh kernel). A failing cell fails ``test_runs_top_to_bottom`` with the cell and its traceback;
``test_committed_outputs_are_a_fresh_runs`` then compares the text of every output with the committed
one (timings and object addresses masked) and names the cells that drifted. To update the committed
outputs after changing a notebook or the library: ``.venv/bin/python tests/nbrun.py --write``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import nbrun
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_notebook

PATHS = nbrun.notebook_paths()
EXPECTED = [  # the chapter: the list, in order
    "01_value_and_the_chain_rule", "02_perceptron_to_mlp", "03_activations_and_vanishing_gradients",
    "04_training_on_two_moons", "05_optimizers_on_loss_landscapes", "06_gradient_checking_exercises",
    "07_higher_order_gradients", "08_watching_backprop",
]
MAX_BYTES = 2_000_000

_runs: dict[Path, NotebookNode | BaseException] = {}


def fresh_run(path: Path) -> NotebookNode:
    """The notebook after a fresh execution, run at most once per test session."""
    if path not in _runs:
        try:
            _runs[path] = nbrun.execute(path)[0]
        except BaseException as error:  # remembered, so the second test does not run it again
            _runs[path] = error
    outcome = _runs[path]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


CHAPTER = [p for p in PATHS if p.stem in EXPECTED]  # other notebooks (09 on compiling) are run and checked too


def test_the_chapter_is_complete() -> None:
    assert [p.stem for p in CHAPTER] == EXPECTED, "notebooks missing: " + ", ".join(
        sorted(set(EXPECTED) - {p.stem for p in PATHS}))


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=ids(PATHS))
def test_runs_top_to_bottom(path: Path) -> None:
    nb = fresh_run(path)
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=ids(PATHS))
def test_committed_outputs_are_a_fresh_runs(path: Path) -> None:
    committed = nbformat.read(path, as_version=4)
    changes = nbrun.drift(committed, fresh_run(path))
    assert not changes, (f"{path.name}: the committed outputs are not what a fresh run gives "
                         "(re-run with `.venv/bin/python tests/nbrun.py --write`):\n"
                         + "\n".join(str(c) for c in changes))


# -- what the committed files hold -----------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS, ids=ids(PATHS))
def test_committed_notebook_was_run_in_order_and_shows_no_error(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "not run top to bottom in one go"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    streams = [o for c in code for o in c.outputs if o.output_type == "stream"]
    assert not [o.text for o in streams if o.name == "stderr"]  # JupyterLab shows stderr as it shows errors
    bars = [line for o in streams for line in o.text.splitlines() if line.startswith("fit:")]
    for line in bars:  # each progress bar saved in its final state
        assert "\r" not in line and re.fullmatch(r"fit: 100%\|█+\| (\d+)/\1 \[[^\n]*\]", line), line


@pytest.mark.parametrize("path", PATHS, ids=ids(PATHS))
def test_committed_notebook_is_small_and_carries_no_machine_paths(path: Path) -> None:
    raw = path.read_bytes()
    assert len(raw) < MAX_BYTES, f"{path.name} is {len(raw) / 1e6:.2f} MB"
    text = raw.decode("utf-8")
    machine = [str(nbrun.ROOT), sys.prefix, str(Path.home()), "/home/", "/root/", "/tmp/", "/Users/", "C:\\\\",
               "site-packages", "/usr/lib/python"]
    found = [m for m in machine if m in text]
    assert not found, f"{path.name} mentions {found}"


@pytest.mark.parametrize("path", CHAPTER, ids=ids(CHAPTER))
def test_each_notebook_asserts_its_claims_and_ends_with_exercises(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert sum(bool(re.search(r"^\s*assert ", c.source, re.M)) for c in nb.cells if c.cell_type == "code") >= 2
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## Exercises")
    assert 2 <= len(re.findall(r"^\d\. ", last.source, re.M)) <= 3



@pytest.mark.parametrize("path", PATHS, ids=ids(PATHS))
def test_each_notebook_carries_the_metadata_jupyterlab_writes(path: Path) -> None:
    # JupyterLab sets the kernelspec from the kernel's kernel.json and language_info from the kernel's
    # reply when it opens a notebook: anything else marks the notebook modified before the reader types.
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelspec import get_kernel_dict

    nb = nbformat.read(path, as_version=4)
    spec = get_kernel_dict()
    assert nb.metadata.kernelspec == {"display_name": spec["display_name"], "language": spec["language"],
                                      "name": "python3"}
    info = dict(nb.metadata.language_info)
    assert re.fullmatch(r"3\.\d+\.\d+", info.pop("version"))  # the Python that ran it
    assert info == {k: v for k, v in IPythonKernel.language_info.items() if k != "version"}


def test_drift_names_the_cell_and_masks_timings_and_addresses() -> None:
    def nb(*outputs: dict[str, object]) -> NotebookNode:
        book = new_notebook(cells=[new_code_cell("print(1)"), new_code_cell("model\nmore")])
        book.cells[1].outputs = [nbformat.from_dict(o) for o in outputs]
        return book

    stream = {"output_type": "stream", "name": "stderr",
              "text": "fit: 100%|██████████| 60/60 [00:02<00:00, 28.48epoch/s, loss=0.01]\nHistory(60 epochs)\n"}
    result = {"output_type": "execute_result", "execution_count": 2, "metadata": {},
              "data": {"text/plain": "<Graph at 0x7f00aa>", "image/svg+xml": "<svg/>"}}
    # a slower run: other times, and tqdm's padding after a shorter rate
    slower_text = stream["text"].replace("00:02<00:00, 28.48", "01:12<00:00, 1.2").replace("]\n", "]   \n")
    slower = {**stream, "text": slower_text}
    moved = {**result, "data": {"text/plain": "<Graph at 0x55e1c0>", "image/svg+xml": "<svg/>"}}
    assert nbrun.drift(nb(stream, result), nb(slower, moved)) == []
    changed = {**stream, "text": stream["text"].replace("loss=0.01", "loss=0.02")}
    (drift,) = nbrun.drift(nb(stream, result), nb(changed, result))
    assert drift.cell == 1 and drift.source == "model" and "-fit" in drift.diff and "+fit" in drift.diff
    no_picture = {**result, "data": {"text/plain": "<Graph at 0x1>"}}  # the picture vanished: that is drift too
    assert nbrun.drift(nb(result), nb(no_picture))


def test_import_prints_nothing_and_fit_leaves_its_final_bar_without_ipywidgets() -> None:
    cells = ["import warnings\nwarnings.simplefilter('always')\nimport microgradx",
             "from microgradx import MLP, SGD, fit\nmodel = MLP(1, [1], seed=0)\n"
             "h = fit(model, [[0.0], [1.0]], [0.0, 1.0], loss='mse',\n"
             "        optimizer=SGD(model.parameters(), lr=0.1), epochs=7)"]
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3", coalesce_streams=True,
                   extra_arguments=[f"--IPKernelApp.exec_lines={nbrun.NO_WIDGETS}"]).execute(env=nbrun.kernel_environment())
    assert nb.cells[0].outputs == []  # no TqdmWarning about IProgress, nothing at all
    (bar,) = nb.cells[1].outputs
    assert bar.name == "stdout" and bar.text.startswith("fit: 100%|██████████| 7/7 [") and "\r" not in bar.text


def test_fit_in_jupyter_with_ipywidgets_saves_the_final_state_as_text() -> None:
    import ipywidgets  # noqa: F401  (in the test extra, for this test)

    cell = ("from microgradx import MLP, SGD, fit\nmodel = MLP(1, [1], seed=0)\n"
            "h = fit(model, [[0.0], [1.0]], [0.0, 1.0], loss='mse',\n"
            "        optimizer=SGD(model.parameters(), lr=0.1), epochs=7)")
    nb = new_notebook(cells=[new_code_cell(cell)])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute(env=nbrun.kernel_environment())
    (bar,) = nb.cells[0].outputs  # the widget, its text shown again when it closed
    assert "application/vnd.jupyter.widget-view+json" in bar.data
    assert bar.data["text/plain"].startswith("fit: 100%|") and "7/7" in bar.data["text/plain"]
    assert " 0%|" not in json.dumps(bar)  # the bar's first state, "fit:   0%|", is nowhere in the file
