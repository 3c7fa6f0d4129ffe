"""The backward-pass animation: its steps, its page, and the page driven in a real headless Chromium."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from microgradx import Value, define_op, grad
from microgradx import functional as F
from microgradx.animate import Animation, animate_backward, backward_steps
from microgradx.viz import GraphTooLarge, trace

# Only the page needs Graphviz: the steps are plain arithmetic and are tested without it.
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def neuron() -> tuple[Value, list[Value]]:
    x, w, b = Value(2.0, label="x"), Value(-0.5, label="w"), Value(0.3, label="b")
    y = (x * w + b * x).tanh()  # x is used twice: its gradient is a sum of two contributions
    y.label = "y"
    return y, [x, w, b]


# d tanh(x*w + b*x) = 1 - tanh(-0.4)**2 = 0.85563; x: (w + b) * 0.85563, w and b: x * 0.85563
NEURON_GRADS = ["grad -0.1711", "grad 1.7113", "grad 1.7113"]


# -- the steps -------------------------------------------------------------------------------------------


def shared() -> tuple[Value, list[Value]]:
    a, b = Value(1.5, label="a"), Value(-2.0, label="b")
    return (a * b + a * a).relu() + b, [a, b]


def sums() -> tuple[Value, list[Value]]:
    xs = [Value(0.1 * i, label=f"x{i}") for i in range(3)]
    return F.sum([x**2 for x in xs]) * F.dot(xs, [1.0, 2.0, 3.0]), xs


def user_op() -> tuple[Value, list[Value]]:
    cube = define_op("cube", lambda x: x**3, lambda x, out: (3 * x * x,))
    x = Value(0.7, label="x")
    return cube(x).exp() / x, [x]


@pytest.mark.parametrize("build", [neuron, shared, sums, user_op])
def test_the_steps_end_with_the_engines_gradients(build: Any) -> None:
    root, _ = build()
    steps = backward_steps(root)
    nodes, _ = trace(root)
    assert len(steps) == sum(1 for v in nodes if v._prev)  # one step per op node
    expected = grad(root, nodes)
    assert [steps[-1].grads[v] for v in nodes] == pytest.approx(list(expected))
    assert steps[-1].final == frozenset(nodes)
    assert all(v.grad == 0.0 for v in nodes)  # nothing written to .grad


def test_each_step_passes_a_complete_gradient_back() -> None:
    root, (x, _, _) = neuron()
    steps = backward_steps(root)
    assert steps[0].node is root and steps[0].grads == {root: 1.0, root._prev[0]: pytest.approx(1 - root.data**2)}
    for k, step in enumerate(steps):
        assert step.node in step.final  # the gradient passed back is complete
        assert set(steps[k - 1].grads) <= set(step.grads) if k else True
    first_x = next(k for k, s in enumerate(steps) if x in s.grads)
    assert x not in steps[first_x].final  # after the first of its two uses, x's gradient is partial
    assert x in steps[-1].final


def test_the_expected_gradients_are_the_engines() -> None:
    root, leaves = neuron()
    root.backward()
    assert [f"grad {leaf.grad:.4f}" for leaf in leaves] == NEURON_GRADS


@needs_dot
def test_a_leaf_has_nothing_to_animate() -> None:
    with pytest.raises(ValueError, match="nothing to animate: the root is a leaf"):
        animate_backward(Value(1.0))


def test_a_large_graph_is_refused_with_the_fix() -> None:
    y = Value(0.0)
    for _ in range(100):
        y = y + 1.0
    with pytest.raises(GraphTooLarge, match=r"301 nodes, more than max_nodes=150.*one neuron.*max_nodes="):
        animate_backward(y)
    with pytest.raises(ValueError, match=r"interval_ms \(milliseconds per frame\) must be a whole number >= 1"):
        animate_backward(Value(1.0) * 2, interval_ms=0)
    with pytest.raises(ValueError, match="max_nodes must be a whole number >= 1"):
        animate_backward(Value(1.0) * 2, max_nodes="many")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rankdir must be 'LR'"):
        animate_backward(Value(1.0) * 2, rankdir="left")


# -- the page --------------------------------------------------------------------------------------------


class Page(HTMLParser):
    """The tags and the text of an HTML page, as a browser's parser sees them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def frames_of(page: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S)]


@needs_dot
def test_one_svg_frame_per_step_and_nothing_from_the_network(tmp_path: Path) -> None:
    root, _ = neuron()
    animation = animate_backward(root, tmp_path / "backprop.html")
    page = (tmp_path / "backprop.html").read_text(encoding="utf-8")
    assert page == animation.html and animation.path == tmp_path / "backprop.html"
    steps = backward_steps(root)
    assert animation.frames == len(steps) == 4 and page.count("<svg") == 4 and page.count('class="frame"') == 4
    parsed = Page(page)
    assert parsed.tags.count("script") == 1 and "iframe" not in parsed.tags
    assert not re.search(r"(?i)(https?:|ftp:)?//[a-z0-9]", page)  # no URL at all, not even a namespace
    assert not re.search(r"(?i)@import|url\(", page)
    links = [value for name, value in parsed.attrs if name in ("src", "href", "xlink:href", "action")]
    assert links == ["data:,"]  # the empty favicon: no request for /favicon.ico
    assert "step 1 of 4" in page and "play" in page


@needs_dot
def test_frames_highlight_one_node_each_and_keep_their_layout() -> None:
    root, _ = neuron()
    page = animate_backward(root).html
    frames = frames_of(page)
    nodes, _ = trace(root)
    index = {v: i for i, v in enumerate(nodes)}
    steps = backward_steps(root)
    positions = []
    for k, (svg, step) in enumerate(zip(frames, steps)):
        current = [g.get("id") for g in svg.iter("g") if "current" in (g.get("class") or "").split()]
        assert current == [f"f{k}-v{index[step.node]}"]
        places = {g.get("id", "").split("-")[1]: (g.find("text").get("x"), g.find("text").get("y"))  # type: ignore[union-attr]
                  for g in svg.iter("g") if "node" in (g.get("class") or "").split()}  # (label, data or op: same text)
        positions.append((svg.get("width"), svg.get("height"), places))
    assert all(p == positions[0] for p in positions)  # nothing moves between frames
    ids = [g.get("id") for svg in frames for g in svg.iter() if g.get("id")]
    assert len(ids) == len(set(ids))  # ids are unique across the page


@needs_dot
def test_the_page_shows_unknown_partial_and_final_gradients() -> None:
    root, (x, _, _) = neuron()
    frames = frames_of(animate_backward(root).html)
    first = ["".join(t.itertext()) for t in frames[0].iter("text")]
    assert first.count("grad ?") == 5  # only the root and its input are known after step 1
    last = ["".join(t.itertext()) for t in frames[-1].iter("text")]
    assert set(NEURON_GRADS) <= set(last) and "grad ?" not in last
    # x feeds both products: after the first has passed its share back, x's gradient is a partial sum.
    nodes, _ = trace(root)

    def grad_style(k: int, v: Value) -> str | None:
        """The font-style of v's grad text in frame k (None: upright)."""
        box = next(g for g in frames[k].iter("g") if g.get("id") == f"f{k}-v{nodes.index(v)}")
        return next(t.get("font-style") for t in box.iter("text") if "".join(t.itertext()).startswith("grad"))

    k = next(k for k, s in enumerate(backward_steps(root)) if x in s.grads)
    assert grad_style(k, x) == "italic" and grad_style(k, root) is None  # partial, complete
    assert grad_style(len(frames) - 1, x) is None


@needs_dot
def test_hostile_labels_stay_text_in_the_page() -> None:
    x = Value(1.0, label="<script>alert(1)</script>")
    y = (x * 2.0).tanh()
    y.label = '"><img src=x onerror=alert(2)>'
    animation = animate_backward(y)
    parsed = Page(animation.html)
    assert parsed.tags.count("script") == 1 and "img" not in parsed.tags
    text = "".join(parsed.text)
    assert "<script>alert(1)</script>" in text and "<img src=x onerror=alert(2)>" in text
    captions = [value for name, value in parsed.attrs if name == "data-caption"]
    assert any("<script>alert(1)</script>" in (c or "") for c in captions)  # set with textContent, never as HTML


@needs_dot
def test_same_graph_same_page_and_jupyter_shows_it_in_a_sandboxed_iframe() -> None:
    first, _ = neuron()
    second, _ = neuron()
    animation = animate_backward(first)
    assert animation.html == animate_backward(second).html
    assert isinstance(animation, Animation) and "4 frames" in repr(animation)
    shown = animation._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in shown
    assert "<script" not in shown and "&lt;script" in shown  # the page is an attribute value, escaped


# -- the page in a real browser --------------------------------------------------------------------------

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
STATE = """() => {
  const frame = document.querySelector(".frame:not([hidden])");
  const current = frame.querySelector("g.node.current");
  return {
    frame: frame.id,
    visible: document.querySelectorAll(".frame:not([hidden])").length,
    current: current && current.id.split("-")[1],
    grads: Array.from(frame.querySelectorAll("g.node.value text"), t => t.textContent)
      .filter(t => t.startsWith("grad")),
    caption: document.getElementById("caption").textContent,
    counter: document.getElementById("counter").textContent,
    play: document.getElementById("play").textContent,
  };
}"""


def chromium() -> str | None:
    return os.environ.get("MICROGRADX_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:  # a test dependency (the [test] extra): missing, it is a broken set-up, not a reason to skip
        from playwright import sync_api
    except ImportError:
        pytest.fail("Playwright for Python is not installed: pip install -e '.[test]' (or scripts/dev.py)")
    path = chromium()
    if path is None:
        pytest.skip("no Chromium browser here: install Debian's chromium package (apt-get install chromium) or "
                    "set MICROGRADX_CHROMIUM to a Chromium binary")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@needs_dot
@pytest.mark.browser
def test_play_and_step_in_headless_chromium(browser: Any, tmp_path: Path) -> None:
    root, _ = neuron()
    animate_backward(root, tmp_path / "backprop.html", interval_ms=150)
    page = browser.new_page()
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    url = (tmp_path / "backprop.html").as_uri()
    page.goto(url)

    def state() -> dict[str, Any]:
        return page.evaluate(STATE)

    # Step through every frame: a new node is highlighted each time, and the shown gradients change.
    seen = [state()]
    assert seen[0]["frame"] == "frame-0" and seen[0]["visible"] == 1 and seen[0]["counter"] == "step 1 of 4"
    assert seen[0]["current"] is not None and "gradient is 1" in seen[0]["caption"]
    for _ in range(3):
        page.click("#next")
        seen.append(state())
    assert [s["frame"] for s in seen] == ["frame-0", "frame-1", "frame-2", "frame-3"]
    assert len({s["current"] for s in seen}) == 4
    assert all(a["grads"] != b["grads"] and a["caption"] != b["caption"] for a, b in itertools.pairwise(seen))
    assert [s["grads"].count("grad ?") for s in seen] == sorted((s["grads"].count("grad ?") for s in seen),
                                                                reverse=True)
    assert set(NEURON_GRADS) <= set(seen[-1]["grads"])
    page.click("#next")  # past the end: stays on the last frame
    assert state()["frame"] == "frame-3"

    # Back, by button and by key.
    page.click("#prev")
    assert state() == seen[2]
    page.keyboard.press("ArrowLeft")
    assert state()["frame"] == "frame-1"
    page.click("#first")
    assert state() == seen[0]

    # Play runs through the frames on its own and stops at the last one.
    page.click("#play")
    assert "pause" in state()["play"]
    page.wait_for_function("() => document.getElementById('frame-2').hidden === false", timeout=10_000)
    page.wait_for_function("() => document.getElementById('play').textContent.includes('play')", timeout=10_000)
    assert state()["frame"] == "frame-3"
    page.click("#play")  # from the end, play starts over
    page.wait_for_function("() => document.getElementById('frame-3').hidden === true", timeout=10_000)
    page.click("#play")  # and pauses
    paused = state()
    page.wait_for_timeout(400)
    assert state()["frame"] == paused["frame"] and "play" in paused["play"]

    assert problems == []
    assert requests == [url]  # nothing fetched but the page itself
    page.close()
