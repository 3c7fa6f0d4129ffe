"""Shared by the fuzz tests: their budgets, and the strategies for hostile text.

Each fuzz test runs a number of examples that fits CI; ``MICROGRADX_FUZZ_SCALE=20`` (say) multiplies
every budget for a deeper run on demand:

    MICROGRADX_FUZZ_SCALE=20 .venv/bin/python -m pytest tests/test_fuzz_*.py
"""

from __future__ import annotations

import os

from hypothesis import strategies as st


def examples(n: int) -> int:
    """The number of examples for a fuzz test whose CI budget is ``n``."""
    return max(1, round(n * float(os.environ.get("MICROGRADX_FUZZ_SCALE", "1"))))


# Text that has broken markup and files before: lone surrogates (bytes that are not UTF-8), control
# characters, markup of every format we write, DOT's escapes (\N is the node's name, \l a line break),
# brackets that end a label, and characters outside the Basic Multilingual Plane.
HOSTILE = ["\ud800", "\udfff", "\x00", "\x01", "\x1b[2J", "\x7f", "\x85", "\u2028", "\ufeff", "\ufffe", "\n", "\r",
           "\t", "<", ">", "&", '"', "'", "]", "[", "}", "{", "|", "\\", "\\N", "\\G", "\\l", "\\n", "\\\\", "&amp;",
           "<b>", "</text>", "<script>alert(1)</script>", "]]>", "<!--", "-->", "${x}", "%s", "😀", "e\u0301",
           "\u202e", "label=", ";", "digraph", "}}"]
hostile_text = st.one_of(
    st.text(max_size=20),
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=3)), max_size=6).map("".join),
)
