"""The progress bar in a Jupyter kernel, with and without ipywidgets: no warning and no notebook
machinery at import, the widget where it can be drawn, the text bar where it cannot.

Each case runs in a fresh interpreter that looks to tqdm like a Jupyter kernel: ``ipykernel.zmqshell``
is loaded and ``IPython.get_ipython()`` returns a kernel shell (with ``IPKernelApp`` in its config,
as older tqdm versions check). Every warning is an error there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_KERNEL = textwrap.dedent("""
    import sys, types, warnings
    warnings.simplefilter("error")

    class ZMQInteractiveShell:  # the shell of a Jupyter kernel, as tqdm.autonotebook recognizes it
        config = {"IPKernelApp": {}}

    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    shell = ZMQInteractiveShell()
    module("IPython", get_ipython=lambda: shell)
    module("IPython.display", display=lambda *objects, **options: print("displayed", *objects))
    module("ipykernel")
    module("ipykernel.zmqshell", ZMQInteractiveShell=ZMQInteractiveShell)
    if sys.argv[1] == "widgets":
        class Widget:  # just enough of an ipywidgets widget for tqdm.notebook to set its fields
            def __init__(self, *args, **kwargs):
                self.layout, self.style = types.SimpleNamespace(), types.SimpleNamespace(bar_color=None)
                self.__dict__.update(kwargs)
            def __getattr__(self, name):  # any other field starts empty
                return ""
            def close(self):
                pass
        module("ipywidgets", HTML=Widget, FloatProgress=Widget, HBox=Widget)
    else:
        sys.modules["ipywidgets"] = None  # not installed: importing it raises ImportError

    import microgradx
    from microgradx import MLP, SGD, fit
    loaded = sorted(m for m in sys.modules if m.startswith("tqdm"))
    print("after import:", " ".join(loaded) or "nothing")

    model = MLP(1, [1], seed=0)
    fit(model, [[0.0], [1.0]], [0.0, 1.0], loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=2)
    from microgradx._progress import bar_class
    print("bar:", bar_class().__module__)
""")


def run_in_kernel(widgets: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", _KERNEL, widgets], env=env, capture_output=True, text=True,
                          timeout=120)


def test_import_loads_no_bar_and_warns_of_nothing_in_a_kernel_without_ipywidgets():
    result = run_in_kernel("none")
    assert result.returncode == 0, result.stderr  # a warning would have been an error
    assert "after import: nothing" in result.stdout  # not even tqdm until a bar is shown
    assert "bar: tqdm.std" in result.stdout  # the text bar, on stdout: a notebook shows stderr as an error
    assert "fit: 100%" in result.stdout and "2/2" in result.stdout and "fit:" not in result.stderr
    assert "IProgress" not in result.stderr


def test_a_kernel_with_ipywidgets_gets_the_widget_bar():
    result = run_in_kernel("widgets")
    assert result.returncode == 0, result.stderr
    assert "after import: nothing" in result.stdout
    assert "bar: tqdm.notebook" in result.stdout
    assert "displayed" in result.stdout  # the widget was handed to IPython.display
    assert "fit: 100%" not in result.stderr  # no text bar as well


def test_a_disabled_bar_loads_no_notebook_machinery():
    code = ("import sys; from microgradx._progress import progress_bar; list(progress_bar(range(3), disable=True)); "
            "print(sorted(m for m in sys.modules if m.startswith(('tqdm.notebook', 'tqdm.autonotebook', "
            "'ipywidgets'))))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"



def test_a_script_that_only_imports_ipykernel_gets_the_text_bar():
    # tqdm's own rule sees ipykernel.zmqshell loaded and picks the widget; no shell is running, so
    # nothing would draw it and the bar would vanish.
    code = ("import ipykernel.zmqshell; from microgradx._progress import bar_class, progress_bar; "
            "list(progress_bar(range(3), desc='walk')); print(bar_class().__module__)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tqdm.std"
    assert "walk: 100%" in result.stderr and "3/3" in result.stderr
