"""The README's Python examples run as written, and the output it shows is what the code prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from microgradx.gradcheck import GradcheckError

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
TEXT_BLOCKS = re.findall(r"```text\n(.*?)```", README, re.S)
# The gradient-checking guide shows a deliberately wrong derivative and the table gradcheck prints.
FAILING_EXAMPLE = "gradcheck(lambda x, y: softplus(x * y) + y, [x, y])"


def test_the_readme_has_the_examples_this_test_expects() -> None:
    assert len(PYTHON_BLOCKS) >= 5
    assert sum(FAILING_EXAMPLE in block for block in PYTHON_BLOCKS) == 1


def test_readme_examples_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that save files write them here
    namespace: dict[str, object] = {"__name__": "readme"}
    for i, block in enumerate(PYTHON_BLOCKS):
        code = compile(block, f"README.md python block {i}", "exec")
        if FAILING_EXAMPLE in block:
            with pytest.raises(GradcheckError) as info:
                exec(code, namespace)
            shown = [text for text in TEXT_BLOCKS if text.startswith("gradcheck failed")]
            assert shown == [str(info.value).rstrip("\n") + "\n"]
        else:
            exec(code, namespace)
    assert (tmp_path / "graph.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
