"""Labels and op names of any text, in every format we write: DOT, SVG (rendered by dot), the
backward-pass page and the gradcheck report. Each stays well-formed and shows the label as text.

"As text" means what the user typed, with the characters no file may hold (control characters,
lone surrogates, noncharacters) shown as their Python escapes: ``shown()`` below says it
independently of the code under test.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import ClassVar

import pytest
from fuzzing import examples, hostile_text
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from microgradx import Value, define_op
from microgradx.animate import animate_backward
from microgradx.gradcheck import check
from microgradx.viz import draw_graph

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"
fuzz = settings(max_examples=examples(25), suppress_health_check=[HealthCheck.too_slow])


def shown(text: str) -> str:
    """How a label must read: every character as it is, except those that no XML or UTF-8 file can
    hold or that would break the line, which read as their escapes (\\n, \\x00, \\ud800, \\u2028)."""
    def one(c: str) -> str:
        invisible = (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF
                     or c in "\u2028\u2029\ufffe\uffff")
        return repr(c)[1:-1] if invisible else c
    return "".join(one(c) for c in text)


def words(text: str) -> str:
    """White space collapsed: Graphviz writes runs of spaces as space + no-break space, and trims."""
    return " ".join(text.replace("\xa0", " ").split())


def graph_with(label: str, op_name: str) -> Value:
    """A small graph whose leaf, output and one op carry the hostile text."""
    op = define_op(op_name, lambda x: 2.0 * x, lambda x, out: (2.0,))
    x = Value(0.5, label=label)
    y = (op(x) * Value(-1.5, label="w")).tanh()
    y.label = label
    y.backward()
    return y


def dot_run(source: str) -> bytes:
    """Render DOT text with the real dot: it must neither fail nor warn (a warning means it misread us)."""
    result = subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True, timeout=60)
    assert result.returncode == 0 and result.stderr == b"", result.stderr.decode(errors="replace")
    return result.stdout


def texts(svg: ET.Element) -> list[str]:
    return [words("".join(t.itertext())) for t in svg.iter(f"{SVG}text")]


@needs_dot
@fuzz
@given(label=hostile_text, op_name=hostile_text.filter(bool))
@example(label="a\ud800b\x01c<]\\N]  two  spaces\u2028😀", op_name="]")
@example(label="<script>alert(1)</script>", op_name="\\G\\N")
@example(label="}; digraph x { a", op_name='"')
def test_dot_and_svg_show_any_label_as_text(label: str, op_name: str) -> None:
    graph = draw_graph(graph_with(label, op_name))
    source = graph.source
    source.encode("utf-8")  # DOT is a text file: it must be writable as UTF-8
    svg = ET.fromstring(dot_run(source))  # well-formed XML, or this raises
    assert svg.tag == f"{SVG}svg"
    seen = texts(svg)
    if words(shown(label)):  # a label of white space only shows nothing
        assert seen.count(words(shown(label))) >= 2, (label, seen)  # the leaf and the output
    assert words(shown(op_name)) in seen, (op_name, seen)  # the op's node
    assert not [e for e in svg.iter() if e.tag in (f"{SVG}script", f"{SVG}foreignObject")]
    assert not [a for e in svg.iter() for a in e.attrib if a.lower().startswith("on")]  # no event handlers


class Page(HTMLParser):
    """A strict reading of a page: tags must close in order (void elements aside), and what is text
    and what is markup is recorded."""

    VOID: ClassVar[set[str]] = {"meta", "link", "br", "img", "input", "hr", "area", "base", "col", "embed", "source",
                                "track", "wbr"}
    SVG_VOID: ClassVar[set[str]] = {"path", "polygon", "ellipse", "polyline", "stop", "circle", "rect", "line", "use"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.svg_texts: list[str] = []
        self.title = ""
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag in ("text", "title"):
            self._text = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SVG_VOID and (not self.stack or self.stack[-1] != tag):
            return  # written <path ...></path> or <path .../>: either is fine
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else ''}>"
        self.stack.pop()
        if tag == "text" and self._text is not None:
            self.svg_texts.append(words("".join(self._text)))
        if tag == "title" and self._text is not None and not self.title:
            self.title = "".join(self._text)
        if tag in ("text", "title"):
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


@functools.lru_cache(maxsize=1)
def plain_page() -> Page:
    """The page of the same graph with plain labels: what a page is made of."""
    return read_page(animate_backward(graph_with("x", "op")).html)


def read_page(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    assert not parser.stack, f"unclosed: {parser.stack}"
    return parser


@needs_dot
@settings(max_examples=examples(12), suppress_health_check=[HealthCheck.too_slow])
@given(label=hostile_text, op_name=hostile_text.filter(bool))
@example(label="a\ud800b\x01c</title><script>alert(1)</script>", op_name="</div>")
@example(label='" onmouseover="alert(1)', op_name="]]>")
def test_the_animation_page_shows_any_label_as_text(tmp_path_factory: pytest.TempPathFactory, label: str,
                                                    op_name: str) -> None:
    plain = plain_page()
    animation = animate_backward(graph_with(label, op_name))
    page = animation.html
    page.encode("utf-8")  # a lone surrogate here would make the page impossible to save
    ours = read_page(page)
    # The label added no kind of element (no <script>, no tag broken out of its text) and no attribute.
    assert set(ours.tags) <= set(plain.tags) and ours.tags.count("script") == plain.tags.count("script")
    assert {name for name, _ in ours.attributes} <= {name for name, _ in plain.attributes}
    # No character a page may not hold anywhere in it: not in text, attributes or the script's data.
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]", page)
    if words(shown(label)):
        assert words(shown(label)) in ours.svg_texts, (label, ours.svg_texts[:6])
        assert words(shown(label)) in words(ours.title)
    assert words(shown(op_name)) in ours.svg_texts
    saved = animation.save(tmp_path_factory.mktemp("page") / "page.html")
    assert saved.read_text(encoding="utf-8") == page


@fuzz
@given(label=hostile_text, op_name=hostile_text.filter(bool), wrong=st.booleans())
@example(label="<b>x&y</b>\n\ud800", op_name="<i>", wrong=True)
def test_the_gradcheck_report_shows_any_label_as_text(label: str, op_name: str, wrong: bool) -> None:
    # With a wrong rule the report names the op, in the table and in the note.
    op = define_op(op_name, lambda x: x * x, lambda x, out: (x if wrong else 2 * x,))
    report = check(lambda v, w: op(v) * w, [Value(1.5, label=label), Value(2.0, label="w")])
    fragment = report._repr_html_()
    fragment.encode("utf-8")
    table = ET.fromstring(f"<div>{fragment}</div>")  # well-formed markup, every label escaped
    assert not [e for e in table.iter() if e.tag not in ("div", "p", "table", "tr", "th", "td", "ul", "li", "b")]
    cells = [[words("".join(td.itertext())) for td in tr.iter("td")] for tr in table.iter("tr")][1:]
    first = cells[0][0]
    expected = words(shown(label)) if label else "inputs[0]"
    if expected == "w":  # the same label twice: told apart by position
        expected = "w (inputs[0])"
    assert first == expected or not words(shown(label)), (label, first)
    if wrong:
        assert cells[0][-1] == words(shown(op_name)), (op_name, cells[0])
    # The text table: the headline, the header, one line per row and per note, whatever the labels hold.
    notes = {row.note for row in report.rows if row.note}
    assert len(report.text.splitlines()) == 2 + len(report.rows) + len(notes), report.text
