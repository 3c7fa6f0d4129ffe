"""User text (labels, op names) shown as text anywhere we write it: drawings, pages, reports.

A label may hold anything a Python string can: control characters that would break a line or a
file format, and lone surrogates (how Python passes on bytes that are not UTF-8), which no UTF-8
file can hold at all. :func:`visible` shows those as their Python escapes, so every label is
printable, encodable and still readable; each format then escapes its own markup.

>>> visible("a\\nb\\x00\\ud800 ok")
'a\\\\nb\\\\x00\\\\ud800 ok'
"""

from __future__ import annotations

import re

__all__ = ["visible"]

# C0 and C1 control characters, DEL, lone surrogates and the two noncharacters of the BMP: none may
# appear in XML (so not in SVG), and the surrogates not in any UTF-8 text. The line and paragraph
# separators may, but they end a line for Python's splitlines() and for JavaScript before ES2019.
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def visible(text: str) -> str:
    """``text`` with each control character, line separator, lone surrogate or noncharacter shown as
    its escape (``"\\n"`` becomes the two characters ``\\n``); everything else is kept as it is."""
    return _INVISIBLE.sub(lambda m: repr(m.group())[1:-1], text)
