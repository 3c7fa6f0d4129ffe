"""Progress bars: tqdm's widget in a Jupyter notebook that can show it, tqdm's text bar everywhere else
(on stderr in a terminal, as tqdm writes it; on stdout inside IPython, whose front ends colour
stderr as an error).

The choice is made the first time a bar is shown, not when microgradx is imported: importing
``tqdm.auto`` at the top of a module would load the notebook machinery (and ipywidgets) in every
Jupyter kernel, and print tqdm's "IProgress not found" warning in those without ipywidgets, even
for a user who never shows a bar. tqdm's own rules (``tqdm.autonotebook``) decide whether this is
a notebook whose front end draws widgets (not a terminal, Qt console or Spyder) and, since tqdm
4.63, fall back to the text bar where ipywidgets is missing; their warnings are not shown, since a
text bar in a notebook is a fine result. A disabled bar never loads any of it.

The widget is shown under a display id and shown again when the bar closes, so a notebook saved
afterwards keeps the bar's final state (100%, the last loss) as its text: a front end that cannot
draw the widget (an untrusted notebook, a code host) shows that text, not the "0%" of the start.

>>> bar = progress_bar(range(3), disable=True)
>>> sum(bar)
3
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from typing import Any

__all__ = ["progress_bar"]

_chosen: Any = None  # the bar class, once chosen


def progress_bar(iterable: Iterable[Any], *, disable: bool = False, **options: Any) -> Any:
    """A tqdm bar over ``iterable`` (``options`` are tqdm's: ``desc``, ``unit``, ...)."""
    if disable:
        from tqdm.std import tqdm

        return tqdm(iterable, disable=True, **options)
    chosen = bar_class()
    if chosen.__module__ == "tqdm.notebook":
        return _widget_keeping_its_final_state(chosen)(iterable, **options)
    if _inside_ipython():  # Jupyter shows stderr on a pink ground, as it shows errors: a bar is no error
        options.setdefault("file", sys.stdout)
    return chosen(iterable, **options)


_widget_classes: dict[Any, Any] = {}


def _widget_keeping_its_final_state(widget_bar: Any) -> Any:
    """tqdm's notebook bar, displayed under a display id and displayed again, final, when it closes."""
    if widget_bar not in _widget_classes:
        from IPython.display import display

        class WidgetBar(widget_bar):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, display=False, **kwargs)
                self._handle = display(self.container, display_id=True)

            def close(self) -> None:
                super().close()
                if getattr(self, "_handle", None) is not None:
                    self._handle.update(self.container)  # the saved text is now the final state

        _widget_classes[widget_bar] = WidgetBar
    return _widget_classes[widget_bar]


def bar_class() -> Any:
    """tqdm's notebook bar where a notebook can draw it, else its text bar (chosen once)."""
    global _chosen
    if _chosen is None and not _inside_ipython():
        from tqdm.std import tqdm as text_bar

        _chosen = text_bar
    if _chosen is None:
        from tqdm import TqdmWarning

        with warnings.catch_warnings():  # "notebook mode" and "IProgress not found": both are fine here
            warnings.simplefilter("ignore", TqdmWarning)
            from tqdm.autonotebook import tqdm
        _chosen = tqdm
    return _chosen


def _inside_ipython() -> bool:
    """Whether code runs inside an IPython shell (a kernel, a terminal), not only alongside its modules.

    tqdm's rule looks for ``ipykernel.zmqshell`` among the loaded modules, so a plain script that
    imports ipykernel (a test, a tool reading kernel.json) would get a widget no one can see.
    """
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython is not None and get_ipython() is not None
